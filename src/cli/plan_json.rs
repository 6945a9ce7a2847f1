//! The plan (or refusal) as `explain --json` prints it and `doctor --json` embeds it in
//! each of its `routes`: one typed value both build from a [`Plan`], so the two cannot
//! drift. `docs/json.md` documents every field; [`SCHEMA_VERSION`] is the version of
//! that shape.
//!
//! Arguments pass through the redaction point (build-arg values never show); non-UTF-8
//! bytes are shown lossily, as in the text output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use crate::docker::args::Invocation;
use crate::error::Error;
use crate::output::redact;
use crate::probe::runtime::RuntimeReport;
use crate::probe::settings::BadValue;
use crate::route::mode::Route;
use crate::route::plan::{BuilderChoice, Plan, Step};

/// The version of the JSON shape of `explain --json` and `doctor --json`; bumped when a
/// field is removed, renamed or changes type or meaning (adding a field does not).
pub(crate) const SCHEMA_VERSION: u32 = 1;

fn lossy(v: &[OsString]) -> Vec<String> {
    v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

/// Another process of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct StepJson {
    /// Absolute path of the program.
    pub program: String,
    /// Its argument vector, argv\[0\] included, redacted.
    pub argv: Vec<String>,
}

impl StepJson {
    fn new(s: &Step) -> StepJson {
        StepJson {
            program: s.program.display().to_string(),
            argv: redact::argv(&lossy(&s.argv)),
        }
    }
}

/// What a plan adds for a warm rebuild after Bitbucket's docker cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct WarmJson {
    /// `--build-arg BUILDKIT_INLINE_CACHE=1` was added.
    pub inline_cache: bool,
    /// The images found in the daemon added as `--cache-from`.
    pub cache_from: Vec<String>,
    /// The stage images rebuilt after the build (the `then` steps that do it).
    pub stage_images: Vec<String>,
    /// What was left as the call had it, or not added, and why.
    pub kept: Vec<String>,
}

/// A plan, as printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct PlanJson {
    /// The route.
    pub route: Route,
    /// The docker command words dockroute recognised (`build`, `buildx build`,
    /// `compose` …); `None` (null) for a call whose command it does not read.
    pub command: Option<String>,
    /// The program that runs, absolute.
    pub program: String,
    /// Its argument vector, argv\[0\] included, redacted.
    pub argv: Vec<String>,
    /// Environment variables set for it.
    pub env_set: BTreeMap<String, String>,
    /// Environment variables removed for it.
    pub env_unset: Vec<String>,
    /// Why this route; `None` (null) on plain pass-through.
    pub reason: Option<String>,
    /// For build-like calls: the builder and why.
    pub builder: Option<BuilderChoice>,
    /// One line each: flags dropped, variables removed, warnings.
    pub notices: Vec<String>,
    /// A process reading the build's standard output (`docker load`).
    pub load: Option<StepJson>,
    /// Steps run after the build succeeds.
    pub then: Vec<StepJson>,
    /// The file the image ID is written to after the build.
    pub iidfile: Option<String>,
    /// Whether the image ID is printed on stdout after the build (`-q`).
    pub prints_image_id: bool,
    /// The working directory the program runs in, when not the caller's (a recorded
    /// build run again where it was built).
    pub working_dir: Option<String>,
    /// What is done with buildctl's metadata after a successful run: `record` (the image
    /// is recorded under its names), `compare_digest` (a replay's digest is compared with
    /// the record's), or `None`.
    pub then_records: Option<&'static str>,
    /// The docker client's version (", bind-mounted" when it is), or "BuildKit's client".
    pub client: String,
    /// Whether the plan differs from plain pass-through to the first client.
    pub rerouted: bool,
    /// What was added for a warm rebuild; `None` (null) when nothing is done for it.
    pub warm: Option<WarmJson>,
    /// A project's builds, each target's plan; `None` for other calls.
    pub project: Option<ProjectJson>,
}

/// A project's builds (`docker compose build`/`up`/…, `docker buildx bake` on a
/// restricted runtime).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ProjectJson {
    /// The printer that resolved it.
    pub printer: String,
    /// At most this many builds at once.
    pub parallel: usize,
    /// The targets built.
    pub targets: Vec<TargetJson>,
    /// The targets not built, with why.
    pub skipped: Vec<SkippedJson>,
    /// Whether compose runs after the builds.
    pub then_run: bool,
}

/// One target's build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct TargetJson {
    /// The target's name.
    pub name: String,
    /// The targets built before it.
    pub after: Vec<String>,
    /// Its `docker build`, routed.
    pub plan: PlanJson,
}

/// A target not built, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SkippedJson {
    /// The target.
    pub name: String,
    /// Why it is not built.
    pub why: String,
}

impl ProjectJson {
    fn new(p: &crate::route::plan::ProjectPlan, inv: &Invocation, first: Option<&Path>) -> Self {
        ProjectJson {
            printer: p.printer.clone(),
            parallel: p.parallel,
            targets: p
                .targets
                .iter()
                .map(|t| TargetJson {
                    name: t.name.clone(),
                    after: t.after.iter().map(|&i| p.targets[i].name.clone()).collect(),
                    plan: PlanJson::new(&t.plan, inv, first),
                })
                .collect(),
            skipped: p
                .skipped
                .iter()
                .map(|(name, why)| SkippedJson {
                    name: name.clone(),
                    why: why.clone(),
                })
                .collect(),
            then_run: p.then_run,
        }
    }
}

impl PlanJson {
    /// The plan of `inv`; `first` is the first real client (for `rerouted`).
    #[must_use]
    pub(crate) fn new(plan: &Plan, inv: &Invocation, first: Option<&Path>) -> PlanJson {
        PlanJson {
            route: plan.route,
            command: Some(plan.command.clone()).filter(|c| !c.is_empty()),
            program: plan.program.display().to_string(),
            argv: redact::argv(&lossy(&plan.argv)),
            env_set: plan.env_set.iter().cloned().collect(),
            env_unset: plan.env_unset.clone(),
            reason: plan.reason.clone(),
            builder: plan.builder.clone(),
            notices: plan.notices.clone(),
            load: plan.load.as_ref().map(StepJson::new),
            then: plan.then.iter().map(StepJson::new).collect(),
            iidfile: plan
                .image_id
                .as_ref()
                .and_then(|i| i.write_to.as_ref())
                .map(|p| p.display().to_string()),
            prints_image_id: plan.image_id.as_ref().is_some_and(|i| i.print),
            working_dir: plan.cwd.as_ref().map(|d| d.display().to_string()),
            then_records: plan.after.as_ref().map(|a| match a.action {
                crate::route::plan::AfterAction::Record { .. } => "record",
                crate::route::plan::AfterAction::Compare(_) => "compare_digest",
            }),
            client: plan.runner(),
            rerouted: plan.is_reroute(inv, first),
            warm: plan.warm.as_ref().map(|w| WarmJson {
                inline_cache: w.inline_cache,
                cache_from: lossy(&w.cache_from),
                stage_images: w
                    .stage_images
                    .iter()
                    .map(|s| s.tag.to_string_lossy().into_owned())
                    .collect(),
                kept: w.kept.clone(),
            }),
            project: plan
                .project
                .as_deref()
                .map(|p| ProjectJson::new(p, inv, first)),
        }
    }
}

/// What a refused (or failed) call says instead of a plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct RefusalJson {
    /// `refuse` for a refusal of the call, `error` for anything else that stops it.
    pub route: &'static str,
    /// The flag or command refused, when one is.
    pub flag: Option<String>,
    /// The Dockerfile lines that need BuildKit, when that is the refusal.
    pub findings: Option<Vec<String>>,
    /// Why.
    pub reason: String,
    /// What to do.
    pub fix: Option<String>,
    /// The exit code the call would end with.
    pub exit_code: u8,
}

impl RefusalJson {
    /// The refusal `e`.
    #[must_use]
    pub(crate) fn new(e: &Error) -> RefusalJson {
        let (route, flag, findings, reason) = match e {
            Error::Refused { flag, why, .. } => ("refuse", Some(flag.clone()), None, why.clone()),
            Error::NeedsBuildKit { findings, why, .. } => {
                ("refuse", None, Some(findings.clone()), why.clone())
            }
            other => ("error", None, None, other.to_string()),
        };
        RefusalJson {
            route,
            flag,
            findings,
            reason,
            fix: e.hint(),
            exit_code: e.exit_code(),
        }
    }
}

/// A plan or the refusal in its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum DecisionJson {
    /// The call runs.
    Plan(Box<PlanJson>),
    /// The call is refused.
    Refusal(RefusalJson),
}

impl DecisionJson {
    /// The decision for `inv`.
    #[must_use]
    pub(crate) fn new(
        decision: &Result<Plan, Error>,
        inv: &Invocation,
        first: Option<&Path>,
    ) -> Self {
        match decision {
            Ok(plan) => DecisionJson::Plan(Box::new(PlanJson::new(plan, inv, first))),
            Err(e) => DecisionJson::Refusal(RefusalJson::new(e)),
        }
    }
}

/// `explain --json`: the decision's fields at the top level, with the runtime and the
/// settings not understood.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Explained {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The plan or refusal.
    #[serde(flatten)]
    pub decision: DecisionJson,
    /// The runtime, when the call needed it (build-like and compose calls).
    pub runtime: Option<RuntimeReport>,
    /// dockroute settings whose values were not understood.
    pub settings_not_understood: Vec<BadValue>,
}
