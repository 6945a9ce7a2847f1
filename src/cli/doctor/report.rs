//! doctor's report as one value: the three answers ("which docker runs my build, and
//! why?", "is BuildKit on?", "is this runtime v2 or v3?"), the clients, the daemon and
//! runtime, BuildKit, the route of each sample call, the settings, and every problem with
//! its fix. Pure: built from what `doctor` gathered; `--json` serialises it as it is and
//! the table renders it.
//!
//! The builder answer is read from the plan `decide` makes for `docker build .`, never
//! re-derived here.
//!
//! Size: the report's value types (each serialised as `doctor --json` prints it, the
//! plans as the [`PlanJson`] `explain --json` prints), the constructor, and one small
//! function per finding, answer and section that it calls; the table lives in `text.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::plan_json::{PlanJson, SCHEMA_VERSION};
use crate::docker::args::Invocation;
use crate::probe::daemon::{self, Verdict};
use crate::probe::gather::Gathered;
use crate::probe::runtime::{RuntimeReport, RuntimeSource};
use crate::route::decide;
use crate::route::facts::{BuildKitFacts, Client, Runtime};
use crate::route::mode::Route;
use crate::route::nodes;
use crate::route::plan::{Builder, Plan};

/// The sample calls whose routes doctor shows; the first is "my build".
const SAMPLES: [&[&str]; 3] = [&["build", "."], &["compose", "up", "--build"], &["ps"]];

/// What doctor reads from the process besides the gathered facts (kept apart so that the
/// report is a function of its inputs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
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
pub(crate) struct Resolution {
    /// The file a shell would run.
    pub path: Option<PathBuf>,
    /// Whether it is dockroute.
    pub is_dockroute: bool,
}

/// A line a person may act on, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Finding {
    /// What is wrong or worth knowing.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// The three questions, answered in one sentence each.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Answers {
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
pub(crate) struct BuildAnswer {
    /// The program that runs.
    pub program: String,
    /// Its version (or name).
    pub client: String,
    /// The route.
    pub route: Route,
    /// Why that route.
    pub why: String,
    /// The builder, as `decide` chose it.
    pub builder: Option<Builder>,
    /// The builder answer in words.
    pub buildkit: String,
    /// Whether the build gets BuildKit.
    pub buildkit_on: Option<bool>,
}

/// What this machine offers for building with BuildKit itself: what gathering found
/// (`unreachable` only for the address checked), the address checked and the route now.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct BuildKitSection {
    /// `DOCKROUTE_BUILDKIT_HOST`, `BUILDKIT_HOST`, the programs on PATH, and why the
    /// address checked does not answer.
    #[serde(flatten)]
    pub facts: BuildKitFacts,
    /// The address a build would use, which was checked (`None`: none was); a node list
    /// as set.
    pub checked: Option<String>,
    /// Each node of that address or list, in the order of `docker build .` here, with
    /// whether it answers (doctor checks every node).
    pub nodes: Vec<NodeState>,
    /// The route a build takes now, in words.
    pub route_now: String,
}

/// One BuildKit node and whether it answers.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct NodeState {
    /// Its address.
    pub address: String,
    /// Whether something answers there; `None` when it was not checked (dockroute cannot
    /// check `kube-pod://` and the like itself).
    pub answers: Option<bool>,
    /// Why it does not answer.
    pub unreachable: Option<String>,
    /// `docker build .` here would go to it.
    pub chosen: bool,
}

/// One sample call and its route.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RouteEntry {
    /// `docker build .` …
    pub call: String,
    /// The plan, as `explain --json` prints it; `None` when the call would be refused.
    pub plan: Option<PlanJson>,
    /// The refusal, when the call would be refused.
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
pub(crate) struct Report {
    /// The version of this JSON shape (`docs/json.md`).
    pub schema_version: u32,
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

/// One sample call, decided now.
struct Sample {
    /// Its docker arguments.
    args: &'static [&'static str],
    /// Parsed.
    inv: Invocation,
    /// `decide`'s answer (a missing client told as discovery tells it).
    decision: crate::error::Result<Plan>,
}

impl Sample {
    fn decide(args: &'static [&'static str], g: &Gathered) -> Sample {
        let inv = Invocation::parse(args.iter().map(OsString::from).collect());
        let decision = match decide::decide(&inv, &g.facts) {
            // The searched directories are discovery's to tell.
            Err(crate::error::Error::NoClient { .. }) => Err(g.search.clone().into_error()),
            other => other,
        };
        Sample {
            args,
            inv,
            decision,
        }
    }

    fn call(&self) -> String {
        format!("docker {}", self.args.join(" "))
    }
}

/// The first line of a refusal (the whole of it, one line per Dockerfile finding, stays
/// in the problem and the JSON).
fn first_line(e: &crate::error::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

impl Report {
    /// Builds the report: each finding, answer and section from its own function below.
    #[must_use]
    pub(crate) fn new(g: &Gathered, env: &Env, resolution: Resolution) -> Report {
        let samples: Vec<Sample> = SAMPLES.iter().map(|s| Sample::decide(s, g)).collect();
        // SAMPLES[0] is `docker build .`, "my build".
        let build = &samples[0];
        let first = g.facts.clients.first().map(|c| c.path.as_path());
        let (unreachable, fallback) = buildkit_unreachable(g, build);
        let problems = [not_dockroute(&resolution, env), no_client(g)]
            .into_iter()
            .flatten()
            .chain(bad_settings(g))
            .chain(no_daemon(g, env))
            .chain(unreachable)
            .chain(build.decision.as_ref().ok().and_then(no_builder))
            .chain(build_refused(build))
            .chain(docker_buildkit_not_boolean(g))
            .collect();
        let notes = client_problems(g)
            .into_iter()
            .chain(buildkit_pod(g))
            .chain(fallback)
            .chain(runtime_unknown(g))
            .chain(buildctl_missing(g))
            .chain(dead_nodes(g))
            .chain(
                build
                    .decision
                    .as_ref()
                    .ok()
                    .and_then(|p| legacy_builder(p, g)),
            )
            .chain(projects(build, g))
            .collect();
        Report {
            schema_version: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            executable: shown(env.exe.as_deref()),
            answers: answers(g, env, &resolution, build),
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
            build: build_answer(build),
            buildkit: buildkit_section(g, build),
            routes: samples
                .iter()
                .map(|s| {
                    let mut e = route_entry(s, first);
                    // A project builds per target (see the note); the compose route shown
                    // is its fallback, without a printer.
                    if s.inv.kind == crate::docker::args::CommandKind::Compose
                        && decide::builds_projects(&g.facts)
                    {
                        e.line = format!(
                            "each service as `docker build .` above; without `build --print`: {}",
                            e.line
                        );
                    }
                    e
                })
                .collect(),
            settings: settings_map(&g.settings),
            docker_buildkit: docker_buildkit_words(g),
            cache_dir: shown(env.cache_dir.as_deref()),
            problems,
            notes,
        }
    }
}

/// Problem: a shell's `docker` is not dockroute (or there is none).
fn not_dockroute(resolution: &Resolution, env: &Env) -> Option<Finding> {
    let problem = match &resolution.path {
        Some(_) if resolution.is_dockroute => return None,
        Some(p) => format!("`docker` resolves to {}, not dockroute", p.display()),
        None => "no `docker` on PATH at all".into(),
    };
    Some(Finding {
        problem,
        fix: path_fix(env.exe.as_deref()),
    })
}

/// Problem: no real client on PATH — unless this is a BuildKit pod, where none is
/// expected (the README's pod image has only BuildKit): there it is a note saying what
/// works. Whether builds do is the build's own finding ([`build_refused`] and the
/// reachability check), not this one's.
fn no_client(g: &Gathered) -> Option<Finding> {
    if crate::route::image_routes::buildkit_pod(&g.facts) {
        return None;
    }
    g.facts.clients.is_empty().then(|| Finding {
        problem: g.search.clone().into_error().to_string(),
        fix: "install a Docker CLI (e.g. `apt-get install docker.io`) or add the directory holding the real `docker` to PATH as an absolute path".into(),
    })
}

/// Note: a BuildKit pod has no docker client, by design.
fn buildkit_pod(g: &Gathered) -> Option<Finding> {
    crate::route::image_routes::buildkit_pod(&g.facts).then(|| Finding {
        problem: format!(
            "no docker client on PATH (a BuildKit pod): {}; commands that need a container runtime (`run`, `ps`, `compose up` …) exit 125",
            crate::route::image_routes::WHAT_WORKS
        ),
        fix: "nothing to do for builds; for containers, run the step where a Docker daemon and client are".into(),
    })
}

/// Notes: clients whose version could not be told.
fn client_problems(g: &Gathered) -> Vec<Finding> {
    g.facts
        .clients
        .iter()
        .filter_map(|c| {
            let p = c.problem.as_ref()?;
            Some(Finding {
                problem: format!("{}: {p}", c.path.display()),
                fix: format!(
                    "run `{} --version` to see what it says; dockroute does not route builds to a client whose version it cannot tell (raise DOCKROUTE_PROBE_TIMEOUT_MS if it is only slow)",
                    c.path.display()
                ),
            })
        })
        .collect()
}

/// Problems: settings whose values were not understood.
fn bad_settings(g: &Gathered) -> Vec<Finding> {
    g.settings
        .bad
        .iter()
        .map(|bad| Finding {
            problem: bad.to_string(),
            fix: "correct the variable or unset it (see `man dockroute`, or the README's Configuration)".into(),
        })
        .collect()
}

/// Problem: no daemon in a Bitbucket step, or no daemon and no BuildKit either (builds
/// would fail: a problem, not a note — doctor exits 1).
fn no_daemon(g: &Gathered, env: &Env) -> Option<Finding> {
    let rt = g.runtime.as_ref()?;
    if !matches!(rt.runtime, Runtime::NoDaemon { .. }) {
        return None;
    }
    let bk = &g.facts.buildkit;
    if rt.bitbucket {
        return Some(Finding {
            problem: format!(
                "this is a Bitbucket step but no Docker daemon answers at {}",
                env.endpoint
            ),
            fix: "add `services: [docker]` to the step (and do not override DOCKER_HOST)".into(),
        });
    }
    let daemonless_ready = bk.host.is_some() || bk.daemonless.is_some();
    (!daemonless_ready && bk.remote.is_none()).then(|| Finding {
        problem: format!(
            "no Docker daemon answers at {}, and there is no BuildKit to build with instead (no BUILDKIT_HOST, no buildctl-daemonless.sh on PATH): builds pass through unchanged and fail",
            env.endpoint
        ),
        fix: "on a daemonless agent set BUILDKIT_HOST (with buildctl on PATH) or use an image with buildctl-daemonless.sh (moby/buildkit); otherwise start the daemon or set DOCKER_HOST, or pin the runtime with DOCKROUTE_RUNTIME=restricted|v3|open".into(),
    })
}

/// Note: the runtime could not be told.
fn runtime_unknown(g: &Gathered) -> Option<Finding> {
    let rt = g.runtime.as_ref()?;
    matches!(rt.runtime, Runtime::Unknown { .. }).then(|| Finding {
        problem: format!(
            "the runtime could not be told, so builds pass through unchanged: {}",
            rt.runtime.why()
        ),
        fix: "check that the daemon answers in time (DOCKROUTE_DAEMON_TIMEOUT_MS) and DOCKER_HOST is right, or pin the runtime with DOCKROUTE_RUNTIME=restricted|v3|open".into(),
    })
}

/// Note: `BUILDKIT_HOST` without `buildctl`.
fn buildctl_missing(g: &Gathered) -> Option<Finding> {
    let bk = &g.facts.buildkit;
    (bk.host.is_some() && bk.buildctl.is_none()).then(|| Finding {
        problem: "BUILDKIT_HOST is set but `buildctl` is not on PATH".into(),
        fix: "install buildctl (from a moby/buildkit release) into a directory on PATH".into(),
    })
}

/// The BuildKit address a build would use, which gathering checked.
fn checked_address(g: &Gathered) -> Option<String> {
    crate::route::needs::buildkit_address(&g.facts.buildkit, g.facts.mode, g.facts.runtime.as_ref())
        .map(str::to_string)
}

/// Problem: the BuildKit a build would use does not answer.
/// A problem when builds cannot run because of it; when `docker build .` still has a
/// plan (a dead `BUILDKIT_HOST` with `buildctl-daemonless.sh` on PATH, as in the
/// `moby/buildkit:rootless` image, which presets the address), a note.
fn buildkit_unreachable(g: &Gathered, build: &Sample) -> (Option<Finding>, Option<Finding>) {
    let (Some(addr), Some(why)) = (checked_address(g), g.facts.buildkit.unreachable.as_ref())
    else {
        return (None, None);
    };
    let problem = format!("the BuildKit at {addr} does not answer: {why}");
    if build.decision.is_ok() {
        let note = Finding {
            problem: format!("{problem}; builds start a private BuildKit with buildctl-daemonless.sh instead"),
            fix: "nothing to do; to skip the check, set BUILDKIT_HOST to an empty value (`ENV BUILDKIT_HOST=` in the image)".into(),
        };
        return (None, Some(note));
    }
    let problem = Finding {
        problem,
        fix: "check that buildkitd runs there and that this machine can reach it (address, port, TLS files)".into(),
    };
    (Some(problem), None)
}

/// Problem: `docker build .` is refused here.
fn build_refused(build: &Sample) -> Option<Finding> {
    let e = build.decision.as_ref().err()?;
    Some(Finding {
        problem: format!(
            "`docker build .` here is refused: {}",
            e.to_string().replace('\n', "; ")
        ),
        fix: e.hint().unwrap_or_default(),
    })
}

/// Problem: the build's client will refuse to build at all (no builder).
fn no_builder(plan: &Plan) -> Option<Finding> {
    let choice = plan.builder.as_ref().filter(|c| c.builder.is_none())?;
    Some(Finding {
        problem: format!("`docker build` fails: {}", choice.why),
        fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins), or unset DOCKER_BUILDKIT".into(),
    })
}

/// Note: the build uses the legacy builder, and why that can be changed.
/// How compose and bake projects build here: where privileged is forbidden, target by
/// target through the route `docker build .` takes (the compose sample's route line shows
/// compose's fallback, used only when its printer is missing).
fn projects(build: &Sample, g: &Gathered) -> Option<Finding> {
    if !decide::builds_projects(&g.facts) {
        return None;
    }
    let how = match &build.decision {
        Ok(p) => format!(
            "route {} with {} ({})",
            p.route.name(),
            p.runner(),
            p.builder
                .as_ref()
                .and_then(|b| b.builder)
                .map_or("no builder", |b| b.describe())
        ),
        Err(e) => format!("refused: {}", first_line(e)),
    };
    Some(Finding {
        problem: format!(
            "compose and bake projects (`docker compose build`/`up`/`create`/`run`, `docker buildx bake`) are resolved with `docker compose build --print` / `docker buildx bake --print` and each target is built as `docker build .` is here ({how}), independent targets at once (at most {}), output prefixed `[target]`; `up`/`create` then run with `--no-build`",
            crate::project::plan::MAX_PARALLEL
        ),
        fix: "nothing to do; `dockroute explain -- compose up` shows one line per target. Without `--print` (a Docker Compose that lacks `build --print`, or no buildx plugin for bake) compose keeps its classic builder after each service's Dockerfile is checked, and bake is refused".into(),
    })
}

fn legacy_builder(plan: &Plan, g: &Gathered) -> Option<Finding> {
    let choice = plan
        .builder
        .as_ref()
        .filter(|c| c.builder == Some(Builder::Legacy))?;
    let restricted = matches!(g.facts.runtime, Some(Runtime::Restricted { .. }));
    if choice.set_by_route && restricted {
        return Some(Finding {
            problem: "builds use the legacy builder: --secret, --ssh, --output, --cache-to and BuildKit-only Dockerfile syntax are refused".into(),
            fix: "put a Docker CLI < 23 on PATH (Bitbucket runtime v2 mounts 20.10 at /usr/bin/docker when the step has the docker service); dockroute then builds with the daemon's BuildKit".into(),
        });
    }
    if g.facts.env.buildkit() == Some(false) {
        return Some(Finding {
            problem: "DOCKER_BUILDKIT=0 is inherited: builds use the deprecated legacy builder"
                .into(),
            fix: "unset DOCKER_BUILDKIT (a workaround from runtime v2 days is no longer needed with dockroute)".into(),
        });
    }
    let buildx_era_without_plugin = plan
        .client
        .as_ref()
        .is_some_and(|c| c.buildx_era() && !c.buildx);
    buildx_era_without_plugin.then(|| Finding {
        problem: "the build client has no buildx plugin: `docker build` uses the deprecated legacy builder".into(),
        fix: "install the buildx plugin (docker-buildx into /usr/local/lib/docker/cli-plugins) to build with BuildKit".into(),
    })
}

/// Problem: `DOCKER_BUILDKIT` is set to something that is not a boolean.
fn docker_buildkit_not_boolean(g: &Gathered) -> Option<Finding> {
    let v = g.facts.env.docker_buildkit.as_ref()?;
    (!v.is_empty() && g.facts.env.buildkit().is_none()).then(|| Finding {
        problem: "DOCKER_BUILDKIT is not a boolean; the Docker CLI rejects it".into(),
        fix: "set DOCKER_BUILDKIT to 1 or 0, or unset it".into(),
    })
}

/// `DOCKER_BUILDKIT` in words.
fn docker_buildkit_words(g: &Gathered) -> String {
    match (g.facts.env.docker_buildkit.as_ref(), g.facts.env.buildkit()) {
        (None, _) => "unset".into(),
        (Some(_), Some(true)) => "set, true (BuildKit requested)".into(),
        (Some(_), Some(false)) => "set, false (legacy builder requested)".into(),
        (Some(v), None) if v.is_empty() => "set but empty (counts as unset)".into(),
        (Some(_), None) => "set, but not a boolean".into(),
    }
}

/// Why `docker build .` takes its route, in words.
fn build_why(plan: &Plan) -> String {
    plan.reason.clone().unwrap_or_else(|| {
        "nothing to work around here, so the call passes through unchanged".to_string()
    })
}

/// The three answers.
fn answers(g: &Gathered, env: &Env, resolution: &Resolution, build: &Sample) -> Answers {
    let (mut which_docker_builds, buildkit, buildkit_on) = match &build.decision {
        Ok(plan) => {
            let (buildkit, on) = builder_answer(plan);
            (
                format!(
                    "{} ({}), route {} — because: {}",
                    plan.program.display(),
                    plan.runner(),
                    plan.route.name(),
                    build_why(plan)
                ),
                buildkit,
                on,
            )
        }
        Err(e) => (
            format!("none: {}", first_line(e)),
            "no build runs: it is refused".into(),
            Some(false),
        ),
    };
    if !resolution.is_dockroute {
        // `docker build` does not reach dockroute at all: say so before what it would do.
        let direct = resolution
            .path
            .as_ref()
            .map_or_else(|| "nothing".to_string(), |p| p.display().to_string());
        which_docker_builds = format!(
            "{direct}, directly — `docker` is not dockroute, so nothing is routed (through dockroute: {which_docker_builds})"
        );
    }
    Answers {
        which_docker_builds,
        buildkit,
        buildkit_on,
        runtime: g.runtime.as_ref().map_or_else(
            || "not probed".to_string(),
            |rt| runtime_answer(rt, &env.endpoint),
        ),
    }
}

/// `docker build .` as routed now; `None` when it is refused.
fn build_answer(build: &Sample) -> Option<BuildAnswer> {
    let plan = build.decision.as_ref().ok()?;
    let (buildkit, buildkit_on) = builder_answer(plan);
    Some(BuildAnswer {
        program: plan.program.display().to_string(),
        client: plan.runner(),
        route: plan.route,
        why: build_why(plan),
        builder: plan.builder.as_ref().and_then(|b| b.builder),
        buildkit,
        buildkit_on,
    })
}

/// The BuildKit section: what gathering found, the address checked, the route now.
fn buildkit_section(g: &Gathered, build: &Sample) -> BuildKitSection {
    let checked = checked_address(g);
    let mut facts = g.facts.buildkit.clone();
    // Only the address a build would use was checked.
    facts.unreachable = checked.as_ref().and(facts.unreachable);
    let route_now = match &build.decision {
        Ok(plan) => match plan.builder.as_ref().and_then(|b| b.builder) {
            Some(b) => format!("route {}, on {}", plan.route.name(), b.describe()),
            None => format!("route {}", plan.route.name()),
        },
        Err(e) => format!("refused: {}", first_line(e)),
    };
    BuildKitSection {
        nodes: node_states(g, checked.as_deref()),
        facts,
        checked,
        route_now,
    }
}

/// Every node of `list`, in the build's order, as the probe found it.
fn node_states(g: &Gathered, list: Option<&str>) -> Vec<NodeState> {
    let Some(list) = list else {
        return Vec::new();
    };
    let bk = &g.facts.buildkit;
    let all = nodes::parse_list(list);
    let key = bk.affinity_key();
    let chosen = nodes::choose(&all, &key, &bk.checks)
        .ok()
        .map(|c| c.address);
    nodes::order(&all, &key)
        .into_iter()
        .map(|a| {
            let check = bk.checks.iter().find(|c| c.address == a);
            // A node checked with no reason to give answers, or cannot be told apart
            // from one that does (see probe::buildkit::unreachable).
            let checkable = crate::probe::buildkit::address(a).is_some();
            NodeState {
                address: a.to_string(),
                answers: check.filter(|_| checkable).map(|c| c.unreachable.is_none()),
                unreachable: check.and_then(|c| c.unreachable.clone()),
                chosen: chosen.as_deref() == Some(a),
            }
        })
        .collect()
}

/// Note: some nodes of a list do not answer (while others do: with none, the build
/// cannot run, which is a problem).
fn dead_nodes(g: &Gathered) -> Vec<Finding> {
    if g.facts.buildkit.unreachable.is_some() {
        return Vec::new();
    }
    node_states(g, checked_address(g).as_deref())
        .into_iter()
        .filter_map(|n| {
            let why = n.unreachable?;
            Some(Finding {
                problem: format!(
                    "the BuildKit node {} does not answer: {why}; builds whose order puts it first go to their next node, without its cache",
                    n.address
                ),
                fix: "check that buildkitd runs there, or remove the address from the list (only its builds move)".into(),
            })
        })
        .collect()
}

/// One sample's entry in "Routes now".
fn route_entry(s: &Sample, first: Option<&Path>) -> RouteEntry {
    match &s.decision {
        Ok(plan) => {
            let changes = env_changes(plan);
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
                .is_reroute(&s.inv, first)
                .then(|| plan.reason.clone())
                .flatten()
                .map(|r| format!("because: {r}"));
            RouteEntry {
                call: s.call(),
                plan: Some(PlanJson::new(plan, &s.inv, first)),
                refused: None,
                line,
                because,
            }
        }
        Err(e) => RouteEntry {
            call: s.call(),
            plan: None,
            refused: Some(e.to_string()),
            line: format!("refused: {}", first_line(e)),
            because: e.hint().map(|h| format!("fix: {h}")),
        },
    }
}

/// "Is BuildKit on?" for `docker build .` as routed now, from the builder `decide` chose.
fn builder_answer(plan: &Plan) -> (String, Option<bool>) {
    let Some(choice) = &plan.builder else {
        return ("unknown — not a build".into(), None);
    };
    match choice.builder {
        None => (format!("no — {}", choice.why), Some(false)),
        Some(Builder::Legacy) => (
            format!("no — {}: {}", Builder::Legacy.describe(), choice.why),
            Some(false),
        ),
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
pub(crate) fn verdict_words(v: &Verdict) -> String {
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
    use crate::route::facts::Facts;
    use crate::route::mode::Mode;

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
        let notes: Vec<&str> = d.notes.iter().map(|n| n.problem.as_str()).collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("DOCKER_BUILDKIT=0"),
            "an inherited 0 comes with its fix: {notes:?}"
        );
        // Where privileged is forbidden, doctor says how compose and bake projects build.
        assert!(
            notes[1].contains("docker compose build --print")
                && notes[1].contains("`docker build .`"),
            "{notes:?}"
        );
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
    fn a_buildkit_pod_without_a_client_is_no_problem() {
        let mut g = gathered(
            Vec::new(),
            Runtime::NoDaemon {
                why: "no daemon answered: No such file or directory (os error 2)".into(),
            },
            false,
        );
        // No client and no BuildKit: nothing builds, a problem.
        let d = Report::new(&g, &env(), ours());
        assert!(
            d.problems
                .iter()
                .any(|p| p.problem.contains("no real docker client")),
            "{:?}",
            d.problems
        );
        // The README's pod: BuildKit's programs, no client. Builds work: no problem.
        g.facts.buildkit = crate::route::facts::BuildKitFacts {
            buildctl: Some("/usr/bin/buildctl".into()),
            daemonless: Some("/usr/bin/buildctl-daemonless.sh".into()),
            ..crate::route::facts::BuildKitFacts::default()
        };
        let d = Report::new(&g, &env(), ours());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.buildkit.route_now, "route daemonless, on BuildKit");
        assert!(
            d.notes
                .iter()
                .any(|n| n.problem.contains("a BuildKit pod") && n.problem.contains("docker push")),
            "{:?}",
            d.notes
        );
        // A pod whose BuildKit does not answer still has a problem: the build's own.
        g.facts.buildkit = crate::route::facts::BuildKitFacts {
            host: Some("unix:///nowhere.sock".into()),
            buildctl: Some("/usr/bin/buildctl".into()),
            unreachable: Some("No such file or directory".into()),
            checks: vec![crate::route::nodes::NodeCheck {
                address: "unix:///nowhere.sock".into(),
                unreachable: Some("No such file or directory".into()),
            }],
            ..crate::route::facts::BuildKitFacts::default()
        };
        let d = Report::new(&g, &env(), ours());
        assert!(!d.problems.is_empty());
        // The rootless image presets BUILDKIT_HOST; with nothing there and the script on
        // PATH, builds take a private BuildKit: a note, not a problem.
        g.facts.buildkit.daemonless = Some("/usr/bin/buildctl-daemonless.sh".into());
        let d = Report::new(&g, &env(), ours());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert!(
            d.notes.iter().any(
                |n| n.problem.contains("unix:///nowhere.sock does not answer")
                    && n.problem.contains("buildctl-daemonless.sh instead")
            ),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn the_buildkit_section_shows_the_address_its_reachability_and_the_route() {
        let mut g = no_daemon();
        g.facts.buildkit = crate::route::facts::BuildKitFacts {
            host: Some("unix:///run/buildkit/buildkitd.sock".into()),
            buildctl: Some("/usr/bin/buildctl".into()),
            unreachable: Some("No such file or directory".into()),
            checks: vec![crate::route::nodes::NodeCheck {
                address: "unix:///run/buildkit/buildkitd.sock".into(),
                unreachable: Some("No such file or directory".into()),
            }],
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
        g.facts.buildkit.checks[0].unreachable = None;
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
