//! The one place dockroute's own words leave the process.
//!
//! Invariants:
//! - In shim mode dockroute never writes to stdout on its own account; notices and errors
//!   go to stderr, one line each, prefixed `dockroute:`. The one exception is the probe
//!   marker: a dockroute that another dockroute is probing (`DOCKROUTE_PROBE=1` with the
//!   guard set) answers its `--version` on stdout with
//!   [`crate::docker::version::DOCKROUTE_MARKER`], so the prober skips it.
//! - dockroute's own CLI (`doctor`, `explain`, `--help`) writes its reports to stdout
//!   through [`report`].
//! - `DOCKROUTE_QUIET=1` silences notices (never errors).
//! - Everything printed passes through [`crate::output::redact::text`], the single redaction point.

#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::Write;

pub(crate) mod logging;
pub(crate) mod redact;

/// Whether notices are silenced.
#[must_use]
pub(crate) fn quiet() -> bool {
    std::env::var_os("DOCKROUTE_QUIET").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Prints one notice line to stderr unless quiet.
pub(crate) fn notice(line: &str) {
    if !quiet() {
        let _ = writeln!(
            std::io::stderr(),
            "dockroute: {}",
            crate::output::redact::text(line)
        );
    }
}

/// Prints an error (and its hint) to stderr, always.
pub(crate) fn error(e: &crate::error::Error) {
    let mut err = std::io::stderr().lock();
    // A project printer's own message reaches the user as the printer wrote it.
    if let crate::error::Error::Printer { message, .. } = e {
        if !message.is_empty() {
            let text = String::from_utf8_lossy(message);
            let _ = err.write_all(crate::output::redact::text(&text).as_bytes());
            return;
        }
    }
    let text = e.to_string();
    let mut lines = text.lines();
    let _ = writeln!(
        err,
        "dockroute: error: {}",
        crate::output::redact::text(lines.next().unwrap_or_default())
    );
    // Further lines (one per finding) keep the prefix, so every line is greppable.
    for line in lines {
        let _ = writeln!(err, "dockroute: {}", crate::output::redact::text(line));
    }
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "dockroute: hint: {}", crate::output::redact::text(&h));
    }
}

/// Writes one line of a docker command's own output to stdout: the image ID that `docker
/// build -q` prints, which dockroute prints for the BuildKit routes, `docker login`'s
/// `Login Succeeded`, and what the image commands answered from the records print
/// (`images`' table, `image inspect`'s JSON, `rmi`'s `Untagged:`). With the supervisor's
/// relay of a prefixed build's own output lines, the only thing the shim writes to
/// stdout, and only because the command it stands for would.
pub(crate) fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes one line of a docker command's own words to stderr, unprefixed: the warnings
/// `docker login`/`logout` print, which dockroute prints when it answers them itself.
pub(crate) fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr(), "{}", crate::output::redact::text(line));
}

/// Writes a report of dockroute's own CLI (`doctor`, `explain`) to stdout.
pub(crate) fn report(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(crate::output::redact::text(text).as_bytes());
    let _ = out.flush();
}
