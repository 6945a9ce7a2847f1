//! Test support: a sandbox builder for running dockroute as `docker` with an explicit
//! PATH, HOME and cache, and access to the test bed that `scripts/test.sh` starts.
//!
//! Tests that need a daemon call [`daemon`], which panics with instructions when the
//! test bed is not running: such a test fails loudly, it never passes quietly.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The dockroute binary under test.
pub fn dockroute_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dockroute"))
}

/// The real Docker CLI 28.x (no buildx plugin).
pub const DOCKER28: &str = "/usr/local/bin/docker";
/// The real Docker CLI 20.10.24 from Debian's docker.io — the client Pipelines mounts.
pub const DOCKER20: &str = "/usr/bin/docker";

/// A test-bed value; panics (failing the test loudly) when the test bed is not running.
pub fn testbed(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs the real test bed (dockerd, authz plugin, registry). \
             Run the suite with `sudo scripts/test.sh`, which starts it."
        ),
    }
}

/// The endpoint of a test daemon: "plain", "v2" (Bitbucket-like) or "privonly".
pub fn daemon(which: &str) -> String {
    testbed(&format!(
        "DOCKROUTE_TEST_{}_HOST",
        which.to_ascii_uppercase()
    ))
}

/// The busybox image imported into every test daemon.
pub fn image() -> String {
    std::env::var("DOCKROUTE_TEST_IMAGE").unwrap_or_else(|_| "busybox:latest".into())
}

/// Writes an executable script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// A sandbox: a temp dir with `shim/docker` → dockroute, its own HOME and cache, and a
/// PATH built explicitly. Commands run with a cleared environment.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub path: Vec<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
}

impl Sandbox {
    /// A sandbox whose PATH is `shim`, then the 28.x client, then the 20.10 client.
    pub fn new() -> Sandbox {
        let s = Sandbox::bare();
        let shim = s.shim_dir();
        s.with_path(&[
            shim,
            PathBuf::from("/usr/local/bin"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
    }

    /// A sandbox with an empty PATH (set one with [`Sandbox::with_path`]).
    pub fn bare() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("dockroute-e2e")
            .tempdir()
            .unwrap();
        let shim = dir.path().join("shim");
        std::fs::create_dir_all(&shim).unwrap();
        std::os::unix::fs::symlink(dockroute_bin(), shim.join("docker")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let home = dir.path().join("home").into_os_string();
        let cache = dir.path().join("cache").into_os_string();
        Sandbox {
            dir,
            path: Vec::new(),
            env: vec![("HOME".into(), home), ("DOCKROUTE_CACHE_DIR".into(), cache)],
        }
    }

    /// The directory holding the `docker` symlink to dockroute.
    pub fn shim_dir(&self) -> PathBuf {
        self.dir.path().join("shim")
    }

    /// A path inside the sandbox.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Replaces PATH.
    pub fn with_path(mut self, dirs: &[PathBuf]) -> Sandbox {
        self.path = dirs.to_vec();
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Sandbox {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// The PATH value.
    pub fn path_var(&self) -> OsString {
        std::env::join_paths(&self.path).unwrap()
    }

    /// A command for `program` with the sandbox's clean environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear().env("PATH", self.path_var());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    /// `docker ARGS` through the shim.
    pub fn docker(&self) -> Command {
        self.command(self.shim_dir().join("docker"))
    }

    /// `dockroute ARGS` (the CLI personality).
    pub fn dockroute(&self) -> Command {
        self.command(dockroute_bin())
    }
}

/// Runs a command with a deadline; panics if it takes longer.
pub fn run_within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (out.expect("wait"), start.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("command did not finish within {limit:?}: {cmd:?}");
        }
    }
}

/// Runs a command (60 s limit) and returns its output.
pub fn run(cmd: Command) -> Output {
    run_within(cmd, Duration::from_secs(120)).0
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success, showing both streams otherwise.
#[track_caller]
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// A unique name for images and containers made by a test.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes a build context with a Dockerfile.
pub fn context(dir: &Path, dockerfile: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir.to_path_buf()
}

/// Runs `docker ps` in a sandbox whose wrappers call dockroute back, and asserts that it
/// stops with exit 2 and the recursion message in bounded time, leaving no process
/// whose command line contains `marker` (every hop was an exec, not a fork).
#[track_caller]
pub fn assert_recursion_stops(s: &Sandbox, marker: &str) {
    let mut c = s.docker();
    c.arg("ps");
    let (o, took) = run_within(c, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("re-entered"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let left = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    assert!(
        left.stdout.is_empty(),
        "runaway processes: {}",
        stdout(&left)
    );
}

/// Whether no process's command line contains `pattern` within `limit` (a killed process
/// takes a moment to disappear on a loaded machine).
pub fn gone_within(pattern: &str, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let o = Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        if o.stdout.is_empty() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `sleep` argument no other test uses, so a process search finds only this test's.
pub fn unique_sleep() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    format!(
        "60.{}{:03}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
