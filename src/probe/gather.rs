//! Collecting the facts a routed call needs: every client with its version, mount and
//! buildx status, the inherited build environment, the mode, and the runtime.
//!
//! Only build-like and compose calls (and `doctor`/`explain`) come here; the pass-through
//! path never does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::os::unix::ffi::OsStrExt;

use crate::docker::args::{BuildCall, Invocation};
use crate::docker::config;
use crate::docker::dockerfile;
use crate::docker::plugins;
use crate::error::Result;
use crate::guard::SelfGuard;
use crate::probe::buildkit;
use crate::probe::cache::Cache;
use crate::probe::clients;
use crate::probe::discovery::{self, SearchReport};
use crate::probe::images;
use crate::probe::mounts::MountPoints;
use crate::probe::runtime::{self, RuntimeReport};
use crate::probe::settings::Settings;
use crate::route::facts::{
    BuildEnv, DockerfileScan, Facts, LocalTags, ProjectFacts, WarmFacts, WarmLevel,
};
use crate::route::mode::Mode;
use crate::route::mode::Route;
use crate::route::nodes::{self, Affinity};
use crate::route::warm;

/// The facts, plus what was learnt on the way (for `doctor` and `explain`).
#[derive(Debug, Clone)]
pub(crate) struct Gathered {
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

/// Gathers everything for `inv` under `settings` (read once by the caller). `with_runtime`
/// forces the runtime probe even for calls that would not need it (doctor).
///
/// # Errors
/// None today; the signature leaves room for a fact that must stop the call.
pub(crate) fn gather(
    inv: &Invocation,
    guard: &SelfGuard,
    settings: Settings,
    with_runtime: bool,
) -> Result<Gathered> {
    let path: Option<OsString> = std::env::var_os("PATH");
    let (candidates, search) = discovery::all_clients(path.as_deref(), guard);
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
    let needs = crate::route::needs::needs(&inv.kind, mode, with_runtime);
    let runtime = needs
        .runtime
        .then(|| runtime::learn(inv, &clients, cache.as_ref(), &settings, guard));
    let mut bk = buildkit::facts(&settings, path.as_deref());
    if needs.buildkit {
        // Only the addresses the build would use are checked: with a node list, in this
        // build's order until one answers (one address: just that one).
        let addr =
            crate::route::needs::buildkit_address(&bk, mode, runtime.as_ref().map(|r| &r.runtime))
                .map(str::to_string);
        if let Some(list) = addr {
            let cwd = std::env::current_dir().unwrap_or_default();
            bk.affinity = inv
                .build_call()
                .and_then(|call| buildkit::affinity(&call, &inv.args, &cwd));
            let key = bk.affinity.as_ref().map(Affinity::key).unwrap_or_default();
            let all = nodes::parse_list(&list);
            let ordered = nodes::order(&all, &key);
            bk.checks = buildkit::check(&ordered, settings.daemon_timeout, with_runtime);
            bk.unreachable = buildkit::none_answers(&bk.checks);
        }
    }
    let call = inv.build_call();
    // The scan only serves refusals; with routing off nothing is refused.
    let dockerfile = call
        .as_ref()
        .filter(|_| mode != Mode::Force(Route::Pass))
        .and_then(|call| scan_dockerfile(inv, call));
    let build_args: Vec<(OsString, OsString)> = call
        .as_ref()
        .map(|call| {
            call.all(crate::docker::build_flags::BuildFlag::BuildArg)
                .filter_map(|f| f.value.as_ref())
                .filter(|v| !v.as_bytes().contains(&b'='))
                .filter_map(|name| std::env::var_os(name).map(|v| (name.clone(), v)))
                .collect()
        })
        .unwrap_or_default();
    // A bare `--build-arg NAME` takes its value from the environment: never print it.
    crate::output::redact::register(
        build_args
            .iter()
            .map(|(_, v)| v.to_string_lossy().into_owned()),
    );
    let warm = warm_facts(
        inv,
        call.as_ref(),
        dockerfile.as_ref(),
        &settings,
        runtime.as_ref(),
    );
    let project = crate::probe::project::wanted(inv, mode, runtime.as_ref().map(|r| &r.runtime))
        .and_then(|call| {
            Some(crate::probe::project::resolve(
                inv,
                &call,
                clients.first()?,
                guard,
            ))
        });
    if matches!(project, Some(ProjectFacts::Resolved { .. })) && bk.checks.is_empty() {
        // A project's targets are builds with orders of their own (each its context and
        // Dockerfile): every node of the list is checked, all at once, so each target
        // skips the dead ones as its `docker build` would.
        let addr =
            crate::route::needs::buildkit_address(&bk, mode, runtime.as_ref().map(|r| &r.runtime))
                .map(str::to_string);
        if let Some(list) = addr {
            let all = nodes::parse_list(&list);
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            bk.checks = buildkit::check(&refs, settings.daemon_timeout, true);
            bk.unreachable = buildkit::none_answers(&bk.checks);
        }
    }
    let warm = match &project {
        Some(ProjectFacts::Resolved { targets, .. }) => {
            project_warm(inv, warm, targets, &settings, runtime.as_ref())
        }
        _ => warm,
    };
    Ok(Gathered {
        facts: Facts {
            clients,
            runtime: runtime.as_ref().map(|r| r.runtime.clone()),
            env: BuildEnv {
                docker_buildkit: std::env::var_os("DOCKER_BUILDKIT"),
                build_args,
                compose_parallel_limit: std::env::var_os("COMPOSE_PARALLEL_LIMIT"),
            },
            mode,
            secrets: settings.secrets.clone(),
            buildkit: bk,
            dockerfile,
            scratch: scratch_path(),
            warm,
            project,
            cwd: std::env::current_dir().ok(),
            records: if matches!(inv.kind, crate::docker::args::CommandKind::Image(_)) {
                crate::images::commands::records()
            } else {
                Vec::new()
            },
        },
        search,
        runtime,
        settings,
        buildx_plugin,
    })
}

/// The facts of the warm-rebuild step: only a build bound for the mounted or legacy
/// route (a restricted runtime, or the mode forcing one) looks its tags up in the daemon.
fn warm_facts(
    inv: &Invocation,
    call: Option<&BuildCall>,
    scan: Option<&DockerfileScan>,
    settings: &Settings,
    runtime: Option<&RuntimeReport>,
) -> WarmFacts {
    let daemon_route = crate::route::needs::daemon_side(
        settings.mode,
        settings.buildkit_host.is_some(),
        runtime.map(|r| &r.runtime),
    );
    let local_tags = match call {
        _ if settings.warm == WarmLevel::Off => LocalTags::Unchecked("DOCKROUTE_WARM=off".into()),
        Some(call) if daemon_route => {
            let mut tags = call.tags();
            if settings.warm == WarmLevel::Stages {
                tags.extend(warm::stage_images(call, scan).into_iter().map(|(_, t)| t));
            }
            images::local_tags(inv, &tags, settings.daemon_timeout)
        }
        Some(_) => {
            LocalTags::Unchecked("the build does not go to the mounted or legacy route".into())
        }
        // A compose or bake project: its targets' tags are looked up once it is resolved
        // (`project_warm`); this stands only when it is not.
        None => LocalTags::Unchecked("the project's targets were not resolved".into()),
    };
    WarmFacts {
        level: settings.warm,
        local_tags,
    }
}

/// A project's targets build as their `docker build`s would: on a route that ends on
/// the daemon, the tags of every target (and, at `DOCKROUTE_WARM=on`, their stage images)
/// are looked up once, so each target's build gets `--cache-from` for those of its own
/// the docker cache brought back.
fn project_warm(
    inv: &Invocation,
    warm: WarmFacts,
    targets: &[crate::route::facts::ProjectTarget],
    settings: &Settings,
    runtime: Option<&RuntimeReport>,
) -> WarmFacts {
    let daemon_route = crate::route::needs::daemon_side(
        settings.mode,
        settings.buildkit_host.is_some(),
        runtime.map(|r| &r.runtime),
    );
    if settings.warm == WarmLevel::Off || !daemon_route {
        return warm;
    }
    let all: Vec<crate::project::bake::Target> = targets.iter().map(|t| t.target.clone()).collect();
    let mut tags = Vec::new();
    for t in targets {
        let Ok(args) = crate::project::build_argv::build_args(inv.global_args(), &t.target, &all)
        else {
            continue;
        };
        let Some(call) = Invocation::parse(args).build_call() else {
            continue;
        };
        tags.extend(call.tags());
        if settings.warm == WarmLevel::Stages {
            tags.extend(
                warm::stage_images(&call, t.dockerfile.as_ref())
                    .into_iter()
                    .map(|(_, tag)| tag),
            );
        }
    }
    WarmFacts {
        local_tags: images::local_tags(inv, &tags, settings.daemon_timeout),
        ..warm
    }
}

/// A directory name private to this call (created, exclusively, only by a route that
/// needs it): the process id and the time make it unique and hard to guess ahead.
pub(crate) fn scratch_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("dockroute-{}-{nanos:x}", std::process::id()))
}

/// Reads and scans the Dockerfile the build would use; `None` when it is not a local file
/// (stdin, a URL, a remote context) or cannot be read — then nothing is said about it.
pub(crate) fn scan_dockerfile(inv: &Invocation, call: &BuildCall) -> Option<DockerfileScan> {
    let cwd = std::env::current_dir().ok()?;
    match dockerfile::locate(call, &inv.args, &cwd) {
        dockerfile::Location::File(path) => match dockerfile::read_file(&path) {
            Ok(text) => Some(DockerfileScan {
                findings: dockerfile::scan(&text),
                stages: dockerfile::stages(&text),
                // Shown as the user would type it when it is under the working directory.
                path: path
                    .strip_prefix(&cwd)
                    .map_or_else(|_| path.clone(), Path::to_path_buf),
            }),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "Dockerfile not scanned");
                None
            }
        },
        dockerfile::Location::NotLocal => None,
    }
}
