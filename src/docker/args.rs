//! The docker argument grammar: global flags, the command words, and the flags of a
//! build call (read with the arities of [`super::build_flags::BUILD_FLAGS`]).
//!
//! Modelled on sccache's argument tables: a static table says which flags take a value,
//! an iterator classifies each argument, and unknown arguments are kept, never rejected.
//! Invariants:
//! - Nothing here changes an argument: every argument is an `OsString` and is kept byte
//!   for byte; rewriting happens in `decide` by index ranges into the original list.
//! - Global-flag parsing stops at the first word that is not a flag (docker's own rule),
//!   so `docker run -H x` never reads `-H` as a global flag.
//!
//! The build flags' table, which says far more about each flag than its arity, is
//! [`super::build_flags`]; this file keeps the small global and compose tables.

use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

pub use super::build_flags::BuildCall;
use super::build_flags::{BuildFlag, BUILD_FLAGS};

/// How a flag consumes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `--flag` (or `--flag=true|false`).
    Bool,
    /// `--flag v`, `--flag=v`, and for short flags `-fv`.
    Value,
}

/// One entry of a flag table: long name (without `--`), optional short letter, arity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    /// The long name, without `--`.
    pub long: &'static str,
    /// The short letter, if any.
    pub short: Option<u8>,
    /// Whether it takes a value.
    pub arity: Arity,
}

impl AsRef<FlagSpec> for FlagSpec {
    fn as_ref(&self) -> &FlagSpec {
        self
    }
}

const fn flag(long: &'static str, short: Option<u8>, arity: Arity) -> FlagSpec {
    FlagSpec { long, short, arity }
}

/// docker's global flags (docker/cli `cli/flags/options.go`), sorted by long name.
static GLOBAL_FLAGS: &[FlagSpec] = &[
    flag("config", None, Arity::Value),
    flag("context", Some(b'c'), Arity::Value),
    flag("debug", Some(b'D'), Arity::Bool),
    flag("help", Some(b'h'), Arity::Bool),
    flag("host", Some(b'H'), Arity::Value),
    flag("log-level", Some(b'l'), Arity::Value),
    flag("tls", None, Arity::Bool),
    flag("tlscacert", None, Arity::Value),
    flag("tlscert", None, Arity::Value),
    flag("tlskey", None, Arity::Value),
    flag("tlsverify", None, Arity::Bool),
    flag("version", Some(b'v'), Arity::Bool),
];

/// `docker compose`'s own flags before its subcommand (docker/compose `cmd/compose`),
/// sorted by long name: only the arity matters, to find the subcommand.
static COMPOSE_FLAGS: &[FlagSpec] = &[
    flag("all-resources", None, Arity::Bool),
    flag("ansi", None, Arity::Value),
    flag("compatibility", None, Arity::Bool),
    flag("dry-run", None, Arity::Bool),
    flag("env-file", None, Arity::Value),
    flag("file", Some(b'f'), Arity::Value),
    flag("parallel", None, Arity::Value),
    flag("profile", None, Arity::Value),
    flag("progress", None, Arity::Value),
    flag("project-directory", None, Arity::Value),
    flag("project-name", Some(b'p'), Arity::Value),
];

/// The compose subcommands that may build images (`up` and `run` build missing ones).
const COMPOSE_BUILDING: &[&[u8]] = &[b"build", b"create", b"run", b"up", b"watch"];

/// One flag occurrence found in an argument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUse {
    /// The canonical long name (`tag` for `-t`), or the name as written when unknown.
    pub name: String,
    /// The value, when the flag takes one (`None` for booleans and a missing value).
    pub value: Option<OsString>,
    /// The arguments this occurrence spans, as indices into [`Invocation::args`].
    pub span: Range<usize>,
}

/// The global flags that matter for finding the daemon, parsed from before the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Globals {
    /// Every global flag occurrence, in order.
    pub flags: Vec<FlagUse>,
}

impl Globals {
    /// The last value given for a global flag (docker keeps the last one).
    #[must_use]
    pub fn value(&self, long: &str) -> Option<&OsStr> {
        self.flags
            .iter()
            .rev()
            .find(|f| f.name == long)
            .and_then(|f| f.value.as_deref())
    }

    /// Whether a boolean global flag was given (and not as `=false`).
    #[must_use]
    pub fn is_set(&self, long: &str) -> bool {
        self.flags
            .iter()
            .any(|f| f.name == long && f.value.as_deref().map_or(true, |v| !is_false(v)))
    }
}

/// Go's `strconv.ParseBool`, which the docker CLI uses for boolean flags
/// (`--push=false`) and `DOCKER_BUILDKIT`: the one copy of its table in dockroute.
/// `None` for anything else (`yes`, `on`, an empty value).
#[must_use]
pub fn parse_bool(v: &[u8]) -> Option<bool> {
    match v {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

/// Whether a boolean flag's value is one Go's `ParseBool` reads as false.
pub(crate) fn is_false(v: &OsStr) -> bool {
    parse_bool(v.as_bytes()) == Some(false)
}

/// Which of docker's build commands was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildForm {
    /// `docker build`
    Build,
    /// `docker image build`
    ImageBuild,
    /// `docker builder build`
    BuilderBuild,
    /// `docker buildx build`
    BuildxBuild,
    /// `docker buildx b`
    BuildxB,
}

/// buildx commands that start a builder of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BootForm {
    /// `docker buildx bake`
    Bake,
    /// `docker buildx inspect --bootstrap`
    InspectBootstrap,
    /// `docker buildx create --bootstrap`
    CreateBootstrap,
}

/// What kind of call this is, which decides whether anything is probed at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// A build: probed and routed.
    Build(BuildForm),
    /// `docker compose …`: probed and routed.
    Compose,
    /// A buildx command that starts a builder (a privileged container with the default
    /// `docker-container` driver): probed, and refused where privileged is forbidden.
    BuilderBoot(BootForm),
    /// A command on images (`tag`, `push`, `save`, `images`, `rmi`, `image inspect` …):
    /// passed through untouched, except where no daemon can answer it and dockroute holds
    /// records of images built on BuildKit ([`crate::route::image_routes`]); with a
    /// client on PATH the shim reads the record store (one small file, usually absent)
    /// before deciding, and probes the daemon only when the store names the image.
    Image(ImageOp),
    /// Everything else (and no command at all): passed through untouched.
    Other,
}

impl CommandKind {
    /// Whether a call of this kind goes straight to the first client on PATH with no
    /// fact gathered at all (the hot path). [`CommandKind::Image`] calls also pass
    /// straight through when the record store does not name their image.
    #[must_use]
    pub fn passes_through(self) -> bool {
        self == CommandKind::Other
    }
}

/// The image commands a record of a BuildKit build can answer with no daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageOp {
    /// `docker tag SRC DST`, `docker image tag`.
    Tag,
    /// `docker push NAME`, `docker image push`.
    Push,
    /// `docker save`, `docker image save`.
    Save,
    /// `docker images`, `docker image ls|list`.
    List,
    /// `docker rmi`, `docker image rm|remove`.
    Remove,
    /// `docker image inspect`.
    Inspect,
}

impl ImageOp {
    /// The top-level command word (`docker WORD`) of an image command.
    fn top(word: &[u8]) -> Option<ImageOp> {
        Some(match word {
            b"tag" => ImageOp::Tag,
            b"push" => ImageOp::Push,
            b"save" => ImageOp::Save,
            b"images" => ImageOp::List,
            b"rmi" => ImageOp::Remove,
            _ => return None,
        })
    }

    /// The word after `docker image`.
    fn under_image(word: &[u8]) -> Option<ImageOp> {
        Some(match word {
            b"tag" => ImageOp::Tag,
            b"push" => ImageOp::Push,
            b"save" => ImageOp::Save,
            b"ls" | b"list" => ImageOp::List,
            b"rm" | b"remove" => ImageOp::Remove,
            b"inspect" => ImageOp::Inspect,
            _ => return None,
        })
    }
}

/// A docker command line, parsed just enough to route it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The arguments after argv\[0\], exactly as received.
    pub args: Vec<OsString>,
    /// Global flags before the command.
    pub globals: Globals,
    /// Index of the first command word (`args.len()` when there is none).
    pub command_at: usize,
    /// Index of the first argument after the command words.
    pub rest_at: usize,
    /// The kind of command.
    pub kind: CommandKind,
}

impl Invocation {
    /// Parses a docker argument list (without argv\[0\]). Never fails: anything it does
    /// not understand makes the call `Other`, which passes through untouched.
    #[must_use]
    pub fn parse(args: Vec<OsString>) -> Invocation {
        let (flags, command_at) = scan_flags(&args, 0, GLOBAL_FLAGS, true);
        let word = |i: usize| args.get(i).map(|a| a.as_bytes());
        let (kind, words) = match word(command_at) {
            Some(b"build") => (CommandKind::Build(BuildForm::Build), 1),
            Some(b"compose") => (CommandKind::Compose, 1),
            Some(b"image") => match next_word(&args, command_at + 1) {
                Some((i, b"build")) => (
                    CommandKind::Build(BuildForm::ImageBuild),
                    i - command_at + 1,
                ),
                Some((i, w)) => match ImageOp::under_image(w) {
                    Some(op) => (CommandKind::Image(op), i - command_at + 1),
                    None => (CommandKind::Other, 0),
                },
                None => (CommandKind::Other, 0),
            },
            Some(b"builder") => match next_word(&args, command_at + 1) {
                Some((i, b"build")) => (
                    CommandKind::Build(BuildForm::BuilderBuild),
                    i - command_at + 1,
                ),
                _ => (CommandKind::Other, 0),
            },
            Some(b"buildx") => match next_word(&args, command_at + 1) {
                Some((i, b"build")) => (
                    CommandKind::Build(BuildForm::BuildxBuild),
                    i - command_at + 1,
                ),
                Some((i, b"b")) => (CommandKind::Build(BuildForm::BuildxB), i - command_at + 1),
                // A named builder (`--builder`) or a driver other than docker-container
                // (`create --driver remote …`) starts no privileged container here.
                Some((i, b"bake")) if option_value(&args[i + 1..], b"builder").is_none() => {
                    (CommandKind::BuilderBoot(BootForm::Bake), i - command_at + 1)
                }
                Some((i, word @ (b"inspect" | b"create")))
                    if has_bootstrap(&args[i + 1..])
                        && option_value(&args[i + 1..], b"builder").is_none()
                        && option_value(&args[i + 1..], b"driver")
                            .map_or(true, |d| d == b"docker-container") =>
                {
                    (
                        CommandKind::BuilderBoot(if word == b"inspect" {
                            BootForm::InspectBootstrap
                        } else {
                            BootForm::CreateBootstrap
                        }),
                        i - command_at + 1,
                    )
                }
                _ => (CommandKind::Other, 0),
            },
            Some(w) => match ImageOp::top(w) {
                Some(op) => (CommandKind::Image(op), 1),
                None => (CommandKind::Other, 0),
            },
            None => (CommandKind::Other, 0),
        };
        // `docker --help build` or `docker -v build` ask docker itself, not a build.
        let kind = if kind != CommandKind::Other
            && flags
                .iter()
                .any(|f| f.name == "help" || f.name == "version")
        {
            CommandKind::Other
        } else {
            kind
        };
        Invocation {
            rest_at: command_at + words,
            globals: Globals { flags },
            command_at,
            kind,
            args,
        }
    }

    /// The arguments after the command words (`build`, `image build`, …).
    #[must_use]
    pub fn rest(&self) -> &[OsString] {
        &self.args[self.rest_at.min(self.args.len())..]
    }

    /// The global flag arguments, as typed.
    #[must_use]
    pub fn global_args(&self) -> &[OsString] {
        &self.args[..self.command_at.min(self.args.len())]
    }

    /// Whether a `docker compose` call may build: its subcommand (after compose's own
    /// flags) is `build`, `up`, `run`, `create` or `watch`. `false` for other calls.
    #[must_use]
    pub fn compose_builds(&self) -> bool {
        if self.kind != CommandKind::Compose {
            return false;
        }
        let (_, at) = scan_flags(&self.args, self.rest_at, COMPOSE_FLAGS, true);
        self.args
            .get(at)
            .is_some_and(|w| COMPOSE_BUILDING.contains(&w.as_bytes()))
    }

    /// The subcommand of a `docker compose` call (after compose's own flags); `None`
    /// for other calls or when there is none.
    #[must_use]
    pub fn compose_subcommand(&self) -> Option<&OsStr> {
        if self.kind != CommandKind::Compose {
            return None;
        }
        let (_, at) = scan_flags(&self.args, self.rest_at, COMPOSE_FLAGS, true);
        self.args.get(at).map(OsString::as_os_str)
    }

    /// The values this call assigns that must never be printed: each `--build-arg K=V`'s
    /// `V` for a build (read with the build grammar), each `-e/--env K=V`'s `V` for other
    /// commands (`run`, `create`, `exec` …; their only flags whose values are assignments),
    /// and `docker login`'s `-p/--password` value.
    #[must_use]
    pub fn assigned_values(&self) -> Vec<OsString> {
        let value_of = |pair: &OsStr| {
            let b = pair.as_bytes();
            b.iter()
                .position(|c| *c == b'=')
                .map(|i| OsStr::from_bytes(&b[i + 1..]).to_owned())
        };
        if let Some(call) = self.build_call() {
            return call
                .all(BuildFlag::BuildArg)
                .filter_map(|f| f.value.as_deref().and_then(value_of))
                .collect();
        }
        let mut out = Vec::new();
        let login = self.args.get(self.command_at).is_some_and(|w| w == "login");
        let mut rest = self.rest().iter();
        while let Some(a) = rest.next() {
            let b = a.as_bytes();
            if login {
                match b {
                    b"-p" | b"--password" => out.extend(rest.next().cloned()),
                    _ if b.starts_with(b"--password=") => {
                        out.push(OsStr::from_bytes(&b[11..]).to_owned());
                    }
                    _ if b.starts_with(b"-p") && b.len() > 2 => out.push(
                        OsStr::from_bytes(b[2..].strip_prefix(b"=").unwrap_or(&b[2..])).to_owned(),
                    ),
                    _ => {}
                }
                continue;
            }
            let pair = match b {
                b"--" => break,
                b"-e" | b"--env" => rest.next().map(OsString::as_os_str),
                _ if b.starts_with(b"--env=") => Some(OsStr::from_bytes(&b[6..])),
                _ if b.starts_with(b"-e") && b.len() > 2 && b[2] != b'-' => Some(
                    OsStr::from_bytes(b[2..].strip_prefix(b"=").unwrap_or(&b[2..])),
                ),
                _ => None,
            };
            out.extend(pair.and_then(value_of));
        }
        out
    }

    /// Parses the build flags of a build-like call. `None` for other calls.
    #[must_use]
    pub fn build_call(&self) -> Option<BuildCall> {
        matches!(self.kind, CommandKind::Build(_)).then(|| {
            let (flags, positional) = scan_all(&self.args, self.rest_at, BUILD_FLAGS);
            BuildCall::new(flags, positional)
        })
    }
}

/// The value of `--NAME V` or `--NAME=V` among the arguments (the last one), before any
/// `--`.
fn option_value<'a>(args: &'a [OsString], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    let mut words = args
        .iter()
        .map(|a| a.as_bytes())
        .take_while(|a| *a != b"--");
    while let Some(a) = words.next() {
        let Some(body) = a.strip_prefix(b"--") else {
            continue;
        };
        if body == name {
            found = words.next();
        } else if body.len() > name.len() && body.starts_with(name) && body[name.len()] == b'=' {
            found = Some(&body[name.len() + 1..]);
        }
    }
    found
}

/// Whether `--bootstrap` (not `=false`) is among the arguments, before any `--`.
fn has_bootstrap(args: &[OsString]) -> bool {
    args.iter()
        .take_while(|a| a.as_bytes() != b"--")
        .any(|a| matches!(a.as_bytes(), b"--bootstrap" | b"--bootstrap=true"))
}

/// The word at `from`, for the second word of `image build`: a flag there
/// (`docker image --help build`) matches no command word, so the call is not a build.
fn next_word(args: &[OsString], from: usize) -> Option<(usize, &[u8])> {
    args.get(from).map(|a| (from, a.as_bytes()))
}

fn lookup_long<'t, T: AsRef<FlagSpec>>(table: &'t [T], name: &[u8]) -> Option<&'t FlagSpec> {
    table
        .binary_search_by(|f| f.as_ref().long.as_bytes().cmp(name))
        .ok()
        .map(|i| table[i].as_ref())
}

fn lookup_short<T: AsRef<FlagSpec>>(table: &[T], c: u8) -> Option<&FlagSpec> {
    table.iter().map(AsRef::as_ref).find(|f| f.short == Some(c))
}

/// Classifies the flag argument at `args[i]`; returns its occurrences (several for a
/// cluster of short flags) and the next index. `None` when `args[i]` is not a flag.
fn classify<T: AsRef<FlagSpec>>(
    args: &[OsString],
    i: usize,
    table: &[T],
) -> Option<(Vec<FlagUse>, usize)> {
    let a = args[i].as_bytes();
    if a.len() < 2 || a[0] != b'-' || a == b"--" {
        return None;
    }
    if let Some(body) = a.strip_prefix(b"--") {
        let (name, inline) = match body.iter().position(|b| *b == b'=') {
            Some(p) => (
                &body[..p],
                Some(OsStr::from_bytes(&body[p + 1..]).to_owned()),
            ),
            None => (body, None),
        };
        let info = lookup_long(table, name);
        let name = info.map_or_else(
            || String::from_utf8_lossy(name).into_owned(),
            |f| f.long.to_string(),
        );
        // Unknown long flags are taken as booleans: at worst an argument is misread as
        // positional, never one taken away from the call.
        let arity = info.map_or(Arity::Bool, |f| f.arity);
        let (value, end) = match (inline, arity) {
            (Some(v), _) => (Some(v), i + 1),
            (None, Arity::Bool) => (None, i + 1),
            (None, Arity::Value) => match args.get(i + 1) {
                Some(v) => (Some(v.clone()), i + 2),
                None => (None, i + 1),
            },
        };
        return Some((
            vec![FlagUse {
                name,
                value,
                span: i..end,
            }],
            end,
        ));
    }
    // Short flags, as pflag reads them: `-t v`, `-tv`, `-t=v`, and clusters of booleans
    // that may end in one value flag (`-qt v`, `-qtv`). An unknown letter ends the cluster
    // as one unknown boolean (never an argument taken from the next word).
    let flag_use = |name: String, value: Option<OsString>, end: usize| FlagUse {
        name,
        value,
        span: i..end,
    };
    let mut uses = Vec::new();
    let mut j = 1;
    while j < a.len() {
        let Some(info) = lookup_short(table, a[j]) else {
            uses.push(flag_use(
                String::from_utf8_lossy(&a[j..]).into_owned(),
                None,
                i + 1,
            ));
            return Some((uses, i + 1));
        };
        let rest = &a[j + 1..];
        match info.arity {
            Arity::Value if !rest.is_empty() => {
                let v = rest.strip_prefix(b"=").unwrap_or(rest);
                uses.push(flag_use(
                    info.long.to_string(),
                    Some(OsStr::from_bytes(v).to_owned()),
                    i + 1,
                ));
                return Some((uses, i + 1));
            }
            Arity::Value => {
                let value = args.get(i + 1).cloned();
                let end = if value.is_some() { i + 2 } else { i + 1 };
                uses.push(flag_use(info.long.to_string(), value, end));
                return Some((uses, end));
            }
            Arity::Bool => {
                if let Some(v) = rest.strip_prefix(b"=") {
                    uses.push(flag_use(
                        info.long.to_string(),
                        Some(OsStr::from_bytes(v).to_owned()),
                        i + 1,
                    ));
                    return Some((uses, i + 1));
                }
                uses.push(flag_use(info.long.to_string(), None, i + 1));
                j += 1;
            }
        }
    }
    Some((uses, i + 1))
}

/// The index of the command word (what [`Invocation::parse`] calls `command_at`) in a
/// docker argument list without argv\[0\] (`len` arguments, `arg(i)` the i-th), read with
/// the global flags' table as `parse` reads it, but without allocating: the view of the
/// grammar that the lean pass-through ([`crate::fast_path`]) has before anything is set
/// up. A unit test holds it to `parse` over every short combination of tricky arguments.
#[inline(always)] // part of the lean path's one function (see fast_path)
pub(crate) fn command_at<'a>(len: usize, arg: impl Fn(usize) -> &'a [u8]) -> usize {
    let mut i = 0;
    while i < len {
        match flag_extent(arg(i), i + 1 < len, GLOBAL_FLAGS) {
            Some(n) => i += n,
            None => break,
        }
    }
    i
}

/// How many arguments the flag `a` spans (1, or 2 when its value is the next argument and
/// there is one), or `None` when `a` is not a flag: [`classify`]'s reading of `a`, without
/// building its [`FlagUse`]s.
#[inline(always)]
fn flag_extent<T: AsRef<FlagSpec>>(a: &[u8], has_next: bool, table: &[T]) -> Option<usize> {
    let takes_next = |arity| usize::from(arity == Arity::Value && has_next) + 1;
    if a.len() < 2 || a[0] != b'-' || a == b"--" {
        return None;
    }
    if let Some(body) = a.strip_prefix(b"--") {
        if body.contains(&b'=') {
            return Some(1);
        }
        return Some(lookup_long(table, body).map_or(1, |f| takes_next(f.arity)));
    }
    for (j, c) in a.iter().enumerate().skip(1) {
        let Some(info) = lookup_short(table, *c) else {
            return Some(1);
        };
        let rest = &a[j + 1..];
        match info.arity {
            Arity::Value if rest.is_empty() => return Some(takes_next(Arity::Value)),
            Arity::Value => return Some(1),
            Arity::Bool if rest.starts_with(b"=") => return Some(1),
            Arity::Bool => {}
        }
    }
    Some(1)
}

/// Scans flags from `from` until the first non-flag word (or `--`).
/// Returns the flags and the index of that word.
fn scan_flags<T: AsRef<FlagSpec>>(
    args: &[OsString],
    from: usize,
    table: &[T],
    stop_at_word: bool,
) -> (Vec<FlagUse>, usize) {
    let mut flags = Vec::new();
    let mut i = from;
    while i < args.len() {
        match classify(args, i, table) {
            Some((f, next)) => {
                flags.extend(f);
                i = next;
            }
            None if stop_at_word => break,
            None => i += 1,
        }
    }
    (flags, i)
}

/// Scans a whole argument tail: flags anywhere (cobra interleaves them with
/// positionals), positionals recorded, everything after `--` positional.
fn scan_all<T: AsRef<FlagSpec>>(
    args: &[OsString],
    from: usize,
    table: &[T],
) -> (Vec<FlagUse>, Vec<usize>) {
    let mut flags = Vec::new();
    let mut positional = Vec::new();
    let mut i = from;
    while i < args.len() {
        if args[i].as_bytes() == b"--" {
            positional.extend(i + 1..args.len());
            break;
        }
        match classify(args, i, table) {
            Some((f, next)) => {
                flags.extend(f);
                i = next;
            }
            None => {
                positional.push(i);
                i += 1;
            }
        }
    }
    (flags, positional)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `strconv.ParseBool` table, nothing more: `yes`, `on` and empty are not booleans.
    #[test]
    fn parse_bool_is_gos() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t.as_bytes()), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f.as_bytes()), Some(false), "{f}");
        }
        for n in ["", "yes", "on", "tRUE", "2", " true"] {
            assert_eq!(parse_bool(n.as_bytes()), None, "{n:?}");
        }
    }

    fn inv(args: &[&str]) -> Invocation {
        Invocation::parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn compose_calls_that_may_build() {
        for (args, builds) in [
            (&["compose", "build"][..], true),
            (&["compose", "up", "-d"], true),
            (&["compose", "-f", "ci.yml", "-p", "x", "run", "app"], true),
            (
                &["compose", "--file=ci.yml", "--profile", "up", "create"],
                true,
            ),
            (&["compose", "ps"], false),
            (&["compose", "--profile", "build", "logs"], false),
            (&["compose", "version"], false),
            (&["compose"], false),
            (&["build", "."], false),
        ] {
            assert_eq!(inv(args).compose_builds(), builds, "{args:?}");
        }
    }

    /// The lean path's allocation-free reading finds the command word where `parse` does,
    /// for every list of up to three arguments drawn from flags of each shape.
    #[test]
    fn command_at_agrees_with_parse() {
        let pool = [
            "ps",
            "build",
            "-H",
            "-Hx",
            "-H=x",
            "--host",
            "--host=x",
            "-D",
            "-Dl",
            "-DH",
            "-DHx",
            "-Dx",
            "-D=1",
            "-c",
            "--config",
            "--debug",
            "--debug=false",
            "--tls",
            "--unknown",
            "--unknown=1",
            "-",
            "--",
            "-v",
            "-h",
            "--log-level",
            "-l",
            "",
            "-\u{e9}",
            "--\u{e9}",
        ];
        let mut lists: Vec<Vec<&str>> = vec![Vec::new()];
        for _ in 0..3 {
            let longer: Vec<Vec<&str>> = lists
                .iter()
                .filter(|l| l.len() == lists.last().unwrap().len())
                .flat_map(|l| {
                    pool.iter().map(move |p| {
                        let mut l = l.clone();
                        l.push(p);
                        l
                    })
                })
                .collect();
            lists.extend(longer);
        }
        assert!(lists.len() > 20_000);
        for l in &lists {
            let want = inv(l).command_at;
            assert_eq!(command_at(l.len(), |i| l[i].as_bytes()), want, "{l:?}");
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for table in [GLOBAL_FLAGS, COMPOSE_FLAGS] {
            assert!(table.windows(2).all(|w| w[0].long < w[1].long));
        }
    }

    #[test]
    fn image_commands_are_their_own_kind_and_nothing_else_is() {
        for (args, kind) in [
            (&["tag", "a", "b"][..], CommandKind::Image(ImageOp::Tag)),
            (
                &["image", "tag", "a", "b"],
                CommandKind::Image(ImageOp::Tag),
            ),
            (&["push", "r/a:1"], CommandKind::Image(ImageOp::Push)),
            (
                &["-H", "unix:///x", "image", "push", "-a", "r/a"],
                CommandKind::Image(ImageOp::Push),
            ),
            (
                &["save", "-o", "f.tar", "a"],
                CommandKind::Image(ImageOp::Save),
            ),
            (&["image", "save", "a"], CommandKind::Image(ImageOp::Save)),
            (&["images"], CommandKind::Image(ImageOp::List)),
            (&["image", "ls"], CommandKind::Image(ImageOp::List)),
            (&["image", "list", "-q"], CommandKind::Image(ImageOp::List)),
            (&["rmi", "a"], CommandKind::Image(ImageOp::Remove)),
            (&["image", "rm", "a"], CommandKind::Image(ImageOp::Remove)),
            (
                &["image", "remove", "a"],
                CommandKind::Image(ImageOp::Remove),
            ),
            (
                &["image", "inspect", "a"],
                CommandKind::Image(ImageOp::Inspect),
            ),
            // Not image commands, or help: plain pass-through.
            (&["--help", "push"], CommandKind::Other),
            (&["image", "prune"], CommandKind::Other),
            (&["image"], CommandKind::Other),
            (&["inspect", "a"], CommandKind::Other),
            (&["pull", "a"], CommandKind::Other),
            (&["run", "a"], CommandKind::Other),
        ] {
            let i = inv(args);
            assert_eq!(i.kind, kind, "{args:?}");
            assert_eq!(
                i.kind.passes_through(),
                kind == CommandKind::Other,
                "{args:?}"
            );
        }
        // The arguments after the command words start after `image push`.
        let i = inv(&["image", "push", "-a", "r/a"]);
        assert_eq!(i.rest(), &[OsString::from("-a"), OsString::from("r/a")][..]);
    }

    #[test]
    fn classifies_commands() {
        let cases: &[(&[&str], CommandKind)] = &[
            (&["build", "."], CommandKind::Build(BuildForm::Build)),
            (
                &["image", "build", "."],
                CommandKind::Build(BuildForm::ImageBuild),
            ),
            (
                &["builder", "build", "."],
                CommandKind::Build(BuildForm::BuilderBuild),
            ),
            (
                &["buildx", "build", "."],
                CommandKind::Build(BuildForm::BuildxBuild),
            ),
            (
                &["buildx", "b", "."],
                CommandKind::Build(BuildForm::BuildxB),
            ),
            (&["compose", "up"], CommandKind::Compose),
            (
                &["-H", "tcp://x:2375", "build", "."],
                CommandKind::Build(BuildForm::Build),
            ),
            (
                &["--host=tcp://x", "-D", "build"],
                CommandKind::Build(BuildForm::Build),
            ),
            (&["-Htcp://x", "compose", "build"], CommandKind::Compose),
            (&["--context", "build", "ps"], CommandKind::Other),
            (&["run", "build"], CommandKind::Other),
            (&["image", "ls"], CommandKind::Image(ImageOp::List)),
            (&["buildx", "ls"], CommandKind::Other),
            (
                &["buildx", "bake", "-f", "x.hcl"],
                CommandKind::BuilderBoot(BootForm::Bake),
            ),
            (
                &["buildx", "inspect", "--bootstrap"],
                CommandKind::BuilderBoot(BootForm::InspectBootstrap),
            ),
            (&["buildx", "inspect", "mybuilder"], CommandKind::Other),
            (
                &["buildx", "create", "--name", "b", "--bootstrap", "--use"],
                CommandKind::BuilderBoot(BootForm::CreateBootstrap),
            ),
            (&["buildx", "create", "--use"], CommandKind::Other),
            (
                &[
                    "buildx",
                    "create",
                    "--driver",
                    "remote",
                    "--bootstrap",
                    "tcp://bk:1234",
                ],
                CommandKind::Other,
            ),
            (
                &[
                    "buildx",
                    "create",
                    "--driver=docker-container",
                    "--bootstrap",
                ],
                CommandKind::BuilderBoot(BootForm::CreateBootstrap),
            ),
            (
                &["buildx", "bake", "--builder", "shared"],
                CommandKind::Other,
            ),
            (
                &["buildx", "inspect", "--bootstrap", "--builder=shared"],
                CommandKind::Other,
            ),
            (
                &["buildx", "create", "--bootstrap=false"],
                CommandKind::Other,
            ),
            (&["buildx", "version"], CommandKind::Other),
            (&["buildx", "du"], CommandKind::Other),
            (&["builder", "prune"], CommandKind::Other),
            (&["--help", "build"], CommandKind::Other),
            (&["-v"], CommandKind::Other),
            (&[], CommandKind::Other),
            (&["ps", "-a"], CommandKind::Other),
            (
                &["--tlsverify", "build", "."],
                CommandKind::Build(BuildForm::Build),
            ),
            (
                &["-l", "debug", "build", "."],
                CommandKind::Build(BuildForm::Build),
            ),
            (&["--config", "/c", "compose", "ps"], CommandKind::Compose),
        ];
        for (args, want) in cases {
            assert_eq!(inv(args).kind, *want, "args {args:?}");
        }
    }

    #[test]
    fn global_values_in_every_spelling() {
        for args in [
            &["-H", "tcp://h:1", "ps"][..],
            &["--host", "tcp://h:1", "ps"],
            &["--host=tcp://h:1", "ps"],
            &["-Htcp://h:1", "ps"],
        ] {
            let i = inv(args);
            assert_eq!(
                i.globals.value("host"),
                Some(OsStr::new("tcp://h:1")),
                "{args:?}"
            );
            assert_eq!(i.command_at, args.len() - 1);
        }
        let i = inv(&["-c", "ctx", "--config", "/d", "build"]);
        assert_eq!(i.globals.value("context"), Some(OsStr::new("ctx")));
        assert_eq!(i.globals.value("config"), Some(OsStr::new("/d")));
    }

    #[test]
    fn flags_after_the_command_are_not_global() {
        let i = inv(&["run", "-H", "x"]);
        assert_eq!(i.globals.value("host"), None);
        assert_eq!(i.command_at, 0);
    }

    #[test]
    fn build_flags_and_context() {
        let i = inv(&[
            "-H",
            "unix:///s",
            "buildx",
            "build",
            "-t",
            "a:1",
            "--tag=b",
            "--platform",
            "linux/amd64,linux/arm64",
            "--push",
            ".",
            "-fDockerfile.x",
            "--load=false",
        ]);
        let b = i.build_call().unwrap();
        let tags: Vec<_> = b
            .all(BuildFlag::Tag)
            .map(|f| f.value.clone().unwrap())
            .collect();
        assert_eq!(tags, vec![OsString::from("a:1"), OsString::from("b")]);
        assert_eq!(b.platform_count(), 2);
        assert!(b.has(BuildFlag::Push));
        assert!(!b.has(BuildFlag::Load));
        assert_eq!(b.positional, vec![10]);
        assert_eq!(i.args[10], OsString::from("."));
        assert_eq!(
            b.all(BuildFlag::File).next().unwrap().value.as_deref(),
            Some(OsStr::new("Dockerfile.x"))
        );
    }

    #[test]
    fn non_utf8_arguments_are_kept_byte_for_byte() {
        let raw = OsStr::from_bytes(b"\xff\xfe-arg").to_owned();
        let args = vec![
            OsString::from("build"),
            OsString::from("--build-arg"),
            raw.clone(),
            OsString::from("."),
        ];
        let i = Invocation::parse(args.clone());
        assert_eq!(i.args, args);
        let b = i.build_call().unwrap();
        assert_eq!(
            b.all(BuildFlag::BuildArg).next().unwrap().value.as_ref(),
            Some(&raw)
        );
    }

    #[test]
    fn a_login_password_is_a_value_never_printed() {
        let values = |args: &[&str]| -> Vec<String> {
            inv(args)
                .assigned_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            values(&[
                "login",
                "-u",
                "me",
                "-p",
                "one",
                "--password=two",
                "-pthree",
                "-p=four"
            ]),
            ["one", "two", "three", "four"]
        );
        assert_eq!(
            values(&["--config", "/c", "login", "--password", "five"]),
            ["five"]
        );
        // `-p` of other commands publishes a port.
        assert!(values(&["run", "-p", "8080:80", "img"]).is_empty());
    }

    #[test]
    fn assigned_values_come_from_the_grammar() {
        let values = |args: &[&str]| -> Vec<String> {
            inv(args)
                .assigned_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            values(&[
                "-H",
                "x",
                "build",
                "--build-arg",
                "A=one",
                "--build-arg=B=two",
                "--build-arg",
                "BARE",
                "."
            ]),
            ["one", "two"]
        );
        assert_eq!(
            values(&[
                "run",
                "-e",
                "A=one",
                "--env=B=two",
                "-eC=three",
                "--env",
                "D=four",
                "img",
                "--",
                "-e",
                "E=no"
            ]),
            ["one", "two", "three", "four"]
        );
        assert!(values(&["ps", "-a"]).is_empty());
    }

    #[test]
    fn short_flag_clusters_read_as_pflag_reads_them() {
        let i = inv(&["build", "-qt", "img:1", "-qtimg:2", "-q=false", "-f-", "."]);
        let b = i.build_call().unwrap();
        let tags: Vec<_> = b
            .all(BuildFlag::Tag)
            .map(|f| f.value.clone().unwrap())
            .collect();
        assert_eq!(tags, [OsString::from("img:1"), OsString::from("img:2")]);
        assert_eq!(b.all(BuildFlag::Quiet).count(), 3);
        assert_eq!(
            b.all(BuildFlag::File).next().unwrap().value.as_deref(),
            Some(OsStr::new("-"))
        );
        assert_eq!(b.positional, [6], "only the context is positional");
        // An unknown letter ends the cluster and takes no argument.
        let b = inv(&["build", "-qZ", "ctx"]).build_call().unwrap();
        assert_eq!(b.positional, [2]);
    }

    #[test]
    fn double_dash_ends_flags() {
        let i = inv(&["build", "--", "-weird-context"]);
        let b = i.build_call().unwrap();
        assert!(b.flags.is_empty());
        assert_eq!(b.positional, vec![2]);
    }
}
