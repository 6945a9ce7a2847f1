//! Registry addresses as `docker login`/`logout` name them: the key credentials are
//! stored under, the keys a logout erases, and whether dockroute can check credentials
//! with the registry itself (plain HTTP only).
//!
//! The rules follow the docker CLI (docker/cli, `cli/command/registry/login.go`,
//! `logout.go`, `cli/config/credentials/file_store.go` `ConvertToHostname`, and
//! `internal/registry/config.go` for the loopback registries docker treats as insecure):
//! - no server, `docker.io`, or `https://index.docker.io/v1/` itself is Docker Hub, stored
//!   under `https://index.docker.io/v1/`;
//! - anything else is stored under its host name (and port): a scheme, user info and
//!   path are dropped (`https://r.example:5000/v2/` → `r.example:5000`).
//!
//! Pure: no I/O.

/// The key Docker Hub's credentials are stored under (docker's `IndexServer`).
pub(crate) const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// The name `docker login` also takes for Docker Hub (docker's `DefaultNamespace`).
pub(crate) const DEFAULT_NAMESPACE: &str = "docker.io";

/// The `auths` key `docker login [SERVER]` stores credentials under.
#[must_use]
pub(crate) fn login_key(server: Option<&str>) -> String {
    match server {
        None | Some("" | DEFAULT_NAMESPACE | INDEX_SERVER) => INDEX_SERVER.to_string(),
        Some(s) => to_hostname(s),
    }
}

/// What `docker logout [SERVER]` prints and erases: the host name it names, and every
/// key it tries (the address as typed, the host, and the host with either scheme, for
/// entries older CLIs stored that way). No server is Docker Hub, and only its key.
#[must_use]
pub(crate) fn logout_keys(server: Option<&str>) -> (String, Vec<String>) {
    match server {
        None | Some("") => (INDEX_SERVER.to_string(), vec![INDEX_SERVER.to_string()]),
        Some(s) => {
            let host = to_hostname(s);
            let mut keys = vec![s.to_string()];
            for k in [
                host.clone(),
                format!("http://{host}"),
                format!("https://{host}"),
            ] {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            (host, keys)
        }
    }
}

/// docker's `ConvertToHostname`: with a `scheme://`, the URL's host and port (user info
/// and path dropped); without one, everything before the first `/`.
#[must_use]
pub(crate) fn to_hostname(address: &str) -> String {
    if let Some((_, after)) = address.split_once("://") {
        let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_host_port(hostport);
        if !host.is_empty() {
            return match port {
                Some(p) if host.contains(':') => format!("[{host}]:{p}"),
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            };
        }
    }
    address.split('/').next().unwrap_or_default().to_string()
}

/// `host[:port]` or `[v6][:port]` → (host without brackets, port when there is one).
pub(crate) fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(rest) = hostport.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').filter(|p| !p.is_empty())),
            None => ("", None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host, Some(port).filter(|p| !p.is_empty())),
        None => (hostport, None),
    }
}

/// Where dockroute can check credentials itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Over plain HTTP: the server was given as `http://…`, or it is a loopback address
    /// (`localhost`, `127.0.0.0/8`, `::1`), which docker also allows without TLS.
    PlainHttp {
        /// Host name or IP literal (no brackets).
        host: String,
        /// Port (80 when none is given).
        port: u16,
    },
    /// Only over HTTPS, which dockroute does not speak: the credentials are stored
    /// unchecked, and saying so is up to the caller.
    HttpsOnly {
        /// The host the check would go to.
        host: String,
    },
}

/// How the credentials for `server` (as typed; `None` is Docker Hub) can be checked.
#[must_use]
pub(crate) fn check(server: Option<&str>) -> Check {
    let Some(s) = server.filter(|s| !s.is_empty() && *s != DEFAULT_NAMESPACE && *s != INDEX_SERVER)
    else {
        return Check::HttpsOnly {
            host: "registry-1.docker.io".into(),
        };
    };
    let plain = s.starts_with("http://");
    let hostport = to_hostname(s);
    let (host, port) = split_host_port(&hostport);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match port.map_or(Some(80), |p| p.parse().ok()) {
        Some(port) if plain || loopback => Check::PlainHttp {
            host: host.to_string(),
            port,
        },
        _ => Check::HttpsOnly {
            host: host.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_under_the_index_key_everything_else_by_host() {
        for hub in [None, Some(""), Some("docker.io"), Some(INDEX_SERVER)] {
            assert_eq!(login_key(hub), INDEX_SERVER, "{hub:?}");
        }
        for (given, key) in [
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://r.example:5000/", "r.example:5000"),
            ("http://r.example/v2/", "r.example"),
            ("https://user@r.example:443/x", "r.example:443"),
            ("r.example/some/path", "r.example"),
            ("ghcr.io", "ghcr.io"),
            ("index.docker.io", "index.docker.io"),
            ("https://[::1]:5000/", "[::1]:5000"),
            ("https://[::1]/", "::1"),
        ] {
            assert_eq!(login_key(Some(given)), key, "{given}");
        }
    }

    #[test]
    fn logout_tries_every_form_a_cli_may_have_stored() {
        assert_eq!(
            logout_keys(None),
            (INDEX_SERVER.to_string(), vec![INDEX_SERVER.to_string()])
        );
        let (host, keys) = logout_keys(Some("https://r.example:5000/"));
        assert_eq!(host, "r.example:5000");
        assert_eq!(
            keys,
            [
                "https://r.example:5000/",
                "r.example:5000",
                "http://r.example:5000",
                "https://r.example:5000"
            ]
        );
        assert_eq!(logout_keys(Some("r.example")).1.len(), 3);
    }

    #[test]
    fn plain_http_only_when_asked_for_or_on_loopback() {
        let plain = |host: &str, port| Check::PlainHttp {
            host: host.into(),
            port,
        };
        assert_eq!(check(Some("127.0.0.1:5000")), plain("127.0.0.1", 5000));
        assert_eq!(check(Some("localhost:5000")), plain("localhost", 5000));
        assert_eq!(check(Some("http://[::1]:5000/")), plain("::1", 5000));
        assert_eq!(check(Some("http://r.example")), plain("r.example", 80));
        assert_eq!(
            check(Some("r.example:5000")),
            Check::HttpsOnly {
                host: "r.example".into()
            }
        );
        assert!(matches!(check(None), Check::HttpsOnly { .. }));
        assert!(matches!(check(Some("docker.io")), Check::HttpsOnly { .. }));
        assert!(matches!(
            check(Some("127.0.0.1:notaport")),
            Check::HttpsOnly { .. }
        ));
    }
}
