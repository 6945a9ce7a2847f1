//! Finds Dockerfile syntax that only BuildKit understands, so a build bound for the
//! legacy builder can be refused before it starts instead of failing at the first step
//! that uses it.
//!
//! The scan reads a Dockerfile the way BuildKit's Dockerfile parser splits it into
//! instructions, and reports, for each instruction, the constructs the legacy builder
//! lacks:
//!
//! - a `# syntax=` parser directive (a frontend the legacy builder ignores);
//! - `RUN --mount`, `RUN --network`, `RUN --security`;
//! - `COPY`/`ADD` with `--link`, `--chmod`, `--parents`, `--exclude`, and
//!   `ADD --checksum`, `ADD --keep-git-dir`;
//! - heredocs in `RUN`, `COPY` and `ADD`;
//! - all of the above behind `ONBUILD` too. `COPY --chown`, `COPY --from` and
//!   `FROM --platform` are legacy syntax and never reported.
//!
//! How the text is read, as BuildKit reads it:
//!
//! - Lines end at `\n`; trailing `\r`s are dropped (CRLF files), a leading UTF-8 BOM too.
//! - Parser directives (`# key=value`, keys `syntax`, `escape`, `check`, any case) count
//!   only in the leading block: the first line that is not one (an instruction, another
//!   comment, a blank line, an unknown key) ends it. `# escape=` sets the continuation
//!   character (`\` or `` ` ``). BuildKit picks its frontend from a block that starts at
//!   column 0 and may follow a `#!` first line, so `# syntax=` counts under those rules.
//! - An instruction continues while its line ends with the escape character (trailing
//!   blanks allowed) not itself escaped; comment lines (`#` after optional blanks) and
//!   blank lines inside a continued instruction are skipped. Findings carry the line
//!   number where the instruction starts.
//! - Flags are the leading words starting with `--` right after the instruction word
//!   (quote-aware, `--` alone ends them); names are case-sensitive, as in BuildKit.
//!   `RUN echo --mount` has no flags.
//! - A heredoc is a whole shell word (split at unquoted blanks, quotes kept) of the form
//!   `[digits]<<[-]WORD` where WORD is non-empty, holds no `<`, and unquotes to a
//!   non-empty name: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, `2<<EOF`. So
//!   `"a << b"`, `<<< x`, `1 << 2` and `cat<<EOF` are not heredocs (BuildKit does not
//!   take them either), while `<<2` is. The body lines, up to a line equal to the name
//!   (after leading tabs for `<<-`), are skipped, for each heredoc of the instruction in
//!   order; an unterminated heredoc runs to the end of the text.
//!
//! Invariants: [`scan`] is pure, linear in the input, never panics, and takes any bytes
//! (non-UTF-8 included). Whitespace means ASCII whitespace throughout.
//!
//! Size: one small parser (directives, continuations, comments, heredoc bodies, flag
//! words) and the Dockerfile location rules; splitting it would scatter one grammar.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::docker::args::BuildCall;

/// The largest Dockerfile [`scan_file`] reads, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// One BuildKit-only construct found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The 1-based line where the instruction (or directive) starts.
    pub line: usize,
    /// What was found, e.g. `RUN --mount`, `COPY --chmod`, `RUN heredoc (<<EOF)`,
    /// `ONBUILD RUN --mount`, `# syntax= directive`.
    pub construct: String,
}

/// Where the Dockerfile of a build call is, resolved as the docker CLI resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine (it may not exist; reading it then fails).
    File(PathBuf),
    /// Not a local file: read from stdin, or from a remote context, or the call has no
    /// (single) context at all.
    NotLocal,
}

/// The construct of a `# syntax=` finding. The legacy builder reads the directive as a
/// comment, so a caller may treat this finding as a warning rather than a refusal.
pub const SYNTAX_DIRECTIVE: &str = "# syntax= directive";

/// The flags the legacy builder lacks, per instruction.
const RUN_FLAGS: &[&str] = &["mount", "network", "security"];
const COPY_FLAGS: &[&str] = &["link", "chmod", "parents", "exclude"];
const ADD_FLAGS: &[&str] = &[
    "link",
    "chmod",
    "parents",
    "exclude",
    "checksum",
    "keep-git-dir",
];

/// The parser directives BuildKit knows; any other key ends the directive block.
const DIRECTIVES: &[&[u8]] = &[b"syntax", b"escape", b"check"];

/// Scans a Dockerfile's bytes for BuildKit-only syntax, in line order.
#[must_use]
pub fn scan(text: &[u8]) -> Vec<Finding> {
    walk(text, |_, _| {})
}

/// A build stage of a Dockerfile (`FROM … [AS name]`) and the stages it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Its name, lowercased as BuildKit compares them; `None` for a stage without `AS`.
    pub name: Option<String>,
    /// The indices of the earlier stages it uses: its `FROM` base, `COPY`/`ADD
    /// --from=`, `RUN --mount=…,from=…` naming a stage (by name or by index).
    pub uses: Vec<usize>,
}

/// The build stages of a Dockerfile, in order (read as [`scan`] reads instructions:
/// continuations, comments, heredoc bodies and `# escape=` included). A reference that
/// names no earlier stage is an image, not a dependency.
#[must_use]
pub(crate) fn stages(text: &[u8]) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    walk(text, |_, line| {
        let (word, args) = split_word(line);
        let lower = |w: &[u8]| String::from_utf8_lossy(w).to_ascii_lowercase();
        let find = |stages: &[Stage], r: &str| {
            stages
                .iter()
                .position(|s| s.name.as_deref() == Some(r))
                .or_else(|| r.parse::<usize>().ok().filter(|i| *i < stages.len()))
        };
        if word.eq_ignore_ascii_case(b"from") {
            let rest = leading_flags(args, |_| {});
            let mut words = Vec::new();
            let mut pos = 0;
            while let Some((a, b)) = next_word(rest, pos, false) {
                words.push(unquote(&rest[a..b], false));
                pos = b;
            }
            let name = match words.as_slice() {
                [_, kw, name, ..] if kw.eq_ignore_ascii_case(b"as") => Some(lower(name)),
                _ => None,
            };
            let uses = words
                .first()
                .and_then(|base| find(&stages, &lower(base)))
                .into_iter()
                .collect();
            stages.push(Stage { name, uses });
            return;
        }
        let Some(current) = stages.len().checked_sub(1) else {
            return;
        };
        let is_copy = word.eq_ignore_ascii_case(b"copy") || word.eq_ignore_ascii_case(b"add");
        if !is_copy && !word.eq_ignore_ascii_case(b"run") {
            return;
        }
        let mut refs = Vec::new();
        flag_values(args, |name, value| {
            if is_copy && name == b"from" {
                refs.push(lower(value));
            } else if !is_copy && name == b"mount" {
                refs.extend(
                    value
                        .split(|b| *b == b',')
                        .filter_map(|kv| kv.strip_prefix(b"from="))
                        .map(lower),
                );
            }
        });
        for r in refs {
            if let Some(i) = find(&stages[..current], &r) {
                if !stages[current].uses.contains(&i) {
                    stages[current].uses.push(i);
                }
            }
        }
    });
    stages
}

/// Walks a Dockerfile's instructions: calls `each` with every logical line (its first
/// line number, the instruction with continuations joined) and returns the BuildKit-only
/// constructs found on the way.
fn walk(text: &[u8], mut each: impl FnMut(usize, &[u8])) -> Vec<Finding> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut lines = Lines {
        rest: text,
        number: 0,
    };
    let mut found = Vec::new();
    let mut escape = b'\\';
    // The instruction parser honours `# escape=` among directives after optional
    // blanks; the frontend selector reads `# syntax=` from column 0 after a `#!` line.
    let mut escape_open = true;
    let mut syntax_open = true;
    let mut logical = Vec::new();
    while let Some((start, raw)) = lines.next() {
        let line = trim_start(raw);
        if escape_open {
            match directive(line) {
                Some((key, value)) if key.eq_ignore_ascii_case(b"escape") => match value {
                    b"`" => escape = b'`',
                    b"\\" => escape = b'\\',
                    _ => {}
                },
                Some(_) => {}
                None => escape_open = false,
            }
        }
        if syntax_open && !(start == 1 && raw.starts_with(b"#!")) {
            match directive(raw) {
                Some((key, _)) if key.eq_ignore_ascii_case(b"syntax") => {
                    found.push(finding(start, SYNTAX_DIRECTIVE.to_string()));
                    syntax_open = false;
                }
                Some(_) => {}
                None => syntax_open = false,
            }
        }
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        logical.clear();
        let (first, mut more) = strip_continuation(line, escape);
        logical.extend_from_slice(first);
        while more {
            let Some((_, raw)) = lines.next() else { break };
            let t = trim_start(raw);
            if t.is_empty() || t[0] == b'#' {
                continue;
            }
            let (part, m) = strip_continuation(raw, escape);
            logical.extend_from_slice(part);
            more = m;
        }
        each(start, &logical);
        for doc in instruction(&logical, start, &mut found) {
            for (_, raw) in lines.by_ref() {
                let end = if doc.chomp {
                    &raw[raw.iter().take_while(|b| **b == b'\t').count()..]
                } else {
                    raw
                };
                if end == doc.name.as_slice() {
                    break;
                }
            }
        }
    }
    found
}

/// Reads a Dockerfile (at most [`MAX_FILE_BYTES`]) and scans it. A larger file is an
/// error of kind [`io::ErrorKind::InvalidData`], anything but a regular file one of kind
/// [`io::ErrorKind::InvalidInput`] (never opened): the caller skips the scan.
pub fn scan_file(path: &Path) -> io::Result<Vec<Finding>> {
    read_file(path).map(|text| scan(&text))
}

/// Reads a Dockerfile's bytes, as [`scan_file`] does (a regular file of at most
/// [`MAX_FILE_BYTES`]).
pub(crate) fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    // Only a regular file: a pipe or FIFO (`-f /dev/stdin`, `-f <(…)`) read here would be
    // drained before the client reads it, or block with no writer.
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {MAX_FILE_BYTES} bytes", path.display()),
        ));
    }
    Ok(text)
}

/// The images the Dockerfile's `FROM` lines name (flags such as `--platform` skipped,
/// `scratch` left out), in order: for ordering a project's builds, where one target is
/// built `FROM` another's image. Line continuations and build-arg substitution are not
/// followed: such a `FROM` names no target here.
#[must_use]
pub fn base_images(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let first = words.next()?;
            if !first.eq_ignore_ascii_case("FROM") {
                return None;
            }
            let image = words.find(|w| !w.starts_with("--"))?;
            (image != "scratch").then(|| image.to_string())
        })
        .collect()
}

/// One refusal line per finding: `PATH:LINE: RUN --mount needs BuildKit`.
#[must_use]
pub fn refusal_lines(path: &Path, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}: {} needs BuildKit",
                path.display(),
                f.line,
                f.construct
            )
        })
        .collect()
}

/// Where the Dockerfile of a build call is, as the docker CLI resolves it: the context
/// is the single positional argument; `-` (stdin) is not local, and neither is any
/// context that is not an existing directory (the CLI takes an existing path as local
/// before it considers URLs and git references). `-f`/`--file` (the last one wins) is
/// relative to `cwd`, not to the context; `-f -` is stdin. Without it: `Dockerfile` in
/// the context, or `dockerfile` when only that one exists.
#[must_use]
pub fn locate(call: &BuildCall, args: &[OsString], cwd: &Path) -> Location {
    let context = match call.positional[..] {
        [i] => args.get(i),
        _ => None,
    };
    let Some(context) = context.filter(|c| c.as_bytes() != b"-") else {
        return Location::NotLocal;
    };
    let dir = cwd.join(context);
    if !dir.is_dir() {
        return Location::NotLocal;
    }
    match call
        .all(crate::docker::build_flags::BuildFlag::File)
        .last()
        .map(|f| f.value.as_deref())
    {
        Some(None) => Location::NotLocal,
        Some(Some(f)) if f.as_bytes() == b"-" => Location::NotLocal,
        Some(Some(f)) if !f.is_empty() => Location::File(cwd.join(f)),
        _ => {
            let main = dir.join("Dockerfile");
            let lower = dir.join("dockerfile");
            let missing =
                matches!(main.symlink_metadata(), Err(e) if e.kind() == io::ErrorKind::NotFound);
            if missing && lower.symlink_metadata().is_ok() {
                Location::File(lower)
            } else {
                Location::File(main)
            }
        }
    }
}

/// The lines of a text, numbered from 1, each without its trailing `\r`s.
struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        self.number += 1;
        let end = line.iter().rposition(|b| *b != b'\r').map_or(0, |i| i + 1);
        Some((self.number, &line[..end]))
    }
}

/// A heredoc to skip: its terminator, and whether leading tabs are dropped before
/// comparing (`<<-`).
struct Heredoc {
    name: Vec<u8>,
    chomp: bool,
}

fn finding(line: usize, construct: String) -> Finding {
    Finding { line, construct }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim_start(s: &[u8]) -> &[u8] {
    &s[s.iter().take_while(|b| is_space(**b)).count()..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    &s[..s.iter().rposition(|b| !is_space(*b)).map_or(0, |i| i + 1)]
}

/// A known parser directive `#[blanks]key[blanks]=value`: its key and trimmed value.
fn directive(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = trim_start(line.strip_prefix(b"#")?);
    let len = body
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let (key, after) = body.split_at(len);
    if !key.first().is_some_and(u8::is_ascii_alphabetic)
        || !DIRECTIVES.iter().any(|d| key.eq_ignore_ascii_case(d))
    {
        return None;
    }
    let value = trim_start(after).strip_prefix(b"=")?;
    (!value.is_empty()).then(|| (key, trim_end(trim_start(value))))
}

/// The line without a trailing (unescaped) escape character and the blanks after it,
/// and whether there was one, i.e. whether the instruction continues.
fn strip_continuation(line: &[u8], escape: u8) -> (&[u8], bool) {
    let end = line
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(0, |i| i + 1);
    match line[..end].split_last() {
        Some((&last, before)) if last == escape && before.last() != Some(&escape) => (before, true),
        _ => (line, false),
    }
}

/// The first word of a line and the rest after the blanks that follow it.
fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim_start(line);
    let len = line.iter().take_while(|b| !is_space(**b)).count();
    (&line[..len], trim_start(&line[len..]))
}

/// Examines one logical line: pushes its findings and returns its heredocs.
fn instruction(line: &[u8], start: usize, found: &mut Vec<Finding>) -> Vec<Heredoc> {
    let (word, args) = split_word(line);
    let (prefix, word, args) = if word.eq_ignore_ascii_case(b"onbuild") {
        let (word, args) = split_word(leading_flags(args, |_| {}));
        ("ONBUILD ", word, args)
    } else {
        ("", word, args)
    };
    let (name, table) = if word.eq_ignore_ascii_case(b"run") {
        ("RUN", RUN_FLAGS)
    } else if word.eq_ignore_ascii_case(b"copy") {
        ("COPY", COPY_FLAGS)
    } else if word.eq_ignore_ascii_case(b"add") {
        ("ADD", ADD_FLAGS)
    } else {
        return Vec::new();
    };
    let mut seen = 0u32;
    leading_flags(args, |flag| {
        if let Some(i) = table.iter().position(|t| t.as_bytes() == flag) {
            if seen & (1 << i) == 0 {
                seen |= 1 << i;
                found.push(finding(start, format!("{prefix}{name} --{}", table[i])));
            }
        }
    });
    let mut docs = Vec::new();
    if line.windows(2).any(|w| w == b"<<") {
        let mut pos = 0;
        while let Some((from, to)) = next_word(line, pos, false) {
            pos = to;
            if let Some((doc, shown)) = heredoc(&line[from..to]) {
                if docs.is_empty() {
                    let shown = String::from_utf8_lossy(shown);
                    found.push(finding(start, format!("{prefix}{name} heredoc ({shown})")));
                }
                docs.push(doc);
            }
        }
    }
    docs
}

/// Calls `each` with the name of every leading `--flag` word of `args` (the part before
/// `=`, unquoted) and returns the rest of `args` after them.
fn leading_flags(args: &[u8], mut each: impl FnMut(&[u8])) -> &[u8] {
    let mut pos = 0;
    while let Some((from, to)) = next_word(args, pos, true) {
        if !args[from..].starts_with(b"--") {
            return &args[from..];
        }
        pos = to;
        let word = unquote(&args[from..to], true);
        if word == b"--" {
            break;
        }
        let name = word.strip_prefix(b"--").unwrap_or(&word);
        each(name.split(|b| *b == b'=').next().unwrap_or(name));
    }
    &args[pos.min(args.len())..]
}

/// Calls `each` with the name and value (unquoted, after `=`) of every leading
/// `--flag=value` word of `args`.
fn flag_values(args: &[u8], mut each: impl FnMut(&[u8], &[u8])) {
    let mut pos = 0;
    while let Some((from, to)) = next_word(args, pos, true) {
        if !args[from..].starts_with(b"--") {
            return;
        }
        pos = to;
        let word = unquote(&args[from..to], true);
        if word == b"--" {
            return;
        }
        let body = &word[2..];
        if let Some(eq) = body.iter().position(|b| *b == b'=') {
            each(&body[..eq], &body[eq + 1..]);
        }
    }
}

/// The bounds of the next word at or after `pos`: words end at unquoted whitespace; a
/// backslash escapes the next byte outside quotes and inside double quotes (inside
/// single quotes too when `flag_rules`, as BuildKit's flag reader does).
fn next_word(s: &[u8], pos: usize, flag_rules: bool) -> Option<(usize, usize)> {
    let from = pos + s.get(pos..)?.iter().take_while(|b| is_space(**b)).count();
    if from >= s.len() {
        return None;
    }
    let mut quote = None;
    let mut i = from;
    while i < s.len() {
        let b = s[i];
        match quote {
            None if is_space(b) => break,
            None if b == b'\'' || b == b'"' => quote = Some(b),
            Some(q) if b == q => quote = None,
            Some(b'\'') if !flag_rules => {}
            _ if b == b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    Some((from, i.min(s.len())))
}

/// A word with its quotes removed and its backslash escapes resolved.
fn unquote(word: &[u8], flag_rules: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len());
    let mut quote = None;
    let mut i = 0;
    while i < word.len() {
        let b = word[i];
        match quote {
            None if b == b'\'' || b == b'"' => quote = Some(b),
            Some(q) if b == q => quote = None,
            Some(b'\'') if !flag_rules => out.push(b),
            _ if b == b'\\' => {
                if let Some(&next) = word.get(i + 1) {
                    out.push(next);
                }
                i += 1;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// A heredoc word `[digits]<<[-]WORD`: the heredoc and the part to show (`<<…`).
fn heredoc(word: &[u8]) -> Option<(Heredoc, &[u8])> {
    let shown = &word[word.iter().take_while(|b| b.is_ascii_digit()).count()..];
    let rest = shown.strip_prefix(b"<<")?;
    let (chomp, rest) = match rest.strip_prefix(b"-") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains(&b'<') {
        return None;
    }
    let name = unquote(rest, false);
    (!name.is_empty()).then_some((Heredoc { name, chomp }, shown))
}

#[cfg(test)]
mod base_image_tests {
    use super::base_images;

    #[test]
    fn from_lines_name_their_images() {
        let text =
            b"FROM --platform=$X proj-base AS b\nfrom scratch\nRUN x\nFROM b\nCOPY --from=c / /\n";
        assert_eq!(base_images(text), ["proj-base", "b"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_never_opened() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("Dockerfile");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO with no writer would block this test forever.
        let e = scan_file(&fifo).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
    use crate::docker::args::Invocation;

    fn found(text: &[u8]) -> Vec<(usize, String)> {
        scan(text)
            .into_iter()
            .map(|f| (f.line, f.construct))
            .collect()
    }

    /// A table row: name, Dockerfile text, expected (line, construct) findings.
    type Case = (
        &'static str,
        &'static [u8],
        &'static [(usize, &'static str)],
    );

    #[test]
    fn finds_exactly_the_buildkit_only_constructs() {
        let cases: &[Case] = &[
            ("empty", b"", &[]),
            ("blank lines only", b"\n\n  \n", &[]),
            ("plain", b"FROM alpine\nRUN apk add curl\nCOPY . /src\n", &[]),
            (
                "run mount",
                b"FROM a\nRUN --mount=type=cache,target=/root/.cache pip install x\n",
                &[(2, "RUN --mount")],
            ),
            ("run network", b"RUN --network=none make", &[(1, "RUN --network")]),
            ("run security", b"RUN --security=insecure x", &[(1, "RUN --security")]),
            (
                "several flags, each once",
                b"RUN --mount=a --network=host --mount=b cmd",
                &[(1, "RUN --mount"), (1, "RUN --network")],
            ),
            ("flag with separate value", b"RUN --mount type=tmpfs,target=/t x", &[(1, "RUN --mount")]),
            ("copy link", b"COPY --link a b", &[(1, "COPY --link")]),
            ("copy chmod", b"COPY --chmod=755 a b", &[(1, "COPY --chmod")]),
            ("copy parents", b"COPY --parents ./a/*.go /src/", &[(1, "COPY --parents")]),
            ("copy exclude", b"COPY --exclude=*.md . /src", &[(1, "COPY --exclude")]),
            (
                "copy chown and from are legacy",
                b"COPY --chown=1:1 --from=build /a /b\nCOPY --chown=0 --chmod=600 a b",
                &[(2, "COPY --chmod")],
            ),
            ("add checksum", b"ADD --checksum=sha256:00 https://x/y /y", &[(1, "ADD --checksum")]),
            ("add keep-git-dir", b"ADD --keep-git-dir=true https://g/r.git /r", &[(1, "ADD --keep-git-dir")]),
            ("add link", b"ADD --link a b", &[(1, "ADD --link")]),
            ("add chown is legacy", b"ADD --chown=1 a b", &[]),
            ("copy has no checksum", b"COPY --checksum=x a b", &[]),
            ("from platform is legacy", b"FROM --platform=$BUILDPLATFORM alpine AS b", &[]),
            ("flag names are case-sensitive", b"RUN --MOUNT=x y", &[]),
            ("a flag after the command", b"RUN echo --mount", &[]),
            ("quoted is not a flag", b"RUN \"--mount=x\" y", &[]),
            ("double dash ends flags", b"RUN -- --mount=x", &[]),
            ("single dash is not a flag", b"RUN -mount=x", &[]),
            ("quoted flag name", b"RUN --\"mount\"=x y", &[(1, "RUN --mount")]),
            (
                "flag value with quoted blanks",
                b"RUN --mount=\"type=secret,id=a b\" --network=none x",
                &[(1, "RUN --mount"), (1, "RUN --network")],
            ),
            ("lower case", b"run --mount=x y\nCopy --link a b", &[(1, "RUN --mount"), (2, "COPY --link")]),
            ("leading whitespace", b"FROM a\n   \tRUN --mount=x y", &[(2, "RUN --mount")]),
            ("other instructions", b"ENV --mount=x\nLABEL a=<<EOF\nCMD --network", &[]),
            // Parser directives.
            ("syntax", b"# syntax=docker/dockerfile:1\nFROM a", &[(1, "# syntax= directive")]),
            ("syntax spelled loosely", b"#SYNTAX = docker/dockerfile:1.4  \nFROM a", &[(1, "# syntax= directive")]),
            ("syntax after escape", b"# escape=`\n# syntax=x\nFROM a", &[(2, "# syntax= directive")]),
            ("syntax after check", b"# check=skip=all\n#syntax=x\nFROM a", &[(2, "# syntax= directive")]),
            ("syntax after a shebang", b"#!/usr/bin/env buildctl\n# syntax=x\nFROM a", &[(2, "# syntax= directive")]),
            ("syntax after an instruction", b"FROM a\n# syntax=x\nRUN x", &[]),
            ("syntax after a comment", b"# hello\n# syntax=x\nFROM a", &[]),
            ("syntax after a blank line", b"\n# syntax=x\nFROM a", &[]),
            ("syntax after an unknown directive", b"# foo=bar\n# syntax=x\nFROM a", &[]),
            ("indented syntax", b"  # syntax=x\nFROM a", &[]),
            ("syntax without value", b"# syntax=\nFROM a", &[]),
            ("syntax twice", b"# syntax=a\n# syntax=b\nFROM a", &[(1, "# syntax= directive")]),
            // Continuations and comments.
            (
                "backslash continuation",
                b"FROM a\nRUN \\\n  --mount=type=cache,target=/x \\\n  make\nCOPY --link a b\n",
                &[(2, "RUN --mount"), (5, "COPY --link")],
            ),
            (
                "comment and blank lines inside a continuation",
                b"RUN \\\n# note\n\n  \t\n  # indented note --link\n--mount=type=tmpfs,target=/t true\nADD --link a b",
                &[(1, "RUN --mount"), (7, "ADD --link")],
            ),
            (
                "continued command, flag-like word later",
                b"RUN apt-get update \\\n  && echo --mount\nCOPY --chmod=644 a b",
                &[(3, "COPY --chmod")],
            ),
            ("blanks after the backslash", b"RUN \\  \t\n --network=none x", &[(1, "RUN --network")]),
            ("escaped backslash ends the line", b"RUN echo \\\\\nCOPY --link a b", &[(2, "COPY --link")]),
            (
                "a lone backslash joins the next line",
                b"\\\nRUN --mount=x y",
                &[(1, "RUN --mount")],
            ),
            ("continuation at end of text", b"RUN --mount=x \\", &[(1, "RUN --mount")]),
            ("a comment never continues", b"# c \\\nRUN --mount=x y", &[(2, "RUN --mount")]),
            (
                "backtick escape",
                b"# escape=`\nFROM a\nRUN dir `\n  --mount=x\nRUN `\n  --mount=type=cache,target=/c true\n",
                &[(5, "RUN --mount")],
            ),
            (
                "backslash does not continue under backtick escape",
                b"# escape=`\nRUN echo c:\\\nCOPY --link a b",
                &[(3, "COPY --link")],
            ),
            (
                "escape directive after an instruction is a comment",
                b"FROM a\n# escape=`\nRUN x `\nCOPY --link a b",
                &[(4, "COPY --link")],
            ),
            (
                "escape directive after a shebang is a comment",
                b"#!/bin/x\n# escape=`\nRUN x `\nCOPY --link a b",
                &[(4, "COPY --link")],
            ),
            // Heredocs.
            (
                "run heredoc body is skipped",
                b"FROM a\nRUN <<EOF\napt-get update\nRUN --mount=x y\nCOPY --link a b\nEOF\nRUN true",
                &[(2, "RUN heredoc (<<EOF)")],
            ),
            (
                "chomped terminator",
                b"RUN <<-EOT\n\techo\n\t\tEOT\nCOPY --link a b",
                &[(1, "RUN heredoc (<<-EOT)"), (4, "COPY --link")],
            ),
            (
                "tabs do not end a plain heredoc",
                b"RUN <<EOF\n\tEOF\nRUN --mount=x y\nEOF\nRUN --network=none z",
                &[(1, "RUN heredoc (<<EOF)"), (5, "RUN --network")],
            ),
            (
                "double-quoted name",
                b"COPY <<\"EOF\" /etc/x\nADD --checksum=1 x\nEOF\n",
                &[(1, "COPY heredoc (<<\"EOF\")")],
            ),
            (
                "single-quoted name",
                b"ADD <<'END' /x\nRUN --mount=x\nEND\nADD --link a b",
                &[(1, "ADD heredoc (<<'END')"), (4, "ADD --link")],
            ),
            (
                "two heredocs, skipped in order",
                b"RUN <<A cat - /dev/fd/3 3<<B\na\nA\nRUN --mount=x\nB\nRUN --network=none x",
                &[(1, "RUN heredoc (<<A)"), (6, "RUN --network")],
            ),
            (
                "flags and heredoc",
                b"RUN --mount=type=cache,target=/x <<EOF\nbody\nEOF",
                &[(1, "RUN --mount"), (1, "RUN heredoc (<<EOF)")],
            ),
            (
                "heredoc word on a continuation line",
                b"RUN cat \\\n  <<EOF\nRUN --mount=x\nEOF\nRUN --network=host x",
                &[(1, "RUN heredoc (<<EOF)"), (5, "RUN --network")],
            ),
            ("numeric name", b"RUN cat <<2\nRUN --mount=x\n2\n", &[(1, "RUN heredoc (<<2)")]),
            ("unterminated heredoc", b"RUN <<EOF\nRUN --mount=x", &[(1, "RUN heredoc (<<EOF)")]),
            ("heredoc in quotes", b"RUN echo \"a << b\" 'c <<d'\nRUN --mount=x y", &[(2, "RUN --mount")]),
            ("here-string", b"RUN cat <<< x\nRUN --mount=x y", &[(2, "RUN --mount")]),
            ("shift", b"RUN echo $((1 << 2))\nRUN echo 1 << 2\nRUN --mount=x y", &[(3, "RUN --mount")]),
            ("glued to the command", b"RUN cat<<EOF\nCOPY --link a b", &[(2, "COPY --link")]),
            ("escaped", b"RUN cat \\<<EOF\nCOPY --link a b", &[(2, "COPY --link")]),
            ("empty quoted name", b"RUN cat <<''\nCOPY --link a b", &[(2, "COPY --link")]),
            (
                "heredoc outside run, copy, add",
                b"ENV A=<<EOF\nRUN --mount=x y\nEOF",
                &[(2, "RUN --mount")],
            ),
            // ONBUILD.
            ("onbuild run mount", b"ONBUILD RUN --mount=x y", &[(1, "ONBUILD RUN --mount")]),
            ("onbuild lower case", b"onbuild copy --chmod=1 a b", &[(1, "ONBUILD COPY --chmod")]),
            (
                "onbuild heredoc",
                b"ONBUILD RUN <<EOF\nRUN --mount=x\nEOF\nONBUILD ADD --chown=1 a b",
                &[(1, "ONBUILD RUN heredoc (<<EOF)")],
            ),
            ("onbuild plain", b"ONBUILD RUN echo --mount", &[]),
            // Line endings and bytes.
            (
                "crlf",
                b"FROM a\r\nRUN --mount=x \\\r\n  y\r\nCOPY --link a b\r\n",
                &[(2, "RUN --mount"), (4, "COPY --link")],
            ),
            (
                "crlf heredoc",
                b"RUN <<EOF\r\nRUN --mount=x\r\nEOF\r\nADD --keep-git-dir=true u /d\r\n",
                &[(1, "RUN heredoc (<<EOF)"), (4, "ADD --keep-git-dir")],
            ),
            ("crlf directive", b"# syntax=x\r\n\r\nFROM a\r\n", &[(1, "# syntax= directive")]),
            ("byte-order mark", b"\xEF\xBB\xBF# syntax=x\nFROM a", &[(1, "# syntax= directive")]),
            (
                "non-utf-8",
                b"FROM \xff\xfe\nRUN --mount=\xff x \xc3\nLABEL \xa0=1",
                &[(2, "RUN --mount")],
            ),
            (
                "non-utf-8 heredoc name",
                b"RUN <<\xffE\nRUN --mount=x\n\xffE\nCOPY --link a b",
                &[(1, "RUN heredoc (<<\u{fffd}E)"), (4, "COPY --link")],
            ),
            ("nul bytes", b"\0\nRUN\0--mount=x\nRUN --mount=\0\nRUN --link\0", &[(3, "RUN --mount")]),
        ];
        for (name, text, want) in cases {
            let want: Vec<(usize, String)> =
                want.iter().map(|(l, c)| (*l, (*c).to_string())).collect();
            assert_eq!(found(text), want, "case {name:?}");
        }
    }

    fn stage_table(text: &str) -> Vec<(Option<String>, Vec<usize>)> {
        stages(text.as_bytes())
            .into_iter()
            .map(|s| (s.name, s.uses))
            .collect()
    }

    #[test]
    fn stages_and_what_each_uses() {
        let text = "# escape=`\n\
            FROM --platform=$BUILDPLATFORM golang:1 AS Deps\n\
            RUN go mod download\n\
            FROM deps AS build\n\
            COPY --from=tools /x /x\n\
            RUN --mount=type=cache,target=/c `\n\
              --mount=type=bind,from=deps,target=/d make\n\
            FROM alpine AS tools\n\
            RUN cat <<EOF\n\
            FROM build AS not-a-stage\n\
            EOF\n\
            FROM scratch\n\
            COPY --from=build /app /app\n\
            COPY --from=2 /t /t\n\
            COPY --from=nginx:1 /etc/nginx /etc/nginx\n";
        assert_eq!(
            stage_table(text),
            vec![
                (Some("deps".into()), vec![]),
                // `tools` is defined later: at this point it is an image.
                (Some("build".into()), vec![0]),
                (Some("tools".into()), vec![]),
                (None, vec![1, 2]),
            ]
        );
        assert_eq!(stage_table("FROM a\nRUN x\n"), vec![(None, vec![])]);
        assert_eq!(stage_table("RUN x\nCOPY --from=a b c\n"), vec![]);
    }

    #[test]
    fn refusal_lines_name_path_line_and_construct() {
        let findings = scan(b"FROM a\nRUN --mount=x y\nCOPY --chmod=1 a b");
        assert_eq!(
            refusal_lines(Path::new("app/Dockerfile"), &findings),
            vec![
                "app/Dockerfile:2: RUN --mount needs BuildKit".to_string(),
                "app/Dockerfile:3: COPY --chmod needs BuildKit".to_string(),
            ]
        );
        assert!(refusal_lines(Path::new("x"), &[]).is_empty());
    }

    #[test]
    fn scan_file_reads_up_to_one_mebibyte() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("Dockerfile");
        std::fs::write(&small, "FROM a\nRUN --network=none x\n").unwrap();
        assert_eq!(
            scan_file(&small).unwrap(),
            vec![finding(2, "RUN --network".into())]
        );

        let exact = dir.path().join("exact");
        let mut text = b"RUN --mount=x y\n".to_vec();
        text.resize(MAX_FILE_BYTES as usize, b'\n');
        std::fs::write(&exact, &text).unwrap();
        assert_eq!(scan_file(&exact).unwrap().len(), 1);

        text.push(b'\n');
        let big = dir.path().join("big");
        std::fs::write(&big, &text).unwrap();
        assert_eq!(
            scan_file(&big).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );

        let missing = scan_file(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    /// A build command line parsed as the shim parses it, and `locate` on it.
    fn locate_in(cwd: &Path, args: &[&str]) -> Location {
        let inv = Invocation::parse(args.iter().map(OsString::from).collect());
        let call = inv.build_call().unwrap();
        locate(&call, &inv.args, cwd)
    }

    #[test]
    fn locate_defaults_to_the_context_dockerfile() {
        let cwd = tempfile::tempdir().unwrap();
        let ctx = cwd.path().join("ctx");
        std::fs::create_dir(&ctx).unwrap();
        // Neither file exists: the default name (reading it fails later).
        assert_eq!(
            locate_in(cwd.path(), &["build", "-t", "x", "ctx"]),
            Location::File(ctx.join("Dockerfile"))
        );
        // Only the lower-case one: the CLI's fallback.
        std::fs::write(ctx.join("dockerfile"), "FROM a").unwrap();
        assert_eq!(
            locate_in(cwd.path(), &["build", "ctx"]),
            Location::File(ctx.join("dockerfile"))
        );
        // Both: the capitalised one.
        std::fs::write(ctx.join("Dockerfile"), "FROM a").unwrap();
        assert_eq!(
            locate_in(cwd.path(), &["buildx", "build", "ctx", "--load"]),
            Location::File(ctx.join("Dockerfile"))
        );
        let abs = ctx.to_str().unwrap();
        assert_eq!(
            locate_in(Path::new("/nonexistent"), &["image", "build", abs]),
            Location::File(ctx.join("Dockerfile"))
        );
        assert_eq!(
            locate_in(&ctx, &["build", "."]),
            Location::File(ctx.join(".").join("Dockerfile"))
        );
    }

    #[test]
    fn locate_takes_file_relative_to_cwd_not_context() {
        let cwd = tempfile::tempdir().unwrap();
        let ctx = cwd.path().join("ctx");
        std::fs::create_dir(&ctx).unwrap();
        let c = cwd.path();
        assert_eq!(
            locate_in(c, &["build", "-f", "docker/App.Dockerfile", "ctx"]),
            Location::File(c.join("docker/App.Dockerfile"))
        );
        assert_eq!(
            locate_in(c, &["build", "--file=a", "-fb", "ctx"]),
            Location::File(c.join("b")),
            "the last -f wins"
        );
        assert_eq!(
            locate_in(c, &["build", "ctx", "--file", "/abs/Dockerfile"]),
            Location::File(PathBuf::from("/abs/Dockerfile"))
        );
        assert_eq!(
            locate_in(c, &["build", "-f", "", "ctx"]),
            Location::File(ctx.join("Dockerfile")),
            "an empty -f is the default"
        );
    }

    #[test]
    fn locate_finds_no_local_file_for_stdin_remote_or_missing_contexts() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::create_dir(cwd.path().join("ctx")).unwrap();
        std::fs::write(cwd.path().join("file"), "").unwrap();
        let not_local: &[&[&str]] = &[
            &["build", "-"],
            &["build", "-f", "Dockerfile", "-"],
            &["build", "-f", "-", "ctx"],
            &["build", "ctx", "-f"],
            &["build", "https://example.com/ctx.tar.gz"],
            &["build", "http://example.com/ctx"],
            &["build", "git://example.com/r.git"],
            &["build", "git@github.com:o/r.git"],
            &["build", "github.com/o/r"],
            &[
                "build",
                "-f",
                "Dockerfile",
                "https://github.com/o/r.git#main",
            ],
            &["build", "missing-dir"],
            &["build", "file"],
            &["build"],
            &["build", "-t", "x"],
            &["build", "ctx", "ctx"],
        ];
        for args in not_local {
            assert_eq!(locate_in(cwd.path(), args), Location::NotLocal, "{args:?}");
        }
    }
}
