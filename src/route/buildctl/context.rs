//! The build context and the Dockerfile of a build call: the one positional argument (a
//! local directory; stdin, URLs and Git repositories are refused) and `-f` split into
//! the directory buildctl sends and the file name the frontend reads.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::error::Result;

use super::values::refused;
use super::Request;

/// The build context: the one positional, a local directory.
pub(super) fn build_context_dir(req: &Request<'_>) -> Result<OsString> {
    let words = req
        .inv
        .args
        .get(req.inv.command_at..req.inv.rest_at)
        .unwrap_or_default()
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let ctx = match req.call.positional.as_slice() {
        [one] => req.inv.args.get(*one).cloned().unwrap_or_default(),
        other => {
            return Err(refused(
                format!("docker {words}"),
                format!(
                    "`docker {words}` requires exactly 1 argument (the build context), got {}",
                    other.len()
                ),
                format!("give the build context directory, e.g. `docker {words} .`"),
            ))
        }
    };
    let fix =
        "put the Dockerfile and its files in a local directory and build that: `docker build DIR`";
    if ctx.as_bytes() == b"-" {
        return Err(refused(
            "-",
            "a build context (or Dockerfile) on standard input cannot be handed to buildctl",
            fix,
        ));
    }
    if ctx.is_empty() {
        return Err(refused(
            "\"\"",
            "the build context is an empty string",
            format!("give the build context directory, e.g. `docker {words} .`"),
        ));
    }
    if is_remote(ctx.as_bytes()) {
        return Err(refused(
            ctx.to_string_lossy().into_owned(),
            "a remote build context (URL or Git repository) is not translated to buildctl",
            format!("clone or download it first, then {fix}"),
        ));
    }
    Ok(ctx)
}

/// `-f PATH` → (directory of PATH as given, `.` when none; file name).
pub(super) fn split_dockerfile(file: &OsStr) -> Result<(Vec<u8>, Vec<u8>)> {
    let b = file.as_bytes();
    let fix = "name the Dockerfile by its path in a local directory: `-f DIR/Dockerfile`";
    if b == b"-" {
        return Err(refused(
            "--file",
            "a Dockerfile on standard input cannot be handed to buildctl",
            fix,
        ));
    }
    if is_remote(b) {
        return Err(refused(
            "--file",
            "a remote Dockerfile is not translated to buildctl",
            format!("download it first, then {fix}"),
        ));
    }
    let (dir, name) = match b.iter().rposition(|c| *c == b'/') {
        None => (&b"."[..], b),
        Some(slash) => {
            let dir = &b[..slash];
            let trimmed = dir
                .iter()
                .rposition(|c| *c != b'/')
                .map_or(&b"/"[..], |e| &dir[..=e]);
            (trimmed, &b[slash + 1..])
        }
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(refused(
            "--file",
            format!("`{}` names a directory, not a file", file.to_string_lossy()),
            fix,
        ));
    }
    Ok((dir.to_vec(), name.to_vec()))
}

/// Whether a context names something remote: a URL or a Git repository, as the docker
/// CLI recognises them.
pub(super) fn is_remote(s: &[u8]) -> bool {
    [
        "http://",
        "https://",
        "git://",
        "ssh://",
        "git@",
        "github.com/",
    ]
    .iter()
    .any(|p| s.starts_with(p.as_bytes()))
}
