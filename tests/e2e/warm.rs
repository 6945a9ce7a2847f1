//! Warm rebuilds through Bitbucket's docker cache (issue 13), on both strict daemons.
//!
//! Each test plays two Pipelines steps: a build through the shim, then what the docker
//! cache does between steps (`docker image save` of the step's images, the images
//! removed, BuildKit's cache pruned — a new step has a new daemon — and `docker image
//! load`), then the same build again through the shim. What the second build ran or took
//! from the cache is read from the builder's own output, and what reached the daemon from
//! the authorization plugin's log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// The strict daemon of `which` engine kept for these tests (`v2-warm`, `v2-26-warm`:
/// the same Bitbucket-like daemons as `v2` and `v2-26`): the docker cache cycle prunes
/// the daemon's whole build cache, which must not happen under other tests' builds.
fn warm_daemon(which: &str) -> String {
    daemon(&format!("{which}-warm"))
}

fn warm_log(which: &str) -> String {
    authz_log(&format!("{which}-warm"))
}

/// One of these tests at a time: one's prune must not run under another's build.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A Dockerfile of two `RUN` steps, each writing `marker` (unique per test, so the first
/// build can never find them in a cache).
fn single_stage(s: &Sandbox, marker: &str) -> PathBuf {
    context(
        &s.p("ctx"),
        &format!(
            "FROM {}\nRUN sleep 1 && echo one-{marker} > /one\nRUN echo two-{marker} > /two\n",
            image()
        ),
    )
}

/// `docker` (the 20.10 client, which speaks the build API itself) against `host`.
fn docker_at(host: &str) -> Command {
    let mut c = Command::new(DOCKER20);
    c.args(["-H", host]);
    c
}

/// What Bitbucket's docker cache does between two steps, for the images `tags`: save
/// them, remove them, prune the build cache, load them back.
fn docker_cache_cycle(s: &Sandbox, host: &str, tags: &[&str]) -> u64 {
    let tar = s.p("docker-cache.tar");
    let mut save = docker_at(host);
    save.args(["image", "save", "-o"]).arg(&tar).args(tags);
    ok(&run(save));
    let bytes = std::fs::metadata(&tar).unwrap().len();
    let mut rmi = docker_at(host);
    rmi.arg("rmi").args(tags);
    ok(&run(rmi));
    let mut prune = docker_at(host);
    prune.args(["builder", "prune", "-af"]);
    ok(&run(prune));
    for tag in tags {
        assert!(!image_exists(host, tag), "{tag} still there after rmi");
    }
    let mut load = docker_at(host);
    load.args(["image", "load", "-i"]).arg(&tar);
    ok(&run(load));
    bytes
}

/// The `RUN` steps of a BuildKit build's plain progress output (`#5 [2/3] RUN …`), each
/// with whether BuildKit took it from the cache (`#5 CACHED`).
fn buildkit_runs(progress: &str) -> Vec<(String, bool)> {
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in progress.lines() {
        let Some((id, rest)) = line.split_once(' ') else {
            continue;
        };
        if !id.starts_with('#') {
            continue;
        }
        if rest.starts_with('[') && rest.contains("] RUN ") && !steps.iter().any(|(i, _)| i == id) {
            steps.push((id.to_string(), rest.to_string()));
        }
    }
    steps
        .into_iter()
        .map(|(id, title)| {
            let cached = progress
                .lines()
                .any(|l| l.trim_end() == format!("{id} CACHED"));
            (title, cached)
        })
        .collect()
}

/// The build's own part of a stderr that also holds the stage builds run after it: up
/// to its `naming to` line (the image written), the first of them.
fn first_build(err: &str) -> &str {
    let end = err
        .find(" naming to ")
        .and_then(|at| err[at..].find('\n').map(|nl| at + nl))
        .unwrap_or(err.len());
    &err[..end]
}

/// A two-stage build whose builder stage installs dependencies (slow, unchanged between
/// the steps) and then compiles the source (`src.txt`, changed between the steps).
fn two_stage(s: &Sandbox, marker: &str) -> PathBuf {
    let dir = context(
        &s.p("ctx2"),
        &format!(
            "FROM {image} AS deps\n\
             RUN sleep 1 && echo deps-{marker} > /deps\n\
             FROM deps AS build\n\
             COPY src.txt /src.txt\n\
             RUN cat /deps /src.txt > /artifact\n\
             FROM {image}\n\
             RUN echo final-{marker} > /final\n\
             COPY --from=build /artifact /artifact\n",
            image = image()
        ),
    );
    std::fs::write(dir.join("src.txt"), "v1\n").unwrap();
    dir
}

/// Two steps of a two-stage build with the source changed between them, at
/// `DOCKROUTE_WARM=level`: the second build's `RUN` steps, and the image's artifact.
fn two_stage_steps(which: &str, level: &str) -> (Vec<(String, bool)>, String, String) {
    let host = warm_daemon(which);
    let s = pipelines_step(&host).env("DOCKROUTE_WARM", level);
    let marker = unique("warm-two");
    let ctx = two_stage(&s, &marker);
    let tag = format!("{marker}:1");
    let args = ["--network", "none", "--progress", "plain", "-t", &tag];
    let first = shim_build(&s, true, &args, &ctx);
    ok(&first);
    // What the step leaves in the daemon: the image, and the stage images at `on`.
    let stages = [
        format!("dockroute-stage/{marker}:deps"),
        format!("dockroute-stage/{marker}:build"),
    ];
    let mut saved = vec![tag.clone()];
    for st in &stages {
        assert_eq!(
            image_exists(&host, st),
            level == "on",
            "stage image {st} at DOCKROUTE_WARM={level}: {}",
            stderr(&first)
        );
        if level == "on" {
            saved.push(st.clone());
        }
    }
    let saved: Vec<&str> = saved.iter().map(String::as_str).collect();
    docker_cache_cycle(&s, &host, &saved);
    std::fs::write(ctx.join("src.txt"), "v2\n").unwrap();
    let second = shim_build(&s, true, &args, &ctx);
    ok(&second);
    let err = stderr(&second);
    let main = first_build(&err);
    if level == "on" {
        // The stage images came back with the docker cache: cache sources, not built again.
        assert!(
            err.contains(&format!(
                "--cache-from {tag}, --cache-from dockroute-stage/{marker}:deps, --cache-from dockroute-stage/{marker}:build ("
            )),
            "{err}"
        );
        assert_eq!(
            err.matches(" naming to ").count(),
            1,
            "one build only: {err}"
        );
    }
    let mut c = Command::new(DOCKER28);
    c.args([
        "-H",
        &host,
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "cat",
        "/artifact",
        "/final",
    ]);
    let o = run(c);
    ok(&o);
    (buildkit_runs(main), stdout(&o), marker)
}

fn cached(runs: &[(String, bool)], needle: &str) -> bool {
    runs.iter()
        .find(|(title, _)| title.contains(needle))
        .unwrap_or_else(|| panic!("no RUN step with {needle:?} in {runs:?}"))
        .1
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_two_stage_build_keeps_its_builder_stage_warm_through_stage_images() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let (runs, artifact, marker) = two_stage_steps(which, "on");
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert!(
            cached(&runs, "echo deps-"),
            "the dependency step of the builder stage is warm: {runs:?}"
        );
        assert!(
            cached(&runs, "echo final-"),
            "the final stage is warm: {runs:?}"
        );
        assert!(
            !cached(&runs, "cat /deps /src.txt"),
            "the changed source is built again: {runs:?}"
        );
        assert_eq!(artifact, format!("deps-{marker}\nv2\nfinal-{marker}\n"));
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_two_stage_build_with_final_only_inline_cache_has_a_cold_builder_stage() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let (runs, artifact, marker) = two_stage_steps(which, "final");
        assert_eq!(runs.len(), 3, "{runs:?}");
        // BuildKit's inline cache is mode=min: the final stage's layers only.
        assert!(cached(&runs, "echo final-"), "{runs:?}");
        assert!(
            !cached(&runs, "echo deps-"),
            "the builder stage is cold: {runs:?}"
        );
        assert_eq!(artifact, format!("deps-{marker}\nv2\nfinal-{marker}\n"));
    });
}

/// The legacy builder's steps (`Step 2/3 : RUN …`), each with whether it said
/// `---> Using cache`.
fn legacy_runs(out: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut runs = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("Step ") && l.contains(" : RUN ") {
            let cached = lines
                .get(i + 1)
                .is_some_and(|n| n.contains("---> Using cache"));
            runs.push(((*l).to_string(), cached));
        }
    }
    runs
}

/// Percent-decodes a request URI's query (the build's options as the daemon saw them).
fn decoded(uri: &str) -> String {
    let b = uri.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&uri[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `POST /build` requests for image `tag` in the plugin's log, decoded.
fn builds_of(log: &str, tag: &str) -> Vec<String> {
    authz_requests(log)
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.contains("/build?"))
        .map(|r| decoded(&r.uri))
        .filter(|u| u.contains(&format!("&t={tag}&")))
        .collect()
}

/// A build through the shim as a Bitbucket step on the strict daemon would run it.
fn shim_build(s: &Sandbox, mounted: bool, args: &[&str], ctx: &Path) -> Output {
    let mut c = s.docker();
    c.arg("build").args(args).arg(ctx);
    if mounted {
        run(with_mounted_client(&c))
    } else {
        run(c)
    }
}

/// What `cat /one /two` prints in the image.
fn content(host: &str, tag: &str) -> String {
    let mut c = Command::new(DOCKER28);
    c.args([
        "-H",
        host,
        "run",
        "--rm",
        "--network",
        "none",
        tag,
        "cat",
        "/one",
        "/two",
    ]);
    let o = run(c);
    ok(&o);
    stdout(&o)
}

/// A Pipelines v2 step (CLI 28 first, the 20.10 client to mount) on `host`.
fn pipelines_step(host: &str) -> Sandbox {
    bitbucket_step(pipelines_layout(Sandbox::new()), host)
}

/// The image [`single_stage`] builds holds what its Dockerfile wrote.
fn assert_single_stage_image(host: &str, tag: &str, marker: &str) {
    assert_eq!(
        content(host, tag),
        format!("one-{marker}\ntwo-{marker}\n"),
        "the image holds what the Dockerfile wrote"
    );
}

fn bitbucket_step(s: Sandbox, host: &str) -> Sandbox {
    s.env("DOCKER_HOST", host)
        .env("BITBUCKET_BUILD_NUMBER", "7")
        .env("BITBUCKET_STEP_UUID", "{step}")
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_bitbucket_step_rebuilds_warm_with_buildkit_after_the_docker_cache() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let log = warm_log(which);
        let s = pipelines_step(&host);
        let marker = unique("warm");
        let ctx = single_stage(&s, &marker);
        let tag = format!("{marker}:1");
        let args = ["--network", "none", "--progress", "plain", "-t", &tag];

        let first = shim_build(&s, true, &args, &ctx);
        ok(&first);
        let err = stderr(&first);
        assert!(
            err.contains("routed (mounted) to /usr/bin/docker")
                && err.contains("warm through the docker cache: BUILDKIT_INLINE_CACHE=1 (no tag of this build is in the daemon yet, so no --cache-from)"),
            "the reroute line says what it adds: {err}"
        );
        assert!(
            buildkit_runs(&err).iter().all(|(_, cached)| !cached) && buildkit_runs(&err).len() == 2,
            "the first build is cold: {:?}",
            buildkit_runs(&err)
        );
        let sent = builds_of(&log, &tag);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(
            sent[0].contains(r#"buildargs={"BUILDKIT_INLINE_CACHE":"1"}"#)
                && sent[0].contains("cachefrom=[]"),
            "{}",
            sent[0]
        );

        docker_cache_cycle(&s, &host, &[&tag]);

        let second = shim_build(&s, true, &args, &ctx);
        ok(&second);
        let err = stderr(&second);
        assert!(
            err.contains(&format!(
                "warm through the docker cache: BUILDKIT_INLINE_CACHE=1, --cache-from {tag} (DOCKROUTE_WARM=off turns it off)"
            )),
            "{err}"
        );
        let runs = buildkit_runs(&err);
        assert_eq!(runs.len(), 2, "{err}");
        assert!(
            runs.iter().all(|(_, cached)| *cached),
            "every step CACHED after the docker cache cycle: {runs:?}\n{err}"
        );
        let sent = builds_of(&log, &tag);
        assert!(
            sent[1].contains(&format!(r#"cachefrom=["{tag}"]"#)),
            "{}",
            sent[1]
        );
        assert_single_stage_image(&host, &tag, &marker);
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn with_warm_off_the_rebuild_after_the_docker_cache_is_cold_as_before() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let log = warm_log(which);
        let s = pipelines_step(&host).env("DOCKROUTE_WARM", "off");
        let marker = unique("warm-off");
        let ctx = single_stage(&s, &marker);
        let tag = format!("{marker}:1");
        let args = ["--network", "none", "--progress", "plain", "-t", &tag];
        ok(&shim_build(&s, true, &args, &ctx));
        docker_cache_cycle(&s, &host, &[&tag]);
        let second = shim_build(&s, true, &args, &ctx);
        ok(&second);
        let err = stderr(&second);
        assert!(!err.contains("warm through"), "{err}");
        let runs = buildkit_runs(&err);
        assert_eq!(runs.len(), 2, "{err}");
        assert!(
            runs.iter().all(|(_, cached)| !cached),
            "cold, as without dockroute's warm step: {runs:?}"
        );
        for sent in builds_of(&log, &tag) {
            assert!(
                sent.contains("buildargs={}") && sent.contains("cachefrom=[]"),
                "nothing added: {sent}"
            );
        }
        assert_single_stage_image(&host, &tag, &marker);
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_calls_own_inline_cache_and_cache_from_are_respected() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let log = warm_log(which);
        let s = pipelines_step(&host);
        let marker = unique("warm-own");
        let ctx = single_stage(&s, &marker);
        let tag = format!("{marker}:1");
        let other = format!("{marker}-elsewhere:cache");
        let args = [
            "--network",
            "none",
            "--progress",
            "plain",
            "--build-arg",
            "BUILDKIT_INLINE_CACHE=0",
            "--cache-from",
            &other,
            "-t",
            &tag,
        ];
        ok(&shim_build(&s, true, &args, &ctx));
        docker_cache_cycle(&s, &host, &[&tag]);
        let second = shim_build(&s, true, &args, &ctx);
        ok(&second);
        let err = stderr(&second);
        assert!(
            err.contains(&format!(
                "warm through the docker cache: --cache-from {tag} (BUILDKIT_INLINE_CACHE is set by the call and kept)"
            )),
            "{err}"
        );
        let sent = builds_of(&log, &tag);
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(
            sent[0].contains(r#"buildargs={"BUILDKIT_INLINE_CACHE":"0"}"#)
                && sent[0].contains(&format!(r#"cachefrom=["{other}"]"#)),
            "the call's own values, nothing else: {}",
            sent[0]
        );
        assert!(
            sent[1].contains(r#"buildargs={"BUILDKIT_INLINE_CACHE":"0"}"#)
                && sent[1].contains(&format!(r#"cachefrom=["{tag}","{other}"]"#)),
            "its own tag added, the call's --cache-from kept: {}",
            sent[1]
        );
        // With no inline cache in the image (the call's choice), nothing is warm.
        let runs = buildkit_runs(&err);
        assert!(
            runs.len() == 2 && runs.iter().all(|(_, cached)| !cached),
            "{runs:?}"
        );
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_tag_the_daemon_lacks_adds_no_cache_from_and_no_registry_lookup() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let log = warm_log(which);
        let s = pipelines_step(&host);
        let marker = unique("warm-new");
        let ctx = single_stage(&s, &marker);
        // A registry name that cannot resolve: any lookup of it would fail or hang.
        let tag = format!("registry.invalid/{marker}:1");
        let o = shim_build(&s, true, &["--network", "none", "-t", &tag], &ctx);
        ok(&o);
        let mine: Vec<AuthzRequest> = authz_requests(&log)
            .into_iter()
            .filter(|r| r.uri.contains(&marker))
            .collect();
        let looked_up: Vec<&AuthzRequest> = mine.iter().filter(|r| r.by_dockroute()).collect();
        assert_eq!(looked_up.len(), 1, "one lookup of the tag: {mine:?}");
        assert_eq!(looked_up[0].method, "GET");
        assert!(
            looked_up[0].uri.ends_with(&format!("/images/{tag}/json")),
            "{:?}",
            looked_up[0]
        );
        assert!(
            !mine.iter().any(|r| r.uri.contains("/images/create")
                || r.uri.contains("/distribution/")
                || r.uri.contains("/auth")),
            "no pull, no registry lookup: {mine:?}"
        );
        let sent = builds_of(&log, &tag);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].contains("cachefrom=[]"), "{}", sent[0]);
        assert!(image_exists(&host, &tag));
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_legacy_route_rebuilds_warm_after_the_docker_cache() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let s = bitbucket_step(modern_only(Sandbox::new()), &host);
        let marker = unique("warm-legacy");
        let ctx = single_stage(&s, &marker);
        let tag = format!("{marker}:1");
        let first = shim_build(&s, false, &["-t", &tag], &ctx);
        ok(&first);
        let out = stdout(&first);
        let runs = legacy_runs(&out);
        assert!(runs.len() == 2 && runs.iter().all(|(_, c)| !c), "{out}");
        assert!(
            stderr(&first).contains("routed (legacy)")
                && stderr(&first).contains("warm through the docker cache: nothing added (no tag of this build is in the daemon yet, so no --cache-from)"),
            "{}",
            stderr(&first)
        );
        docker_cache_cycle(&s, &host, &[&tag]);
        let second = shim_build(&s, false, &["-t", &tag], &ctx);
        ok(&second);
        assert!(
            stderr(&second).contains(&format!(
                "warm through the docker cache: --cache-from {tag} "
            )),
            "{}",
            stderr(&second)
        );
        let out = stdout(&second);
        let runs = legacy_runs(&out);
        assert!(
            runs.len() == 2 && runs.iter().all(|(_, c)| *c),
            "every step from the cache: {out}"
        );
        assert_single_stage_image(&host, &tag, &marker);
    });
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn quiet_prints_only_the_image_id_while_the_stage_images_are_built() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let s = pipelines_step(&host);
        let marker = unique("warm-quiet");
        let ctx = two_stage(&s, &marker);
        let tag = format!("{marker}:1");
        let iid = s.p("iid");
        let mut args = vec!["--network", "none", "-q", "-t", &tag, "--iidfile"];
        let iid_str = iid.to_string_lossy().into_owned();
        args.push(&iid_str);
        let o = shim_build(&s, true, &args, &ctx);
        ok(&o);
        let out = stdout(&o);
        let id = std::fs::read_to_string(&iid).unwrap();
        assert_eq!(
            out.trim_end(),
            id.trim_end(),
            "stdout is the build's image ID alone"
        );
        assert_eq!(out.lines().count(), 1, "{out}");
        for stage in ["deps", "build"] {
            let st = format!("dockroute-stage/{marker}:{stage}");
            assert!(image_exists(&host, &st), "{st}: {}", stderr(&o));
        }
        let mut inspect = docker_at(&host);
        inspect.args(["image", "inspect", "-f", "{{.Id}}", &tag]);
        let o = run(inspect);
        ok(&o);
        assert_eq!(
            stdout(&o).trim_end(),
            id.trim_end(),
            "--iidfile names the build's image, not a stage's"
        );
    });
}

/// A compose project in a Bitbucket step: each service's build is routed as its `docker
/// build` is, and so is warm too — its image, brought back by the docker cache, is looked
/// up and given as `--cache-from`, and the rebuild takes every step from the cache.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_compose_project_rebuilds_warm_after_the_docker_cache() {
    let _one = one_at_a_time();
    each_strict(|which| {
        let host = warm_daemon(which);
        let s = pipelines_step(&host);
        let config = config_with_real_compose(&s);
        let s = s.env("DOCKER_CONFIG", config);
        let marker = unique("warmc");
        let ctx = single_stage(&s, &marker);
        let tag = format!("{marker}:1");
        std::fs::write(
            ctx.join("compose.yaml"),
            format!("services:\n  app:\n    build:\n      context: .\n      network: none\n    image: {tag}\n"),
        )
        .unwrap();
        let compose_build = || {
            let mut c = s.docker();
            c.current_dir(&ctx)
                .args(["compose", "--progress", "plain", "build"]);
            let o = run(with_mounted_client(&c));
            ok(&o);
            stderr(&o)
        };
        // The service's own lines, without the `[app] ` prefix of a project's relay.
        let own = |err: &str| -> String {
            err.lines()
                .filter_map(|l| l.strip_prefix("[app] "))
                .collect::<Vec<_>>()
                .join("\n")
        };

        let first = compose_build();
        let runs = buildkit_runs(&own(&first));
        assert!(
            runs.len() == 2 && runs.iter().all(|(_, cached)| !cached),
            "the first build is cold: {runs:?}\n{first}"
        );

        docker_cache_cycle(&s, &host, &[&tag]);

        let second = compose_build();
        assert!(
            second.contains(&format!("--cache-from {tag}")),
            "the service's build takes the cache from its own image: {second}"
        );
        let runs = buildkit_runs(&own(&second));
        assert!(
            runs.len() == 2 && runs.iter().all(|(_, cached)| *cached),
            "every step CACHED after the docker cache cycle: {runs:?}\n{second}"
        );
        assert_single_stage_image(&host, &tag, &marker);
    });
}
