//! Runtime-aware routing against real daemons: the Bitbucket-like `v2` daemon (authz
//! plugin `pipelines` denying privileged containers and `/grpc`), the plain daemon as a
//! runtime v3 stand-in, the real 20.10 client bind-mounted as Pipelines mounts it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

const DENIAL: &str = "authorization denied by plugin pipelines: --privileged=true is not allowed";

fn simple_context(s: &Sandbox, name: &str) -> PathBuf {
    context(
        &s.p(name),
        &format!("FROM {}\nRUN echo built > /built\n", image()),
    )
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn every_build_form_goes_through_the_mounted_20_10_client_on_the_restricted_daemon() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = simple_context(&s, "ctx");
        for words in [
            &["build"][..],
            &["image", "build"],
            &["builder", "build"],
            &["buildx", "build"],
        ] {
            let tag = unique("dr-mounted");
            let mut c = s.docker();
            // The daemon's BuildKit (the user's own client, CLI 28, builds with BuildKit)
            // cannot RUN on the default network of a --bridge=none daemon.
            c.args(words)
                .args(["--network", "none", "-t", &tag])
                .arg(&ctx);
            let o = run(with_mounted_client(&c));
            ok(&o);
            let err = stderr(&o);
            assert!(
                err.contains("dockroute:")
                    && err.contains("mounted")
                    && err.contains("/usr/bin/docker"),
                "{words:?}: {err}"
            );
            assert!(
                err.contains(DENIAL),
                "the reason is the daemon's own words: {err}"
            );
            assert!(image_exists(&host, &tag), "{words:?} built nothing");
            let builds = authz_uris(&log, &format!("t={tag}"));
            assert!(
                !builds.is_empty(),
                "no build request for {tag} in the plugin log"
            );
            for b in &builds {
                assert!(
                    b.user_agent.contains("20.10.24"),
                    "{words:?}: build came from {}",
                    b.user_agent
                );
            }
        }
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn without_a_20_10_client_the_legacy_builder_builds_on_the_restricted_daemon() {
    each_strict(|which| {
        let host = daemon(which);
        let s = modern_only(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = simple_context(&s, "ctx");
        for extra in [&[][..], &["--progress=plain"], &["--load"]] {
            let tag = unique("dr-legacy");
            let mut c = s.docker();
            c.args(["buildx", "build", "-t", &tag])
                .args(extra)
                .arg(&ctx);
            let o = run(c);
            ok(&o);
            let err = stderr(&o);
            assert!(
                err.contains("legacy") && err.contains("DOCKER_BUILDKIT=0"),
                "{err}"
            );
            if !extra.is_empty() {
                assert!(
                    err.contains(&format!("dropped {}", extra[0].split('=').next().unwrap())),
                    "{err}"
                );
            }
            assert!(image_exists(&host, &tag));
        }
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_secret_reaches_the_build_through_the_mounted_client_and_stays_out_of_history() {
    each_strict(|which| {
        let host = daemon(which);
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let secret = "s3cr3t-value-for-dockroute-e2e";
        std::fs::write(s.p("token"), secret).unwrap();
        // The Dockerfile checks the secret by its digest, so the secret itself appears
        // nowhere but in the file passed with --secret.
        let digest: String = {
            use sha2::Digest;
            sha2::Sha256::digest(secret.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let ctx = context(
        &s.p("ctx"),
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | grep -q {digest} && echo ok > /checked\n",
            image()
        ),
    );
        let tag = unique("dr-secret");
        let mut c = s.docker();
        c.args(["build", "--network", "none", "--progress=plain", "-t", &tag])
            .arg(format!("--secret=id=tok,src={}", s.p("token").display()))
            .arg(&ctx);
        let o = run(with_mounted_client(&c));
        ok(&o);
        assert!(stderr(&o).contains("DOCKER_BUILDKIT=1"), "{}", stderr(&o));
        // Each is searched for the secret only once it is known to be this image's: the
        // history holds the build's RUN step, the inspect output names the tag.
        let h = Command::new(DOCKER28)
            .args(["-H", &host, "history", "--no-trunc", &tag])
            .output()
            .unwrap();
        ok(&h);
        let history = stdout(&h);
        assert!(
            history.contains(&digest),
            "the RUN step is in the history: {history}"
        );
        assert!(!history.contains(secret), "{history}");
        let i = Command::new(DOCKER28)
            .args(["-H", &host, "image", "inspect", &tag])
            .output()
            .unwrap();
        ok(&i);
        let config = stdout(&i);
        assert!(
            config.contains(&tag),
            "the inspected image is {tag}: {config}"
        );
        assert!(!config.contains(secret), "{config}");
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_secret_without_a_20_10_client_is_refused_before_anything_runs() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = modern_only(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = simple_context(&s, "ctx");
        let tag = unique("dr-refused");
        let before = authz_requests(&log).len();
        let mut c = s.docker();
        c.args(["build", "--secret", "id=tok,env=HOME", "-t", &tag])
            .arg(&ctx);
        let o = run(c);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("--secret") && err.contains("v20.10"), "{err}");
        assert!(!image_exists(&host, &tag), "{tag} was built");
        // The sandbox's cache is empty, so the refusal was decided on a fresh probe: its
        // create is in the log, which shows the log is live before it is searched for what
        // must not be there.
        let during = authz_requests(&log).split_off(before);
        assert!(
            during.iter().any(AuthzRequest::is_probe_create),
            "the probe's create is not in the plugin log: {during:?}"
        );
        let builds = authz_uris(&log, &format!("t={tag}"));
        assert!(builds.is_empty(), "a build reached the daemon: {builds:?}");
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn push_is_emulated_into_a_real_registry() {
    each_strict(|which| {
        let host = daemon(which);
        let registry = testbed("DOCKROUTE_TEST_REGISTRY");
        let s = modern_only(Sandbox::new()).env("DOCKER_HOST", &host);
        let ctx = simple_context(&s, "ctx");
        let repo = unique("dr-push");
        let tag = format!("{registry}/{repo}:1");
        let mut c = s.docker();
        c.args(["build", "--push", "-t", &tag]).arg(&ctx);
        let o = run(c);
        ok(&o);
        assert!(stderr(&o).contains("--push emulated"), "{}", stderr(&o));
        let mut conn = std::net::TcpStream::connect(&registry).unwrap();
        std::io::Write::write_all(
            &mut conn,
            format!("GET /v2/{repo}/tags/list HTTP/1.0\r\nHost: {registry}\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut body = String::new();
        conn.read_to_string(&mut body).unwrap();
        assert!(
            body.contains("\"1\""),
            "registry does not list the tag: {body}"
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_probe_leaves_nothing_behind_and_never_pulls() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        // Other tests build on this daemon at the same time, so look for the probe's own
        // traces rather than counting everything. A listing that fails panics: an empty
        // answer must come from the daemon.
        let listing = |args: &[&str]| {
            let o = Command::new(DOCKER28)
                .args(["-H", &host])
                .args(args)
                .output()
                .unwrap();
            ok(&o);
            stdout(&o).trim().to_string()
        };
        let probe_leftovers = || {
            (
                listing(&[
                    "ps",
                    "-a",
                    "-q",
                    "--filter",
                    "ancestor=dockroute-probe.invalid/does-not-exist:never",
                ]),
                listing(&["images", "-q", "dockroute-probe.invalid/*"]),
            )
        };
        // The listings can see a container or an image at all (busybox is imported into
        // every test daemon), so their empty answers below mean something.
        assert!(
            !listing(&["images", "-q", &image()]).is_empty(),
            "{} is not listed",
            image()
        );
        let before = authz_requests(&log).len();
        let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
        let mut c = s.dockroute();
        c.args(["explain", "--json", "--", "build", "."]);
        let o = run(c);
        ok(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["runtime"]["kind"], "restricted", "{v}");
        assert_eq!(probe_leftovers(), (String::new(), String::new()));
        let probes: Vec<AuthzRequest> = authz_requests(&log)
            .split_off(before)
            .into_iter()
            .filter(AuthzRequest::by_dockroute)
            .collect();
        assert!(
            probes.iter().any(AuthzRequest::is_probe_create),
            "the probe's create is not in the plugin log: {probes:?}"
        );
        assert!(
            probes.iter().all(|p| !p.uri.contains("/images/create")),
            "the probe pulled: {probes:?}"
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_host_flag_beats_docker_host() {
    let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "-H", &daemon("v2"), "build", "."]);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runtime"]["kind"], "restricted", "{v}");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "."]);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runtime"]["kind"], "no_daemon", "{v}");
    assert_eq!(v["route"], "pass");
}

#[test]
fn a_silent_endpoint_costs_at_most_the_probe_timeout() {
    let s = pipelines_layout(Sandbox::new());
    let sock = s.p("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn); // accept and never answer
        }
    });
    let s = s
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKROUTE_DAEMON_TIMEOUT_MS", "800");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "."]);
    let (o, took) = run_within(c, Duration::from_secs(20));
    ok(&o);
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runtime"]["kind"], "unknown", "{v}");
    assert_eq!(v["route"], "pass");
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn runtime_v3_sends_builds_to_the_real_buildx_with_load_and_drops_an_inherited_off_switch() {
    let host = daemon("plain");
    let s = pipelines_layout(Sandbox::new());
    let config = config_with_real_buildx(&s);
    let s = s
        .env("DOCKER_HOST", &host)
        .env("DOCKER_CONFIG", &config)
        .env("BITBUCKET_BUILD_NUMBER", "42")
        .env("DOCKER_BUILDKIT", "0");
    let ctx = context(
        &s.p("ctx"),
        "FROM scratch\nCOPY Dockerfile /built-by-buildx\n",
    );
    let tag = unique("dr-v3-buildx");
    let mut c = s.docker();
    c.args(["build", "-t", &tag]).arg(&ctx);
    let o = run(c);
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("routed (buildx)") && err.contains("buildx build") && err.contains("v3"),
        "{err}"
    );
    assert!(
        err.contains("removed the inherited DOCKER_BUILDKIT=0"),
        "the removal is announced: {err}"
    );
    // buildx ran (its progress output) and --load put the image into the daemon.
    assert!(
        err.contains("naming to") || err.contains("exporting"),
        "{err}"
    );
    assert!(image_exists(&host, &tag), "not loaded: {err}");
}

/// A compose project of one service that builds on any builder (no RUN: the strict test
/// daemon has no bridge network).
fn compose_project(dir: &Path, service: &str, image: &str) -> PathBuf {
    let ctx = context(&dir.join(service), "FROM scratch\nCOPY Dockerfile /built\n");
    std::fs::write(
        dir.join("compose.yml"),
        format!(
            "services:\n  {service}:\n    build:\n      context: {}\n    image: {image}\n",
            ctx.display()
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

/// The issue reproduced with the real Docker Compose 2.40.3 and buildx, without
/// dockroute: compose builds through bake, buildx falls back to a privileged BuildKit
/// container, and the strict daemon denies it.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn real_compose_without_dockroute_hits_the_seed_denial_on_the_strict_daemon() {
    each_strict(|which| {
        let s = Sandbox::new();
        let config = config_with_real_compose(&s);
        let project = compose_project(&s.p("proj"), "app", &unique("dr-compose-denied"));
        let mut c = s.command(DOCKER28);
        c.env("DOCKER_HOST", daemon(which))
            .env("DOCKER_CONFIG", &config)
            .current_dir(&project)
            // Plain progress: bake's own log (with the daemon's denial) reaches stderr.
            .args(["compose", "--progress", "plain", "build"]);
        let o = run(c);
        assert!(!o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains(DENIAL), "{}", stderr(&o));
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_daemon_denying_only_privileged_is_restricted_and_keeps_grpc_open() {
    let host = daemon("privonly");
    let log = testbed("DOCKROUTE_TEST_PRIVONLY_AUTHZ_LOG");
    let before = authz_requests(&log).len();
    let s = pipelines_layout(Sandbox::new()).env("DOCKER_HOST", &host);
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "."]);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["runtime"]["verdict"]["kind"], "forbidden",
        "privileged only, not every create: {v}"
    );
    assert_eq!(v["runtime"]["verdict"]["plugin"], "pipelines");
    assert_eq!(v["route"], "mounted");
    // The plugin denied the privileged create and allowed the control request (no
    // Privileged).
    let creates: Vec<AuthzRequest> = authz_requests(&log)
        .split_off(before)
        .into_iter()
        .filter(AuthzRequest::is_probe_create)
        .collect();
    assert!(
        creates.iter().any(|r| r.allowed),
        "no allowed probe create in the plugin log: {creates:?}"
    );
    assert!(
        creates.iter().any(|r| !r.allowed),
        "no denied probe create in the plugin log: {creates:?}"
    );
}
