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
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker::endpoint::Endpoint;
use crate::guard::SelfGuard;

/// An image reference that cannot exist (`.invalid` is reserved by RFC 2606).
pub const PROBE_IMAGE: &str = "dockroute-probe.invalid/does-not-exist:never";
/// Default bound on the whole probe.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);
const MAX_BODY: usize = 64 * 1024;
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

/// The `/probe` timeout: `DOCKROUTE_DAEMON_TIMEOUT_MS`, else [`DEFAULT_TIMEOUT`].
#[must_use]
pub fn timeout_from_env() -> Duration {
    crate::probe::settings::millis("DOCKROUTE_DAEMON_TIMEOUT_MS", DEFAULT_TIMEOUT)
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body, de-chunked.
    pub body: Vec<u8>,
}

/// Why bytes are not (yet) a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed.
    Incomplete,
    /// Not HTTP, or not one dockroute accepts.
    Invalid(String),
}

/// Parses a complete HTTP/1.1 response (the connection has ended). Panic-free: a fuzz
/// target.
pub fn parse_response(bytes: &[u8]) -> Result<Response, ParseError> {
    parse(bytes, true)
}

fn parse(bytes: &[u8], eof: bool) -> Result<Response, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let head = match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(ParseError::Incomplete),
        Err(e) => return Err(ParseError::Invalid(e.to_string())),
    };
    let status = r
        .code
        .ok_or_else(|| ParseError::Invalid("no status".into()))?;
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let rest = &bytes[head..];
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ParseError::Invalid("bad Content-Length".into()))?;
        if len > MAX_BODY {
            return Err(ParseError::Invalid("body too large".into()));
        }
        if rest.len() < len {
            return Err(ParseError::Incomplete);
        }
        rest[..len].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        rest.iter().copied().take(MAX_BODY).collect()
    } else {
        return Err(ParseError::Incomplete);
    };
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(ParseError::Incomplete)?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ParseError::Invalid("bad chunk size".into()))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if size > MAX_BODY || body.len() + size > MAX_BODY {
            return Err(ParseError::Invalid("body too large".into()));
        }
        if rest.len() < size + 2 {
            return Err(ParseError::Incomplete);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Why a request got no response.
#[derive(Debug)]
enum Transport {
    NoDaemon(String),
    Failed(String),
}

trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

fn connect(endpoint: &Endpoint, deadline: Instant) -> Result<Box<dyn Conn>, Transport> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let no_daemon = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            Transport::NoDaemon(e.to_string())
        }
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Transport::Failed(format!("no answer within {} ms", left.as_millis()))
        }
        _ => Transport::Failed(e.to_string()),
    };
    match endpoint {
        Endpoint::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path).map_err(no_daemon)?;
            s.set_read_timeout(Some(left)).map_err(no_daemon)?;
            s.set_write_timeout(Some(left)).map_err(no_daemon)?;
            Ok(Box::new(s))
        }
        Endpoint::Tcp { host, port } => {
            use std::net::ToSocketAddrs;
            let addrs = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| Transport::NoDaemon(format!("cannot resolve {host}: {e}")))?;
            let mut last = Transport::NoDaemon(format!("{host} has no address"));
            for a in addrs {
                match std::net::TcpStream::connect_timeout(&a, left) {
                    Ok(s) => {
                        s.set_read_timeout(Some(left)).map_err(no_daemon)?;
                        s.set_write_timeout(Some(left)).map_err(no_daemon)?;
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = no_daemon(e),
                }
            }
            Err(last)
        }
        Endpoint::ViaClient(_) => Err(Transport::Failed("not a direct endpoint".into())),
    }
}

fn request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: &[u8],
    deadline: Instant,
) -> Result<Response, Transport> {
    let mut conn = connect(endpoint, deadline)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockroute/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let timed_out = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Transport::Failed("no answer within the probe timeout".into())
        }
        _ => Transport::Failed(e.to_string()),
    };
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    conn.write_all(&message).map_err(timed_out)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            return Err(Transport::Failed(
                "no answer within the probe timeout".into(),
            ));
        }
        let n = conn.read(&mut chunk).map_err(timed_out)?;
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_BODY + 16 * 1024 {
                return Err(Transport::Failed("response too large".into()));
            }
        }
        match parse(&buf, n == 0) {
            Ok(r) => return Ok(r),
            Err(ParseError::Incomplete) if n > 0 => {}
            Err(ParseError::Incomplete) => {
                return Err(Transport::Failed(
                    "the connection closed mid-response".into(),
                ))
            }
            Err(ParseError::Invalid(e)) => {
                return Err(Transport::Failed(format!("not an HTTP answer: {e}")))
            }
        }
    }
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
fn classify(endpoint: &Endpoint, r: &Response, deadline: Instant) -> Verdict {
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
                let _ = request(
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
    client: &Path,
    global_args: &[OsString],
    guard: &SelfGuard,
    timeout: Duration,
) -> Verdict {
    if let Endpoint::ViaClient(_) = endpoint {
        return probe_via_client(client, global_args, guard, timeout);
    }
    let deadline = Instant::now() + timeout;
    let ask = |privileged: bool| match request(
        endpoint,
        "POST",
        "/containers/create",
        &create_body(privileged),
        deadline,
    ) {
        Ok(r) => classify(endpoint, &r, deadline),
        Err(Transport::NoDaemon(detail)) => Verdict::NoDaemon { detail },
        Err(Transport::Failed(detail)) => Verdict::Unknown { detail },
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
    cmd.arg0(client)
        .args(global_args)
        .args(["create", "--pull=never", "--privileged", PROBE_IMAGE])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in guard.child_env() {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Verdict::Unknown {
                detail: format!("could not run {}: {e}", client.display()),
            }
        }
    };
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(64 * 1024).read_to_string(&mut text);
        }
        let _ = child.wait();
        let _ = tx.send(text);
    });
    let Ok(text) = rx.recv_timeout(timeout) else {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        return Verdict::Unknown {
            detail: format!(
                "the client gave no answer within {} ms",
                timeout.as_millis()
            ),
        };
    };
    classify_client_output(&text)
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
    let r = request(endpoint, "GET", "/info", b"", Instant::now() + timeout).ok()?;
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
    fn responses_with_length_chunks_and_close() {
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"hello"[..]));
        let r = parse_response(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcdefg");
        let r = parse_response(b"HTTP/1.0 500 Oops\r\n\r\nclose-delimited").unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (500, &b"close-delimited"[..])
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false),
            Err(ParseError::Incomplete)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Le"),
            Err(ParseError::Incomplete)
        );
        assert!(matches!(
            parse_response(b"\x00\xffgarbage\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"
            ),
            Err(ParseError::Invalid(_))
        ));
    }

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

    fn serve(answer: &'static [u8]) -> (tempfile::TempDir, Endpoint) {
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("d.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let _ = c.write_all(answer);
            }
        });
        (t, Endpoint::Unix(sock))
    }

    fn run(ep: &Endpoint) -> Verdict {
        probe(
            ep,
            Path::new("/nonexistent"),
            &[],
            &SelfGuard::default(),
            Duration::from_millis(800),
        )
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
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("silent.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in l.incoming().flatten() {
                held.push(c);
            }
        });
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
