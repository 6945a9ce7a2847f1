//! Talking to local services directly: a small HTTP/1.1 client over unix and tcp sockets
//! ([`http`]), enough for the daemon probe and reachability checks; and the one rule for
//! printing an address safely ([`mask_url_credentials`]).

#[cfg(test)]
pub(crate) mod fake_server;
pub mod http;

use std::borrow::Cow;

/// Masks the user-info part (`user:password@`) of every URL in `s`, so a `DOCKER_HOST`
/// or BuildKit address with credentials can be printed or used as a cache key.
#[must_use]
pub fn mask_url_credentials(s: &str) -> Cow<'_, str> {
    if !s.contains("://") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',' || c == ')')
            .unwrap_or(tail.len());
        let authority_end = tail[..end].find('/').unwrap_or(end);
        match tail[..authority_end].rfind('@') {
            Some(atsign) => {
                out.push_str("***");
                out.push_str(&tail[atsign..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}
