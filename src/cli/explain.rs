//! `dockroute explain [--json] -- <docker args>`: the plan the shim would run, printed
//! instead of run. It gathers the same facts and calls the same `decide`.

use std::ffi::OsString;

use serde_json::{json, Value};

use crate::cli::CliResult;
use crate::docker::args::Invocation;
use crate::error::Error;
use crate::guard::SelfGuard;
use crate::output;
use crate::probe::gather;
use crate::route::decide::{self, Plan};

fn lossy(v: &[OsString]) -> Vec<String> {
    v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

/// The plan as a JSON object with SPEC's field names.
#[must_use]
pub fn plan_json(plan: &Plan) -> Value {
    json!({
        "route": plan.route.name(),
        "program": plan.program.display().to_string(),
        "argv": crate::output::redact::argv(&lossy(&plan.argv)),
        "env_set": plan.env_set.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "env_unset": plan.env_unset,
        "reason": plan.reason,
        "notices": plan.notices,
        "then": plan.then.iter().map(|a| crate::output::redact::argv(&lossy(a))).collect::<Vec<_>>(),
        "client": plan.client,
        "rerouted": plan.is_reroute(),
    })
}

fn refusal_json(e: &Error) -> Value {
    match e {
        Error::Refused { flag, why, fix } => json!({
            "route": "refuse", "flag": flag, "reason": why, "fix": fix, "exit_code": e.exit_code(),
        }),
        other => json!({
            "route": "error", "reason": other.to_string(), "fix": other.hint(), "exit_code": other.exit_code(),
        }),
    }
}

/// Runs `explain`.
pub fn run(args: Vec<OsString>, as_json: bool) -> CliResult {
    let guard = SelfGuard::from_env();
    let inv = Invocation::parse(args);
    crate::output::redact::register_call(&inv.args);
    let g = gather::gather(&inv, &guard, false)?;
    let decision = if g.facts.clients.is_empty() {
        Err(g.search.clone().into_error())
    } else {
        decide::decide(&inv, &g.facts)
    };
    if as_json {
        let mut v = match &decision {
            Ok(plan) => plan_json(plan),
            Err(e) => refusal_json(e),
        };
        if let Some(rt) = &g.runtime {
            v["runtime"] = serde_json::to_value(rt).unwrap_or(Value::Null);
        }
        output::report(&format!("{v}\n"));
        return Ok(0);
    }
    let call = format!(
        "docker {}",
        crate::output::redact::argv(&lossy(&inv.args)).join(" ")
    );
    let text = match &decision {
        Ok(plan) if plan.route == decide::Route::Pass && plan.notices.is_empty() => {
            let why = if inv.kind == crate::docker::args::CommandKind::Other {
                "it is not a build or compose call, so nothing is probed".to_string()
            } else {
                match &g.runtime {
                    Some(r) => format!("the runtime is {} ({})", r.runtime.name(), r.runtime.why()),
                    None => "DOCKROUTE_MODE=pass".to_string(),
                }
            };
            format!(
                "`{call}` passes through unchanged to {} ({}): {why}.\n",
                plan.program.display(),
                plan.client
            )
        }
        Ok(plan) => {
            let mut s = format!(
                "`{call}` would run as `{}` (route {}, client {}).\n",
                crate::output::redact::argv(&lossy(&plan.argv)).join(" "),
                plan.route.name(),
                plan.client
            );
            for (k, v) in &plan.env_set {
                s.push_str(&format!("  environment: {k}={v}\n"));
            }
            for k in &plan.env_unset {
                s.push_str(&format!("  environment: {k} removed\n"));
            }
            for t in &plan.then {
                s.push_str(&format!(
                    "  then: `{}`\n",
                    crate::output::redact::argv(&lossy(t)).join(" ")
                ));
            }
            if !plan.reason.is_empty() {
                s.push_str(&format!("  because: {}\n", plan.reason));
            }
            for n in &plan.notices {
                s.push_str(&format!("  note: {n}\n"));
            }
            s
        }
        Err(e) => format!(
            "`{call}` would be refused with exit code {}: {e}\n  fix: {}\n",
            e.exit_code(),
            e.hint().unwrap_or_default()
        ),
    };
    output::report(&text);
    Ok(0)
}
