//! Handing the call to the chosen client.
//!
//! Invariants (SPEC §2 Exec):
//! - The process is replaced (`execve`) by the client at its absolute path, with argv\[0\]
//!   that same path, so stdin, the TTY, signals and the exit code are the client's own and
//!   CLI plugins calling back `DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND` reach the real client.
//! - PATH is never rewritten; the only variables added are the plan's and the guard.
//! - Only the `--push` emulation waits on children: it runs the build, then each push, and
//!   returns the first failing child's exit code (128 + signal for a killed child).

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use crate::error::Error;
use crate::guard::SelfGuard;
use crate::route::decide::Plan;

fn command(plan: &Plan, argv: &[OsString], guard: &SelfGuard) -> Command {
    let mut cmd = Command::new(&plan.program);
    cmd.arg0(&plan.program);
    cmd.args(argv.iter().skip(1));
    for k in &plan.env_unset {
        cmd.env_remove(k);
    }
    for (k, v) in &plan.env_set {
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
    let source = command(plan, &plan.argv, guard).exec();
    Error::Exec {
        program: plan.program.clone(),
        source,
    }
}

/// Runs the plan's command and then each follow-up, stopping at the first failure.
/// Returns the exit code to leave with.
pub fn run_in_sequence(plan: &Plan, guard: &SelfGuard) -> Result<u8, Error> {
    for argv in std::iter::once(&plan.argv).chain(plan.then.iter()) {
        let status = command(plan, argv, guard)
            .status()
            .map_err(|source| Error::Exec {
                program: plan.program.clone(),
                source,
            })?;
        let code = match (status.code(), status.signal()) {
            (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
            (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
            (None, None) => 1,
        };
        if code != 0 {
            return Ok(code);
        }
    }
    Ok(0)
}
