//! The facts the routing decision reads: the clients found, the runtime as probed or
//! pinned, the few environment values routing depends on, and the user's settings.
//!
//! These are plain data. Gathering them (spawning probes, talking to the daemon, reading
//! the environment) is the job of `probe`, `daemon` and `settings`; reading them is the
//! job of `decide`. Nothing here does I/O.

use std::ffi::OsString;
use std::path::PathBuf;

use semver::Version;

use crate::route::mode::Mode;

/// A real docker client found on PATH, with what was learnt about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    /// Absolute path, as found on PATH.
    pub path: PathBuf,
    /// Its version, when `--version` gave one.
    #[serde(serialize_with = "ser_version")]
    pub version: Option<Version>,
    /// Why there is no version (timed out, exited 1, unrecognised output …), shown as a
    /// sentence.
    #[serde(serialize_with = "ser_display")]
    pub problem: Option<ProbeProblem>,
    /// Bind-mounted into this container (as Pipelines mounts its CLI at /usr/bin/docker).
    pub mounted: bool,
    /// The buildx CLI plugin is available to it.
    pub buildx: bool,
}

/// Why a client's `--version` gave no version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeProblem {
    /// No answer before the probe timeout.
    TimedOut {
        /// The timeout.
        ms: u64,
    },
    /// The program could not be started (or waited for).
    CouldNotRun(String),
    /// `--version` exited with this non-zero code.
    Exited(i32),
    /// `--version` was killed by this signal.
    Killed(i32),
    /// The output held no version line; the first line.
    Unrecognised(String),
    /// The cache had no entry and no probe ran.
    NotProbed,
}

impl ProbeProblem {
    /// Whether the same probe would give the same answer: only then is it cached.
    /// A timeout or a failure to start may well go away on the next call.
    #[must_use]
    pub fn cacheable(&self) -> bool {
        matches!(
            self,
            ProbeProblem::Exited(_) | ProbeProblem::Killed(_) | ProbeProblem::Unrecognised(_)
        )
    }
}

impl std::fmt::Display for ProbeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeProblem::TimedOut { ms } => write!(f, "timed out after {ms} ms on `--version`"),
            ProbeProblem::CouldNotRun(e) => write!(f, "could not run: {e}"),
            ProbeProblem::Exited(code) => write!(f, "`--version` exited with {code}"),
            ProbeProblem::Killed(sig) => write!(f, "`--version` killed by signal {sig}"),
            ProbeProblem::Unrecognised(line) => {
                write!(f, "unrecognised `--version` output: {line:?}")
            }
            ProbeProblem::NotProbed => write!(f, "not probed"),
        }
    }
}

#[allow(clippy::ref_option)]
fn ser_display<S: serde::Serializer, T: std::fmt::Display>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.to_string()),
        None => s.serialize_none(),
    }
}

#[allow(clippy::ref_option)]
fn ser_version<S: serde::Serializer>(v: &Option<Version>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// The major version from which `docker build` goes to buildx (docker/cli 23.0).
pub const BUILDX_DEFAULT_MAJOR: u64 = 23;

impl Client {
    /// A client from before buildx became the default builder (< 23): its `docker build`
    /// uses the daemon's own builder, which needs no privileged container.
    #[must_use]
    pub fn legacy_era(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| v.major < BUILDX_DEFAULT_MAJOR)
    }

    /// A client from buildx's era (CLI ≥ 23): `docker build` is `docker buildx build`, and
    /// its default builder is BuildKit. (A client of unknown version is of neither era.)
    #[must_use]
    pub fn buildx_era(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| v.major >= BUILDX_DEFAULT_MAJOR)
    }

    /// A client as tests describe one: version `MAJOR.10.24`, no probe problem.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn fixture(path: &str, major: u64, mounted: bool, buildx: bool) -> Client {
        Client {
            path: path.into(),
            version: Some(Version::new(major, 10, 24)),
            problem: None,
            mounted,
            buildx,
        }
    }

    /// "20.10.24, bind-mounted" — for notices.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = self
            .version
            .as_ref()
            .map_or_else(|| "version unknown".to_string(), ToString::to_string);
        if self.mounted {
            s.push_str(", bind-mounted");
        }
        s
    }
}

/// What the runtime allows, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Runtime {
    /// Privileged containers are forbidden (Bitbucket Pipelines runtime v2 and the like).
    /// `why` is the daemon's own words, or the pin that said so.
    Restricted { why: String },
    /// Privileged containers allowed in a Bitbucket step: runtime v3.
    V3 { why: String },
    /// Privileged containers allowed (or pinned open) elsewhere.
    Open { why: String },
    /// No daemon answered at the endpoint.
    NoDaemon { why: String },
    /// The probe could not tell.
    Unknown { why: String },
}

impl Runtime {
    /// The runtime's own words for why it is what it is.
    #[must_use]
    pub fn why(&self) -> &str {
        match self {
            Runtime::Restricted { why }
            | Runtime::V3 { why }
            | Runtime::Open { why }
            | Runtime::NoDaemon { why }
            | Runtime::Unknown { why } => why,
        }
    }

    /// Short name: restricted, v3, open, no_daemon, unknown.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Restricted { .. } => "restricted",
            Runtime::V3 { .. } => "v3",
            Runtime::Open { .. } => "open",
            Runtime::NoDaemon { .. } => "no_daemon",
            Runtime::Unknown { .. } => "unknown",
        }
    }
}

/// The environment values routing depends on (the rest of the environment is never read
/// by `decide`, and never printed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildEnv {
    /// `DOCKER_BUILDKIT` as inherited.
    pub docker_buildkit: Option<OsString>,
    /// The values of the variables named by bare `--build-arg NAME` flags, for routes that
    /// translate the call (the docker CLI takes them from its environment). Unset names
    /// are absent.
    pub build_args: Vec<(OsString, OsString)>,
    /// `COMPOSE_PARALLEL_LIMIT` as inherited: compose's bound on parallel work, which
    /// its `--parallel` flag overrides.
    pub compose_parallel_limit: Option<OsString>,
}

impl BuildEnv {
    /// `DOCKER_BUILDKIT` as the CLI reads it (Go's `ParseBool`; empty counts as unset
    /// since CLI 24). `None` when unset, empty or unparsable.
    #[must_use]
    pub fn buildkit(&self) -> Option<bool> {
        let v = self.docker_buildkit.as_ref()?;
        crate::docker::args::parse_bool(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()))
    }
}

/// What was found about BuildKit, for the daemonless and remote routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuildKitFacts {
    /// `DOCKROUTE_BUILDKIT_HOST`, as set: a shared BuildKit for every build, or a
    /// comma-separated list of nodes ([`crate::route::nodes`]).
    pub remote: Option<String>,
    /// `DOCKROUTE_BUILDKIT_TLS_DIR`: `ca.pem`, `cert.pem`, `key.pem` for it.
    pub tls_dir: Option<PathBuf>,
    /// `BUILDKIT_HOST`, as set (an address, or a comma-separated list of nodes).
    pub host: Option<String>,
    /// `buildctl` on PATH.
    pub buildctl: Option<PathBuf>,
    /// `buildctl-daemonless.sh` on PATH.
    pub daemonless: Option<PathBuf>,
    /// The address the route would use was checked and does not answer: why (with a
    /// node list: no node answers, each with its reason).
    pub unreachable: Option<String>,
    /// What the build is recognised by when its node is chosen from a list (the
    /// canonical context directory and Dockerfile); `None` when it is not a local build.
    #[serde(skip)]
    pub affinity: Option<crate::route::nodes::Affinity>,
    /// Each node checked, in the build's order: the probe stops at the first that
    /// answers (doctor checks every node).
    #[serde(skip)]
    pub checks: Vec<crate::route::nodes::NodeCheck>,
}

impl BuildKitFacts {
    /// What orders the nodes for this build: its affinity's key, empty when the build
    /// has none (one node is then as good as another).
    #[must_use]
    pub fn affinity_key(&self) -> Vec<u8> {
        self.affinity
            .as_ref()
            .map(crate::route::nodes::Affinity::key)
            .unwrap_or_default()
    }
}

/// The Dockerfile a build would use, and the BuildKit-only syntax found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileScan {
    /// The file, as the client resolves it.
    pub path: PathBuf,
    /// What was found (empty: nothing BuildKit-only).
    pub findings: Vec<crate::docker::dockerfile::Finding>,
    /// Its build stages, in order.
    pub stages: Vec<crate::docker::dockerfile::Stage>,
}

/// Which of the build's own tags (`-t`) the daemon already has: the images Bitbucket's
/// docker cache brought back from the previous step, to pass as `--cache-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTags {
    /// Not looked up, and why (one clause, shown by `explain`).
    Unchecked(String),
    /// Looked up in the daemon (`GET /images/NAME/json`): the tags found, in the call's
    /// order. A tag the daemon did not answer for in time counts as absent.
    Present(Vec<OsString>),
}

impl Default for LocalTags {
    fn default() -> Self {
        LocalTags::Unchecked("the call was not looked at".into())
    }
}

/// `DOCKROUTE_WARM`: how much of a build is kept warm through Bitbucket's docker cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WarmLevel {
    /// Nothing added.
    #[default]
    Off,
    /// The final stage: inline cache and `--cache-from` of the build's own tags.
    Final,
    /// That, and the stages the target uses kept as images of their own (`on`).
    Stages,
}

impl WarmLevel {
    /// The value as written in `DOCKROUTE_WARM`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WarmLevel::Off => "off",
            WarmLevel::Final => "final",
            WarmLevel::Stages => "on",
        }
    }

    /// Parses a `DOCKROUTE_WARM` value: on, final, off (and 1/0, true/false, yes/no).
    #[must_use]
    pub fn parse(v: &str) -> Option<WarmLevel> {
        match v.trim().to_ascii_lowercase().as_str() {
            "on" | "1" | "t" | "true" | "yes" | "stages" => Some(WarmLevel::Stages),
            "final" => Some(WarmLevel::Final),
            "off" | "0" | "f" | "false" | "no" => Some(WarmLevel::Off),
            _ => None,
        }
    }
}

/// What the warm-rebuild step of the mounted and legacy routes reads
/// ([`crate::route::warm`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmFacts {
    /// `DOCKROUTE_WARM`. Off by default here (a [`Facts`] built by hand warms nothing);
    /// the setting's own default, on, comes from [`crate::probe::settings::Settings`].
    pub level: WarmLevel,
    /// The build's own tags, and its stage images ([`crate::route::warm::stage_images`]),
    /// present in the daemon.
    pub local_tags: LocalTags,
}

/// A compose or bake project, resolved by the tool's own printer (`docker compose build
/// --print`, `docker buildx bake --print`), for a call that builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectFacts {
    /// The printer answered.
    Resolved {
        /// The printer's command as shown (`docker compose build --print`).
        printer: String,
        /// Its targets, in the printer's order.
        targets: Vec<ProjectTarget>,
    },
    /// The printer failed (a broken compose file, an unknown service or target): its
    /// exit code and its own message, which reach the user unchanged.
    PrinterFailed {
        /// The printer's command as shown.
        printer: String,
        /// Its exit code.
        code: u8,
        /// Its standard error, as written.
        message: Vec<u8>,
    },
    /// No printer to ask (an older compose, no buildx, a timeout): why, and for compose
    /// the Dockerfile scan of every service that builds (from `docker compose config`).
    Unavailable {
        /// Why not.
        why: String,
        /// Each service's Dockerfile scan.
        scans: Vec<DockerfileScan>,
    },
}

/// One target of a resolved project, with the facts its build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTarget {
    /// The target as printed.
    pub target: crate::project::bake::Target,
    /// Its Dockerfile's scan, when it is a local, readable file.
    pub dockerfile: Option<DockerfileScan>,
    /// Whether its image (first tag) is in the daemon already, when that was asked
    /// (`up`/`create`/`run` without `--build` build only missing images).
    pub image_present: Option<bool>,
    /// Other targets whose image its Dockerfile's `FROM` lines name (a compose service
    /// built `FROM` another service's image), by name.
    pub from_targets: Vec<String>,
    /// compose's `pull_policy: build`: `up`/`create`/`run` build it even when its image
    /// exists.
    pub always_build: bool,
    /// What its build is recognised by when a node of a BuildKit list is chosen (its
    /// canonical context and Dockerfile); `None` when the context is not a local
    /// directory.
    pub affinity: Option<crate::route::nodes::Affinity>,
}

/// Everything `decide` reads besides the invocation.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Real clients, in PATH order. Never empty when `decide` is called.
    pub clients: Vec<Client>,
    /// The runtime (only consulted for build-like and compose calls).
    pub runtime: Option<Runtime>,
    /// Inherited environment values.
    pub env: BuildEnv,
    /// `DOCKROUTE_MODE`.
    pub mode: Mode,
    /// `DOCKROUTE_SECRETS` and `DOCKROUTE_SECRET_WORDS`.
    pub secrets: crate::route::secrets::Guard,
    /// BuildKit's addresses and programs.
    pub buildkit: BuildKitFacts,
    /// The build's Dockerfile scan, when the call is build-like and its Dockerfile is a
    /// local, readable file.
    pub dockerfile: Option<DockerfileScan>,
    /// A directory private to this call (not yet created), for files a route needs
    /// around its programs (buildctl's metadata file for `-q`).
    pub scratch: PathBuf,
    /// For a warm rebuild after Bitbucket's docker cache (mounted and legacy routes).
    pub warm: WarmFacts,
    /// The project of a compose or bake call that builds, when the route resolves one.
    pub project: Option<ProjectFacts>,
    /// The working directory (recorded with a build kept in BuildKit's store, since its
    /// paths are as typed there); `None` when it cannot be read.
    pub cwd: Option<PathBuf>,
    /// For an image command with no daemon: dockroute's records of builds
    /// ([`crate::route::records`]).
    pub records: Vec<crate::route::records::ImageRecord>,
}
