//! A Docker authorization plugin for the test bed: it makes a throwaway `dockerd` answer
//! the way Bitbucket Pipelines' daemon (runtime v2) does.
//!
//! Usage: `authz_plugin --socket PATH --name NAME --policy privileged|privileged-grpc
//! --log FILE`.
//!
//! It listens on a unix socket and speaks the plugin protocol (HTTP/1.1 + JSON, see
//! <https://docs.docker.com/engine/extend/plugins_authorization/>):
//!
//! - `POST /Plugin.Activate` → `{"Implements":["authz"]}`;
//! - `POST /AuthZPlugin.AuthZReq` → `{"Allow":bool,"Msg":"…"}`;
//! - `POST /AuthZPlugin.AuthZRes` → `{"Allow":true}` (responses are never filtered).
//!
//! Policies:
//!
//! - `privileged`: deny a request whose JSON body sets `HostConfig.Privileged: true`,
//!   with the message `--privileged=true is not allowed` (the daemon prefixes it with
//!   `authorization denied by plugin NAME: `, exactly Pipelines' words);
//! - `privileged-grpc`: that, plus deny `POST /grpc` (buildx's hijacked BuildKit
//!   connection, with or without a `/vX.Y` prefix) with `Command not supported.` — so
//!   buildx falls back to the `docker-container` driver as in the field. `/session` (the
//!   20.10 client's BuildKit session) stays allowed.
//!
//! Every `AuthZReq` is logged as one JSON line `{"method","uri","user_agent","allowed"}`,
//! flushed per line, so tests can see which client made which request.
//!
//! Invariants: dockerd keeps plugin connections alive, so each connection is served in
//! its own thread, request after request until EOF; request bodies may come with
//! `Content-Length` or chunked. A malformed request closes its connection, never the
//! plugin.

#![allow(clippy::print_stdout, clippy::print_stderr, unreachable_pub)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1+json";
const PRIVILEGED_MSG: &str = "--privileged=true is not allowed";
const GRPC_MSG: &str = "Command not supported.";
/// Larger than any request dockerd sends to a plugin (it forwards bodies up to 1 MiB).
const MAX_BODY: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Privileged,
    PrivilegedGrpc,
}

struct Config {
    socket: PathBuf,
    name: String,
    policy: Policy,
    log: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: authz_plugin --socket PATH --name NAME --policy privileged|privileged-grpc --log FILE"
    );
    std::process::exit(2);
}

fn parse_args() -> Config {
    let mut socket = None;
    let mut name = None;
    let mut policy = None;
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { usage() };
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value)),
            "--name" => name = Some(value),
            "--policy" => {
                policy = Some(match value.as_str() {
                    "privileged" => Policy::Privileged,
                    "privileged-grpc" => Policy::PrivilegedGrpc,
                    _ => usage(),
                });
            }
            "--log" => log = Some(PathBuf::from(value)),
            _ => usage(),
        }
    }
    match (socket, name, policy, log) {
        (Some(socket), Some(name), Some(policy), Some(log)) => Config {
            socket,
            name,
            policy,
            log,
        },
        _ => usage(),
    }
}

fn main() {
    let config = parse_args();
    // A socket left by a killed predecessor would make bind fail.
    let _ = std::fs::remove_file(&config.socket);
    let listener = match UnixListener::bind(&config.socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "authz_plugin {}: cannot listen on {}: {e}",
                config.name,
                config.socket.display()
            );
            std::process::exit(1);
        }
    };
    let log = match OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config.log)
    {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            eprintln!(
                "authz_plugin {}: cannot open log {}: {e}",
                config.name,
                config.log.display()
            );
            std::process::exit(1);
        }
    };
    eprintln!(
        "authz_plugin {}: policy {:?}, listening on {}",
        config.name,
        config.policy,
        config.socket.display()
    );
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let log = Arc::clone(&log);
                let policy = config.policy;
                std::thread::spawn(move || {
                    if let Err(e) = serve(stream, policy, &log) {
                        eprintln!("authz_plugin: connection dropped: {e}");
                    }
                });
            }
            Err(e) => eprintln!("authz_plugin: accept failed: {e}"),
        }
    }
}

/// One parsed HTTP request.
struct Request {
    method: String,
    path: String,
    close: bool,
    body: Vec<u8>,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF- (or LF-) terminated line; `None` at a clean EOF.
fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("header line is not UTF-8"))
}

/// Reads the next request on the connection; `None` when the peer closed it.
fn read_request(r: &mut BufReader<UnixStream>) -> std::io::Result<Option<Request>> {
    // Tolerate blank lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("bad request line: {line:?}")));
    };
    let mut close = version == "HTTP/1.0";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    loop {
        let Some(h) = read_line(r)? else {
            return Err(bad("EOF in headers"));
        };
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            return Err(bad(format!("bad header: {h:?}")));
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(v.parse().map_err(|_| bad("bad Content-Length"))?);
            }
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    close = true;
                } else if v.contains("keep-alive") {
                    close = false;
                }
            }
            "expect" => expect_continue = v.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    if expect_continue {
        r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    let path = target.split('?').next().unwrap_or(target).to_string();
    Ok(Some(Request {
        method: method.to_string(),
        path,
        close,
        body,
    }))
}

fn read_chunked(r: &mut BufReader<UnixStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("EOF in chunk size"))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                match read_line(r)? {
                    None => return Err(bad("EOF in trailers")),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

fn serve(stream: UnixStream, policy: Policy, log: &Mutex<File>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let (status, body) = handle(&req, policy, log);
        let body = body.to_string();
        let reason = if status == 200 { "OK" } else { "Not Found" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if req.close { "Connection: close\r\n" } else { "" }
        );
        let out = reader.get_mut();
        out.write_all(head.as_bytes())?;
        out.write_all(body.as_bytes())?;
        out.flush()?;
        if req.close {
            break;
        }
    }
    Ok(())
}

fn handle(req: &Request, policy: Policy, log: &Mutex<File>) -> (u16, Value) {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/Plugin.Activate") => (200, json!({"Implements": ["authz"]})),
        ("POST", "/AuthZPlugin.AuthZReq") => {
            let authz: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let verdict = decide(&authz, policy);
            log_request(log, &authz, verdict.is_none());
            match verdict {
                None => (200, json!({"Allow": true})),
                Some(msg) => (200, json!({"Allow": false, "Msg": msg})),
            }
        }
        ("POST", "/AuthZPlugin.AuthZRes") => (200, json!({"Allow": true})),
        _ => (
            404,
            json!({"Err": format!("authz_plugin: no such endpoint {} {}", req.method, req.path)}),
        ),
    }
}

/// The denial message for a request, or `None` to allow it.
fn decide(authz: &Value, policy: Policy) -> Option<&'static str> {
    let method = field(authz, "RequestMethod");
    let uri = field(authz, "RequestUri");
    if policy == Policy::PrivilegedGrpc && method.eq_ignore_ascii_case("POST") && is_grpc(uri) {
        return Some(GRPC_MSG);
    }
    let body = authz
        .get("RequestBody")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    if body.is_some_and(|b| b["HostConfig"]["Privileged"] == Value::Bool(true)) {
        return Some(PRIVILEGED_MSG);
    }
    None
}

/// A string field of the request, its name matched case-insensitively: moby's
/// `authorization.Request` spells it `RequestUri` on the wire (Go field `RequestURI`).
fn field<'a>(authz: &'a Value, name: &str) -> &'a str {
    authz
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `/grpc` or `/vX.Y/grpc`, with any query string.
fn is_grpc(uri: &str) -> bool {
    let path = uri.split('?').next().unwrap_or(uri);
    let path = path.trim_end_matches('/');
    let rest = match path.strip_prefix("/v") {
        Some(after) => match after.split_once('/') {
            Some((version, rest))
                if !version.is_empty()
                    && version.chars().all(|c| c.is_ascii_digit() || c == '.') =>
            {
                rest
            }
            _ => return false,
        },
        None => path.strip_prefix('/').unwrap_or(path),
    };
    rest == "grpc"
}

fn log_request(log: &Mutex<File>, authz: &Value, allowed: bool) {
    let headers = &authz["RequestHeaders"];
    let user_agent = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("User-Agent"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_str)
        .unwrap_or("");
    // Written by hand to keep the documented key order (serde_json sorts map keys).
    let line = format!(
        r#"{{"method":{},"uri":{},"user_agent":{},"allowed":{allowed}}}"#,
        Value::from(field(authz, "RequestMethod")),
        Value::from(field(authz, "RequestUri")),
        Value::from(user_agent),
    );
    let mut f = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
        eprintln!("authz_plugin: cannot write log: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, uri: &str, body: Option<&str>) -> Value {
        json!({
            "RequestMethod": method,
            "RequestUri": uri,
            "RequestBody": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        })
    }

    #[test]
    fn privileged_is_denied_by_both_policies() {
        let r = req(
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"HostConfig":{"Privileged":true}}"#),
        );
        assert_eq!(decide(&r, Policy::Privileged), Some(PRIVILEGED_MSG));
        assert_eq!(decide(&r, Policy::PrivilegedGrpc), Some(PRIVILEGED_MSG));
        let r = req(
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"HostConfig":{"Privileged":false}}"#),
        );
        assert_eq!(decide(&r, Policy::PrivilegedGrpc), None);
        assert_eq!(
            decide(&req("GET", "/_ping", None), Policy::Privileged),
            None
        );
    }

    #[test]
    fn grpc_is_denied_only_by_the_grpc_policy_and_session_stays_allowed() {
        for uri in ["/grpc", "/v1.41/grpc", "/v1.47/grpc?x=1"] {
            let r = req("POST", uri, None);
            assert_eq!(decide(&r, Policy::PrivilegedGrpc), Some(GRPC_MSG), "{uri}");
            assert_eq!(decide(&r, Policy::Privileged), None, "{uri}");
        }
        for uri in ["/session", "/v1.41/session", "/v1.41/grpcx", "/x/grpc"] {
            assert_eq!(
                decide(&req("POST", uri, None), Policy::PrivilegedGrpc),
                None,
                "{uri}"
            );
        }
    }

    #[test]
    fn one_connection_serves_several_requests_with_either_body_framing() {
        let log_file = tempfile::NamedTempFile::new().unwrap();
        let log = Arc::new(Mutex::new(log_file.reopen().unwrap()));
        let (mut client, server) = UnixStream::pair().unwrap();
        let served = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(server, Policy::PrivilegedGrpc, &log))
        };
        let body = json!({
            "RequestMethod": "POST",
            "RequestUri": "/v1.41/containers/create",
            "RequestHeaders": {"User-Agent": "Docker-Client/20.10.24+dfsg1 (linux)"},
            "RequestBody": base64::engine::general_purpose::STANDARD
                .encode(r#"{"HostConfig":{"Privileged":true}}"#),
        })
        .to_string();
        let grpc = r#"{"RequestMethod":"POST","RequestUri":"/v1.41/grpc","RequestHeaders":{"User-Agent":"buildx"}}"#;
        let (a, b) = grpc.split_at(10);
        let requests = format!(
            "POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n\r\n\
             POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}\
             POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n\
             POST /AuthZPlugin.AuthZRes HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{{}}",
            body.len(),
            a.len(),
            b.len(),
        );
        client.write_all(requests.as_bytes()).unwrap();
        let mut answers = String::new();
        client.read_to_string(&mut answers).unwrap();
        served.join().unwrap().unwrap();
        assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 4, "{answers}");
        assert_eq!(answers.matches(CONTENT_TYPE).count(), 4, "{answers}");
        assert!(answers.contains(r#"{"Implements":["authz"]}"#), "{answers}");
        assert!(answers.contains(PRIVILEGED_MSG), "{answers}");
        assert!(answers.contains(GRPC_MSG), "{answers}");
        let logged = std::fs::read_to_string(log_file.path()).unwrap();
        let lines: Vec<&str> = logged.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"method":"POST","uri":"/v1.41/containers/create","user_agent":"Docker-Client/20.10.24+dfsg1 (linux)","allowed":false}"#,
                r#"{"method":"POST","uri":"/v1.41/grpc","user_agent":"buildx","allowed":false}"#,
            ]
        );
    }
}
