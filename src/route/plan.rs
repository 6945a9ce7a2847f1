//! What the routing decision produces: the route, the program and its arguments, the
//! environment changes, the builder the build will use and why, and any follow-up steps.
//!
//! A plan is plain data: `explain` prints it, `doctor` reads it, the shim execs it (or
//! hands it to the supervisor when it has more than one process).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::docker::args::Invocation;
use crate::route::facts::Client;
use crate::route::mode::Route;

/// The builder a build-like call ends up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Builder {
    /// The daemon's deprecated legacy builder (no `RUN --mount`, heredocs, `--secret` …).
    Legacy,
    /// The daemon's embedded BuildKit, reached by a client < 23 with `DOCKER_BUILDKIT=1`:
    /// no privileged container needed.
    DaemonBuildKit,
    /// BuildKit through the buildx plugin.
    Buildx,
    /// A BuildKit daemon of its own, through `buildctl`.
    BuildKit,
}

impl Builder {
    /// Whether the build has BuildKit semantics.
    #[must_use]
    pub fn is_buildkit(self) -> bool {
        !matches!(self, Builder::Legacy)
    }

    /// How doctor and explain name it.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Builder::Legacy => "the legacy builder",
            Builder::DaemonBuildKit => "the daemon's embedded BuildKit",
            Builder::Buildx => "BuildKit through buildx",
            Builder::BuildKit => "BuildKit",
        }
    }
}

/// Which builder, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuilderChoice {
    /// The builder; `None` when the client will refuse to build at all (for example
    /// `DOCKER_BUILDKIT=1` with a CLI ≥ 23 that has no buildx plugin).
    pub builder: Option<Builder>,
    /// Why, in one clause.
    pub why: String,
    /// `DOCKER_BUILDKIT` was set by dockroute (rather than inherited or the default).
    pub set_by_route: bool,
}

/// Another process of the plan: argv\[0\] is `program`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Absolute path of the program.
    pub program: PathBuf,
    /// Its full argument vector, argv\[0\] included.
    pub argv: Vec<OsString>,
}

/// docker's `--iidfile` and `-q` on a BuildKit route: after a successful build, the image
/// ID (the config digest buildctl recorded in its metadata file) is written to a file
/// and/or printed on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageId {
    /// buildctl's `--metadata-file`.
    pub metadata: PathBuf,
    /// The metadata file is dockroute's own (removed after reading), not one the user
    /// asked for.
    pub metadata_is_ours: bool,
    /// A directory private to this call that holds it: created (exclusively) before the
    /// build and removed after. `None` when the metadata file sits elsewhere.
    pub scratch: Option<PathBuf>,
    /// `--iidfile`.
    pub write_to: Option<PathBuf>,
    /// `-q`: print it on stdout.
    pub print: bool,
}

/// What the mounted and legacy routes added so that the next step's build is warm after
/// Bitbucket's docker cache (`docker image save` at a step's end, `docker image load` at
/// the next one's start), by [`crate::route::warm`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Warm {
    /// `--build-arg BUILDKIT_INLINE_CACHE=1` was added: the image carries its build cache
    /// metadata (BuildKit's inline cache, the final stage's layers).
    pub inline_cache: bool,
    /// The images found in the daemon added as `--cache-from`: the build's own tags,
    /// then its stage images.
    pub cache_from: Vec<OsString>,
    /// The stages the build's target uses whose images the daemon lacks, each built
    /// after the build (`--target STAGE`, all from BuildKit's cache by then) into an
    /// image of its own with inline cache, so that the docker cache keeps them warm too
    /// (inline cache covers only the final stage): the plan's `then` steps.
    pub stage_images: Vec<StageImage>,
    /// What was left as the call had it, or not added, and why: one clause each.
    pub kept: Vec<String>,
}

/// A build stage kept as an image for the docker cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageImage {
    /// The stage's name in the Dockerfile (lowercased).
    pub stage: String,
    /// The image: `dockroute-stage/REPO:STAGE`.
    pub tag: OsString,
}

impl Warm {
    /// The arguments added to the build, in order.
    #[must_use]
    pub fn args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.inline_cache {
            args.push("--build-arg".into());
            args.push(crate::route::warm::INLINE_CACHE_ON.into());
        }
        for tag in &self.cache_from {
            args.push("--cache-from".into());
            args.push(tag.clone());
        }
        args
    }

    /// The arguments of the build that makes `stage`'s image: its target, its tag and
    /// inline cache.
    #[must_use]
    pub fn stage_args(stage: &StageImage) -> Vec<OsString> {
        vec![
            "--target".into(),
            stage.stage.clone().into(),
            "-t".into(),
            stage.tag.clone(),
            "--build-arg".into(),
            crate::route::warm::INLINE_CACHE_ON.into(),
        ]
    }

    /// "BUILDKIT_INLINE_CACHE=1, --cache-from app:1" or "nothing added (…)": for the
    /// reroute line and `explain`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut added: Vec<String> = Vec::new();
        if self.inline_cache {
            added.push(crate::route::warm::INLINE_CACHE_ON.into());
        }
        added.extend(
            self.cache_from
                .iter()
                .map(|t| format!("--cache-from {}", t.to_string_lossy())),
        );
        if !self.stage_images.is_empty() {
            added.push(format!(
                "stage images {} (built from the cache after the build)",
                self.stage_images
                    .iter()
                    .map(|s| s.tag.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut s = if added.is_empty() {
            "nothing added".to_string()
        } else {
            added.join(", ")
        };
        if !self.kept.is_empty() {
            s.push_str(&format!(" ({})", self.kept.join("; ")));
        }
        s
    }
}

/// A project's builds (`docker compose build`/`up`/…, `docker buildx bake`): one
/// `docker build` plan per target, run at most `parallel` at once, each after the targets
/// it depends on; then, for `up`/`create`/`run`, the plan's own program (compose, told
/// not to build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPlan {
    /// The printer that resolved the project (`docker compose build --print`).
    pub printer: String,
    /// The targets to build, in the printer's order.
    pub targets: Vec<TargetPlan>,
    /// Targets of the project not built, with why (`image present`).
    pub skipped: Vec<(String, String)>,
    /// At most this many builds at once.
    pub parallel: usize,
    /// After the builds, run the plan's own program (compose `up`/`create`/`run`).
    pub then_run: bool,
}

/// One target's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    /// The target's name: each output line is prefixed `[name] `.
    pub name: String,
    /// Its `docker build`, routed as any build is.
    pub plan: Plan,
    /// Indices (into [`ProjectPlan::targets`]) of the targets built first.
    pub after: Vec<usize>,
}

/// What is done with buildctl's metadata file after a successful run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAction {
    /// A build whose image stays in BuildKit's store: record it under each name.
    Record {
        /// The names (normalised).
        names: Vec<String>,
        /// The build as data.
        build: crate::route::records::RecordedBuild,
        /// Where it ran.
        ran_on: crate::route::records::RanOn,
    },
    /// Replays of recorded builds (`push`, `save`): compare each digest with the
    /// records', say so when they differ, and keep the new one.
    Compare(Vec<DigestCheck>),
}

/// One replay's check: the names it made, the digest recorded for them, and the
/// metadata file its run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCheck {
    /// The names (normalised).
    pub names: Vec<String>,
    /// The manifest digest of the record, when known.
    pub recorded: Option<String>,
    /// buildctl's `--metadata-file` of this replay.
    pub metadata: PathBuf,
}

/// What happens after a successful run, reading buildctl's metadata file(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The action.
    pub action: AfterAction,
    /// The metadata file of a [`AfterAction::Record`] (one per check for `Compare`).
    pub metadata: PathBuf,
    /// Whether dockroute chose it (removed after reading).
    pub metadata_is_ours: bool,
    /// A directory private to this call that holds the metadata file(s): created
    /// exclusively before the run and removed after. Shared with [`ImageId::scratch`].
    pub scratch: Option<PathBuf>,
}

/// What to run. `argv[0]` is `program`, so docker CLI plugins call back the real client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The route.
    pub route: Route,
    /// The docker command as it will run (`build`, `buildx build`, `compose`); `build` for
    /// the BuildKit routes, whose program is BuildKit's own client.
    pub command: String,
    /// The program to exec, absolute.
    pub program: PathBuf,
    /// Its full argument vector, argv\[0\] included.
    pub argv: Vec<OsString>,
    /// Environment variables to set.
    pub env_set: Vec<(String, String)>,
    /// Environment variables to remove.
    pub env_unset: Vec<String>,
    /// The docker client that runs the call; `None` when BuildKit's own client does.
    pub client: Option<Client>,
    /// Why this route, in the runtime's own words; `None` for plain pass-through.
    pub reason: Option<String>,
    /// For build-like calls: the builder the build will use, and why.
    pub builder: Option<BuilderChoice>,
    /// One line each: flags dropped, variables removed, warnings.
    pub notices: Vec<String>,
    /// A process reading the build's standard output (`docker load` of the image).
    pub load: Option<Step>,
    /// Steps to run after the build succeeds (the `--push` emulation), same environment.
    pub then: Vec<Step>,
    /// The image ID to write or print after the build.
    pub image_id: Option<ImageId>,
    /// Run under the supervisor even as one process: it starts a daemon of its own
    /// (`buildctl-daemonless.sh`) that must not outlive the call.
    pub supervised: bool,
    /// What was added for a warm rebuild after Bitbucket's docker cache; `None` when
    /// the route does not do it or `DOCKROUTE_WARM=off`.
    pub warm: Option<Warm>,
    /// A project's builds, run before (or instead of) the program.
    pub project: Option<Box<ProjectPlan>>,
    /// The working directory to run in; `None`: the caller's (a replayed build runs
    /// where it was first built, since its paths are as typed there).
    pub cwd: Option<PathBuf>,
    /// What to do with buildctl's metadata after a successful run (record the image,
    /// compare digests).
    pub after: Option<After>,
}

impl Plan {
    /// A plan that runs `argv` (whose argv\[0\] is `program`) on `route` and nothing
    /// more: no environment change, client, reason, builder, notice or extra step. The
    /// routes fill in what they add with struct update syntax (`..Plan::new(…)`).
    #[must_use]
    pub fn new(
        route: Route,
        command: impl Into<String>,
        program: PathBuf,
        argv: Vec<OsString>,
    ) -> Plan {
        Plan {
            route,
            command: command.into(),
            program,
            argv,
            env_set: Vec::new(),
            env_unset: Vec::new(),
            client: None,
            reason: None,
            builder: None,
            notices: Vec::new(),
            load: None,
            then: Vec::new(),
            image_id: None,
            supervised: false,
            warm: None,
            project: None,
            cwd: None,
            after: None,
        }
    }

    /// Whether this plan changes anything compared with plain pass-through of `inv` to
    /// `first` (program, arguments, environment or extra steps); only then does the shim
    /// print the reroute line.
    #[must_use]
    pub fn is_reroute(&self, inv: &Invocation, first: Option<&Path>) -> bool {
        self.route != Route::Pass
            && (self.project.is_some()
                || self.argv.get(1..) != Some(&inv.args[..])
                || first != Some(self.program.as_path())
                || !self.env_set.is_empty()
                || !self.env_unset.is_empty()
                || self.load.is_some()
                || !self.then.is_empty()
                || self.image_id.is_some()
                || self.after.is_some())
    }

    /// Whether the plan needs the supervisor rather than one `execve`.
    #[must_use]
    pub fn needs_supervisor(&self) -> bool {
        self.supervised
            || self.load.is_some()
            || !self.then.is_empty()
            || self.image_id.is_some()
            || self.after.is_some()
            || self.cwd.is_some()
    }

    /// The private scratch directory the run needs, if any (for the image ID or the
    /// record's metadata file).
    #[must_use]
    pub fn scratch(&self) -> Option<&Path> {
        self.image_id
            .as_ref()
            .and_then(|i| i.scratch.as_deref())
            .or_else(|| self.after.as_ref().and_then(|a| a.scratch.as_deref()))
    }

    /// "20.10.24, bind-mounted" for a docker client; "BuildKit's client" for buildctl;
    /// "dockroute itself" for a call it answers itself.
    #[must_use]
    pub fn runner(&self) -> String {
        match &self.client {
            Some(c) => c.describe(),
            None if self.route == Route::Builtin
                || (self.route == Route::Records && self.program.as_os_str().is_empty()) =>
            {
                "dockroute itself".into()
            }
            None => "BuildKit's client".into(),
        }
    }
}
