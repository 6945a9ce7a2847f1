//! Resolving a compose or bake project with the tool's own printer: `docker [globals]
//! compose [flags] build --print …` or `docker [globals] buildx bake --print …`, run by
//! the first client on PATH by its absolute path, with the user's environment and working
//! directory, stdin closed, bounded in time ([`PRINT_TIMEOUT`]). Neither printer boots a
//! builder or contacts the daemon. Then each target's Dockerfile is scanned (as a
//! `docker build` of it would be), its `FROM` lines matched against the other targets'
//! tags, and, for `up`/`create`/`run` without `--build`, the daemon asked which images it
//! has (`docker image inspect`, in parallel).
//!
//! Without a printer (a compose older than `build --print`, no buildx for bake, a
//! printer that does not answer in time) the result is [`ProjectFacts::Unavailable`],
//! with every compose service's Dockerfile scanned from `docker compose config --format
//! json` for the fallback route.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::docker::args::Invocation;
use crate::guard::SelfGuard;
use crate::probe::spawn::{self, Capture};
use crate::project::bake;
use crate::project::compose_call::{ProjectCall, Sub};
use crate::route::facts::{Client, DockerfileScan, ProjectFacts, ProjectTarget};
use crate::route::nodes::Affinity;

/// Bound on the printer (compose 2.40.3 printed in 0.17–0.85 s here; a project with
/// remote includes fetches them first).
pub(crate) const PRINT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bound on the image presence checks, all of them together.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of the printer's output is read.
const MAX_PRINT: usize = 16 * 1024 * 1024;

/// The printer's failures that mean "no such printer here", not "your project is broken":
/// compose before `build --print`, no buildx plugin for the CLI.
const NO_PRINTER: &[&str] = &[
    "unknown flag: --print",
    "'buildx' is not a docker command",
    "unknown command: docker buildx",
];

fn shown(args: &[OsString]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("docker {}", crate::output::redact::argv(&words).join(" "))
}

/// The project call to resolve, when the call builds a project and its route would build
/// it target by target ([`crate::route::decide::builds_projects`]). Elsewhere compose and
/// bake pass through and nothing is printed.
#[must_use]
pub(crate) fn wanted(
    inv: &Invocation,
    mode: crate::route::mode::Mode,
    runtime: Option<&crate::route::facts::Runtime>,
) -> Option<ProjectCall> {
    let facts = crate::route::facts::Facts {
        mode,
        runtime: runtime.cloned(),
        ..crate::route::facts::Facts::default()
    };
    crate::route::decide::builds_projects(&facts)
        .then(|| crate::project::compose_call::read(inv))
        .flatten()
}

/// Resolves the project of `call` with `client` (the first on PATH).
#[must_use]
pub(crate) fn resolve(
    inv: &Invocation,
    call: &ProjectCall,
    client: &Client,
    guard: &SelfGuard,
) -> ProjectFacts {
    let args = call.printer_args(inv);
    let printer = shown(&args);
    let started = Instant::now();
    // `up`/`create`/`run` also build a `pull_policy: build` service whose image exists:
    // compose's own `config` says which (asked at the same time as the printer).
    let config = (matches!(call.sub, Sub::Up | Sub::Create | Sub::Run) && !call.forces_build())
        .then(|| start(&client.path, &config_args(inv, call), guard))
        .flatten();
    let finished =
        start(&client.path, &args, guard).and_then(|r| r.finish_by(Instant::now() + PRINT_TIMEOUT));
    let always_build = config
        .and_then(|r| r.finish_by(Instant::now() + PRINT_TIMEOUT))
        .map(|f| pull_policy_build(&f))
        .unwrap_or_default();
    tracing::debug!(printer = %printer, ms = started.elapsed().as_millis() as u64, "project printed");
    let Some(f) = finished else {
        return unavailable(
            inv,
            call,
            client,
            guard,
            format!(
                "`{printer}` did not answer within {} s",
                PRINT_TIMEOUT.as_secs()
            ),
        );
    };
    let code = match f.status {
        Ok(s) => s.code().map_or(1, |c| u8::try_from(c & 0xff).unwrap_or(1)),
        Err(e) => {
            return unavailable(
                inv,
                call,
                client,
                guard,
                format!("`{printer}` could not be waited for: {e}"),
            )
        }
    };
    if code != 0 {
        let text = String::from_utf8_lossy(&f.errors);
        if NO_PRINTER.iter().any(|p| text.contains(p)) {
            let why = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .trim()
                .to_string();
            return unavailable(
                inv,
                call,
                client,
                guard,
                format!("`{printer}` is not available here ({why})"),
            );
        }
        return ProjectFacts::PrinterFailed {
            printer,
            code,
            message: f.errors,
        };
    }
    let targets = match bake::parse(&f.output) {
        Ok(t) => t,
        Err(bake::Unreadable(why)) => {
            return unavailable(
                inv,
                call,
                client,
                guard,
                format!("`{printer}` printed no definition dockroute can read ({why})"),
            )
        }
    };
    // Build-arg values may be secrets: never printed from here on.
    crate::output::redact::register(
        targets
            .iter()
            .flat_map(|t| t.args.iter().filter_map(|(_, v)| v.clone())),
    );
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let presence = if call.forces_build() {
        vec![None; targets.len()]
    } else {
        images_present(inv, client, &targets, guard)
    };
    let resolved = targets
        .iter()
        .zip(presence)
        .map(|(t, image_present)| {
            let (dockerfile, from, affinity) = scan_target(inv, t, &targets, &cwd);
            ProjectTarget {
                target: t.clone(),
                dockerfile,
                image_present,
                from_targets: from,
                always_build: always_build.contains(&t.name),
                affinity,
            }
        })
        .collect();
    ProjectFacts::Resolved {
        printer,
        targets: resolved,
    }
}

/// Runs `program args…` bounded, both streams captured.
fn run(
    program: &Path,
    args: &[OsString],
    guard: &SelfGuard,
    timeout: Duration,
) -> Option<spawn::Finished> {
    start(program, args, guard)?.finish_by(Instant::now() + timeout)
}

/// Starts `program args…` (own process group, stdin closed, both streams captured).
fn start(program: &Path, args: &[OsString], guard: &SelfGuard) -> Option<spawn::Running> {
    let mut cmd = Command::new(program);
    cmd.arg0(program).args(args);
    spawn::spawn(cmd, guard, Capture::Both, MAX_PRINT, spawn::until_exit).ok()
}

/// `[globals…] compose [compose flags…] config --format json`.
fn config_args(inv: &Invocation, call: &ProjectCall) -> Vec<OsString> {
    let mut args: Vec<OsString> = inv.args[..call.sub_at].to_vec();
    args.extend(["config", "--format", "json"].map(OsString::from));
    args
}

/// The services whose `pull_policy` is `build` in `docker compose config --format json`.
fn pull_policy_build(f: &spawn::Finished) -> Vec<String> {
    if !f
        .status
        .as_ref()
        .is_ok_and(std::process::ExitStatus::success)
    {
        return Vec::new();
    }
    serde_json::from_slice::<serde_json::Value>(&f.output)
        .ok()
        .and_then(|v| {
            v.get("services")?.as_object().map(|services| {
                services
                    .iter()
                    .filter(|(_, s)| {
                        s.get("pull_policy").and_then(serde_json::Value::as_str) == Some("build")
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The Dockerfile scan of a target's `docker build`, the targets its `FROM` lines name,
/// and its node affinity (its context and Dockerfile, canonical).
fn scan_target(
    inv: &Invocation,
    t: &bake::Target,
    all: &[bake::Target],
    cwd: &Path,
) -> (Option<DockerfileScan>, Vec<String>, Option<Affinity>) {
    let Ok(args) = crate::project::build_argv::build_args(inv.global_args(), t, all) else {
        return (None, Vec::new(), None);
    };
    let target_inv = Invocation::parse(args);
    let Some(call) = target_inv.build_call() else {
        return (None, Vec::new(), None);
    };
    let affinity = crate::probe::buildkit::affinity(&call, &target_inv.args, cwd);
    let scan = crate::probe::gather::scan_dockerfile(&target_inv, &call);
    let from = match crate::docker::dockerfile::locate(&call, &target_inv.args, cwd) {
        crate::docker::dockerfile::Location::File(path) => std::fs::read(&path)
            .map(|text| {
                let bases = crate::docker::dockerfile::base_images(&text);
                all.iter()
                    .filter(|o| {
                        o.name != t.name
                            && o.tags
                                .iter()
                                .any(|tag| bases.iter().any(|b| same_image(b, tag)))
                    })
                    .map(|o| o.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        crate::docker::dockerfile::Location::NotLocal => Vec::new(),
    };
    (scan, from, affinity)
}

/// `name` and `name:latest` are one image.
fn same_image(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || s.contains('@') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    norm(a) == norm(b)
}

/// Whether each target's image (its first tag) is in the daemon: `docker [globals]
/// image inspect TAG`, all at once. `None` when it could not be told.
fn images_present(
    inv: &Invocation,
    client: &Client,
    targets: &[bake::Target],
    guard: &SelfGuard,
) -> Vec<Option<bool>> {
    let deadline = Instant::now() + INSPECT_TIMEOUT;
    let running: Vec<_> = targets
        .iter()
        .map(|t| {
            let tag = t.tags.first()?;
            let mut cmd = Command::new(&client.path);
            cmd.arg0(&client.path)
                .args(inv.global_args())
                .args(["image", "inspect", "--format", "{{.Id}}"])
                .arg(tag);
            spawn::spawn(cmd, guard, Capture::Stdout, 4096, spawn::until_exit).ok()
        })
        .collect();
    running
        .into_iter()
        .map(|r| {
            let f = r?.finish_by(deadline)?;
            Some(f.status.ok()?.success())
        })
        .collect()
}

/// No printer: the fallback's facts. For compose, every service's Dockerfile from
/// `docker compose config --format json`, scanned.
fn unavailable(
    inv: &Invocation,
    call: &ProjectCall,
    client: &Client,
    guard: &SelfGuard,
    why: String,
) -> ProjectFacts {
    let scans = if call.sub == Sub::Bake {
        Vec::new()
    } else {
        compose_scans(inv, call, client, guard)
    };
    ProjectFacts::Unavailable { why, scans }
}

fn compose_scans(
    inv: &Invocation,
    call: &ProjectCall,
    client: &Client,
    guard: &SelfGuard,
) -> Vec<DockerfileScan> {
    let Some(f) = run(&client.path, &config_args(inv, call), guard, PRINT_TIMEOUT) else {
        return Vec::new();
    };
    if !f
        .status
        .as_ref()
        .is_ok_and(std::process::ExitStatus::success)
    {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&f.output) else {
        return Vec::new();
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(services) = v.get("services").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    services
        .values()
        .filter_map(|s| s.get("build"))
        .filter_map(|b| {
            let context = cwd.join(b.get("context")?.as_str()?);
            let file = b
                .get("dockerfile")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("Dockerfile");
            let path = context.join(file);
            let text = crate::docker::dockerfile::read_file(&path).ok()?;
            Some(DockerfileScan {
                path: path
                    .strip_prefix(&cwd)
                    .map_or_else(|_| path.clone(), Path::to_path_buf),
                findings: crate::docker::dockerfile::scan(&text),
                stages: crate::docker::dockerfile::stages(&text),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::same_image;

    #[test]
    fn an_untagged_name_is_latest() {
        assert!(same_image("proj-base", "proj-base:latest"));
        assert!(same_image("r:5000/a", "r:5000/a:latest"));
        assert!(!same_image("r:5000/a", "r:5000/a:1"));
        assert!(same_image("a:1", "a:1"));
    }
}
