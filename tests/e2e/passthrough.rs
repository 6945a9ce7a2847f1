//! The hot path through the real clients and a real daemon: exit codes, stdin, bytes.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;

use crate::support::*;

#[test]
fn version_output_is_the_real_clients_own() {
    let s = Sandbox::new();
    let through = run({
        let mut c = s.docker();
        c.arg("--version");
        c
    });
    let direct = run({
        let mut c = s.command(DOCKER28);
        c.arg("--version");
        c
    });
    ok(&through);
    assert_eq!(through.stdout, direct.stdout);
    assert!(stdout(&through).starts_with("Docker version 28."));
    assert!(
        through.stderr.is_empty(),
        "pass-through prints nothing: {}",
        stderr(&through)
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn version_format_reaches_the_daemon_and_stdout_is_untouched() {
    let s = Sandbox::new();
    let host = daemon("plain");
    let mut c = s.docker();
    c.args([
        "-H",
        &host,
        "version",
        "--format",
        "{{.Client.Version}}|{{.Server.Version}}",
    ]);
    let o = run(c);
    ok(&o);
    let out = stdout(&o);
    assert!(out.starts_with("28."), "{out}");
    assert!(
        out.trim_end().ends_with("20.10.24+dfsg1"),
        "server is Debian's dockerd: {out}"
    );
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn ps_and_exit_codes_are_the_clients() {
    let s = Sandbox::new().env("DOCKER_HOST", daemon("plain"));
    let mut c = s.docker();
    c.args(["ps", "-a", "--format", "{{.ID}}"]);
    ok(&run(c));
    let mut c = s.docker();
    c.args([
        "run",
        "--rm",
        "--network",
        "none",
        &image(),
        "sh",
        "-c",
        "exit 42",
    ]);
    assert_eq!(run(c).status.code(), Some(42));
    let mut c = s.docker();
    c.args(["no-such-command"]);
    let o = run(c);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("no-such-command"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn stdin_is_piped_into_run_i() {
    let s = Sandbox::new().env("DOCKER_HOST", daemon("plain"));
    let mut c = s.docker();
    c.args(["run", "--rm", "-i", "--network", "none", &image(), "cat"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    {
        let mut stdin = child.stdin.take().unwrap();
        let p = payload.clone();
        std::thread::spawn(move || {
            stdin.write_all(&p).unwrap();
        });
    }
    let o = child.wait_with_output().unwrap();
    ok(&o);
    assert_eq!(o.stdout, payload);
}

#[test]
fn a_non_utf8_argument_reaches_the_client_byte_for_byte() {
    // The client's own argv, recorded by a stand-in: exactly the bytes given.
    let s = Sandbox::bare();
    let rec = s.p("recorder");
    let out = s.p("argv.bin");
    script(
        &rec.join("docker"),
        &format!("#!/bin/sh\nprintf '%s\\0' \"$@\" > {}\n", out.display()),
    );
    let shim = s.shim_dir();
    let s = s.with_path(&[shim, rec]);
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff\xfe-end");
    for words in [
        &["run", "--rm", "busybox", "echo"][..],
        &["build", "--build-arg"],
    ] {
        let mut c = s.docker();
        c.args(words).arg(raw);
        ok(&run(c));
        let mut want: Vec<u8> = Vec::new();
        for w in words {
            want.extend_from_slice(w.as_bytes());
            want.push(0);
        }
        want.extend_from_slice(raw.as_bytes());
        want.push(0);
        assert_eq!(std::fs::read(&out).unwrap(), want, "{words:?}");
    }
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_non_utf8_argument_reaches_the_container_as_the_real_client_sends_it() {
    // The Docker API is JSON: the real client itself turns invalid UTF-8 into U+FFFD.
    // Through dockroute the container must see exactly what the client alone gives it.
    let s = Sandbox::new().env("DOCKER_HOST", daemon("plain"));
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff\xfe-end");
    let args = ["run", "--rm", "--network", "none", &image(), "echo"];
    let mut c = s.docker();
    c.args(args).arg(raw);
    let through = run(c);
    let mut c = s.command(DOCKER28);
    c.args(args).arg(raw);
    let direct = run(c);
    ok(&through);
    assert_eq!(through.stdout, direct.stdout);
    assert!(String::from_utf8_lossy(&through.stdout).starts_with("caf"));
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn privileged_run_on_the_restricted_daemon_shows_the_daemons_own_denial() {
    each_strict(|which| {
        let s = Sandbox::new().env("DOCKER_HOST", daemon(which));
        let mut c = s.docker();
        c.args(["run", "--rm", "--privileged", &image(), "true"]);
        let through = run(c);
        let mut c = s.command(DOCKER28);
        c.args(["run", "--rm", "--privileged", &image(), "true"]);
        let direct = run(c);
        assert_eq!(through.status.code(), direct.status.code());
        assert_ne!(through.status.code(), Some(0));
        assert!(
            stderr(&through).contains(
                "authorization denied by plugin pipelines: --privileged=true is not allowed"
            ),
            "{}",
            stderr(&through)
        );
        assert_eq!(
            through.stderr, direct.stderr,
            "nothing added on the hot path"
        );
    });
}
