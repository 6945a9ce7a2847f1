//! `dockroute doctor [--json]`: every client, what `docker` resolves to, the daemon and
//! the runtime, and the route a build, a compose call and any other call would take now.
//!
//! It answers the seeds' questions first and directly — which docker runs my build and
//! why, is BuildKit on, is this runtime v2 or v3 — and every line a person may act on
//! carries its fix. The facts are gathered once into a [`Doctor`]; the table and the JSON
//! are two renderings of that one value, so they cannot disagree. Colour only on a
//! terminal, never with `NO_COLOR` set or `TERM=dumb`.

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cli::CliResult;
use crate::docker::args::Invocation;
use crate::docker::config;
use crate::docker::endpoint;
use crate::guard::{FileId, SelfGuard};
use crate::output;
use crate::probe::daemon::{self, Verdict};
use crate::probe::discovery;
use crate::probe::gather::{self, Gathered};
use crate::probe::runtime::RuntimeReport;
use crate::route::decide::{self, Plan, Route};
use crate::route::facts::{BuildEnv, Client, Runtime, BUILDX_DEFAULT_MAJOR};

/// The sample calls whose routes doctor shows; the first is "my build".
const SAMPLES: [&[&str]; 3] = [&["build", "."], &["compose", "up", "--build"], &["ps"]];

/// Runs `doctor`: 0 when healthy, 1 when something needs a person.
pub fn run(as_json: bool) -> CliResult {
    let guard = SelfGuard::from_env();
    crate::output::redact::register_call(&[]);
    let inv = Invocation::parse(vec!["build".into(), ".".into()]);
    let g = gather::gather(&inv, &guard, true)?;
    let config_dir = config::config_dir(None);
    let ep = endpoint::resolve(
        &Invocation::parse(Vec::new()).globals,
        &|k| std::env::var(k).ok(),
        config_dir.as_deref(),
    );
    let env = Env {
        exe: std::env::current_exe().ok(),
        path: std::env::var_os("PATH"),
        docker_buildkit: std::env::var_os("DOCKER_BUILDKIT"),
        endpoint: ep.to_string(),
        daemon: daemon::info(&ep, g.settings.daemon_timeout),
        cache_dir: crate::probe::cache::Cache::location(g.settings.cache_dir.as_deref()),
        settings: settings_snapshot(&g.settings),
    };
    let resolution = resolve_docker(&g, &guard, env.path.as_deref());
    let d = Doctor::new(&g, &env, resolution);
    if as_json {
        output::report(&format!("{}\n", d.json()));
    } else {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && !matches!(std::env::var_os("TERM"), Some(t) if t == "dumb");
        output::report(&d.text(&Paint(colour)));
    }
    Ok(u8::from(!d.problems.is_empty()))
}

/// What doctor reads from the process besides the gathered facts (kept apart so that the
/// report is a function of its inputs).
#[derive(Debug, Clone, Default)]
struct Env {
    exe: Option<PathBuf>,
    path: Option<OsString>,
    docker_buildkit: Option<OsString>,
    endpoint: String,
    daemon: Option<daemon::Info>,
    cache_dir: Option<PathBuf>,
    settings: Vec<(&'static str, String)>,
}

/// dockroute's own settings as they stand (their values are dockroute's, never secrets),
/// in the order and with the defaults of the settings table.
fn settings_snapshot(settings: &crate::probe::settings::Settings) -> Vec<(&'static str, String)> {
    crate::probe::settings::TABLE
        .iter()
        .filter(|s| !s.internal)
        .map(|s| {
            let set = settings
                .raw
                .iter()
                .find(|(n, _)| *n == s.name)
                .and_then(|(_, v)| v.clone());
            let shown = set.unwrap_or_else(|| {
                if s.default.is_empty() {
                    "unset".to_string()
                } else {
                    format!("{} (default)", s.default)
                }
            });
            (s.name, shown)
        })
        .collect()
}

/// What `docker` resolves to in a shell with this PATH, and whether that is dockroute.
#[derive(Debug, Clone, Default)]
struct Resolution {
    path: Option<PathBuf>,
    is_dockroute: bool,
}

fn resolve_docker(g: &Gathered, guard: &SelfGuard, path: Option<&OsStr>) -> Resolution {
    let resolved = discovery::shell_resolution(path);
    let is_dockroute = resolved.as_ref().is_some_and(|p| {
        let same_file = std::fs::metadata(p).is_ok_and(|m| {
            guard.is_dockroute(FileId {
                dev: m.dev(),
                ino: m.ino(),
            })
        });
        // A copy of dockroute is no real client: discovery searched its directory and
        // dropped it (the probe recognised it).
        let dropped_copy = p.is_absolute()
            && p.parent()
                .is_some_and(|d| g.search.searched.iter().any(|s| s == d))
            && !g.facts.clients.iter().any(|c| &c.path == p);
        same_file || dropped_copy
    });
    Resolution {
        path: resolved,
        is_dockroute,
    }
}

/// A line a person may act on, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Finding {
    problem: String,
    fix: String,
}

/// The three questions from the seeds, answered in one sentence each.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Answers {
    /// "Which docker runs my build, and why?"
    which_docker_builds: String,
    /// "Is BuildKit on?"
    buildkit: String,
    /// `Some(true|false)` when it is known for a plain `docker build .`.
    buildkit_on: Option<bool>,
    /// "Is this runtime v2 or v3?"
    runtime: String,
}

/// Everything doctor says, computed once.
struct Doctor {
    exe: Option<PathBuf>,
    resolution: Resolution,
    answers: Answers,
    build: Value,
    clients: Vec<Client>,
    ignored: Vec<String>,
    buildx_plugin: Option<PathBuf>,
    endpoint: String,
    daemon: Option<daemon::Info>,
    runtime: Option<RuntimeReport>,
    /// (call, route line, because) per sample.
    routes: Vec<(String, String, Option<String>)>,
    routes_json: Vec<Value>,
    settings: Vec<(&'static str, String)>,
    docker_buildkit: String,
    cache_dir: Option<PathBuf>,
    problems: Vec<Finding>,
    notes: Vec<Finding>,
}

impl Doctor {
    #[allow(clippy::too_many_lines)]
    fn new(g: &Gathered, env: &Env, resolution: Resolution) -> Doctor {
        let mut problems = Vec::new();
        let mut notes = Vec::new();

        match &resolution.path {
            Some(p) if !resolution.is_dockroute => problems.push(Finding {
                problem: format!("`docker` resolves to {}, not dockroute", p.display()),
                fix: path_fix(env.exe.as_deref()),
            }),
            None => problems.push(Finding {
                problem: "no `docker` on PATH at all".into(),
                fix: path_fix(env.exe.as_deref()),
            }),
            Some(_) => {}
        }
        if g.facts.clients.is_empty() {
            problems.push(Finding {
                problem: g.search.clone().into_error().to_string(),
                fix: "install a Docker CLI (e.g. `apt-get install docker.io`) or add the directory holding the real `docker` to PATH as an absolute path".into(),
            });
        }
        for c in &g.facts.clients {
            if let Some(p) = &c.problem {
                notes.push(Finding {
                    problem: format!("{}: {p}", c.path.display()),
                    fix: format!(
                        "run `{} --version` to see what it says; dockroute does not route builds to a client whose version it cannot tell (raise DOCKROUTE_PROBE_TIMEOUT_MS if it is only slow)",
                        c.path.display()
                    ),
                });
            }
        }
        for bad in &g.settings.bad {
            problems.push(Finding {
                problem: bad.to_string(),
                fix: "correct the variable or unset it (see `man dockroute`, or the README's Configuration)".into(),
            });
        }

        let runtime_answer = g.runtime.as_ref().map_or_else(
            || "not probed".to_string(),
            |rt| runtime_answer(rt, &env.endpoint),
        );
        if let Some(rt) = &g.runtime {
            match &rt.runtime {
                Runtime::NoDaemon { .. } if rt.bitbucket => problems.push(Finding {
                    problem: format!(
                        "this is a Bitbucket step but no Docker daemon answers at {}",
                        env.endpoint
                    ),
                    fix: "add `services: [docker]` to the step (and do not override DOCKER_HOST)"
                        .into(),
                }),
                Runtime::NoDaemon { .. } => notes.push(Finding {
                    problem: format!(
                        "no Docker daemon answers at {}, so builds pass through unchanged",
                        env.endpoint
                    ),
                    fix: "nothing to do while building an image or on a daemonless agent; otherwise start the daemon or set DOCKER_HOST, or pin the runtime with DOCKROUTE_RUNTIME=restricted|v3|open".into(),
                }),
                Runtime::Unknown { .. } => notes.push(Finding {
                    problem: format!(
                        "the runtime could not be told, so builds pass through unchanged: {}",
                        rt.runtime.why()
                    ),
                    fix: "check that the daemon answers in time (DOCKROUTE_DAEMON_TIMEOUT_MS) and DOCKER_HOST is right, or pin the runtime with DOCKROUTE_RUNTIME=restricted|v3|open".into(),
                }),
                _ => {}
            }
        }

        let mut routes = Vec::new();
        let mut routes_json = Vec::new();
        let mut answers = Answers {
            runtime: runtime_answer,
            ..Answers::default()
        };
        let mut build = Value::Null;
        if g.facts.clients.is_empty() {
            answers.which_docker_builds = "none: no real docker client on PATH".into();
            answers.buildkit = "no: there is no client to build with".into();
            answers.buildkit_on = Some(false);
        }
        for sample in SAMPLES {
            if g.facts.clients.is_empty() {
                break;
            }
            let inv = Invocation::parse(sample.iter().map(OsString::from).collect());
            let call = format!("docker {}", sample.join(" "));
            match decide::decide(&inv, &g.facts) {
                Ok(plan) => {
                    let client = g.facts.clients.iter().find(|c| c.path == plan.program);
                    let env_changes = env_changes(&plan);
                    let line = format!(
                        "{:<8} {} ({}){}",
                        plan.route.name(),
                        plan.program.display(),
                        plan.client,
                        if env_changes.is_empty() {
                            String::new()
                        } else {
                            format!(" with {env_changes}")
                        }
                    );
                    let because = plan.is_reroute().then(|| plan.reason.clone());
                    if sample[0] == "build" {
                        let why = if plan.reason.is_empty() {
                            "nothing to work around here, so the call passes through unchanged"
                                .to_string()
                        } else {
                            plan.reason.clone()
                        };
                        answers.which_docker_builds = format!(
                            "{} ({}), route {} — because: {why}",
                            plan.program.display(),
                            plan.client,
                            plan.route.name()
                        );
                        let bk = buildkit_answer(
                            &plan,
                            client,
                            env.docker_buildkit.as_deref(),
                            g.runtime.as_ref().map(|r| &r.runtime),
                        );
                        answers.buildkit.clone_from(&bk.answer);
                        answers.buildkit_on = bk.on;
                        problems.extend(bk.problem);
                        notes.extend(bk.note);
                        build = json!({
                            "program": plan.program.display().to_string(),
                            "client": plan.client,
                            "route": plan.route.name(),
                            "why": why,
                            "buildkit": bk.answer,
                            "buildkit_on": bk.on,
                        });
                    }
                    routes.push((call.clone(), line, because));
                    routes_json
                        .push(json!({"call": call, "plan": crate::cli::explain::plan_json(&plan)}));
                }
                Err(e) => {
                    if sample[0] == "build" {
                        answers.which_docker_builds = format!("none: the build is refused: {e}");
                    }
                    routes.push((call.clone(), format!("refused: {e}"), e.hint()));
                    routes_json.push(json!({"call": call, "refused": e.to_string()}));
                }
            }
        }

        let docker_buildkit = match env.docker_buildkit.as_deref() {
            None => "unset".to_string(),
            Some(v) => match (BuildEnv {
                docker_buildkit: Some(v.to_owned()),
            })
            .buildkit()
            {
                Some(true) => "set, true (BuildKit requested)".into(),
                Some(false) => "set, false (legacy builder requested)".into(),
                None if v.is_empty() => "set but empty (counts as unset)".into(),
                None => "set, but not a boolean".into(),
            },
        };

        if !resolution.is_dockroute {
            // `docker build` does not reach dockroute at all: say so before what it would do.
            let direct = resolution
                .path
                .as_ref()
                .map_or_else(|| "nothing".to_string(), |p| p.display().to_string());
            answers.which_docker_builds = format!(
                "{direct}, directly — `docker` is not dockroute, so nothing is routed (through dockroute: {})",
                answers.which_docker_builds
            );
        }

        Doctor {
            exe: env.exe.clone(),
            resolution,
            answers,
            build,
            clients: g.facts.clients.clone(),
            ignored: g
                .search
                .ignored
                .iter()
                .map(|e| e.to_string_lossy().into_owned())
                .collect(),
            buildx_plugin: g.buildx_plugin.clone(),
            endpoint: env.endpoint.clone(),
            daemon: env.daemon.clone(),
            runtime: g.runtime.clone(),
            routes,
            routes_json,
            settings: env.settings.clone(),
            docker_buildkit,
            cache_dir: env.cache_dir.clone(),
            problems,
            notes,
        }
    }

    /// The report for people.
    #[allow(clippy::too_many_lines)]
    fn text(&self, paint: &Paint) -> String {
        let mut t = String::new();
        let mut line = |s: String| {
            t.push_str(&s);
            t.push('\n');
        };
        line(format!(
            "{} {} ({})",
            paint.head("dockroute"),
            env!("CARGO_PKG_VERSION"),
            self.exe
                .as_ref()
                .map_or_else(|| "?".into(), |p| p.display().to_string())
        ));
        line(String::new());
        let q = |s: &str| format!("  {s:<29}");
        line(format!(
            "{}{}",
            q("Which docker runs my build?"),
            self.answers.which_docker_builds
        ));
        line(format!("{}{}", q("Is BuildKit on?"), self.answers.buildkit));
        line(format!(
            "{}{}",
            q("Runtime v2 or v3?"),
            self.answers.runtime
        ));
        let resolves = match &self.resolution.path {
            Some(p) if self.resolution.is_dockroute => {
                format!("{} → dockroute {}", p.display(), paint.ok("ok"))
            }
            Some(p) => format!("{} → {}", p.display(), paint.bad("NOT dockroute")),
            None => paint.bad("nothing on PATH"),
        };
        line(format!("{}{resolves}", q("`docker` resolves to")));

        line(String::new());
        line(paint.head("Clients, in PATH order"));
        let rows: Vec<[String; 5]> = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                [
                    (i + 1).to_string(),
                    c.path.display().to_string(),
                    c.version
                        .as_ref()
                        .map_or_else(|| "unknown".into(), ToString::to_string),
                    yes_no(c.buildx).into(),
                    yes_no(c.mounted).into(),
                ]
            })
            .collect();
        let header = ["#", "path", "version", "buildx", "bind-mounted"];
        let mut width = header.map(str::len);
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let fmt_row = |cells: [&str; 5]| {
            format!(
                "  {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
            )
        };
        line(fmt_row(header));
        for (r, c) in rows.iter().zip(&self.clients) {
            line(
                fmt_row([&r[0], &r[1], &r[2], &r[3], &r[4]])
                    .trim_end()
                    .to_string(),
            );
            if let Some(p) = &c.problem {
                line(format!(
                    "  {:<w$}  {}",
                    "",
                    paint.bad(&p.to_string()),
                    w = width[0]
                ));
            }
        }
        if self.clients.is_empty() {
            line(format!("  {}", paint.bad("none")));
        }
        if !self.ignored.is_empty() {
            line(format!(
                "  never searched (relative or empty PATH entries): {}",
                self.ignored
                    .iter()
                    .map(|e| format!("{e:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        line(format!(
            "  buildx plugin: {}",
            self.buildx_plugin
                .as_ref()
                .map_or_else(|| "none found".into(), |p| p.display().to_string())
        ));

        line(String::new());
        line(paint.head("Daemon and runtime"));
        line(format!("  endpoint      {}", self.endpoint));
        if let Some(i) = &self.daemon {
            line(format!(
                "  daemon        {} — authorization plugins: {}",
                i.server_version.as_deref().unwrap_or("?"),
                if i.authorization_plugins.is_empty() {
                    "none".to_string()
                } else {
                    i.authorization_plugins.join(", ")
                }
            ));
        }
        if let Some(rt) = &self.runtime {
            if let Some(v) = &rt.verdict {
                line(format!(
                    "  probe         {} ({})",
                    verdict_words(v),
                    rt.source.name()
                ));
            }
            line(format!(
                "  runtime       {} — {}",
                rt.runtime.name(),
                rt.runtime.why()
            ));
            line(format!(
                "  Bitbucket     {}",
                if rt.bitbucket {
                    "yes (BITBUCKET_* variables set)"
                } else {
                    "no"
                }
            ));
        }

        if !self.routes.is_empty() {
            line(String::new());
            line(paint.head("Routes now"));
            let w = self.routes.iter().map(|r| r.0.len()).max().unwrap_or(0);
            for (call, route, because) in &self.routes {
                line(format!("  {call:<w$}  → {route}"));
                if let Some(b) = because {
                    line(format!("  {:<w$}    because: {b}", ""));
                }
            }
        }

        line(String::new());
        line(paint.head("Settings"));
        for (k, v) in &self.settings {
            line(format!("  {k:<28} {v}"));
        }
        line(format!(
            "  {:<28} {}",
            "DOCKER_BUILDKIT", self.docker_buildkit
        ));
        line(format!(
            "  {:<28} {}",
            "cache",
            self.cache_dir
                .as_ref()
                .map_or_else(|| "none (no HOME)".into(), |p| p.display().to_string())
        ));

        if !self.notes.is_empty() {
            line(String::new());
            line(paint.head("Worth knowing"));
            for n in &self.notes {
                line(format!("  • {}", n.problem));
                line(format!("    fix: {}", n.fix));
            }
        }
        line(String::new());
        if self.problems.is_empty() {
            line(paint.ok("No problems found."));
        } else {
            line(paint.head("To fix"));
            for p in &self.problems {
                line(format!("  {} {}", paint.bad("✗"), p.problem));
                line(format!("    fix: {}", p.fix));
            }
        }
        t
    }

    /// The report for tools: the same facts and the same sentences.
    fn json(&self) -> Value {
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "executable": self.exe.as_ref().map(|p| p.display().to_string()),
            "answers": self.answers,
            "docker_resolves_to": self.resolution.path.as_ref().map(|p| p.display().to_string()),
            "docker_is_dockroute": self.resolution.is_dockroute,
            "clients": self.clients,
            "ignored_path_entries": self.ignored,
            "buildx_plugin": self.buildx_plugin.as_ref().map(|p| p.display().to_string()),
            "endpoint": self.endpoint,
            "daemon": self.daemon,
            "runtime": self.runtime,
            "build": self.build,
            "routes": self.routes_json,
            "settings": self.settings.iter().map(|(k, v)| ((*k).to_string(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "docker_buildkit": self.docker_buildkit,
            "cache_dir": self.cache_dir.as_ref().map(|p| p.display().to_string()),
            "problems": self.problems,
            "notes": self.notes,
        })
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn env_changes(plan: &Plan) -> String {
    plan.env_set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(plan.env_unset.iter().map(|k| format!("-{k}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn verdict_words(v: &Verdict) -> String {
    match v {
        Verdict::Forbidden { message, .. } | Verdict::AllCreatesForbidden { message, .. } => {
            message.clone()
        }
        Verdict::Allowed => "privileged containers allowed".into(),
        Verdict::NoDaemon { detail } | Verdict::Unknown { detail } => detail.clone(),
    }
}

/// The fix for "`docker` is not dockroute": put the directory of this dockroute (which
/// must hold the `docker` link) first on PATH.
fn path_fix(exe: Option<&Path>) -> String {
    let Some(dir) = exe.and_then(Path::parent) else {
        return "run install.sh, which links `docker` to dockroute in a directory that comes first on PATH".into();
    };
    let d = dir.display();
    let link = if dir.join("docker").exists() {
        String::new()
    } else {
        format!("`ln -s dockroute {d}/docker`, then ")
    };
    format!(
        "{link}put {d} first on PATH: `ENV PATH={d}:$PATH` in a Dockerfile, `export PATH={d}:$PATH` in a shell profile (or rerun install.sh)"
    )
}

/// "Runtime v2 or v3?" in one sentence.
fn runtime_answer(rt: &RuntimeReport, endpoint: &str) -> String {
    let pinned = if rt.source == crate::probe::runtime::RuntimeSource::Pinned {
        " (pinned by DOCKROUTE_RUNTIME)"
    } else {
        ""
    };
    let why = rt.runtime.why();
    match &rt.runtime {
        Runtime::Restricted { .. } if rt.bitbucket => {
            format!("v2 — Bitbucket runtime v2: the daemon denies privileged containers{pinned}: {why}")
        }
        Runtime::Restricted { .. } => format!(
            "v2-like — not a Bitbucket step, but the daemon denies privileged containers as runtime v2 does{pinned}: {why}"
        ),
        Runtime::V3 { .. } => {
            format!("v3 — Bitbucket runtime v3: the daemon allows privileged containers{pinned}")
        }
        Runtime::Open { .. } => format!(
            "neither — not a Bitbucket step; the daemon allows privileged containers{pinned}"
        ),
        Runtime::NoDaemon { .. } => {
            format!("cannot tell — no daemon answers at {endpoint}; builds pass through unchanged")
        }
        Runtime::Unknown { .. } => {
            format!("cannot tell — {why}; builds pass through unchanged")
        }
    }
}

struct BuildkitAnswer {
    answer: String,
    on: Option<bool>,
    problem: Option<Finding>,
    note: Option<Finding>,
}

/// "Is BuildKit on?" for `docker build .` as routed now: the effective `DOCKER_BUILDKIT`
/// on the build route ([`decide::effective_buildkit`]) read as the CLI reads it, and the
/// chosen client's version and buildx plugin.
fn buildkit_answer(
    plan: &Plan,
    client: Option<&Client>,
    inherited: Option<&OsStr>,
    runtime: Option<&Runtime>,
) -> BuildkitAnswer {
    let effective = decide::effective_buildkit(plan, inherited);
    let set_by_route = plan.env_set.iter().any(|(k, _)| k == "DOCKER_BUILDKIT");
    let parsed = BuildEnv {
        docker_buildkit: effective.as_ref().map(OsString::from),
    }
    .buildkit();
    let modern = client
        .and_then(|c| c.version.as_ref())
        .is_some_and(|v| v.major >= BUILDX_DEFAULT_MAJOR);
    let buildx = client.is_some_and(|c| c.buildx);
    let restricted = matches!(runtime, Some(Runtime::Restricted { .. }));
    let mut a = BuildkitAnswer {
        answer: String::new(),
        on: None,
        problem: None,
        note: None,
    };
    if plan.route == Route::Buildx {
        a.answer = "yes — `buildx build` (BuildKit through the buildx plugin)".into();
        a.on = Some(true);
        return a;
    }
    match (parsed, effective.as_deref()) {
        (Some(true), _) if modern && !buildx => {
            a.answer = "no — DOCKER_BUILDKIT=1 but this client has no buildx plugin: `docker build` fails with \"BuildKit is enabled but the buildx component is missing or broken\"".into();
            a.on = Some(false);
            a.problem = Some(Finding {
                problem: "DOCKER_BUILDKIT=1 with a Docker CLI ≥ 23 that has no buildx plugin: every `docker build` fails".into(),
                fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins), or unset DOCKER_BUILDKIT".into(),
            });
        }
        (Some(true), _) if modern => {
            a.answer = "yes — DOCKER_BUILDKIT=1: the client's buildx plugin".into();
            a.on = Some(true);
        }
        (Some(true), _) => {
            a.answer = format!(
                "yes — DOCKER_BUILDKIT=1{}: the daemon's embedded BuildKit (no privileged container needed)",
                if set_by_route { ", set by dockroute" } else { "" }
            );
            a.on = Some(true);
        }
        (Some(false), _) => {
            a.answer = format!(
                "no — DOCKER_BUILDKIT=0{}: the deprecated legacy builder",
                if set_by_route {
                    ", set by dockroute (no client < 23 on PATH to reach the daemon's BuildKit)"
                } else {
                    ", inherited"
                }
            );
            a.on = Some(false);
            if set_by_route && restricted {
                a.note = Some(Finding {
                    problem: "builds use the legacy builder: --secret, --ssh, --output and --cache-to are refused".into(),
                    fix: "put a Docker CLI < 23 on PATH (Bitbucket runtime v2 mounts 20.10 at /usr/bin/docker when the step has the docker service); dockroute then builds with the daemon's BuildKit".into(),
                });
            } else if !set_by_route {
                a.note = Some(Finding {
                    problem: "DOCKER_BUILDKIT=0 is inherited: builds use the deprecated legacy builder".into(),
                    fix: "unset DOCKER_BUILDKIT (a workaround from runtime v2 days is no longer needed with dockroute)".into(),
                });
            }
        }
        (None, Some(v)) if !v.is_empty() => {
            a.answer =
                "unknown — DOCKER_BUILDKIT is set but not a boolean: the client refuses to build"
                    .into();
            a.problem = Some(Finding {
                problem: "DOCKER_BUILDKIT is not a boolean; the Docker CLI rejects it".into(),
                fix: "set DOCKER_BUILDKIT to 1 or 0, or unset it".into(),
            });
        }
        _ if modern && buildx => {
            a.answer = "yes — the client's default (buildx)".into();
            a.on = Some(true);
        }
        _ if modern => {
            a.answer = "no — this client (≥ 23) has no buildx plugin, so it falls back to the deprecated legacy builder".into();
            a.on = Some(false);
            a.note = Some(Finding {
                problem: "the build client has no buildx plugin: `docker build` uses the deprecated legacy builder".into(),
                fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins) to build with BuildKit".into(),
            });
        }
        _ => {
            a.answer = "only when the build needs it — dockroute adds DOCKER_BUILDKIT=1 (the daemon's embedded BuildKit) for --secret, --ssh, --output, --progress …; otherwise the daemon's default builder".into();
        }
    }
    a
}

/// ANSI colour, or none.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::discovery::SearchReport;
    use crate::route::facts::{Facts, Mode};
    use semver::Version;

    fn client(path: &str, major: u64, mounted: bool, buildx: bool) -> Client {
        Client {
            path: path.into(),
            version: Some(Version::new(major, 10, 24)),
            problem: None,
            mounted,
            buildx,
        }
    }

    fn gathered(clients: Vec<Client>, runtime: Runtime, bitbucket: bool) -> Gathered {
        Gathered {
            facts: Facts {
                clients,
                runtime: Some(runtime.clone()),
                mode: Mode::Auto,
                ..Facts::default()
            },
            search: SearchReport {
                searched: vec!["/usr/local/bin".into(), "/usr/bin".into()],
                ignored: Vec::new(),
            },
            runtime: Some(RuntimeReport {
                runtime,
                endpoint: None,
                source: crate::probe::runtime::RuntimeSource::Probed,
                bitbucket,
                verdict: None,
            }),
            settings: crate::probe::settings::Settings::default(),
            buildx_plugin: None,
        }
    }

    fn env(buildkit: Option<&str>) -> Env {
        Env {
            exe: Some("/usr/local/sbin/dockroute".into()),
            endpoint: "tcp://localhost:2375".into(),
            docker_buildkit: buildkit.map(OsString::from),
            ..Env::default()
        }
    }

    fn ours() -> Resolution {
        Resolution {
            path: Some("/usr/local/sbin/docker".into()),
            is_dockroute: true,
        }
    }

    const DENIED: &str =
        "authorization denied by plugin pipelines: --privileged=true is not allowed";

    fn v2() -> Gathered {
        gathered(
            vec![
                client("/usr/local/bin/docker", 28, false, false),
                client("/usr/bin/docker", 20, true, false),
            ],
            Runtime::Restricted { why: DENIED.into() },
            true,
        )
    }

    #[test]
    fn runtime_v2_answers_the_seed_questions() {
        let d = Doctor::new(&v2(), &env(None), ours());
        assert!(d
            .answers
            .which_docker_builds
            .starts_with("/usr/bin/docker (20.10.24, bind-mounted), route mounted"));
        assert!(d.answers.which_docker_builds.contains(DENIED));
        assert!(d.answers.runtime.starts_with("v2 — Bitbucket runtime v2"));
        assert!(d
            .answers
            .buildkit
            .starts_with("only when the build needs it"));
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        let text = d.text(&Paint(false));
        for a in [
            &d.answers.which_docker_builds,
            &d.answers.buildkit,
            &d.answers.runtime,
        ] {
            assert!(text.contains(a.as_str()), "{a} in\n{text}");
        }
        assert!(text.contains("No problems found."));
        assert!(!text.contains('\x1b'));
        let v = d.json();
        assert_eq!(v["answers"]["runtime"], d.answers.runtime.as_str());
        assert_eq!(v["build"]["program"], "/usr/bin/docker");
    }

    #[test]
    fn inherited_buildkit_on_the_mounted_route_is_the_daemons_buildkit() {
        let d = Doctor::new(&v2(), &env(Some("1")), ours());
        assert_eq!(d.answers.buildkit_on, Some(true));
        assert!(d.answers.buildkit.contains("embedded BuildKit"));
        let d = Doctor::new(&v2(), &env(Some("false")), ours());
        assert_eq!(d.answers.buildkit_on, Some(false));
        assert_eq!(d.notes.len(), 1, "an inherited 0 comes with its fix");
    }

    #[test]
    fn runtime_v3_builds_with_buildx_and_drops_the_leftover_zero() {
        let g = gathered(
            vec![client("/usr/local/bin/docker", 28, false, true)],
            Runtime::V3 {
                why: "Bitbucket runtime v3: the daemon allows privileged containers".into(),
            },
            true,
        );
        let d = Doctor::new(&g, &env(Some("0")), ours());
        assert!(d.answers.runtime.starts_with("v3"));
        assert_eq!(d.answers.buildkit_on, Some(true));
        assert!(d.answers.which_docker_builds.contains("route buildx"));
    }

    #[test]
    fn buildkit_forced_on_a_client_without_buildx_is_a_problem_with_a_fix() {
        let g = gathered(
            vec![client("/usr/local/bin/docker", 28, false, false)],
            Runtime::Open {
                why: "the daemon allows privileged containers".into(),
            },
            false,
        );
        let d = Doctor::new(&g, &env(Some("1")), ours());
        assert_eq!(d.answers.buildkit_on, Some(false));
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].fix.contains("buildx"));
        assert!(d.answers.runtime.starts_with("neither"));
        let text = d.text(&Paint(false));
        assert!(text.contains("To fix") && text.contains("fix: install the buildx plugin"));
    }

    #[test]
    fn docker_not_dockroute_says_which_path_line_to_add() {
        let r = Resolution {
            path: Some("/usr/local/bin/docker".into()),
            is_dockroute: false,
        };
        let d = Doctor::new(&v2(), &env(None), r);
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].fix.contains("ENV PATH=/usr/local/sbin:$PATH"));
        assert!(d
            .answers
            .which_docker_builds
            .starts_with("/usr/local/bin/docker, directly — `docker` is not dockroute"));
        let text = d.text(&Paint(false));
        assert!(text.contains("NOT dockroute"));
    }

    #[test]
    fn a_bitbucket_step_without_a_daemon_needs_the_docker_service() {
        let g = gathered(
            vec![client("/usr/local/bin/docker", 28, false, false)],
            Runtime::NoDaemon {
                why: "no daemon answered: connection refused".into(),
            },
            true,
        );
        let d = Doctor::new(&g, &env(None), ours());
        assert!(d.answers.runtime.starts_with("cannot tell"));
        assert!(d.problems.iter().any(|p| p.fix.contains("services")));
    }

    #[test]
    fn colour_only_when_asked() {
        let d = Doctor::new(&v2(), &env(None), ours());
        assert!(d.text(&Paint(true)).contains("\x1b[32mok\x1b[0m"));
    }
}
