//! Collecting the facts a routed call needs: every client with its version, mount and
//! buildx status, the inherited build environment, the mode, and the runtime.
//!
//! Only build-like and compose calls (and `doctor`/`explain`) come here; the pass-through
//! path never does.

use std::ffi::OsString;

use crate::args::{CommandKind, Invocation};
use crate::cache::Cache;
use crate::discovery::{self, SearchReport, SelfGuard};
use crate::docker_config;
use crate::error::Result;
use crate::facts::{BuildEnv, Facts, Mode};
use crate::mounts::MountPoints;
use crate::plugins;
use crate::probe;
use crate::runtime::{self, RuntimeReport};

/// The facts, plus what was learnt on the way (for `doctor` and `explain`).
#[derive(Debug, Clone)]
pub struct Gathered {
    /// What `decide` reads.
    pub facts: Facts,
    /// Where discovery looked.
    pub search: SearchReport,
    /// The runtime, when the call needed it.
    pub runtime: Option<RuntimeReport>,
    /// A `DOCKROUTE_MODE` value that was not understood.
    pub bad_mode: Option<String>,
    /// Other settings that were not understood, as notices.
    pub bad_settings: Vec<String>,
    /// The buildx plugin found, if any.
    pub buildx_plugin: Option<std::path::PathBuf>,
}

/// `DOCKROUTE_MODE`, or the value it had when not understood.
#[must_use]
pub fn mode_from_env() -> (Mode, Option<String>) {
    match std::env::var("DOCKROUTE_MODE") {
        Err(_) => (Mode::Auto, None),
        Ok(v) => match Mode::parse(&v) {
            Some(m) => (m, None),
            None => (Mode::Auto, Some(v)),
        },
    }
}

/// `DOCKROUTE_SECRETS` and `DOCKROUTE_SECRET_WORDS`; an unknown policy is reported and
/// read as `warn`.
fn secrets_from_env(bad: &mut Vec<String>) -> crate::secrets::Guard {
    let policy = match std::env::var("DOCKROUTE_SECRETS") {
        Err(_) => crate::secrets::Policy::Warn,
        Ok(v) => crate::secrets::Policy::parse(&v).unwrap_or_else(|| {
            bad.push(format!(
                "DOCKROUTE_SECRETS={v:?} is not one of warn, deny, off; warning"
            ));
            crate::secrets::Policy::Warn
        }),
    };
    let extra_words = std::env::var("DOCKROUTE_SECRET_WORDS")
        .map(|v| {
            v.split(',')
                .map(|w| w.trim().to_ascii_uppercase())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    crate::secrets::Guard {
        policy,
        extra_words,
    }
}

/// Gathers everything for `inv`. `with_runtime` forces the runtime probe even for calls
/// that would not need it (doctor).
pub fn gather(inv: &Invocation, guard: &SelfGuard, with_runtime: bool) -> Result<Gathered> {
    let path: Option<OsString> = std::env::var_os("PATH");
    let (candidates, search) = discovery::all_clients(path.as_deref(), guard);
    let cache = Cache::open();
    let outcomes = probe::versions(
        &candidates,
        guard,
        cache.as_ref(),
        probe::timeout_from_env(),
    );
    let config_dir = docker_config::config_dir(inv.globals.value("config"));
    let config = docker_config::load(config_dir.as_deref());
    let buildx_plugin = plugins::find_plugin(
        &plugins::plugin_dirs(config_dir.as_deref(), &config),
        "buildx",
    );
    let clients = probe::clients(
        &candidates,
        outcomes,
        &MountPoints::read(),
        buildx_plugin.is_some(),
    );
    let (mode, bad_mode) = mode_from_env();
    let mut bad_settings = Vec::new();
    let needs_runtime = with_runtime
        || (mode == Mode::Auto && matches!(inv.kind, CommandKind::Build(_) | CommandKind::Compose));
    let runtime = (needs_runtime && !clients.is_empty())
        .then(|| runtime::learn(inv, &clients, cache.as_ref()));
    Ok(Gathered {
        facts: Facts {
            clients,
            runtime: runtime.as_ref().map(|r| r.runtime.clone()),
            env: BuildEnv {
                docker_buildkit: std::env::var_os("DOCKER_BUILDKIT"),
            },
            mode,
            secrets: secrets_from_env(&mut bad_settings),
        },
        search,
        runtime,
        bad_mode,
        bad_settings,
        buildx_plugin,
    })
}
