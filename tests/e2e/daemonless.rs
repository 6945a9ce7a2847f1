//! `docker build` on BuildKit itself, through dockroute, against the real BuildKit of the
//! test bed: with no daemon (`BUILDKIT_HOST`, or a private BuildKit started by
//! `buildctl-daemonless.sh`) and on a shared BuildKit (`DOCKROUTE_BUILDKIT_HOST`) whose
//! image ends up in the restricted daemon without a single `POST /build`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const NO_DAEMON: &str = "unix:///nonexistent/docker.sock";

/// The shim first, then BuildKit's programs, then the system.
fn buildkit_layout(s: Sandbox) -> Sandbox {
    with_buildkit_path(s, true)
}

/// A context whose Dockerfile, `sub/Other.Dockerfile`, shows in its output which stage,
/// which build argument and which files it got:
/// - stage `first` copies the file the build argument `PICK` names to /picked.txt, and
///   the whole context to /all (`.dockerignore` keeps `ignored.txt` out);
/// - stage `second` adds /second.txt.
fn telling_context(s: &Sandbox) -> PathBuf {
    let dir = s.p("ctx");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/Other.Dockerfile"),
        "FROM scratch AS first\nARG PICK=a.txt\nCOPY ${PICK} /picked.txt\nCOPY . /all/\n\
         FROM first AS second\nCOPY a.txt /second.txt\n",
    )
    .unwrap();
    std::fs::write(dir.join("a.txt"), "from a\n").unwrap();
    std::fs::write(dir.join("b.txt"), "from b\n").unwrap();
    std::fs::write(dir.join("ignored.txt"), "must not be copied\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "ignored.txt\n").unwrap();
    dir
}

#[track_caller]
fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn no_daemon_with_buildkit_host_pushes_into_the_registry_over_unix_and_mutual_tls_tcp() {
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    for (addr, tls) in [
        (buildkit_addr("unix"), None),
        (buildkit_addr("tcp"), Some(buildkit_tls_dir())),
    ] {
        let mut s = buildkit_layout(Sandbox::new())
            .env("DOCKER_HOST", NO_DAEMON)
            .env("BUILDKIT_HOST", &addr);
        if let Some(dir) = &tls {
            s = s.env("DOCKROUTE_BUILDKIT_TLS_DIR", dir);
        }
        let ctx = context(&s.p("ctx"), "FROM scratch\nCOPY Dockerfile /\n");
        let repo = unique("dr-daemonless-push");
        let mut c = s.docker();
        c.args(["build", "-t", &format!("{registry}/{repo}:1"), "--push"])
            .arg(&ctx);
        let o = run(c);
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("routed (daemonless)") && err.contains(&addr),
            "{err}"
        );
        assert_eq!(registry_tags(&repo), ["1"], "{addr}: {err}");
    }
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn no_daemon_outputs_files_with_the_file_target_build_args_and_dockerignore_honoured() {
    let s = buildkit_layout(Sandbox::new())
        .env("DOCKER_HOST", NO_DAEMON)
        .env("BUILDKIT_HOST", buildkit_addr("unix"))
        .env("PICK", "b.txt");
    let ctx = telling_context(&s);
    let out = s.p("out");
    // -f relative to the working directory; bare --build-arg PICK from the environment.
    let mut c = s.docker();
    c.current_dir(&ctx).args([
        "build",
        "-f",
        "sub/Other.Dockerfile",
        "--build-arg",
        "PICK",
        "--target",
        "first",
        "-o",
        &format!("type=local,dest={}", out.display()),
        ".",
    ]);
    let o = run(c);
    ok(&o);
    assert_eq!(read(&out.join("picked.txt")), "from b\n", "{}", stderr(&o));
    assert!(out.join("all/a.txt").is_file());
    assert!(
        !out.join("all/ignored.txt").exists(),
        ".dockerignore was not honoured"
    );
    assert!(
        !out.join("second.txt").exists(),
        "--target was not honoured"
    );

    // The same build to a tarball, every stage, --build-arg K=V.
    let tar = s.p("out.tar");
    let mut c = s.docker();
    c.args(["build", "-f"])
        .arg(ctx.join("sub/Other.Dockerfile"))
        .args(["--build-arg", "PICK=a.txt", "-o"])
        .arg(format!("type=tar,dest={}", tar.display()))
        .arg(&ctx);
    let o = run(c);
    ok(&o);
    let list = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    ok(&list);
    let names = stdout(&list);
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "second.txt")
            && names
                .lines()
                .any(|l| l.trim_start_matches("./") == "picked.txt"),
        "{names}"
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn an_unreachable_buildkit_host_is_a_clear_error_naming_it_unless_the_script_can_build() {
    // buildctl alone on PATH, no buildctl-daemonless.sh: nothing else can build.
    let s = Sandbox::new();
    let only_buildctl = s.p("only-buildctl");
    std::fs::create_dir_all(&only_buildctl).unwrap();
    std::os::unix::fs::symlink(
        buildkit_bin().join("buildctl"),
        only_buildctl.join("buildctl"),
    )
    .unwrap();
    let shim = s.shim_dir();
    let s = s
        .with_path(&[
            shim,
            only_buildctl,
            "/usr/local/bin".into(),
            "/usr/bin".into(),
        ])
        .env("DOCKER_HOST", NO_DAEMON)
        .env("BUILDKIT_HOST", "unix:///nonexistent/buildkitd.sock");
    let ctx = context(&s.p("ctx"), "FROM scratch\nCOPY Dockerfile /\n");
    let mut c = s.docker();
    c.args(["build", "-t", "x"]).arg(&ctx);
    let (o, took) = run_within(c, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unix:///nonexistent/buildkitd.sock"),
        "{}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // With the script at hand (as in the rootless moby/buildkit image, which presets
    // BUILDKIT_HOST), the build goes to a private BuildKit instead, and says why.
    let s = buildkit_layout(Sandbox::new())
        .env("DOCKER_HOST", NO_DAEMON)
        .env("BUILDKIT_HOST", "unix:///nonexistent/buildkitd.sock");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "-t", "x"])
        .arg(&ctx);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"], "daemonless", "{v}");
    assert!(
        v["program"]
            .as_str()
            .unwrap_or_default()
            .ends_with("buildctl-daemonless.sh"),
        "{v}"
    );
    assert!(v["notices"].to_string().contains("does not answer"), "{v}");
}

/// buildkitd processes started for this sandbox (their --root names it).
fn sandbox_buildkitds(s: &Sandbox) -> String {
    pgrep(&format!("buildkitd.*{}", s.dir.path().display()))
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn no_daemon_and_no_buildkit_host_builds_on_a_private_buildkit_and_leaves_none() {
    let s = buildkit_layout(Sandbox::new()).env("DOCKER_HOST", NO_DAEMON);
    let ctx = telling_context(&s);
    let out = s.p("out");
    let mut c = s.docker();
    c.args(["build", "-f"])
        .arg(ctx.join("sub/Other.Dockerfile"))
        .args(["-o", &format!("type=local,dest={}", out.display())])
        .arg(&ctx);
    let o = run(in_private_run(&s, &c));
    ok(&o);
    assert!(
        stderr(&o).contains("buildctl-daemonless.sh"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&out.join("second.txt")), "from a\n");
    assert!(
        s.p("buildkitd-root").is_dir(),
        "the private buildkitd did not run"
    );
    assert_eq!(sandbox_buildkitds(&s), "", "buildkitd left running");
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn sigterm_to_the_shim_mid_build_leaves_no_buildkitd() {
    let s = buildkit_layout(Sandbox::new()).env("DOCKER_HOST", NO_DAEMON);
    let ctx = telling_context(&s);
    let mut c = s.docker();
    c.args(["build", "-f"])
        .arg(ctx.join("sub/Other.Dockerfile"))
        .args(["-o", &format!("type=local,dest={}", s.p("out").display())])
        .arg(&ctx);
    let mut child = in_private_run(&s, &c)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the private buildkitd runs, then stop the shim as a CI runner would.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sandbox_buildkitds(&s).is_empty() {
        assert!(Instant::now() < deadline, "buildkitd never started");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the build ended before it could be interrupted: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the shim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "{status}");
    assert!(
        gone_within(
            &format!("buildkitd.*{}", s.dir.path().display()),
            Duration::from_secs(10)
        ),
        "buildkitd outlived the shim: {}",
        sandbox_buildkitds(&s)
    );
}

/// The file `path` inside image `tag` on `host`, read through a created (never started)
/// container.
fn file_in_image(host: &str, tag: &str, path: &str) -> String {
    let o = Command::new(DOCKER28)
        .args(["-H", host, "create", tag, "/none"])
        .output()
        .unwrap();
    ok(&o);
    let id = stdout(&o).trim().to_string();
    let o = Command::new(DOCKER28)
        .args(["-H", host, "cp", &format!("{id}:{path}"), "-"])
        .output()
        .unwrap();
    let _ = Command::new(DOCKER28)
        .args(["-H", host, "rm", &id])
        .output();
    ok(&o);
    // `docker cp … -` writes a tar stream: the file's bytes are in it as they are.
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_shared_buildkit_builds_what_the_restricted_daemon_cannot_and_loads_it_there() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let registry = testbed("DOCKROUTE_TEST_REGISTRY");
        let s = buildkit_layout(Sandbox::new())
            .env("DOCKER_HOST", &host)
            .env("DOCKROUTE_BUILDKIT_HOST", buildkit_addr("unix"));
        // A heredoc: only a current BuildKit's Dockerfile frontend builds this.
        let ctx = context(
            &s.p("ctx"),
            "FROM scratch\nCOPY <<EOF /hello.txt\nhello from a heredoc\nEOF\n",
        );
        let tag = unique("dr-remote");
        let mut c = s.docker();
        c.args(["build", "-t", &tag]).arg(&ctx);
        let o = run(c);
        ok(&o);
        let err = stderr(&o);
        assert!(err.contains("routed (remote)"), "{err}");
        assert!(image_exists(&host, &tag), "not loaded: {err}");
        assert!(file_in_image(&host, &tag, "/hello.txt").contains("hello from a heredoc"));
        let requests = authz_requests(&log);
        assert!(
            requests.iter().any(|r| r.uri.contains("/images/load")),
            "the image came in by `docker load`"
        );
        assert!(
            !requests
                .iter()
                .any(|r| r.uri.contains("/build?") && r.uri.contains(&tag)),
            "a POST /build reached the daemon"
        );

        // --push goes to the registry and loads nothing.
        let repo = unique("dr-remote-push");
        let pushed = format!("{registry}/{repo}:1");
        let mut c = s.docker();
        c.args(["build", "-t", &pushed, "--push"]).arg(&ctx);
        let o = run(c);
        ok(&o);
        assert_eq!(registry_tags(&repo), ["1"], "{}", stderr(&o));
        assert!(
            !image_exists(&host, &pushed),
            "--push also loaded the image"
        );
    });
}

/// A build that fails on the shared BuildKit ends with BuildKit's error and buildctl's exit
/// code: `docker load`, fed the stream the failed build cut short, says nothing. Before,
/// its `open …/docker-import-…/repositories: no such file or directory` was the last line.
/// A load that does run still reports what it loaded.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_failed_shared_build_ends_with_buildkits_error_not_docker_loads() {
    each_strict(|which| {
        let host = daemon(which);
        let s = buildkit_layout(Sandbox::new())
            .env("DOCKER_HOST", &host)
            .env("DOCKROUTE_BUILDKIT_HOST", buildkit_addr("unix"));
        let ctx = context(&s.p("bad"), "FROM scratch\nCOPY missing.txt /m\n");
        let tag = unique("dr-remote-fail");
        let mut c = s.docker();
        c.args(["build", "-t", &tag]).arg(&ctx);
        let o = run(c);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            last.contains("missing.txt") && last.contains("not found"),
            "last line: {last}\n{err}"
        );
        assert!(!err.contains("docker-import"), "{err}");
        assert!(!image_exists(&host, &tag));

        let ctx = context(&s.p("good"), "FROM scratch\nCOPY Dockerfile /d\n");
        let mut c = s.docker();
        c.args(["build", "-t", &tag]).arg(&ctx);
        let o = run(c);
        ok(&o);
        assert!(
            stderr(&o).contains(&format!("Loaded image: {tag}")),
            "{}",
            stderr(&o)
        );
        assert!(image_exists(&host, &tag));
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn explain_shows_the_translated_command_with_secret_values_redacted() {
    each_strict(|which| {
        let s = buildkit_layout(Sandbox::new())
            .env("DOCKER_HOST", daemon(which))
            .env("DOCKROUTE_BUILDKIT_HOST", buildkit_addr("unix"));
        let ctx = context(&s.p("ctx"), "FROM scratch\n");
        let mut c = s.dockroute();
        c.args([
            "explain",
            "--json",
            "--",
            "build",
            "--build-arg",
            "NPM_TOKEN=t0psecret",
            "-t",
            "x",
        ])
        .arg(&ctx);
        let o = run(c);
        ok(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["route"], "remote", "{v}");
        let argv: Vec<&str> = v["argv"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert!(
            argv.contains(&"--frontend") && argv.contains(&"dockerfile.v0"),
            "{argv:?}"
        );
        assert!(
            argv.iter().any(|a| a.starts_with("build-arg:NPM_TOKEN=")),
            "{argv:?}"
        );
        assert!(!o.stdout.windows(9).any(|w| w == b"t0psecret"), "{v}");
        assert!(
            v["load"]["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "load")),
            "{v}"
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn iidfile_and_quiet_give_the_image_id_and_a_failed_build_leaves_no_old_one() {
    let s = buildkit_layout(Sandbox::new())
        .env("DOCKER_HOST", NO_DAEMON)
        .env("BUILDKIT_HOST", buildkit_addr("unix"));
    let ctx = context(&s.p("ctx"), "FROM scratch\nCOPY Dockerfile /\n");
    let id = s.p("id.txt");
    let mut c = s.docker();
    c.args(["build", "-q", "-t", "dr-iid", "--iidfile"])
        .arg(&id)
        .arg(&ctx);
    let o = run(c);
    ok(&o);
    // -q: the image ID alone on stdout, as `docker build -q` prints it.
    let printed = stdout(&o);
    let printed = printed.trim();
    assert!(
        printed.starts_with("sha256:") && printed.len() == 71 && !printed.contains('\n'),
        "{printed:?}"
    );
    assert_eq!(read(&id), printed);

    // A failed build leaves no ID behind from the one before, as the clients do.
    let bad = context(&s.p("bad"), "FROM scratch\nCOPY missing /\n");
    let mut c = s.docker();
    c.args(["build", "--iidfile"]).arg(&id).arg(&bad);
    let o = run(c);
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(
        !id.exists(),
        "an ID from the earlier build survived a failed one"
    );
}
