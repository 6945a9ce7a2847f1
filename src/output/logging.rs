//! Diagnostics through `tracing`, written to stderr, set up only when `DOCKROUTE_LOG` is
//! set (its value is the filter: `debug`, `dockroute=trace`, …). The pass-through path
//! sets nothing up unless asked, so it pays nothing for logging. Every line goes
//! through the redaction point.

/// Installs the subscriber if `DOCKROUTE_LOG` asks for one.
pub(crate) fn init() {
    if let Some(filter) = std::env::var_os("DOCKROUTE_LOG") {
        install(&filter);
    }
}

/// Kept out of line so the pass-through path's frame stays small (bench/: the inlined
/// set-up touched two extra stack pages on every call).
#[cold]
#[inline(never)]
fn install(filter: &std::ffi::OsStr) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter.to_string_lossy())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        // Colour only on a terminal: CI logs must not fill with escape sequences.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// A writer that passes every log line through [`crate::output::redact::text`] on its way to
/// stderr, so no `DOCKROUTE_LOG` level can print a value dockroute was handed.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::output::redact::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
