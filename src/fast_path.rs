//! The lean pass-through: the decision the process entry ([`crate::entry`]) makes before
//! std's runtime start-up, the allocator, the logger or the settings are touched, for the
//! one call that needs none of them — a plain `docker …` handed untouched to the first
//! real client on PATH (issue 16 part 4: pass-through within 2× one raw `execve`).
//!
//! It takes a call only when it is sure the full path ([`crate::shim`]) would do exactly
//! the same, and otherwise *defers* ([`Defer`]): the full path then runs from the start
//! as if the lean path did not exist. Its rules are the full path's, read from the same
//! sources: the personality rule of [`crate::personality`], the grammar's
//! [`command_at`], the guard's [`guard_ids`], hop limit and child variables, and
//! discovery's rules (absolute PATH entries only, a regular executable file, never
//! dockroute by (device, inode) or by the inherited guard). It defers on:
//! - anything but the `docker` personality (argv\[0\] or `DOCKROUTE_FORCE_ARG0`);
//! - a `DOCKROUTE_*` variable not in [`INERT_SETTINGS`] (`DOCKROUTE_LOG`,
//!   `DOCKROUTE_MODE`, `DOCKROUTE_PROBE`, any name it does not know);
//! - dockroute's own file unknown (no `/proc`: the full path compares canonical paths),
//!   the hop limit reached, a hop count it cannot read as the full path would;
//! - a command in [`FULL_PATH_COMMANDS`] (every word the grammar routes, and the ones
//!   dockroute answers itself in some runtimes);
//! - no real client on PATH (the full path answers `login`/`logout` itself, or says where
//!   it looked);
//! - anything longer than its fixed buffers ([`Buf`]): it allocates nothing, which is
//!   much of what it saves (each page a process first touches is a page fault, and page
//!   faults are most of what a small static binary's start costs: bench/run.sh).
//!
//! Every function on the lean path is `#[inline(always)]`: its code is then one function,
//! `entry::main`, on the code pages the C runtime's start touches anyway (with
//! `opt-level = "s"`, each helper left out of line sat on a page of its own: a fault).
//!
//! The entry also defers when one of fds 0–2 is closed (std's start-up reopens it on
//! `/dev/null`, and the client must see the same) and when `execve` fails (the full path
//! tries again and reports the error with its exit code).

use crate::docker::args::command_at;
use crate::guard::{guard_ids, FileId, GUARD_VAR, HOPS_VAR, HOP_LIMIT};

/// `DOCKROUTE_*` settings that never change a plain pass-through: each is read only on
/// the routed paths (builds, compose, the probes and their cache) or only silences
/// notices, which pass-through never prints. Any other `DOCKROUTE_*` variable sends the
/// call to the full path, so a setting added to [`crate::probe::settings::TABLE`] is
/// deferred on until it is listed here.
pub(crate) const INERT_SETTINGS: &[&str] = &[
    "DOCKROUTE_RUNTIME",
    "DOCKROUTE_BUILDKIT_HOST",
    "DOCKROUTE_BUILDKIT_TLS_DIR",
    "DOCKROUTE_QUIET",
    "DOCKROUTE_SECRETS",
    "DOCKROUTE_SECRET_WORDS",
    "DOCKROUTE_PROBE_TIMEOUT_MS",
    "DOCKROUTE_DAEMON_TIMEOUT_MS",
    "DOCKROUTE_DAEMON_TTL_S",
    "DOCKROUTE_CACHE_DIR",
    // Read by the lean path itself, as the full path reads them:
    crate::FORCE_ARG0_VAR,
    GUARD_VAR,
    HOPS_VAR,
];

/// Command words the lean path leaves to the full path: every first word the grammar
/// ([`crate::docker::args::Invocation::parse`]) may route (`build`, `compose`, `image`,
/// `builder`, `buildx`), and words it calls `Other` that dockroute answers or routes
/// itself in some runtimes (no docker client, no daemon) or is about to: `login` and
/// `logout` with no client (issue 14), the image and container commands a daemonless pod
/// needs (issue 16's siblings). Conservative on purpose: a word here costs only speed.
pub(crate) const FULL_PATH_COMMANDS: &[&str] = &[
    "build", "builder", "buildx", "compose", "image", // routed by the grammar
    "login", "logout", // answered by dockroute with no client
    "create", "exec", "images", "load", "push", "rmi", "run", "save", "tag",
];

/// A name in a fixed-size slot: see [`NAMES`].
#[derive(Debug, Clone, Copy)]
struct Word<const W: usize> {
    bytes: [u8; W],
    len: u8,
}

impl<const W: usize> Word<W> {
    /// The slot for `s` (a compile-time error when it does not fit).
    const fn new(s: &str) -> Self {
        let b = s.as_bytes();
        assert!(
            b.len() <= W && W < 256,
            "a lean-path name does not fit its slot"
        );
        let mut bytes = [0; W];
        let mut i = 0;
        while i < b.len() {
            bytes[i] = b[i];
            i += 1;
        }
        #[allow(clippy::cast_possible_truncation)] // b.len() <= W < 256 (asserted)
        Word {
            bytes,
            len: b.len() as u8,
        }
    }

    #[inline(always)]
    fn get(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// One slot per name of a list.
const fn words<const N: usize, const W: usize>(list: &[&str]) -> [Word<W>; N] {
    let mut out = [Word {
        bytes: [0; W],
        len: 0,
    }; N];
    let mut i = 0;
    while i < N {
        out[i] = Word::new(list[i]);
        i += 1;
    }
    out
}

/// Every name the lean path compares or writes on every call, side by side in one static
/// ([`INERT_SETTINGS`] is read only when a `DOCKROUTE_*` variable is set). Each page of
/// constants a process first reads is a page fault, and string literals land wherever the
/// linker puts them, merged with equal literals elsewhere in the binary (measured: five
/// literals, five faults). The section puts it beside the thread-local data's initial
/// image, on the page the C runtime's start-up reads anyway (`.data.rel.ro` is where the
/// linker keeps such data for the RELRO page; nothing here is written).
struct Names {
    docker: Word<8>,
    prefix: Word<16>,
    path: Word<8>,
    guard: Word<16>,
    hops: Word<16>,
    force_arg0: Word<24>,
    proc_self_exe: Word<16>,
    slash_docker: Word<8>,
    commands: [Word<8>; FULL_PATH_COMMANDS.len()],
}

#[allow(unsafe_code)] // link_section only places these bytes; nothing else is unsafe
#[link_section = ".data.rel.ro.dockroute_lean"]
static NAMES: Names = Names {
    docker: Word::new("docker"),
    prefix: Word::new("DOCKROUTE_"),
    path: Word::new("PATH"),
    guard: Word::new(GUARD_VAR),
    hops: Word::new(HOPS_VAR),
    force_arg0: Word::new(crate::FORCE_ARG0_VAR),
    proc_self_exe: Word::new("/proc/self/exe\0"),
    slash_docker: Word::new("/docker"),
    commands: words(FULL_PATH_COMMANDS),
};

/// Why the lean path left a call to the full path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defer {
    /// Invoked as `dockroute` (or anything but `docker`).
    NotShim,
    /// A `DOCKROUTE_*` variable that may change what happens.
    Setting,
    /// dockroute's own file could not be identified (no `/proc`).
    UnknownSelf,
    /// The hop limit is reached, or the hop count is not plain digits.
    Hops,
    /// Not a plain pass-through command.
    Command,
    /// No real client on PATH.
    NoClient,
    /// A path or the guard is longer than the lean path's buffers.
    TooLong,
}

/// A list of byte strings read in place: the C runtime's argv or envp, or a test's.
pub(crate) trait Strings {
    /// How many there are.
    fn count(&self) -> usize;
    /// The i-th, `i < count()`.
    fn at(&self, i: usize) -> &[u8];
}

impl Strings for [&[u8]] {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn at(&self, i: usize) -> &[u8] {
        self[i]
    }
}

/// What `stat` says of a file: its type and permission bits (`st_mode`) and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// `st_mode`.
    pub(crate) mode: u32,
    /// `st_dev`, `st_ino`.
    pub(crate) id: FileId,
}

/// A NUL-terminated byte string in a fixed buffer: the lean path allocates nothing.
#[derive(Debug)]
pub(crate) struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    #[inline(always)]
    fn new() -> Self {
        Buf {
            bytes: [0; N],
            len: 0,
        }
    }

    /// Appends, keeping room for the NUL; `TooLong` when it does not fit.
    #[inline(always)]
    fn push(&mut self, b: &[u8]) -> Result<(), Defer> {
        let end = self.len + b.len();
        if end >= N {
            return Err(Defer::TooLong);
        }
        self.bytes[self.len..end].copy_from_slice(b);
        self.len = end;
        self.bytes[end] = 0;
        Ok(())
    }

    /// Appends one byte.
    #[inline(always)]
    fn push_byte(&mut self, b: u8) -> Result<(), Defer> {
        self.push(&[b])
    }

    /// Appends a number in decimal (what `format!("{n}")` writes).
    #[inline(always)]
    fn push_decimal(&mut self, mut n: u64) -> Result<(), Defer> {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..])
    }

    /// The bytes, without the NUL.
    #[inline(always)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The bytes with the NUL, for a system call.
    #[inline(always)]
    pub(crate) fn as_c_bytes(&self) -> &[u8] {
        &self.bytes[..=self.len]
    }
}

/// The lean path's plan: exec `program` with argv\[0\] = `program`, the caller's other
/// arguments unchanged, and the caller's environment with the guard variables replaced
/// by `guard` and `hops` (the full path's [`crate::guard::SelfGuard::child_env`]).
#[derive(Debug)]
pub(crate) struct LeanExec {
    /// The first real client's absolute path (`dir/docker`).
    pub(crate) program: Buf<512>,
    /// `DOCKROUTE_GUARD=…`.
    pub(crate) guard: Buf<256>,
    /// `DOCKROUTE_HOPS=…`.
    pub(crate) hops: Buf<32>,
}

impl LeanExec {
    /// Whether the caller's environment entry `KEY=VALUE` is passed on as it is (the
    /// guard variables are replaced).
    #[inline(always)]
    pub(crate) fn keeps(entry: &[u8]) -> bool {
        let key = key_of(entry);
        key != NAMES.guard.get() && key != NAMES.hops.get()
    }
}

/// The key of an environment entry `KEY=VALUE`, as std reads it (an `=` in the first
/// byte belongs to the key).
#[inline(always)]
fn key_of(entry: &[u8]) -> &[u8] {
    // Plain loops rather than iterator adaptors in this file: "s" leaves those out of line.
    let mut end = 1;
    while end < entry.len() && entry[end] != b'=' {
        end += 1;
    }
    &entry[..end.min(entry.len())]
}

/// The last `/`-separated component (`docker` in `/usr/bin/docker`; empty after a `/`).
#[inline(always)]
fn last_component(path: &[u8]) -> &[u8] {
    let mut start = path.len();
    while start > 0 && path[start - 1] != b'/' {
        start -= 1;
    }
    &path[start..]
}

/// Whether `word` is one of `words`.
#[inline(always)]
fn is_one_of<const W: usize>(word: &[u8], words: &[Word<W>]) -> bool {
    for w in words {
        if w.get() == word {
            return true;
        }
    }
    false
}

/// The variables the lean path reads, from one pass over the environment.
#[derive(Default)]
struct Vars<'e> {
    path: Option<&'e [u8]>,
    guard: Option<&'e [u8]>,
    hops: Option<&'e [u8]>,
    force_arg0: Option<&'e [u8]>,
}

/// Whether a `DOCKROUTE_*` name is in [`INERT_SETTINGS`].
fn is_inert(key: &[u8]) -> bool {
    INERT_SETTINGS.iter().any(|s| s.as_bytes() == key)
}

/// Reads [`Vars`] as getenv(3) would (the first `KEY=` entry of a name counts), and
/// defers on a `DOCKROUTE_*` variable that is not inert.
#[inline(always)]
fn read_env<E: Strings + ?Sized>(env: &E) -> Result<Vars<'_>, Defer> {
    let mut vars = Vars::default();
    for i in 0..env.count() {
        let entry = env.at(i);
        let key = key_of(entry);
        let slot = if key == NAMES.path.get() {
            &mut vars.path
        } else if !key.starts_with(NAMES.prefix.get()) {
            continue;
        } else if key == NAMES.guard.get() {
            &mut vars.guard
        } else if key == NAMES.hops.get() {
            &mut vars.hops
        } else if key == NAMES.force_arg0.get() {
            &mut vars.force_arg0
        } else if is_inert(key) {
            continue;
        } else {
            return Err(Defer::Setting);
        };
        if slot.is_none() {
            // None for an entry without `=`, which getenv never matches either.
            *slot = entry.get(key.len() + 1..);
        }
    }
    Ok(vars)
}

/// Decides whether the call `args` (argv, argv\[0\] included) in the environment `env`
/// (`KEY=VALUE` entries) is a plain pass-through, and if so to which client. `stat` is
/// stat(2) of a NUL-terminated path (dockroute's own file is `/proc/self/exe`).
#[inline(always)]
pub(crate) fn decide<A, E>(
    args: &A,
    env: &E,
    mut stat: impl FnMut(&[u8]) -> Option<Stat>,
) -> Result<LeanExec, Defer>
where
    A: Strings + ?Sized,
    E: Strings + ?Sized,
{
    let vars = read_env(env)?;
    // crate::personality: the file name of DOCKROUTE_FORCE_ARG0, else of argv[0]. Only
    // an unmistakable `…/docker` is taken here.
    let name = match vars.force_arg0 {
        Some(forced) => forced,
        None if args.count() > 0 => args.at(0),
        None => return Err(Defer::NotShim),
    };
    if last_component(name) != NAMES.docker.get() {
        return Err(Defer::NotShim);
    }
    let hops = match vars.hops {
        None => 0,
        Some(v) => digits(v).ok_or(Defer::Hops)?,
    };
    if hops >= HOP_LIMIT {
        return Err(Defer::Hops);
    }
    let at = command_at(args.count().saturating_sub(1), |i| args.at(i + 1));
    if at + 1 < args.count() {
        let word = args.at(at + 1);
        if is_one_of(word, &NAMES.commands) {
            return Err(Defer::Command);
        }
    }
    let own = stat(NAMES.proc_self_exe.get())
        .ok_or(Defer::UnknownSelf)?
        .id;
    let inherited = vars.guard.unwrap_or_default();
    let program = first_client(vars.path, own, inherited, &mut stat)?;
    // SelfGuard::child_env: the inherited identities, then ours unless listed.
    let mut guard = Buf::new();
    guard.push(NAMES.guard.get())?;
    guard.push_byte(b'=')?;
    let mut listed = false;
    if !inherited.is_empty() {
        for id in guard_ids(inherited) {
            listed |= id == own;
            push_id(&mut guard, id)?;
        }
    }
    if !listed {
        push_id(&mut guard, own)?;
    }
    let mut hops_var = Buf::new();
    hops_var.push(NAMES.hops.get())?;
    hops_var.push_byte(b'=')?;
    hops_var.push_decimal(u64::from(hops) + 1)?;
    Ok(LeanExec {
        program,
        guard,
        hops: hops_var,
    })
}

/// Appends `dev.ino` to a guard value, after a `:` unless it is the first.
#[inline(always)]
fn push_id(guard: &mut Buf<256>, id: FileId) -> Result<(), Defer> {
    if guard.as_bytes().last() != Some(&b'=') {
        guard.push_byte(b':')?;
    }
    guard.push_decimal(id.dev)?;
    guard.push_byte(b'.')?;
    guard.push_decimal(id.ino)
}

/// A hop count the full path reads the same way: one to nine ASCII digits.
#[inline(always)]
fn digits(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    let mut n = 0;
    for d in v {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    Some(n)
}

/// discovery::first_client's walk: `dir/docker` for each absolute PATH entry, the first
/// regular file with an execute bit that is neither dockroute nor listed in the guard.
#[inline(always)]
fn first_client(
    path: Option<&[u8]>,
    own: FileId,
    inherited: &[u8],
    stat: &mut impl FnMut(&[u8]) -> Option<Stat>,
) -> Result<Buf<512>, Defer> {
    const S_IFMT: u32 = 0o170_000;
    const S_IFREG: u32 = 0o100_000;
    let path = path.unwrap_or_default();
    let mut start = 0;
    while start <= path.len() {
        let mut end = start;
        while end < path.len() && path[end] != b':' {
            end += 1;
        }
        let dir = &path[start..end];
        start = end + 1;
        if dir.first() != Some(&b'/') {
            continue;
        }
        let mut candidate = Buf::new();
        candidate.push(dir)?;
        candidate.push(NAMES.slash_docker.get())?;
        let Some(st) = stat(candidate.as_c_bytes()) else {
            continue;
        };
        if st.mode & S_IFMT == S_IFREG
            && st.mode & 0o111 != 0
            && st.id != own
            && (inherited.is_empty() || !guard_ids(inherited).any(|id| id == st.id))
        {
            return Ok(candidate);
        }
    }
    Err(Defer::NoClient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    use crate::guard::SelfGuard;

    /// std's stat, as the entry's libc one answers.
    fn stat(p: &[u8]) -> Option<Stat> {
        let p = OsStr::from_bytes(p.strip_suffix(b"\0").expect("NUL-terminated"));
        std::fs::metadata(p).ok().map(|m| Stat {
            mode: m.mode(),
            id: FileId {
                dev: m.dev(),
                ino: m.ino(),
            },
        })
    }

    fn id(p: &Path) -> FileId {
        stat(&[p.as_os_str().as_bytes(), b"\0"].concat())
            .unwrap()
            .id
    }

    fn exe(dir: &Path, mode: u32) -> FileId {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("docker");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        id(&p)
    }

    /// decide() with `own` standing for /proc/self/exe.
    fn run(args: &[&str], env: &[String], own: Option<FileId>) -> Result<LeanExec, Defer> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let env: Vec<&[u8]> = env.iter().map(|e| e.as_bytes()).collect();
        decide(&args[..], &env[..], |p| {
            if p == b"/proc/self/exe\0" {
                own.map(|id| Stat {
                    mode: 0o100_755,
                    id,
                })
            } else {
                stat(p)
            }
        })
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn the_first_real_client_and_the_guard_are_the_full_paths() {
        let t = tempfile::tempdir().unwrap();
        let d = |n: &str| t.path().join(n);
        let me = exe(&d("shim"), 0o755);
        let copy = exe(&d("copy"), 0o755);
        exe(&d("not-exec"), 0o644);
        std::fs::create_dir_all(d("dir/docker")).unwrap();
        exe(&d("real"), 0o755);
        exe(&d("later"), 0o755);
        let dirs = ["shim", "copy", "not-exec", "dir", "real", "later"]
            .map(|n| d(n).display().to_string())
            .join(":");
        let path = format!("PATH=rel:.::{dirs}");
        let inherited = format!("junk:{}.{}:+1.x", copy.dev, copy.ino);
        let env = [
            path.clone(),
            format!("DOCKROUTE_GUARD={inherited}"),
            "DOCKROUTE_HOPS=3".into(),
        ];
        let plan = run(&["docker", "-H", "x", "ps", "-a"], &env, Some(me)).unwrap();
        assert_eq!(
            text(plan.program.as_bytes()),
            d("real/docker").display().to_string()
        );
        assert_eq!(plan.program.as_c_bytes().last(), Some(&0));
        // The full path's guard from the same inputs, and its client.
        let full = SelfGuard::from_vars(
            Some(me),
            Some(OsStr::new(&inherited)),
            Some(OsStr::new("3")),
        );
        let [(gk, gv), (hk, hv)] = full.child_env();
        assert_eq!(
            text(plan.guard.as_bytes()),
            format!("{gk}={}", gv.to_string_lossy())
        );
        assert_eq!(
            text(plan.hops.as_bytes()),
            format!("{hk}={}", hv.to_string_lossy())
        );
        assert_eq!(text(plan.hops.as_bytes()), "DOCKROUTE_HOPS=4");
        let path_os = OsString::from(path.strip_prefix("PATH=").unwrap());
        assert_eq!(
            crate::probe::discovery::first_client(Some(&path_os), &full)
                .unwrap()
                .path,
            d("real/docker")
        );
        // No guard: the copy is a client; dockroute already listed is not listed twice.
        let plan = run(&["/x/docker", "ps"], std::slice::from_ref(&path), Some(me)).unwrap();
        assert_eq!(
            text(plan.program.as_bytes()),
            d("copy/docker").display().to_string()
        );
        assert_eq!(
            text(plan.guard.as_bytes()),
            format!("DOCKROUTE_GUARD={}.{}", me.dev, me.ino)
        );
        assert_eq!(text(plan.hops.as_bytes()), "DOCKROUTE_HOPS=1");
        let twice = format!("DOCKROUTE_GUARD={0}.{1}:{0}.{1}", me.dev, me.ino);
        let plan = run(&["docker"], &[path.clone(), twice.clone()], Some(me)).unwrap();
        assert_eq!(text(plan.guard.as_bytes()), twice);
        // getenv's rule: the first PATH counts.
        let first = format!("PATH={}", d("later").display());
        let plan = run(&["docker", "ps"], &[first, path], Some(me)).unwrap();
        assert_eq!(
            text(plan.program.as_bytes()),
            d("later/docker").display().to_string()
        );
    }

    #[test]
    fn what_the_lean_path_is_not_sure_of_goes_to_the_full_path() {
        let t = tempfile::tempdir().unwrap();
        let me = exe(&t.path().join("shim"), 0o755);
        exe(&t.path().join("real"), 0o755);
        let path = format!(
            "PATH={}:{}",
            t.path().join("shim").display(),
            t.path().join("real").display()
        );
        let p = || path.clone();
        let with = |e: &str| vec![p(), e.to_string()];
        let only_me = vec![format!("PATH=.:rel:{}", t.path().join("shim").display())];
        let long = vec![format!("PATH=/{}", "x".repeat(600))];
        /// argv, environment, /proc/self/exe, why the lean path defers.
        type Case<'a> = (&'a [&'a str], Vec<String>, Option<FileId>, Defer);
        let cases: &[Case] = &[
            (&["dockroute", "ps"], vec![p()], Some(me), Defer::NotShim),
            (&["/x/docker/", "ps"], vec![p()], Some(me), Defer::NotShim),
            (&[], vec![p()], Some(me), Defer::NotShim),
            (
                &["docker"],
                with("DOCKROUTE_FORCE_ARG0=dockroute"),
                Some(me),
                Defer::NotShim,
            ),
            (
                &["docker"],
                with("DOCKROUTE_FORCE_ARG0="),
                Some(me),
                Defer::NotShim,
            ),
            (
                &["docker"],
                with("DOCKROUTE_LOG=debug"),
                Some(me),
                Defer::Setting,
            ),
            (
                &["docker"],
                with("DOCKROUTE_LOG="),
                Some(me),
                Defer::Setting,
            ),
            (
                &["docker"],
                with("DOCKROUTE_MODE=pass"),
                Some(me),
                Defer::Setting,
            ),
            (
                &["docker"],
                with("DOCKROUTE_PROBE=1"),
                Some(me),
                Defer::Setting,
            ),
            (
                &["docker"],
                with("DOCKROUTE_NEW=1"),
                Some(me),
                Defer::Setting,
            ),
            (
                &["docker"],
                with("DOCKROUTE_CACHE_DIRX=1"),
                Some(me),
                Defer::Setting,
            ),
            (&["docker", "ps"], vec![p()], None, Defer::UnknownSelf),
            (
                &["docker"],
                with("DOCKROUTE_HOPS=20"),
                Some(me),
                Defer::Hops,
            ),
            (
                &["docker"],
                with("DOCKROUTE_HOPS= 3"),
                Some(me),
                Defer::Hops,
            ),
            (&["docker"], with("DOCKROUTE_HOPS=x"), Some(me), Defer::Hops),
            (&["docker"], with("DOCKROUTE_HOPS="), Some(me), Defer::Hops),
            (
                &["docker", "build", "."],
                vec![p()],
                Some(me),
                Defer::Command,
            ),
            (
                &["docker", "-H", "x", "compose", "up"],
                vec![p()],
                Some(me),
                Defer::Command,
            ),
            (
                &["docker", "-D", "push", "x"],
                vec![p()],
                Some(me),
                Defer::Command,
            ),
            (
                &["docker", "image", "ls"],
                vec![p()],
                Some(me),
                Defer::Command,
            ),
            (&["docker", "login"], vec![p()], Some(me), Defer::Command),
            (
                &["docker", "--help", "build"],
                vec![p()],
                Some(me),
                Defer::Command,
            ),
            (&["docker", "ps"], only_me, Some(me), Defer::NoClient),
            (&["docker", "ps"], vec![], Some(me), Defer::NoClient),
            (&["docker", "ps"], long, Some(me), Defer::TooLong),
        ];
        for (args, env, own, why) in cases {
            assert_eq!(run(args, env, *own).unwrap_err(), *why, "{args:?} {env:?}");
        }
        // What the lean path does take: inert settings, the forced personality, flags.
        let inert = [
            p(),
            "DOCKROUTE_CACHE_DIR=/c".into(),
            "DOCKROUTE_QUIET=1".into(),
            "DOCKROUTE_RUNTIME=restricted".into(),
            "DOCKROUTE_FORCE_ARG0=/usr/bin/docker".into(),
            "DOCKROUTE_HOPS=19".into(),
            "XDOCKROUTE_LOG=1".into(),
        ];
        for args in [
            &["dockroute", "ps"][..],
            &["docker"],
            &["docker", "-H", "build", "ps"],
            &["docker", "container", "ls"],
            &["docker", "version"],
        ] {
            assert!(run(args, &inert, Some(me)).is_ok(), "{args:?}");
        }
    }

    /// Every word the grammar routes is left to the full path, so the lean path can
    /// never take a call `parse` does not call `Other`: each of docker's commands, with
    /// tails that make a command word routable.
    #[test]
    fn every_routed_first_word_is_a_full_path_command() {
        use crate::docker::args::{CommandKind, Invocation};
        let tails: &[&[&str]] = &[
            &[],
            &["."],
            &["build", "."],
            &["b"],
            &["bake"],
            &["up"],
            &["create", "--bootstrap"],
            &["inspect", "--bootstrap"],
        ];
        let words = [
            "attach",
            "build",
            "builder",
            "buildx",
            "checkpoint",
            "commit",
            "compose",
            "config",
            "container",
            "context",
            "cp",
            "create",
            "diff",
            "events",
            "exec",
            "export",
            "history",
            "image",
            "images",
            "import",
            "info",
            "inspect",
            "kill",
            "load",
            "login",
            "logout",
            "logs",
            "manifest",
            "network",
            "node",
            "pause",
            "plugin",
            "port",
            "ps",
            "pull",
            "push",
            "rename",
            "restart",
            "rm",
            "rmi",
            "run",
            "save",
            "search",
            "secret",
            "service",
            "stack",
            "start",
            "stats",
            "stop",
            "swarm",
            "system",
            "tag",
            "top",
            "trust",
            "unpause",
            "update",
            "version",
            "volume",
            "wait",
        ];
        let mut routed = 0;
        for word in words {
            for tail in tails {
                let args: Vec<OsString> = std::iter::once(word)
                    .chain(tail.iter().copied())
                    .map(OsString::from)
                    .collect();
                if Invocation::parse(args).kind != CommandKind::Other {
                    routed += 1;
                    assert!(FULL_PATH_COMMANDS.contains(&word), "{word} {tail:?}");
                }
            }
        }
        assert!(
            routed >= 5,
            "the grammar routes build, compose, image, builder, buildx"
        );
    }

    /// Every inert setting is one dockroute documents (a renamed setting cannot stay inert
    /// under its old name), and the ones that change what happens are not among them.
    #[test]
    fn inert_settings_are_documented_and_exclude_the_routing_ones() {
        for name in INERT_SETTINGS {
            assert!(
                crate::probe::settings::TABLE
                    .iter()
                    .any(|s| s.name == *name),
                "{name} is not in settings::TABLE"
            );
        }
        for routing in ["DOCKROUTE_LOG", "DOCKROUTE_MODE", "DOCKROUTE_PROBE"] {
            assert!(!INERT_SETTINGS.contains(&routing), "{routing}");
        }
    }

    #[test]
    fn the_guard_variables_are_replaced_and_everything_else_kept() {
        assert!(!LeanExec::keeps(b"DOCKROUTE_GUARD=1.2"));
        assert!(!LeanExec::keeps(b"DOCKROUTE_HOPS=1"));
        assert!(!LeanExec::keeps(b"DOCKROUTE_HOPS"));
        assert!(LeanExec::keeps(b"DOCKROUTE_HOPSX=1"));
        assert!(LeanExec::keeps(b"PATH=/bin"));
        assert!(LeanExec::keeps(b"=odd"));
        assert_eq!(key_of(b"A=b=c"), b"A");
        assert_eq!(key_of(b"=A=b"), b"=A");
        assert_eq!(key_of(b"A"), b"A");
    }

    #[test]
    fn numbers_are_written_as_format_writes_them() {
        for n in [0, 7, 10, 65024, u64::MAX] {
            let mut b: Buf<32> = Buf::new();
            b.push_decimal(n).unwrap();
            assert_eq!(text(b.as_bytes()), n.to_string());
        }
        let mut b: Buf<4> = Buf::new();
        assert_eq!(b.push(b"abcd"), Err(Defer::TooLong));
        b.push(b"abc").unwrap();
        assert_eq!(b.as_c_bytes(), b"abc\0");
        assert_eq!(digits(b"019"), Some(19));
        assert_eq!(digits(b"1234567890"), None);
    }
}
