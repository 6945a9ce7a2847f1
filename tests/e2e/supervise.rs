//! The supervisor under real signals: `examples/supervise` (built by
//! `cargo test --all-targets`) runs stages, the test signals it — never the test harness
//! itself — and checks its exit code and that nothing the stage started is left.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// `target/debug/examples/supervise`, next to the dockroute binary under test.
fn supervisor() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_dockroute"));
    let path = bin
        .parent()
        .map(|d| d.join("examples/supervise"))
        .unwrap_or_default();
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --example supervise` \
         (`cargo test --all-targets` does)",
        path.display()
    );
    path
}

/// The variable that marks every process of one test's run: the supervisor and all it
/// starts inherit it, so [`Supervised`]'s drop finds what a failed run left behind.
const MARK_VAR: &str = "DOCKROUTE_TEST_SUPERVISED";

/// A running supervisor. Dropping it — when the test passes and when it panics — kills
/// the supervisor if it still runs and every process that inherited its mark, so a
/// failing test leaves no `sleep 300` behind.
struct Supervised {
    child: Child,
    mark: String,
}

impl Supervised {
    /// The `MARK_VAR=mark` entry that identifies this run's processes.
    fn entry(&self) -> Vec<u8> {
        format!("{MARK_VAR}={}", self.mark).into_bytes()
    }

    /// The pids (other than the supervisor's) that carry this run's mark.
    fn marked(&self) -> Vec<i32> {
        let entry = self.entry();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == entry))
            })
            .filter(|pid| !gone(*pid))
            .collect()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A shell may still fork while its siblings die: look again until none is left.
        for _ in 0..50 {
            let left = self.marked();
            if left.is_empty() {
                return;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts the supervisor with the forwarded signals at their default disposition: the
/// harness may itself run as a background job, with SIGINT and SIGQUIT ignored, and the
/// supervisor leaves ignored signals alone.
fn start(args: &[&str]) -> Supervised {
    start_with("--default-signal=HUP,INT,QUIT,TERM", args)
}

/// Starts the supervisor through `env DISPOSITION`, marked for [`Supervised`]'s drop.
fn start_with(disposition: &str, args: &[&str]) -> Supervised {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mark = format!("{}-{n}", std::process::id());
    let child = Command::new("/usr/bin/env")
        .arg(disposition)
        .arg(supervisor())
        .args(args)
        .env(MARK_VAR, &mark)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    Supervised { child, mark }
}

/// Waits for a file to have a full line; panics after 10 s.
fn wait_for_line(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.ends_with('\n') {
            return text.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(run: &Supervised, sig: Signal) {
    kill(Pid::from_raw(i32::try_from(run.child.id()).unwrap()), sig).unwrap();
}

/// The supervisor's exit status and how long it took; killed and failed after `limit`.
/// (The run's leftovers are killed when `run` is dropped.)
fn finish(run: &mut Supervised, limit: Duration) -> (ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            return (status, start.elapsed());
        }
        if start.elapsed() > limit {
            panic!("the supervisor did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a pid is gone (a zombie counts as gone: it runs nothing).
fn gone(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return true;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

fn assert_gone_soon(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "pid {pid} outlived its stage");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn supervise_sigterm_reaches_the_grandchild_and_stops_the_run() {
    let t = tempfile::tempdir().unwrap();
    let pidfile = t.path().join("pid");
    let second = t.path().join("second");
    let first = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
    let then = format!("touch {}", second.display());
    let mut child = start(&["sh", "-c", &first, ";", "sh", "-c", &then]);
    let grandchild: i32 = wait_for_line(&pidfile).parse().unwrap();
    signal(&child, Signal::SIGTERM);
    let (status, took) = finish(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_gone_soon(grandchild);
    assert!(!second.exists(), "a stage ran after the signal");
}

/// `buildctl-daemonless.sh`'s shape: a daemon started with `&` (which a non-interactive
/// shell starts with SIGINT ignored), a client in the foreground, and cleanup in an EXIT
/// trap that a shell killed by a signal never runs. The daemon must not outlive the run.
#[test]
fn supervise_sigint_leaves_no_daemon_behind() {
    let t = tempfile::tempdir().unwrap();
    let pidfile = t.path().join("pid");
    let script = format!(
        "trap 'kill $pid; wait $pid' EXIT; sleep 300 & pid=$!; echo $pid > {}; sleep 300",
        pidfile.display()
    );
    let mut child = start(&["sh", "-c", &script, "|", "cat"]);
    let daemon: i32 = wait_for_line(&pidfile).parse().unwrap();
    signal(&child, Signal::SIGINT);
    let (status, _) = finish(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_gone_soon(daemon);
}

/// A leftover that ignores SIGTERM gets SIGKILL after the grace period.
#[test]
fn supervise_a_leftover_deaf_to_sigterm_is_killed() {
    let t = tempfile::tempdir().unwrap();
    let pidfile = t.path().join("pid");
    let script = format!(
        "(trap '' TERM; exec sleep 300) & echo $! > {}; wait",
        pidfile.display()
    );
    let mut child = start(&["sh", "-c", &script]);
    let stubborn: i32 = wait_for_line(&pidfile).parse().unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let the subshell reach `exec sleep`
    signal(&child, Signal::SIGTERM);
    let (status, took) = finish(&mut child, Duration::from_secs(8));
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "no grace period: {took:?}"
    );
    assert_gone_soon(stubborn);
}

/// A child that handles the forwarded signal and exits with a code of its own has the
/// last word, as in a shell.
#[test]
fn supervise_a_child_that_handles_sigint_has_the_last_word() {
    let t = tempfile::tempdir().unwrap();
    let ready = t.path().join("ready");
    let script = format!(
        "trap 'exit 7' INT; echo > {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut child = start(&["sh", "-c", &script]);
    wait_for_line(&ready);
    signal(&child, Signal::SIGINT);
    let (status, _) = finish(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(7), "{status:?}");
}

/// A signal the supervisor was started to ignore is not forwarded and does not end the
/// run, as it would not without a supervisor.
#[test]
fn supervise_an_ignored_signal_stays_ignored() {
    let t = tempfile::tempdir().unwrap();
    let ready = t.path().join("ready");
    let second = t.path().join("second");
    let first = format!("echo > {}; sleep 1", ready.display());
    let then = format!("touch {}", second.display());
    let mut child = start_with(
        "--ignore-signal=HUP",
        &["sh", "-c", &first, ";", "sh", "-c", &then],
    );
    wait_for_line(&ready);
    signal(&child, Signal::SIGHUP);
    let (status, _) = finish(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(second.exists(), "the run stopped on an ignored signal");
}

/// A signal that comes while a stage is still starting — here the producer of a pipe
/// signals the supervisor as soon as it runs, while the consumer is being started — is
/// forwarded like any other: the run ends with 128+N and nothing is left. (Before the
/// children unblocked the signals for themselves, the supervisor unblocked them around
/// each spawn, and such a signal killed it with the stage left running.)
#[test]
fn supervise_a_signal_while_the_stage_starts_is_forwarded() {
    for _ in 0..20 {
        let t = tempfile::tempdir().unwrap();
        let pidfile = t.path().join("pid");
        let script = format!(
            "sleep 300 & echo $! > {}; kill -INT $PPID; wait",
            pidfile.display()
        );
        let mut child = start(&["sh", "-c", &script, "|", "cat"]);
        let (status, _) = finish(&mut child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(130), "{status:?}");
        let daemon: i32 = wait_for_line(&pidfile).parse().unwrap();
        assert_gone_soon(daemon);
    }
}

/// Parallel builds (`run_jobs`, a project's targets): a signal to the supervisor reaches
/// every running job's group, grandchildren included, and the run ends with 128+N.
#[test]
fn supervise_jobs_a_signal_reaches_every_running_job() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let job = |f: &Path| format!("sleep 300 & echo $! > {}; wait", f.display());
    let (ja, jb) = (job(&a), job(&b));
    let mut child = start(&["--jobs", "sh", "-c", &ja, ";", "sh", "-c", &jb]);
    // Both run at once: each started its grandchild before either ended.
    let ga: i32 = wait_for_line(&a).parse().unwrap();
    let gb: i32 = wait_for_line(&b).parse().unwrap();
    signal(&child, Signal::SIGTERM);
    let (status, took) = finish(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_gone_soon(ga);
    assert_gone_soon(gb);
}
