//! `dockroute doctor [--json]`: every client, what `docker` resolves to, the daemon and
//! the runtime, BuildKit, and the route a build, a compose call and any other call would
//! take now.
//!
//! Three steps, one way: this module gathers (the same `gather` the shim uses, plus what
//! only doctor shows: the shell's resolution of `docker`, the daemon's `/info`); the pure
//! [`report`] turns that into one [`report::Report`] value; `--json` serialises it and
//! [`text`] renders it for people — so the two cannot disagree.

pub(crate) mod report;
pub(crate) mod text;

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;

use crate::docker::args::Invocation;
use crate::docker::config;
use crate::docker::endpoint;
use crate::error::Result;
use crate::guard::{FileId, SelfGuard};
use crate::output;
use crate::prepare::{prepare, Probe};
use crate::probe::daemon;
use crate::probe::discovery;
use crate::probe::gather::Gathered;
use report::{Env, Report, Resolution};

/// Runs `doctor`: 0 when healthy, 1 when something needs a person.
///
/// # Errors
/// None today; gathering never fails.
pub(crate) fn run(as_json: bool) -> Result<u8> {
    let guard = SelfGuard::from_env();
    let inv = Invocation::parse(vec!["build".into(), ".".into()]);
    let g = prepare(&inv, &guard, Probe::Everything)?.gathered;
    let config_dir = config::config_dir(None);
    let ep = endpoint::resolve(
        &Invocation::parse(Vec::new()).globals,
        &|k| std::env::var(k).ok(),
        config_dir.as_deref(),
    );
    let env = Env {
        exe: std::env::current_exe().ok(),
        endpoint: ep.to_string(),
        daemon: daemon::info(&ep, g.settings.daemon_timeout),
        cache_dir: crate::probe::cache::Cache::location(g.settings.cache_dir.as_deref()),
    };
    let resolution = resolve_docker(&g, &guard, std::env::var_os("PATH").as_deref());
    let report = Report::new(&g, &env, resolution);
    if as_json {
        let json =
            serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        output::report(&format!("{json}\n"));
    } else {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && !matches!(std::env::var_os("TERM"), Some(t) if t == "dumb");
        output::report(&text::render(&report, &text::Paint(colour)));
    }
    Ok(u8::from(!report.problems.is_empty()))
}

/// What `docker` resolves to in a shell with this PATH, and whether that is dockroute.
fn resolve_docker(g: &Gathered, guard: &SelfGuard, path: Option<&std::ffi::OsStr>) -> Resolution {
    let resolved = discovery::shell_resolution(path);
    let is_dockroute = resolved.as_ref().is_some_and(|p| {
        let same_file = std::fs::metadata(p).is_ok_and(|m| {
            guard.is_dockroute(FileId {
                dev: m.dev(),
                ino: m.ino(),
            })
        });
        // A copy of dockroute is no real client: discovery searched its directory and
        // dropped it (the probe recognised it).
        let dropped_copy = p.is_absolute()
            && p.parent()
                .is_some_and(|d| g.search.searched.iter().any(|s| s == d))
            && !g.facts.clients.iter().any(|c| &c.path == p);
        same_file || dropped_copy
    });
    Resolution {
        path: resolved,
        is_dockroute,
    }
}
