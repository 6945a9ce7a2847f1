//! `dockroute explain [--json] -- <docker args>`: the plan the shim would run, printed
//! instead of run. It gathers the same facts and calls the same `decide`; arguments are
//! printed through the redaction point, so build-arg values never show.

use std::ffi::OsString;

use crate::cli::plan_json::{DecisionJson, Explained, SCHEMA_VERSION};
use crate::docker::args::{CommandKind, Invocation};
use crate::error::Result;
use crate::guard::SelfGuard;
use crate::output;
use crate::output::redact;
use crate::prepare::{prepare, Prepared, Probe};
use crate::probe::gather::Gathered;
use crate::route::mode::Route;
use crate::route::plan::{AfterAction, Plan};

fn lossy(v: &[OsString]) -> Vec<String> {
    v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

fn shown(argv: &[OsString]) -> String {
    redact::argv(&lossy(argv)).join(" ")
}

/// Runs `explain`.
///
/// # Errors
/// None today: a refusal is what `explain` reports, with exit code 0.
pub(crate) fn run(args: Vec<OsString>, as_json: bool) -> Result<u8> {
    let guard = SelfGuard::from_env();
    let inv = Invocation::parse(args);
    let Prepared {
        gathered: g,
        decision,
    } = prepare(&inv, &guard, Probe::AsNeeded)?;
    let first = g.facts.clients.first().map(|c| c.path.as_path());
    if as_json {
        let v = Explained {
            schema_version: SCHEMA_VERSION,
            decision: DecisionJson::new(&decision, &inv, first),
            runtime: g.runtime.clone(),
            settings_not_understood: g.settings.bad.clone(),
        };
        let json = serde_json::to_string(&v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        output::report(&format!("{json}\n"));
        return Ok(0);
    }
    output::report(&text(&inv, &g, &decision));
    Ok(0)
}

/// A refusal in words: the error, and its fix when it has one (a printer's own failure,
/// `no such service: x`, has none: its message is the tool's).
fn refusal_text(call: &str, e: &crate::error::Error) -> String {
    let mut s = format!(
        "`{call}` would be refused with exit code {}: {e}\n",
        e.exit_code()
    );
    if let Some(fix) = e.hint() {
        s.push_str(&format!("  fix: {fix}\n"));
    }
    s
}

/// The plan (or refusal) in words.
fn text(inv: &Invocation, g: &Gathered, decision: &Result<Plan>) -> String {
    let call = format!("docker {}", shown(&inv.args));
    let plan = match decision {
        Ok(plan) => plan,
        Err(e) => return refusal_text(&call, e),
    };
    if let Some(project) = &plan.project {
        return project_text(&call, g, plan, project);
    }
    let mut s = if plan.route == Route::Pass && plan.notices.is_empty() {
        let why = if inv.kind == CommandKind::Other {
            "it is not a build or compose call, so nothing is probed".to_string()
        } else {
            match &g.runtime {
                Some(r) => format!("the runtime is {} ({})", r.runtime.name(), r.runtime.why()),
                None => format!("DOCKROUTE_MODE={}", g.facts.mode.name()),
            }
        };
        format!(
            "`{call}` passes through unchanged to {} ({}): {why}.\n",
            plan.program.display(),
            plan.runner()
        )
    } else {
        let who = match &plan.client {
            Some(_) => format!("client {}", plan.runner()),
            None => plan.runner(),
        };
        format!(
            "`{call}` would run as `{}` (route {}, {who}).\n",
            shown(&plan.argv),
            plan.route.name(),
        )
    };
    if let Some(b) = &plan.builder {
        match b.builder {
            Some(builder) => {
                s.push_str(&format!("  builder: {} — {}\n", builder.describe(), b.why))
            }
            None => s.push_str(&format!("  builder: none — {}\n", b.why)),
        }
    }
    if let Some(w) = &plan.warm {
        s.push_str(&format!(
            "  warm rebuild (Bitbucket's docker cache; DOCKROUTE_WARM=off turns it off): {}\n",
            w.describe()
        ));
    }
    for (k, v) in &plan.env_set {
        s.push_str(&format!("  environment: {k}={v}\n"));
    }
    for k in &plan.env_unset {
        s.push_str(&format!("  environment: {k} removed\n"));
    }
    if let Some(load) = &plan.load {
        s.push_str(&format!("  piped into: `{}`\n", shown(&load.argv)));
    }
    for t in &plan.then {
        s.push_str(&format!("  then: `{}`\n", shown(&t.argv)));
    }
    if let Some(path) = plan.image_id.as_ref().and_then(|i| i.write_to.as_ref()) {
        s.push_str(&format!("  then: the image ID into {}\n", path.display()));
    }
    if let Some(dir) = &plan.cwd {
        s.push_str(&format!(
            "  in: {} (where the recorded build ran)\n",
            dir.display()
        ));
    }
    match plan.after.as_ref().map(|a| &a.action) {
        Some(AfterAction::Record { names, .. }) => s.push_str(&format!(
            "  then: recorded as {} for `docker tag`/`push`/`save` with no daemon\n",
            names.join(", ")
        )),
        Some(AfterAction::Compare(_)) => {
            s.push_str("  then: the digest compared with the recorded one (a difference is said)\n")
        }
        None => {}
    }
    s.push_str(&closing_lines(plan, g));
    s
}

/// A project's first line: how many targets it builds and how many at once, or that it
/// builds nothing (`compose up` with every image in the daemon).
fn project_headline(call: &str, project: &crate::route::plan::ProjectPlan, then: &str) -> String {
    match project.targets.len() {
        0 => format!(
            "`{call}` would build nothing, resolved with `{}`{then}.\n",
            project.printer
        ),
        n => format!(
            "`{call}` would build {n} target{} resolved with `{}` (at most {} at once){then}.\n",
            if n == 1 { "" } else { "s" },
            project.printer,
            project.parallel,
        ),
    }
}

/// A project's plan: one line per target with its route, client and builder.
fn project_text(
    call: &str,
    g: &Gathered,
    plan: &Plan,
    project: &crate::route::plan::ProjectPlan,
) -> String {
    let then = if project.then_run {
        format!(", then run `{}`", shown(&plan.argv))
    } else {
        String::new()
    };
    let mut s = project_headline(call, project, &then);
    for t in &project.targets {
        let p = &t.plan;
        let builder = p
            .builder
            .as_ref()
            .map_or_else(String::new, |b| match b.builder {
                Some(builder) => format!("; builder: {} — {}", builder.describe(), b.why),
                None => format!("; builder: none — {}", b.why),
            });
        let env: String = p.env_set.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let env = if env.is_empty() {
            env
        } else {
            format!(" with{env}")
        };
        let after = if t.after.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = t
                .after
                .iter()
                .map(|&i| project.targets[i].name.as_str())
                .collect();
            format!("; after {}", names.join(", "))
        };
        s.push_str(&format!(
            "  target {}: `{}` (route {}, client {}{env}{builder}{after})\n",
            t.name,
            shown(&p.argv),
            p.route.name(),
            p.runner(),
        ));
    }
    for (name, why) in &project.skipped {
        s.push_str(&format!("  not built: {name} — {why}\n"));
    }
    s.push_str(&closing_lines(plan, g));
    s
}

/// The lines every explanation ends with: why, each notice, each setting not understood.
fn closing_lines(plan: &Plan, g: &Gathered) -> String {
    let mut s = String::new();
    if let Some(reason) = &plan.reason {
        s.push_str(&format!("  because: {reason}\n"));
    }
    for n in &plan.notices {
        s.push_str(&format!("  note: {n}\n"));
    }
    for bad in &g.settings.bad {
        s.push_str(&format!("  note: {bad}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_project_with_nothing_to_build_says_so() {
        let mut project = crate::route::plan::ProjectPlan {
            printer: "docker compose build --print".into(),
            targets: Vec::new(),
            skipped: vec![("app".into(), "its image is in the daemon already".into())],
            parallel: 1,
            then_run: true,
        };
        let then = ", then run `docker compose up --no-build -d`";
        assert_eq!(
            project_headline("docker compose up -d", &project, then),
            "`docker compose up -d` would build nothing, resolved with `docker compose build --print`, then run `docker compose up --no-build -d`.\n"
        );
        project.targets.push(crate::route::plan::TargetPlan {
            name: "app".into(),
            plan: Plan::new(
                Route::Mounted,
                "build",
                "/usr/bin/docker".into(),
                Vec::new(),
            ),
            after: Vec::new(),
        });
        assert!(project_headline("docker compose up -d", &project, then)
            .starts_with("`docker compose up -d` would build 1 target resolved with `docker compose build --print` (at most 1 at once)"));
    }

    #[test]
    fn a_refusal_without_a_fix_prints_no_empty_fix_line() {
        let printer = Error::Printer {
            printer: "docker compose build --print nosuch".into(),
            code: 1,
            message: b"no such service: nosuch\n".to_vec(),
        };
        let t = refusal_text("docker compose build nosuch", &printer);
        assert!(
            t.starts_with("`docker compose build nosuch` would be refused with exit code 1: "),
            "{t}"
        );
        assert!(!t.contains("fix:"), "{t}");
        let refused = Error::Refused {
            flag: "--squash".into(),
            why: "no equivalent".into(),
            fix: "drop the flag".into(),
        };
        let t = refusal_text("docker build --squash .", &refused);
        assert!(t.ends_with("\n  fix: drop the flag\n"), "{t}");
    }
}
