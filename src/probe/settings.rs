//! dockroute's own settings: every `DOCKROUTE_*` variable a user may set, read once from
//! the environment into one [`Settings`] value, with the defaults as constants.
//!
//! Invariants:
//! - An unset or unparsable value means the default, never an error — a typo in a CI
//!   variable must not break every `docker` call — and every unparsable value yields one
//!   [`BadValue`], printed with the same wording by the shim (a notice) and by `doctor`.
//! - [`TABLE`] is the one description of the variables: the man page's ENVIRONMENT
//!   section, `doctor`'s settings and the README's table all follow it.
//! - Three variables are read before any of this can run and stay where they are read:
//!   `DOCKROUTE_FORCE_ARG0` (the personality, in `lib.rs`), `DOCKROUTE_LOG` (the logger,
//!   in `output::logging`) and `DOCKROUTE_QUIET` (in `output`, which every message passes).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::route::facts::Runtime;
use crate::route::mode::Mode;
use crate::route::secrets::{Guard, Policy};

/// Default bound on each client's `--version` probe.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(3000);
/// Default bound on the daemon probe (and on a BuildKit reachability check).
pub const DEFAULT_DAEMON_TIMEOUT: Duration = Duration::from_millis(1500);
/// Default lifetime of a cached daemon verdict.
pub const DEFAULT_DAEMON_TTL: Duration = Duration::from_secs(600);

/// One variable: its name, its default as shown to people, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The variable's name.
    pub name: &'static str,
    /// The default, as shown in doctor ("auto", "3000" …); empty for "unset".
    pub default: &'static str,
    /// Values and effect, one sentence (the man page's text).
    pub help: &'static str,
    /// Set by dockroute itself in its children, not by users.
    pub internal: bool,
}

const fn user(name: &'static str, default: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default,
        help,
        internal: false,
    }
}

const fn internal(name: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default: "",
        help,
        internal: true,
    }
}

/// Every variable dockroute reads, users' first.
pub const TABLE: &[Setting] = &[
    user("DOCKROUTE_MODE", "auto", "auto, pass, mounted, legacy, buildx, daemonless or remote: force a route for builds and compose; pass turns routing off."),
    user("DOCKROUTE_RUNTIME", "probe the daemon", "restricted (or v2), v3 or open: skip the daemon probe and take this runtime as given (pin it in a CI image that only ever runs on one)."),
    user("DOCKROUTE_BUILDKIT_HOST", "", "A BuildKit address (unix://, tcp://, kube-pod://, docker-container:// …), or several separated by commas: build every build-like call there, on any runtime (one node per build, chosen by a stable hash of its context and Dockerfile; a node that does not answer is skipped); with a daemon the image is loaded into it unless the call pushes or exports."),
    user("DOCKROUTE_BUILDKIT_TLS_DIR", "", "Directory holding ca.pem, cert.pem and key.pem for tcp:// BuildKits with mutual TLS (the layout of DOCKER_CERT_PATH); not used for unix:// addresses."),
    user("DOCKROUTE_QUIET", "off", "1: hide the reroute line and notices (errors still print)."),
    user("DOCKROUTE_LOG", "off", "A tracing filter (debug, trace, dockroute=debug ...): diagnostics on stderr, redacted like everything else."),
    user("DOCKROUTE_SECRETS", "warn", "warn, deny or off: what to do about secret-looking --build-arg names."),
    user("DOCKROUTE_SECRET_WORDS", "none", "Comma-separated extra words that make a --build-arg name secret-looking."),
    user("DOCKROUTE_PROBE_TIMEOUT_MS", "3000", "Bound on each client's --version probe, in milliseconds."),
    user("DOCKROUTE_DAEMON_TIMEOUT_MS", "1500", "Bound on the daemon probe and on a BuildKit reachability check, in milliseconds."),
    user("DOCKROUTE_DAEMON_TTL_S", "600", "How long a daemon verdict is cached, per endpoint, in seconds (0 disables)."),
    user("DOCKROUTE_CACHE_DIR", "$XDG_CACHE_HOME/dockroute or ~/.cache/dockroute", "Cache directory, absolute."),
    user("DOCKROUTE_FORCE_ARG0", "", "docker or dockroute: pick the personality without a link (tests)."),
    internal("DOCKROUTE_GUARD", "Set by dockroute in every child (the dockroute files a call passed through, so none is run as a real client); not for users."),
    internal("DOCKROUTE_HOPS", "Set by dockroute in every child (the hop counter that stops wrappers calling each other); not for users."),
    internal("DOCKROUTE_PROBE", "Set by dockroute when it runs a candidate's --version, so another dockroute answers as itself; not for users."),
];

/// A value that was not understood, and what is used instead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadValue {
    /// The variable.
    pub name: &'static str,
    /// The value as set (dockroute's own settings are never secrets).
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
    /// What is used instead.
    pub using: String,
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}={:?} is not {}; using {}",
            self.name, self.value, self.expected, self.using
        )
    }
}

/// Every user setting, parsed.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `DOCKROUTE_MODE`.
    pub mode: Mode,
    /// `DOCKROUTE_RUNTIME`: the runtime taken as given, when pinned.
    pub runtime: Option<Runtime>,
    /// `DOCKROUTE_BUILDKIT_HOST`.
    pub buildkit_host: Option<String>,
    /// `DOCKROUTE_BUILDKIT_TLS_DIR`.
    pub buildkit_tls_dir: Option<PathBuf>,
    /// `DOCKROUTE_SECRETS` and `DOCKROUTE_SECRET_WORDS`.
    pub secrets: Guard,
    /// `DOCKROUTE_PROBE_TIMEOUT_MS`.
    pub probe_timeout: Duration,
    /// `DOCKROUTE_DAEMON_TIMEOUT_MS`.
    pub daemon_timeout: Duration,
    /// `DOCKROUTE_DAEMON_TTL_S`.
    pub daemon_ttl: Duration,
    /// `DOCKROUTE_CACHE_DIR` when set (validated by the cache).
    pub cache_dir: Option<PathBuf>,
    /// Values not understood.
    pub bad: Vec<BadValue>,
    /// Each user variable with its value as set, or `None` when unset (for doctor).
    pub raw: Vec<(&'static str, Option<String>)>,
}

impl Settings {
    /// Reads every setting from the process environment.
    #[must_use]
    pub fn from_env() -> Settings {
        Settings::read(&|k| std::env::var_os(k))
    }

    /// Reads every setting through `lookup` (the environment, or a table in tests).
    #[must_use]
    pub fn read(lookup: &dyn Fn(&str) -> Option<OsString>) -> Settings {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.to_string_lossy().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut bad = Vec::new();
        let mut complain =
            |name: &'static str, value: &str, expected: &'static str, using: &str| {
                bad.push(BadValue {
                    name,
                    value: value.to_string(),
                    expected,
                    using: using.to_string(),
                });
            };
        let mode = match get("DOCKROUTE_MODE") {
            None => Mode::Auto,
            Some(v) => Mode::parse(&v).unwrap_or_else(|| {
                complain(
                    "DOCKROUTE_MODE",
                    &v,
                    "one of auto, pass, mounted, legacy, buildx, daemonless, remote",
                    "auto",
                );
                Mode::Auto
            }),
        };
        let runtime = get("DOCKROUTE_RUNTIME").and_then(|v| {
            let why = format!("DOCKROUTE_RUNTIME={v}");
            match v.to_ascii_lowercase().as_str() {
                "restricted" | "v2" => Some(Runtime::Restricted { why }),
                "v3" => Some(Runtime::V3 { why }),
                "open" => Some(Runtime::Open { why }),
                _ => {
                    complain(
                        "DOCKROUTE_RUNTIME",
                        &v,
                        "one of restricted, v2, v3, open",
                        "the daemon probe",
                    );
                    None
                }
            }
        });
        let policy = match get("DOCKROUTE_SECRETS") {
            None => Policy::Warn,
            Some(v) => Policy::parse(&v).unwrap_or_else(|| {
                complain("DOCKROUTE_SECRETS", &v, "one of warn, deny, off", "warn");
                Policy::Warn
            }),
        };
        let extra_words = get("DOCKROUTE_SECRET_WORDS")
            .map(|v| {
                v.split(',')
                    .map(|w| w.trim().to_ascii_uppercase())
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        // A list that names no address ("," or " , ") is no shared BuildKit at all.
        let buildkit_host = get("DOCKROUTE_BUILDKIT_HOST").filter(|v| {
            let names_one = !crate::route::nodes::parse_list(v).is_empty();
            if !names_one {
                complain(
                    "DOCKROUTE_BUILDKIT_HOST",
                    v,
                    "a BuildKit address or a comma-separated list of them",
                    "no shared BuildKit",
                );
            }
            names_one
        });
        let mut number = |name: &'static str, default: u64| match get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                complain(name, &v, "a whole number", &default.to_string());
                default
            }),
        };
        let ms = |n: u64| Duration::from_millis(n);
        let probe_timeout = ms(number(
            "DOCKROUTE_PROBE_TIMEOUT_MS",
            millis(DEFAULT_PROBE_TIMEOUT),
        ));
        let daemon_timeout = ms(number(
            "DOCKROUTE_DAEMON_TIMEOUT_MS",
            millis(DEFAULT_DAEMON_TIMEOUT),
        ));
        let daemon_ttl = Duration::from_secs(number(
            "DOCKROUTE_DAEMON_TTL_S",
            DEFAULT_DAEMON_TTL.as_secs(),
        ));
        let path = |name: &str| get(name).map(PathBuf::from);
        // A relative cache directory would follow the working directory (a checkout):
        // it is not used, and that is said like any other value not understood.
        let cache_dir = match path("DOCKROUTE_CACHE_DIR") {
            Some(d) if !d.is_absolute() => {
                complain(
                    "DOCKROUTE_CACHE_DIR",
                    &d.to_string_lossy(),
                    "an absolute path",
                    "the default ($XDG_CACHE_HOME/dockroute or ~/.cache/dockroute)",
                );
                None
            }
            other => other,
        };
        let raw = TABLE
            .iter()
            .filter(|s| !s.internal)
            .map(|s| (s.name, get(s.name)))
            .collect();
        Settings {
            mode,
            runtime,
            buildkit_host,
            buildkit_tls_dir: path("DOCKROUTE_BUILDKIT_TLS_DIR"),
            secrets: Guard {
                policy,
                extra_words,
            },
            probe_timeout,
            daemon_timeout,
            daemon_ttl,
            cache_dir,
            bad,
            raw,
        }
    }
}

impl Settings {
    /// Each user variable, in the table's order, with the value dockroute uses: the value
    /// as set when it was understood, the default when unset, and for a value not
    /// understood what is used instead, followed by the rejected value (doctor's
    /// settings).
    #[must_use]
    pub fn shown(&self) -> Vec<(&'static str, String)> {
        TABLE
            .iter()
            .filter(|s| !s.internal)
            .map(|s| {
                let set = self
                    .raw
                    .iter()
                    .find(|(n, _)| *n == s.name)
                    .and_then(|(_, v)| v.as_deref());
                let default = || {
                    if s.default.is_empty() {
                        "unset".to_string()
                    } else {
                        format!("{} (default)", s.default)
                    }
                };
                let shown = match (self.bad.iter().find(|b| b.name == s.name), set) {
                    (Some(bad), _) => format!(
                        "{} ({:?} rejected: not {})",
                        bad.using, bad.value, bad.expected
                    ),
                    (None, Some(v)) => v.to_string(),
                    (None, None) => default(),
                };
                (s.name, shown)
            })
            .collect()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's Configuration table lists every user variable of [`TABLE`] in its
    /// order, and only those: the README says it follows this table.
    #[test]
    fn the_readme_table_follows_the_settings_table() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a Configuration section");
        let first_table: Vec<&str> = section
            .lines()
            .skip_while(|l| !l.starts_with("| variable"))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let names: Vec<&str> = TABLE
            .iter()
            .filter(|s| !s.internal)
            .map(|s| s.name)
            .collect();
        assert_eq!(first_table, names, "README's table, in TABLE's order");
        // The variables dockroute sets for itself are named in the prose after it.
        for internal in TABLE.iter().filter(|s| s.internal) {
            assert!(
                section.contains(&format!("`{}`", internal.name)),
                "{}",
                internal.name
            );
        }
    }

    fn read(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Settings::read(&move |k| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults_when_unset() {
        let s = read(&[]);
        assert_eq!(s.mode, Mode::Auto);
        assert_eq!(s.runtime, None);
        assert_eq!(s.probe_timeout, DEFAULT_PROBE_TIMEOUT);
        assert_eq!(s.daemon_timeout, DEFAULT_DAEMON_TIMEOUT);
        assert_eq!(s.daemon_ttl, DEFAULT_DAEMON_TTL);
        assert_eq!(s.secrets.policy, Policy::Warn);
        assert!(s.bad.is_empty());
        assert!(s.raw.iter().all(|(_, v)| v.is_none()));
    }

    #[test]
    fn a_relative_cache_dir_is_not_used_and_is_said() {
        let s = read(&[("DOCKROUTE_CACHE_DIR", "cache")]);
        assert_eq!(s.cache_dir, None);
        assert_eq!(s.bad.len(), 1);
        let said = s.bad[0].to_string();
        assert!(
            said.starts_with(
                "DOCKROUTE_CACHE_DIR=\"cache\" is not an absolute path; using the default"
            ),
            "{said}"
        );
        let s = read(&[("DOCKROUTE_CACHE_DIR", "/var/cache/dr")]);
        assert_eq!(s.cache_dir, Some(PathBuf::from("/var/cache/dr")));
        assert!(s.bad.is_empty());
    }

    #[test]
    fn values_are_parsed() {
        let s = read(&[
            ("DOCKROUTE_MODE", "Remote"),
            ("DOCKROUTE_RUNTIME", "v2"),
            ("DOCKROUTE_PROBE_TIMEOUT_MS", " 700 "),
            ("DOCKROUTE_DAEMON_TTL_S", "0"),
            ("DOCKROUTE_SECRETS", "deny"),
            ("DOCKROUTE_SECRET_WORDS", "npmrc, pin"),
            ("DOCKROUTE_BUILDKIT_HOST", "tcp://bk:1234"),
        ]);
        assert_eq!(s.mode, Mode::Force(crate::route::mode::Route::Remote));
        assert!(matches!(s.runtime, Some(Runtime::Restricted { .. })));
        assert_eq!(s.probe_timeout, Duration::from_millis(700));
        assert_eq!(s.daemon_ttl, Duration::ZERO);
        assert_eq!(s.secrets.policy, Policy::Deny);
        assert_eq!(s.secrets.extra_words, vec!["NPMRC", "PIN"]);
        assert_eq!(s.buildkit_host.as_deref(), Some("tcp://bk:1234"));
        assert!(s.bad.is_empty());
    }

    #[test]
    fn every_bad_value_is_reported_once_with_the_same_wording() {
        let s = read(&[
            ("DOCKROUTE_MODE", "fast"),
            ("DOCKROUTE_RUNTIME", "v4"),
            ("DOCKROUTE_SECRETS", "maybe"),
            ("DOCKROUTE_PROBE_TIMEOUT_MS", "3s"),
            ("DOCKROUTE_DAEMON_TIMEOUT_MS", "-1"),
            ("DOCKROUTE_DAEMON_TTL_S", "ten"),
        ]);
        let lines: Vec<String> = s.bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "DOCKROUTE_MODE=\"fast\" is not one of auto, pass, mounted, legacy, buildx, daemonless, remote; using auto",
                "DOCKROUTE_RUNTIME=\"v4\" is not one of restricted, v2, v3, open; using the daemon probe",
                "DOCKROUTE_SECRETS=\"maybe\" is not one of warn, deny, off; using warn",
                "DOCKROUTE_PROBE_TIMEOUT_MS=\"3s\" is not a whole number; using 3000",
                "DOCKROUTE_DAEMON_TIMEOUT_MS=\"-1\" is not a whole number; using 1500",
                "DOCKROUTE_DAEMON_TTL_S=\"ten\" is not a whole number; using 600",
            ]
        );
        assert_eq!(s.mode, Mode::Auto);
        assert_eq!(s.runtime, None);
        assert_eq!(s.probe_timeout, DEFAULT_PROBE_TIMEOUT);
    }

    #[test]
    fn shown_values_are_the_ones_used() {
        let s = read(&[
            ("DOCKROUTE_MODE", "fast"),
            ("DOCKROUTE_PROBE_TIMEOUT_MS", " 700 "),
            ("DOCKROUTE_DAEMON_TTL_S", "ten"),
            ("DOCKROUTE_CACHE_DIR", "cache"),
            ("DOCKROUTE_RUNTIME", "v4"),
        ]);
        let shown = s.shown();
        let of = |name: &str| {
            shown
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            of("DOCKROUTE_MODE"),
            "auto (\"fast\" rejected: not one of auto, pass, mounted, legacy, buildx, daemonless, remote)"
        );
        assert_eq!(of("DOCKROUTE_PROBE_TIMEOUT_MS"), "700");
        assert_eq!(
            of("DOCKROUTE_DAEMON_TTL_S"),
            "600 (\"ten\" rejected: not a whole number)"
        );
        assert_eq!(
            of("DOCKROUTE_CACHE_DIR"),
            "the default ($XDG_CACHE_HOME/dockroute or ~/.cache/dockroute) (\"cache\" rejected: not an absolute path)"
        );
        assert_eq!(
            of("DOCKROUTE_RUNTIME"),
            "the daemon probe (\"v4\" rejected: not one of restricted, v2, v3, open)"
        );
        assert_eq!(of("DOCKROUTE_SECRETS"), "warn (default)");
        assert_eq!(of("DOCKROUTE_BUILDKIT_HOST"), "unset");
        assert_eq!(shown.len(), TABLE.iter().filter(|s| !s.internal).count());
    }

    #[test]
    fn a_node_list_is_kept_as_set_and_one_naming_nothing_is_said() {
        let s = read(&[(
            "DOCKROUTE_BUILDKIT_HOST",
            " tcp://bk-0:1234, tcp://bk-1:1234 ",
        )]);
        assert_eq!(
            s.buildkit_host.as_deref(),
            Some("tcp://bk-0:1234, tcp://bk-1:1234")
        );
        assert!(s.bad.is_empty());
        let s = read(&[("DOCKROUTE_BUILDKIT_HOST", " , ,")]);
        assert_eq!(s.buildkit_host, None);
        let lines: Vec<String> = s.bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            ["DOCKROUTE_BUILDKIT_HOST=\", ,\" is not a BuildKit address or a comma-separated list of them; using no shared BuildKit"]
        );
    }

    #[test]
    fn the_table_names_each_variable_once() {
        for (i, s) in TABLE.iter().enumerate() {
            assert!(s.name.starts_with("DOCKROUTE_"));
            assert!(
                !TABLE[i + 1..].iter().any(|t| t.name == s.name),
                "{}",
                s.name
            );
        }
    }
}
