//! dockroute's numeric settings from the environment (`DOCKROUTE_*_MS`, `DOCKROUTE_*_S`):
//! an unset or unparsable value means the default, never an error, because a typo in a
//! CI variable must not break every `docker` call.

use std::time::Duration;

/// A duration in milliseconds from `var`, else `default`.
#[must_use]
pub fn millis(var: &str, default: Duration) -> Duration {
    number(var).map_or(default, Duration::from_millis)
}

/// A duration in seconds from `var`, else `default`.
#[must_use]
pub fn seconds(var: &str, default: Duration) -> Duration {
    number(var).map_or(default, Duration::from_secs)
}

fn number(var: &str) -> Option<u64> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}
