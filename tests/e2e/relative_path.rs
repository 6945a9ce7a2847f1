//! No path of dockroute runs a program found through a relative PATH entry.
//!
//! The working directory (and `bin/` under it) holds a hostile `docker`, `buildctl`,
//! `buildctl-daemonless.sh`, `buildkitd`, `docker-buildx`, `docker-compose` and
//! `docker-credential-*`, each of which records that it ran. PATH starts with `.`, an
//! empty entry and `bin`, then (or not) the real programs. Every probing and routing path
//! — pass-through, the build forms, compose, the buildx builder commands, `exec`,
//! `explain`, `doctor` — runs against every endpoint kind (a missing unix socket, a closed
//! tcp port, tcp with TLS and ssh:// — the two a client must be asked about — and the
//! test bed's strict daemon), and the record must stay empty.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The programs a checked-out repository could plant.
const PLANTED: &[&str] = &[
    "docker",
    "buildctl",
    "buildctl-daemonless.sh",
    "buildkitd",
    "docker-buildx",
    "docker-compose",
    "docker-credential-hostile",
    "docker-credential-desktop",
    "docker-credential-pass",
];

/// A working directory with the planted programs in it and in `bin/`; each appends its
/// name and arguments to `record` (and, as `docker`, claims to be a 20.10 client, the
/// most tempting answer to a `--version` probe).
fn plant(s: &Sandbox) -> (PathBuf, PathBuf) {
    let work = s.p("checkout");
    let record = s.p("ran.log");
    std::fs::write(&record, "").unwrap();
    for dir in [work.clone(), work.join("bin")] {
        for name in PLANTED {
            script(
                &dir.join(name),
                &format!(
                    "#!/bin/sh\necho \"$0 $*\" >> {}\necho 'Docker version 20.10.24, build planted'\nexit 0\n",
                    record.display()
                ),
            );
        }
    }
    context(&work, "FROM scratch\nCOPY Dockerfile /\n");
    std::fs::write(
        work.join("compose.yaml"),
        "services:\n  app:\n    build: .\n    image: planted-app\n",
    )
    .unwrap();
    std::fs::write(work.join("docker-bake.hcl"), "target \"default\" {}\n").unwrap();
    // A config naming credential helpers: any code that consults them would look them up.
    let config = s.p("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        r#"{"credsStore":"hostile","credHelpers":{"registry.invalid":"pass"}}"#,
    )
    .unwrap();
    (work, record)
}

/// Every call dockroute treats differently, as `docker ARGS` (or `dockroute ARGS` when
/// the first word is `dockroute`).
const CALLS: &[&[&str]] = &[
    &["ps"],
    &["--version"],
    &["build", "."],
    &["image", "build", "-t", "planted:1", "."],
    &["buildx", "build", "--secret", "id=a,env=HOME", "."],
    &["build", "--push", "-t", "registry.invalid/x:1", "."],
    &["compose", "build"],
    &["compose", "up", "-d"],
    &["buildx", "bake"],
    &["buildx", "create", "--bootstrap"],
    &["login", "-u", "x", "--password-stdin", "registry.invalid"],
    // With no client, dockroute logs in itself and looks the configured helpers up.
    &["login", "-u", "x", "-p", "planted-pw", "registry.invalid"],
    &["logout", "registry.invalid"],
    // With no daemon, a build kept in BuildKit's store is recorded, and the image
    // commands act on the record (push and save run buildctl, found absolutely).
    &["build", "-t", "registry.invalid/rec:1", "."],
    &["tag", "registry.invalid/rec:1", "registry.invalid/rec:2"],
    &["push", "registry.invalid/rec:2"],
    &["save", "-o", "rec.tar", "registry.invalid/rec:1"],
    &["images", "registry.invalid/rec"],
    &["run", "--rm", "planted"],
    &[
        "dockroute",
        "explain",
        "--",
        "push",
        "registry.invalid/rec:2",
    ],
    &["dockroute", "exec", "--", "build", "."],
    &["dockroute", "explain", "--", "build", "."],
    &["dockroute", "explain", "--json", "--", "compose", "up"],
    &["dockroute", "doctor"],
    &["dockroute", "doctor", "--json"],
];

/// Runs every call with `docker_host` (plus `extra` global flags for docker calls and
/// `env` variables) in the planted working directory.
fn run_all(s: &Sandbox, work: &Path, docker_host: &str, extra: &[&str], env: &[(&str, &str)]) {
    for call in CALLS {
        let mut c = if call[0] == "dockroute" {
            let mut c = s.dockroute();
            c.args(&call[1..]);
            c
        } else {
            let mut c = s.docker();
            c.args(extra).args(*call);
            c
        };
        c.current_dir(work).env("DOCKER_HOST", docker_host);
        c.envs(env.iter().copied());
        let (o, _) = run_within(c, std::time::Duration::from_secs(60));
        // Whatever the outcome, nothing dockroute says may point at a planted program.
        assert!(
            !stderr(&o).contains("checkout/docker ") && !stdout(&o).contains("planted"),
            "{call:?} with DOCKER_HOST={docker_host}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
    }
}

#[track_caller]
fn assert_nothing_ran(record: &Path, setup: &str) {
    let ran = std::fs::read_to_string(record)
        .unwrap_or_else(|e| panic!("cannot read the record {}: {e}", record.display()));
    assert!(ran.is_empty(), "{setup}: planted programs ran:\n{ran}");
}

fn relative_first(s: &Sandbox, rest: &[PathBuf]) -> std::ffi::OsString {
    let mut path: Vec<std::ffi::OsString> = vec![".".into(), "".into(), "bin".into()];
    path.push(s.shim_dir().into_os_string());
    path.extend(rest.iter().map(|p| p.clone().into_os_string()));
    let mut joined = std::ffi::OsString::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            joined.push(":");
        }
        joined.push(p);
    }
    joined
}

/// The endpoints of each kind that need no daemon: a missing socket, a closed port, and
/// the two kinds only a client can be asked about.
const NO_DAEMON_ENDPOINTS: &[(&str, &[&str])] = &[
    ("unix:///nonexistent/docker.sock", &[]),
    ("tcp://127.0.0.1:1", &[]),
    ("tcp://127.0.0.1:1", &["--tlsverify"]),
    ("ssh://nobody@127.0.0.1", &[]),
];

/// A sandbox with the planted programs, PATH = `.::bin:SHIM` then `rest`, and the config
/// naming credential helpers; with the planted working directory and the record.
fn planted(rest: &[PathBuf]) -> (Sandbox, PathBuf, PathBuf) {
    let s = Sandbox::bare();
    let (work, record) = plant(&s);
    let path = relative_first(&s, rest);
    let config = s.p("docker-config");
    (
        s.env("PATH", path).env("DOCKER_CONFIG", config),
        work,
        record,
    )
}

/// The report's own reproduction: no real client at all, only `.` on PATH.
#[test]
fn with_only_relative_entries_nothing_planted_runs() {
    let (s, work, record) = planted(&[PathBuf::from("/nonexistent")]);
    for (host, extra) in NO_DAEMON_ENDPOINTS {
        run_all(&s, &work, host, extra, &[]);
    }
    assert_nothing_ran(&record, "PATH=.::bin:SHIM:/nonexistent");
}

/// The real clients and BuildKit's programs after the relative entries: every call still
/// reaches only them.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn with_real_programs_after_relative_entries_nothing_planted_runs() {
    let (s, work, record) = planted(&[
        buildkit_bin(),
        "/usr/local/bin".into(),
        "/usr/bin".into(),
        "/bin".into(),
    ]);
    let strict = daemon("v2");
    let mut endpoints: Vec<(&str, &[&str])> = NO_DAEMON_ENDPOINTS.to_vec();
    endpoints.push((&strict, &[]));
    for (host, extra) in endpoints {
        run_all(&s, &work, host, extra, &[]);
    }
    // BuildKit's own addresses: a shared BuildKit, and BUILDKIT_HOST with no daemon.
    let bk = buildkit_addr("unix");
    run_all(&s, &work, &strict, &[], &[("DOCKROUTE_BUILDKIT_HOST", &bk)]);
    let none = "unix:///nonexistent/docker.sock";
    run_all(&s, &work, none, &[], &[("BUILDKIT_HOST", &bk)]);
    assert_nothing_ran(&record, "PATH=.::bin:SHIM:BUILDKIT:/usr/local/bin:/usr/bin");
}

/// `buildctl-daemonless.sh` is a shell script that runs `buildctl` and `buildkitd` by
/// name: started by dockroute, it must find the real ones even with `.` first on PATH.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_daemonless_script_finds_no_planted_buildctl() {
    let (s, work, record) = planted(&[
        buildkit_bin(),
        "/usr/local/sbin".into(),
        "/usr/sbin".into(),
        "/usr/bin".into(),
        "/bin".into(),
    ]);
    let s = s.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let mut c = s.docker();
    c.current_dir(&work)
        .args(["build", "-o", "type=local,dest=out", "."]);
    let o = run(in_private_run(&s, &c));
    ok(&o);
    assert!(
        work.join("out/Dockerfile").is_file(),
        "the real BuildKit built it: {}",
        stderr(&o)
    );
    assert_nothing_ran(&record, "daemonless script with . first on PATH");
}
