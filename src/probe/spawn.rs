//! One way to run a short-lived helper process with a bound on its time: the `--version`
//! probes and the daemon probe through a client both use it.
//!
//! Invariants:
//! - The child leads its own process group, so killing the group at the deadline also ends
//!   whatever it started; stdin is closed and the guard environment is set, so a dockroute
//!   copy being probed answers instead of probing again.
//! - One stream (stdout or stderr) is captured by a detached reader thread, capped at
//!   `max` bytes (the group is killed when the cap is reached): a child or grandchild that keeps the pipe open cannot stall the caller
//!   past the deadline. The other stream is discarded.
//! - `enough` lets the caller decide on partial output (a version line printed by a client
//!   that then lingers): the group is killed as soon as it says so.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use crate::guard::SelfGuard;

/// Which output stream to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    /// Standard output (stderr discarded).
    Stdout,
    /// Standard error (stdout discarded).
    Stderr,
    /// Standard output, and standard error into [`Finished::errors`] (a printer whose
    /// message must reach the user unchanged when it fails).
    Both,
}

/// How a bounded run ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The captured stream, at most `max` bytes.
    pub output: Vec<u8>,
    /// Standard error, with [`Capture::Both`] (at most `max` bytes); empty otherwise.
    pub errors: Vec<u8>,
    /// The exit status, or why it could not be waited for.
    pub status: std::io::Result<ExitStatus>,
    /// The output was decided before the child ended (`enough` accepted it, or it reached
    /// `max`), and the group was killed: `status` then says nothing about the output.
    pub decided_early: bool,
}

/// A child started by [`spawn`], finishing in the background.
#[derive(Debug)]
pub(crate) struct Running {
    pgid: Option<i32>,
    rx: mpsc::Receiver<Finished>,
}

/// Starts `cmd` bounded: own process group, stdin closed, guard environment set.
///
/// # Errors
/// When the program cannot be started.
pub(crate) fn spawn(
    mut cmd: Command,
    guard: &SelfGuard,
    capture: Capture,
    max: usize,
    enough: fn(&[u8]) -> bool,
) -> std::io::Result<Running> {
    crate::guard::require_absolute(std::path::Path::new(cmd.get_program()))?;
    cmd.stdin(Stdio::null()).process_group(0);
    match capture {
        Capture::Stdout => cmd.stdout(Stdio::piped()).stderr(Stdio::null()),
        Capture::Stderr => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
        Capture::Both => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
    };
    for (k, v) in guard.child_env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let pgid = i32::try_from(child.id()).ok();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Signals for dockroute must not land on this helper thread (it may outlive the
        // probe): a supervised route relays them from the thread that blocks them.
        let _ = crate::guard::relayed_set().thread_block();
        // With both captured, stderr is read by a second thread (joined before the
        // status is sent), so neither pipe can fill and stall the child.
        let errors = (capture == Capture::Both)
            .then(|| child.stderr.take())
            .flatten()
            .map(|mut err| {
                std::thread::spawn(move || {
                    let _ = crate::guard::relayed_set().thread_block();
                    let mut buf = Vec::new();
                    let _ = (&mut err).take(max as u64).read_to_end(&mut buf);
                    buf
                })
            });
        let mut stream: Option<Box<dyn Read + Send>> = match capture {
            Capture::Stdout | Capture::Both => child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            Capture::Stderr => child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        };
        let mut output = Vec::new();
        let mut decided_early = false;
        if let Some(stream) = stream.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                output.extend_from_slice(&chunk[..n]);
                if output.len() >= max {
                    output.truncate(max);
                }
                if output.len() >= max || enough(&output) {
                    decided_early = true;
                    kill_group(pgid);
                    break;
                }
            }
        }
        let status = child.wait();
        let errors = errors.and_then(|t| t.join().ok()).unwrap_or_default();
        let _ = tx.send(Finished {
            output,
            errors,
            status,
            decided_early,
        });
    });
    Ok(Running { pgid, rx })
}

impl Running {
    /// Waits until `deadline`; past it, kills the process group and returns `None`.
    #[must_use]
    pub(crate) fn finish_by(self, deadline: Instant) -> Option<Finished> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(f) => Some(f),
            Err(_) => {
                kill_group(self.pgid);
                None
            }
        }
    }
}

/// Kills a whole process group; one that is already gone is no error.
fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Never accepts partial output: wait for the child to finish.
#[must_use]
pub(crate) fn until_exit(_: &[u8]) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn captures_the_chosen_stream_and_the_status() {
        let g = SelfGuard::default();
        let f = spawn(
            sh("echo out; echo err >&2; exit 3"),
            &g,
            Capture::Stderr,
            1024,
            until_exit,
        )
        .unwrap()
        .finish_by(Instant::now() + Duration::from_secs(10))
        .unwrap();
        assert_eq!(f.output, b"err\n");
        assert_eq!(f.status.unwrap().code(), Some(3));
        assert!(!f.decided_early);
    }

    #[test]
    fn a_hung_child_and_its_grandchild_are_killed_at_the_deadline() {
        let g = SelfGuard::default();
        let t = tempfile::tempdir().unwrap();
        let pidfile = t.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let r = spawn(sh(&script), &g, Capture::Stdout, 1024, until_exit).unwrap();
        assert!(r
            .finish_by(Instant::now() + Duration::from_millis(500))
            .is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // A killed grandchild may linger as a zombie until init reaps it.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "grandchild {pid} survived the deadline"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn enough_decides_on_partial_output() {
        let g = SelfGuard::default();
        let started = Instant::now();
        let f = spawn(
            sh("echo ready; sleep 300"),
            &g,
            Capture::Stdout,
            1024,
            |b| b.ends_with(b"\n"),
        )
        .unwrap()
        .finish_by(Instant::now() + Duration::from_secs(10))
        .unwrap();
        assert!(f.decided_early);
        assert_eq!(f.output, b"ready\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn output_is_capped() {
        let g = SelfGuard::default();
        let f = spawn(
            sh("yes | head -c 100000"),
            &g,
            Capture::Stdout,
            1000,
            until_exit,
        )
        .unwrap()
        .finish_by(Instant::now() + Duration::from_secs(10))
        .unwrap();
        assert_eq!(f.output.len(), 1000);
        assert!(f.decided_early);
    }
}
