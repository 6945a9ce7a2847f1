//! Finding the real `docker` clients on PATH, and never finding dockroute itself.
//!
//! The PATH walk is written here rather than taken from a `which` crate on purpose: it
//! must skip dockroute by (device, inode) per candidate, never search relative entries,
//! and cost exactly one `stat` per entry on the pass-through path.
//!
//! Invariants (the same three guards mise and volta needed against shims finding
//! themselves):
//! - Only absolute PATH entries are searched. Relative and empty entries (an empty entry
//!   means the current directory) are reported as ignored, never searched: a checked-out
//!   repository must never supply the `docker` that runs.
//! - dockroute is skipped per candidate, never per directory: by (device, inode) — which
//!   catches symlinks and hard links, and equals comparing canonical paths — and by the
//!   environment guard, which every child inherits and which lists the (device, inode) of
//!   every dockroute the call has passed through, so a *copy* of dockroute that execs the
//!   next `docker` skips the one before it too.
//! - A hop counter in the environment stops wrappers that call each other by name.
//! - The pass-through path calls [`first_client`], which stops at the first hit: one
//!   `stat` per PATH entry up to the real client and nothing else.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::guard::{FileId, SelfGuard};

/// A real `docker` executable found on PATH, with what identifies its contents for the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path as found: `PATH entry` + `/docker`. Always absolute.
    pub path: PathBuf,
    /// The identity of the file it resolves to.
    pub id: FileId,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// Where discovery looked, for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReport {
    /// Absolute directories searched, in PATH order.
    pub searched: Vec<PathBuf>,
    /// PATH entries never searched (relative or empty).
    pub ignored: Vec<OsString>,
    /// `docker` files passed over because dockroute's own identity is unknown (no
    /// `/proc`) and each might be dockroute itself.
    pub unverified: Vec<PathBuf>,
}

impl SearchReport {
    /// The error for "nothing found" (which looks whether `/proc` is there when files
    /// were passed over: the error path only).
    #[must_use]
    pub fn into_error(self) -> Error {
        let no_proc = !self.unverified.is_empty() && !Path::new("/proc/self").exists();
        Error::NoClient {
            searched: self.searched,
            ignored: self.ignored,
            unverified: self.unverified,
            no_proc,
        }
    }
}

/// What `dir/docker` is.
enum Examined {
    /// A real client.
    Client(Candidate),
    /// Missing, not an executable file, or dockroute.
    Not,
    /// An executable that might be dockroute: our own identity is unknown (no `/proc`).
    Unverified(PathBuf),
}

/// Examines `dir/docker`: a regular, executable file that is not dockroute.
fn examine(dir: &Path, guard: &SelfGuard) -> Examined {
    let path = dir.join("docker");
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(_) => return Examined::Not,
    };
    let id = FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    };
    if !crate::docker::program::is_program_meta(&meta) {
        tracing::debug!(path = %path.display(), "skipped: not an executable file");
        return Examined::Not;
    }
    if guard.is_dockroute(id) {
        tracing::debug!(path = %path.display(), "skipped: this is dockroute");
        return Examined::Not;
    }
    if guard.own.is_none() && is_current_exe(&path) {
        // Our own identity could not be read: fall back to comparing canonical paths,
        // which fails closed (without /proc it cannot be done at all).
        tracing::debug!(path = %path.display(), "skipped: cannot tell it from dockroute");
        return Examined::Unverified(path);
    }
    Examined::Client(Candidate {
        path,
        id,
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

fn is_current_exe(path: &Path) -> bool {
    match (std::env::current_exe(), std::fs::canonicalize(path)) {
        (Ok(me), Ok(c)) => me == c,
        // Fail closed: if we cannot tell, assume it is us (rustup's `unwrap_or(true)`).
        _ => true,
    }
}

/// Walks PATH's absolute entries, calling `visit` with each candidate until it says stop.
fn walk(
    path_var: Option<&OsStr>,
    guard: &SelfGuard,
    report: &mut SearchReport,
    mut visit: impl FnMut(Candidate) -> bool,
) {
    let Some(path_var) = path_var else { return };
    for entry in path_var.as_bytes().split(|b| *b == b':') {
        let dir = Path::new(OsStr::from_bytes(entry));
        if !dir.is_absolute() {
            tracing::debug!(entry = %dir.display(), "PATH entry ignored: not absolute");
            report.ignored.push(dir.as_os_str().to_owned());
            continue;
        }
        report.searched.push(dir.to_path_buf());
        match examine(dir, guard) {
            Examined::Client(c) => {
                if !visit(c) {
                    return;
                }
            }
            Examined::Unverified(p) => report.unverified.push(p),
            Examined::Not => {}
        }
    }
}

/// The first real client on PATH: the pass-through path.
pub fn first_client(path_var: Option<&OsStr>, guard: &SelfGuard) -> Result<Candidate> {
    let mut report = SearchReport::default();
    let mut found = None;
    walk(path_var, guard, &mut report, |c| {
        found = Some(c);
        false
    });
    found.ok_or_else(|| report.into_error())
}

/// Every real client on PATH, in PATH order, each file once (`/bin` and `/usr/bin` are
/// often the same directory).
#[must_use]
pub fn all_clients(path_var: Option<&OsStr>, guard: &SelfGuard) -> (Vec<Candidate>, SearchReport) {
    let mut report = SearchReport::default();
    let mut found: Vec<Candidate> = Vec::new();
    walk(path_var, guard, &mut report, |c| {
        if !found.iter().any(|f| f.id == c.id) {
            found.push(c);
        }
        true
    });
    (found, report)
}

/// The first executable file called `name` in PATH's absolute entries (for BuildKit's
/// `buildctl` and `buildctl-daemonless.sh`); relative entries are never searched, as for
/// `docker`.
#[must_use]
pub fn find_program(path_var: Option<&OsStr>, name: &str) -> Option<PathBuf> {
    path_var?
        .as_bytes()
        .split(|b| *b == b':')
        .map(|entry| Path::new(OsStr::from_bytes(entry)))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| crate::docker::program::is_program(p))
}

/// What `docker` resolves to for a shell with this PATH (relative entries included, as a
/// shell would), for doctor: the file and whether it is dockroute.
#[must_use]
pub fn shell_resolution(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    path_var.as_bytes().split(|b| *b == b':').find_map(|entry| {
        let dir = if entry.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(entry))
        };
        let p = dir.join("docker");
        crate::docker::program::is_program(&p).then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("docker");
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn id_of(p: &Path) -> FileId {
        let m = std::fs::metadata(p).unwrap();
        FileId {
            dev: m.dev(),
            ino: m.ino(),
        }
    }

    #[test]
    fn relative_and_empty_entries_are_never_searched() {
        let t = tempfile::tempdir().unwrap();
        let abs = t.path().join("abs");
        std::fs::create_dir(&abs).unwrap();
        exe(&abs, "#!/bin/sh\n");
        let path = OsString::from(format!(":rel:{}:.", abs.display()));
        let (found, report) = all_clients(Some(&path), &SelfGuard::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, abs.join("docker"));
        assert_eq!(
            report.ignored,
            vec![OsString::from(""), "rel".into(), ".".into()]
        );
    }

    #[test]
    fn skips_self_by_identity_and_by_guard() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        for d in [&a, &b, &c] {
            std::fs::create_dir(d).unwrap();
        }
        let me = exe(&a, "me");
        std::fs::hard_link(&me, b.join("docker")).unwrap();
        let copy = exe(&c, "copy");
        let path = OsString::from(format!("{}:{}:{}", a.display(), b.display(), c.display()));
        let guard = SelfGuard {
            own: Some(id_of(&me)),
            seen: vec![id_of(&copy)],
            hops: 1,
        };
        let (found, _) = all_clients(Some(&path), &guard);
        assert!(found.is_empty(), "{found:?}");
        assert!(first_client(Some(&path), &guard).is_err());
    }

    #[test]
    fn directories_and_non_executables_are_not_clients() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        std::fs::create_dir_all(a.join("docker")).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("docker"), "x").unwrap();
        std::fs::create_dir(&c).unwrap();
        std::os::unix::fs::symlink("/nonexistent/docker", c.join("docker")).unwrap();
        let path = OsString::from(format!("{}:{}:{}", a.display(), b.display(), c.display()));
        let err = first_client(Some(&path), &SelfGuard::default()).unwrap_err();
        assert_eq!(err.exit_code(), 127);
        assert!(err.to_string().contains(&a.display().to_string()));
    }

    #[test]
    fn programs_are_found_in_absolute_entries_only() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("bin");
        std::fs::create_dir(&dir).unwrap();
        let p = dir.join("buildctl");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = OsString::from(format!("relative:{}", dir.display()));
        assert_eq!(find_program(Some(&path), "buildctl"), Some(p.clone()));
        assert_eq!(find_program(Some(&path), "buildkitd"), None);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(find_program(Some(&path), "buildctl"), None);
        let rel = OsString::from("bin");
        assert_eq!(find_program(Some(&rel), "buildctl"), None);
    }

    #[test]
    fn the_same_file_twice_on_path_is_one_client() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        std::fs::create_dir(&a).unwrap();
        exe(&a, "x");
        std::os::unix::fs::symlink(&a, t.path().join("alias")).unwrap();
        let path = OsString::from(format!(
            "{}:{}",
            a.display(),
            t.path().join("alias").display()
        ));
        assert_eq!(all_clients(Some(&path), &SelfGuard::default()).0.len(), 1);
    }

    #[test]
    fn clients_passed_over_without_proc_are_named_with_the_cause() {
        let report = SearchReport {
            searched: vec!["/usr/bin".into()],
            ignored: Vec::new(),
            unverified: vec!["/usr/bin/docker".into()],
        };
        let e = Error::NoClient {
            searched: report.searched,
            ignored: report.ignored,
            unverified: report.unverified,
            no_proc: true,
        };
        assert_eq!(
            e.to_string(),
            "no real docker client found on PATH; looked in: /usr/bin; passed over \
             /usr/bin/docker: dockroute could not tell it from itself because /proc is not \
             mounted (dockroute knows its own file by /proc/self/exe, or by argv[0] when \
             that is a path)"
        );
        assert!(e.hint().unwrap().starts_with("mount /proc"));
        // With /proc there and nothing passed over, the plain message and hint.
        let plain = SearchReport {
            searched: vec!["/usr/bin".into()],
            ..SearchReport::default()
        }
        .into_error();
        assert!(!plain.to_string().contains("/proc"), "{plain}");
        assert!(plain.hint().unwrap().starts_with("install a Docker CLI"));
    }
}
