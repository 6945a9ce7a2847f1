//! The secret build-argument guard: `--build-arg` values are recorded in the
//! image history and config (`RUN |1 NPM_TOKEN=… …`) and in every layer cache that uploads
//! intermediate stages, such as the Pipelines docker cache. A build whose build-arg *name*
//! looks like a secret gets a warning — naming the argument, never its value — or, under
//! `DOCKROUTE_SECRETS=deny`, a refusal before anything runs.
//!
//! Names are matched by words (split on `_`, `-`, `.`), so `NPM_TOKEN` and `DB_PASSWORD`
//! trip the guard while `AUTHOR` and `TOKENIZER_MODEL` do not. Multi-word entries
//! (`API_KEY`) match consecutive words. Pure: the policy and extra words come in as data.

use std::os::unix::ffi::OsStrExt;

use crate::docker::args::BuildCall;

/// What to do about a secret-looking build argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Print a warning and build anyway.
    #[default]
    Warn,
    /// Refuse the build (exit 2).
    Deny,
    /// Say nothing.
    Off,
}

impl Policy {
    /// Parses `DOCKROUTE_SECRETS`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "" | "warn" => Policy::Warn,
            "deny" => Policy::Deny,
            "off" => Policy::Off,
            _ => return None,
        })
    }
}

/// The words that make a build-arg name look like a secret. Entries with `_` match
/// consecutive words.
pub const DEFAULT_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASS",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "AUTH",
];

/// The guard's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// The policy.
    pub policy: Policy,
    /// Words added by `DOCKROUTE_SECRET_WORDS` (comma-separated), upper-cased.
    pub extra_words: Vec<String>,
}

fn words_of(name: &str) -> Vec<String> {
    name.split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Whether a build-arg name looks like a secret.
#[must_use]
pub fn looks_secret(name: &str, extra: &[String]) -> bool {
    let words = words_of(name);
    DEFAULT_WORDS
        .iter()
        .map(|w| (*w).to_string())
        .chain(extra.iter().cloned())
        .any(|entry| {
            let needle = words_of(&entry);
            !needle.is_empty() && words.windows(needle.len()).any(|w| w == needle.as_slice())
        })
}

/// The names of secret-looking build arguments in a build call, in order, once each.
#[must_use]
pub fn secret_build_args(call: &BuildCall, extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for f in call.all(crate::docker::build_flags::BuildFlag::BuildArg) {
        let Some(v) = &f.value else { continue };
        let bytes = v.as_bytes();
        let name = bytes.split(|b| *b == b'=').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name).into_owned();
        if looks_secret(&name, extra) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The warning for these names (never their values).
#[must_use]
pub fn warning(names: &[String]) -> String {
    let first = &names[0];
    format!(
        "build argument{} {} look{} like a secret: a --build-arg value is stored in the image history and config and in every layer cache that uploads intermediate stages (such as the Pipelines docker cache); pass it with `--secret id={first},env={first}` and read it in a `RUN --mount=type=secret,id={first}` step instead (on Bitbucket runtime v2 dockroute runs that through the mounted v20.10 client); DOCKROUTE_SECRETS=deny refuses such builds, =off hides this",
        if names.len() > 1 { "s" } else { "" },
        names.join(", "),
        if names.len() > 1 { "" } else { "s" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::args::Invocation;
    use std::ffi::OsString;

    #[test]
    fn names_are_matched_as_words() {
        for name in [
            "NPM_TOKEN",
            "GITHUB_AUTH_TOKEN",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "MY_API_KEY",
            "SSH_PRIVATE_KEY",
            "GCP_CREDENTIALS",
            "npm-token",
            "auth",
            "registry.password",
        ] {
            assert!(looks_secret(name, &[]), "{name}");
        }
        for name in [
            "AUTHOR",
            "TOKENIZER_MODEL",
            "NODE_ENV",
            "VERSION",
            "APIKEYRING",
            "PASSPORT",
            "KEY",
        ] {
            assert!(!looks_secret(name, &[]), "{name}");
        }
        assert!(looks_secret("SIGNING_CERT", &["CERT".into()]));
    }

    #[test]
    fn every_spelling_of_build_arg_is_seen_and_values_never_named() {
        let args: Vec<OsString> = [
            "build",
            "--build-arg",
            "NPM_TOKEN=abc123",
            "--build-arg=DB_PASSWORD=hunter2",
            "--build-arg",
            "GITHUB_TOKEN",
            "--build-arg",
            "AUTHOR=me",
            "--build-arg",
            "NPM_TOKEN=x",
            ".",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let call = Invocation::parse(args).build_call().unwrap();
        let names = secret_build_args(&call, &[]);
        assert_eq!(names, ["NPM_TOKEN", "DB_PASSWORD", "GITHUB_TOKEN"]);
        let w = warning(&names);
        assert!(!w.contains("abc123") && !w.contains("hunter2"));
        assert!(w.contains("--secret id=NPM_TOKEN,env=NPM_TOKEN"));
    }

    #[test]
    fn policy_values() {
        assert_eq!(Policy::parse("deny"), Some(Policy::Deny));
        assert_eq!(Policy::parse(" OFF "), Some(Policy::Off));
        assert_eq!(Policy::parse(""), Some(Policy::Warn));
        assert_eq!(Policy::parse("maybe"), None);
    }
}
