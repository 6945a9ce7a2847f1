//! Test-only local servers on unix sockets, standing in for a daemon the unit tests of the
//! probes talk to: one that answers each request as told, one that accepts and never
//! answers (a hung daemon).

use std::io::{Read, Write};
use std::path::PathBuf;

/// A server on a fresh unix socket: `answer` gets each request's bytes (one read) and
/// returns the whole response. The directory lives as long as the returned guard.
pub(crate) fn answering(
    answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let sock = t.path().join("d.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let _ = c.write_all(&answer(&buf[..n]));
        }
    });
    (t, sock)
}

/// A server on a fresh unix socket that accepts every connection and never answers.
pub(crate) fn silent() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let sock = t.path().join("silent.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
        }
    });
    (t, sock)
}
