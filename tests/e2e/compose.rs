//! Whole projects on the strict daemons (issue 15): `docker compose build`/`up`/`run` and
//! `docker buildx bake` with the real Docker Compose 2.40.3 and the real buildx first on
//! PATH (CLI 28.2.2) and the 20.10.24 client bind-mounted, as on Pipelines v2. dockroute
//! resolves the project with the tools' own `--print` and builds each target as its
//! `docker build` would go: here the mounted client with the daemon's BuildKit.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// The daemon's BuildKit cannot RUN on the default network of a `--bridge=none` daemon:
/// every target here builds with `network: host`, every container runs with none.
const SECRET_DOCKERFILE: &str = "FROM busybox:latest\n\
RUN --mount=type=cache,target=/cache echo warm > /cache/x && cat /cache/x\n\
RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo secret-seen > /proof\n";

/// A compose project: `app` (a file build secret, a cache mount) and `two` (independent).
fn secret_project(dir: &Path, secret: &str, app: &str, two: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tok.txt"), secret).unwrap();
    std::fs::write(dir.join("Dockerfile"), SECRET_DOCKERFILE).unwrap();
    std::fs::write(
        dir.join("Dockerfile.two"),
        "FROM busybox:latest\nRUN echo two > /two\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "services:\n  app:\n    build:\n      context: .\n      network: host\n      secrets: [tok]\n    image: {app}\n    network_mode: none\n    command: [\"cat\", \"/proof\"]\n  two:\n    build:\n      context: .\n      dockerfile: Dockerfile.two\n      network: host\n    image: {two}\n    network_mode: none\n    command: [\"cat\", \"/two\"]\nsecrets:\n  tok:\n    file: ./tok.txt\n"
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

/// The Pipelines v2 layout on daemon `which`, with the real compose and buildx plugins.
fn project_sandbox(which: &str) -> Sandbox {
    let s = pipelines_layout(Sandbox::new());
    let config = config_with_real_compose(&s);
    s.env("DOCKER_HOST", daemon(which))
        .env("DOCKER_CONFIG", config)
}

/// `docker` through dockroute in `dir`, the 20.10 client bind-mounted.
fn docker_in(s: &Sandbox, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut c = s.docker();
    c.current_dir(dir).args(args);
    run(with_mounted_client(&c))
}

/// The POST /build requests logged since `before` that tag one of `tags` (other tests
/// build on the same daemon at the same time).
fn builds_since(log: &str, before: usize, tags: &[&str]) -> Vec<AuthzRequest> {
    authz_requests(log)
        .split_off(before)
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.contains("/build"))
        .filter(|r| tags.iter().any(|t| r.uri.contains(t)))
        .collect()
}

/// Every build went to the daemon's BuildKit (`version=2`) from the 20.10.24 client.
fn assert_daemon_buildkit(builds: &[AuthzRequest], at_least: usize, err: &str) {
    assert!(
        builds.len() >= at_least,
        "{} POST /build, wanted {at_least}: {err}",
        builds.len()
    );
    for b in builds {
        assert!(
            b.uri.contains("version=2"),
            "not a BuildKit build: {} — {err}",
            b.uri
        );
        assert!(
            b.user_agent.contains("20.10.24"),
            "built by {}",
            b.user_agent
        );
    }
}

/// No buildx builder container was created on the daemon.
fn assert_no_buildx_container(host: &str) {
    let o = Command::new(DOCKER28)
        .args(["-H", host, "ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    ok(&o);
    assert!(
        !stdout(&o).contains("buildx_buildkit"),
        "a buildx builder: {}",
        stdout(&o)
    );
}

/// The secret's value is in neither the image's history nor its config.
fn assert_secret_not_in(host: &str, image: &str, secret: &str) {
    for args in [
        vec!["history", "--no-trunc", image],
        vec!["image", "inspect", image],
    ] {
        let o = Command::new(DOCKER28)
            .args(["-H", host])
            .args(&args)
            .output()
            .unwrap();
        ok(&o);
        assert!(
            !stdout(&o).contains(secret),
            "the secret is in `{}`",
            args.join(" ")
        );
        assert!(
            stdout(&o).len() > 10,
            "`{}` printed nothing",
            args.join(" ")
        );
    }
}

fn container_output(host: &str, image: &str, file: &str) -> String {
    let o = Command::new(DOCKER28)
        .args([
            "-H",
            host,
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "cat",
            file,
        ])
        .output()
        .unwrap();
    ok(&o);
    stdout(&o)
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn compose_build_with_a_secret_and_a_cache_mount_builds_on_the_daemons_buildkit() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which);
        let secret = unique("s3cret-value");
        let (app, two) = (unique("dr-cp-app"), unique("dr-cp-two"));
        let dir = secret_project(&s.p("proj"), &secret, &app, &two);
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["compose", "build"]);
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("resolved with `docker compose build --print`")
                && err.contains("building 2 targets (")
                && err.contains("[app] `docker build` routed (mounted) to /usr/bin/docker"),
            "{err}"
        );
        // Each build's own output, line by line, under its target's name.
        assert!(err.contains("[app] #") && err.contains("[two] #"), "{err}");
        assert!(
            image_exists(&host, &app) && image_exists(&host, &two),
            "{err}"
        );
        assert_daemon_buildkit(&builds_since(&log, before, &[&app, &two]), 2, &err);
        assert_eq!(
            container_output(&host, &app, "/proof").trim(),
            "secret-seen"
        );
        assert_secret_not_in(&host, &app, &secret);
        assert!(!err.contains(&secret), "the secret was printed");
        assert_no_buildx_container(&host);
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn compose_up_builds_the_missing_images_then_runs_compose_without_building() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which);
        let secret = unique("s3cret-up");
        let (app, two) = (unique("dr-up-app"), unique("dr-up-two"));
        let dir = secret_project(&s.p("proj"), &secret, &app, &two);
        let project = unique("drup");
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["compose", "-p", &project, "up", "app", "two"]);
        let err = stderr(&o);
        let out = stdout(&o);
        // Tidy up the project's containers whatever happened.
        let _ = docker_in(&s, &dir, &["compose", "-p", &project, "down"]);
        assert!(o.status.success(), "{err}\n{out}");
        assert!(err.contains("then `docker compose -p"), "{err}");
        assert!(err.contains("up --no-build app two"), "{err}");
        // compose ran the containers: each printed what its image's build left.
        let all = format!("{out}{err}");
        assert!(all.contains("secret-seen") && all.contains("two"), "{all}");
        assert_daemon_buildkit(&builds_since(&log, before, &[&app, &two]), 2, &err);
        assert_secret_not_in(&host, &app, &secret);
        assert_no_buildx_container(&host);

        // `run` with the images present builds nothing and runs the service.
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["compose", "-p", &project, "run", "--rm", "app"]);
        let _ = docker_in(&s, &dir, &["compose", "-p", &project, "down"]);
        ok(&o);
        assert!(stdout(&o).contains("secret-seen"), "{}", stdout(&o));
        assert!(
            stderr(&o).contains("not building app: its image is in the daemon already"),
            "{}",
            stderr(&o)
        );
        assert!(
            builds_since(&log, before, &[&app, &two]).is_empty(),
            "built again: {}",
            stderr(&o)
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn compose_run_with_build_builds_through_the_mounted_client() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which);
        let secret = unique("s3cret-run");
        let (app, two) = (unique("dr-run-app"), unique("dr-run-two"));
        let dir = secret_project(&s.p("proj"), &secret, &app, &two);
        let project = unique("drrun");
        let before = authz_requests(&log).len();
        let o = docker_in(
            &s,
            &dir,
            &["compose", "-p", &project, "run", "--build", "--rm", "app"],
        );
        let _ = docker_in(&s, &dir, &["compose", "-p", &project, "down"]);
        ok(&o);
        let err = stderr(&o);
        assert!(stdout(&o).contains("secret-seen"), "{}\n{err}", stdout(&o));
        // Only the service run (and what it depends on) is built; `--build` is not passed on.
        assert!(
            err.contains("building 1 target (app)") && err.contains("run --rm app"),
            "{err}"
        );
        assert_daemon_buildkit(&builds_since(&log, before, &[&app]), 1, &err);
        assert!(
            image_exists(&host, &app) && !image_exists(&host, &two),
            "{err}"
        );
        assert_secret_not_in(&host, &app, &secret);
    });
}

/// Two bake targets: an `args` value from a variable set in the environment, a secret,
/// `inherits`.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn buildx_bake_builds_both_targets_without_a_builder_container() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which).env("GREETING", "hello-from-env");
        let dir = s.p("bake");
        let secret = unique("s3cret-bake");
        let (one, two) = (unique("dr-bake-one"), unique("dr-bake-two"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tok.txt"), &secret).unwrap();
        std::fs::write(dir.join("Dockerfile"), SECRET_DOCKERFILE).unwrap();
        std::fs::write(
            dir.join("Dockerfile.two"),
            "FROM busybox:latest\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("docker-bake.hcl"),
            format!(
                "variable \"GREETING\" {{ default = \"hi\" }}\n\
                 target \"common\" {{\n  network = \"host\"\n  args = {{ GREETING = GREETING }}\n}}\n\
                 target \"one\" {{\n  inherits = [\"common\"]\n  secret = [\"id=tok,src=tok.txt\"]\n  tags = [\"{one}\"]\n}}\n\
                 target \"two\" {{\n  inherits = [\"common\"]\n  dockerfile = \"Dockerfile.two\"\n  tags = [\"{two}\"]\n}}\n\
                 group \"default\" {{ targets = [\"one\", \"two\"] }}\n"
            ),
        )
        .unwrap();
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["buildx", "bake"]);
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("resolved with `docker buildx bake --print`"),
            "{err}"
        );
        assert_daemon_buildkit(&builds_since(&log, before, &[&one, &two]), 2, &err);
        assert_eq!(
            container_output(&host, &two, "/greeting").trim(),
            "hello-from-env"
        );
        assert_eq!(
            container_output(&host, &one, "/proof").trim(),
            "secret-seen"
        );
        assert_secret_not_in(&host, &one, &secret);
        assert_no_buildx_container(&host);
    });
}

/// A target that needs another's image by a named context (`contexts = { base =
/// "target:base" }`): the 20.10 client has no `--build-context`, so the mounted route
/// refuses it up front, naming the target and the field. A compose service built `FROM`
/// another service's image is built after it.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn dependent_targets_are_ordered_or_refused_naming_the_field() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which);
        let dir = s.p("dep");
        std::fs::create_dir_all(dir.join("base")).unwrap();
        std::fs::write(
            dir.join("base/Dockerfile"),
            "FROM busybox:latest\nRUN echo base > /base\n",
        )
        .unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM base\nRUN cat /base\n").unwrap();
        let (bake_base, bake_app) = (unique("dr-dep-base"), unique("dr-dep-app"));
        std::fs::write(
            dir.join("docker-bake.hcl"),
            format!(
                "target \"base\" {{\n  context = \"base\"\n  network = \"host\"\n  tags = [\"{bake_base}\"]\n}}\n\
                 target \"app\" {{\n  contexts = {{ base = \"target:base\" }}\n  network = \"host\"\n  tags = [\"{bake_app}\"]\n}}\n\
                 group \"default\" {{ targets = [\"app\", \"base\"] }}\n"
            ),
        )
        .unwrap();
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["buildx", "bake"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("refused `target app, field contexts (--build-context)`")
                && err.contains("hint:"),
            "{err}"
        );
        assert!(
            builds_since(&log, before, &[&bake_base, &bake_app]).is_empty(),
            "something was built: {err}"
        );

        // compose: `app` is built FROM `base`'s image, so after it.
        let (base, app) = (unique("dr-from-base"), unique("dr-from-app"));
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM {base}\nRUN cat /base > /app\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("compose.yaml"),
            format!(
                "services:\n  app:\n    build:\n      context: .\n      network: host\n    image: {app}\n  base:\n    build:\n      context: base\n      network: host\n    image: {base}\n"
            ),
        )
        .unwrap();
        std::fs::remove_file(dir.join("docker-bake.hcl")).unwrap();
        let o = docker_in(&s, &dir, &["compose", "build"]);
        ok(&o);
        assert_eq!(
            container_output(&host, &app, "/app").trim(),
            "base",
            "{}",
            stderr(&o)
        );
    });
}

/// Without a 20.10 client the targets take the legacy route: a Dockerfile with
/// BuildKit-only syntax is refused naming `Dockerfile:LINE`, before any `POST /build`.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn without_a_legacy_era_client_a_buildkit_only_dockerfile_is_refused_by_line() {
    each_strict(|which| {
        let log = authz_log(which);
        let s = modern_only(Sandbox::new());
        let config = config_with_real_compose(&s);
        let s = s
            .env("DOCKER_HOST", daemon(which))
            .env("DOCKER_CONFIG", config);
        let dir = s.p("legacy");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox:latest\nRUN --mount=type=cache,target=/c true\n",
        )
        .unwrap();
        let tag = unique("dr-legacy");
        std::fs::write(
            dir.join("compose.yaml"),
            format!("services:\n  app:\n    build: .\n    image: {tag}\n"),
        )
        .unwrap();
        let before = authz_requests(&log).len();
        let mut c = s.docker();
        c.current_dir(&dir).args(["compose", "build"]);
        let (o, took) = run_within(c, std::time::Duration::from_secs(60));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("Dockerfile:2: RUN --mount needs BuildKit")
                && err.contains("target `app`"),
            "{err}"
        );
        assert!(
            builds_since(&log, before, &[&tag]).is_empty(),
            "a build reached the daemon: {err}"
        );
        eprintln!("refused in {took:?}");
    });
}

/// The printer's own failure reaches the user unchanged, with its exit code, and nothing
/// is built.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_printer_failure_is_the_tools_own_message_and_exit_code() {
    let which = "v2";
    let log = authz_log(which);
    let s = project_sandbox(which);
    let (a, b) = (unique("dr-pf-a"), unique("dr-pf-b"));
    let dir = secret_project(&s.p("proj"), "x", &a, &b);
    let before = authz_requests(&log).len();
    let o = docker_in(&s, &dir, &["compose", "build", "nosuch"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim(), "no such service: nosuch");
    let o = docker_in(&s, &dir, &["buildx", "bake", "nosuch"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ERROR: failed to find target nosuch"),
        "{}",
        stderr(&o)
    );
    assert!(builds_since(&log, before, &[&a, &b]).is_empty());
}

/// `pull_policy: build`: compose's `run` builds such a service every time (through bake,
/// denied here). dockroute builds it, then runs compose with `--pull never`.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn compose_run_of_a_pull_policy_build_service_builds_it_once_through_dockroute() {
    each_strict(|which| {
        let log = authz_log(which);
        let s = project_sandbox(which);
        let secret = unique("s3cret-pp");
        let (app, two) = (unique("dr-pp-app"), unique("dr-pp-two"));
        let dir = secret_project(&s.p("proj"), &secret, &app, &two);
        let yaml = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
        let yaml = yaml.replacen(
            &format!("image: {app}\n"),
            &format!("image: {app}\n    pull_policy: build\n"),
            1,
        );
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        let project = unique("drpp");
        for round in 0..2 {
            let before = authz_requests(&log).len();
            let o = docker_in(&s, &dir, &["compose", "-p", &project, "run", "--rm", "app"]);
            let _ = docker_in(&s, &dir, &["compose", "-p", &project, "down"]);
            let err = stderr(&o);
            assert!(o.status.success(), "round {round}: {err}");
            assert!(
                stdout(&o).contains("secret-seen"),
                "round {round}: {}",
                stdout(&o)
            );
            assert!(err.contains("run --pull never --rm app"), "{err}");
            // Built each time, as compose itself would, but once, by the mounted client.
            assert_daemon_buildkit(&builds_since(&log, before, &[&app]), 1, &err);
        }
    });
}

/// `explain` shows the whole plan, one line per target with its route and builder, and
/// builds nothing; `--json` carries each target's plan.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn explain_shows_one_line_per_target() {
    let which = "v2";
    let log = authz_log(which);
    let s = project_sandbox(which);
    let (app, two) = (unique("dr-ex-app"), unique("dr-ex-two"));
    let dir = secret_project(&s.p("proj"), "x", &app, &two);
    let before = authz_requests(&log).len();
    let mut c = s.dockroute();
    c.current_dir(&dir)
        .args(["explain", "--", "compose", "up", "-d"]);
    let o = run(with_mounted_client(&c));
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("would build 2 targets resolved with `docker compose build --print`"),
        "{out}"
    );
    assert!(
        out.contains("then run `/usr/local/bin/docker compose up --no-build -d`"),
        "{out}"
    );
    for name in ["app", "two"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("  target {name}: `/usr/bin/docker build ")))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"));
        assert!(
            line.contains("route mounted") && line.contains("the daemon's embedded BuildKit"),
            "{line}"
        );
    }
    let mut c = s.dockroute();
    c.current_dir(&dir)
        .args(["explain", "--json", "--", "compose", "build"]);
    let o = run(with_mounted_client(&c));
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let targets = v["project"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{v}");
    assert!(
        targets.iter().all(|t| t["plan"]["route"] == "mounted"),
        "{v}"
    );
    assert!(
        builds_since(&log, before, &[&app, &two]).is_empty(),
        "explain built something"
    );
}

/// A Docker Compose without `build --print` (older than the real 2.40.3 here: a wrapper
/// around it that answers `--print` as such a compose does, the one fake) keeps the classic
/// builder; every service's Dockerfile (from `compose config`) is checked first, so a
/// BuildKit-only one is refused naming `FILE:LINE` before any `POST /build`.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn without_build_print_compose_keeps_the_classic_builder_after_the_scan() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = pipelines_layout(Sandbox::new());
        let config = config_with_real_buildx(&s);
        script(
            &config.join("cli-plugins/docker-compose"),
            &format!(
                "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --print ] && {{ echo 'unknown flag: --print' >&2; exit 1; }}; done\nexec {} \"$@\"\n",
                compose_bin().display()
            ),
        );
        let s = s.env("DOCKER_HOST", &host).env("DOCKER_CONFIG", &config);
        let dir = s.p("old");
        let (ok_img, bad_img) = (unique("dr-old-ok"), unique("dr-old-bad"));
        std::fs::create_dir_all(dir.join("bad")).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox:latest\nCOPY Dockerfile /\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("bad/Dockerfile"),
            "FROM busybox:latest\nRUN --mount=type=cache,target=/c true\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("compose.yaml"),
            format!("services:\n  ok:\n    build: .\n    image: {ok_img}\n  bad:\n    build: bad\n    image: {bad_img}\n"),
        )
        .unwrap();
        let before = authz_requests(&log).len();
        let o = docker_in(&s, &dir, &["compose", "build"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("bad/Dockerfile:2: RUN --mount needs BuildKit"),
            "{err}"
        );
        assert!(
            builds_since(&log, before, &[&ok_img, &bad_img]).is_empty(),
            "{err}"
        );
        // Without the BuildKit-only service: built on the classic builder, with a notice.
        let o = docker_in(&s, &dir, &["compose", "build", "ok"]);
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "every service's Dockerfile is checked: {err}"
        );
        std::fs::write(
            dir.join("compose.yaml"),
            format!("services:\n  ok:\n    build: .\n    image: {ok_img}\n"),
        )
        .unwrap();
        let o = docker_in(&s, &dir, &["compose", "build"]);
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("routed (legacy)")
                && err.contains("is not available here (unknown flag: --print)"),
            "{err}"
        );
        assert!(image_exists(&host, &ok_img), "{err}");
    });
}

/// With a shared BuildKit (`DOCKROUTE_BUILDKIT_HOST`) each service takes the remote route,
/// as its `docker build` would: built there (a heredoc, which the daemon's own frontend
/// lacks on Engine 20.10) and loaded into the strict daemon, no `POST /build`.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn on_a_shared_buildkit_each_service_takes_the_remote_route() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = with_buildkit_path(Sandbox::new(), true);
        let config = config_with_real_compose(&s);
        let s = s
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", &config)
            .env("DOCKROUTE_BUILDKIT_HOST", buildkit_addr("unix"));
        let dir = s.p("remote");
        let (a, b) = (unique("dr-cremote-a"), unique("dr-cremote-b"));
        std::fs::create_dir_all(&dir).unwrap();
        for svc in ["a", "b"] {
            std::fs::write(
                dir.join(format!("Dockerfile.{svc}")),
                format!("FROM scratch\nCOPY <<EOF /{svc}.txt\nbuilt {svc}\nEOF\n"),
            )
            .unwrap();
        }
        std::fs::write(
            dir.join("compose.yaml"),
            format!(
                "services:\n  a:\n    build: {{ context: ., dockerfile: Dockerfile.a }}\n    image: {a}\n  b:\n    build: {{ context: ., dockerfile: Dockerfile.b }}\n    image: {b}\n"
            ),
        )
        .unwrap();
        let before = authz_requests(&log).len();
        let mut c = s.docker();
        c.current_dir(&dir).args(["compose", "build"]);
        let o = run(c);
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("[a] `docker build` routed (remote)")
                && err.contains("[b] `docker build` routed (remote)"),
            "{err}"
        );
        assert!(image_exists(&host, &a) && image_exists(&host, &b), "{err}");
        assert!(
            builds_since(&log, before, &[&a, &b]).is_empty(),
            "a POST /build reached the daemon: {err}"
        );
    });
}

/// `compose build`'s own flags reach the printer and so each build: `--build-arg` (a
/// value in the image), `--no-cache`, and `--push`, which on the mounted route is the
/// build then `docker push` of the service's `image:` (to the bed's loopback registry).
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn compose_build_flags_reach_each_build_and_push_pushes() {
    each_strict(|which| {
        let host = daemon(which);
        let registry = testbed("DOCKROUTE_TEST_REGISTRY");
        let s = project_sandbox(which);
        let dir = s.p("flags");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox:latest\nARG FLAVOUR=plain\nRUN echo \"$FLAVOUR\" > /flavour\n",
        )
        .unwrap();
        let repo = unique("dr-cpush");
        let image = format!("{registry}/{repo}:1");
        std::fs::write(
            dir.join("compose.yaml"),
            format!("services:\n  app:\n    build: {{ context: ., network: host }}\n    image: {image}\n"),
        )
        .unwrap();
        let o = docker_in(
            &s,
            &dir,
            &[
                "compose",
                "build",
                "--no-cache",
                "--build-arg",
                "FLAVOUR=minty",
                "--push",
            ],
        );
        ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains("--push emulated") && err.contains("--no-cache"),
            "{err}"
        );
        assert_eq!(container_output(&host, &image, "/flavour").trim(), "minty");
        assert!(
            registry_tags(&repo).contains(&"1".to_string()),
            "not pushed: {err}"
        );
    });
}

/// `docker buildx bake --print`/`--list`, `docker compose build --print` and compose's
/// `--dry-run` only show what the tool would do: they reach no builder, so they pass
/// through and print the tool's own answer. Before, dockroute built every target
/// instead (and `bake --list` failed with buildx's "--print and --list are mutually
/// exclusive").
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn printing_and_dry_run_calls_show_and_build_nothing() {
    each_strict(|which| {
        let host = daemon(which);
        let log = authz_log(which);
        let s = project_sandbox(which);
        let (a, b) = (unique("dr-show-a"), unique("dr-show-b"));
        let dir = secret_project(&s.p("proj"), "x", &a, &b);
        std::fs::write(
            dir.join("docker-bake.hcl"),
            format!("target \"solo\" {{\n  network = \"host\"\n  tags = [\"{a}-solo\"]\n}}\n"),
        )
        .unwrap();
        let before = authz_requests(&log).len();

        let o = docker_in(&s, &dir, &["buildx", "bake", "--print", "solo"]);
        ok(&o);
        let printed: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not bake's JSON ({e}): {}", stdout(&o)));
        assert_eq!(printed["target"]["solo"]["tags"][0], format!("{a}-solo"));

        let o = docker_in(&s, &dir, &["buildx", "bake", "--list", "targets"]);
        ok(&o);
        assert!(stdout(&o).contains("solo"), "{}", stdout(&o));

        let o = docker_in(&s, &dir, &["compose", "build", "--print"]);
        ok(&o);
        let printed: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not compose's JSON ({e}): {}", stdout(&o)));
        assert_eq!(printed["target"]["app"]["tags"][0], a.as_str());

        let o = docker_in(&s, &dir, &["compose", "--dry-run", "up", "-d"]);
        ok(&o);
        assert!(stderr(&o).contains("DRY-RUN MODE"), "{}", stderr(&o));
        let o = docker_in(&s, &dir, &["compose", "build", "--dry-run"]);
        ok(&o);
        assert!(stderr(&o).contains("DRY-RUN MODE"), "{}", stderr(&o));

        let all = [a.as_str(), b.as_str()];
        assert!(
            builds_since(&log, before, &all).is_empty(),
            "something was built"
        );
        for image in all {
            assert!(!image_exists(&host, image), "{image} was built");
        }
    });
}

/// A service built for several platforms on a shared BuildKit (compose prints it as an
/// `type=image` output, kept in BuildKit's store) builds as its `docker build` does, with
/// `--quiet` too. Its `buildctl` writes a metadata file in the call's private scratch
/// directory, which the project's run must create as a single build's run does (before,
/// buildctl failed with `open /tmp/dockroute-…/metadata.json: no such file or directory`
/// after the build).
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_multi_platform_service_on_a_shared_buildkit_builds_as_its_docker_build_does() {
    each_strict(|which| {
        let host = daemon(which);
        let s = with_buildkit_path(Sandbox::new(), true);
        let config = config_with_real_compose(&s);
        let s = s
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", &config)
            .env("DOCKROUTE_BUILDKIT_HOST", buildkit_addr("unix"));
        // dockroute's scratch directories go here: none may be left behind.
        let tmp = s.p("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let s = s.env("TMPDIR", &tmp);
        let dir = s.p("multi");
        let (a, b) = (unique("dr-cmulti-a"), unique("dr-cmulti-b"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM scratch\nCOPY Dockerfile /built\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("compose.yaml"),
            format!(
                "services:\n  a:\n    build: {{ context: ., platforms: [linux/amd64, linux/arm64] }}\n    image: {a}\n  b:\n    build: {{ context: ., platforms: [linux/amd64, linux/arm64] }}\n    image: {b}\n"
            ),
        )
        .unwrap();
        let mut c = s.docker();
        c.current_dir(&dir).args(["compose", "build"]);
        let o = run(c);
        let err = stderr(&o);
        ok(&o);
        assert!(
            err.contains("[a] `docker build` routed (remote)")
                && err.contains("[b] `docker build` routed (remote)"),
            "{err}"
        );
        // `--quiet` has each target's buildctl write its metadata file there too.
        let mut c = s.docker();
        c.current_dir(&dir).args(["compose", "build", "--quiet"]);
        ok(&run(c));
        let leftovers: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert!(leftovers.is_empty(), "scratch left behind: {leftovers:?}");
    });
}
