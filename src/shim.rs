//! Shim mode: dockroute invoked as `docker` (or as `dockroute exec --`).
//!
//! The hot path — any call that is not build-like or compose — is: check the hop counter,
//! parse the global flags, find the first real client, exec it. No probe, no cache, no
//! logger unless `DOCKROUTE_LOG` is set. Most such calls never reach this module: the
//! lean pass-through (`crate::fast_path`) takes them before dockroute's runtime starts,
//! and this path runs for the ones it leaves (`DOCKROUTE_LOG` set, no `/proc`, …).
//! Routed calls gather facts, decide, print the reroute line, and exec (or run the
//! `--push` sequence).

use std::ffi::OsString;

use crate::docker::args::{CommandKind, Invocation};
use crate::docker::version::DOCKROUTE_MARKER;
use crate::error::Result;
use crate::guard::SelfGuard;
use crate::guard::PROBE_VAR;
use crate::output;
use crate::prepare::{prepare, Prepared, Probe};
use crate::probe::discovery;
use crate::route::decide;
use crate::route::facts::{Client, Facts};
use crate::route::mode::Route;
use crate::route::plan::Plan;

/// Runs a docker call; returns the exit code when it does not exec.
#[must_use]
pub(crate) fn run(args: Vec<OsString>) -> u8 {
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
    if let CommandKind::Image(op) = inv.kind {
        return image_call(&inv, op, &guard);
    }
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
    let Prepared {
        gathered: g,
        decision,
    } = prepare(&inv, &guard, Probe::AsNeeded)?;
    for bad in &g.settings.bad {
        output::notice(&bad.to_string());
    }
    let plan = decision?;
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
    if plan.project.is_some() {
        crate::exec::run_project(&plan, &guard)
    } else if plan.needs_supervisor() {
        crate::exec::run_supervised(&plan, &guard)
    } else {
        Err(crate::exec::exec(&plan, &guard))
    }
}

/// With no docker client: runs the call dockroute answers itself ([`Route::Builtin`]);
/// in a BuildKit pod a call that needs a container runtime fails with exit 125; else
/// fails with `no_client`.
fn builtin_or(inv: &Invocation, no_client: crate::error::Error) -> Result<u8> {
    let facts = Facts {
        buildkit: buildkit_facts(),
        ..Facts::default()
    };
    match decide::decide(inv, &facts) {
        Ok(plan) if plan.route == Route::Builtin => {
            tracing::debug!(route = plan.route.name(), command = %plan.command, "decided");
            crate::registry::login::run(inv)
        }
        Err(e @ crate::error::Error::NoDaemon { .. }) => Err(e),
        _ => Err(no_client),
    }
}

fn buildkit_facts() -> crate::route::facts::BuildKitFacts {
    crate::probe::buildkit::facts(
        &crate::probe::settings::Settings::from_env(),
        std::env::var_os("PATH").as_deref(),
    )
}

/// An image command (`tag`, `push`, `save`, `images`, `rmi`, `image inspect`). With a
/// client on PATH it passes straight through unless the record store names its image;
/// only then is the daemon asked (through the probe cache), and the records answer
/// when it does not. With no client the records answer (in a BuildKit pod, or when the
/// store holds records), else it fails with `no_client`.
fn image_call(inv: &Invocation, op: crate::docker::args::ImageOp, guard: &SelfGuard) -> Result<u8> {
    use crate::route::image_routes;
    let first = discovery::first_client(std::env::var_os("PATH").as_deref(), guard);
    let records = crate::images::store::Store::from_env()
        .map(|s| s.read())
        .unwrap_or_default();
    let mut facts = Facts::default();
    match first {
        Ok(first) => {
            let client = Client {
                path: first.path,
                version: None,
                problem: None,
                mounted: false,
                buildx: false,
            };
            // The store does not name the image (no store at all, usually): straight
            // through, nothing else read.
            if !image_routes::store_names_call(inv, op, &records.records) {
                return Err(crate::exec::exec(
                    &decide::pass_plan_for(inv, &client),
                    guard,
                ));
            }
            let settings = crate::probe::settings::Settings::from_env();
            if settings.mode == crate::route::mode::Mode::Force(Route::Pass) {
                return Err(crate::exec::exec(
                    &decide::pass_plan_for(inv, &client),
                    guard,
                ));
            }
            let cache = crate::probe::cache::Cache::open(settings.cache_dir.as_deref());
            let report = crate::probe::runtime::learn(
                inv,
                std::slice::from_ref(&client),
                cache.as_ref(),
                &settings,
                guard,
            );
            facts.clients = vec![client];
            facts.runtime = Some(report.runtime);
            facts.buildkit = buildkit_facts();
        }
        Err(e) => {
            facts.buildkit = buildkit_facts();
            if records.records.is_empty() && !image_routes::buildkit_pod(&facts) {
                return Err(e);
            }
        }
    }
    if let Some(n) = &records.notice {
        output::notice(n);
    }
    facts.records = records.records;
    facts.scratch = crate::probe::gather::scratch_path();
    facts.cwd = std::env::current_dir().ok();
    let plan = decide::decide(inv, &facts)?;
    tracing::debug!(
        route = plan.route.name(),
        program = %plan.program.display(),
        reason = plan.reason.as_deref().unwrap_or("none"),
        "decided"
    );
    match plan.route {
        Route::Records if plan.program.as_os_str().is_empty() => {
            crate::images::commands::answer(inv, op)
        }
        Route::Records => {
            announce(&plan, inv, None);
            crate::exec::run_supervised(&plan, guard)
        }
        _ => Err(crate::exec::exec(&plan, guard)),
    }
}

/// The one line a reroute prints, then one per notice.
pub(crate) fn announce(plan: &Plan, inv: &Invocation, first: Option<&std::path::Path>) {
    if let Some(project) = &plan.project {
        output::notice(&project_line(plan, project));
        for t in &project.targets {
            output::notice(&format!("[{}] {}", t.name, reroute_line(&t.plan)));
        }
        for n in &plan.notices {
            output::notice(n);
        }
        return;
    }
    if plan.is_reroute(inv, first) {
        output::notice(&reroute_line(plan));
    }
    for n in &plan.notices {
        output::notice(n);
    }
}

/// The first line of a project's reroute: what resolved it, what is built (at most how
/// many at once), what is not, and what runs after.
#[must_use]
pub(crate) fn project_line(plan: &Plan, project: &crate::route::plan::ProjectPlan) -> String {
    let names: Vec<&str> = project.targets.iter().map(|t| t.name.as_str()).collect();
    let building = if names.is_empty() {
        "nothing to build".to_string()
    } else {
        format!(
            "building {} target{} ({}) through the routes `docker build` takes, at most {} at once",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            project.parallel
        )
    };
    let mut s = format!(
        "`docker {}`: resolved with `{}`; {building}",
        plan.command, project.printer,
    );
    for (name, why) in &project.skipped {
        s.push_str(&format!("; not building {name}: {why}"));
    }
    if project.then_run {
        let shown: Vec<String> = plan
            .argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        s.push_str(&format!(
            "; then `docker {}`",
            crate::output::redact::argv(&shown).join(" ")
        ));
    }
    s.push_str(&format!(
        ", because: {}",
        plan.reason.as_deref().unwrap_or("forced")
    ));
    s
}

/// `route=mounted client=/usr/bin/docker (20.10.24, bind-mounted) …: <why>; …`
#[must_use]
pub(crate) fn reroute_line(plan: &Plan) -> String {
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
    let warm = plan.warm.as_ref().map_or_else(String::new, |w| {
        format!(
            ", warm through the docker cache: {} (DOCKROUTE_WARM=off turns it off)",
            w.describe()
        )
    });
    format!(
        "`docker {}` routed ({}) to {} ({}){env}{builder}{warm}, because: {} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line",
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
    use crate::route::mode::Route;
    use crate::route::plan::{Builder, BuilderChoice};

    /// One line, naming the client and its version, the route, the builder and why, the
    /// reason in the runtime's own words, and how to turn it off.
    #[test]
    fn the_reroute_line_says_where_why_and_how_to_turn_it_off() {
        let denial = "authorization denied by plugin pipelines: --privileged=true is not allowed";
        let plan = Plan {
            env_set: vec![("DOCKER_BUILDKIT".into(), "1".into())],
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
            ..Plan::new(
                Route::Mounted,
                "build",
                "/usr/bin/docker".into(),
                vec!["/usr/bin/docker".into(), "build".into(), ".".into()],
            )
        };
        let line = reroute_line(&plan);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            format!(
                "`docker build` routed (mounted) to /usr/bin/docker (20.10.24, bind-mounted) with DOCKER_BUILDKIT=1 on the daemon's embedded BuildKit (`--secret` needs BuildKit), because: {denial} — DOCKROUTE_MODE=pass turns routing off, DOCKROUTE_QUIET=1 hides this line"
            )
        );
        let warm = Plan {
            warm: Some(crate::route::plan::Warm {
                inline_cache: true,
                cache_from: vec!["app:1".into()],
                stage_images: Vec::new(),
                kept: Vec::new(),
            }),
            ..plan
        };
        let line = reroute_line(&warm);
        assert!(
            line.contains("on the daemon's embedded BuildKit (`--secret` needs BuildKit), warm through the docker cache: BUILDKIT_INLINE_CACHE=1, --cache-from app:1 (DOCKROUTE_WARM=off turns it off), because: "),
            "{line}"
        );
    }
}
