//! The single redaction point: every notice, log line, `explain` and `doctor` output
//! passes through here before it is printed.
//!
//! What is redacted: values of `KEY=VALUE` pairs that follow `--build-arg`, `-e/--env`,
//! `--secret`-like flags, and credentials in URLs (`tcp://user:pass@host`).

use std::borrow::Cow;

/// The placeholder printed instead of a value.
pub const MASK: &str = "***";

/// Redacts credentials in URLs in a line of text.
#[must_use]
pub fn text(s: &str) -> Cow<'_, str> {
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
                out.push_str(MASK);
                out.push_str(&tail[atsign..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Flags whose `KEY=VALUE` value is masked (`--build-arg K=V` → `--build-arg K=***`).
const VALUE_FLAGS: &[&str] = &["--build-arg", "-e", "--env"];

/// Redacts an argument list for printing: values of `--build-arg`/`-e`/`--env` pairs and
/// credentials in URLs.
#[must_use]
pub fn argv(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for a in args {
        if mask_next {
            out.push(mask_pair(a));
            mask_next = false;
            continue;
        }
        if VALUE_FLAGS.contains(&a.as_str()) {
            mask_next = true;
            out.push(a.clone());
            continue;
        }
        if let Some((flag, value)) = a.split_once('=') {
            if VALUE_FLAGS.contains(&flag) {
                out.push(format!("{flag}={}", mask_pair(value)));
                continue;
            }
        }
        out.push(text(a).into_owned());
    }
    out
}

fn mask_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((k, _)) => format!("{k}={MASK}"),
        None => pair.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_masked() {
        assert_eq!(text("tcp://u:p@h:2375/x y"), "tcp://***@h:2375/x y");
        assert_eq!(text("no url here"), "no url here");
        assert_eq!(
            text("unix:///var/run/docker.sock"),
            "unix:///var/run/docker.sock"
        );
    }
}
