//! The one preparation step every entry point that routes shares: the shim, `dockroute
//! explain` and `dockroute doctor` each turn an invocation into a decision here, so what
//! `explain` and `doctor` show is what the shim does.
//!
//! In order: read the settings once; register what must never be printed (the values the
//! call assigns and the values of secret-looking environment variables, by the default
//! words *and* `DOCKROUTE_SECRET_WORDS`) before anything can log; gather the facts; decide;
//! and, when no client exists, report where discovery looked.

use crate::docker::args::Invocation;
use crate::error::{Error, Result};
use crate::guard::SelfGuard;
use crate::output::redact;
use crate::probe::gather::{self, Gathered};
use crate::probe::settings::Settings;
use crate::route::decide;
use crate::route::plan::Plan;
use crate::route::secrets;

/// A call made ready: the facts learnt and the decision taken on them.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Everything gathering learnt (facts, where discovery looked, settings, runtime).
    pub(crate) gathered: Gathered,
    /// The plan, or why the call is refused.
    pub(crate) decision: Result<Plan>,
}

/// Whether the runtime is probed even when the call would not need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Only what the call needs (the shim, `explain`).
    AsNeeded,
    /// Everything, for a report of the whole machine (`doctor`).
    Everything,
}

/// Prepares `inv`: settings, redaction, facts, decision.
///
/// # Errors
/// Only what gathering itself cannot get past; a refusal is in [`Prepared::decision`].
pub(crate) fn prepare(inv: &Invocation, guard: &SelfGuard, probe: Probe) -> Result<Prepared> {
    let settings = Settings::from_env();
    register_secrets(inv, &settings);
    let gathered = gather::gather(inv, guard, settings, probe == Probe::Everything)?;
    let decision = match decide::decide(inv, &gathered.facts) {
        // No docker client at all: say where discovery looked and what it passed over.
        Err(Error::NoClient { .. }) => Err(gathered.search.clone().into_error()),
        other => other,
    };
    Ok(Prepared { gathered, decision })
}

/// Registers the call's assigned values and the secret-looking environment values, with
/// the user's extra secret words.
fn register_secrets(inv: &Invocation, settings: &Settings) {
    let words = &settings.secrets.extra_words;
    redact::register_call(inv, &|name| secrets::looks_secret(name, words));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DOCKROUTE_SECRET_WORDS` makes an environment variable's value secret too: its
    /// value is masked in everything printed afterwards. (Before, the environment was
    /// registered with no extra words, so only the default words counted.)
    #[test]
    fn extra_secret_words_mask_environment_values() {
        let settings = Settings::read(&|k| match k {
            "DOCKROUTE_SECRET_WORDS" => Some("pin".into()),
            _ => None,
        });
        assert_eq!(settings.secrets.extra_words, vec!["PIN".to_string()]);
        // A variable only the extra word marks as secret (dockroute's own DOCKROUTE_*
        // variables are never secrets), and one no word marks.
        std::env::set_var("UNITTEST_DEPLOY_PIN", "4242-deploy-pin-value");
        std::env::set_var("UNITTEST_DEPLOY_PLAIN", "7319-plain-visible");
        let inv = Invocation::parse(vec!["build".into(), ".".into()]);
        register_secrets(&inv, &settings);
        let shown = redact::text("pin=4242-deploy-pin-value plain=7319-plain-visible");
        assert_eq!(shown, "pin=*** plain=7319-plain-visible");
        std::env::remove_var("UNITTEST_DEPLOY_PIN");
        std::env::remove_var("UNITTEST_DEPLOY_PLAIN");
    }
}
