//! The real BuildKit programs of the test bed, on their own (no dockroute): buildctl
//! against a unix-socket buildkitd, a TCP one with mutual TLS and a daemonless one, a
//! push into the bed's registry, and the real buildx plugin failing on the strict daemon
//! exactly as Bitbucket Pipelines' runtime v2 fails. Later tests build on these facts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const DENIAL: &str = "authorization denied by plugin pipelines: --privileged=true is not allowed";

/// A sandbox whose PATH is the BuildKit binaries first, no shim.
fn buildkit_sandbox() -> Sandbox {
    with_buildkit_path(Sandbox::bare(), false)
}

/// A `FROM scratch` context that copies one file with content unique to the call.
/// Returns the context directory and the file's content.
fn scratch_context(s: &Sandbox, name: &str) -> (PathBuf, String) {
    let dir = context(&s.p(name), "FROM scratch\nCOPY f.txt /f.txt\n");
    let content = unique("dockroute-buildkit-e2e");
    std::fs::write(dir.join("f.txt"), &content).unwrap();
    (dir, content)
}

/// The arguments of `buildctl build` for the dockerfile frontend on `ctx`, ending with
/// `--output OUTPUT`.
fn build_args(ctx: &Path, output: &str) -> Vec<String> {
    let ctx = ctx.display();
    vec![
        "build".into(),
        "--frontend".into(),
        "dockerfile.v0".into(),
        "--local".into(),
        format!("context={ctx}"),
        "--local".into(),
        format!("dockerfile={ctx}"),
        "--output".into(),
        output.into(),
    ]
}

/// `buildctl GLOBAL… build …` into a local directory; asserts the file arrived.
#[track_caller]
fn builds_to_a_local_directory(global: &[String]) {
    let s = buildkit_sandbox();
    let (ctx, content) = scratch_context(&s, "ctx");
    let out = s.p("out");
    let mut c = s.command(buildkit_bin().join("buildctl"));
    c.args(global).args(build_args(
        &ctx,
        &format!("type=local,dest={}", out.display()),
    ));
    let o = run(c);
    ok(&o);
    assert_eq!(
        std::fs::read_to_string(out.join("f.txt")).unwrap_or_default(),
        content,
        "{}",
        stderr(&o)
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildctl_builds_on_the_unix_socket_buildkitd() {
    builds_to_a_local_directory(&["--addr".into(), buildkit_addr("unix")]);
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildctl_builds_on_the_tcp_buildkitd_with_mutual_tls() {
    let addr = buildkit_addr("tcp");
    let tls = buildkit_tls_dir();
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        assert!(tls.join(file).is_file(), "{}/{file}", tls.display());
    }
    builds_to_a_local_directory(&[
        "--addr".into(),
        addr.clone(),
        "--tlsdir".into(),
        tls.display().to_string(),
    ]);

    // Mutual: trusting the server is not enough, the client must show its certificate.
    let s = buildkit_sandbox();
    let mut c = s.command(buildkit_bin().join("buildctl"));
    c.args(["--addr", &addr, "--tlscacert"])
        .arg(tls.join("ca.pem"))
        .args(["debug", "workers"]);
    let o = run(c);
    assert!(
        !o.status.success(),
        "no client certificate, yet: {}",
        stdout(&o)
    );
    // The server's refusal reaches the client as "tls: certificate required" or as a
    // broken pipe, depending on timing (TLS 1.3 checks it after the handshake).
    assert!(!stderr(&o).contains("connection refused"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildctl_pushes_into_the_plain_http_registry() {
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    let s = buildkit_sandbox();
    let (ctx, _) = scratch_context(&s, "ctx");
    let repo = unique("dr-buildctl-push");
    // No registry.insecure=true: BuildKit speaks plain HTTP to a registry on 127.0.0.1
    // by itself.
    let mut c = s.command(buildkit_bin().join("buildctl"));
    c.args(["--addr", &buildkit_addr("unix")]).args(build_args(
        &ctx,
        &format!("type=image,name={registry}/{repo}:1,push=true"),
    ));
    let o = run(c);
    ok(&o);
    assert_eq!(registry_tags(&repo), ["1"], "{}", stderr(&o));
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildctl_daemonless_builds_in_a_private_run_and_leaves_no_buildkitd() {
    let s = buildkit_sandbox();
    let (ctx, content) = scratch_context(&s, "ctx");
    let out = s.p("out");
    let root = s.p("buildkitd-root");
    let mut script = s.command("buildctl-daemonless.sh");
    script.args(build_args(
        &ctx,
        &format!("type=local,dest={}", out.display()),
    ));
    let c = in_private_run(&s, &script);
    let o = run(c);
    ok(&o);
    assert_eq!(
        std::fs::read_to_string(out.join("f.txt")).unwrap_or_default(),
        content,
        "{}",
        stderr(&o)
    );
    assert!(root.is_dir(), "buildkitd did not use its --root");

    // The script waits for its buildkitd before it exits: nothing is left, at once.
    let dir = s.dir.path().display().to_string();
    let left = Command::new("pgrep")
        .args(["-a", "-f", &format!("buildkitd.*{dir}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "buildkitd left running: {}",
        stdout(&left)
    );
    // Its mounts (the tmpfs, the snapshotter's) died with the namespace.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir), "{mounts}");
}

/// Containers on `host` made by buildx's docker-container driver: by its name prefix,
/// or made from its image (the bed's image of that name is used for nothing else).
fn buildx_containers(host: &str) -> Vec<String> {
    let image = testbed("DOCKROUTE_TEST_BUILDX_IMAGE");
    let mut found = Vec::new();
    for filter in [
        "name=buildx_buildkit_".to_string(),
        format!("ancestor={image}"),
    ] {
        let o = Command::new(DOCKER28)
            .args(["-H", host, "ps", "-a", "--format", "{{.ID}} {{.Names}}"])
            .args(["--filter", &filter])
            .output()
            .unwrap();
        ok(&o);
        found.extend(stdout(&o).lines().map(str::to_owned));
    }
    found
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn real_buildx_on_the_strict_daemon_fails_with_the_privileged_denial() {
    each_strict(|which| {
        let host = daemon(which);
        // The modern client alone, with the real buildx plugin in a DOCKER_CONFIG of its own
        // (builder state stays in the sandbox).
        let s =
            Sandbox::bare().with_path(&["/usr/local/bin".into(), "/usr/bin".into(), "/bin".into()]);
        let config = config_with_real_buildx(&s);
        let s = s.env("DOCKER_CONFIG", &config).env("DOCKER_HOST", &host);
        let ctx = context(
            &s.p("ctx"),
            &format!("FROM {}\nRUN echo built > /built\n", image()),
        );
        let tag = unique("dr-real-buildx");

        let mut c = s.command(DOCKER28);
        c.args(["build", "--network", "none", "-t", &tag]).arg(&ctx);
        let o = run(c);
        let leftovers = buildx_containers(&host);
        for line in &leftovers {
            let id = line.split_whitespace().next().unwrap_or_default();
            let _ = Command::new(DOCKER28)
                .args(["-H", &host, "rm", "-f", id])
                .output();
        }

        let out = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!o.status.success(), "{out}");
        // The seed's log, line for line where it matters: buildx gave up on the daemon's
        // own builder (its /grpc is denied), booted the docker-container driver and was
        // refused the privileged container.
        assert!(out.contains("using docker-container driver"), "{out}");
        assert!(
            out.contains("creating container buildx_buildkit_default"),
            "{out}"
        );
        assert!(out.contains(DENIAL), "{out}");
        // The denial comes at create: no builder container exists afterwards (buildx's
        // short-lived probe container from the same image is removed as well).
        assert!(leftovers.is_empty(), "left on the daemon: {leftovers:?}");
        let inspect = Command::new(DOCKER28)
            .args(["-H", &host, "image", "inspect", &tag])
            .output()
            .unwrap();
        assert!(!inspect.status.success(), "an image {tag} was built");
    });
}
