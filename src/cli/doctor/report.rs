//! doctor's report as one value: the three answers ("which docker runs my build, and
//! why?", "is BuildKit on?", "is this runtime v2 or v3?"), the clients, the daemon and
//! runtime, BuildKit, the route of each sample call, the settings, and every problem with
//! its fix. Pure: built from what `doctor` gathered; `--json` serialises it as it is and
//! the table renders it.
//!
//! The builder answer is read from the plan `decide` makes for `docker build .`, never
//! re-derived here.
//!
//! Size: the report's value types (each serialised as `doctor --json` prints it) and the
//! one constructor that fills them; the table lives in `text.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::docker::args::Invocation;
use crate::probe::daemon::{self, Verdict};
use crate::probe::gather::Gathered;
use crate::probe::runtime::{RuntimeReport, RuntimeSource};
use crate::route::decide;
use crate::route::facts::{BuildEnv, Client, Runtime};
use crate::route::plan::{Builder, Plan, Route};

/// The sample calls whose routes doctor shows; the first is "my build".
const SAMPLES: [&[&str]; 3] = [&["build", "."], &["compose", "up", "--build"], &["ps"]];

/// What doctor reads from the process besides the gathered facts (kept apart so that the
/// report is a function of its inputs).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// This executable.
    pub exe: Option<PathBuf>,
    /// The daemon endpoint a plain `docker` would use (credentials redacted).
    pub endpoint: String,
    /// The daemon's `/info`, when it answered.
    pub daemon: Option<daemon::Info>,
    /// The cache directory.
    pub cache_dir: Option<PathBuf>,
}

/// What `docker` resolves to in a shell with this PATH, and whether that is dockroute.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// The file a shell would run.
    pub path: Option<PathBuf>,
    /// Whether it is dockroute.
    pub is_dockroute: bool,
}

/// A line a person may act on, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// What is wrong or worth knowing.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// The three questions, answered in one sentence each.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Answers {
    /// "Which docker runs my build, and why?"
    pub which_docker_builds: String,
    /// "Is BuildKit on?"
    pub buildkit: String,
    /// `Some(true|false)` when it is known for a plain `docker build .`.
    pub buildkit_on: Option<bool>,
    /// "Is this runtime v2 or v3?"
    pub runtime: String,
}

/// `docker build .` as routed now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildAnswer {
    /// The program that runs.
    pub program: String,
    /// Its version (or name).
    pub client: String,
    /// The route.
    pub route: &'static str,
    /// Why that route.
    pub why: String,
    /// The builder, as `decide` chose it.
    pub builder: Option<Builder>,
    /// The builder answer in words.
    pub buildkit: String,
    /// Whether the build gets BuildKit.
    pub buildkit_on: Option<bool>,
}

/// What this machine offers for building with BuildKit itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildKitSection {
    /// `DOCKROUTE_BUILDKIT_HOST`.
    pub remote: Option<String>,
    /// `BUILDKIT_HOST`.
    pub host: Option<String>,
    /// The address a build would use, and whether it answered (`None`: not checked).
    pub checked: Option<String>,
    /// Why it does not answer, when checked and it did not.
    pub unreachable: Option<String>,
    /// `buildctl` on PATH.
    pub buildctl: Option<String>,
    /// `buildctl-daemonless.sh` on PATH.
    pub daemonless: Option<String>,
    /// The route a build takes now, in words.
    pub route_now: String,
}

/// One sample call and its route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteEntry {
    /// `docker build .` …
    pub call: String,
    /// The plan, as `explain --json` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// The refusal, when the call would be refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The table's line: route, program, client, environment changes.
    #[serde(skip)]
    pub line: String,
    /// The table's second line: "because: …" for a reroute, "fix: …" for a refusal.
    #[serde(skip)]
    pub because: Option<String>,
}

/// Everything doctor says, computed once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// dockroute's version.
    pub version: &'static str,
    /// This executable.
    pub executable: Option<String>,
    /// The three answers.
    pub answers: Answers,
    /// What a shell runs for `docker`.
    pub docker_resolves_to: Option<String>,
    /// Whether that is dockroute.
    pub docker_is_dockroute: bool,
    /// Real clients, in PATH order.
    pub clients: Vec<Client>,
    /// PATH entries never searched.
    pub ignored_path_entries: Vec<String>,
    /// The buildx plugin found.
    pub buildx_plugin: Option<String>,
    /// The daemon endpoint.
    pub endpoint: String,
    /// The daemon's `/info`.
    pub daemon: Option<daemon::Info>,
    /// The runtime and how it was learnt.
    pub runtime: Option<RuntimeReport>,
    /// `docker build .` as routed now.
    pub build: Option<BuildAnswer>,
    /// BuildKit addresses and programs.
    pub buildkit: BuildKitSection,
    /// Each sample call's route.
    pub routes: Vec<RouteEntry>,
    /// dockroute's settings as they stand, in the settings table's order.
    pub settings: serde_json::Map<String, Value>,
    /// `DOCKER_BUILDKIT` in words.
    pub docker_buildkit: String,
    /// The cache directory.
    pub cache_dir: Option<String>,
    /// What needs a person (exit 1).
    pub problems: Vec<Finding>,
    /// What is worth knowing.
    pub notes: Vec<Finding>,
}

fn shown(p: Option<&Path>) -> Option<String> {
    p.map(|p| p.display().to_string())
}

/// dockroute's own settings as they stand: the values used (their values are
/// dockroute's, never secrets).
fn settings_map(settings: &crate::probe::settings::Settings) -> serde_json::Map<String, Value> {
    settings
        .shown()
        .into_iter()
        .map(|(name, shown)| (name.to_string(), Value::String(shown)))
        .collect()
}

impl Report {
    /// Builds the report.
    #[allow(clippy::too_many_lines)]
    #[must_use]
    pub fn new(g: &Gathered, env: &Env, resolution: Resolution) -> Report {
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
        let bk = &g.facts.buildkit;
        let daemonless_ready = bk.host.is_some() || bk.daemonless.is_some();
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
                // Builds would fail here: a problem, not a note (doctor exits 1).
                Runtime::NoDaemon { .. } if !daemonless_ready && bk.remote.is_none() => problems.push(Finding {
                    problem: format!(
                        "no Docker daemon answers at {}, and there is no BuildKit to build with instead (no BUILDKIT_HOST, no buildctl-daemonless.sh on PATH): builds pass through unchanged and fail",
                        env.endpoint
                    ),
                    fix: "on a daemonless agent set BUILDKIT_HOST (with buildctl on PATH) or use an image with buildctl-daemonless.sh (moby/buildkit); otherwise start the daemon or set DOCKER_HOST, or pin the runtime with DOCKROUTE_RUNTIME=restricted|v3|open".into(),
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
        if bk.host.is_some() && bk.buildctl.is_none() {
            notes.push(Finding {
                problem: "BUILDKIT_HOST is set but `buildctl` is not on PATH".into(),
                fix: "install buildctl (from a moby/buildkit release) into a directory on PATH"
                    .into(),
            });
        }
        let checked = match (&bk.remote, &bk.host) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(h)) if matches!(g.facts.runtime, Some(Runtime::NoDaemon { .. })) => {
                Some(h.clone())
            }
            _ => None,
        };
        if let (Some(addr), Some(why)) = (&checked, &bk.unreachable) {
            problems.push(Finding {
                problem: format!("the BuildKit at {addr} does not answer: {why}"),
                fix: "check that buildkitd runs there and that this machine can reach it (address, port, TLS files)".into(),
            });
        }

        let mut answers = Answers {
            runtime: g.runtime.as_ref().map_or_else(
                || "not probed".to_string(),
                |rt| runtime_answer(rt, &env.endpoint),
            ),
            ..Answers::default()
        };
        if g.facts.clients.is_empty() && !daemonless_ready {
            answers.which_docker_builds = "none: no real docker client on PATH".into();
            answers.buildkit = "no: there is no client to build with".into();
            answers.buildkit_on = Some(false);
        }
        let mut build = None;
        let mut routes = Vec::new();
        let mut route_now = "not decided".to_string();
        for sample in SAMPLES {
            let inv = Invocation::parse(sample.iter().map(OsString::from).collect());
            let call = format!("docker {}", sample.join(" "));
            let first = g.facts.clients.first().map(|c| c.path.as_path());
            let decision = match decide::decide(&inv, &g.facts) {
                // The searched directories are discovery's to tell.
                Err(crate::error::Error::NoClient { .. }) => Err(g.search.clone().into_error()),
                other => other,
            };
            match decision {
                Ok(plan) => {
                    let changes = env_changes(&plan);
                    let line = format!(
                        "{:<10} {} ({}){}",
                        plan.route.name(),
                        plan.program.display(),
                        plan.runner(),
                        if changes.is_empty() {
                            String::new()
                        } else {
                            format!(" with {changes}")
                        }
                    );
                    let because = plan
                        .is_reroute(&inv, first)
                        .then(|| plan.reason.clone())
                        .flatten()
                        .map(|r| format!("because: {r}"));
                    if sample[0] == "build" {
                        let why = plan.reason.clone().unwrap_or_else(|| {
                            "nothing to work around here, so the call passes through unchanged"
                                .to_string()
                        });
                        answers.which_docker_builds = format!(
                            "{} ({}), route {} — because: {why}",
                            plan.program.display(),
                            plan.runner(),
                            plan.route.name()
                        );
                        let (answer, on) = builder_answer(&plan, g, &mut problems, &mut notes);
                        answers.buildkit.clone_from(&answer);
                        answers.buildkit_on = on;
                        route_now = match plan.builder.as_ref().and_then(|b| b.builder) {
                            Some(b) => format!("route {}, on {}", plan.route.name(), b.describe()),
                            None => format!("route {}", plan.route.name()),
                        };
                        build = Some(BuildAnswer {
                            program: plan.program.display().to_string(),
                            client: plan.runner(),
                            route: plan.route.name(),
                            why,
                            builder: plan.builder.as_ref().and_then(|b| b.builder),
                            buildkit: answer,
                            buildkit_on: on,
                        });
                    }
                    routes.push(RouteEntry {
                        call,
                        plan: Some(crate::cli::explain::plan_json(&plan, &inv, first)),
                        refused: None,
                        line,
                        because,
                    });
                }
                Err(e) => {
                    // One line for the answers; the whole refusal (one line per
                    // Dockerfile finding) stays in the problem and the JSON.
                    let first = e.to_string().lines().next().unwrap_or_default().to_string();
                    if sample[0] == "build" {
                        answers.which_docker_builds = format!("none: {first}");
                        answers.buildkit = "no build runs: it is refused".into();
                        answers.buildkit_on = Some(false);
                        route_now = format!("refused: {first}");
                        problems.push(Finding {
                            problem: format!(
                                "`docker build .` here is refused: {}",
                                e.to_string().replace('\n', "; ")
                            ),
                            fix: e.hint().unwrap_or_default(),
                        });
                    }
                    routes.push(RouteEntry {
                        call,
                        plan: None,
                        refused: Some(e.to_string()),
                        line: format!("refused: {first}"),
                        because: e.hint().map(|h| format!("fix: {h}")),
                    });
                }
            }
        }

        let docker_buildkit = match g.facts.env.docker_buildkit.as_deref() {
            None => "unset".to_string(),
            Some(v) => match (BuildEnv {
                docker_buildkit: Some(v.to_owned()),
                build_args: Vec::new(),
            })
            .buildkit()
            {
                Some(true) => "set, true (BuildKit requested)".into(),
                Some(false) => "set, false (legacy builder requested)".into(),
                None if v.is_empty() => "set but empty (counts as unset)".into(),
                None => {
                    problems.push(Finding {
                        problem: "DOCKER_BUILDKIT is not a boolean; the Docker CLI rejects it"
                            .into(),
                        fix: "set DOCKER_BUILDKIT to 1 or 0, or unset it".into(),
                    });
                    "set, but not a boolean".into()
                }
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

        Report {
            version: env!("CARGO_PKG_VERSION"),
            executable: shown(env.exe.as_deref()),
            answers,
            docker_resolves_to: shown(resolution.path.as_deref()),
            docker_is_dockroute: resolution.is_dockroute,
            clients: g.facts.clients.clone(),
            ignored_path_entries: g
                .search
                .ignored
                .iter()
                .map(|e| e.to_string_lossy().into_owned())
                .collect(),
            buildx_plugin: shown(g.buildx_plugin.as_deref()),
            endpoint: env.endpoint.clone(),
            daemon: env.daemon.clone(),
            runtime: g.runtime.clone(),
            build,
            buildkit: BuildKitSection {
                remote: bk.remote.clone(),
                host: bk.host.clone(),
                unreachable: checked.as_ref().and(bk.unreachable.clone()),
                checked,
                buildctl: shown(bk.buildctl.as_deref()),
                daemonless: shown(bk.daemonless.as_deref()),
                route_now,
            },
            routes,
            settings: settings_map(&g.settings),
            docker_buildkit,
            cache_dir: shown(env.cache_dir.as_deref()),
            problems,
            notes,
        }
    }
}

/// "Is BuildKit on?" for `docker build .` as routed now, from the builder `decide` chose,
/// with the problem or note that goes with it.
fn builder_answer(
    plan: &Plan,
    g: &Gathered,
    problems: &mut Vec<Finding>,
    notes: &mut Vec<Finding>,
) -> (String, Option<bool>) {
    let Some(choice) = &plan.builder else {
        return ("unknown — not a build".into(), None);
    };
    let inherited_off = g.facts.env.buildkit() == Some(false);
    let restricted = matches!(g.facts.runtime, Some(Runtime::Restricted { .. }));
    match choice.builder {
        None => {
            problems.push(Finding {
                problem: format!("`docker build` fails: {}", choice.why),
                fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins), or unset DOCKER_BUILDKIT".into(),
            });
            (format!("no — {}", choice.why), Some(false))
        }
        Some(Builder::Legacy) => {
            if choice.set_by_route && restricted {
                notes.push(Finding {
                    problem: "builds use the legacy builder: --secret, --ssh, --output, --cache-to and BuildKit-only Dockerfile syntax are refused".into(),
                    fix: "put a Docker CLI < 23 on PATH (Bitbucket runtime v2 mounts 20.10 at /usr/bin/docker when the step has the docker service); dockroute then builds with the daemon's BuildKit".into(),
                });
            } else if inherited_off {
                notes.push(Finding {
                    problem: "DOCKER_BUILDKIT=0 is inherited: builds use the deprecated legacy builder".into(),
                    fix: "unset DOCKER_BUILDKIT (a workaround from runtime v2 days is no longer needed with dockroute)".into(),
                });
            } else if plan.client.as_ref().is_some_and(|c| {
                c.version
                    .as_ref()
                    .is_some_and(|v| v.major >= crate::route::facts::BUILDX_DEFAULT_MAJOR)
                    && !c.buildx
            }) {
                notes.push(Finding {
                    problem: "the build client has no buildx plugin: `docker build` uses the deprecated legacy builder".into(),
                    fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins) to build with BuildKit".into(),
                });
            }
            (
                format!("no — {}: {}", Builder::Legacy.describe(), choice.why),
                Some(false),
            )
        }
        Some(b) => {
            let by = if choice.set_by_route && plan.route == Route::Mounted {
                ", DOCKER_BUILDKIT=1 set by dockroute"
            } else {
                ""
            };
            (
                format!("yes — {}{by}: {}", b.describe(), choice.why),
                Some(true),
            )
        }
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

/// The daemon's answer in words.
#[must_use]
pub fn verdict_words(v: &Verdict) -> String {
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
    let pinned = if rt.source == RuntimeSource::Pinned {
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
        Runtime::NoDaemon { .. } => format!("cannot tell — no daemon answers at {endpoint}"),
        Runtime::Unknown { .. } => {
            format!("cannot tell — {why}; builds pass through unchanged")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::discovery::SearchReport;
    use crate::route::facts::{Facts, Mode};

    fn client(path: &str, major: u64, mounted: bool, buildx: bool) -> Client {
        Client::fixture(path, major, mounted, buildx)
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
                ..SearchReport::default()
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

    fn env() -> Env {
        Env {
            exe: Some("/usr/local/sbin/dockroute".into()),
            endpoint: "tcp://localhost:2375".into(),
            ..Env::default()
        }
    }

    /// `DOCKER_BUILDKIT` inherited, as `decide` and the report read it.
    fn with_buildkit(mut g: Gathered, value: &str) -> Gathered {
        g.facts.env.docker_buildkit = Some(value.into());
        g
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
        let d = Report::new(&v2(), &env(), ours());
        assert!(d
            .answers
            .which_docker_builds
            .starts_with("/usr/bin/docker (20.10.24, bind-mounted), route mounted"));
        assert!(d.answers.which_docker_builds.contains(DENIED));
        assert!(d.answers.runtime.starts_with("v2 — Bitbucket runtime v2"));
        assert!(
            d.answers.buildkit.starts_with("yes — the daemon's embedded BuildKit, DOCKER_BUILDKIT=1 set by dockroute: the first `docker` on PATH (/usr/local/bin/docker, 28.10.24) is a CLI ≥ 23, whose default builder is BuildKit"),
            "{}",
            d.answers.buildkit
        );
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        let text = crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(false));
        for a in [
            &d.answers.which_docker_builds,
            &d.answers.buildkit,
            &d.answers.runtime,
        ] {
            assert!(text.contains(a.as_str()), "{a} in\n{text}");
        }
        assert!(text.contains("No problems found."));
        assert!(!text.contains('\x1b'));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["answers"]["runtime"], d.answers.runtime.as_str());
        assert_eq!(v["build"]["program"], "/usr/bin/docker");
    }

    #[test]
    fn inherited_buildkit_on_the_mounted_route_is_the_daemons_buildkit() {
        let d = Report::new(&with_buildkit(v2(), "1"), &env(), ours());
        assert_eq!(d.answers.buildkit_on, Some(true));
        assert!(d.answers.buildkit.contains("embedded BuildKit"));
        let d = Report::new(&with_buildkit(v2(), "false"), &env(), ours());
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
        let d = Report::new(&with_buildkit(g, "0"), &env(), ours());
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
        let d = Report::new(&with_buildkit(g, "1"), &env(), ours());
        assert_eq!(d.answers.buildkit_on, Some(false));
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].fix.contains("buildx"));
        assert!(d.answers.runtime.starts_with("neither"));
        let text = crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(false));
        assert!(text.contains("To fix") && text.contains("fix: install the buildx plugin"));
    }

    #[test]
    fn docker_not_dockroute_says_which_path_line_to_add() {
        let r = Resolution {
            path: Some("/usr/local/bin/docker".into()),
            is_dockroute: false,
        };
        let d = Report::new(&v2(), &env(), r);
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].fix.contains("ENV PATH=/usr/local/sbin:$PATH"));
        assert!(d
            .answers
            .which_docker_builds
            .starts_with("/usr/local/bin/docker, directly — `docker` is not dockroute"));
        let text = crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(false));
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
        let d = Report::new(&g, &env(), ours());
        assert!(d.answers.runtime.starts_with("cannot tell"));
        assert!(d.problems.iter().any(|p| p.fix.contains("services")));
    }

    fn no_daemon() -> Gathered {
        gathered(
            vec![client("/usr/local/bin/docker", 28, false, false)],
            Runtime::NoDaemon {
                why: "no daemon answered: connection refused".into(),
            },
            false,
        )
    }

    #[test]
    fn no_daemon_and_no_buildkit_says_what_is_missing() {
        let d = Report::new(&no_daemon(), &env(), ours());
        // Builds would fail: a problem (doctor exits 1), never beside "No problems found".
        assert!(
            d.problems
                .iter()
                .any(|n| n.problem.contains("no BUILDKIT_HOST")
                    && n.fix.contains("buildctl-daemonless.sh")),
            "{:?}",
            d.problems
        );
        assert_eq!(d.buildkit.route_now, "route pass, on the legacy builder");
        let text = crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(false));
        assert!(
            text.contains("BuildKit\n") && text.contains("buildctl                 not on PATH"),
            "{text}"
        );
        assert!(!text.contains("No problems found."), "{text}");
    }

    #[test]
    fn the_buildkit_section_shows_the_address_its_reachability_and_the_route() {
        let mut g = no_daemon();
        g.facts.buildkit = crate::route::facts::BuildKitFacts {
            host: Some("unix:///run/buildkit/buildkitd.sock".into()),
            buildctl: Some("/usr/bin/buildctl".into()),
            unreachable: Some("No such file or directory".into()),
            ..crate::route::facts::BuildKitFacts::default()
        };
        let d = Report::new(&g, &env(), ours());
        assert_eq!(
            d.buildkit.checked.as_deref(),
            Some("unix:///run/buildkit/buildkitd.sock")
        );
        assert!(d.problems.iter().any(|p| p
            .problem
            .contains("unix:///run/buildkit/buildkitd.sock does not answer")));
        assert!(
            d.buildkit.route_now.starts_with("refused"),
            "{}",
            d.buildkit.route_now
        );
        g.facts.buildkit.unreachable = None;
        let d = Report::new(&g, &env(), ours());
        assert_eq!(d.buildkit.route_now, "route daemonless, on BuildKit");
        assert_eq!(
            d.build.as_ref().map(|b| b.builder),
            Some(Some(Builder::BuildKit))
        );
        assert_eq!(d.answers.buildkit_on, Some(true));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["buildkit"]["host"], "unix:///run/buildkit/buildkitd.sock");
        assert_eq!(v["buildkit"]["buildctl"], "/usr/bin/buildctl");
        let text = crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(false));
        assert!(
            text.contains("unix:///run/buildkit/buildkitd.sock answers"),
            "{text}"
        );
        assert!(
            text.contains("a build now              route daemonless, on BuildKit"),
            "{text}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let d = Report::new(&v2(), &env(), ours());
        assert!(
            crate::cli::doctor::text::render(&d, &crate::cli::doctor::text::Paint(true))
                .contains("\x1b[32mok\x1b[0m")
        );
    }
}
