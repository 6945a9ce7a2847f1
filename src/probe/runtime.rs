//! Learning the runtime: pinned by `DOCKROUTE_RUNTIME`, else from the daemon's answer to
//! the privileged probe (cached per endpoint with a TTL), plus whether this is a
//! Bitbucket Pipelines step. No environment variable tells runtime v3 from v2; the daemon
//! does: v3 allows privileged containers, v2 denies them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::docker::args::Invocation;
use crate::docker::config;
use crate::docker::endpoint;
use crate::guard::SelfGuard;
use crate::probe::cache::Cache;
use crate::probe::daemon::{self, Verdict};
use crate::probe::settings::Settings;
use crate::route::facts::{Client, Runtime};

const CACHE_FILE: &str = "daemon.json";
const CACHE_VERSION: u32 = 1;

/// What was learnt about the runtime, and how.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RuntimeReport {
    /// The verdict routing uses (its `kind` and `why` serialised beside the other
    /// fields, not nested).
    #[serde(flatten)]
    pub runtime: Runtime,
    /// The daemon endpoint the client would use (credentials redacted).
    pub endpoint: Option<String>,
    /// How the runtime was learnt.
    pub source: RuntimeSource,
    /// Whether this looks like a Bitbucket Pipelines step.
    pub bitbucket: bool,
    /// The daemon's answer, when it was asked (or recalled).
    pub verdict: Option<Verdict>,
}

/// How the runtime was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuntimeSource {
    /// `DOCKROUTE_RUNTIME` said so; the daemon was not asked.
    Pinned,
    /// The daemon was asked now.
    Probed,
    /// The daemon's answer from the cache.
    Cached,
}

impl RuntimeSource {
    /// The word doctor prints.
    #[must_use]
    pub(crate) fn name(self) -> &'static str {
        match self {
            RuntimeSource::Pinned => "pinned",
            RuntimeSource::Probed => "probed",
            RuntimeSource::Cached => "cached",
        }
    }
}

/// Whether the environment is a Bitbucket Pipelines step.
#[must_use]
pub(crate) fn is_bitbucket() -> bool {
    [
        "BITBUCKET_BUILD_NUMBER",
        "BITBUCKET_PIPELINE_UUID",
        "BITBUCKET_STEP_UUID",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// The verdict's meaning for routing.
#[must_use]
pub(crate) fn runtime_of(verdict: &Verdict, bitbucket: bool) -> Runtime {
    match verdict {
        Verdict::Forbidden { message, .. } => Runtime::Restricted {
            why: message.clone(),
        },
        Verdict::AllCreatesForbidden { message, .. } => Runtime::Restricted {
            why: format!(
                "{message} (the plugin denies every container create, not only privileged ones)"
            ),
        },
        Verdict::Allowed if bitbucket => Runtime::V3 {
            why: "Bitbucket runtime v3: the daemon allows privileged containers".into(),
        },
        Verdict::Allowed => Runtime::Open {
            why: "the daemon allows privileged containers".into(),
        },
        Verdict::NoDaemon { detail } => Runtime::NoDaemon {
            why: format!("no daemon answered: {detail}"),
        },
        Verdict::Unknown { detail } => Runtime::Unknown {
            why: format!("the daemon probe could not tell: {detail}"),
        },
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct CacheEntry {
    endpoint: String,
    checked_at: u64,
    verdict: Verdict,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn recall(cache: &Cache, key: &str, ttl: Duration, at: u64) -> Option<Verdict> {
    cache
        .load_entries::<CacheEntry>(CACHE_FILE, CACHE_VERSION)
        .into_iter()
        .find(|e| e.endpoint == key && e.checked_at <= at && at - e.checked_at < ttl.as_secs())
        .map(|e| e.verdict)
}

fn remember(cache: &Cache, key: &str, verdict: &Verdict, at: u64) {
    let mut entries: Vec<CacheEntry> = cache.load_entries(CACHE_FILE, CACHE_VERSION);
    entries.retain(|e| e.endpoint != key);
    entries.push(CacheEntry {
        endpoint: key.to_string(),
        checked_at: at,
        verdict: verdict.clone(),
    });
    let keep = entries.len().saturating_sub(32);
    entries.drain(..keep);
    cache.store_entries(CACHE_FILE, CACHE_VERSION, &entries);
}

/// Learns the runtime for a call. With no client, endpoints only a client can reach
/// (TLS, ssh://) are `Unknown`: nothing is ever spawned by bare name.
#[must_use]
pub(crate) fn learn(
    inv: &Invocation,
    clients: &[Client],
    cache: Option<&Cache>,
    settings: &Settings,
    guard: &SelfGuard,
) -> RuntimeReport {
    let bitbucket = is_bitbucket();
    if let Some(runtime) = settings.runtime.clone() {
        return RuntimeReport {
            runtime,
            endpoint: None,
            source: RuntimeSource::Pinned,
            bitbucket,
            verdict: None,
        };
    }
    let config_dir = config::config_dir(inv.globals.value("config"));
    let ep = endpoint::resolve(
        &inv.globals,
        &|k| std::env::var(k).ok(),
        config_dir.as_deref(),
    );
    let key = ep.to_string();
    let ttl = settings.daemon_ttl;
    let at = now();
    let cached = cache
        .filter(|_| !ttl.is_zero())
        .and_then(|c| recall(c, &key, ttl, at));
    let (verdict, source) = if let Some(v) = cached {
        (v, RuntimeSource::Cached)
    } else {
        let v = daemon::probe(
            &ep,
            clients.first(),
            inv.global_args(),
            guard,
            settings.daemon_timeout,
        );
        tracing::debug!(endpoint = %key, verdict = ?v, "daemon probed");
        if let (Some(c), false) = (cache, ttl.is_zero()) {
            if matches!(
                v,
                Verdict::Forbidden { .. } | Verdict::AllCreatesForbidden { .. } | Verdict::Allowed
            ) {
                remember(c, &key, &v, at);
            }
        }
        (v, RuntimeSource::Probed)
    };
    RuntimeReport {
        runtime: runtime_of(&verdict, bitbucket),
        endpoint: Some(key),
        source,
        bitbucket,
        verdict: Some(verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_runtimes() {
        let f = Verdict::Forbidden {
            plugin: "pipelines".into(),
            message: "authorization denied by plugin pipelines: --privileged=true is not allowed"
                .into(),
        };
        assert_eq!(runtime_of(&f, true).name(), "restricted");
        assert!(runtime_of(&f, false)
            .why()
            .contains("--privileged=true is not allowed"));
        let a = Verdict::AllCreatesForbidden {
            plugin: "p".into(),
            message: "m".into(),
        };
        assert_eq!(runtime_of(&a, false).name(), "restricted");
        assert_eq!(runtime_of(&Verdict::Allowed, true).name(), "v3");
        assert_eq!(runtime_of(&Verdict::Allowed, false).name(), "open");
        assert_eq!(
            runtime_of(&Verdict::NoDaemon { detail: "x".into() }, true).name(),
            "no_daemon"
        );
        assert_eq!(
            runtime_of(&Verdict::Unknown { detail: "x".into() }, true).name(),
            "unknown"
        );
    }

    #[test]
    fn cached_verdicts_expire() {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::open_at(&t.path().join("c")).unwrap();
        remember(&c, "unix:///a", &Verdict::Allowed, 1000);
        assert_eq!(
            recall(&c, "unix:///a", Duration::from_secs(600), 1500),
            Some(Verdict::Allowed)
        );
        assert_eq!(
            recall(&c, "unix:///a", Duration::from_secs(600), 1600),
            None
        );
        assert_eq!(
            recall(&c, "unix:///b", Duration::from_secs(600), 1500),
            None
        );
        assert_eq!(
            recall(&c, "unix:///a", Duration::from_secs(600), 999),
            None,
            "a clock that went back"
        );
    }
}
