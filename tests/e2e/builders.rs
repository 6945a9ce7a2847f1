//! Builder fidelity on the restricted daemon: a build means what the user's own client
//! would make of the Dockerfile. With the mounted 20.10 client the daemon's BuildKit
//! builds BuildKit-only Dockerfiles; without it, or with BuildKit turned off by the user,
//! such a Dockerfile is refused before any request reaches the daemon, naming its lines;
//! and buildx commands that would boot a privileged builder are refused up front.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

/// A Dockerfile only BuildKit builds: a cache mount and `COPY --chmod`.
fn buildkit_only_context(s: &Sandbox, name: &str) -> PathBuf {
    let dir = context(
        &s.p(name),
        &format!(
            "FROM {}\n\
             RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /from-cache\n\
             COPY --chmod=0755 tool.sh /tool.sh\n",
            image()
        ),
    );
    std::fs::write(dir.join("tool.sh"), "#!/bin/sh\necho tool\n").unwrap();
    dir
}

/// The `POST /build` requests the v2 daemon's plugin saw for image `tag`.
fn build_requests(log: &str, tag: &str) -> Vec<AuthzRequest> {
    authz_requests(log)
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.starts_with("/v") && r.uri.contains("/build?"))
        .filter(|r| r.uri.contains(&format!("t={tag}")))
        .collect()
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_buildkit_only_dockerfile_builds_with_the_daemons_buildkit_through_the_mounted_client() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = buildkit_only_context(&s, "ctx");
        let tag = unique("dr-bk-mounted");
        let mut c = s.docker();
        // The daemon's BuildKit cannot RUN on the default network of a --bridge=none daemon.
        c.args(["build", "--network", "none", "-t", &tag]).arg(&ctx);
        let o = run(with_mounted_client(&c));
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("routed (mounted) to /usr/bin/docker")
                && err.contains("DOCKER_BUILDKIT=1")
                && err.contains("the daemon's embedded BuildKit")
                && err.contains("is a CLI ≥ 23, whose default builder is BuildKit"),
            "the reroute line names the builder and why: {err}"
        );
        assert!(image_exists(&host, &tag), "nothing built: {err}");
        let builds = build_requests(&log, &tag);
        assert!(!builds.is_empty(), "no POST /build for {tag} in {log}");
        for b in &builds {
            assert!(
                b.uri.contains("version=2"),
                "not a BuildKit build: {}",
                b.uri
            );
            assert!(
                b.user_agent.contains("20.10.24"),
                "built by {}",
                b.user_agent
            );
        }
        // The file COPY --chmod made is executable inside the image.
        let o = Command::new(DOCKER28)
            .args([
                "-H",
                &host,
                "run",
                "--rm",
                "--network",
                "none",
                &tag,
                "/tool.sh",
            ])
            .output()
            .unwrap();
        ok(&o);
        assert_eq!(stdout(&o).trim(), "tool");
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildkit_turned_off_by_the_user_refuses_a_buildkit_only_dockerfile_up_front() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = pipelines_layout(Sandbox::new())
            .env("DOCKER_HOST", &host)
            .env("DOCKER_BUILDKIT", "0");
        let ctx = buildkit_only_context(&s, "ctx");
        let tag = unique("dr-bk-off");
        let mut c = s.docker();
        c.args(["build", "-t", &tag]).arg(&ctx);
        let (o, took) = run_within(with_mounted_client(&c), std::time::Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        let file = ctx.join("Dockerfile");
        assert!(
            err.contains(&format!("{}:2: RUN --mount needs BuildKit", file.display()))
                && err.contains(&format!(
                    "{}:3: COPY --chmod needs BuildKit",
                    file.display()
                )),
            "{err}"
        );
        assert!(err.contains("unset DOCKER_BUILDKIT"), "the fix: {err}");
        assert!(took.as_secs_f64() < 1.0 + 1.5, "refused in {took:?}");
        assert!(
            build_requests(&log, &tag).is_empty(),
            "a build reached the daemon"
        );
        assert!(
            authz_requests(&log).iter().any(|r| r.is_probe_create()),
            "the log holds the probe's requests, so it was read"
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn without_a_20_10_client_a_buildkit_only_dockerfile_is_refused_and_a_plain_one_builds() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = modern_only(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = buildkit_only_context(&s, "ctx");
        let tag = unique("dr-bk-legacy");
        // -f relative to the working directory, as the client resolves it.
        let mut c = s.docker();
        c.current_dir(&ctx)
            .args(["build", "-f", "Dockerfile", "-t", &tag, "."]);
        let o = run(c);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("dockroute: Dockerfile:2: RUN --mount needs BuildKit")
                && err.contains("dockroute: Dockerfile:3: COPY --chmod needs BuildKit"),
            "{err}"
        );
        assert!(
            err.contains("v20.10"),
            "the fix names the mounted client: {err}"
        );
        assert!(
            build_requests(&log, &tag).is_empty(),
            "a build reached the daemon"
        );

        let plain = context(
            &s.p("plain"),
            &format!("FROM {}\nRUN echo built > /built\n", image()),
        );
        let tag = unique("dr-plain-legacy");
        let mut c = s.docker();
        c.args(["build", "-t", &tag]).arg(&plain);
        let o = run(c);
        ok(&o);
        assert!(stderr(&o).contains("legacy"), "{}", stderr(&o));
        assert!(image_exists(&host, &tag));
    });
}

/// `buildx inspect --bootstrap` and `buildx create --bootstrap` would start a privileged
/// builder: refused up front. (`buildx bake` builds there now, target by target through
/// the mounted client: tests/e2e/compose.rs.)
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildx_commands_that_boot_a_builder_are_refused_on_the_restricted_daemon() {
    each_strict(|which| {
        let host = daemon(which);
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let config = config_with_real_buildx(&s);
        let s = s.env("DOCKER_CONFIG", &config);
        let ctx = context(&s.p("ctx"), "FROM scratch\nCOPY Dockerfile /\n");
        for args in [
            &["buildx", "inspect", "--bootstrap"][..],
            &["buildx", "create", "--name", "dr-boot", "--bootstrap"],
        ] {
            let mut c = s.docker();
            c.current_dir(&ctx).args(args);
            let o = run(with_mounted_client(&c));
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(
                err.contains("privileged BuildKit container") && err.contains("docker build"),
                "{args:?}: {err}"
            );
        }
        let containers = Command::new(DOCKER28)
            .args([
                "-H",
                &host,
                "ps",
                "-a",
                "--filter",
                "name=buildx_buildkit_",
                "-q",
            ])
            .output()
            .unwrap();
        ok(&containers);
        assert!(
            stdout(&containers).trim().is_empty(),
            "a builder was created"
        );
        // What does not boot a builder still passes through to the real plugin.
        let mut c = s.docker();
        c.args(["buildx", "version"]);
        let o = run(c);
        ok(&o);
        assert!(stdout(&o).contains("v0.36"), "{}", stdout(&o));
    });
}

#[test]
fn a_dockerfile_on_a_fifo_is_never_opened() {
    // The scan reads only regular files: a FIFO (`-f <(…)`, `mkfifo`) stays the client's
    // to read. With no writer, opening it would block forever.
    let s = modern_only(Sandbox::new()).env("DOCKROUTE_RUNTIME", "restricted");
    let ctx = context(&s.p("ctx"), "FROM scratch\n");
    let fifo = s.p("Dockerfile.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut c = s.dockroute();
    c.args(["explain", "--", "build", "-f"])
        .arg(&fifo)
        .arg(&ctx);
    let (o, took) = run_within(c, std::time::Duration::from_secs(20));
    ok(&o);
    assert!(stdout(&o).contains("route legacy"), "{}", stdout(&o));
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn quiet_with_push_prints_only_the_image_id_on_stdout() {
    each_strict(|which| {
        let host = daemon(which);
        let registry = testbed("DOCKROUTE_TEST_REGISTRY");
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = context(&s.p("ctx"), "FROM scratch\nCOPY Dockerfile /\n");
        let repo = unique("dr-quiet-push");
        let tag = format!("{registry}/{repo}:1");
        let mut c = s.docker();
        c.args(["build", "-q", "--push", "-t", &tag]).arg(&ctx);
        let o = run(with_mounted_client(&c));
        ok(&o);
        let out = stdout(&o);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "only the image ID on stdout: {out:?}");
        assert!(lines[0].starts_with("sha256:"), "{out:?}");
        assert_eq!(
            registry_tags(&repo),
            ["1"],
            "the push happened: {}",
            stderr(&o)
        );
    });
}

/// A Dockerfile with heredocs (`RUN <<EOF`, `COPY <<EOF`), Dockerfile syntax 1.4.
fn heredoc_context(s: &Sandbox, name: &str) -> PathBuf {
    context(
        &s.p(name),
        &format!(
            "FROM {}\n\
             RUN <<EOF\n\
             echo ran from a heredoc > /from-run\n\
             EOF\n\
             COPY <<EOF /hello.txt\n\
             hello from a heredoc\n\
             EOF\n",
            image()
        ),
    )
}

/// Where the two strict daemons differ: the daemon's embedded BuildKit brings its own
/// Dockerfile frontend. Engine 26's builds heredocs through dockroute's mounted route;
/// Engine 20.10's predates them and refuses the Dockerfile in its own words.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_heredoc_dockerfile_builds_on_the_26_daemon_through_the_mounted_client() {
    let host = daemon("v2-26");
    let log = authz_log("v2-26");
    let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
    let ctx = heredoc_context(&s, "ctx");
    let tag = unique("dr-heredoc-26");
    let mut c = s.docker();
    c.args(["build", "--network", "none", "-t", &tag]).arg(&ctx);
    let o = run(with_mounted_client(&c));
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("routed (mounted) to /usr/bin/docker")
            && err.contains("the daemon's embedded BuildKit"),
        "not the mounted route with the daemon's BuildKit: {err}"
    );
    let builds = build_requests(&log, &tag);
    assert!(!builds.is_empty(), "no POST /build for {tag} in {log}");
    for b in &builds {
        assert!(
            b.uri.contains("version=2"),
            "not a BuildKit build: {}",
            b.uri
        );
        assert!(
            b.user_agent.contains("20.10.24"),
            "built by {}",
            b.user_agent
        );
    }
    let o = Command::new(DOCKER28)
        .args(["-H", &host, "run", "--rm", "--network", "none", &tag])
        .args(["cat", "/from-run", "/hello.txt"])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(
        stdout(&o),
        "ran from a heredoc\nhello from a heredoc\n",
        "the heredocs' content in the image"
    );

    // The same Dockerfile on the Engine 20.10 strict daemon: its frontend's parse error.
    let host = daemon("v2");
    let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
    let ctx = heredoc_context(&s, "ctx");
    let tag = unique("dr-heredoc-20");
    let mut c = s.docker();
    c.args(["build", "--network", "none", "-t", &tag]).arg(&ctx);
    let o = run(with_mounted_client(&c));
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "20.10's frontend built heredocs: {err}"
    );
    assert!(
        err.contains("routed (mounted) to /usr/bin/docker")
            && err.contains("dockerfile parse error")
            && err.contains("unknown instruction"),
        "not 20.10's own parse error: {err}"
    );
    assert!(!image_exists(&host, &tag), "an image was built: {err}");
}
