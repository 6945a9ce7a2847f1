//! `dockroute doctor [--json]`: every client, what `docker` resolves to, the runtime,
//! and the route a build, a compose call and any other call would take now — each line a
//! person may act on comes with its fix.

use std::ffi::OsString;

use serde_json::{json, Value};

use crate::args::Invocation;
use crate::cli::CliResult;
use crate::decide;
use crate::discovery::{self, SelfGuard};
use crate::gather::{self, Gathered};
use crate::output;

/// The sample calls whose routes doctor shows.
const SAMPLES: [&[&str]; 3] = [&["build", "."], &["compose", "up", "--build"], &["ps"]];

struct Report {
    json: Value,
    text: String,
    problems: Vec<String>,
}

fn build_report(g: &Gathered) -> Report {
    let me = std::env::current_exe().ok();
    let guard = SelfGuard::from_env();
    let resolved = discovery::shell_resolution(std::env::var_os("PATH").as_deref());
    let resolved_is_us = resolved.as_ref().is_some_and(|p| {
        std::fs::metadata(p).ok().is_some_and(|m| {
            use std::os::unix::fs::MetadataExt;
            guard.is_dockroute(discovery::FileId {
                dev: m.dev(),
                ino: m.ino(),
            })
        })
    });
    let mut problems = Vec::new();
    let mut text = format!(
        "dockroute {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        me.as_ref()
            .map_or_else(|| "?".into(), |p| p.display().to_string())
    );
    match &resolved {
        Some(p) if resolved_is_us => {
            text.push_str(&format!(
                "docker resolves to: {} = dockroute (ok)\n",
                p.display()
            ));
        }
        Some(p) => {
            text.push_str(&format!(
                "docker resolves to: {} — NOT dockroute\n",
                p.display()
            ));
            problems.push(format!(
                "`docker` resolves to {}, not dockroute: put dockroute's directory first on PATH (e.g. `export PATH=/usr/local/sbin:$PATH`, or `ENV PATH=/usr/local/sbin:$PATH` in a Dockerfile), or rerun install.sh",
                p.display()
            ));
        }
        None => {
            text.push_str("docker resolves to: nothing on PATH\n");
            problems.push("no `docker` on PATH at all: rerun install.sh".into());
        }
    }
    text.push_str("clients (PATH order):\n");
    if g.facts.clients.is_empty() {
        text.push_str("  none\n");
        problems.push(g.search.clone().into_error().to_string());
    }
    for (i, c) in g.facts.clients.iter().enumerate() {
        text.push_str(&format!(
            "  {}. {}  {}  buildx: {}  bind-mounted: {}\n",
            i + 1,
            c.path.display(),
            c.version.as_ref().map_or_else(
                || format!("version unknown ({})", c.problem.as_deref().unwrap_or("?")),
                ToString::to_string
            ),
            if c.buildx { "yes" } else { "no" },
            if c.mounted { "yes" } else { "no" },
        ));
    }
    if !g.search.ignored.is_empty() {
        text.push_str(&format!(
            "PATH entries never searched (relative or empty): {}\n",
            g.search
                .ignored
                .iter()
                .map(|e| format!("{:?}", e.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(rt) = &g.runtime {
        text.push_str(&format!(
            "runtime: {} — {} ({}{})\n",
            rt.runtime.name(),
            rt.runtime.why(),
            rt.source,
            rt.endpoint
                .as_ref()
                .map(|e| format!(", endpoint {e}"))
                .unwrap_or_default()
        ));
        text.push_str(&format!(
            "Bitbucket Pipelines step: {}\n",
            if rt.bitbucket { "yes" } else { "no" }
        ));
    }
    let mut routes = Vec::new();
    if !g.facts.clients.is_empty() {
        text.push_str("routes now:\n");
        for sample in SAMPLES {
            let inv = Invocation::parse(sample.iter().map(OsString::from).collect());
            let call = format!("docker {}", sample.join(" "));
            match decide::decide(&inv, &g.facts) {
                Ok(plan) => {
                    let env: Vec<String> = plan
                        .env_set
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .chain(plan.env_unset.iter().map(|k| format!("-{k}")))
                        .collect();
                    text.push_str(&format!(
                        "  {call:<28} → {} via {} ({}){}\n",
                        plan.route.name(),
                        plan.program.display(),
                        plan.client,
                        if env.is_empty() {
                            String::new()
                        } else {
                            format!(" with {}", env.join(" "))
                        }
                    ));
                    routes.push(json!({"call": call, "plan": crate::explain::plan_json(&plan)}));
                }
                Err(e) => {
                    text.push_str(&format!("  {call:<28} → refused: {e}\n"));
                    routes.push(json!({"call": call, "refused": e.to_string()}));
                }
            }
        }
    }
    let cache = crate::cache::Cache::location();
    text.push_str(&format!(
        "cache: {}\n",
        cache
            .as_ref()
            .map_or_else(|| "none (no HOME)".into(), |p| p.display().to_string())
    ));
    for p in &problems {
        text.push_str(&format!("problem: {p}\n"));
    }
    let json = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "executable": me.map(|p| p.display().to_string()),
        "docker_resolves_to": resolved.map(|p| p.display().to_string()),
        "docker_is_dockroute": resolved_is_us,
        "clients": g.facts.clients,
        "ignored_path_entries": g.search.ignored.iter().map(|e| e.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "runtime": g.runtime,
        "buildx_plugin": g.buildx_plugin.as_ref().map(|p| p.display().to_string()),
        "routes": routes,
        "cache_dir": cache.map(|p| p.display().to_string()),
        "problems": problems,
    });
    Report {
        json,
        text,
        problems,
    }
}

/// Runs `doctor`: 0 when healthy, 1 when something needs a person.
pub fn run(as_json: bool) -> CliResult {
    let guard = SelfGuard::from_env();
    crate::redact::register_call(&[]);
    let inv = Invocation::parse(vec!["build".into(), ".".into()]);
    let g = gather::gather(&inv, &guard, true)?;
    let r = build_report(&g);
    if as_json {
        output::report(&format!("{}\n", r.json));
    } else {
        output::report(&r.text);
    }
    Ok(u8::from(!r.problems.is_empty()))
}
