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
    for field in [
        "route",
        "program",
        "argv",
        "env_set",
        "env_unset",
        "reason",
        "notices",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["route"], "mounted");
    assert_eq!(v["program"], DOCKER20);
    assert_eq!(
        v["argv"],
        serde_json::json!([DOCKER20, "build", "--progress=plain", "-t", "x", "."])
    );
    assert_eq!(v["env_set"]["DOCKER_BUILDKIT"], "1");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "ps"]);
    let v: serde_json::Value = serde_json::from_slice(&run(c).stdout).unwrap();
    assert_eq!(v["route"], "pass");
    assert_eq!(v["argv"], serde_json::json!([DOCKER28, "ps"]));
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
