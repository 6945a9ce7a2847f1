//! Collecting the facts a routed call needs: every client with its version, mount and
//! buildx status, the inherited build environment, the mode, and the runtime.
//!
//! Only build-like and compose calls (and `doctor`/`explain`) come here; the pass-through
//! path never does.

use std::ffi::OsString;

use crate::docker::args::{CommandKind, Invocation};
use crate::docker::config;
use crate::docker::plugins;
use crate::error::Result;
use crate::guard::SelfGuard;
use crate::probe::cache::Cache;
use crate::probe::clients;
use crate::probe::discovery::{self, SearchReport};
use crate::probe::mounts::MountPoints;
use crate::probe::runtime::{self, RuntimeReport};
use crate::probe::settings::Settings;
use crate::route::facts::{BuildEnv, Facts, Mode};

/// The facts, plus what was learnt on the way (for `doctor` and `explain`).
#[derive(Debug, Clone)]
pub struct Gathered {
    /// What `decide` reads.
    pub facts: Facts,
    /// Where discovery looked.
    pub search: SearchReport,
    /// The runtime, when the call needed it.
    pub runtime: Option<RuntimeReport>,
    /// dockroute's own settings, read once.
    pub settings: Settings,
    /// The buildx plugin found, if any.
    pub buildx_plugin: Option<std::path::PathBuf>,
}

/// Gathers everything for `inv`. `with_runtime` forces the runtime probe even for calls
/// that would not need it (doctor).
pub fn gather(inv: &Invocation, guard: &SelfGuard, with_runtime: bool) -> Result<Gathered> {
    let path: Option<OsString> = std::env::var_os("PATH");
    let (candidates, search) = discovery::all_clients(path.as_deref(), guard);
    let settings = Settings::from_env();
    let cache = Cache::open(settings.cache_dir.as_deref());
    let outcomes = clients::versions(&candidates, guard, cache.as_ref(), settings.probe_timeout);
    let config_dir = config::config_dir(inv.globals.value("config"));
    let config = config::load(config_dir.as_deref());
    let buildx_plugin = plugins::find_plugin(
        &plugins::plugin_dirs(config_dir.as_deref(), &config),
        "buildx",
    );
    let clients = clients::clients(
        &candidates,
        outcomes,
        &MountPoints::read(),
        buildx_plugin.is_some(),
    );
    let mode = settings.mode;
    let needs_runtime = with_runtime
        || (mode == Mode::Auto && matches!(inv.kind, CommandKind::Build(_) | CommandKind::Compose));
    let runtime = (needs_runtime && !clients.is_empty())
        .then(|| runtime::learn(inv, &clients, cache.as_ref(), &settings, guard));
    Ok(Gathered {
        facts: Facts {
            clients,
            runtime: runtime.as_ref().map(|r| r.runtime.clone()),
            env: BuildEnv {
                docker_buildkit: std::env::var_os("DOCKER_BUILDKIT"),
            },
            mode,
            secrets: settings.secrets.clone(),
        },
        search,
        runtime,
        settings,
        buildx_plugin,
    })
}
