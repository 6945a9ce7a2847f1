//! Checking credentials with a registry over plain HTTP, the way the docker CLI's
//! client-side login does (docker/cli `internal/registry/auth.go` `loginV2`): `GET /v2/`;
//! a 401 names the scheme in `WWW-Authenticate`; `Basic` is answered with the
//! credentials, `Bearer realm=…,service=…` by fetching a token from the realm with them
//! (`client_id=docker`, `offline_token=true`) and asking `/v2/` again with it.
//!
//! dockroute speaks no TLS, so a token service on HTTPS cannot be reached: that is
//! [`Outcome::Unverified`], not a failure. The password is only ever put in an
//! `Authorization` header; nothing here logs or prints it.

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::net::http::{self, Address};

/// How long the whole check may take (docker's login client allows 15 s).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

/// What the registry said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It accepted the credentials (or asks for none).
    Verified,
    /// It could not be asked properly; why, in a clause.
    Unverified(String),
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lower case (`basic`, `bearer`).
    pub scheme: String,
    /// Its parameters, names lower case, in order.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name`.
    #[must_use]
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the first challenge of a `WWW-Authenticate` value: a scheme, then
/// `name=value` or `name="quoted \"value\""` pairs separated by commas.
#[must_use]
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.push((name, value));
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode_query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `user:password` as an `Authorization: Basic` value.
fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// The `Host` header value for `host:port`.
fn host_header(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A failed login, in docker's words: `login attempt to URL failed with status: N TEXT`.
fn refused(url: &str, status: u16) -> String {
    let text = match status {
        401 => " Unauthorized",
        403 => " Forbidden",
        404 => " Not Found",
        500 => " Internal Server Error",
        _ => "",
    };
    format!("login attempt to {url} failed with status: {status}{text}")
}

/// Checks `username`/`password` with the registry at `host:port` over plain HTTP.
///
/// # Errors
/// The registry refused them, or could not be reached: a sentence to show.
pub(crate) fn check(
    host: &str,
    port: u16,
    username: &str,
    password: &str,
) -> Result<Outcome, String> {
    let deadline = Instant::now() + TIMEOUT;
    let address = Address::Tcp {
        host: host.to_string(),
        port,
    };
    let hostport = host_header(host, port);
    let url = format!("http://{hostport}/v2/");
    let get = |address: &Address, host: &str, path: &str, auth: Option<&str>| {
        let mut headers = vec![("Host", host), ("Accept", "application/json")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        http::request_with_headers(address, "GET", path, &headers, b"", deadline).map_err(|e| {
            let why = match e {
                http::Failure::Nobody(w) | http::Failure::NoAnswer(w) => w,
            };
            format!("cannot reach {url}: {why}")
        })
    };
    let ping = get(&address, &hostport, "/v2/", None)?;
    match ping.status {
        200..=299 => return Ok(Outcome::Verified),
        401 => {}
        s => return Err(refused(&url, s)),
    }
    let challenge = ping
        .www_authenticate
        .as_deref()
        .and_then(parse_challenge)
        .ok_or_else(|| format!("{url} answered 401 without an authentication challenge"))?;
    let basic = basic(username, password);
    let authorization = match challenge.scheme.as_str() {
        "basic" => basic,
        "bearer" => {
            let Some(realm) = challenge.param("realm") else {
                return Err(format!("{url} asks for a token but names no token service"));
            };
            let Some(after) = realm.strip_prefix("http://") else {
                return Ok(Outcome::Unverified(format!(
                    "its token service {realm} is HTTPS, which dockroute does not speak"
                )));
            };
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            let (token_host, token_port) = crate::registry::server::split_host_port(authority);
            let token_port = token_port
                .map_or(Ok(80), str::parse::<u16>)
                .map_err(|_| format!("bad token service address {realm}"))?;
            let mut query = vec![
                ("client_id", "docker".to_string()),
                ("offline_token", "true".to_string()),
            ];
            if let Some(service) = challenge.param("service") {
                query.push(("service", service.to_string()));
            }
            let path = if path.is_empty() { "/" } else { path };
            let sep = if path.contains('?') { '&' } else { '?' };
            let query: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", encode_query(v)))
                .collect();
            let token_path = format!("{path}{sep}{}", query.join("&"));
            let token_address = Address::Tcp {
                host: token_host.to_string(),
                port: token_port,
            };
            let answer = get(
                &token_address,
                &host_header(token_host, token_port),
                &token_path,
                Some(&basic),
            )?;
            if answer.status != 200 {
                return Err(refused(realm, answer.status));
            }
            let body: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|_| format!("the token service {realm} answered no JSON"))?;
            let token = body
                .get("token")
                .or_else(|| body.get("access_token"))
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| format!("the token service {realm} gave no token"))?;
            format!("Bearer {token}")
        }
        other => {
            return Ok(Outcome::Unverified(format!(
                "{url} asks for `{other}` authentication, which dockroute does not speak"
            )))
        }
    };
    let answer = get(&address, &hostport, "/v2/", Some(&authorization))?;
    match answer.status {
        200..=299 => Ok(Outcome::Verified),
        s => Err(refused(&url, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quotes_and_escapes() {
        let c = parse_challenge(
            r#"Bearer realm="http://auth.example/token",service="Docker \"registry\"",scope="repository:a:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("http://auth.example/token"));
        assert_eq!(c.param("service"), Some(r#"Docker "registry""#));
        assert_eq!(c.param("scope"), Some("repository:a:pull,push"));
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.param("realm")),
            ("basic", Some("Registry Realm"))
        );
        let c = parse_challenge("Basic realm=plain, charset=UTF-8").unwrap();
        assert_eq!(c.param("charset"), Some("UTF-8"));
        assert_eq!(parse_challenge(""), None);
        // Unterminated quotes and stray text never panic.
        let _ = parse_challenge(r#"Bearer realm="http://x"#);
        let _ = parse_challenge("Bearer ,,,=,=\"");
    }

    /// A loopback listener answering each connection with the next of the answers made
    /// from its port (the bed has no token service: this stands in for one), recording
    /// each request head.
    fn serve(
        answers: impl FnOnce(u16) -> Vec<String>,
    ) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answers = answers(port);
        let handle = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut conn, _) = listener.accept().unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = conn.read(&mut chunk).unwrap();
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                heads.push(String::from_utf8_lossy(&buf).into_owned());
                conn.write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (port, handle)
    }

    fn answer(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn the_token_flow_fetches_a_token_with_the_credentials_and_asks_again_with_it() {
        // One listener is both registry and token service: /v2/, then /token, then /v2/.
        let (port, handle) = serve(|port| {
            let challenge = format!(
                "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"my registry\"\r\n"
            );
            vec![
                answer("401 Unauthorized", &challenge, "{}"),
                answer("200 OK", "", r#"{"token":"tok-123"}"#),
                answer("200 OK", "", "{}"),
            ]
        });
        assert_eq!(check("127.0.0.1", port, "u", "p:w"), Ok(Outcome::Verified));
        let heads = handle.join().unwrap();
        assert!(heads[0].starts_with("GET /v2/ ") && !heads[0].contains("Authorization"));
        assert!(
            heads[1].starts_with(
                "GET /token?client_id=docker&offline_token=true&service=my%20registry "
            ),
            "{}",
            heads[1]
        );
        assert!(
            heads[1].contains("Authorization: Basic dTpwOnc=\r\n"),
            "{}",
            heads[1]
        );
        assert!(
            heads[2].contains("Authorization: Bearer tok-123\r\n"),
            "{}",
            heads[2]
        );
    }

    #[test]
    fn basic_refusals_and_https_token_services() {
        let (port, handle) = serve(|_| {
            vec![
                answer(
                    "401 Unauthorized",
                    "WWW-Authenticate: Basic realm=\"r\"\r\n",
                    "",
                ),
                answer(
                    "401 Unauthorized",
                    "WWW-Authenticate: Basic realm=\"r\"\r\n",
                    "",
                ),
            ]
        });
        let e = check("127.0.0.1", port, "u", "secret-pw").unwrap_err();
        assert!(e.contains("failed with status: 401 Unauthorized"), "{e}");
        assert!(!e.contains("secret-pw"));
        handle.join().unwrap();
        let (port, handle) = serve(|_| {
            vec![answer(
                "401 Unauthorized",
                "WWW-Authenticate: Bearer realm=\"https://auth.example/token\"\r\n",
                "",
            )]
        });
        assert!(matches!(
            check("127.0.0.1", port, "u", "p"),
            Ok(Outcome::Unverified(why)) if why.contains("https://auth.example/token")
        ));
        handle.join().unwrap();
    }

    #[test]
    fn query_values_and_basic_credentials_are_encoded() {
        assert_eq!(encode_query("Docker registry/x"), "Docker%20registry%2Fx");
        assert_eq!(basic("u", "p:w"), "Basic dTpwOnc=");
        assert_eq!(host_header("::1", 5000), "[::1]:5000");
        assert_eq!(
            refused("http://h/v2/", 401),
            "login attempt to http://h/v2/ failed with status: 401 Unauthorized"
        );
    }
}
