//! Shim mode: dockroute invoked as `docker` (or as `dockroute exec --`).
//!
//! The hot path — any call that is not build-like or compose — is: check the hop counter,
//! parse the global flags, find the first real client, exec it. No probe, no cache, no
//! logger unless `DOCKROUTE_LOG` is set. Most such calls never reach this module: the
//! lean pass-through (`crate::fast_path`) takes them before dockroute's runtime starts,
//! and this path runs for the ones it leaves (`DOCKROUTE_LOG` set, no `/proc`, …). Routed calls gather facts, decide, print the
//! reroute line, and exec (or run the `--push` sequence).

use std::ffi::OsString;

use crate::docker::args::{CommandKind, Invocation};
use crate::docker::version::DOCKROUTE_MARKER;
use crate::error::Result;
use crate::guard::SelfGuard;
use crate::guard::PROBE_VAR;
use crate::output;
use crate::probe::discovery;
use crate::probe::gather;
use crate::route::decide;
use crate::route::facts::{Client, Facts};
use crate::route::plan::{Plan, Route};

/// Runs a docker call; returns the exit code when it does not exec.
#[must_use]
pub fn run(args: Vec<OsString>) -> u8 {
    match try_run(args) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            e.exit_code()
        }
    }
}

fn try_run(args: Vec<OsString>) -> Result<u8> {
    let guard = SelfGuard::from_env();
    if std::env::var_os(PROBE_VAR).is_some_and(|v| v == "1") && !guard.seen.is_empty() {
        // Another dockroute is probing us: say who we are so it skips us.
        output::report(&format!(
            "{DOCKROUTE_MARKER} {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return Ok(0);
    }
    guard.check_hops()?;
    crate::output::logging::init();
    let inv = Invocation::parse(args);
    // A plain `Other` call usually never gets here: the lean pass-through
    // (crate::fast_path) execs it before dockroute's runtime starts. A command this branch
    // treats differently must be listed in fast_path::FULL_PATH_COMMANDS.
    if inv.kind == CommandKind::Other {
        let first = match discovery::first_client(std::env::var_os("PATH").as_deref(), &guard) {
            Ok(first) => first,
            // Only with no client at all: `login`/`logout` are answered here.
            Err(e) => return builtin_or(&inv, e),
        };
        let facts = Facts {
            clients: vec![Client {
                path: first.path,
                version: None,
                problem: None,
                mounted: false,
                buildx: false,
            }],
            ..Facts::default()
        };
        let plan = decide::decide(&inv, &facts)?;
        return Err(crate::exec::exec(&plan, &guard));
    }
    crate::output::redact::register_call(&inv, &|k| crate::route::secrets::looks_secret(k, &[]));
    let g = gather::gather(&inv, &guard, false)?;
    for bad in &g.settings.bad {
        output::notice(&bad.to_string());
    }
    let plan = match decide::decide(&inv, &g.facts) {
        // No docker client at all is only an error for calls that need one.
        Err(crate::error::Error::NoClient { .. }) => return Err(g.search.into_error()),
        other => other?,
    };
    tracing::debug!(
        route = plan.route.name(),
        program = %plan.program.display(),
        argv = ?crate::output::redact::argv(
            &plan
                .argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        ),
        env_set = ?plan.env_set,
        env_unset = ?plan.env_unset,
        builder = ?plan.builder.as_ref().and_then(|b| b.builder),
        reason = plan.reason.as_deref().unwrap_or("none"),
        "decided"
    );
    announce(
        &plan,
        &inv,
        g.facts.clients.first().map(|c| c.path.as_path()),
    );
    if plan.needs_supervisor() {
        crate::exec::run_supervised(&plan, &guard)
    } else {
        Err(crate::exec::exec(&plan, &guard))
    }
}

/// With no docker client: runs the call dockroute answers itself ([`Route::Builtin`]),
/// else fails with `no_client`.
fn builtin_or(inv: &Invocation, no_client: crate::error::Error) -> Result<u8> {
    match decide::decide(inv, &Facts::default()) {
        Ok(plan) if plan.route == Route::Builtin => {
            tracing::debug!(route = plan.route.name(), command = %plan.command, "decided");
            crate::registry::login::run(inv)
        }
        _ => Err(no_client),
    }
}

/// The one line a reroute prints, then one per notice.
pub fn announce(plan: &Plan, inv: &Invocation, first: Option<&std::path::Path>) {
    if plan.is_reroute(inv, first) {
        output::notice(&reroute_line(plan));
    }
    for n in &plan.notices {
        output::notice(n);
    }
}

/// `route=mounted client=/usr/bin/docker (20.10.24, bind-mounted) …: <why>; …`
#[must_use]
pub fn reroute_line(plan: &Plan) -> String {
    let mut env: Vec<String> = plan
        .env_set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.extend(plan.env_unset.iter().map(|k| format!("-{k}")));
    let env = if env.is_empty() {
        String::new()
    } else {
        format!(" with {}", env.join(" "))
    };
    let builder = plan
        .builder
        .as_ref()
        .map_or_else(String::new, |b| match b.builder {
            Some(builder) => format!(" on {} ({})", builder.describe(), b.why),
            None => String::new(),
        });
    format!(
        "`docker {}` routed ({}) to {} ({}){env}{builder}, because: {} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line",
        plan.command,
        plan.route.name(),
        plan.program.display(),
        plan.runner(),
        plan.reason.as_deref().unwrap_or("forced"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::plan::{Builder, BuilderChoice, Route};

    /// One line, naming the client and its version, the route, the builder and why, the
    /// reason in the runtime's own words, and how to turn it off.
    #[test]
    fn the_reroute_line_says_where_why_and_how_to_turn_it_off() {
        let denial = "authorization denied by plugin pipelines: --privileged=true is not allowed";
        let plan = Plan {
            route: Route::Mounted,
            command: "build".into(),
            program: "/usr/bin/docker".into(),
            argv: vec!["/usr/bin/docker".into(), "build".into(), ".".into()],
            env_set: vec![("DOCKER_BUILDKIT".into(), "1".into())],
            env_unset: Vec::new(),
            client: Some(crate::route::facts::Client {
                path: "/usr/bin/docker".into(),
                version: Some(semver::Version::new(20, 10, 24)),
                problem: None,
                mounted: true,
                buildx: false,
            }),
            reason: Some(denial.into()),
            builder: Some(BuilderChoice {
                builder: Some(Builder::DaemonBuildKit),
                why: "`--secret` needs BuildKit".into(),
                set_by_route: true,
            }),
            notices: Vec::new(),
            load: None,
            then: Vec::new(),
            image_id: None,
            supervised: false,
        };
        let line = reroute_line(&plan);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            format!(
                "`docker build` routed (mounted) to /usr/bin/docker (20.10.24, bind-mounted) with DOCKER_BUILDKIT=1 on the daemon's embedded BuildKit (`--secret` needs BuildKit), because: {denial} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line"
            )
        );
    }
}
