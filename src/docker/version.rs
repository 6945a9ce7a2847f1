//! Parsing what a client prints for `--version`, leniently.
//!
//! Seen in the field: `Docker version 20.10.24+dfsg1, build 297e128`,
//! `Docker version 18.09.7, build 2d0083d`, `Docker version 17.03.1-ce, build c6d412e`,
//! and podman-docker's banner line before `podman version 4.6.1`. Versions with leading
//! zeros (`18.09`) are not valid semver, so the numbers are read by hand and then held as
//! [`semver::Version`]. The parser never panics (it is a fuzz target).

use semver::Version;

/// The line a dockroute copy prints when another dockroute probes it (`DOCKROUTE_PROBE=1`),
/// so that copies are recognised and never taken for a real client.
pub const DOCKROUTE_MARKER: &str = "dockroute-shim";

/// What a `--version` output says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A version, with the line it came from.
    Version(Version, String),
    /// Another dockroute answered.
    Dockroute,
    /// Nothing recognisable; the first line, shortened, for messages.
    Unrecognised(String),
}

/// Reads a version from `--version` output.
#[must_use]
pub fn parse(output: &str) -> Parsed {
    if output.lines().any(|l| l.starts_with(DOCKROUTE_MARKER)) {
        return Parsed::Dockroute;
    }
    for line in output.lines() {
        let lower = line.to_ascii_lowercase();
        let Some(at) = lower.find("version") else {
            continue;
        };
        let after = &line[at + "version".len()..];
        let token = after
            .trim_start_matches([' ', ':', '\t'])
            .trim_start_matches(['v', 'V']);
        if let Some(v) = leading_version(token) {
            return Parsed::Version(v, line.trim().to_string());
        }
    }
    let first = output.lines().next().unwrap_or("").trim();
    Parsed::Unrecognised(first.chars().take(80).collect())
}

/// `20.10.24+dfsg1, build …` → 20.10.24; `17.03.1-ce` → 17.3.1; `4.6` → 4.6.0.
fn leading_version(s: &str) -> Option<Version> {
    let mut parts = [0u64; 3];
    let mut n = 0;
    for piece in s.split('.') {
        let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || n == 3 {
            break;
        }
        parts[n] = digits.parse().ok()?;
        n += 1;
        if digits.len() != piece.len() {
            break;
        }
    }
    (n >= 2).then(|| Version::new(parts[0], parts[1], parts[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_seen_in_the_field() {
        let cases = [
            ("Docker version 20.10.24+dfsg1, build 297e128\n", (20, 10, 24)),
            ("Docker version 28.2.2, build e6534b4", (28, 2, 2)),
            ("Docker version 18.09.7, build 2d0083d", (18, 9, 7)),
            ("Docker version 17.03.1-ce, build c6d412e", (17, 3, 1)),
            (
                "Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\npodman version 4.6.1\n",
                (4, 6, 1),
            ),
            ("Docker version v24.0", (24, 0, 0)),
            ("Docker version 23.0.0-rc.1, build x", (23, 0, 0)),
        ];
        for (text, (a, b, c)) in cases {
            match parse(text) {
                Parsed::Version(v, _) => assert_eq!(v, Version::new(a, b, c), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_unrecognised_and_markers_are_dockroute() {
        assert!(matches!(parse("hello\nworld"), Parsed::Unrecognised(l) if l == "hello"));
        assert!(matches!(parse(""), Parsed::Unrecognised(_)));
        assert!(matches!(parse("version 7"), Parsed::Unrecognised(_)));
        assert!(matches!(
            parse("Version: 99999999999999999999999.1"),
            Parsed::Unrecognised(_)
        ));
        assert_eq!(parse("dockroute-shim 0.1.0\n"), Parsed::Dockroute);
    }
}
