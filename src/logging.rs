//! Diagnostics through `tracing`, written to stderr, set up only when `DOCKROUTE_LOG` is
//! set (its value is the filter: `debug`, `dockroute=trace`, …). The pass-through path
//! sets nothing up unless asked, so it pays nothing for logging.

/// Installs the subscriber if `DOCKROUTE_LOG` asks for one.
pub fn init() {
    let Some(filter) = std::env::var_os("DOCKROUTE_LOG") else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.to_string_lossy())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
