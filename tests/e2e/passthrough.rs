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
fn a_non_utf8_argument_reaches_the_container_byte_for_byte() {
    let s = Sandbox::new().env("DOCKER_HOST", daemon("plain"));
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff\xfe-end");
    let mut c = s.docker();
    c.args(["run", "--rm", "--network", "none", &image(), "echo"])
        .arg(raw);
    let o = run(c);
    ok(&o);
    let mut want = raw.as_bytes().to_vec();
    want.push(b'\n');
    assert_eq!(o.stdout, want);
}

#[test]
fn privileged_run_on_the_restricted_daemon_shows_the_daemons_own_denial() {
    let s = Sandbox::new().env("DOCKER_HOST", daemon("v2"));
    let mut c = s.docker();
    c.args(["run", "--rm", "--privileged", &image(), "true"]);
    let through = run(c);
    let mut c = s.command(DOCKER28);
    c.args(["run", "--rm", "--privileged", &image(), "true"]);
    let direct = run(c);
    assert_eq!(through.status.code(), direct.status.code());
    assert_ne!(through.status.code(), Some(0));
    assert!(
        stderr(&through)
            .contains("authorization denied by plugin pipelines: --privileged=true is not allowed"),
        "{}",
        stderr(&through)
    );
    assert_eq!(
        through.stderr, direct.stderr,
        "nothing added on the hot path"
    );
}
