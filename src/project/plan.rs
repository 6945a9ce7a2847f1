//! A resolved project's builds, routed: each target becomes its `docker build`
//! ([`super::build_argv`]) and goes through [`crate::route::decide::decide`] exactly as
//! that `docker build` typed by hand would (mounted, legacy with its Dockerfile scan,
//! remote, daemonless; the build flag table), with the target's own Dockerfile scan.
//! Pure, like `decide`: the facts (the printer's targets, the scans, which images the
//! daemon has) were gathered by [`crate::probe::project`].
//!
//! Invariants: a target another one depends on (`contexts = { x = "target:y" }`,
//! compose `additional_contexts: service:…`, a Dockerfile `FROM` another target's image)
//! builds first; a cycle, or anything a target's route cannot express, is refused before
//! anything runs, naming the target and the field.

use crate::docker::args::Invocation;
use crate::error::{Error, Result};
use crate::project::build_argv::{build_args, context_target, field_of};
use crate::project::compose_call::{ProjectCall, Sub};
use crate::route::facts::{Client, Facts, ProjectFacts, ProjectTarget};
use crate::route::plan::{Plan, ProjectPlan, Route, TargetPlan};

/// At most this many builds run at once. compose (`--parallel` unset) and bake start every
/// build at once; the work is the daemon's, each client process is light, so the bound
/// only keeps a very large project from starting dozens of clients together.
pub const MAX_PARALLEL: usize = 8;

/// The project's plan: its builds, then (for `up`/`create`/`run`) compose itself, told
/// not to build. `None` when there is no resolved project to plan (the caller keeps
/// today's route).
///
/// # Errors
/// The printer's own failure (its message and exit code); a refusal naming the target
/// and the field; a dependency cycle.
pub fn plan(
    inv: &Invocation,
    facts: &Facts,
    call: &ProjectCall,
    first: &Client,
    reason: Option<String>,
) -> Option<Result<Plan>> {
    match facts.project.as_ref()? {
        ProjectFacts::PrinterFailed {
            printer,
            code,
            message,
        } => Some(Err(Error::Printer {
            printer: printer.clone(),
            code: *code,
            message: message.clone(),
        })),
        ProjectFacts::Unavailable { .. } => None,
        ProjectFacts::Resolved { printer, targets } => {
            Some(resolved(inv, facts, call, first, reason, printer, targets))
        }
    }
}

fn resolved(
    inv: &Invocation,
    facts: &Facts,
    call: &ProjectCall,
    first: &Client,
    reason: Option<String>,
    printer: &str,
    all: &[ProjectTarget],
) -> Result<Plan> {
    let targets: Vec<_> = all.iter().map(|t| t.target.clone()).collect();
    // `up`/`create`/`run` build only what compose would: every target under `--build`,
    // else those whose image the daemon lacks.
    let (chosen, skipped): (Vec<usize>, Vec<usize>) =
        (0..all.len()).partition(|i| call.forces_build() || all[*i].image_present != Some(true));
    let mut plans = Vec::with_capacity(chosen.len());
    let mut notices = Vec::new();
    for &i in &chosen {
        let t = &all[i];
        let name = &t.target.name;
        let args = build_args(inv.global_args(), &t.target, &targets)?;
        let target_inv = Invocation::parse(args);
        let target_facts = Facts {
            dockerfile: t.dockerfile.clone(),
            project: None,
            ..facts.clone()
        };
        let plan = crate::route::decide::decide(&target_inv, &target_facts)
            .map_err(|e| in_target(e, name))?;
        notices.extend(plan.notices.iter().map(|n| format!("[{name}] {n}")));
        let mut after = Vec::new();
        let deps = t
            .target
            .contexts
            .iter()
            .filter_map(|(_, v)| context_target(v))
            .chain(t.from_targets.iter().map(String::as_str));
        for dep in deps {
            // A dependency not being built is there already (its image is present).
            if let Some(j) = chosen.iter().position(|&c| all[c].target.name == dep) {
                if !after.contains(&j) && all[chosen[j]].target.name != *name {
                    after.push(j);
                }
            }
        }
        plans.push(TargetPlan {
            name: name.clone(),
            plan,
            after,
        });
    }
    refuse_cycle(&plans)?;
    let then = call.after_build(inv);
    let route = plans.first().map_or(Route::Pass, |p| p.plan.route);
    let mut argv = vec![first.path.clone().into_os_string()];
    argv.extend(then.clone().unwrap_or_else(|| inv.args.clone()));
    Ok(Plan {
        route,
        command: call.sub.words().into(),
        program: first.path.clone(),
        argv,
        env_set: Vec::new(),
        env_unset: Vec::new(),
        client: Some(first.clone()),
        reason,
        builder: None,
        notices,
        load: None,
        then: Vec::new(),
        image_id: None,
        supervised: false,
        project: Some(Box::new(ProjectPlan {
            printer: printer.to_string(),
            parallel: plans.len().clamp(1, MAX_PARALLEL),
            targets: plans,
            skipped: skipped
                .into_iter()
                .map(|i| {
                    (
                        all[i].target.name.clone(),
                        "its image is in the daemon already".to_string(),
                    )
                })
                .collect(),
            then_run: then.is_some() && call.sub != Sub::Build,
        })),
    })
}

/// A target's refusal, saying which target and (for a flag the project wrote) which field.
fn in_target(e: Error, name: &str) -> Error {
    match e {
        Error::Refused { flag, why, fix } => {
            let head = flag.split([' ', '=']).next().unwrap_or("");
            let flag = match field_of(head) {
                Some(field) => format!("target `{name}`, field `{field}` ({flag})"),
                None => format!("target `{name}`: {flag}"),
            };
            Error::Refused { flag, why, fix }
        }
        Error::NeedsBuildKit { findings, why, fix } => Error::NeedsBuildKit {
            findings,
            why: format!("target `{name}`: {why}"),
            fix,
        },
        other => other,
    }
}

/// Refuses targets that wait for each other (bake refuses them too, but a Dockerfile
/// `FROM` loop is only seen here).
fn refuse_cycle(plans: &[TargetPlan]) -> Result<()> {
    let mut done = vec![false; plans.len()];
    loop {
        let ready: Vec<usize> = (0..plans.len())
            .filter(|&i| !done[i] && plans[i].after.iter().all(|&d| done[d]))
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done[i] = true;
        }
    }
    let stuck: Vec<&str> = (0..plans.len())
        .filter(|&i| !done[i])
        .map(|i| plans[i].name.as_str())
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        flag: format!("targets `{}`", stuck.join("`, `")),
        why: "they depend on each other (through `contexts`, `additional_contexts` or a Dockerfile `FROM`), so none can build first".into(),
        fix: "break the cycle in the project".into(),
    })
}
