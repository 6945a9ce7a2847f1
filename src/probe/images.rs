//! Which of a build's own tags already exist in the daemon: one local
//! `GET /images/NAME/json` per tag, all within one deadline (the daemon probe's timeout).
//!
//! The answer feeds the warm-rebuild step of the mounted and legacy routes
//! ([`crate::route::warm`]): a tag the daemon has (brought back by Bitbucket's docker
//! cache, `docker image load`) becomes a `--cache-from`. The check never reaches a
//! registry (`/images/NAME/json` only reads the daemon's image store; nothing is pulled)
//! and never sends anything but the tag. A tag the daemon does not have is not passed,
//! because the daemon's BuildKit would then look it up in a registry.
//!
//! Endpoints dockroute cannot speak to itself (TLS, ssh://, a context it cannot read) are
//! not checked: asking the real client would cost a process per call, so no
//! `--cache-from` is added there and `explain` says why. Tags that are not plain image
//! references (bytes outside `[A-Za-z0-9._:/@-]`, not UTF-8) are not looked up: the
//! client rejects them anyway.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::docker::args::Invocation;
use crate::docker::{config, endpoint};
use crate::net::http::{self, Address};
use crate::route::facts::LocalTags;

/// The tags of `tags` the daemon of this call has, within `timeout` in all.
#[must_use]
pub(crate) fn local_tags(inv: &Invocation, tags: &[OsString], timeout: Duration) -> LocalTags {
    if tags.is_empty() {
        return LocalTags::Present(Vec::new());
    }
    let config_dir = config::config_dir(inv.globals.value("config"));
    let ep = endpoint::resolve(
        &inv.globals,
        &|k| std::env::var(k).ok(),
        config_dir.as_deref(),
    );
    match ep.address() {
        Some(address) => present(&address, tags, Instant::now() + timeout),
        None => LocalTags::Unchecked(format!(
            "the daemon at {ep} is reached only through the client, so its images are not looked up"
        )),
    }
}

/// Looks each tag up at `address` by `deadline`; a tag not answered for counts as absent,
/// and when the daemon answers none, nothing was checked.
#[must_use]
pub(crate) fn present(address: &Address, tags: &[OsString], deadline: Instant) -> LocalTags {
    let mut found = Vec::new();
    let mut answered = false;
    for tag in tags {
        let Some(name) = tag.to_str().filter(|t| is_reference(t)) else {
            continue;
        };
        match http::request(
            address,
            "GET",
            &format!("/images/{name}/json"),
            b"",
            deadline,
        ) {
            Ok(r) => {
                answered = true;
                if r.status == 200 {
                    found.push(tag.clone());
                } else {
                    tracing::debug!(tag = name, status = r.status, "tag not in the daemon");
                }
            }
            Err(e) => {
                // Out of time or no daemon: the rest would fail the same way.
                tracing::debug!(tag = name, error = ?e, "tag lookup failed");
                if !answered {
                    let why = match e {
                        http::Failure::Nobody(d) | http::Failure::NoAnswer(d) => d,
                    };
                    return LocalTags::Unchecked(format!(
                        "the daemon did not answer the image lookup ({why})"
                    ));
                }
                break;
            }
        }
    }
    LocalTags::Present(found)
}

/// Whether `s` can be put in the request path as it is: the characters of a docker image
/// reference (name, `:tag`, `@digest`), no `..` segment, not empty.
fn is_reference(s: &str) -> bool {
    !s.is_empty()
        && !s.split('/').any(|seg| seg == "." || seg == "..")
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A fake daemon that has the images in `have` and records each request line.
    fn daemon(
        have: &'static [&'static str],
    ) -> (tempfile::TempDir, Address, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let (t, sock) = crate::net::fake_server::answering(move |request| {
            let line = String::from_utf8_lossy(request)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let hit = have
                .iter()
                .any(|h| line == format!("GET /images/{h}/json HTTP/1.1"));
            log.lock().unwrap().push(line);
            let (status, body) = if hit {
                ("200 OK", "{\"Id\":\"sha256:0\"}")
            } else {
                ("404 Not Found", "{\"message\":\"No such image\"}")
            };
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        });
        (t, Address::Unix(sock), seen)
    }

    fn tags(t: &[&str]) -> Vec<OsString> {
        t.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_tags_the_daemon_has_are_present() {
        let (_t, addr, seen) = daemon(&["app:1", "127.0.0.1:5000/team/app:latest"]);
        let got = present(
            &addr,
            &tags(&["app:1", "app:2", "127.0.0.1:5000/team/app:latest"]),
            Instant::now() + Duration::from_secs(2),
        );
        assert_eq!(
            got,
            LocalTags::Present(tags(&["app:1", "127.0.0.1:5000/team/app:latest"]))
        );
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                "GET /images/app:1/json HTTP/1.1",
                "GET /images/app:2/json HTTP/1.1",
                "GET /images/127.0.0.1:5000/team/app:latest/json HTTP/1.1",
            ],
            "one GET per tag, nothing else"
        );
    }

    #[test]
    fn odd_tags_are_not_looked_up() {
        let (_t, addr, seen) = daemon(&["app:1"]);
        let got = present(
            &addr,
            &tags(&["a b", "../../containers/x", "app?x=1", "", "app:1"]),
            Instant::now() + Duration::from_secs(2),
        );
        assert_eq!(got, LocalTags::Present(tags(&["app:1"])));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn no_daemon_means_nothing_checked() {
        let got = present(
            &Address::Unix("/nonexistent/d.sock".into()),
            &tags(&["app:1"]),
            Instant::now() + Duration::from_secs(1),
        );
        assert!(
            matches!(&got, LocalTags::Unchecked(why) if why.starts_with("the daemon did not answer the image lookup")),
            "{got:?}"
        );
    }

    #[test]
    fn a_silent_daemon_costs_at_most_the_deadline() {
        let (_t, sock) = crate::net::fake_server::silent();
        let start = Instant::now();
        let got = present(
            &Address::Unix(sock),
            &tags(&["a:1", "b:1", "c:1"]),
            Instant::now() + Duration::from_millis(300),
        );
        assert!(matches!(got, LocalTags::Unchecked(_)), "{got:?}");
        assert!(
            start.elapsed() < Duration::from_millis(1200),
            "{:?}",
            start.elapsed()
        );
    }
}
