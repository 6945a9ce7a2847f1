//! What this machine offers for building with BuildKit itself: the shared BuildKit of
//! `DOCKROUTE_BUILDKIT_HOST`, `BUILDKIT_HOST`, and `buildctl` / `buildctl-daemonless.sh`
//! on PATH — and whether the address a build would use answers.
//!
//! Reachability is checked only as far as needed: a unix socket or tcp address is
//! connected to (nothing is sent; TLS is left to buildctl), bounded by the daemon-probe
//! timeout; other schemes (`kube-pod://`, `docker-container://`, `ssh://`) are left to
//! buildctl, which says what is wrong itself.
//!
//! With a list of nodes the probe checks them in the build's order
//! ([`crate::route::nodes::order`]) and stops at the first that answers; `doctor` checks
//! every node, at once.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use crate::docker::args::BuildCall;
use crate::docker::dockerfile;
use crate::net::http::{self, Address, Failure};
use crate::probe::discovery;
use crate::probe::settings::Settings;
use crate::route::facts::BuildKitFacts;
use crate::route::nodes::{self, Affinity, NodeCheck};

/// The address a build would use: `DOCKROUTE_BUILDKIT_HOST`, else `BUILDKIT_HOST`.
#[must_use]
pub fn facts(settings: &Settings, path_var: Option<&OsStr>) -> BuildKitFacts {
    BuildKitFacts {
        remote: settings.buildkit_host.clone(),
        tls_dir: settings.buildkit_tls_dir.clone(),
        // A value that names no address (",") is no address at all.
        host: std::env::var("BUILDKIT_HOST")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !nodes::parse_list(h).is_empty()),
        buildctl: discovery::find_program(path_var, "buildctl"),
        daemonless: discovery::find_program(path_var, "buildctl-daemonless.sh"),
        unreachable: None,
        affinity: None,
        checks: Vec::new(),
    }
}

/// What a build is recognised by when its node is chosen: its context directory and its
/// Dockerfile as the docker CLI finds them from `cwd`, each canonical (symlinks
/// resolved, so one project reached by two paths is one project); a Dockerfile that does
/// not exist keeps its absolute path. `None` when the context is not a local directory.
#[must_use]
pub fn affinity(call: &BuildCall, args: &[OsString], cwd: &Path) -> Option<Affinity> {
    let context = match call.positional[..] {
        [i] => cwd.join(args.get(i)?),
        _ => return None,
    };
    let context = context.canonicalize().ok().filter(|c| c.is_dir())?;
    let dockerfile = match dockerfile::locate(call, args, cwd) {
        dockerfile::Location::File(f) => Some(f.canonicalize().unwrap_or(f)),
        dockerfile::Location::NotLocal => None,
    };
    Some(Affinity {
        context,
        dockerfile,
    })
}

/// Checks `ordered` nodes: one after another until one answers, or (`all`) every node at
/// once, each bounded by `timeout`. The checks come back in order.
#[must_use]
pub(crate) fn check(ordered: &[&str], timeout: Duration, all: bool) -> Vec<NodeCheck> {
    let one = |a: &str| NodeCheck {
        address: a.to_string(),
        unreachable: unreachable(a, timeout),
    };
    if all && ordered.len() > 1 {
        return std::thread::scope(|s| {
            let running: Vec<_> = ordered.iter().map(|a| s.spawn(move || one(a))).collect();
            running
                .into_iter()
                .zip(ordered)
                .map(|(h, a)| {
                    h.join().unwrap_or_else(|_| NodeCheck {
                        address: (*a).to_string(),
                        unreachable: Some("the check failed".into()),
                    })
                })
                .collect()
        });
    }
    let mut checks = Vec::new();
    for a in ordered {
        let c = one(a);
        let answered = c.unreachable.is_none();
        checks.push(c);
        if answered {
            break;
        }
    }
    checks
}

/// Why no node answers, when none of `checks` does: the one node's reason, or each node
/// with its reason. `None` when one answers (or none was checked).
#[must_use]
pub(crate) fn none_answers(checks: &[NodeCheck]) -> Option<String> {
    let dead: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| Some((c.address.as_str(), c.unreachable.as_deref()?)))
        .collect::<Option<_>>()?;
    match dead.as_slice() {
        [] => None,
        [(_, why)] => Some((*why).to_string()),
        many => Some(format!(
            "no node answers: {}",
            many.iter()
                .map(|(a, w)| format!("{a} ({w})"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// Where to connect for a BuildKit address, when it is one dockroute can check itself.
#[must_use]
pub fn address(addr: &str) -> Option<Address> {
    if let Some(path) = addr.strip_prefix("unix://") {
        return Some(Address::Unix(path.into()));
    }
    let rest = addr.strip_prefix("tcp://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(Address::Tcp {
        host: host.to_string(),
        port: port.parse().ok()?,
    })
}

/// Why nothing answers at `addr`, or `None` when something does (or it cannot be told
/// without buildctl).
#[must_use]
pub fn unreachable(addr: &str, timeout: Duration) -> Option<String> {
    let a = address(addr)?;
    match http::reachable(&a, timeout) {
        Ok(()) => None,
        Err(Failure::Nobody(why) | Failure::NoAnswer(why)) => Some(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_dockroute_can_check() {
        assert_eq!(
            address("unix:///run/buildkit/buildkitd.sock"),
            Some(Address::Unix("/run/buildkit/buildkitd.sock".into()))
        );
        assert_eq!(
            address("tcp://buildkitd.ci:1234"),
            Some(Address::Tcp {
                host: "buildkitd.ci".into(),
                port: 1234
            })
        );
        assert_eq!(
            address("tcp://[::1]:1234"),
            Some(Address::Tcp {
                host: "::1".into(),
                port: 1234
            })
        );
        assert_eq!(address("kube-pod://buildkitd-0"), None);
        assert_eq!(address("docker-container://buildkitd"), None);
        assert_eq!(address("tcp://nohost"), None);
    }

    #[test]
    fn a_missing_socket_is_unreachable_and_a_listening_one_is_not() {
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("bk.sock");
        let addr = format!("unix://{}", sock.display());
        assert!(unreachable(&addr, Duration::from_millis(300)).is_some());
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(unreachable(&addr, Duration::from_millis(300)), None);
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert_eq!(
            unreachable(
                &format!("tcp://127.0.0.1:{port}"),
                Duration::from_millis(300)
            ),
            None
        );
        // (A port just freed is not asserted closed: a parallel test may take it.)
        drop(tcp);
    }

    #[test]
    fn nodes_are_checked_in_order_until_one_answers() {
        let t = tempfile::tempdir().unwrap();
        let addr = |n: &str| format!("unix://{}", t.path().join(n).display());
        let (dead1, live, dead2) = (addr("dead1.sock"), addr("live.sock"), addr("dead2.sock"));
        let _l = std::os::unix::net::UnixListener::bind(t.path().join("live.sock")).unwrap();
        let ms = Duration::from_millis(300);
        let order = [dead1.as_str(), live.as_str(), dead2.as_str()];
        let checks = check(&order, ms, false);
        let seen: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.address.as_str(), c.unreachable.is_none()))
            .collect();
        assert_eq!(seen, [(dead1.as_str(), false), (live.as_str(), true)]);
        assert_eq!(none_answers(&checks), None);
        // doctor: every node, in order.
        let checks = check(&order, ms, true);
        let seen: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.address.as_str(), c.unreachable.is_none()))
            .collect();
        assert_eq!(
            seen,
            [
                (dead1.as_str(), false),
                (live.as_str(), true),
                (dead2.as_str(), false)
            ]
        );
        // None answers: one reason, or each node's.
        let one = check(&[dead1.as_str()], ms, false);
        assert_eq!(none_answers(&one), one[0].unreachable.clone());
        let both = check(&[dead1.as_str(), dead2.as_str()], ms, false);
        let said = none_answers(&both).unwrap();
        assert!(
            said.starts_with(&format!("no node answers: {dead1} (")),
            "{said}"
        );
        assert!(said.contains(&format!("; {dead2} (")), "{said}");
        assert_eq!(none_answers(&[]), None);
    }

    #[test]
    fn the_affinity_is_the_canonical_context_and_dockerfile() {
        use crate::docker::args::Invocation;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("app/sub")).unwrap();
        std::fs::write(root.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        std::os::unix::fs::symlink(root.join("app"), root.join("link")).unwrap();
        let of = |args: &[&str], cwd: &Path| {
            let inv = Invocation::parse(args.iter().map(OsString::from).collect());
            affinity(&inv.build_call().unwrap(), &inv.args, cwd)
        };
        let want = Some(Affinity {
            context: root.join("app"),
            dockerfile: Some(root.join("app/Dockerfile")),
        });
        assert_eq!(of(&["build", "."], &root.join("app")), want);
        assert_eq!(of(&["build", "app"], &root), want);
        // One project reached through a symlink is the same project.
        assert_eq!(of(&["build", "link"], &root), want);
        assert_eq!(of(&["build", "-t", "x", ".."], &root.join("app/sub")), want);
        // -f is relative to the working directory; a missing one keeps its path.
        assert_eq!(
            of(&["build", "-f", "app/Other.Dockerfile", "app"], &root),
            Some(Affinity {
                context: root.join("app"),
                dockerfile: Some(root.join("app/Other.Dockerfile")),
            })
        );
        assert_eq!(
            of(&["build", "-f", "-", "app"], &root).map(|a| a.dockerfile),
            Some(None)
        );
        // Not a local build: no affinity.
        assert_eq!(of(&["build", "-"], &root), None);
        assert_eq!(of(&["build", "https://example.com/x.git"], &root), None);
        assert_eq!(of(&["build", "missing"], &root), None);
        assert_eq!(of(&["build"], &root), None);
    }
}
