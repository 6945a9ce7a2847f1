//! dockroute's own settings from the environment: `DOCKROUTE_MODE`, `DOCKROUTE_SECRETS`,
//! `DOCKROUTE_SECRET_WORDS` and the `DOCKROUTE_*_MS` / `DOCKROUTE_*_S` durations.
//! An unset or unparsable value means the default, never an error — a typo in a CI
//! variable must not break every `docker` call — and is reported as a notice.

use std::time::Duration;

use crate::route::facts::Mode;

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

/// `DOCKROUTE_MODE`, or the value it had when not understood.
#[must_use]
pub fn mode() -> (Mode, Option<String>) {
    match std::env::var("DOCKROUTE_MODE") {
        Err(_) => (Mode::Auto, None),
        Ok(v) => match Mode::parse(&v) {
            Some(m) => (m, None),
            None => (Mode::Auto, Some(v)),
        },
    }
}

/// `DOCKROUTE_SECRETS` and `DOCKROUTE_SECRET_WORDS`; an unknown policy is reported and
/// read as `warn`.
pub fn secrets(bad: &mut Vec<String>) -> crate::route::secrets::Guard {
    let policy = match std::env::var("DOCKROUTE_SECRETS") {
        Err(_) => crate::route::secrets::Policy::Warn,
        Ok(v) => crate::route::secrets::Policy::parse(&v).unwrap_or_else(|| {
            bad.push(format!(
                "DOCKROUTE_SECRETS={v:?} is not one of warn, deny, off; warning"
            ));
            crate::route::secrets::Policy::Warn
        }),
    };
    let extra_words = std::env::var("DOCKROUTE_SECRET_WORDS")
        .map(|v| {
            v.split(',')
                .map(|w| w.trim().to_ascii_uppercase())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    crate::route::secrets::Guard {
        policy,
        extra_words,
    }
}
