//! The routing decision: a pure function from (invocation, facts) to a plan or a refusal.
//!
//! This is the routing table in code. It does no I/O: `explain` is `decide` plus a
//! printer, the shim is `decide` plus exec, and the table test below covers it row by row.
//! Invariants:
//! - Every argument of the call reaches the chosen client unchanged, except the command
//!   words (normalised to `build` or `buildx build`) and flags this module names in a
//!   notice (dropped) or a refusal. BuildKit routes translate the whole call
//!   ([`crate::route::buildctl`]), refusing what they cannot translate.
//! - A build that would end on the legacy builder is checked against the Dockerfile scan
//!   first: BuildKit-only syntax is refused before anything runs, naming each line.
//! - Every build-like plan says which builder it will use and why ([`BuilderChoice`]);
//!   doctor's answer to "is BuildKit on?" is read from it.

use crate::docker::args::{BootForm, CommandKind, Invocation};
use crate::error::{Error, Result};
use crate::route::buildkit_routes::buildkit;
use crate::route::daemon_routes::{buildx, legacy, mounted, unset_inherited_off, V3_FIX};
use crate::route::facts::{Client, Facts, Runtime};
use crate::route::image_routes;
use crate::route::mode::Mode;
use crate::route::mode::Route;
use crate::route::plan::{Builder, BuilderChoice, Plan};
use crate::route::secrets::{self, Policy};

/// Decides what to run.
///
/// # Errors
/// A refusal (exit 2) naming the flag, the Dockerfile line or the setting, with the fix;
/// or no client to run at all (exit 127).
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
    Ok(plan)
}

fn no_client() -> Error {
    Error::NoClient {
        searched: Vec::new(),
        ignored: Vec::new(),
        unverified: Vec::new(),
        no_proc: false,
    }
}

fn choose(inv: &Invocation, facts: &Facts) -> Result<Plan> {
    let first = facts.clients.first();
    let pass = || first.map(|c| pass_plan(inv, c)).ok_or_else(no_client);
    match inv.kind {
        // With no client at all, `login`/`logout` are answered by dockroute itself, and
        // in a BuildKit pod a call that needs a container runtime says so (exit 125).
        CommandKind::Other => pass().or_else(|e| {
            builtin(inv).ok_or_else(|| image_routes::needs_runtime(inv, facts).unwrap_or(e))
        }),
        CommandKind::Image(op) => image_routes::decide(inv, op, facts),
        // `bake --print`/`--list` boot no builder: buildx answers them as it is.
        CommandKind::BuilderBoot(_) if crate::project::compose_call::only_shows(inv) => pass(),
        CommandKind::BuilderBoot(form) => {
            // `docker buildx bake` with its project resolved: built target by target.
            let call = builds_projects(facts)
                .then(|| crate::project::compose_call::read(inv))
                .flatten();
            if let (Some(call), Some(c)) = (call, first) {
                if let Some(plan) =
                    crate::project::plan::plan(inv, facts, &call, c, runtime_reason(facts))
                {
                    return plan;
                }
            }
            refuse_privileged_builder(inv, facts, form)?;
            pass()
        }
        CommandKind::Compose => match first {
            Some(c) => Ok(compose(inv, facts, c)?.unwrap_or_else(|| pass_plan(inv, c))),
            None => Err(image_routes::needs_runtime(inv, facts).unwrap_or_else(no_client)),
        },
        CommandKind::Build(_) => build(inv, facts),
    }
}

/// Whether a compose or bake project is built target by target through the build routes:
/// on a runtime that forbids privileged containers, or with `DOCKROUTE_MODE=mounted` or
/// `legacy`. Elsewhere compose and bake run as the user's own tools run them.
#[must_use]
pub fn builds_projects(facts: &Facts) -> bool {
    match facts.mode {
        Mode::Force(Route::Mounted | Route::Legacy) => true,
        Mode::Auto => matches!(facts.runtime, Some(Runtime::Restricted { .. })),
        Mode::Force(_) => false,
    }
}

/// The commands dockroute answers itself when there is no docker client to run them:
/// `login` and `logout` only edit the CLI's `config.json` (or a credential helper), which
/// BuildKit's `buildctl` reads for its pushes and pulls.
const BUILTIN_COMMANDS: &[&str] = &["login", "logout"];

/// The plan for a call dockroute answers itself ([`Route::Builtin`]): nothing is exec'd,
/// `argv` is the docker call as typed, after `docker`, with a `-p/--password` value
/// shown as `***` (`explain` prints it).
fn builtin(inv: &Invocation) -> Option<Plan> {
    let word = inv.args.get(inv.command_at)?;
    if !BUILTIN_COMMANDS.iter().any(|c| word == *c) {
        return None;
    }
    let mut argv: Vec<std::ffi::OsString> = Vec::with_capacity(inv.args.len() + 1);
    argv.push("docker".into());
    let mut mask_next = false;
    for (i, arg) in inv.args.iter().enumerate() {
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(arg.as_os_str());
        let after_command = i > inv.command_at;
        argv.push(if mask_next {
            mask_next = false;
            "***".into()
        } else if after_command && (bytes == b"-p" || bytes == b"--password") {
            mask_next = true;
            arg.clone()
        } else if after_command && bytes.starts_with(b"--password=") {
            "--password=***".into()
        } else if after_command && bytes.starts_with(b"-p") && bytes.len() > 2 {
            "-p***".into()
        } else {
            arg.clone()
        });
    }
    Some(Plan {
        reason: Some("no docker client on PATH".into()),
        ..Plan::new(
            Route::Builtin,
            word.to_string_lossy().into_owned(),
            std::path::PathBuf::new(),
            argv,
        )
    })
}

/// The route a build-like call takes, before looking at the call itself.
fn build_route(facts: &Facts) -> Option<Route> {
    match facts.mode {
        Mode::Force(Route::Pass) => None,
        Mode::Force(route) => Some(route),
        Mode::Auto if facts.buildkit.remote.is_some() => Some(Route::Remote),
        Mode::Auto => match &facts.runtime {
            Some(Runtime::Restricted { .. }) => {
                Some(if legacy_era_client(&facts.clients).is_some() {
                    Route::Mounted
                } else {
                    Route::Legacy
                })
            }
            Some(Runtime::V3 { .. }) => Some(Route::Buildx),
            Some(Runtime::NoDaemon { .. })
                if facts.buildkit.host.is_some() || facts.buildkit.daemonless.is_some() =>
            {
                Some(Route::Daemonless)
            }
            _ => None,
        },
    }
}

fn build(inv: &Invocation, facts: &Facts) -> Result<Plan> {
    let call = inv.build_call().unwrap_or_default();
    let first = facts.clients.first();
    let reason = reason_for(facts);
    let Some(route) = build_route(facts) else {
        let mut plan = pass_plan(inv, first.ok_or_else(no_client)?);
        plan.builder = Some(default_builder(first, facts));
        if matches!(facts.runtime, Some(Runtime::NoDaemon { .. })) && facts.mode == Mode::Auto {
            plan.notices.push(
                "no Docker daemon answers, and neither BUILDKIT_HOST nor buildctl-daemonless.sh is there to build with BuildKit instead: passing the build through unchanged (see `dockroute doctor`)"
                    .into(),
            );
        }
        return Ok(plan);
    };
    match route {
        Route::Pass | Route::Builtin | Route::Records => {
            Ok(pass_plan(inv, first.ok_or_else(no_client)?))
        }
        Route::Mounted => {
            let client = legacy_era_client(&facts.clients).ok_or_else(|| Error::Refused {
                flag: "DOCKROUTE_MODE=mounted".into(),
                why: "no Docker client older than 23 was found on PATH".into(),
                fix: "put a v20.10 client on PATH (Pipelines mounts one at /usr/bin/docker) or unset DOCKROUTE_MODE".into(),
            })?;
            mounted(inv, &call, facts, client, reason)
        }
        Route::Legacy => legacy(inv, &call, facts, first.ok_or_else(no_client)?, reason),
        Route::Buildx => match facts.clients.iter().find(|c| c.buildx) {
            Some(client) => Ok(buildx(inv, &call, facts, client, reason)),
            None if facts.mode == Mode::Force(Route::Buildx) => Err(Error::Refused {
                flag: "DOCKROUTE_MODE=buildx".into(),
                why: "no client on PATH has the buildx plugin".into(),
                fix: "install docker-buildx into a CLI plugin directory (e.g. /usr/local/lib/docker/cli-plugins) or unset DOCKROUTE_MODE".into(),
            }),
            None => {
                let mut p = pass_plan(inv, first.ok_or_else(no_client)?);
                p.builder = Some(default_builder(first, facts));
                p.notices.push(format!(
                    "{}, but no client on PATH has the buildx plugin: passing `{}` through unchanged; install docker-buildx (e.g. into /usr/local/lib/docker/cli-plugins) to build with BuildKit",
                    reason.as_deref().unwrap_or("this runtime allows buildx"),
                    command_words(inv)
                ));
                Ok(p)
            }
        },
        Route::Daemonless | Route::Remote => buildkit(inv, &call, facts, route, reason),
    }
}

/// The first client older than 23, preferring a bind-mounted one.
pub(super) fn legacy_era_client(clients: &[Client]) -> Option<&Client> {
    clients
        .iter()
        .find(|c| c.legacy_era() && c.mounted)
        .or_else(|| clients.iter().find(|c| c.legacy_era()))
}

/// Why a build goes where it goes: a forced mode, the shared BuildKit, or the runtime.
pub(super) fn reason_for(facts: &Facts) -> Option<String> {
    match &facts.buildkit.remote {
        Some(addr) if facts.mode == Mode::Auto => Some(format!("DOCKROUTE_BUILDKIT_HOST={addr}")),
        _ => runtime_reason(facts),
    }
}

/// Why a call that is not a build (compose, buildx's builder commands) goes where it
/// goes: a forced mode or the runtime (the shared BuildKit only takes builds).
fn runtime_reason(facts: &Facts) -> Option<String> {
    if facts.mode != Mode::Auto {
        return Some(format!("DOCKROUTE_MODE={}", facts.mode.name()));
    }
    facts.runtime.as_ref().map(|r| r.why().to_string())
}

pub(super) fn command_words(inv: &Invocation) -> String {
    let end = inv.rest_at.min(inv.args.len());
    inv.args[inv.command_at.min(end)..end]
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Plain pass-through of `inv` to `client` (the shim's hot path).
#[must_use]
pub fn pass_plan_for(inv: &Invocation, client: &Client) -> Plan {
    pass_plan(inv, client)
}

pub(super) fn pass_plan(inv: &Invocation, client: &Client) -> Plan {
    let mut argv = Vec::with_capacity(inv.args.len() + 1);
    argv.push(client.path.clone().into_os_string());
    argv.extend(inv.args.iter().cloned());
    Plan {
        client: Some(client.clone()),
        ..Plan::new(Route::Pass, command_words(inv), client.path.clone(), argv)
    }
}

/// The builder `docker build` gets from this client with the inherited environment.
fn default_builder(client: Option<&Client>, facts: &Facts) -> BuilderChoice {
    let modern = client.is_some_and(Client::buildx_era);
    let buildx = client.is_some_and(|c| c.buildx);
    let (builder, why) = match (facts.env.buildkit(), modern, buildx) {
        (Some(false), _, _) => (Some(Builder::Legacy), "DOCKER_BUILDKIT=0 is set".to_string()),
        (Some(true), true, false) => (
            None,
            "DOCKER_BUILDKIT=1 but this CLI ≥ 23 has no buildx plugin: it refuses to build".into(),
        ),
        (_, true, true) => (Some(Builder::Buildx), "the client's default (CLI ≥ 23 with buildx)".into()),
        (Some(true), false, _) => (
            Some(Builder::DaemonBuildKit),
            "DOCKER_BUILDKIT=1 is set".into(),
        ),
        (None, true, false) => (
            Some(Builder::Legacy),
            "this CLI ≥ 23 has no buildx plugin, so it falls back to the legacy builder".into(),
        ),
        (None, false, _) => (
            Some(Builder::Legacy),
            "the client's default (a CLI < 23 builds with the legacy builder unless DOCKER_BUILDKIT=1)".into(),
        ),
    };
    BuilderChoice {
        builder,
        why,
        set_by_route: false,
    }
}

/// buildx commands that start a `docker-container` builder, which needs a privileged
/// container: on a runtime that forbids those they end in the daemon's denial after
/// pulling an image, so they are refused up front.
fn refuse_privileged_builder(inv: &Invocation, facts: &Facts, form: BootForm) -> Result<()> {
    let restricted = match facts.mode {
        Mode::Force(Route::Mounted) | Mode::Force(Route::Legacy) => true,
        Mode::Auto => matches!(facts.runtime, Some(Runtime::Restricted { .. })),
        _ => false,
    };
    if !restricted {
        return Ok(());
    }
    let what = match form {
        BootForm::Bake => "`docker buildx bake` builds on a buildx builder",
        BootForm::InspectBootstrap => "`docker buildx inspect --bootstrap` starts a buildx builder",
        BootForm::CreateBootstrap => "`docker buildx create --bootstrap` starts a buildx builder",
    };
    Err(Error::Refused {
        flag: command_words(inv),
        why: format!(
            "{what}, which here means a privileged BuildKit container, and {}",
            runtime_reason(facts).unwrap_or_else(|| "this runtime forbids privileged containers".into())
        ),
        fix: format!(
            "build with plain `docker build` (dockroute routes it to a builder this runtime allows) or `docker compose build`, or {V3_FIX}"
        ),
    })
}

fn compose(inv: &Invocation, facts: &Facts, first: &Client) -> Result<Option<Plan>> {
    // `docker compose ps`, `logs`, `down` … build nothing: nothing to route, nothing to say;
    // nor do `build --print` and `--dry-run`, which only show what compose would do.
    if !inv.compose_builds() || crate::project::compose_call::only_shows(inv) {
        return Ok(None);
    }
    let restricted = match facts.mode {
        Mode::Force(Route::Pass)
        | Mode::Force(Route::Daemonless)
        | Mode::Force(Route::Remote)
        | Mode::Force(Route::Builtin)
        | Mode::Force(Route::Records) => return Ok(None),
        Mode::Force(Route::Mounted) | Mode::Force(Route::Legacy) => true,
        Mode::Force(Route::Buildx) => false,
        Mode::Auto => match facts.runtime.as_ref() {
            Some(Runtime::Restricted { .. }) => true,
            Some(Runtime::V3 { .. }) => false,
            _ => return Ok(None),
        },
    };
    if restricted {
        // The project resolved by compose's own printer: each service built as its
        // `docker build` would be.
        if let Some(call) = crate::project::compose_call::read(inv) {
            if let Some(plan) =
                crate::project::plan::plan(inv, facts, &call, first, runtime_reason(facts))
            {
                return plan.map(Some);
            }
        }
    }
    let mut plan = pass_plan(inv, first);
    plan.reason = runtime_reason(facts);
    if restricted {
        // No printer: compose's classic builder, every service's Dockerfile checked first.
        if let Some(crate::route::facts::ProjectFacts::Unavailable { why, scans }) = &facts.project
        {
            refuse_compose_buildkit_syntax(scans)?;
            plan.notices.push(format!(
                "{why}: compose builds with its classic builder instead (no build secrets, no `RUN --mount`, one service after another)"
            ));
        }
        plan.route = Route::Legacy;
        plan.env_set = vec![
            ("DOCKER_BUILDKIT".into(), "0".into()),
            ("COMPOSE_BAKE".into(), "false".into()),
        ];
        plan.builder = Some(BuilderChoice {
            builder: Some(Builder::Legacy),
            why: "compose builds with BuildKit only through buildx's /grpc or a privileged builder, both denied here; the classic build API is the best compose can reach (plain `docker build` gets BuildKit)".into(),
            set_by_route: true,
        });
    } else {
        plan.env_unset = unset_inherited_off(facts, &mut plan.notices);
        if plan.env_unset.is_empty() {
            return Ok(None);
        }
        plan.route = Route::Buildx;
    }
    Ok(Some(plan))
}

/// The fallback without a printer runs compose's classic builder: a service whose
/// Dockerfile uses BuildKit-only syntax would fail at that step, after the steps before
/// it ran, so the call is refused first, naming every `FILE:LINE`.
fn refuse_compose_buildkit_syntax(scans: &[crate::route::facts::DockerfileScan]) -> Result<()> {
    use crate::docker::dockerfile::{refusal_lines, SYNTAX_DIRECTIVE};
    let findings: Vec<String> = scans
        .iter()
        .flat_map(|s| {
            let real: Vec<_> = s
                .findings
                .iter()
                .filter(|f| f.construct != SYNTAX_DIRECTIVE)
                .cloned()
                .collect();
            refusal_lines(&s.path, &real)
        })
        .collect();
    if findings.is_empty() {
        return Ok(());
    }
    Err(Error::NeedsBuildKit {
        findings,
        why: "compose could not resolve the project with `build --print` here, and its classic builder is the only one it reaches on this runtime".into(),
        fix: "use a Docker Compose with `build --print` (2.40 has it) (dockroute then builds each service with the daemon's BuildKit), or run the step on Bitbucket runtime v3".into(),
    })
}

#[cfg(test)]
mod tests {
    //! The routing table, one row per case: the call, the facts, and the plan or refusal
    //! expected. Read it top to bottom as the table in the README.

    use super::*;
    use std::ffi::OsString;

    use crate::docker::dockerfile::Finding;
    use crate::route::facts::{BuildKitFacts, DockerfileScan};
    use crate::route::nodes::{Affinity, NodeCheck};

    const NEW: &str = "/usr/local/bin/docker";
    const OLD: &str = "/usr/bin/docker";
    const BUILDCTL: &str = "/usr/bin/buildctl";
    const SCRIPT: &str = "/usr/bin/buildctl-daemonless.sh";
    const DENIED: &str =
        "authorization denied by plugin pipelines: --privileged=true is not allowed";

    fn client(path: &str, major: u64, mounted: bool, buildx: bool) -> Client {
        Client::fixture(path, major, mounted, buildx)
    }

    fn with(clients: Vec<Client>, runtime: Runtime) -> Facts {
        Facts {
            clients,
            runtime: Some(runtime),
            ..Facts::default()
        }
    }

    fn restricted() -> Runtime {
        Runtime::Restricted { why: DENIED.into() }
    }

    fn scan() -> Option<DockerfileScan> {
        Some(DockerfileScan {
            path: "Dockerfile".into(),
            findings: vec![Finding {
                line: 3,
                construct: "RUN --mount".into(),
            }],
            stages: Vec::new(),
        })
    }

    fn syntax_only() -> Option<DockerfileScan> {
        Some(DockerfileScan {
            path: "Dockerfile".into(),
            findings: vec![Finding {
                line: 1,
                construct: crate::docker::dockerfile::SYNTAX_DIRECTIVE.into(),
            }],
            stages: Vec::new(),
        })
    }

    // --- the facts of each row ------------------------------------------------------
    /// Pipelines v2: CLI 28 first, the 20.10 client bind-mounted.
    fn v2() -> Facts {
        with(
            vec![client(NEW, 28, false, false), client(OLD, 20, true, false)],
            restricted(),
        )
    }
    fn v2_buildkit_off() -> Facts {
        let mut f = v2();
        f.env.docker_buildkit = Some("0".into());
        f
    }
    fn v2_buildkit_off_scan() -> Facts {
        let mut f = v2_buildkit_off();
        f.dockerfile = scan();
        f
    }
    fn v2_buildkit_on() -> Facts {
        let mut f = v2();
        f.env.docker_buildkit = Some("true".into());
        f
    }
    fn v2_scan() -> Facts {
        let mut f = v2();
        f.dockerfile = scan();
        f
    }
    /// Only the 20.10 client, first on PATH.
    fn v2_old_only() -> Facts {
        with(vec![client(OLD, 20, true, false)], restricted())
    }
    fn v2_old_only_scan() -> Facts {
        let mut f = v2_old_only();
        f.dockerfile = scan();
        f
    }
    /// A 19.03 client elsewhere, the 20.10 one bind-mounted.
    fn v2_three() -> Facts {
        with(
            vec![
                client(NEW, 28, false, false),
                client("/opt/old/docker", 19, false, false),
                client(OLD, 20, true, false),
            ],
            restricted(),
        )
    }
    fn v2_unmounted_old() -> Facts {
        with(
            vec![
                client(NEW, 28, false, false),
                client("/opt/old/docker", 19, false, false),
            ],
            restricted(),
        )
    }
    /// Restricted, and no client < 23: the legacy builder.
    fn v2_no_old() -> Facts {
        with(vec![client(NEW, 28, false, false)], restricted())
    }
    /// Warm rebuilds on (`DOCKROUTE_WARM`'s default), the daemon having the tag `x`.
    fn warm(mut f: Facts) -> Facts {
        f.warm = crate::route::facts::WarmFacts {
            level: crate::route::facts::WarmLevel::Stages,
            local_tags: crate::route::facts::LocalTags::Present(vec!["x".into()]),
        };
        f
    }
    fn v2_warm() -> Facts {
        warm(v2())
    }
    fn v2_warm_buildkit_off() -> Facts {
        warm(v2_buildkit_off())
    }
    fn v2_no_old_warm() -> Facts {
        warm(v2_no_old())
    }
    fn v3_warm() -> Facts {
        warm(v3())
    }
    fn v2_no_old_syntax_only() -> Facts {
        let mut f = v2_no_old();
        f.dockerfile = syntax_only();
        f
    }
    fn v2_no_old_scan() -> Facts {
        let mut f = v2_no_old();
        f.dockerfile = scan();
        f
    }
    fn v3() -> Facts {
        with(
            vec![client(NEW, 28, false, true)],
            Runtime::V3 {
                why: "Bitbucket runtime v3".into(),
            },
        )
    }
    fn v3_buildkit_off() -> Facts {
        let mut f = v3();
        f.env.docker_buildkit = Some("0".into());
        f
    }
    fn v3_second_has_buildx() -> Facts {
        let mut f = v3();
        f.clients = vec![
            client(NEW, 28, false, false),
            client("/opt/docker", 27, false, true),
        ];
        f
    }
    fn v3_no_buildx() -> Facts {
        let mut f = v3();
        f.clients = vec![client(NEW, 28, false, false)];
        f
    }
    fn open() -> Facts {
        with(
            v2().clients,
            Runtime::Open {
                why: "allowed".into(),
            },
        )
    }
    fn unknown() -> Facts {
        with(
            v2().clients,
            Runtime::Unknown {
                why: "timeout".into(),
            },
        )
    }
    fn no_daemon() -> Facts {
        with(
            v2().clients,
            Runtime::NoDaemon {
                why: "refused".into(),
            },
        )
    }
    /// A BuildKit pod: no docker client at all, `buildctl` and BUILDKIT_HOST.
    fn no_client() -> Facts {
        let mut f = no_daemon_buildkit_host();
        f.clients.clear();
        f
    }
    fn no_daemon_buildkit_host() -> Facts {
        let mut f = no_daemon();
        f.buildkit = BuildKitFacts {
            host: Some("tcp://bk:1234".into()),
            buildctl: Some(BUILDCTL.into()),
            daemonless: Some(SCRIPT.into()),
            ..BuildKitFacts::default()
        };
        f
    }
    fn no_daemon_script_no_client() -> Facts {
        let mut f = no_daemon();
        f.clients.clear();
        f.buildkit = BuildKitFacts {
            daemonless: Some(SCRIPT.into()),
            ..BuildKitFacts::default()
        };
        f
    }
    fn no_daemon_unreachable() -> Facts {
        let mut f = no_daemon_buildkit_host();
        f.buildkit.daemonless = None;
        f.buildkit.unreachable = Some("connection refused".into());
        f.buildkit.checks = vec![NodeCheck {
            address: "tcp://bk:1234".into(),
            unreachable: Some("connection refused".into()),
        }];
        f
    }
    fn no_daemon_preset_host_with_script() -> Facts {
        let mut f = no_daemon_unreachable();
        f.buildkit.daemonless = Some(SCRIPT.into());
        f
    }
    fn no_daemon_host_without_buildctl() -> Facts {
        let mut f = no_daemon_buildkit_host();
        f.buildkit.buildctl = None;
        f
    }
    fn remote_on_v2() -> Facts {
        let mut f = v2();
        f.buildkit = BuildKitFacts {
            remote: Some("tcp://bk:1234".into()),
            tls_dir: Some("/certs".into()),
            buildctl: Some(BUILDCTL.into()),
            ..BuildKitFacts::default()
        };
        f
    }
    fn mode(m: Mode, base: fn() -> Facts) -> Facts {
        let mut f = base();
        f.mode = m;
        f
    }
    fn pass_mode() -> Facts {
        mode(Mode::Force(Route::Pass), v2)
    }
    fn mounted_mode_v3() -> Facts {
        let mut f = mode(Mode::Force(Route::Mounted), v3);
        f.clients.push(client(OLD, 20, true, false));
        f
    }
    fn legacy_mode_v3() -> Facts {
        mode(Mode::Force(Route::Legacy), v3)
    }
    fn buildx_mode_v2() -> Facts {
        let mut f = mode(Mode::Force(Route::Buildx), v2);
        f.clients[0].buildx = true;
        f
    }
    fn buildx_mode_without_buildx() -> Facts {
        mode(Mode::Force(Route::Buildx), v2)
    }
    fn mounted_mode_without_old() -> Facts {
        mode(Mode::Force(Route::Mounted), v3_no_buildx)
    }
    fn daemonless_mode_without_buildkit() -> Facts {
        mode(Mode::Force(Route::Daemonless), open)
    }
    fn remote_mode_without_host() -> Facts {
        mode(Mode::Force(Route::Remote), open)
    }
    fn secrets_deny() -> Facts {
        let mut f = v2();
        f.secrets.policy = Policy::Deny;
        f
    }
    fn secrets_off() -> Facts {
        let mut f = v2();
        f.secrets.policy = Policy::Off;
        f
    }

    /// What a row expects.
    enum Expect {
        /// The whole plan: route, argv, env set and removed, builder, follow-ups,
        /// whether it is announced, and a word every notice list must contain.
        Plan {
            route: Route,
            argv: &'static [&'static str],
            env: &'static [(&'static str, &'static str)],
            unset: &'static [&'static str],
            builder: Option<Builder>,
            then: usize,
            reroute: bool,
            notice: Option<&'static str>,
        },
        /// A BuildKit route: its argv starts so, and whether the image is loaded.
        BuildKit {
            route: Route,
            argv_starts: &'static [&'static str],
            load: bool,
            supervised: bool,
        },
        /// Refused, the message containing this.
        Refused(&'static str),
        /// No docker client to run the call (exit 127).
        NoClient,
        /// In a BuildKit pod, a call that needs a container runtime: exit 125.
        NoDaemon,
    }
    use Expect::{BuildKit as Bk, NoClient, NoDaemon, Plan as P, Refused};

    struct Row {
        args: &'static [&'static str],
        given: fn() -> Facts,
        expect: Expect,
    }

    const fn row(args: &'static [&'static str], given: fn() -> Facts, expect: Expect) -> Row {
        Row {
            args,
            given,
            expect,
        }
    }

    #[allow(clippy::too_many_lines)]
    #[rustfmt::skip]
    fn table() -> Vec<Row> {
        use Builder::{Buildx as BX, DaemonBuildKit as DBK, Legacy as LEG};
        vec![
            // Anything but builds and compose passes through, whatever the runtime.
            row(&["run", "--privileged", "busybox"], v2, P { route: Route::Pass, argv: &[NEW, "run", "--privileged", "busybox"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            // With no docker client, `login`/`logout` are answered by dockroute itself
            // (anything else stays "no client", exit 127); with one, they pass through.
            row(&["--config", "/c", "login", "-u", "me", "--password-stdin", "r.example"], no_client, P { route: Route::Builtin, argv: &["docker", "--config", "/c", "login", "-u", "me", "--password-stdin", "r.example"], env: &[], unset: &[], builder: None, then: 0, reroute: true, notice: None }),
            row(&["login", "-u", "me", "-p", "pw", "--password=pw", "-ppw", "r"], no_client, P { route: Route::Builtin, argv: &["docker", "login", "-u", "me", "-p", "***", "--password=***", "-p***", "r"], env: &[], unset: &[], builder: None, then: 0, reroute: true, notice: None }),
            row(&["logout"], no_client, P { route: Route::Builtin, argv: &["docker", "logout"], env: &[], unset: &[], builder: None, then: 0, reroute: true, notice: None }),
            row(&["run", "busybox"], no_client, NoDaemon),
            row(&["compose", "up"], no_client, NoDaemon),
            row(&["version"], no_client, NoClient),
            // Image commands with a client: through (the records answer only where no
            // daemon does: route::image_routes' own table).
            row(&["push", "r/a:1"], v2, P { route: Route::Pass, argv: &[NEW, "push", "r/a:1"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["login", "-u", "me", "--password-stdin"], no_daemon, P { route: Route::Pass, argv: &[NEW, "login", "-u", "me", "--password-stdin"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["run", "--privileged", "busybox"], v3, P { route: Route::Pass, argv: &[NEW, "run", "--privileged", "busybox"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            // Restricted (v2): the mounted 20.10 client builds, every build form. The
            // user's own first client (28) builds with BuildKit, so the build does too.
            row(&["-H", "tcp://localhost:2375", "build", "-t", "x", "."], v2, P { route: Route::Mounted, argv: &[OLD, "-H", "tcp://localhost:2375", "build", "-t", "x", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["image", "build", "-t", "x", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "-t", "x", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["builder", "build", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["buildx", "build", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["buildx", "b", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            // Warm rebuilds through Bitbucket's docker cache: on the daemon's BuildKit,
            // inline cache and --cache-from of the build's own tag the daemon has, right
            // after `build`; the legacy builder gets only --cache-from; buildx nothing.
            row(&["build", "-t", "x", "."], v2_warm, P { route: Route::Mounted, argv: &[OLD, "build", "--build-arg", "BUILDKIT_INLINE_CACHE=1", "--cache-from", "x", "-t", "x", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "-t", "x", "."], v2_warm_buildkit_off, P { route: Route::Mounted, argv: &[OLD, "build", "--cache-from", "x", "-t", "x", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: None }),
            row(&["build", "-t", "x", "."], v2_no_old_warm, P { route: Route::Legacy, argv: &[NEW, "build", "--cache-from", "x", "-t", "x", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: None }),
            row(&["build", "-t", "x", "."], v3_warm, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--load", "-t", "x", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            // The bind-mounted client is preferred; else the first client < 23.
            row(&["build", "."], v2_three, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "."], v2_unmounted_old, P { route: Route::Mounted, argv: &["/opt/old/docker", "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            // BuildKit-only flags turn BuildKit on (also when the first client is < 23).
            row(&["build", "--secret=id=a,src=f", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "--secret=id=a,src=f", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "--ssh=default", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "--ssh=default", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "--output=type=local,dest=o", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "--output=type=local,dest=o", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "--progress=plain", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "--progress=plain", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            // A first client < 23 keeps its default (legacy): nothing changes, nothing said.
            row(&["build", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: None }),
            // ... but `docker buildx build` asks for BuildKit by name.
            row(&["buildx", "build", "."], v2_old_only, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            // ... and its Dockerfile is checked for BuildKit-only syntax first.
            row(&["build", "."], v2_old_only_scan, Refused("Dockerfile:3: RUN --mount needs BuildKit")),
            // DOCKER_BUILDKIT set by the user is kept: 1 needs nothing more, 0 keeps the
            // legacy builder (and refuses a Dockerfile only BuildKit builds).
            row(&["build", "."], v2_buildkit_on, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "."], v2_buildkit_off, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: None }),
            row(&["build", "--secret", "id=a", "."], v2_buildkit_off, P { route: Route::Mounted, argv: &[OLD, "build", "--secret", "id=a", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: Some("DOCKER_BUILDKIT=0") }),
            row(&["build", "."], v2_buildkit_off_scan, Refused("Dockerfile:3: RUN --mount needs BuildKit")),
            // With BuildKit on, the scan does not matter.
            row(&["build", "."], v2_scan, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            // --load dropped, --push emulated, buildx-only flags refused.
            row(&["buildx", "build", "--load", "-t", "r/a:1", "--push", "-t", "r/a:2", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "-t", "r/a:1", "-t", "r/a:2", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 2, reroute: true, notice: Some("--load") }),
            row(&["build", "--cache-to=type=local,dest=c", "."], v2, Refused("--cache-to")),
            row(&["build", "--build-context=a=b", "."], v2, Refused("--build-context")),
            row(&["build", "--attest=type=sbom", "."], v2, Refused("--attest")),
            row(&["build", "--sbom=true", "."], v2, Refused("--sbom")),
            row(&["build", "--provenance=true", "."], v2, Refused("--provenance")),
            row(&["build", "--platform", "linux/amd64,linux/arm64", "."], v2, Refused("--platform")),
            row(&["build", "--platform", "linux/amd64", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "--platform", "linux/amd64", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "--push", "."], v2, Refused("--push")),
            // Turned off, a buildx-only flag asks for nothing: dropped, not refused.
            row(&["build", "--provenance=false", "--sbom=0", "--push=false", "-t", "x", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "-t", "x", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: Some("dropped --provenance (turned off)") }),
            row(&["build", "--provenance=false", "."], v2_no_old, P { route: Route::Legacy, argv: &[NEW, "build", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: Some("dropped --provenance (turned off)") }),
            // Restricted without a client < 23: the legacy builder, flags it lacks dropped,
            // BuildKit-only flags and Dockerfile syntax refused.
            row(&["-D", "build", "--progress", "plain", "--load", "-t", "a", "."], v2_no_old, P { route: Route::Legacy, argv: &[NEW, "-D", "build", "-t", "a", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: Some("--progress") }),
            row(&["build", "--push", "-t", "127.0.0.1:5000/a", "."], v2_no_old, P { route: Route::Legacy, argv: &[NEW, "build", "-t", "127.0.0.1:5000/a", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 1, reroute: true, notice: Some("--push emulated") }),
            row(&["build", "--secret", "id=x", "."], v2_no_old, Refused("--secret")),
            row(&["build", "--ssh", "default", "."], v2_no_old, Refused("--ssh")),
            row(&["build", "-o", "out", "."], v2_no_old, Refused("--output")),
            row(&["build", "--cache-to", "type=inline", "."], v2_no_old, Refused("--cache-to")),
            row(&["build", "."], v2_no_old_scan, Refused("Dockerfile:3: RUN --mount needs BuildKit")),
            // A `# syntax=` line alone is a comment to the legacy builder: a notice, no refusal.
            row(&["build", "."], v2_no_old_syntax_only, P { route: Route::Legacy, argv: &[NEW, "build", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: Some("Dockerfile:1: the `# syntax=` directive is ignored") }),
            // buildx commands that would boot a privileged builder are refused up front.
            row(&["buildx", "bake"], v2, Refused("privileged BuildKit container")),
            row(&["buildx", "inspect", "--bootstrap"], v2, Refused("buildx inspect")),
            row(&["buildx", "create", "--bootstrap", "--use"], v2, Refused("buildx create")),
            row(&["buildx", "bake"], v3, P { route: Route::Pass, argv: &[NEW, "buildx", "bake"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            // bake's and compose's printers and compose's dry run build nothing: as they are.
            row(&["buildx", "bake", "--print"], v2, P { route: Route::Pass, argv: &[NEW, "buildx", "bake", "--print"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["buildx", "bake", "--list", "targets"], v2, P { route: Route::Pass, argv: &[NEW, "buildx", "bake", "--list", "targets"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["compose", "build", "--print"], v2, P { route: Route::Pass, argv: &[NEW, "compose", "build", "--print"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["compose", "--dry-run", "up", "--build"], v2, P { route: Route::Pass, argv: &[NEW, "compose", "--dry-run", "up", "--build"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["compose", "build", "--dry-run"], v2, P { route: Route::Pass, argv: &[NEW, "compose", "build", "--dry-run"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["buildx", "ls"], v2, P { route: Route::Pass, argv: &[NEW, "buildx", "ls"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            // Compose on a restricted runtime: the classic build API.
            row(&["compose", "ps"], v2, P { route: Route::Pass, argv: &[NEW, "compose", "ps"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["compose", "up", "--build"], v2, P { route: Route::Legacy, argv: &[NEW, "compose", "up", "--build"], env: &[("DOCKER_BUILDKIT", "0"), ("COMPOSE_BAKE", "false")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: None }),
            // Runtime v3: buildx with --load, an inherited DOCKER_BUILDKIT=0 removed.
            row(&["build", "-t", "x", "."], v3_buildkit_off, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--load", "-t", "x", "."], env: &[], unset: &["DOCKER_BUILDKIT"], builder: Some(BX), then: 0, reroute: true, notice: Some("DOCKER_BUILDKIT=0") }),
            row(&["build", "--push", "-t", "x", "."], v3, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--push", "-t", "x", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "--load", "."], v3, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--load", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "-o", "type=local,dest=o", "."], v3, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "-o", "type=local,dest=o", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "--platform", "linux/amd64,linux/arm64", "."], v3, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--platform", "linux/amd64,linux/arm64", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "."], v3_second_has_buildx, P { route: Route::Buildx, argv: &["/opt/docker", "buildx", "build", "--load", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "."], v3_no_buildx, P { route: Route::Pass, argv: &[NEW, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: Some("buildx") }),
            row(&["compose", "build"], v3, P { route: Route::Pass, argv: &[NEW, "compose", "build"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["compose", "build"], v3_buildkit_off, P { route: Route::Buildx, argv: &[NEW, "compose", "build"], env: &[], unset: &["DOCKER_BUILDKIT"], builder: None, then: 0, reroute: true, notice: Some("DOCKER_BUILDKIT=0") }),
            // Open, unknown, and no daemon without BuildKit: unchanged.
            row(&["build", "."], open, P { route: Route::Pass, argv: &[NEW, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: None }),
            row(&["compose", "up"], open, P { route: Route::Pass, argv: &[NEW, "compose", "up"], env: &[], unset: &[], builder: None, then: 0, reroute: false, notice: None }),
            row(&["buildx", "build", "."], unknown, P { route: Route::Pass, argv: &[NEW, "buildx", "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: None }),
            row(&["build", "."], no_daemon, P { route: Route::Pass, argv: &[NEW, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: Some("BUILDKIT_HOST") }),
            // No daemon, BuildKit at hand: buildctl against BUILDKIT_HOST, else the
            // daemonless script (no docker client needed), supervised.
            row(&["build", "-t", "r/a:1", "--push", "."], no_daemon_buildkit_host, Bk { route: Route::Daemonless, argv_starts: &[BUILDCTL, "--addr", "tcp://bk:1234", "build", "--frontend", "dockerfile.v0"], load: false, supervised: false }),
            row(&["build", "-t", "r/a:1", "--push", "."], no_daemon_script_no_client, Bk { route: Route::Daemonless, argv_starts: &[SCRIPT, "build", "--frontend", "dockerfile.v0"], load: false, supervised: true }),
            row(&["build", "."], no_daemon_unreachable, Refused("does not answer")),
            // ... unless the image brings the daemonless script (its BUILDKIT_HOST preset).
            row(&["build", "-t", "r/a:1", "--push", "."], no_daemon_preset_host_with_script, Bk { route: Route::Daemonless, argv_starts: &[SCRIPT, "build"], load: false, supervised: true }),
            row(&["build", "."], no_daemon_host_without_buildctl, Refused("buildctl")),
            row(&["build", "--load", "."], no_daemon_buildkit_host, Refused("--load")),
            // A shared BuildKit, on any runtime: built there, loaded into the daemon.
            row(&["build", "-t", "x", "."], remote_on_v2, Bk { route: Route::Remote, argv_starts: &[BUILDCTL, "--addr", "tcp://bk:1234", "--tlsdir", "/certs", "build"], load: true, supervised: false }),
            row(&["build", "-t", "r/x:1", "--push", "."], remote_on_v2, Bk { route: Route::Remote, argv_starts: &[BUILDCTL, "--addr", "tcp://bk:1234"], load: false, supervised: false }),
            row(&["build", "--squash", "."], remote_on_v2, Refused("--squash")),
            // Forced modes.
            row(&["build", "."], pass_mode, P { route: Route::Pass, argv: &[NEW, "build", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: None }),
            row(&["build", "."], mounted_mode_v3, P { route: Route::Mounted, argv: &[OLD, "build", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "."], legacy_mode_v3, P { route: Route::Legacy, argv: &[NEW, "build", "."], env: &[("DOCKER_BUILDKIT", "0")], unset: &[], builder: Some(LEG), then: 0, reroute: true, notice: None }),
            row(&["build", "."], buildx_mode_v2, P { route: Route::Buildx, argv: &[NEW, "buildx", "build", "--load", "."], env: &[], unset: &[], builder: Some(BX), then: 0, reroute: true, notice: None }),
            row(&["build", "."], buildx_mode_without_buildx, Refused("DOCKROUTE_MODE=buildx")),
            row(&["build", "."], mounted_mode_without_old, Refused("DOCKROUTE_MODE=mounted")),
            row(&["build", "."], daemonless_mode_without_buildkit, Refused("DOCKROUTE_MODE=daemonless")),
            row(&["build", "."], remote_mode_without_host, Refused("DOCKROUTE_BUILDKIT_HOST")),
            // Secret-looking build args: a warning on every route, a refusal under deny.
            row(&["build", "--build-arg", "NPM_TOKEN=abc123", "."], v2, P { route: Route::Mounted, argv: &[OLD, "build", "--build-arg", "NPM_TOKEN=abc123", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: Some("NPM_TOKEN") }),
            row(&["build", "--build-arg", "NPM_TOKEN=abc123", "."], open, P { route: Route::Pass, argv: &[NEW, "build", "--build-arg", "NPM_TOKEN=abc123", "."], env: &[], unset: &[], builder: Some(LEG), then: 0, reroute: false, notice: Some("NPM_TOKEN") }),
            row(&["build", "--build-arg", "NPM_TOKEN=abc123", "."], secrets_deny, Refused("NPM_TOKEN")),
            row(&["build", "--build-arg", "AUTHOR=me", "."], secrets_deny, P { route: Route::Mounted, argv: &[OLD, "build", "--build-arg", "AUTHOR=me", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
            row(&["build", "--build-arg", "NPM_TOKEN=abc123", "."], secrets_off, P { route: Route::Mounted, argv: &[OLD, "build", "--build-arg", "NPM_TOKEN=abc123", "."], env: &[("DOCKER_BUILDKIT", "1")], unset: &[], builder: Some(DBK), then: 0, reroute: true, notice: None }),
        ]
    }

    fn lossy(v: &[OsString]) -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_routing_table() {
        for r in table() {
            let inv = Invocation::parse(r.args.iter().map(OsString::from).collect());
            let facts = (r.given)();
            let first = facts.clients.first().map(|c| c.path.as_path());
            let got = decide(&inv, &facts);
            let at = format!("docker {} with {:?}", r.args.join(" "), facts.runtime);
            match (&r.expect, got) {
                (
                    P {
                        route,
                        argv,
                        env,
                        unset,
                        builder,
                        then,
                        reroute,
                        notice,
                    },
                    Ok(p),
                ) => {
                    assert_eq!(p.route, *route, "{at}");
                    assert_eq!(lossy(&p.argv), *argv, "{at}");
                    let got_env: Vec<(&str, &str)> = p
                        .env_set
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    assert_eq!(got_env, *env, "{at}");
                    assert_eq!(p.env_unset, *unset, "{at}");
                    assert_eq!(p.builder.as_ref().and_then(|b| b.builder), *builder, "{at}");
                    assert_eq!(p.then.len(), *then, "{at}");
                    assert_eq!(p.is_reroute(&inv, first), *reroute, "{at}");
                    match notice {
                        Some(word) => assert!(
                            p.notices.iter().any(|n| n.contains(word)),
                            "{at}: no notice with {word:?} in {:?}",
                            p.notices
                        ),
                        None => assert!(p.notices.is_empty(), "{at}: {:?}", p.notices),
                    }
                }
                (
                    Bk {
                        route,
                        argv_starts,
                        load,
                        supervised,
                    },
                    Ok(p),
                ) => {
                    assert_eq!(p.route, *route, "{at}");
                    assert_eq!(lossy(&p.argv)[..argv_starts.len()], **argv_starts, "{at}");
                    assert_eq!(p.load.is_some(), *load, "{at}");
                    assert_eq!(p.supervised, *supervised, "{at}");
                    assert_eq!(
                        p.builder.as_ref().and_then(|b| b.builder),
                        Some(Builder::BuildKit),
                        "{at}"
                    );
                    assert!(p.is_reroute(&inv, first), "{at}");
                }
                (Refused(text), Err(e)) => {
                    assert_eq!(e.exit_code(), 2, "{at}");
                    assert!(e.to_string().contains(text), "{at}: {e}");
                    assert!(e.hint().is_some_and(|h| !h.is_empty()), "{at}: a fix");
                }
                (NoDaemon, Err(e)) => {
                    assert!(matches!(e, Error::NoDaemon { .. }), "{at}: {e}");
                    assert_eq!(e.exit_code(), 125, "{at}");
                }
                (NoClient, Err(e)) => {
                    assert!(matches!(e, Error::NoClient { .. }), "{at}: {e}");
                    assert_eq!(e.exit_code(), 127, "{at}");
                }
                (_, other) => panic!("{at}: got {other:?}"),
            }
        }
    }

    #[test]
    fn a_secret_value_never_reaches_a_notice_or_a_refusal() {
        let args = ["build", "--build-arg", "NPM_TOKEN=abc123", "."];
        let inv = Invocation::parse(args.iter().map(OsString::from).collect());
        let p = decide(&inv, &v2()).unwrap();
        assert!(p.notices.iter().all(|n| !n.contains("abc123")));
        let e = decide(&inv, &secrets_deny()).unwrap_err();
        assert!(!e.to_string().contains("abc123"));
        assert!(!e.hint().unwrap_or_default().contains("abc123"));
    }

    #[test]
    fn the_builder_says_why() {
        let inv = Invocation::parse(vec!["build".into(), ".".into()]);
        let p = decide(&inv, &v2()).unwrap();
        let why = &p.builder.unwrap().why;
        assert!(why.contains(NEW) && why.contains("28.10.24"), "{why}");
    }

    /// A multi-stage build on the mounted route: the build, then one build per stage the
    /// target uses, with the call's own arguments less what would clobber the build's
    /// outputs (tags, -q, --iidfile, --push) or skip the cache (--no-cache).
    #[test]
    fn a_multi_stage_build_refreshes_its_stage_images_after_the_build() {
        let mut f = v2_warm();
        f.dockerfile = Some(DockerfileScan {
            path: "Dockerfile".into(),
            findings: Vec::new(),
            stages: crate::docker::dockerfile::stages(
                b"FROM a AS deps\nFROM deps AS build\nFROM b\nCOPY --from=build / /\n",
            ),
        });
        let args = [
            "-H",
            "tcp://localhost:2375",
            "build",
            "-q",
            "--no-cache",
            "--iidfile",
            "/tmp/id",
            "--build-arg",
            "V=1",
            "-f",
            "ci/Dockerfile",
            "-t",
            "x",
            "--push",
            "--network=none",
            ".",
        ];
        let inv = Invocation::parse(args.iter().map(OsString::from).collect());
        let p = decide(&inv, &f).unwrap();
        let argv = |v: &[OsString]| {
            v.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            argv(&p.argv),
            [
                OLD,
                "-H",
                "tcp://localhost:2375",
                "build",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                "-q",
                "--no-cache",
                "--iidfile",
                "/tmp/id",
                "--build-arg",
                "V=1",
                "-f",
                "ci/Dockerfile",
                "-t",
                "x",
                "--network=none",
                "."
            ]
        );
        let then: Vec<Vec<String>> = p.then.iter().map(|s| argv(&s.argv)).collect();
        let stage = |name: &str| -> Vec<String> {
            [
                OLD,
                "-H",
                "tcp://localhost:2375",
                "build",
                "--target",
                name,
                "-t",
                &format!("dockroute-stage/x:{name}"),
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                "--build-arg",
                "V=1",
                "-f",
                "ci/Dockerfile",
                "--network=none",
                ".",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect()
        };
        assert_eq!(
            then,
            vec![
                vec![
                    OLD.to_string(),
                    "-H".into(),
                    "tcp://localhost:2375".into(),
                    "push".into(),
                    "x".into()
                ],
                stage("deps"),
                stage("build"),
            ]
        );
        assert_eq!(p.warm.unwrap().stage_images.len(), 2);
    }

    // --- several shared BuildKits ----------------------------------------------------
    const NODES: &str = "tcp://bk-0:1234, tcp://bk-1:1234";

    fn affinity(ctx: &str) -> Affinity {
        Affinity {
            context: ctx.into(),
            dockerfile: Some(format!("{ctx}/Dockerfile").into()),
        }
    }

    fn checks(dead: &[&str]) -> Vec<NodeCheck> {
        dead.iter()
            .map(|a| NodeCheck {
                address: (*a).into(),
                unreachable: Some(format!("{a}: connection refused")),
            })
            .collect()
    }

    /// `DOCKROUTE_BUILDKIT_HOST` = `list`, a build of /w/a, the nodes in `dead` checked
    /// and dead.
    fn remote_nodes(list: &str, dead: &[&str]) -> Facts {
        let mut f = remote_on_v2();
        f.buildkit.remote = Some(list.into());
        f.buildkit.affinity = Some(affinity("/w/a"));
        f.buildkit.checks = checks(dead);
        f
    }

    fn order_of(list: &str, ctx: &str) -> Vec<String> {
        let all = crate::route::nodes::parse_list(list);
        crate::route::nodes::order(&all, &affinity(ctx).key())
            .into_iter()
            .map(String::from)
            .collect()
    }

    fn plan_for(facts: &Facts) -> Result<Plan> {
        let inv = Invocation::parse(vec!["build".into(), "-t".into(), "x".into(), ".".into()]);
        decide(&inv, facts)
    }

    #[test]
    fn a_node_list_builds_on_the_first_node_in_the_builds_order_that_answers() {
        let o = order_of(NODES, "/w/a");
        // All answer: the first in the order, named with what chose it.
        let p = plan_for(&remote_nodes(NODES, &[])).unwrap();
        assert_eq!(
            lossy(&p.argv)[..5],
            [BUILDCTL, "--addr", o[0].as_str(), "--tlsdir", "/certs"]
        );
        let why = &p.builder.as_ref().unwrap().why;
        assert_eq!(
            why,
            &format!(
                "the BuildKit at {}, node 1 of 2 in the order of this build (/w/a and /w/a/Dockerfile)",
                o[0]
            )
        );
        assert!(
            p.notices.iter().all(|n| !n.contains("does not answer")),
            "{:?}",
            p.notices
        );
        assert_eq!(p.route, Route::Remote);
        assert!(p.load.is_some(), "loaded into the daemon as with one node");

        // The first dead: the next, with a notice naming both.
        let p = plan_for(&remote_nodes(NODES, &[o[0].as_str()])).unwrap();
        assert_eq!(lossy(&p.argv)[..3], [BUILDCTL, "--addr", o[1].as_str()]);
        assert!(
            p.notices.iter().any(|n| n
                == &format!(
                    "the BuildKit node {0} does not answer ({0}: connection refused): building on {1}, the next node in this build's order",
                    o[0], o[1]
                )),
            "{:?}",
            p.notices
        );
        assert!(p.builder.unwrap().why.contains("node 2 of 2"));

        // A dead node later in the order changes nothing.
        let p = plan_for(&remote_nodes(NODES, &[o[1].as_str()])).unwrap();
        assert_eq!(lossy(&p.argv)[2], o[0]);
        assert!(p.notices.iter().all(|n| !n.contains("does not answer")));

        // None answers: refused before anything runs, each node named with its reason.
        let e = plan_for(&remote_nodes(NODES, &[o[1].as_str(), o[0].as_str()])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let said = e.to_string();
        assert!(said.contains("DOCKROUTE_BUILDKIT_HOST"), "{said}");
        assert!(
            said.contains(&format!(
                "none of the 2 BuildKit nodes in DOCKROUTE_BUILDKIT_HOST answers: {0} ({0}: connection refused); {1} ({1}: connection refused)",
                o[0], o[1]
            )),
            "{said}"
        );
        assert!(e.hint().is_some_and(|h| h.contains("buildkitds")));
    }

    #[test]
    fn each_context_goes_to_its_own_first_node() {
        let list = "tcp://bk-0:1234,tcp://bk-1:1234,tcp://bk-2:1234";
        let mut firsts = std::collections::BTreeSet::new();
        for ctx in ["/w/a", "/w/b", "/w/c", "/w/d", "/srv/x", "/srv/y"] {
            let mut f = remote_nodes(list, &[]);
            f.buildkit.affinity = Some(affinity(ctx));
            let p = plan_for(&f).unwrap();
            let want = order_of(list, ctx);
            assert_eq!(lossy(&p.argv)[2], want[0], "{ctx}");
            firsts.insert(want[0].clone());
        }
        // (Pinned weights: these six contexts do not all hash to one node.)
        assert!(firsts.len() > 1, "{firsts:?}");
    }

    #[test]
    fn tls_files_go_to_network_nodes_only() {
        let unix = "unix:///run/buildkit/buildkitd.sock";
        let tcp = "tcp://bk-0:1234";
        let list = format!("{unix},{tcp}");
        let p = plan_for(&remote_nodes(&list, &[tcp])).unwrap();
        assert_eq!(lossy(&p.argv)[..4], [BUILDCTL, "--addr", unix, "build"]);
        let p = plan_for(&remote_nodes(&list, &[unix])).unwrap();
        assert_eq!(
            lossy(&p.argv)[..5],
            [BUILDCTL, "--addr", tcp, "--tlsdir", "/certs"]
        );
    }

    #[test]
    fn a_buildkit_host_list_on_the_daemonless_route() {
        let list = "tcp://a:1,tcp://b:1";
        let o = order_of(list, "/w/a");
        let pod = |dead: &[&str], script: bool| {
            let mut f = no_client();
            f.buildkit.host = Some(list.into());
            f.buildkit.affinity = Some(affinity("/w/a"));
            f.buildkit.checks = checks(dead);
            if dead.len() == 2 {
                f.buildkit.unreachable = Some("no node answers".into());
            }
            if !script {
                f.buildkit.daemonless = None;
            }
            f
        };
        let p = plan_for(&pod(&[o[0].as_str()], true)).unwrap();
        assert_eq!(p.route, Route::Daemonless);
        assert_eq!(lossy(&p.argv)[..3], [BUILDCTL, "--addr", o[1].as_str()]);
        assert!(p.notices.iter().any(|n| n.contains("does not answer")));
        // None answers, the script is there: a private BuildKit, as with one address.
        let p = plan_for(&pod(&[o[0].as_str(), o[1].as_str()], true)).unwrap();
        assert_eq!(lossy(&p.argv)[0], SCRIPT);
        assert!(p.supervised);
        assert!(p
            .notices
            .iter()
            .any(|n| n.contains(&format!("BUILDKIT_HOST={list} does not answer"))));
        // … and without it: refused, naming BUILDKIT_HOST.
        let e = plan_for(&pod(&[o[0].as_str(), o[1].as_str()], false)).unwrap_err();
        assert!(e.to_string().contains("in BUILDKIT_HOST answers"), "{e}");
    }
}
