//! Security and robustness end to end: nothing dockroute prints contains a value it was
//! handed, recursion through foreign wrappers stops, broken peers get defined answers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;

/// A fake client that answers `--version` like the real 28.x and prints nothing else, so
/// whatever appears on stdout/stderr is dockroute's own. Any other call writes its
/// arguments, one a line, to `DIR/argv` (see [`client_argv`]).
fn silent_client(s: &Sandbox, dir: &str, version: &str) -> PathBuf {
    let d = s.p(dir);
    script(
        &d.join("docker"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Docker version {version}, build fake'; exit 0; fi\nprintf '%s\\n' \"$@\" > {}\nexit 0\n",
            d.join("argv").display()
        ),
    );
    d
}

/// The arguments the silent client in `dir` was last called with, and forgets them; None
/// when it has not been called since.
fn client_argv(dir: &Path) -> Option<Vec<String>> {
    let file = dir.join("argv");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot read {}: {e}", file.display()),
    };
    std::fs::remove_file(&file).unwrap();
    Some(text.lines().map(str::to_string).collect())
}

/// What one run must have printed before its output is searched for secrets, so a leak
/// check can never pass on output that is empty or from the wrong place.
struct Expect {
    /// Text stdout must contain; None: stdout must be empty.
    stdout: Option<&'static str>,
    /// Text stderr must contain, every one (at least the log's marker).
    stderr: &'static [&'static str],
    /// For a shim run, the first argument the call reached the client with. (explain and
    /// doctor may call it too: an endpoint with credentials is probed through the client.)
    client: Option<&'static str>,
}

#[test]
fn no_output_at_any_log_level_contains_a_secret_value() {
    let secrets = [
        "ba-SECRET-1111",
        "env-SECRET-2222",
        "url-SECRET-3333",
        "cfg-SECRET-4444",
        "runenv-SECRET-5555",
    ];
    let s = Sandbox::bare();
    let fake = silent_client(&s, "fake", "28.2.2");
    let fake_dir = fake.clone();
    let config = s.p("dockercfg");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        format!(
            r#"{{"auths":{{"registry.example":{{"auth":"{}"}}}}}}"#,
            secrets[3]
        ),
    )
    .unwrap();
    let shim = s.shim_dir();
    let base = s
        .with_path(&[shim, fake])
        .env("NPM_TOKEN", secrets[1])
        .env(
            "DOCKER_HOST",
            format!("tcp://user:{}@127.0.0.1:1", secrets[2]),
        )
        .env("DOCKER_CONFIG", &config)
        .env("DOCKROUTE_LOG", "trace");
    let build = [
        "build",
        "--build-arg",
        &format!("NPM_TOKEN={}", secrets[0]),
        "--build-arg",
        "NPM_TOKEN",
        "-t",
        "x",
        ".",
    ];
    // Each run's own markers: the debug log is on (its lines are on stderr), and the
    // channel that would carry a value carries dockroute's text about it.
    const LOG: &str = "DEBUG";
    const WARNING: &str = "build argument NPM_TOKEN looks like a secret";
    const PROBED: &str = "daemon probed";
    const ENDPOINT: &str = "tcp://***@127.0.0.1:1";
    let mut runs = Vec::new();
    for (runtime, expect) in [
        (
            "restricted",
            Expect {
                stdout: None,
                stderr: &[LOG, "dockroute: `docker build` routed (legacy)", WARNING],
                client: Some("build"),
            },
        ),
        (
            "open",
            Expect {
                stdout: None,
                stderr: &[LOG, WARNING],
                client: Some("build"),
            },
        ),
    ] {
        let mut c = base.docker();
        c.env("DOCKROUTE_RUNTIME", runtime).args(build);
        runs.push((format!("shim build ({runtime})"), c, expect));
    }
    // Pass-through: the value reaches the client; dockroute prints only its log.
    let mut c = base.docker();
    c.args(["run", "-e", &format!("PASS={}", secrets[4]), "busybox"]);
    runs.push((
        "shim pass-through".into(),
        c,
        Expect {
            stdout: None,
            stderr: &[LOG],
            client: Some("run"),
        },
    ));
    let mut c = base.docker();
    c.args(["-H", &format!("tcp://u:{}@127.0.0.1:1", secrets[2])])
        .args(build);
    runs.push((
        "shim build (probed, -H with credentials)".into(),
        c,
        Expect {
            stdout: None,
            stderr: &[LOG, PROBED, ENDPOINT, WARNING],
            client: Some("-H"),
        },
    ));
    for json in [false, true] {
        let mut c = base.dockroute();
        c.arg("explain");
        if json {
            c.arg("--json");
        }
        c.arg("--").args(build);
        runs.push((
            format!("explain json={json}"),
            c,
            Expect {
                stdout: Some(if json {
                    "\"argv\":["
                } else {
                    "` would run as `"
                }),
                stderr: &[LOG, PROBED, ENDPOINT],
                client: None,
            },
        ));
        let mut c = base.dockroute();
        c.arg("doctor");
        if json {
            c.arg("--json");
        }
        runs.push((
            format!("doctor json={json}"),
            c,
            Expect {
                stdout: Some(if json {
                    "\"answers\":{"
                } else {
                    "Which docker runs my build?"
                }),
                stderr: &[LOG, PROBED, ENDPOINT],
                client: None,
            },
        ));
    }
    for (what, c, expect) in runs {
        let o = run(c);
        let (out, err) = (stdout(&o), stderr(&o));
        match expect.stdout {
            Some(marker) => assert!(
                out.contains(marker),
                "{what}: no {marker:?} on stdout:\n{out}"
            ),
            None => assert!(out.is_empty(), "{what}: stdout should be empty:\n{out}"),
        }
        for marker in expect.stderr {
            assert!(
                err.contains(marker),
                "{what}: no {marker:?} on stderr:\n{err}"
            );
        }
        let called = client_argv(&fake_dir);
        if let Some(first) = expect.client {
            assert_eq!(
                called.as_ref().and_then(|a| a.first()).map(String::as_str),
                Some(first),
                "{what}: the client's arguments: {called:?}"
            );
        }
        if what == "shim pass-through" {
            assert!(
                called.unwrap().contains(&format!("PASS={}", secrets[4])),
                "the value reached the client"
            );
        }
        for secret in secrets {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{what} leaked {secret}:\n--- stdout\n{out}\n--- stderr\n{err}"
            );
        }
    }
}

#[test]
fn the_secret_guard_warns_or_refuses_naming_the_argument_only() {
    let s = Sandbox::bare();
    let fake = silent_client(&s, "fake", "28.2.2");
    let shim = s.shim_dir();
    let s = s
        .with_path(&[shim, fake.clone()])
        .env("DOCKROUTE_RUNTIME", "open");
    let mut c = s.docker();
    c.args(["build", "--build-arg=GITHUB_AUTH_TOKEN=tok-value-1234", "."]);
    let o = run(c);
    ok(&o);
    assert_eq!(
        client_argv(&fake).as_deref(),
        Some(&["build", "--build-arg=GITHUB_AUTH_TOKEN=tok-value-1234", "."].map(String::from)[..]),
        "a warning does not stop the build"
    );
    assert!(
        stderr(&o).contains("GITHUB_AUTH_TOKEN") && stderr(&o).contains("--secret"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("tok-value-1234"));
    let mut c = s.docker();
    c.env("DOCKROUTE_SECRETS", "deny").args([
        "build",
        "--build-arg",
        "DB_PASSWORD=pw-value-1234",
        ".",
    ]);
    let o = run(c);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("DB_PASSWORD") && !stderr(&o).contains("pw-value-1234"),
        "{}",
        stderr(&o)
    );
    assert_eq!(client_argv(&fake), None, "a refused build never runs");
    let mut c = s.docker();
    c.args([
        "build",
        "--build-arg",
        "AUTHOR=someone",
        "--build-arg",
        "TOKENIZER_MODEL=x",
        ".",
    ]);
    let o = run(c);
    ok(&o);
    assert!(
        o.stderr.is_empty(),
        "no warning for AUTHOR/TOKENIZER_MODEL: {}",
        stderr(&o)
    );
    assert_eq!(
        client_argv(&fake)
            .and_then(|a| a.into_iter().next())
            .as_deref(),
        Some("build"),
        "the build ran"
    );
}

#[test]
fn a_three_wrapper_cycle_stops_with_exit_2() {
    let s = Sandbox::bare();
    let (a, b, c) = (s.p("cyc-a"), s.p("cyc-b"), s.p("cyc-c"));
    script(
        &a.join("docker"),
        &format!("#!/bin/sh\nexec {} \"$@\"\n", b.join("docker").display()),
    );
    script(
        &b.join("docker"),
        &format!("#!/bin/sh\nexec {} \"$@\"\n", c.join("docker").display()),
    );
    script(&c.join("docker"), "#!/bin/sh\nexec docker \"$@\"\n");
    let shim = s.shim_dir();
    let s = s.with_path(&[shim, a, "/usr/local/bin".into(), "/usr/bin".into()]);
    assert_recursion_stops(&s, "cyc-");
}

#[test]
fn a_podman_docker_shaped_wrapper_calling_docker_back_stops_with_exit_2() {
    let s = Sandbox::bare();
    let w = s.p("podman-docker");
    script(
        &w.join("docker"),
        "#!/bin/sh\n[ -e /etc/containers/nodocker ] || echo \"Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\" >&2\nexec docker \"$@\"\n",
    );
    let shim = s.shim_dir();
    let s = s.with_path(&[shim, w, "/usr/bin".into()]);
    assert_recursion_stops(&s, "podman-docker");
}

#[test]
fn broken_clients_get_defined_answers_in_bounded_time() {
    let s = Sandbox::bare();
    let d = |n: &str| s.p(n);
    std::fs::create_dir_all(d("isdir/docker")).unwrap();
    std::fs::create_dir_all(d("broken")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/docker", d("broken/docker")).unwrap();
    std::fs::create_dir_all(d("noexec")).unwrap();
    std::fs::write(d("noexec/docker"), "#!/bin/sh\necho never\n").unwrap();
    script(
        &d("fails/docker"),
        "#!/bin/sh\necho 'cannot start' >&2\nexit 3\n",
    );
    script(
        &d("garbage/docker"),
        "#!/bin/sh\nprintf '\\377\\376 not a version\\n'\n",
    );
    script(
        &d("huge/docker"),
        "#!/bin/sh\n/usr/bin/head -c 20000000 /dev/zero | /usr/bin/tr '\\0' x\n",
    );
    let nap = format!("sleep {}", unique_sleep());
    script(&d("hangs/docker"), &format!("#!/bin/sh\nexec /bin/{nap}\n"));
    let shim = s.shim_dir();
    let dirs: Vec<PathBuf> = [
        "isdir", "broken", "noexec", "fails", "garbage", "huge", "hangs",
    ]
    .iter()
    .map(|n| d(n))
    .collect();
    let mut path = vec![shim];
    path.extend(dirs);
    path.push("/usr/local/bin".into());
    let s = s
        .with_path(&path)
        .env("DOCKROUTE_PROBE_TIMEOUT_MS", "1000")
        .env("DOCKROUTE_RUNTIME", "open");
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let (o, took) = run_within(c, Duration::from_secs(30));
    assert!(took < Duration::from_secs(5), "{took:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let clients = v["clients"].as_array().unwrap();
    let by_dir = |n: &str| {
        clients
            .iter()
            .find(|c| c["path"].as_str().unwrap().contains(&format!("/{n}/")))
            .cloned()
    };
    assert!(
        by_dir("isdir").is_none() && by_dir("broken").is_none() && by_dir("noexec").is_none(),
        "{v}"
    );
    assert!(by_dir("fails").unwrap()["problem"]
        .as_str()
        .unwrap()
        .contains("exited with 3"));
    assert!(by_dir("garbage").unwrap()["problem"]
        .as_str()
        .unwrap()
        .contains("unrecognised"));
    // Endless output: listed, with no version and a problem (the probe stops reading).
    let huge = by_dir("huge").expect("the client with endless output is listed");
    assert!(
        huge["version"].is_null() && huge["problem"].as_str().is_some_and(|p| !p.is_empty()),
        "{huge}"
    );
    let hang = by_dir("hangs").unwrap();
    assert!(
        hang["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{hang}"
    );
    assert_eq!(clients.last().unwrap()["path"], DOCKER28);
    // The first real client is `fails`: pass-through goes there, untouched, with its code.
    let mut c = s.docker();
    c.arg("ps");
    assert_eq!(run(c).status.code(), Some(3));
    assert!(
        gone_within(&nap, Duration::from_secs(3)),
        "the hung probe was killed"
    );
}

#[test]
fn thousands_of_path_entries_and_tens_of_thousands_of_arguments() {
    let s = Sandbox::bare();
    let counter = s.p("counter");
    script(&counter.join("docker"), "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Docker version 28.2.2, build x'; exit 0; fi\necho $#\n");
    // Short absolute entries: one environment string may not exceed 128 KiB (MAX_ARG_STRLEN).
    let mut path: Vec<PathBuf> = (0..5000)
        .map(|i| PathBuf::from(format!("/nx/{i}")))
        .collect();
    path.insert(0, s.shim_dir());
    path.push(counter);
    let s = s.with_path(&path).env("DOCKROUTE_RUNTIME", "open");
    let many: Vec<String> = (0..30_000).map(|i| format!("arg-{i}")).collect();
    let mut c = s.docker();
    c.arg("run").args(&many);
    let (o, took) = run_within(c, Duration::from_secs(30));
    ok(&o);
    assert_eq!(stdout(&o).trim(), "30001");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let mut c = s.docker();
    c.arg("build").args(&many);
    let (o, _) = run_within(c, Duration::from_secs(30));
    ok(&o);
    assert_eq!(stdout(&o).trim(), "30001");
}

#[test]
fn an_unsupported_docker_host_scheme_passes_through() {
    let s = Sandbox::bare();
    let fake = silent_client(&s, "fake", "28.2.2");
    let shim = s.shim_dir();
    let s = s.with_path(&[shim, fake]);
    for host in ["fd://", "npipe:////./pipe/docker_engine", "weird"] {
        let mut c = s.dockroute();
        c.env("DOCKER_HOST", host)
            .args(["explain", "--json", "--", "build", "."]);
        let (o, took) = run_within(c, Duration::from_secs(20));
        ok(&o);
        assert!(took < Duration::from_secs(5), "{host}: {took:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["route"], "pass", "{host}: {v}");
    }
}
