//! The lean pass-through (src/entry.rs, src/fast_path.rs): which calls take it, that it
//! hands the client exactly what the full path would, that everything else still takes
//! the full path, and that the shipped static binary (where std's own start-up is what
//! used to hand over argv) still reads its arguments in every personality.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A sandbox whose `shim/docker` links to `bin` (the debug build or the static one).
fn sandbox_with(bin: &Path) -> Sandbox {
    let s = Sandbox::bare();
    let link = s.shim_dir().join("docker");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(bin, &link).unwrap();
    s
}

/// A stand-in client at `dir/docker` that records its argv (argv[0] included, each
/// followed by NUL), its environment (`env -0`) and what its stdin is, into `out.*`.
fn recorder(dir: &Path, out: &Path) {
    script(
        &dir.join("docker"),
        &format!(
            "#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\" > {o}.argv\n/usr/bin/env -0 > {o}.env\n/usr/bin/readlink /proc/self/fd/0 > {o}.stdin\n",
            o = out.display()
        ),
    );
}

/// The recorded environment, sorted, without the named variables.
fn recorded_env(out: &Path, without: &[&str]) -> Vec<Vec<u8>> {
    let raw = std::fs::read(out.with_extension("env")).unwrap();
    let mut vars: Vec<Vec<u8>> = raw
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .filter(|v| {
            !without
                .iter()
                .any(|k| v.starts_with(format!("{k}=").as_bytes()))
        })
        .map(<[u8]>::to_vec)
        .collect();
    vars.sort();
    vars
}

/// `dev.ino` of a file, as the guard lists it.
fn guard_id(p: &Path) -> String {
    let m = std::fs::metadata(p).unwrap();
    format!("{}.{}", m.dev(), m.ino())
}

/// Runs the recorder through dockroute (as `docker`) with the lean path, then with the
/// full path (`DOCKROUTE_MODE=pass` is not inert), and checks that the client got the
/// same argv, environment and stdin both times, and what the full path always gave.
fn same_call_both_ways(bin: &Path) {
    let s = sandbox_with(bin);
    let rec = s.p("recorder");
    let out = s.p("out");
    recorder(&rec, &out);
    let shim = s.shim_dir();
    let s = s.with_path(&[shim.clone(), rec.clone()]);
    let raw = OsStr::from_bytes(b"caf\xe9-\xff\xfe-end");
    for inherited in [None, Some(("junk:7.8", "3"))] {
        let mut seen = Vec::new();
        for full in [false, true] {
            let mut c = s.docker();
            if let Some((guard, hops)) = inherited {
                c.env("DOCKROUTE_GUARD", guard).env("DOCKROUTE_HOPS", hops);
            }
            if full {
                c.env("DOCKROUTE_MODE", "pass");
            }
            c.args([
                "-H",
                "unix:///nowhere",
                "ps",
                "-a",
                "--format",
                "{{.ID}} x",
                "",
            ])
            .arg(raw);
            let o = run(c);
            ok(&o);
            assert!(o.stderr.is_empty(), "{}", stderr(&o));
            let argv = std::fs::read(out.with_extension("argv")).unwrap();
            let env = recorded_env(&out, &["DOCKROUTE_MODE"]);
            let stdin = std::fs::read(out.with_extension("stdin")).unwrap();
            seen.push((argv, env, stdin));
        }
        assert_eq!(
            seen[0], seen[1],
            "lean and full path differ ({inherited:?})"
        );
        let (argv, env, _) = &seen[0];
        let mut want = Vec::new();
        for a in [
            rec.join("docker").as_os_str(),
            OsStr::new("-H"),
            OsStr::new("unix:///nowhere"),
            OsStr::new("ps"),
            OsStr::new("-a"),
            OsStr::new("--format"),
            OsStr::new("{{.ID}} x"),
            OsStr::new(""),
            raw,
        ] {
            want.extend_from_slice(a.as_bytes());
            want.push(0);
        }
        assert_eq!(
            argv, &want,
            "argv[0] the client's path, the rest byte for byte"
        );
        let me = guard_id(bin);
        let (guard, hops) = match inherited {
            None => (me, "1".to_string()),
            Some(_) => (format!("7.8:{me}"), "4".to_string()),
        };
        assert!(
            env.contains(&format!("DOCKROUTE_GUARD={guard}").into_bytes()),
            "{env:?}"
        );
        assert!(
            env.contains(&format!("DOCKROUTE_HOPS={hops}").into_bytes()),
            "{env:?}"
        );
        let n = |k: &str| {
            env.iter()
                .filter(|v| v.starts_with(format!("{k}=").as_bytes()))
                .count()
        };
        assert_eq!(
            (n("DOCKROUTE_GUARD"), n("DOCKROUTE_HOPS")),
            (1, 1),
            "{env:?}"
        );
    }
}

#[test]
fn the_lean_and_the_full_path_hand_the_client_the_same_call() {
    same_call_both_ways(&dockroute_bin());
}

/// std's start-up reopens a closed stdin on /dev/null before dockroute runs, so the
/// client inherited /dev/null; the lean path defers then, and the full path does the
/// same for itself now that std's start-up is not run.
#[test]
fn a_closed_stdin_reaches_the_client_as_dev_null() {
    let s = Sandbox::bare();
    let rec = s.p("recorder");
    let out = s.p("out");
    recorder(&rec, &out);
    let shim = s.shim_dir();
    let s = s.with_path(&[shim, rec]);
    let mut c = s.command("/bin/sh");
    c.arg("-c")
        .arg("exec \"$0\" ps <&-")
        .arg(s.shim_dir().join("docker"));
    ok(&run(c));
    assert_eq!(
        std::fs::read(out.with_extension("stdin")).unwrap(),
        b"/dev/null\n"
    );
}

/// At the hop limit the lean path defers and the full path stops the chain.
#[test]
fn the_hop_limit_still_stops_the_call() {
    let s = Sandbox::new().env("DOCKROUTE_HOPS", "20");
    let mut c = s.docker();
    c.arg("--version");
    let o = run(c);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("(limit 20)"), "{}", stderr(&o));
}

/// What dockroute did before the client's execve, as strace saw it: the lines of the
/// first process between its own execve and the next, and that next execve's line.
fn traced(cmd: &Command) -> (Vec<String>, String) {
    let strace = Path::new("/usr/bin/strace");
    assert!(
        strace.exists(),
        "strace is missing: scripts/test.sh installs it (apt-get install strace)"
    );
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut c = Command::new(strace);
    c.args(["-f", "-qq", "-s", "256", "-o"])
        .arg(log.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let o = run(c);
    ok(&o);
    let text = std::fs::read_to_string(log.path()).unwrap();
    let mut before = Vec::new();
    let mut execs = 0;
    for line in text.lines() {
        let call = line
            .split_once(' ')
            .map_or(line, |(_, rest)| rest.trim_start());
        if call.starts_with("execve(") {
            execs += 1;
            if execs == 2 {
                return (before, call.to_string());
            }
        } else if execs == 1 {
            before.push(call.to_string());
        }
    }
    panic!("no second execve in:\n{text}");
}

/// The full path's own start-up, which the lean path never does: std's checks redone.
fn took_the_full_path(calls: &[String]) -> bool {
    calls.iter().any(|c| c.starts_with("fcntl(0, F_GETFD)"))
        && calls
            .iter()
            .any(|c| c.starts_with("rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN"))
}

/// Checks with strace which path `bin` (as `docker`, or as `dockroute exec`) takes. For
/// the static binary, also that the lean path makes no system call but the C runtime's
/// start, the fd check, the PATH walk's stats and the SIGPIPE reset (a dynamic build's
/// loader makes its own before `main`).
fn lean_or_full(bin: &Path, is_static: bool) {
    let s =
        sandbox_with(bin).with_path(&[PathBuf::from("/usr/local/bin"), PathBuf::from("/usr/bin")]);
    let s = {
        let mut p = vec![s.shim_dir()];
        p.extend(s.path.clone());
        s.with_path(&p)
    };
    let mut c = s.docker();
    c.arg("--version");
    let (calls, exec) = traced(&c);
    assert!(!took_the_full_path(&calls), "{calls:#?}");
    assert!(
        exec.starts_with(
            r#"execve("/usr/local/bin/docker", ["/usr/local/bin/docker", "--version"]"#
        ),
        "{exec}"
    );
    if is_static {
        let names: Vec<&str> = calls.iter().map(|c| c.split('(').next().unwrap()).collect();
        for name in &names {
            assert!(
                [
                    "mmap",
                    "arch_prctl",
                    "set_tid_address",
                    "poll",
                    "stat",
                    "newfstatat",
                    "rt_sigaction"
                ]
                .contains(name),
                "{name} in {calls:#?}"
            );
        }
        assert!(names.len() <= 12, "{calls:#?}");
    }
    // Everything the lean path is not sure of goes the full way, to the same client.
    let cases: Vec<(&str, Command)> = vec![
        ("DOCKROUTE_LOG", {
            let mut c = s.docker();
            c.env("DOCKROUTE_LOG", "warn").arg("--version");
            c
        }),
        ("DOCKROUTE_MODE", {
            let mut c = s.docker();
            c.env("DOCKROUTE_MODE", "pass").arg("--version");
            c
        }),
        ("a command dockroute may route", {
            let mut c = s.docker();
            c.args(["image", "--help"]);
            c
        }),
        ("dockroute exec", {
            let mut c = s.command(bin);
            c.args(["exec", "--", "--version"]);
            c
        }),
    ];
    for (why, c) in cases {
        let (calls, exec) = traced(&c);
        assert!(took_the_full_path(&calls), "{why}: {calls:#?}");
        assert!(
            exec.starts_with(r#"execve("/usr/local/bin/docker", ["/usr/local/bin/docker", "#),
            "{why}: {exec}"
        );
    }
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_plain_call_takes_the_lean_path_and_the_rest_the_full_one() {
    lean_or_full(&dockroute_bin(), false);
    lean_or_full(&PathBuf::from(testbed("DOCKROUTE_TEST_STATIC_BIN")), true);
}

/// `DOCKROUTE_LOG` turns the full path's diagnostics on: the lean path, which has none,
/// must not take the call.
#[test]
fn with_dockroute_log_the_full_path_logs_the_walk() {
    let s = Sandbox::new().env("DOCKROUTE_LOG", "debug");
    let mut c = s.docker();
    c.arg("--version");
    let o = run(c);
    ok(&o);
    assert!(
        stdout(&o).starts_with("Docker version 28."),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("skipped: this is dockroute"),
        "{}",
        stderr(&o)
    );
}

/// The shipped static musl binary: on musl, std hands `main` its arguments only through
/// its own start-up, which `#![no_main]` skips, so every personality is run here.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_static_binary_reads_its_arguments_in_every_personality() {
    let bin = PathBuf::from(testbed("DOCKROUTE_TEST_STATIC_BIN"));
    same_call_both_ways(&bin);
    let s = sandbox_with(&bin).with_path(&[
        PathBuf::from("/usr/local/bin"),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/bin"),
    ]);
    let s = {
        let shim = s.shim_dir();
        let mut p = vec![shim];
        p.extend(s.path.clone());
        s.with_path(&p)
    };
    let real = real_version();
    let cli = |args: &[&OsStr], env: &[(&str, &str)]| {
        let mut c = s.command(&bin);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        run(c)
    };
    let o = cli(&[OsStr::new("--version")], &[]);
    ok(&o);
    assert!(stdout(&o).starts_with("dockroute "), "{}", stdout(&o));
    let o = cli(&["explain", "--json", "--", "ps"].map(OsStr::new), &[]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"], "pass", "{v}");
    assert_eq!(v["argv"][1], "ps", "{v}");
    let o = cli(&["exec", "--", "--version"].map(OsStr::new), &[]);
    ok(&o);
    assert_eq!(o.stdout, real);
    for env in [&[][..], &[("DOCKROUTE_LOG", "warn")]] {
        let o = cli(
            &[OsStr::new("--version")],
            &[&[("DOCKROUTE_FORCE_ARG0", "docker")], env].concat(),
        );
        ok(&o);
        assert_eq!(o.stdout, real, "{env:?}");
        let mut c = s.docker();
        c.arg("--version");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = run(c);
        ok(&o);
        assert_eq!(o.stdout, real, "{env:?}");
    }
    // A usage error reaches clap with its arguments (not an empty list).
    let o = cli(&[OsStr::new("no-such-subcommand")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-subcommand"), "{}", stderr(&o));
    // No client: the full path's message.
    let only = sandbox_with(&bin);
    let only = {
        let shim = only.shim_dir();
        only.with_path(&[shim])
    };
    let mut c = only.docker();
    c.arg("ps");
    let o = run(c);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no real docker client found on PATH"),
        "{}",
        stderr(&o)
    );
}
