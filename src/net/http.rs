//! A small HTTP/1.1 client: one request per connection (`Connection: close`), over a unix
//! socket or plain tcp, bounded by a deadline, with the response parsed by `httparse`
//! (status line, headers and chunked-transfer sizes) and capped in size.
//!
//! It speaks only what dockroute needs from the Docker API (a JSON request, a short JSON
//! answer). Parsing is panic-free on any input: [`parse_response`] is a fuzz target.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// A host name or IP and a port.
    Tcp {
        /// Host name or IP literal.
        host: String,
        /// Port.
        port: u16,
    },
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body, de-chunked.
    pub body: Vec<u8>,
    /// The `WWW-Authenticate` challenge, when the server sent one (a registry's `/v2/`
    /// answers 401 with it).
    pub www_authenticate: Option<String>,
}

/// Why bytes are not (yet) a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed.
    Incomplete,
    /// Not HTTP, or not one dockroute accepts.
    Invalid(String),
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens there (no socket file, connection refused, unknown host).
    Nobody(String),
    /// Something listens but gave no usable answer in time.
    NoAnswer(String),
}

/// Parses a complete HTTP/1.1 response (the connection has ended).
///
/// # Errors
/// When the bytes are not a complete response dockroute accepts.
pub fn parse_response(bytes: &[u8]) -> Result<Response, ParseError> {
    parse(bytes, true)
}

/// Parses a response; `eof` says the connection has ended (a body without a length then
/// runs to the end).
///
/// # Errors
/// [`ParseError::Incomplete`] when more bytes are needed, else why they are not HTTP.
pub fn parse(bytes: &[u8], eof: bool) -> Result<Response, ParseError> {
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
    let www_authenticate = r
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("www-authenticate"))
        .map(|h| String::from_utf8_lossy(h.value).trim().to_string());
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
    Ok(Response {
        status,
        body,
        www_authenticate,
    })
}

/// Joins a chunked body; the chunk-size lines are parsed by `httparse`.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut body = Vec::new();
    loop {
        let (start, size) = match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Err(ParseError::Incomplete),
            Err(_) => return Err(ParseError::Invalid("bad chunk size".into())),
        };
        rest = &rest[start..];
        let size = usize::try_from(size).unwrap_or(usize::MAX);
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

trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// Opens a connection to `address` by `deadline`, with reads and writes bounded by the
/// time left.
///
/// # Errors
/// [`Failure::Nobody`] when nothing listens, [`Failure::NoAnswer`] otherwise.
fn connect(address: &Address, deadline: Instant) -> Result<Box<dyn Conn>, Failure> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let failed = |e: std::io::Error| classify_io(&e, left);
    match address {
        Address::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path).map_err(failed)?;
            s.set_read_timeout(Some(left)).map_err(failed)?;
            s.set_write_timeout(Some(left)).map_err(failed)?;
            Ok(Box::new(s))
        }
        Address::Tcp { host, port } => {
            let s = connect_tcp(host, *port, left)?;
            s.set_read_timeout(Some(left)).map_err(failed)?;
            s.set_write_timeout(Some(left)).map_err(failed)?;
            Ok(Box::new(s))
        }
    }
}

fn classify_io(e: &std::io::Error, left: Duration) -> Failure {
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            Failure::Nobody(e.to_string())
        }
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Failure::NoAnswer(format!("no answer within {} ms", left.as_millis()))
        }
        _ => Failure::NoAnswer(e.to_string()),
    }
}

fn connect_tcp(host: &str, port: u16, left: Duration) -> Result<std::net::TcpStream, Failure> {
    use std::net::ToSocketAddrs;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Nobody(format!("cannot resolve {host}: {e}")))?;
    let mut last = Failure::Nobody(format!("{host} has no address"));
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = classify_io(&e, left),
        }
    }
    Err(last)
}

/// Whether something accepts connections at `address` within `timeout` (nothing is sent).
///
/// # Errors
/// Why not.
pub fn reachable(address: &Address, timeout: Duration) -> Result<(), Failure> {
    connect(address, Instant::now() + timeout).map(drop)
}

/// Sends one request and reads the whole response, by `deadline`.
///
/// # Errors
/// Why there is no response.
pub fn request(
    address: &Address,
    method: &str,
    path: &str,
    body: &[u8],
    deadline: Instant,
) -> Result<Response, Failure> {
    request_with_headers(
        address,
        method,
        path,
        &[("Host", "docker"), ("Content-Type", "application/json")],
        body,
        deadline,
    )
}

/// Sends one request with the given headers (`Host` among them; `User-Agent`,
/// `Content-Length` and `Connection: close` are added) and reads the whole response, by
/// `deadline`. Header values are never logged: an `Authorization` header may be one.
///
/// # Errors
/// Why there is no response.
pub fn request_with_headers(
    address: &Address,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Instant,
) -> Result<Response, Failure> {
    let mut conn = connect(address, deadline)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "User-Agent: dockroute/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    ));
    let timed_out = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Failure::NoAnswer("no answer within the probe timeout".into())
        }
        _ => Failure::NoAnswer(e.to_string()),
    };
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    conn.write_all(&message).map_err(timed_out)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            return Err(Failure::NoAnswer(
                "no answer within the probe timeout".into(),
            ));
        }
        let n = conn.read(&mut chunk).map_err(timed_out)?;
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_BODY + 16 * 1024 {
                return Err(Failure::NoAnswer("response too large".into()));
            }
        }
        match parse(&buf, n == 0) {
            Ok(r) => return Ok(r),
            Err(ParseError::Incomplete) if n > 0 => {}
            Err(ParseError::Incomplete) => {
                return Err(Failure::NoAnswer(
                    "the connection closed mid-response".into(),
                ))
            }
            Err(ParseError::Invalid(e)) => {
                return Err(Failure::NoAnswer(format!("not an HTTP answer: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_length_chunks_and_close() {
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"hello"[..]));
        let r = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate:  Basic realm=\"r\" \r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.www_authenticate.as_deref(), Some("Basic realm=\"r\""));
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
}
