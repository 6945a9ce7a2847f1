//! Credential helpers: `docker-credential-NAME store` and `erase`, spoken as the docker
//! CLI speaks them (docker/docker-credential-helpers `client`): `store` reads
//! `{"ServerURL","Username","Secret"}` on stdin, `erase` reads the server URL.
//!
//! The helper is looked up in PATH's absolute directories only
//! ([`crate::probe::discovery::find_program`]) and run by its absolute path
//! ([`crate::guard::require_absolute`]): a `docker-credential-*` in a relative PATH entry
//! (a checked-out repository) never runs.

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The program name for helper `name`.
#[must_use]
pub(crate) fn program_name(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// Finds `docker-credential-NAME` on PATH (absolute entries only).
///
/// # Errors
/// When there is none, as a sentence naming it.
pub(crate) fn find(path_var: Option<&OsStr>, name: &str) -> Result<PathBuf, String> {
    let program = program_name(name);
    crate::probe::discovery::find_program(path_var, &program).ok_or_else(|| {
        format!("{program} not found in PATH's absolute directories (configured in config.json)")
    })
}

/// Runs `helper ACTION` with `input` on stdin.
///
/// # Errors
/// The helper could not run, or it failed: its own output says why.
fn run(helper: &std::path::Path, action: &str, input: &[u8]) -> Result<(), String> {
    crate::guard::require_absolute(helper).map_err(|e| e.to_string())?;
    let mut child = Command::new(helper)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", helper.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{} {action}: {e}", helper.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .trim()
    .to_string();
    Err(format!(
        "{} {action} failed ({}): {said}",
        helper.display(),
        out.status
    ))
}

/// Stores `username`/`secret` for `server` in the helper.
///
/// # Errors
/// As [`run`].
pub(crate) fn store(
    helper: &std::path::Path,
    server: &str,
    username: &str,
    secret: &str,
) -> Result<(), String> {
    let payload = serde_json::json!({
        "ServerURL": server,
        "Username": username,
        "Secret": secret,
    });
    run(helper, "store", payload.to_string().as_bytes())
}

/// Erases `server`'s credentials from the helper.
///
/// # Errors
/// As [`run`].
pub(crate) fn erase(helper: &std::path::Path, server: &str) -> Result<(), String> {
    run(helper, "erase", server.as_bytes())
}
