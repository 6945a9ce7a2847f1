//! dockroute's own CLI: `doctor`, `explain`, `exec`, `--version`.

use crate::support::*;

#[test]
fn doctor_lists_both_real_clients_with_versions() {
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "open");
    let mut c = s.dockroute();
    c.arg("doctor");
    let o = run(c);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("/usr/local/bin/docker") && out.contains("28."),
        "{out}"
    );
    assert!(
        out.contains("/usr/bin/docker") && out.contains("20.10.24"),
        "{out}"
    );
    assert!(out.contains("→ dockroute"), "{out}");
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let o = run(c);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clients"][0]["path"], DOCKER28);
    assert_eq!(v["clients"][1]["version"], "20.10.24");
    assert_eq!(v["docker_is_dockroute"], true);
    // docs/json.md: schema 1, the runtime flat (no runtime.runtime), every route entry
    // with its plan or refusal.
    assert_eq!(v["schema_version"], 1, "{v}");
    assert_eq!(v["runtime"]["kind"], "open", "{v}");
    assert!(v["runtime"].get("runtime").is_none(), "{v}");
    assert!(v["runtime"]["why"].is_string() && v["runtime"]["bitbucket"].is_boolean());
    let routes = v["routes"].as_array().expect("routes is an array");
    assert_eq!(routes.len(), 3, "{v}");
    for r in routes {
        assert!(r["call"].is_string() && r["plan"].is_object() && r["refused"].is_null());
    }
    assert_eq!(routes[2]["plan"]["command"], serde_json::Value::Null, "{v}");
    assert!(v["buildkit"]["route_now"].is_string() && v["buildkit"]["tls_dir"].is_null());
    assert!(v["problems"].is_array() && v["notes"].is_array() && v["settings"].is_object());
}

#[test]
fn doctor_fails_with_a_hint_when_docker_is_not_dockroute() {
    let s = Sandbox::bare().with_path(&["/usr/local/bin".into(), "/usr/bin".into()]);
    let mut c = s.dockroute();
    c.arg("doctor");
    let o = run(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("NOT dockroute") && stdout(&o).contains("ENV PATH="),
        "{}",
        stdout(&o)
    );
}

#[test]
fn explain_json_has_the_plan_fields() {
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "restricted");
    let mut c = s.dockroute();
    c.args([
        "explain",
        "--json",
        "--",
        "build",
        "--progress=plain",
        "-t",
        "x",
        ".",
    ]);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The fields and types docs/json.md gives a plan.
    type Is = fn(&serde_json::Value) -> bool;
    let string_or_null: Is = |x| x.is_string() || x.is_null();
    let object_or_null: Is = |x| x.is_object() || x.is_null();
    let fields: [(&str, Is); 19] = [
        ("schema_version", |x| x.as_u64() == Some(1)),
        ("route", serde_json::Value::is_string),
        ("command", string_or_null),
        ("program", serde_json::Value::is_string),
        ("argv", serde_json::Value::is_array),
        ("env_set", serde_json::Value::is_object),
        ("env_unset", serde_json::Value::is_array),
        ("reason", string_or_null),
        ("builder", object_or_null),
        ("notices", serde_json::Value::is_array),
        ("load", object_or_null),
        ("then", serde_json::Value::is_array),
        ("iidfile", string_or_null),
        ("prints_image_id", serde_json::Value::is_boolean),
        ("client", serde_json::Value::is_string),
        ("rerouted", serde_json::Value::is_boolean),
        ("warm", object_or_null),
        ("runtime", serde_json::Value::is_object),
        ("settings_not_understood", serde_json::Value::is_array),
    ];
    for (field, is) in fields {
        assert!(
            v.get(field).is_some_and(is),
            "{field} missing or mistyped: {v}"
        );
    }
    assert_eq!(v["command"], "build");
    assert_eq!(v["rerouted"], true);
    assert_eq!(
        v["runtime"]["kind"], "restricted",
        "flat, not runtime.runtime: {v}"
    );
    assert_eq!(v["runtime"]["source"], "pinned");
    assert_eq!(v["route"], "mounted");
    assert_eq!(v["program"], DOCKER20);
    assert_eq!(
        v["argv"],
        serde_json::json!([
            DOCKER20,
            "build",
            "--build-arg",
            "BUILDKIT_INLINE_CACHE=***",
            "--progress=plain",
            "-t",
            "x",
            "."
        ])
    );
    assert_eq!(v["env_set"]["DOCKER_BUILDKIT"], "1");
    assert_eq!(v["warm"]["inline_cache"], true, "{v}");
    assert_eq!(v["warm"]["cache_from"], serde_json::json!([]), "{v}");
    assert_eq!(v["warm"]["stage_images"], serde_json::json!([]), "{v}");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "ps"]);
    let v: serde_json::Value = serde_json::from_slice(&run(c).stdout).unwrap();
    assert_eq!(v["route"], "pass");
    assert_eq!(v["argv"], serde_json::json!([DOCKER28, "ps"]));
    // No subcommand dockroute reads: null, not "". Pass-through: no reason, no runtime.
    assert_eq!(v["command"], serde_json::Value::Null, "{v}");
    assert_eq!(v["reason"], serde_json::Value::Null, "{v}");
    assert_eq!(v["runtime"], serde_json::Value::Null, "{v}");
    assert_eq!(v["schema_version"], 1);
}

/// `dockroute explain` (text) for `docker ARGS` in the sandbox: exit 0, stdout's lines.
fn explain_text(s: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut c = s.dockroute();
    c.arg("explain").arg("--").args(args);
    let o = run(c);
    ok(&o);
    stdout(&o).lines().map(str::to_string).collect()
}

/// The 28.x client's version, as `Docker version X, build …` gives it.
fn docker28_version() -> String {
    let o = std::process::Command::new(DOCKER28)
        .arg("--version")
        .output()
        .unwrap();
    ok(&o);
    let out = stdout(&o);
    out.strip_prefix("Docker version ")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected --version output: {out}"))
        .to_string()
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn explain_prints_the_route_program_argv_and_environment() {
    let v28 = docker28_version();

    // Restricted, with the 20.10 client on PATH: the mounted client, BuildKit on.
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "restricted");
    assert_eq!(
        explain_text(&s, &["build", "--progress=plain", "-t", "x", "."]),
        [
            "`docker build --progress=plain -t x .` would run as \
             `/usr/bin/docker build --build-arg BUILDKIT_INLINE_CACHE=*** --progress=plain -t x .` (route mounted, client 20.10.24).",
            "  builder: the daemon's embedded BuildKit — `--progress` needs BuildKit",
            "  warm rebuild (Bitbucket's docker cache; DOCKROUTE_WARM=off turns it off): \
             BUILDKIT_INLINE_CACHE=1 (no --cache-from: the daemon did not answer the image lookup \
             (No such file or directory (os error 2)))",
            "  environment: DOCKER_BUILDKIT=1",
            "  because: DOCKROUTE_RUNTIME=restricted",
        ]
    );

    // Restricted, modern client only: the legacy builder, a dropped flag, --push emulated.
    let modern = Sandbox::bare();
    let shim = modern.shim_dir();
    let modern = modern
        .with_path(&[shim, "/usr/local/bin".into()])
        .env("DOCKROUTE_RUNTIME", "restricted");
    assert_eq!(
        explain_text(
            &modern,
            &["build", "--progress=plain", "--push", "-t", "x", "."]
        ),
        [
            format!(
                "`docker build --progress=plain --push -t x .` would run as \
                 `{DOCKER28} build -t x .` (route legacy, client {v28})."
            ),
            "  builder: the legacy builder — no Docker CLI < 23 on PATH to reach the daemon's BuildKit, and buildx cannot run here".into(),
            "  warm rebuild (Bitbucket's docker cache; DOCKROUTE_WARM=off turns it off): nothing added \
             (no --cache-from: the daemon did not answer the image lookup (No such file or directory (os error 2)))".into(),
            "  environment: DOCKER_BUILDKIT=0".into(),
            format!("  then: `{DOCKER28} push x`"),
            "  because: DOCKROUTE_RUNTIME=restricted".into(),
            "  note: dropped --progress: the legacy builder has no progress modes".into(),
            "  note: --push emulated: build, then `docker push` x".into(),
        ]
    );

    // Runtime v3 with buildx: `buildx build --load`, the inherited off switch removed.
    let config = config_with_real_buildx(&s);
    let v3 = Sandbox::new()
        .env("DOCKROUTE_RUNTIME", "v3")
        .env("BITBUCKET_BUILD_NUMBER", "42")
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_CONFIG", &config);
    let lines = explain_text(&v3, &["build", "-t", "x", "."]);
    assert_eq!(
        lines[..4],
        [
            format!(
                "`docker build -t x .` would run as \
                 `{DOCKER28} buildx build --load -t x .` (route buildx, client {v28})."
            ),
            "  builder: BuildKit through buildx — this runtime allows buildx's privileged BuildKit"
                .into(),
            "  environment: DOCKER_BUILDKIT removed".into(),
            "  because: DOCKROUTE_RUNTIME=v3".into(),
        ],
        "{lines:#?}"
    );
    assert!(
        lines[4..]
            .iter()
            .any(|l| l.starts_with("  note: removed the inherited DOCKER_BUILDKIT=0")),
        "{lines:#?}"
    );

    // Probed: the reason is the daemon's own words, on either strict daemon.
    for which in STRICT {
        let probed = Sandbox::new().env("DOCKER_HOST", daemon(which));
        // A tag no test builds, so the daemon has none of it.
        let tag = unique("explain-probed");
        let lines = explain_text(&probed, &["build", "-t", &tag, "."]);
        assert_eq!(
        lines,
        [
            format!("`docker build -t {tag} .` would run as `/usr/bin/docker build \
             --build-arg BUILDKIT_INLINE_CACHE=*** -t {tag} .` (route mounted, client 20.10.24)."),
            format!(
                "  builder: the daemon's embedded BuildKit — the first `docker` on PATH \
                 ({DOCKER28}, {v28}) is a CLI ≥ 23, whose default builder is BuildKit"
            ),
            "  warm rebuild (Bitbucket's docker cache; DOCKROUTE_WARM=off turns it off): \
             BUILDKIT_INLINE_CACHE=1 (no tag of this build is in the daemon yet, so no --cache-from)".into(),
            "  environment: DOCKER_BUILDKIT=1".into(),
            "  because: authorization denied by plugin pipelines: --privileged=true is not allowed"
                .into(),
        ],
        "on strict daemon {which}: {lines:#?}"
    );
    }

    // Not a build: passes through, nothing probed.
    assert_eq!(
        explain_text(&s, &["ps"]),
        [format!(
            "`docker ps` passes through unchanged to {DOCKER28} ({v28}): \
             it is not a build or compose call, so nothing is probed."
        )]
    );
}

#[test]
fn exec_does_exactly_what_the_shim_does() {
    let s = Sandbox::new();
    let mut c = s.dockroute();
    c.args(["exec", "--", "--version"]);
    let o = run(c);
    ok(&o);
    assert!(stdout(&o).starts_with("Docker version 28."));
    let mut c = s.dockroute();
    c.arg("--version");
    assert!(stdout(&run(c)).starts_with("dockroute "));
}

#[test]
fn force_arg0_selects_the_shim_personality() {
    let s = Sandbox::new().env("DOCKROUTE_FORCE_ARG0", "docker");
    let mut c = s.dockroute();
    c.arg("--version");
    let o = run(c);
    ok(&o);
    assert!(
        stdout(&o).starts_with("Docker version 28."),
        "{}",
        stdout(&o)
    );
}

/// `dockroute explain` with nothing after it is a usage error that shows the form to use,
/// not an explanation of a bare `docker` call.
#[test]
fn explain_with_no_arguments_says_what_to_give() {
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "open");
    for args in [&["explain"][..], &["explain", "--json"], &["explain", "--"]] {
        let mut c = s.dockroute();
        c.args(args);
        let o = run(c);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("dockroute explain -- build ."),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}
