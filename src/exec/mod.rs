//! Handing the call to the chosen client.
//!
//! Invariants:
//! - A plan of one process replaces this one (`execve`) with the client at its absolute
//!   path, with argv\[0\] that same path, so stdin, the TTY, signals and the exit code are
//!   the client's own and CLI plugins calling back `DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND`
//!   reach the real client.
//! - A plan of several processes (build then push, `buildctl … | docker load`, a private
//!   BuildKit started by `buildctl-daemonless.sh`) runs under [`supervise`]: signals reach
//!   every process it started, the first failure's exit code is the one returned, and no
//!   process of the plan outlives it.
//! - PATH is never rewritten; the only variables added are the plan's and the guard.

pub mod supervise;

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::{Error, Result};
use crate::guard::SelfGuard;
use crate::route::plan::{ImageId, Plan, Step};

/// A child process as every route starts one: the program by its absolute path, argv\[0\]
/// that same path, the plan's environment changes, and the guard's variables (so the
/// child's own `docker` calls recognise dockroute and count the hop).
pub(crate) fn child<K: AsRef<OsStr>, V: AsRef<OsStr>, U: AsRef<OsStr>>(
    program: &std::path::Path,
    argv: &[OsString],
    env_set: &[(K, V)],
    env_unset: &[U],
    guard: &SelfGuard,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg0(program).args(argv.iter().skip(1));
    for k in env_unset {
        cmd.env_remove(k);
    }
    for (k, v) in env_set {
        cmd.env(k, v);
    }
    for (k, v) in guard.child_env() {
        cmd.env(k, v);
    }
    cmd
}

/// Replaces this process with the plan's client. Returns only when that failed.
#[must_use]
pub fn exec(plan: &Plan, guard: &SelfGuard) -> Error {
    if let Err(source) = crate::guard::require_absolute(&plan.program) {
        return Error::Exec {
            program: plan.program.clone(),
            source,
        };
    }
    let source = child(
        &plan.program,
        &plan.argv,
        &plan.env_set,
        &plan.env_unset,
        guard,
    )
    .exec();
    Error::Exec {
        program: plan.program.clone(),
        source,
    }
}

/// Runs a plan of several processes under the supervisor, then writes or prints the
/// image ID (`--iidfile`, `-q`). Returns the exit code to leave with.
///
/// # Errors
/// When a program cannot be started.
pub fn run_supervised(plan: &Plan, guard: &SelfGuard) -> Result<u8> {
    let stages = stages(plan, None);
    prepare_files(plan)?;
    let ran = supervise::run(&stages, guard);
    if let (Ok(0), Some(after)) = (&ran, &plan.after) {
        crate::images::commands::after(after);
    }
    let code = match (&ran, &plan.image_id) {
        (Ok(0), Some(id)) => image_id(id),
        (Ok(code), _) => *code,
        (Err(_), _) => 0,
    };
    remove_files(plan);
    ran.map(|_| code)
}

/// Before a plan's processes start: its working directory there, its private scratch
/// directory made (when it needs one), and an earlier `--iidfile` removed.
///
/// # Errors
/// [`Error::Image`] when the working directory (a recorded build's) is not there;
/// [`Error::Io`] when the scratch directory cannot be created.
fn prepare_files(plan: &Plan) -> Result<()> {
    if let Some(dir) = plan.cwd.as_ref().filter(|d| !d.is_dir()) {
        // Else the start fails with ENOENT, which reads as a missing program.
        return Err(Error::Image {
            why: format!(
                "the directory {} the build ran in is not there: its recorded build runs again in it, with the paths it was given",
                dir.display()
            ),
            fix: "run it where that directory exists, or build the image again with `docker build -t NAME …` here".into(),
        });
    }
    if let Some(dir) = plan.scratch() {
        // Private to this call, created here and only here: an existing directory of that
        // name (someone else's, on a shared /tmp) is never used.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|source| Error::Io {
                what: format!(
                    "create the private directory {} for the image ID of `-q`",
                    dir.display()
                ),
                source,
                fix: Some(
                    "use --iidfile FILE, or point TMPDIR at a directory only you can write".into(),
                ),
            })?;
    }
    if let Some(path) = plan.image_id.as_ref().and_then(|i| i.write_to.as_ref()) {
        // As the docker clients do: no ID from an earlier build survives a failed one.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// After a plan's processes ended: the metadata files dockroute named and its scratch
/// directory removed.
fn remove_files(plan: &Plan) {
    if let Some(id) = plan.image_id.as_ref().filter(|i| i.metadata_is_ours) {
        let _ = std::fs::remove_file(&id.metadata);
    }
    if let Some(after) = plan.after.as_ref().filter(|a| a.metadata_is_ours) {
        let _ = std::fs::remove_file(&after.metadata);
        if let crate::route::plan::AfterAction::Compare(checks) = &after.action {
            for c in checks {
                let _ = std::fs::remove_file(&c.metadata);
            }
        }
    }
    if let Some(dir) = plan.scratch() {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The plan's processes as the supervisor's stages: the build (piped into `docker load`
/// when the route loads), then its follow-ups. `prefix` marks every output line (one
/// target of a project).
fn stages(plan: &Plan, prefix: Option<&str>) -> Vec<supervise::Stage> {
    let mut env_set: Vec<(OsString, OsString)> = plan
        .env_set
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    if plan.supervised {
        // `buildctl-daemonless.sh` is a shell script that runs `buildctl` and `buildkitd`
        // by name: its PATH keeps only the absolute entries, so a `./buildctl` in the
        // working directory never answers for them.
        if let Some(path) = absolute_path_entries(std::env::var_os("PATH").as_deref()) {
            env_set.push(("PATH".into(), path));
        }
    }
    let step = |s: &Step, stdout_to_stderr: bool| supervise::Step {
        program: s.program.clone(),
        argv: s.argv.clone(),
        env_set: env_set.clone(),
        env_unset: plan.env_unset.iter().map(OsString::from).collect(),
        stdout_to_stderr,
        prefix: prefix.map(str::to_string),
        cwd: plan.cwd.clone(),
        hold_stderr: false,
    };
    let main = step(
        &Step {
            program: plan.program.clone(),
            argv: plan.argv.clone(),
        },
        false,
    );
    // `docker load` reports what it loaded on stdout; `docker build` prints nothing there
    // (or, with -q, only the image ID), so its words go to stderr with the progress.
    let mut stages = vec![match &plan.load {
        // What `docker load` says of a stream a failed build cut short is noise under the
        // build's error: shown only when the build succeeded.
        Some(load) => supervise::Stage::Pipe(
            main,
            supervise::Step {
                hold_stderr: true,
                ..step(load, true)
            },
        ),
        None => supervise::Stage::One(main),
    }];
    // Follow-ups (`docker push` of the --push emulation) report progress, not output.
    stages.extend(
        plan.then
            .iter()
            .map(|s| supervise::Stage::One(step(s, true))),
    );
    stages
}

/// Runs a project's builds ([`crate::route::plan::ProjectPlan`]): each target's plan as a
/// job of [`supervise::run_jobs`] (at most `parallel` at once, each after the targets it
/// depends on, output lines prefixed `[target] `). Then, when the builds succeeded and the
/// call was `compose up`/`create`/`run`, replaces this process with compose (told not to
/// build), as a one-process plan is run. Returns the exit code to leave with.
///
/// # Errors
/// When a program cannot be started.
pub fn run_project(plan: &Plan, guard: &SelfGuard) -> Result<u8> {
    let Some(project) = &plan.project else {
        return Err(exec(plan, guard));
    };
    let jobs: Vec<supervise::Job> = project
        .targets
        .iter()
        .map(|t| supervise::Job {
            // compose and bake write only progress, on stderr: so do the builds (`-q`'s
            // image IDs included), each line marked with its target.
            stages: stages(&t.plan, Some(&format!("[{}] ", t.name)))
                .into_iter()
                .map(progress_only)
                .collect(),
            after: t.after.clone(),
        })
        .collect();
    // Each target's private directory, as its `docker build` run alone would make it.
    let mut prepared = Vec::new();
    let mut ready = Ok(());
    for t in &project.targets {
        ready = prepare_files(&t.plan);
        if ready.is_err() {
            break;
        }
        prepared.push(&t.plan);
    }
    let ran = ready.and_then(|()| supervise::run_jobs(&jobs, project.parallel, guard));
    prepared.into_iter().for_each(remove_files);
    let code = ran?;
    if code != 0 || !project.then_run {
        return Ok(code);
    }
    Err(exec(plan, guard))
}

fn progress_only(stage: supervise::Stage) -> supervise::Stage {
    let to_stderr = |mut s: supervise::Step| {
        s.stdout_to_stderr = true;
        s
    };
    match stage {
        supervise::Stage::One(s) => supervise::Stage::One(to_stderr(s)),
        supervise::Stage::Pipe(p, c) => supervise::Stage::Pipe(p, to_stderr(c)),
    }
}

/// PATH without its relative and empty entries, or `None` when it has none of those (then
/// it is left as it is).
fn absolute_path_entries(path: Option<&std::ffi::OsStr>) -> Option<OsString> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let path = path?;
    let entries: Vec<&[u8]> = path.as_bytes().split(|b| *b == b':').collect();
    if entries.iter().all(|e| e.first() == Some(&b'/')) {
        return None;
    }
    let kept: Vec<&[u8]> = entries
        .into_iter()
        .filter(|e| e.first() == Some(&b'/'))
        .collect();
    Some(OsString::from_vec(kept.join(&b':')))
}

/// Writes and/or prints the image ID (the config digest buildctl recorded). Returns the
/// exit code: 0 (an empty --iidfile when the build made no image), or 1 with a notice
/// when the --iidfile cannot be written.
fn image_id(id: &ImageId) -> u8 {
    let digest = std::fs::read(&id.metadata)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("containerimage.config.digest")
                .and_then(|d| d.as_str())
                .map(str::to_string)
        });
    let Some(digest) = digest else {
        // `-o type=local` and the like make no image: like buildx, an empty --iidfile.
        crate::output::notice("the build made no image, so there is no image ID to give");
        if let Some(path) = &id.write_to {
            let _ = std::fs::write(path, "");
        }
        return 0;
    };
    if let Some(path) = &id.write_to {
        if let Err(e) = std::fs::write(path, &digest) {
            crate::output::notice(&format!(
                "could not write --iidfile {}: {e}",
                path.display()
            ));
            return 1;
        }
    }
    if id.print {
        crate::output::stdout_line(&digest);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::absolute_path_entries;
    use std::ffi::OsStr;

    /// A recorded build run again (`docker push` with no daemon) in a directory that is
    /// gone: the error names the directory, not the program, which is there (starting it
    /// in a missing directory fails with ENOENT, which read as "no such program", exit
    /// 127).
    #[test]
    fn a_missing_working_directory_is_named() {
        use crate::route::mode::Route;
        use crate::route::plan::Plan;
        let t = tempfile::tempdir().unwrap();
        let gone = t.path().join("gone");
        let plan = Plan {
            cwd: Some(gone.clone()),
            ..Plan::new(
                Route::Records,
                "push",
                std::path::PathBuf::from("/bin/true"),
                vec!["/bin/true".into()],
            )
        };
        let e = super::run_supervised(&plan, &crate::guard::SelfGuard::default())
            .expect_err("no such directory");
        let text = e.to_string();
        assert!(text.contains(&gone.display().to_string()), "{text}");
        assert!(!text.contains("/bin/true"), "{text}");
        assert_ne!(e.exit_code(), crate::error::exit::NO_CLIENT, "{text}");
    }

    #[test]
    fn relative_and_empty_path_entries_are_dropped_for_scripts() {
        assert_eq!(absolute_path_entries(Some(OsStr::new("/a:/b"))), None);
        assert_eq!(
            absolute_path_entries(Some(OsStr::new(".:/a::bin:/b:"))),
            Some("/a:/b".into())
        );
        assert_eq!(
            absolute_path_entries(Some(OsStr::new("."))),
            Some("".into())
        );
    }
}
