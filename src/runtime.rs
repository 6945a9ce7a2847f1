//! Learning the runtime: pinned by `DOCKROUTE_RUNTIME`, else from the daemon probe.

use crate::args::Invocation;
use crate::facts::Runtime;

/// What was learnt about the runtime, and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeReport {
    /// The verdict routing uses.
    pub runtime: Runtime,
    /// The daemon endpoint the client would use.
    pub endpoint: Option<String>,
    /// `pinned`, `probed`, `cached`.
    pub source: &'static str,
    /// Whether this looks like a Bitbucket Pipelines step.
    pub bitbucket: bool,
}

/// Whether the environment is a Bitbucket Pipelines step.
#[must_use]
pub fn is_bitbucket() -> bool {
    [
        "BITBUCKET_BUILD_NUMBER",
        "BITBUCKET_PIPELINE_UUID",
        "BITBUCKET_STEP_UUID",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// The runtime pinned by `DOCKROUTE_RUNTIME`, if any.
#[must_use]
pub fn pinned() -> Option<Runtime> {
    let v = std::env::var("DOCKROUTE_RUNTIME").ok()?;
    let why = format!("DOCKROUTE_RUNTIME={}", v.trim());
    match v.trim().to_ascii_lowercase().as_str() {
        "restricted" | "v2" => Some(Runtime::Restricted { why }),
        "v3" => Some(Runtime::V3 { why }),
        "open" => Some(Runtime::Open { why }),
        _ => None,
    }
}

/// Learns the runtime for a call.
#[must_use]
pub fn learn(
    _inv: &Invocation,
    _clients: &[crate::facts::Client],
    _cache: Option<&crate::cache::Cache>,
) -> RuntimeReport {
    let bitbucket = is_bitbucket();
    if let Some(runtime) = pinned() {
        return RuntimeReport {
            runtime,
            endpoint: None,
            source: "pinned",
            bitbucket,
        };
    }
    RuntimeReport {
        runtime: Runtime::Unknown {
            why: "the daemon was not probed".into(),
        },
        endpoint: None,
        source: "probed",
        bitbucket,
    }
}
