//! Shim mode: dockroute invoked as `docker` (or as `dockroute exec --`).
//!
//! The hot path — any call that is not build-like or compose — is: check the hop counter,
//! parse the global flags, find the first real client, exec it. No probe, no cache, no
//! logger unless `DOCKROUTE_LOG` is set. Routed calls gather facts, decide, print the
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
use crate::route::decide::{self, Plan};
use crate::route::facts::{Client, Facts};

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
    if inv.kind == CommandKind::Other {
        let first = discovery::first_client(std::env::var_os("PATH").as_deref(), &guard)?;
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
    crate::output::redact::register_call(&inv.args);
    let g = gather::gather(&inv, &guard, false)?;
    if g.facts.clients.is_empty() {
        return Err(g.search.into_error());
    }
    for bad in &g.settings.bad {
        output::notice(&bad.to_string());
    }
    let plan = decide::decide(&inv, &g.facts)?;
    announce(&plan);
    if plan.then.is_empty() {
        Err(crate::exec::exec(&plan, &guard))
    } else {
        crate::exec::run_in_sequence(&plan, &guard)
    }
}

/// The one line a reroute prints, then one per notice.
pub fn announce(plan: &Plan) {
    if plan.is_reroute() {
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
    format!(
        "`docker {}` routed ({}) to {} ({}){env}, because: {} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line",
        plan.command,
        plan.route.name(),
        plan.program.display(),
        plan.client,
        if plan.reason.is_empty() { "forced" } else { &plan.reason },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::decide::Route;

    /// Issue 4 §3: one line, naming the client and its version, the route, the reason in
    /// the runtime's own words, and how to turn it off.
    #[test]
    fn the_reroute_line_says_where_why_and_how_to_turn_it_off() {
        let denial = "authorization denied by plugin pipelines: --privileged=true is not allowed";
        let plan = Plan {
            route: Route::Mounted,
            program: "/usr/bin/docker".into(),
            argv: vec!["/usr/bin/docker".into(), "build".into(), ".".into()],
            env_set: vec![("DOCKER_BUILDKIT".into(), "1".into())],
            env_unset: Vec::new(),
            reason: denial.into(),
            notices: Vec::new(),
            then: Vec::new(),
            client: "20.10.24, bind-mounted".into(),
            changed: true,
            command: "build".into(),
        };
        let line = reroute_line(&plan);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            format!(
                "`docker build` routed (mounted) to /usr/bin/docker (20.10.24, bind-mounted) with DOCKER_BUILDKIT=1, because: {denial} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line"
            )
        );
    }
}
