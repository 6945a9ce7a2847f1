//! `dockroute doctor [--json]`: every client, what `docker` resolves to, the daemon and
//! the runtime, and the route a build, a compose call and any other call would take now.
//! It answers the seeds' questions directly — which docker runs my build and why, is
//! BuildKit on, is this runtime v2 or v3 — and every line a person may act on carries
//! its fix. Colour only on a terminal, and never with `NO_COLOR` set.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;

use serde_json::{json, Value};

use crate::args::Invocation;
use crate::cli::CliResult;
use crate::daemon;
use crate::decide::{self, Route};
use crate::discovery::{self, FileId, SelfGuard};
use crate::docker_config;
use crate::endpoint;
use crate::facts::Runtime;
use crate::gather::{self, Gathered};
use crate::output;

/// The sample calls whose routes doctor shows.
const SAMPLES: [&[&str]; 3] = [&["build", "."], &["compose", "up", "--build"], &["ps"]];

struct Paint(bool);

impl Paint {
    fn ok(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn bad(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn head(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn runtime_answer(rt: &Runtime, bitbucket: bool) -> String {
    match rt {
        Runtime::Restricted { .. } if bitbucket => {
            "Bitbucket runtime v2 (privileged containers are denied)".into()
        }
        Runtime::Restricted { .. } => {
            "restricted: privileged containers are denied (like Bitbucket runtime v2)".into()
        }
        Runtime::V3 { .. } => "Bitbucket runtime v3 (privileged containers allowed)".into(),
        Runtime::Open { .. } => "open: privileged containers are allowed (not Bitbucket v2)".into(),
        Runtime::NoDaemon { .. } => "no daemon reachable".into(),
        Runtime::Unknown { .. } => "unknown".into(),
    }
}

/// Runs `doctor`: 0 when healthy, 1 when something needs a person.
pub fn run(as_json: bool) -> CliResult {
    let guard = SelfGuard::from_env();
    crate::redact::register_call(&[]);
    let inv = Invocation::parse(vec!["build".into(), ".".into()]);
    let g = gather::gather(&inv, &guard, true)?;
    let paint = Paint(
        !as_json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    );
    let (text, json, problems) = report(&g, &guard, &paint);
    if as_json {
        output::report(&format!("{json}\n"));
    } else {
        output::report(&text);
    }
    Ok(u8::from(problems > 0))
}

#[allow(clippy::too_many_lines)]
fn report(g: &Gathered, guard: &SelfGuard, paint: &Paint) -> (String, Value, usize) {
    let mut problems: Vec<String> = Vec::new();
    let mut t = String::new();
    let me = std::env::current_exe().ok();
    t.push_str(&format!(
        "{} {} ({})\n",
        paint.head("dockroute"),
        env!("CARGO_PKG_VERSION"),
        me.as_ref()
            .map_or_else(|| "?".into(), |p| p.display().to_string())
    ));

    // Is `docker` dockroute?
    let resolved = discovery::shell_resolution(std::env::var_os("PATH").as_deref());
    let resolved_is_us = resolved.as_ref().is_some_and(|p| {
        std::fs::metadata(p).is_ok_and(|m| {
            guard.is_dockroute(FileId {
                dev: m.dev(),
                ino: m.ino(),
            })
        })
    });
    match &resolved {
        Some(p) if resolved_is_us => t.push_str(&format!(
            "  docker        {} → dockroute {}\n",
            p.display(),
            paint.ok("ok")
        )),
        Some(p) => {
            t.push_str(&format!(
                "  docker        {} → {}\n",
                p.display(),
                paint.bad("NOT dockroute")
            ));
            problems.push(format!(
                "`docker` resolves to {}, not dockroute: put dockroute's directory first on PATH (`export PATH=/usr/local/sbin:$PATH`, or `ENV PATH=/usr/local/sbin:$PATH` in a Dockerfile) or rerun install.sh",
                p.display()
            ));
        }
        None => {
            t.push_str(&format!(
                "  docker        {}\n",
                paint.bad("nothing on PATH")
            ));
            problems.push("no `docker` on PATH at all: run install.sh".into());
        }
    }

    // Clients.
    t.push_str(&format!("\n{}\n", paint.head("Clients, in PATH order")));
    t.push_str(&format!(
        "  {:<3} {:<34} {:<18} {:<7} {}\n",
        "#", "path", "version", "buildx", "bind-mounted"
    ));
    for (i, c) in g.facts.clients.iter().enumerate() {
        let version = c
            .version
            .as_ref()
            .map_or_else(|| paint.bad("unknown"), ToString::to_string);
        t.push_str(&format!(
            "  {:<3} {:<34} {:<18} {:<7} {}\n",
            i + 1,
            c.path.display(),
            version,
            if c.buildx { "yes" } else { "no" },
            if c.mounted { "yes" } else { "no" }
        ));
        if let Some(p) = &c.problem {
            t.push_str(&format!("      {}\n", paint.bad(p)));
        }
    }
    if g.facts.clients.is_empty() {
        t.push_str(&format!("  {}\n", paint.bad("none")));
        problems.push(format!(
            "{} — install a Docker CLI or add its directory to PATH",
            g.search.clone().into_error()
        ));
    }
    if !g.search.ignored.is_empty() {
        t.push_str(&format!(
            "  never searched (relative or empty PATH entries): {}\n",
            g.search
                .ignored
                .iter()
                .map(|e| format!("{:?}", e.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = &g.buildx_plugin {
        t.push_str(&format!("  buildx plugin: {}\n", p.display()));
    }

    // Daemon and runtime.
    t.push_str(&format!("\n{}\n", paint.head("Daemon and runtime")));
    let config_dir = docker_config::config_dir(None);
    let ep = endpoint::resolve(
        &Invocation::parse(Vec::new()).globals,
        &|k| std::env::var(k).ok(),
        config_dir.as_deref(),
    );
    let info = daemon::info(&ep, daemon::timeout_from_env());
    t.push_str(&format!("  endpoint      {ep}\n"));
    if let Some(i) = &info {
        t.push_str(&format!(
            "  daemon        {} — authorization plugins: {}\n",
            i.server_version.as_deref().unwrap_or("?"),
            if i.authorization_plugins.is_empty() {
                "none".to_string()
            } else {
                i.authorization_plugins.join(", ")
            }
        ));
    }
    if let Some(rt) = &g.runtime {
        if let Some(v) = &rt.verdict {
            let said = match v {
                daemon::Verdict::Forbidden { message, .. }
                | daemon::Verdict::AllCreatesForbidden { message, .. } => message.clone(),
                daemon::Verdict::Allowed => "privileged containers allowed".into(),
                daemon::Verdict::NoDaemon { detail } | daemon::Verdict::Unknown { detail } => {
                    detail.clone()
                }
            };
            t.push_str(&format!("  probe         {said} ({})\n", rt.source));
        }
        t.push_str(&format!(
            "  runtime       {} — {}\n",
            runtime_answer(&rt.runtime, rt.bitbucket),
            rt.runtime.why()
        ));
        t.push_str(&format!(
            "  Bitbucket     {}\n",
            if rt.bitbucket {
                "yes (BITBUCKET_* variables set)"
            } else {
                "no"
            }
        ));
        if matches!(
            rt.runtime,
            Runtime::NoDaemon { .. } | Runtime::Unknown { .. }
        ) {
            // Not a failure (an image being built has no daemon), but worth a hint.
            t.push_str(
                "  note          builds pass through unchanged; in a pipeline step check that the docker service is on and DOCKER_HOST is right, or pin DOCKROUTE_RUNTIME=restricted|v3|open\n",
            );
        }
    }
    if let Some(bad) = &g.bad_mode {
        problems.push(format!(
            "DOCKROUTE_MODE={bad:?} is not one of auto, pass, mounted, legacy, buildx"
        ));
    }
    problems.extend(g.bad_settings.iter().cloned());

    // Routes now.
    let mut routes = Vec::new();
    let mut build_answer = Value::Null;
    if !g.facts.clients.is_empty() {
        t.push_str(&format!("\n{}\n", paint.head("Routes now")));
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
                    t.push_str(&format!(
                        "  {call:<26} → {:<8} {} ({}){}\n",
                        plan.route.name(),
                        plan.program.display(),
                        plan.client,
                        if env.is_empty() {
                            String::new()
                        } else {
                            format!(" with {}", env.join(" "))
                        }
                    ));
                    if sample[0] == "build" {
                        let inherited = std::env::var_os("DOCKER_BUILDKIT");
                        let bk = decide::effective_buildkit(&plan, inherited.as_deref());
                        let buildkit = match (plan.route, bk.as_deref()) {
                            (Route::Buildx, _) => "yes (buildx)".to_string(),
                            (_, Some("1" | "true")) => "yes (DOCKER_BUILDKIT=1: the daemon's embedded BuildKit)".to_string(),
                            (_, Some("0" | "false")) => "no (DOCKER_BUILDKIT=0: legacy builder)".to_string(),
                            _ => match g.facts.clients.iter().find(|c| c.path == plan.program).and_then(|c| c.version.as_ref()) {
                                Some(v) if v.major >= 23 && g.buildx_plugin.is_some() => "yes (the client's default: buildx)".into(),
                                Some(v) if v.major >= 23 => "no (buildx plugin missing: the client falls back to the deprecated legacy builder)".into(),
                                _ => "only when the call needs it (--secret, --ssh, --output, --progress): DOCKER_BUILDKIT=1 is added then".into(),
                            },
                        };
                        let why = if plan.reason.is_empty() {
                            "nothing to work around here".to_string()
                        } else {
                            plan.reason.clone()
                        };
                        t.push_str(&format!(
                            "\n  Which docker runs my build?  {} ({}) — because: {why}\n",
                            plan.program.display(),
                            plan.client
                        ));
                        t.push_str(&format!("  Is BuildKit on?              {buildkit}\n"));
                        if let Some(rt) = &g.runtime {
                            t.push_str(&format!(
                                "  Runtime v2 or v3?            {}\n\n",
                                runtime_answer(&rt.runtime, rt.bitbucket)
                            ));
                        }
                        build_answer = json!({"program": plan.program.display().to_string(), "client": plan.client, "route": plan.route.name(), "why": why, "buildkit": buildkit});
                    }
                    routes.push(json!({"call": call, "plan": crate::explain::plan_json(&plan)}));
                }
                Err(e) => {
                    t.push_str(&format!("  {call:<26} → refused: {e}\n"));
                    routes.push(json!({"call": call, "refused": e.to_string()}));
                }
            }
        }
    }

    let cache = crate::cache::Cache::location();
    t.push_str(&format!(
        "  cache         {}\n",
        cache
            .as_ref()
            .map_or_else(|| "none (no HOME)".into(), |p| p.display().to_string())
    ));
    if problems.is_empty() {
        t.push_str(&format!("\n{}\n", paint.ok("No problems found.")));
    } else {
        t.push_str(&format!("\n{}\n", paint.head("To fix")));
        for p in &problems {
            t.push_str(&format!("  {} {p}\n", paint.bad("✗")));
        }
    }
    let json = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "executable": me.map(|p| p.display().to_string()),
        "docker_resolves_to": resolved.map(|p| p.display().to_string()),
        "docker_is_dockroute": resolved_is_us,
        "clients": g.facts.clients,
        "ignored_path_entries": g.search.ignored.iter().map(|e| e.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "buildx_plugin": g.buildx_plugin.as_ref().map(|p| p.display().to_string()),
        "endpoint": ep.to_string(),
        "daemon": info,
        "runtime": g.runtime,
        "build": build_answer,
        "routes": routes,
        "cache_dir": cache.map(|p| p.display().to_string()),
        "problems": problems,
    });
    let n = problems.len();
    (t, json, n)
}
