//! What this machine offers for building with BuildKit itself: the shared BuildKit of
//! `DOCKROUTE_BUILDKIT_HOST`, `BUILDKIT_HOST`, and `buildctl` / `buildctl-daemonless.sh`
//! on PATH — and whether the address a build would use answers.
//!
//! Reachability is checked only as far as needed: a unix socket or tcp address is
//! connected to (nothing is sent; TLS is left to buildctl), bounded by the daemon-probe
//! timeout; other schemes (`kube-pod://`, `docker-container://`, `ssh://`) are left to
//! buildctl, which says what is wrong itself.

use std::ffi::OsStr;
use std::time::Duration;

use crate::net::http::{self, Address, Failure};
use crate::probe::discovery;
use crate::probe::settings::Settings;
use crate::route::facts::BuildKitFacts;

/// The address a build would use: `DOCKROUTE_BUILDKIT_HOST`, else `BUILDKIT_HOST`.
#[must_use]
pub fn facts(settings: &Settings, path_var: Option<&OsStr>) -> BuildKitFacts {
    BuildKitFacts {
        remote: settings.buildkit_host.clone(),
        tls_dir: settings.buildkit_tls_dir.clone(),
        host: std::env::var("BUILDKIT_HOST")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty()),
        buildctl: discovery::find_program(path_var, "buildctl"),
        daemonless: discovery::find_program(path_var, "buildctl-daemonless.sh"),
        unreachable: None,
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
}
