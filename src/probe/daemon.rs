//! Asking the daemon what it allows, with no side effect: does it let a privileged
//! container be created?
//!
//! The probe is `POST /containers/create` for an image reference that cannot exist, with
//! `HostConfig.Privileged=true`. An authorization plugin judges the request before the
//! daemon looks for the image, so: 403 `authorization denied by plugin NAME: MSG` means
//! privileged is forbidden; 404 `No such image` means it is allowed. Nothing is created
//! and nothing is pulled (`/containers/create` never pulls; only `/images/create` does).
//! A control request without `Privileged` tells "privileged forbidden" from "every create
//! forbidden". unix:// and plain tcp:// are spoken to directly (a small HTTP/1.1 exchange
//! parsed with `httparse`); TLS and ssh:// endpoints are probed through the real client.
//! Everything is bounded by the probe timeout.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::docker::endpoint::Endpoint;
use crate::guard::SelfGuard;
use crate::net::http::{self, Address, Failure, Response};
use crate::probe::spawn::{self, Capture};
use crate::route::facts::Client;

/// An image reference that cannot exist (`.invalid` is reserved by RFC 2606).
pub const PROBE_IMAGE: &str = "dockroute-probe.invalid/does-not-exist:never";
const DENIED_PREFIX: &str = "authorization denied by plugin ";

/// What the daemon said about privileged containers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// An authorization plugin denies privileged containers (and allows plain ones).
    Forbidden {
        /// The plugin's name.
        plugin: String,
        /// The daemon's whole message.
        message: String,
    },
    /// The plugin denies every container create, privileged or not.
    AllCreatesForbidden {
        /// The plugin's name.
        plugin: String,
        /// The daemon's whole message.
        message: String,
    },
    /// Privileged containers are allowed.
    Allowed,
    /// Nothing listens at the endpoint.
    NoDaemon {
        /// Why (connection refused, no socket …).
        detail: String,
    },
    /// The answer did not tell (timeout, unexpected status …).
    Unknown {
        /// What happened.
        detail: String,
    },
}

/// Splits `authorization denied by plugin NAME: MSG` into (NAME, whole message).
#[must_use]
pub fn parse_denial(message: &str) -> Option<(String, String)> {
    let at = message.find(DENIED_PREFIX)?;
    let rest = &message[at + DENIED_PREFIX.len()..];
    let plugin = rest.split(':').next()?.trim();
    if plugin.is_empty() {
        return None;
    }
    Some((plugin.to_string(), message[at..].trim().to_string()))
}

fn message_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

fn create_body(privileged: bool) -> Vec<u8> {
    serde_json::json!({ "Image": PROBE_IMAGE, "HostConfig": { "Privileged": privileged } })
        .to_string()
        .into_bytes()
}

/// Classifies one create answer (removing a container if one was ever made).
fn classify(endpoint: &Address, r: &Response, deadline: Instant) -> Verdict {
    let msg = message_of(&r.body);
    match r.status {
        403 | 401 | 500 if parse_denial(&msg).is_some() => {
            let (plugin, message) = parse_denial(&msg).unwrap_or_default();
            Verdict::Forbidden { plugin, message }
        }
        404 => Verdict::Allowed,
        201 => {
            // The impossible image exists after all: remove what was created.
            if let Some(id) = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v.get("Id").and_then(|i| i.as_str()).map(str::to_string))
            {
                let _ = http::request(
                    endpoint,
                    "DELETE",
                    &format!("/containers/{id}?force=1"),
                    b"",
                    deadline,
                );
            }
            Verdict::Allowed
        }
        s => Verdict::Unknown {
            detail: format!("the daemon answered {s}: {msg}"),
        },
    }
}

/// Probes whether the daemon allows privileged containers.
#[must_use]
pub fn probe(
    endpoint: &Endpoint,
    client: Option<&Client>,
    global_args: &[OsString],
    guard: &SelfGuard,
    timeout: Duration,
) -> Verdict {
    let Some(address) = endpoint.address() else {
        // Only a client discovery found may answer for an endpoint dockroute cannot speak
        // to itself (the spawn helper refuses any path that is not absolute).
        return match client {
            Some(c) => probe_via_client(&c.path, global_args, guard, timeout),
            None => Verdict::Unknown {
                detail: format!(
                    "{endpoint} is reached only through a docker client, and no real client was found on PATH"
                ),
            },
        };
    };
    let deadline = Instant::now() + timeout;
    let ask = |privileged: bool| match http::request(
        &address,
        "POST",
        "/containers/create",
        &create_body(privileged),
        deadline,
    ) {
        Ok(r) => classify(&address, &r, deadline),
        Err(Failure::Nobody(detail)) => Verdict::NoDaemon { detail },
        Err(Failure::NoAnswer(detail)) => Verdict::Unknown { detail },
    };
    match ask(true) {
        Verdict::Forbidden { plugin, message } => match ask(false) {
            Verdict::Forbidden { .. } => Verdict::AllCreatesForbidden { plugin, message },
            _ => Verdict::Forbidden { plugin, message },
        },
        other => other,
    }
}

/// The same question through the real client, for endpoints dockroute does not speak to
/// itself: `create --pull=never --privileged <impossible image>`.
fn probe_via_client(
    client: &Path,
    global_args: &[OsString],
    guard: &SelfGuard,
    timeout: Duration,
) -> Verdict {
    let mut cmd = Command::new(client);
    cmd.arg0(client).args(global_args).args([
        "create",
        "--pull=never",
        "--privileged",
        PROBE_IMAGE,
    ]);
    let finished = spawn::spawn(cmd, guard, Capture::Stderr, 64 * 1024, spawn::until_exit)
        .map(|r| r.finish_by(Instant::now() + timeout));
    match finished {
        Err(e) => Verdict::Unknown {
            detail: format!("could not run {}: {e}", client.display()),
        },
        Ok(None) => Verdict::Unknown {
            detail: format!(
                "the client gave no answer within {} ms",
                timeout.as_millis()
            ),
        },
        Ok(Some(f)) => classify_client_output(&String::from_utf8_lossy(&f.output)),
    }
}

/// Reads the client's stderr for the probe's answer.
#[must_use]
pub fn classify_client_output(text: &str) -> Verdict {
    if let Some((plugin, message)) = parse_denial(text) {
        let message = message.lines().next().unwrap_or_default().to_string();
        return Verdict::Forbidden { plugin, message };
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("no such image") || lower.contains("unable to find image") {
        Verdict::Allowed
    } else if lower.contains("cannot connect to the docker daemon")
        || lower.contains("connection refused")
    {
        Verdict::NoDaemon {
            detail: text.lines().next().unwrap_or_default().to_string(),
        }
    } else {
        Verdict::Unknown {
            detail: text
                .lines()
                .next()
                .unwrap_or("no output")
                .chars()
                .take(200)
                .collect(),
        }
    }
}

/// What doctor shows about the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Info {
    /// `Plugins.Authorization` of `GET /info`.
    pub authorization_plugins: Vec<String>,
    /// `ServerVersion`.
    pub server_version: Option<String>,
}

/// `GET /info`, for doctor; `None` when the endpoint is not direct or does not answer.
#[must_use]
pub fn info(endpoint: &Endpoint, timeout: Duration) -> Option<Info> {
    let r = http::request(
        &endpoint.address()?,
        "GET",
        "/info",
        b"",
        Instant::now() + timeout,
    )
    .ok()?;
    if r.status != 200 {
        return None;
    }
    // /info can be larger than the probe's cap; what doctor needs sits in the first part.
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    Some(Info {
        authorization_plugins: v
            .pointer("/Plugins/Authorization")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        server_version: v
            .get("ServerVersion")
            .and_then(|s| s.as_str())
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_name_the_plugin_and_keep_its_words() {
        let m = "authorization denied by plugin pipelines: --privileged=true is not allowed";
        assert_eq!(parse_denial(m), Some(("pipelines".into(), m.into())));
        assert_eq!(
            parse_denial("Error response from daemon: authorization denied by plugin x: Command not supported."),
            Some(("x".into(), "authorization denied by plugin x: Command not supported.".into()))
        );
        assert_eq!(parse_denial("No such image: a"), None);
        assert_eq!(parse_denial("authorization denied by plugin : x"), None);
    }

    #[test]
    fn client_output_is_classified() {
        assert!(matches!(
            classify_client_output("Error response from daemon: authorization denied by plugin pipelines: --privileged=true is not allowed\n"),
            Verdict::Forbidden { plugin, .. } if plugin == "pipelines"
        ));
        assert_eq!(
            classify_client_output("Error response from daemon: No such image: x"),
            Verdict::Allowed
        );
        assert!(matches!(
            classify_client_output(
                "Cannot connect to the Docker daemon at tcp://x. Is the docker daemon running?"
            ),
            Verdict::NoDaemon { .. }
        ));
        assert!(matches!(
            classify_client_output("weird"),
            Verdict::Unknown { .. }
        ));
    }

    /// A fake daemon on a unix socket: `answer` gets each request's bytes and returns the
    /// whole response, so one fake can answer the privileged and the control create
    /// differently, as an authorization plugin does.
    fn serve_with(
        answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> (tempfile::TempDir, Endpoint) {
        let (t, sock) = crate::net::fake_server::answering(answer);
        (t, Endpoint::Unix(sock))
    }

    /// The same answer to every request.
    fn serve(answer: &'static [u8]) -> (tempfile::TempDir, Endpoint) {
        serve_with(move |_| answer.to_vec())
    }

    fn json_answer(status: &str, message: &str) -> Vec<u8> {
        let body = format!("{{\"message\":\"{message}\"}}");
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn is_privileged(request: &[u8]) -> bool {
        String::from_utf8_lossy(request).contains("\"Privileged\":true")
    }

    #[test]
    fn a_plugin_that_denies_only_privileged_is_forbidden() {
        let (_t, ep) = serve_with(|req| {
            if is_privileged(req) {
                json_answer(
                    "403 Forbidden",
                    "authorization denied by plugin pipelines: --privileged=true is not allowed",
                )
            } else {
                json_answer("404 Not Found", "No such image: dockroute-probe.invalid")
            }
        });
        assert_eq!(
            run(&ep),
            Verdict::Forbidden {
                plugin: "pipelines".into(),
                message:
                    "authorization denied by plugin pipelines: --privileged=true is not allowed"
                        .into()
            }
        );
    }

    #[test]
    fn a_plugin_that_denies_every_create_is_told_apart() {
        let (_t, ep) = serve_with(|req| {
            let why = if is_privileged(req) {
                "--privileged=true is not allowed"
            } else {
                "Command not supported."
            };
            json_answer(
                "403 Forbidden",
                &format!("authorization denied by plugin pipelines: {why}"),
            )
        });
        assert!(
            matches!(run(&ep), Verdict::AllCreatesForbidden { plugin, message } if plugin == "pipelines" && message.ends_with("--privileged=true is not allowed"))
        );
    }

    fn run(ep: &Endpoint) -> Verdict {
        probe(
            ep,
            None,
            &[],
            &SelfGuard::default(),
            Duration::from_millis(800),
        )
    }

    /// With no discovered client, an endpoint only a client can reach is `Unknown`, and no
    /// program is looked up by name (a `./docker` in the working directory never runs).
    #[test]
    fn a_client_only_endpoint_without_a_client_runs_nothing() {
        let ep = Endpoint::ViaClient("ssh://nobody@127.0.0.1".into());
        assert!(
            matches!(run(&ep), Verdict::Unknown { detail } if detail.contains("no real client was found"))
        );
        let relative = Client {
            path: "docker".into(),
            version: None,
            problem: None,
            mounted: false,
            buildx: false,
        };
        assert!(matches!(
            probe(
                &ep,
                Some(&relative),
                &[],
                &SelfGuard::default(),
                Duration::from_millis(300)
            ),
            Verdict::Unknown { .. }
        ));
    }

    #[test]
    fn probe_against_fake_daemons() {
        let (_t, ep) = serve(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{\"message\":\"No such image\"}",
        );
        assert_eq!(run(&ep), Verdict::Allowed);
        let denial = "{\"message\":\"authorization denied by plugin pipelines: --privileged=true is not allowed\"}\n";
        let answer = format!("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{denial}", denial.len());
        let (_t, ep) = serve(Box::leak(answer.into_bytes().into_boxed_slice()));
        assert!(
            matches!(run(&ep), Verdict::AllCreatesForbidden { plugin, .. } if plugin == "pipelines")
        );
        let (_t, ep) = serve(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}");
        assert!(matches!(run(&ep), Verdict::Unknown { .. }));
        let (_t, ep) = serve(b"HTTP/1.1 404 Not");
        assert!(matches!(run(&ep), Verdict::Unknown { detail } if detail.contains("mid-response")));
        let (_t, ep) = serve(b"SSH-2.0-nope\r\n\r\n");
        assert!(matches!(run(&ep), Verdict::Unknown { .. }));
        assert!(matches!(
            run(&Endpoint::Unix("/nonexistent/d.sock".into())),
            Verdict::NoDaemon { .. }
        ));
    }

    #[test]
    fn a_silent_daemon_costs_at_most_the_timeout() {
        let (_t, sock) = crate::net::fake_server::silent();
        let start = Instant::now();
        assert!(matches!(
            run(&Endpoint::Unix(sock)),
            Verdict::Unknown { .. }
        ));
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
    }
}
