//! The daemon endpoint the client would use for this call, resolved the way the Docker
//! CLI resolves it: `-H/--host`, `DOCKER_HOST`, `-c/--context`, `DOCKER_CONTEXT`, the
//! current context in `config.json` (its endpoint in the contexts meta store), then
//! `unix:///var/run/docker.sock`.
//!
//! Pure apart from reading the context's `meta.json`: the environment comes in as a
//! lookup function, so tests never touch the process environment.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::docker::args::Globals;

/// The default socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Where the daemon is, and how dockroute can talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket, spoken to directly.
    Unix(PathBuf),
    /// Plain TCP, spoken to directly.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port (2375 when not given).
        port: u16,
    },
    /// TLS, ssh:// or anything else: the real client is asked.
    ViaClient(String),
}

impl Endpoint {
    /// Where to speak HTTP directly; `None` for endpoints only the client can reach.
    #[must_use]
    pub fn address(&self) -> Option<crate::net::http::Address> {
        use crate::net::http::Address;
        match self {
            Endpoint::Unix(path) => Some(Address::Unix(path.clone())),
            Endpoint::Tcp { host, port } => Some(Address::Tcp {
                host: host.clone(),
                port: *port,
            }),
            Endpoint::ViaClient(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::ViaClient(url) => write!(f, "{}", crate::net::mask_url_credentials(url)),
        }
    }
}

/// Parses a `DOCKER_HOST`-style URL. `tls` forces the client route for tcp://.
#[must_use]
pub fn parse_host(url: &str, tls: bool) -> Endpoint {
    let url = url.trim();
    if let Some(path) = url.strip_prefix("unix://") {
        return Endpoint::Unix(PathBuf::from(if path.is_empty() {
            DEFAULT_SOCKET
        } else {
            path
        }));
    }
    if let Some(rest) = url.strip_prefix("tcp://") {
        if tls {
            return Endpoint::ViaClient(url.to_string());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            // Credentials in a tcp:// URL mean something in front of the daemon that
            // dockroute does not speak to itself.
            return Endpoint::ViaClient(url.to_string());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse() {
                Ok(port) => (h, port),
                Err(_) => return Endpoint::ViaClient(url.to_string()),
            },
            _ => (authority, 2375),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() { "localhost" } else { host };
        return Endpoint::Tcp {
            host: host.to_string(),
            port,
        };
    }
    Endpoint::ViaClient(url.to_string())
}

/// The host URL stored for a named context, if the meta store has it.
fn context_host(config_dir: Option<&Path>, name: &str) -> Option<String> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = config_dir?
        .join("contexts")
        .join("meta")
        .join(hex)
        .join("meta.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
    v.pointer("/Endpoints/docker/Host")?
        .as_str()
        .map(str::to_string)
}

/// Resolves the endpoint for a call with these global flags, environment and config.
pub fn resolve(
    globals: &Globals,
    env: &dyn Fn(&str) -> Option<String>,
    config_dir: Option<&Path>,
) -> Endpoint {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let tls =
        globals.is_set("tls") || globals.is_set("tlsverify") || set("DOCKER_TLS_VERIFY").is_some();
    if let Some(h) = globals.value("host") {
        return parse_host(&h.to_string_lossy(), tls);
    }
    if let Some(h) = set("DOCKER_HOST") {
        return parse_host(&h, tls);
    }
    let context = globals
        .value("context")
        .map(|c| c.to_string_lossy().into_owned())
        .or_else(|| set("DOCKER_CONTEXT"))
        .or_else(|| crate::docker::config::load(config_dir).current_context);
    if let Some(name) = context.filter(|c| c != "default") {
        return match context_host(config_dir, &name) {
            Some(h) => parse_host(&h, tls),
            None => Endpoint::ViaClient(format!("context {name}")),
        };
    }
    Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::args::Invocation;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn globals(args: &[&str]) -> Globals {
        Invocation::parse(args.iter().map(OsString::from).collect()).globals
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn precedence_flag_env_context_config_default() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path();
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(b"ci")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let meta = cfg.join("contexts/meta").join(hex);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"ci","Endpoints":{"docker":{"Host":"tcp://ctx:2375"}}}"#,
        )
        .unwrap();
        std::fs::write(cfg.join("config.json"), r#"{"currentContext":"ci"}"#).unwrap();
        let e = env(&[
            ("DOCKER_HOST", "tcp://envhost:2375"),
            ("DOCKER_CONTEXT", "default"),
        ]);
        let g = globals(&["-H", "unix:///flag.sock", "build"]);
        assert_eq!(
            resolve(&g, &e, Some(cfg)),
            Endpoint::Unix("/flag.sock".into())
        );
        let g = globals(&["build"]);
        assert_eq!(
            resolve(&g, &e, Some(cfg)),
            Endpoint::Tcp {
                host: "envhost".into(),
                port: 2375
            }
        );
        let g = globals(&["--context", "ci", "build"]);
        let none = env(&[]);
        assert_eq!(
            resolve(&g, &none, Some(cfg)),
            Endpoint::Tcp {
                host: "ctx".into(),
                port: 2375
            }
        );
        assert_eq!(
            resolve(
                &globals(&["build"]),
                &env(&[("DOCKER_CONTEXT", "ci")]),
                None
            ),
            Endpoint::ViaClient("context ci".into())
        );
        assert_eq!(
            resolve(&globals(&["build"]), &none, Some(cfg)),
            Endpoint::Tcp {
                host: "ctx".into(),
                port: 2375
            }
        );
        assert_eq!(
            resolve(
                &globals(&["build"]),
                &env(&[("DOCKER_CONTEXT", "default")]),
                Some(cfg)
            ),
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            resolve(&globals(&["build"]), &none, None),
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
    }

    #[test]
    fn host_urls() {
        assert_eq!(
            parse_host("tcp://localhost:2375", false),
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 2375
            }
        );
        assert_eq!(
            parse_host("tcp://10.0.0.1", false),
            Endpoint::Tcp {
                host: "10.0.0.1".into(),
                port: 2375
            }
        );
        assert_eq!(
            parse_host("tcp://[::1]:2376", false),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 2376
            }
        );
        assert!(matches!(
            parse_host("tcp://h:2376", true),
            Endpoint::ViaClient(_)
        ));
        assert!(matches!(
            parse_host("ssh://me@host", false),
            Endpoint::ViaClient(_)
        ));
        assert!(matches!(parse_host("fd://", false), Endpoint::ViaClient(_)));
        let creds = parse_host("tcp://u:secret@h:1", false);
        assert!(matches!(creds, Endpoint::ViaClient(_)));
        assert!(!creds.to_string().contains("secret"));
        assert_eq!(
            parse_host("unix://", false),
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
    }
}
