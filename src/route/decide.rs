//! The routing decision: a pure function from (invocation, facts) to a plan or a refusal.
//!
//! This is SPEC §2's routing table in code. It does no I/O: `explain` is `decide` plus a
//! printer, the shim is `decide` plus `exec`, and the table tests below cover it row by
//! row. Invariants:
//! - Every argument of the call reaches the chosen client unchanged, except the command
//!   words (normalised to `build` or `buildx build`) and flags this module names in a
//!   notice (dropped) or a refusal.
//! - A plan that differs from plain pass-through in program, arguments or environment
//!   carries a `reason`; the shim prints it as one line. Identical plans print nothing.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::docker::args::{BuildCall, CommandKind, Invocation};
use crate::error::{Error, Result};
use crate::route::facts::{Client, Facts, Mode, Runtime};
use crate::route::secrets::{self, Policy};

/// The route a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Untouched, to the first client.
    Pass,
    /// A legacy-era (< 23) client, preferably the bind-mounted one, runs `build`.
    Mounted,
    /// The first client's legacy builder (`DOCKER_BUILDKIT=0`).
    Legacy,
    /// A client with buildx runs `buildx build` (or compose runs with BuildKit).
    Buildx,
}

impl Route {
    /// The route's name as printed.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Route::Pass => "pass",
            Route::Mounted => "mounted",
            Route::Legacy => "legacy",
            Route::Buildx => "buildx",
        }
    }
}

/// What to run. `argv[0]` is `program`, so docker CLI plugins call back the real client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The route.
    pub route: Route,
    /// The client to exec, absolute.
    pub program: PathBuf,
    /// Its full argument vector, argv\[0\] included.
    pub argv: Vec<OsString>,
    /// Environment variables to set.
    pub env_set: Vec<(String, String)>,
    /// Environment variables to remove.
    pub env_unset: Vec<String>,
    /// Why this route, in the runtime's own words; empty for plain pass-through.
    pub reason: String,
    /// One line each: flags dropped, variables removed, warnings.
    pub notices: Vec<String>,
    /// Commands to run after `argv` succeeds (the `--push` emulation), each a full argv
    /// for the same program and environment.
    pub then: Vec<Vec<OsString>>,
    /// The chosen client's version, for the log line.
    pub client: String,
    /// Whether the plan differs from plain pass-through (program, argv, environment or
    /// follow-ups); only then does the shim print the reroute line.
    pub changed: bool,
    /// The command as it will run (`build`, `buildx build`, `compose`), for the log line.
    pub command: String,
}

impl Plan {
    /// Whether this plan changes anything compared with plain pass-through.
    #[must_use]
    pub fn is_reroute(&self) -> bool {
        self.changed
    }
}

/// Decides what to run. `facts.clients` must not be empty (discovery fails first).
pub fn decide(inv: &Invocation, facts: &Facts) -> Result<Plan> {
    let secret_args = match (inv.build_call(), facts.secrets.policy) {
        (Some(call), Policy::Warn | Policy::Deny) => {
            secrets::secret_build_args(&call, &facts.secrets.extra_words)
        }
        _ => Vec::new(),
    };
    if facts.secrets.policy == Policy::Deny && !secret_args.is_empty() {
        return Err(Error::Refused {
            flag: format!("--build-arg {}", secret_args.join(", ")),
            why: "DOCKROUTE_SECRETS=deny: a build argument's value is stored in the image history and config and in uploaded layer caches".into(),
            fix: format!(
                "pass it with `--secret id={0},env={0}` and read it in a `RUN --mount=type=secret,id={0}` step",
                secret_args[0]
            ),
        });
    }
    let mut plan = choose(inv, facts)?;
    if !secret_args.is_empty() {
        plan.notices.push(secrets::warning(&secret_args));
    }
    plan.changed = plan.route != Route::Pass
        && (plan.argv.len() != inv.args.len() + 1
            || plan.argv[1..] != inv.args[..]
            || facts.clients.first().map(|c| &c.path) != Some(&plan.program)
            || !plan.env_set.is_empty()
            || !plan.env_unset.is_empty()
            || !plan.then.is_empty());
    Ok(plan)
}

fn choose(inv: &Invocation, facts: &Facts) -> Result<Plan> {
    let first = facts.clients.first().ok_or_else(|| Error::NoClient {
        searched: Vec::new(),
        ignored: Vec::new(),
    })?;
    let pass = || pass_plan(inv, first);
    match inv.kind {
        CommandKind::Other => Ok(pass()),
        CommandKind::Compose => Ok(compose(inv, facts, first).unwrap_or_else(pass)),
        CommandKind::Build(_) => {
            let call = inv.build_call().unwrap_or_default();
            let target = match facts.mode {
                Mode::Pass => None,
                Mode::Mounted => Some(Route::Mounted),
                Mode::Legacy => Some(Route::Legacy),
                Mode::Buildx => Some(Route::Buildx),
                Mode::Daemonless | Mode::Remote => None,
                Mode::Auto => match &facts.runtime {
                    Some(Runtime::Restricted { .. }) => {
                        Some(if legacy_era_client(&facts.clients).is_some() {
                            Route::Mounted
                        } else {
                            Route::Legacy
                        })
                    }
                    Some(Runtime::V3 { .. }) => Some(Route::Buildx),
                    _ => None,
                },
            };
            let reason = reason_for(facts);
            let plan = match target {
                None => return Ok(pass()),
                Some(Route::Mounted) => {
                    let client = legacy_era_client(&facts.clients).ok_or_else(|| Error::Refused {
                        flag: "DOCKROUTE_MODE=mounted".into(),
                        why: "no Docker client older than 23 was found on PATH".into(),
                        fix: "put a v20.10 client on PATH (Pipelines mounts one at /usr/bin/docker) or unset DOCKROUTE_MODE".into(),
                    })?;
                    mounted(inv, &call, facts, client, reason)?
                }
                Some(Route::Legacy) => legacy(inv, &call, first, reason)?,
                Some(Route::Buildx) => match facts.clients.iter().find(|c| c.buildx) {
                    Some(client) => buildx(inv, &call, facts, client, reason),
                    None if facts.mode == Mode::Buildx => {
                        return Err(Error::Refused {
                            flag: "DOCKROUTE_MODE=buildx".into(),
                            why: "no client on PATH has the buildx plugin".into(),
                            fix: "install docker-buildx into a CLI plugin directory (e.g. /usr/local/lib/docker/cli-plugins) or unset DOCKROUTE_MODE".into(),
                        })
                    }
                    None => {
                        let mut p = pass();
                        p.notices.push(format!(
                            "{reason}, but no client on PATH has the buildx plugin: passing `{}` through unchanged; install docker-buildx (e.g. into /usr/local/lib/docker/cli-plugins) to build with BuildKit",
                            command_words(inv)
                        ));
                        p
                    }
                },
                Some(Route::Pass) => pass(),
            };
            Ok(plan)
        }
    }
}

/// The first client older than 23, preferring a bind-mounted one.
fn legacy_era_client(clients: &[Client]) -> Option<&Client> {
    clients
        .iter()
        .find(|c| c.legacy_era() && c.mounted)
        .or_else(|| clients.iter().find(|c| c.legacy_era()))
}

fn reason_for(facts: &Facts) -> String {
    if facts.mode != Mode::Auto {
        return format!("DOCKROUTE_MODE={}", mode_name(facts.mode));
    }
    facts
        .runtime
        .as_ref()
        .map_or_else(String::new, |r| r.why().to_string())
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Auto => "auto",
        Mode::Pass => "pass",
        Mode::Mounted => "mounted",
        Mode::Legacy => "legacy",
        Mode::Buildx => "buildx",
        Mode::Daemonless => "daemonless",
        Mode::Remote => "remote",
    }
}

fn command_words(inv: &Invocation) -> String {
    inv.args[inv.command_at..inv.rest_at]
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn pass_plan(inv: &Invocation, client: &Client) -> Plan {
    let mut argv = Vec::with_capacity(inv.args.len() + 1);
    argv.push(client.path.clone().into_os_string());
    argv.extend(inv.args.iter().cloned());
    Plan {
        route: Route::Pass,
        program: client.path.clone(),
        argv,
        env_set: Vec::new(),
        env_unset: Vec::new(),
        reason: String::new(),
        notices: Vec::new(),
        then: Vec::new(),
        client: client.describe(),
        changed: false,
        command: inv.args[inv.command_at.min(inv.args.len())..inv.rest_at.min(inv.args.len())]
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Flags only buildx has, which no v20.10 `docker build` nor the legacy builder can do.
const BUILDX_ONLY: &[(&str, &str)] = &[
    ("cache-to", "exporting a build cache needs buildx"),
    ("build-context", "named build contexts need buildx"),
    ("attest", "attestations need buildx"),
    ("sbom", "SBOM attestations need buildx"),
    ("provenance", "provenance attestations need buildx"),
    ("annotation", "annotations need buildx"),
    ("call", "build checks (`--call`) need buildx"),
    ("check", "build checks (`--check`) need buildx"),
    ("allow", "entitlements (`--allow`) need buildx"),
    ("no-cache-filter", "`--no-cache-filter` needs buildx"),
    ("metadata-file", "`--metadata-file` needs buildx"),
];

/// Flags that need BuildKit: with a v20.10 client they turn on `DOCKER_BUILDKIT=1`; with
/// the legacy builder they are refused.
const NEEDS_BUILDKIT: &[(&str, &str)] = &[
    (
        "secret",
        "build secrets (`RUN --mount=type=secret`) need BuildKit",
    ),
    ("ssh", "SSH agent forwarding needs BuildKit"),
    ("output", "custom outputs need BuildKit"),
];

const V3_FIX: &str =
    "run the step on Bitbucket runtime v3 (`runtime: cloud: version: \"3\"`), where buildx works";
const MOUNTED_FIX: &str = "put a Docker CLI v20.10 on PATH (Pipelines mounts one at /usr/bin/docker when the step has the docker service) so dockroute can build with the daemon's BuildKit";

fn refuse(flag: &str, why: &str, fix: String) -> Error {
    Error::Refused {
        flag: format!("--{flag}"),
        why: why.to_string(),
        fix,
    }
}

/// Argument editing shared by the mounted and legacy routes.
struct Edit<'a> {
    inv: &'a Invocation,
    drop: Vec<std::ops::Range<usize>>,
    notices: Vec<String>,
}

impl<'a> Edit<'a> {
    fn new(inv: &'a Invocation) -> Self {
        Edit {
            inv,
            drop: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn drop_flag(&mut self, call: &BuildCall, flag: &str, why: &str) {
        let uses: Vec<_> = call.all(flag).collect();
        if uses.is_empty() {
            return;
        }
        self.drop.extend(uses.iter().map(|u| u.span.clone()));
        self.notices.push(format!("dropped --{flag}: {why}"));
    }

    /// `[program, globals…, words…, rest without dropped spans]`.
    fn argv(&self, program: &Path, words: &[&str]) -> Vec<OsString> {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(self.inv.global_args().iter().cloned());
        argv.extend(words.iter().map(OsString::from));
        argv.extend(
            (self.inv.rest_at..self.inv.args.len())
                .filter(|i| !self.drop.iter().any(|r| r.contains(i)))
                .map(|i| self.inv.args[i].clone()),
        );
        argv
    }
}

/// `--push` emulated: build, then `docker push` each tag with the same global flags.
fn push_emulation(
    inv: &Invocation,
    call: &BuildCall,
    edit: &mut Edit<'_>,
    program: &Path,
) -> Result<Vec<Vec<OsString>>> {
    if !call.has("push") {
        return Ok(Vec::new());
    }
    let tags: Vec<OsString> = call.all("tag").filter_map(|f| f.value.clone()).collect();
    if tags.is_empty() {
        return Err(refuse(
            "push",
            "there is no `-t/--tag` to push",
            "add `-t registry/name:tag`".into(),
        ));
    }
    edit.drop.extend(call.all("push").map(|u| u.span.clone()));
    edit.notices.push(format!(
        "--push emulated: build, then `docker push` {}",
        tags.iter()
            .map(|t| t.to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(tags
        .into_iter()
        .map(|t| {
            let mut argv = vec![program.as_os_str().to_owned()];
            argv.extend(inv.global_args().iter().cloned());
            argv.push("push".into());
            argv.push(t);
            argv
        })
        .collect())
}

fn refuse_buildx_only(call: &BuildCall, fix: &str) -> Result<()> {
    for (flag, why) in BUILDX_ONLY {
        if call.has(flag) {
            return Err(refuse(flag, why, fix.to_string()));
        }
    }
    if call.platform_count() > 1 {
        return Err(refuse(
            "platform",
            "several platforms in one build need buildx",
            fix.to_string(),
        ));
    }
    Ok(())
}

fn mounted(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    client: &Client,
    reason: String,
) -> Result<Plan> {
    refuse_buildx_only(call, V3_FIX)?;
    let mut edit = Edit::new(inv);
    edit.drop_flag(
        call,
        "load",
        "the v20.10 client loads the built image into the daemon anyway",
    );
    edit.drop_flag(
        call,
        "builder",
        "the v20.10 client builds with the daemon's own builder",
    );
    let then = push_emulation(inv, call, &mut edit, &client.path)?;
    let needs_buildkit = NEEDS_BUILDKIT
        .iter()
        .map(|(f, _)| *f)
        .chain(["progress"])
        .find(|f| call.has(f));
    let mut env_set = Vec::new();
    match (needs_buildkit, facts.env.buildkit()) {
        (Some(_), None) => env_set.push(("DOCKER_BUILDKIT".into(), "1".into())),
        (Some(flag), Some(false)) => edit.notices.push(format!(
            "--{flag} needs BuildKit, but DOCKER_BUILDKIT=0 is set in the environment and was kept; unset it to use the daemon's BuildKit"
        )),
        _ => {}
    }
    Ok(Plan {
        route: Route::Mounted,
        argv: edit.argv(&client.path, &["build"]),
        program: client.path.clone(),
        env_set,
        env_unset: Vec::new(),
        reason,
        notices: edit.notices,
        then,
        client: client.describe(),
        command: "build".into(),
        changed: false,
    })
}

fn legacy(inv: &Invocation, call: &BuildCall, first: &Client, reason: String) -> Result<Plan> {
    let fix = format!("{MOUNTED_FIX}, or {V3_FIX}");
    for (flag, why) in NEEDS_BUILDKIT {
        if call.has(flag) {
            return Err(refuse(
                flag,
                &format!("{why}, and the only builder this runtime allows here is the legacy one"),
                fix,
            ));
        }
    }
    refuse_buildx_only(call, &fix)?;
    let mut edit = Edit::new(inv);
    edit.drop_flag(call, "progress", "the legacy builder has no progress modes");
    edit.drop_flag(
        call,
        "load",
        "the legacy builder always loads the image into the daemon",
    );
    edit.drop_flag(call, "builder", "the legacy builder is the daemon's own");
    let then = push_emulation(inv, call, &mut edit, &first.path)?;
    Ok(Plan {
        route: Route::Legacy,
        argv: edit.argv(&first.path, &["build"]),
        program: first.path.clone(),
        env_set: vec![("DOCKER_BUILDKIT".into(), "0".into())],
        env_unset: Vec::new(),
        reason,
        notices: edit.notices,
        then,
        client: first.describe(),
        command: "build".into(),
        changed: false,
    })
}

fn unset_inherited_off(facts: &Facts, notices: &mut Vec<String>) -> Vec<String> {
    if facts.env.buildkit() == Some(false) {
        notices.push(
            "removed the inherited DOCKER_BUILDKIT=0 (a leftover from runtime v2?): this runtime allows BuildKit"
                .into(),
        );
        vec!["DOCKER_BUILDKIT".into()]
    } else {
        Vec::new()
    }
}

fn buildx(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    client: &Client,
    reason: String,
) -> Plan {
    let mut notices = Vec::new();
    let env_unset = unset_inherited_off(facts, &mut notices);
    let chose_output = call.has("load") || call.has("push") || call.has("output");
    let mut words = vec!["buildx", "build"];
    if !chose_output && call.platform_count() <= 1 {
        words.push("--load");
    }
    let edit = Edit::new(inv);
    Plan {
        route: Route::Buildx,
        argv: edit.argv(&client.path, &words),
        program: client.path.clone(),
        env_set: Vec::new(),
        env_unset,
        reason,
        notices,
        then: Vec::new(),
        client: client.describe(),
        command: words.join(" "),
        changed: false,
    }
}

fn compose(inv: &Invocation, facts: &Facts, first: &Client) -> Option<Plan> {
    let restricted = match facts.mode {
        Mode::Pass | Mode::Daemonless | Mode::Remote => return None,
        Mode::Mounted | Mode::Legacy => true,
        Mode::Buildx => false,
        Mode::Auto => match facts.runtime.as_ref()? {
            Runtime::Restricted { .. } => true,
            Runtime::V3 { .. } => false,
            _ => return None,
        },
    };
    let mut plan = pass_plan(inv, first);
    plan.reason = reason_for(facts);
    if restricted {
        plan.route = Route::Legacy;
        plan.env_set = vec![
            ("DOCKER_BUILDKIT".into(), "0".into()),
            ("COMPOSE_BAKE".into(), "false".into()),
        ];
    } else {
        plan.env_unset = unset_inherited_off(facts, &mut plan.notices);
        if plan.env_unset.is_empty() {
            return None;
        }
        plan.route = Route::Buildx;
    }
    Some(plan)
}

/// The environment value as the CLI would see it after the plan, for `explain`.
#[must_use]
pub fn effective_buildkit(plan: &Plan, inherited: Option<&OsStr>) -> Option<String> {
    if let Some((_, v)) = plan.env_set.iter().find(|(k, _)| k == "DOCKER_BUILDKIT") {
        return Some(v.clone());
    }
    if plan.env_unset.iter().any(|k| k == "DOCKER_BUILDKIT") {
        return None;
    }
    inherited.map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::facts::BuildEnv;
    use semver::Version;

    const NEW: &str = "/usr/local/bin/docker";
    const OLD: &str = "/usr/bin/docker";

    fn client(path: &str, major: u64, mounted: bool, buildx: bool) -> Client {
        Client {
            path: path.into(),
            version: Some(Version::new(major, 10, 24)),
            problem: None,
            mounted,
            buildx,
        }
    }

    fn v2_clients() -> Vec<Client> {
        vec![client(NEW, 28, false, false), client(OLD, 20, true, false)]
    }

    fn denied() -> Runtime {
        Runtime::Restricted {
            why: "authorization denied by plugin pipelines: --privileged=true is not allowed"
                .into(),
        }
    }

    fn v3() -> Runtime {
        Runtime::V3 {
            why: "Bitbucket runtime v3".into(),
        }
    }

    fn facts(clients: Vec<Client>, runtime: Option<Runtime>) -> Facts {
        Facts {
            clients,
            runtime,
            env: BuildEnv::default(),
            mode: Mode::Auto,
            secrets: secrets::Guard::default(),
        }
    }

    fn run(args: &[&str], f: &Facts) -> Result<Plan> {
        decide(
            &Invocation::parse(args.iter().map(OsString::from).collect()),
            f,
        )
    }

    fn argv(p: &Plan) -> Vec<String> {
        p.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn env(p: &Plan) -> Vec<(&str, &str)> {
        p.env_set
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn other_commands_pass_through_untouched_whatever_the_runtime() {
        for rt in [Some(denied()), Some(v3()), None] {
            let p = run(
                &["run", "--privileged", "busybox"],
                &facts(v2_clients(), rt),
            )
            .unwrap();
            assert_eq!(p.route, Route::Pass);
            assert_eq!(argv(&p), [NEW, "run", "--privileged", "busybox"]);
            assert!(p.env_set.is_empty() && p.notices.is_empty() && !p.is_reroute());
        }
    }

    #[test]
    fn restricted_build_goes_to_the_mounted_legacy_era_client() {
        let f = facts(v2_clients(), Some(denied()));
        for words in [
            &["build"][..],
            &["image", "build"],
            &["builder", "build"],
            &["buildx", "build"],
            &["buildx", "b"],
        ] {
            let mut args = vec!["-H", "tcp://localhost:2375"];
            args.extend_from_slice(words);
            args.extend_from_slice(&["-t", "x", "."]);
            let p = run(&args, &f).unwrap();
            assert_eq!(p.route, Route::Mounted, "{words:?}");
            assert_eq!(
                argv(&p),
                [OLD, "-H", "tcp://localhost:2375", "build", "-t", "x", "."]
            );
            assert!(
                p.env_set.is_empty(),
                "plain builds keep the client's default builder"
            );
            assert!(p.reason.contains("--privileged=true is not allowed"));
        }
    }

    #[test]
    fn restricted_mounted_prefers_the_bind_mounted_client() {
        let clients = vec![
            client(NEW, 28, false, false),
            client("/opt/old/docker", 19, false, false),
            client(OLD, 20, true, false),
        ];
        let p = run(&["build", "."], &facts(clients, Some(denied()))).unwrap();
        assert_eq!(p.program, PathBuf::from(OLD));
        let clients = vec![
            client(NEW, 28, false, false),
            client("/opt/old/docker", 19, false, false),
        ];
        let p = run(&["build", "."], &facts(clients, Some(denied()))).unwrap();
        assert_eq!(p.program, PathBuf::from("/opt/old/docker"));
    }

    #[test]
    fn restricted_mounted_turns_buildkit_on_only_when_the_call_needs_it() {
        let f = facts(v2_clients(), Some(denied()));
        for flag in [
            "--secret=id=a,src=f",
            "--ssh=default",
            "--output=type=local,dest=o",
            "--progress=plain",
        ] {
            let p = run(&["build", flag, "."], &f).unwrap();
            assert_eq!(env(&p), [("DOCKER_BUILDKIT", "1")], "{flag}");
            assert_eq!(argv(&p), [OLD, "build", flag, "."]);
        }
        let mut f2 = f.clone();
        f2.env.docker_buildkit = Some("0".into());
        let p = run(&["build", "--secret", "id=a", "."], &f2).unwrap();
        assert!(p.env_set.is_empty());
        assert!(p.notices[0].contains("DOCKER_BUILDKIT=0"));
    }

    #[test]
    fn restricted_mounted_drops_load_emulates_push_refuses_buildx_only() {
        let f = facts(v2_clients(), Some(denied()));
        let p = run(
            &[
                "buildx", "build", "--load", "-t", "r/a:1", "--push", "-t", "r/a:2", ".",
            ],
            &f,
        )
        .unwrap();
        assert_eq!(argv(&p), [OLD, "build", "-t", "r/a:1", "-t", "r/a:2", "."]);
        assert_eq!(p.then.len(), 2);
        assert_eq!(
            p.then[1]
                .iter()
                .map(|a| a.to_str().unwrap())
                .collect::<Vec<_>>(),
            [OLD, "push", "r/a:2"]
        );
        assert!(p.notices.iter().any(|n| n.contains("--load")));
        for flag in [
            "--cache-to=type=local,dest=c",
            "--build-context=a=b",
            "--attest=type=sbom",
            "--sbom=true",
            "--provenance=true",
        ] {
            let e = run(&["build", flag, "."], &f).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{flag}");
        }
        let e = run(&["build", "--platform", "linux/amd64,linux/arm64", "."], &f).unwrap_err();
        assert!(e.to_string().contains("--platform"));
        assert!(run(&["build", "--platform", "linux/amd64", "."], &f).is_ok());
        let e = run(&["build", "--push", "."], &f).unwrap_err();
        assert!(e.to_string().contains("--push"));
    }

    #[test]
    fn restricted_without_a_legacy_era_client_uses_the_legacy_builder() {
        let f = facts(vec![client(NEW, 28, false, false)], Some(denied()));
        let p = run(
            &[
                "-D",
                "build",
                "--progress",
                "plain",
                "--load",
                "-t",
                "a",
                ".",
            ],
            &f,
        )
        .unwrap();
        assert_eq!(p.route, Route::Legacy);
        assert_eq!(argv(&p), [NEW, "-D", "build", "-t", "a", "."]);
        assert_eq!(env(&p), [("DOCKER_BUILDKIT", "0")]);
        assert_eq!(p.notices.len(), 2);
        for args in [
            &["build", "--secret", "id=x", "."][..],
            &["build", "--ssh", "default", "."],
            &["build", "-o", "out", "."],
            &["build", "--output=type=tar,dest=x", "."],
            &["build", "--cache-to", "type=inline", "."],
            &["build", "--platform=linux/amd64,linux/arm64", "."],
            &["build", "--build-context", "a=b", "."],
            &["build", "--attest", "type=provenance", "."],
            &["build", "--sbom=true", "."],
            &["build", "--provenance=mode=max", "."],
        ] {
            let e = run(args, &f).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.hint().unwrap().contains("v20.10"), "{args:?}");
        }
        let p = run(&["build", "--push", "-t", "127.0.0.1:5000/a", "."], &f).unwrap();
        assert_eq!(argv(&p), [NEW, "build", "-t", "127.0.0.1:5000/a", "."]);
        assert_eq!(p.then.len(), 1);
    }

    #[test]
    fn restricted_compose_disables_buildkit_and_bake() {
        let p = run(
            &["compose", "up", "--build"],
            &facts(v2_clients(), Some(denied())),
        )
        .unwrap();
        assert_eq!(argv(&p), [NEW, "compose", "up", "--build"]);
        assert_eq!(
            env(&p),
            [("DOCKER_BUILDKIT", "0"), ("COMPOSE_BAKE", "false")]
        );
        assert!(p.is_reroute());
    }

    #[test]
    fn v3_build_goes_to_buildx_with_load() {
        let clients = vec![client(NEW, 28, false, true)];
        let mut f = facts(clients, Some(v3()));
        f.env.docker_buildkit = Some("0".into());
        let p = run(&["build", "-t", "x", "."], &f).unwrap();
        assert_eq!(p.route, Route::Buildx);
        assert_eq!(argv(&p), [NEW, "buildx", "build", "--load", "-t", "x", "."]);
        assert_eq!(p.env_unset, ["DOCKER_BUILDKIT"]);
        assert_eq!(p.notices.len(), 1);
        for args in [
            &["build", "--push", "-t", "x", "."][..],
            &["build", "--load", "."],
            &["build", "-o", "type=local,dest=o", "."],
            &["build", "--platform", "linux/amd64,linux/arm64", "."],
        ] {
            let p = run(args, &f).unwrap();
            assert!(
                !argv(&p).contains(&"--load".to_string()) || args.contains(&"--load"),
                "{args:?}"
            );
            assert_eq!(argv(&p)[1..3], ["buildx", "build"]);
        }
    }

    #[test]
    fn v3_build_picks_the_first_client_with_buildx_and_warns_without_one() {
        let clients = vec![
            client(NEW, 28, false, false),
            client("/opt/docker", 27, false, true),
        ];
        let p = run(&["build", "."], &facts(clients, Some(v3()))).unwrap();
        assert_eq!(p.program, PathBuf::from("/opt/docker"));
        let p = run(
            &["build", "."],
            &facts(vec![client(NEW, 28, false, false)], Some(v3())),
        )
        .unwrap();
        assert_eq!(p.route, Route::Pass);
        assert!(p.notices[0].contains("buildx"));
    }

    #[test]
    fn v3_compose_only_removes_an_inherited_off_switch() {
        let mut f = facts(vec![client(NEW, 28, false, true)], Some(v3()));
        assert_eq!(run(&["compose", "build"], &f).unwrap().route, Route::Pass);
        f.env.docker_buildkit = Some("false".into());
        let p = run(&["compose", "build"], &f).unwrap();
        assert_eq!(p.env_unset, ["DOCKER_BUILDKIT"]);
        assert_eq!(argv(&p), [NEW, "compose", "build"]);
    }

    #[test]
    fn open_unknown_and_no_daemon_change_nothing() {
        for rt in [
            Runtime::Open {
                why: "allowed".into(),
            },
            Runtime::Unknown {
                why: "timeout".into(),
            },
            Runtime::NoDaemon {
                why: "refused".into(),
            },
        ] {
            let f = facts(v2_clients(), Some(rt));
            for args in [
                &["build", "."][..],
                &["compose", "up"],
                &["buildx", "build", "."],
            ] {
                let p = run(args, &f).unwrap();
                assert_eq!(p.route, Route::Pass);
                assert_eq!(argv(&p)[1..], args[..]);
            }
        }
    }

    #[test]
    fn modes_force_a_route() {
        let mut f = facts(
            vec![client(NEW, 28, false, true), client(OLD, 20, true, false)],
            Some(v3()),
        );
        f.mode = Mode::Pass;
        assert_eq!(run(&["build", "."], &f).unwrap().route, Route::Pass);
        f.mode = Mode::Mounted;
        assert_eq!(
            run(&["build", "."], &f).unwrap().program,
            PathBuf::from(OLD)
        );
        f.mode = Mode::Legacy;
        assert_eq!(run(&["build", "."], &f).unwrap().route, Route::Legacy);
        f.mode = Mode::Buildx;
        f.runtime = Some(denied());
        assert_eq!(run(&["build", "."], &f).unwrap().route, Route::Buildx);
        f.clients = vec![client(NEW, 28, false, false)];
        assert_eq!(run(&["build", "."], &f).unwrap_err().exit_code(), 2);
        f.mode = Mode::Mounted;
        assert_eq!(run(&["build", "."], &f).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn a_legacy_era_first_client_is_still_the_mounted_route() {
        let f = facts(vec![client(OLD, 20, true, false)], Some(denied()));
        let p = run(&["build", "."], &f).unwrap();
        assert_eq!(argv(&p), [OLD, "build", "."]);
        assert!(!p.is_reroute(), "nothing changed, so nothing is announced");
        assert!(run(&["build", "--progress=plain", "."], &f)
            .unwrap()
            .is_reroute());
    }

    #[test]
    fn secret_build_args_warn_on_every_route_and_deny_refuses() {
        let mut f = facts(v2_clients(), None);
        let args = ["build", "--build-arg", "NPM_TOKEN=abc123", "."];
        let p = run(&args, &f).unwrap();
        assert_eq!(p.route, Route::Pass);
        assert!(!p.is_reroute());
        assert_eq!(p.notices.len(), 1);
        assert!(p.notices[0].contains("NPM_TOKEN") && !p.notices[0].contains("abc123"));
        f.runtime = Some(denied());
        assert!(run(&args, &f)
            .unwrap()
            .notices
            .iter()
            .any(|n| n.contains("NPM_TOKEN")));
        f.secrets.policy = Policy::Deny;
        let e = run(&args, &f).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!e.to_string().contains("abc123"));
        assert!(run(&["build", "--build-arg", "AUTHOR=me", "."], &f).is_ok());
        f.secrets.policy = Policy::Off;
        assert!(run(&args, &f).unwrap().notices.is_empty());
        assert!(run(&["run", "-e", "NPM_TOKEN=x", "busybox"], &f)
            .unwrap()
            .notices
            .is_empty());
    }
}
