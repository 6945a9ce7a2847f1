//! Learning what each client is: its version (`<client> --version`, in parallel, bounded
//! by a timeout, cached), whether it is bind-mounted, whether buildx is available to it.
//!
//! Invariants:
//! - A probe never blocks past the timeout: each child runs in its own process group,
//!   which is killed at the deadline (a client that forks a grandchild holding the pipe
//!   open cannot stall us either, since readers are detached threads).
//! - Probes run with stdin closed, stderr discarded, output capped at 64 KiB,
//!   `DOCKER_HOST` pointed at nothing (so no client waits on a daemon), and the guard
//!   environment set, so a dockroute copy answers with its marker instead of
//!   probing again.
//! - Only results that do not change on a retry are cached (a version, unrecognised
//!   output, a dockroute marker); timeouts and spawn failures are probed again next time.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use semver::Version;

use crate::docker::version::{self, Parsed};
use crate::guard::{SelfGuard, PROBE_VAR};
use crate::probe::cache::Cache;
use crate::probe::discovery::Candidate;
use crate::probe::spawn::{self, Capture};
use crate::route::facts::{Client, ProbeProblem};

const MAX_OUTPUT: usize = 64 * 1024;
const CACHE_FILE: &str = "clients.json";
const CACHE_VERSION: u32 = 2;

/// The result of one `--version` probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A version.
    Version(Version),
    /// A dockroute copy answered: not a real client.
    Dockroute,
    /// Something went wrong.
    Problem(ProbeProblem),
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct CacheEntry {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    version: Option<String>,
    problem: Option<ProbeProblem>,
    dockroute: bool,
}

impl CacheEntry {
    fn matches(&self, c: &Candidate) -> bool {
        self.path == c.path
            && self.dev == c.id.dev
            && self.ino == c.id.ino
            && self.size == c.size
            && self.mtime_ns == c.mtime_ns
    }

    fn outcome(&self) -> Option<Outcome> {
        if self.dockroute {
            return Some(Outcome::Dockroute);
        }
        match (&self.version, &self.problem) {
            (Some(v), _) => Version::parse(v).ok().map(Outcome::Version),
            (None, Some(p)) => Some(Outcome::Problem(p.clone())),
            (None, None) => None,
        }
    }
}

/// Probes (or recalls from the cache) the version of every candidate.
#[must_use]
pub(crate) fn versions(
    candidates: &[Candidate],
    guard: &SelfGuard,
    cache: Option<&Cache>,
    timeout: Duration,
) -> Vec<Outcome> {
    let mut entries: Vec<CacheEntry> = cache
        .map(|c| c.load_entries(CACHE_FILE, CACHE_VERSION))
        .unwrap_or_default();
    let mut out: Vec<Option<Outcome>> = candidates
        .iter()
        .map(|c| {
            entries
                .iter()
                .find(|e| e.matches(c))
                .and_then(CacheEntry::outcome)
        })
        .collect();
    let missing: Vec<usize> = (0..candidates.len())
        .filter(|i| out[*i].is_none())
        .collect();
    if missing.is_empty() {
        tracing::debug!("client versions from cache");
    } else {
        let targets: Vec<&Candidate> = missing.iter().map(|i| &candidates[*i]).collect();
        let probed = run_probes(&targets, guard, timeout);
        let mut dirty = false;
        for (i, outcome) in missing.into_iter().zip(probed) {
            let c = &candidates[i];
            let cacheable = match &outcome {
                Outcome::Problem(p) => p.cacheable(),
                Outcome::Version(_) | Outcome::Dockroute => true,
            };
            if cacheable {
                entries.retain(|e| e.path != c.path);
                entries.push(CacheEntry {
                    path: c.path.clone(),
                    dev: c.id.dev,
                    ino: c.id.ino,
                    size: c.size,
                    mtime_ns: c.mtime_ns,
                    version: match &outcome {
                        Outcome::Version(v) => Some(v.to_string()),
                        _ => None,
                    },
                    problem: match &outcome {
                        Outcome::Problem(p) => Some(p.clone()),
                        _ => None,
                    },
                    dockroute: outcome == Outcome::Dockroute,
                });
                dirty = true;
            }
            out[i] = Some(outcome);
        }
        if let (Some(cache), true) = (cache, dirty) {
            entries.truncate(64);
            cache.store_entries(CACHE_FILE, CACHE_VERSION, &entries);
        }
    }
    out.into_iter()
        .map(|o| o.unwrap_or(Outcome::Problem(ProbeProblem::NotProbed)))
        .collect()
}

/// Decides on complete lines as soon as they come: a client that prints its version and
/// then lingers costs nothing.
fn version_line_seen(buf: &[u8]) -> bool {
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
        return false;
    };
    !matches!(
        version::parse(&String::from_utf8_lossy(&buf[..=end])),
        Parsed::Unrecognised(_)
    )
}

/// Runs `--version` on every target at once and collects the outcomes by the deadline.
fn run_probes(targets: &[&Candidate], guard: &SelfGuard, timeout: Duration) -> Vec<Outcome> {
    let deadline = Instant::now() + timeout;
    let running: Vec<_> = targets
        .iter()
        .map(|c| {
            let mut cmd = Command::new(&c.path);
            cmd.arg0(&c.path)
                .arg("--version")
                .env(PROBE_VAR, "1")
                // The 20.10 client pings the daemon before printing its version
                // (`HEAD /_ping`, so a silent DOCKER_HOST stalls `--version`). Point the
                // probe at an endpoint that refuses at once.
                .env("DOCKER_HOST", "unix:///dev/null");
            spawn::spawn(cmd, guard, Capture::Stdout, MAX_OUTPUT, version_line_seen)
        })
        .collect();
    running
        .into_iter()
        .zip(targets)
        .map(|(r, c)| match r {
            Err(e) => Outcome::Problem(ProbeProblem::CouldNotRun(e.to_string())),
            Ok(r) => match r.finish_by(deadline) {
                Some(f) => outcome_of(&f),
                None => {
                    tracing::debug!(client = %c.path.display(), "version probe timed out");
                    Outcome::Problem(ProbeProblem::TimedOut {
                        ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    })
                }
            },
        })
        .collect()
}

fn outcome_of(f: &spawn::Finished) -> Outcome {
    let text = String::from_utf8_lossy(&f.output);
    let parsed = || match version::parse(&text) {
        Parsed::Version(v, _) => Outcome::Version(v),
        Parsed::Dockroute => Outcome::Dockroute,
        Parsed::Unrecognised(line) => Outcome::Problem(ProbeProblem::Unrecognised(line)),
    };
    if f.decided_early {
        return parsed();
    }
    match &f.status {
        Ok(s) if s.success() => parsed(),
        Ok(s) => Outcome::Problem(match s.code() {
            Some(code) => ProbeProblem::Exited(code),
            None => ProbeProblem::Killed(s.signal().unwrap_or(0)),
        }),
        Err(e) => Outcome::Problem(ProbeProblem::CouldNotRun(format!("could not wait: {e}"))),
    }
}

/// Turns candidates and their probe outcomes into clients; dockroute copies are dropped.
#[must_use]
pub(crate) fn clients(
    candidates: &[Candidate],
    outcomes: Vec<Outcome>,
    mounts: &crate::probe::mounts::MountPoints,
    buildx_available: bool,
) -> Vec<Client> {
    candidates
        .iter()
        .zip(outcomes)
        .filter_map(|(c, o)| {
            let (version, problem) = match o {
                Outcome::Dockroute => {
                    tracing::debug!(path = %c.path.display(), "skipped: a copy of dockroute");
                    return None;
                }
                Outcome::Version(v) => (Some(v), None),
                Outcome::Problem(p) => (None, Some(p)),
            };
            // CLI plugins arrived in 19.03.
            let plugins_supported = version
                .as_ref()
                .is_some_and(|v| (v.major, v.minor) >= (19, 3));
            Some(Client {
                mounted: mounts.is_mounted(&c.path),
                buildx: buildx_available && plugins_supported,
                path: c.path.clone(),
                version,
                problem,
            })
        })
        .collect()
}
