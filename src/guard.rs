//! dockroute's guard against finding itself and against wrappers that call each other.
//!
//! Three mechanisms, because each catches what the others miss:
//! - the running binary's (device, inode), which catches symlinks and hard links;
//! - an environment guard ([`GUARD_VAR`]) that every child inherits, listing the
//!   (device, inode) of every dockroute the call has passed through, so a *copy* of
//!   dockroute that execs the next `docker` skips the one before it too;
//! - a hop counter ([`HOPS_VAR`]) that stops two wrappers bouncing a call between them.
//!
//! Both discovery (which candidates to skip) and every process dockroute starts (exec,
//! probes, supervised children) use this module; it depends only on [`crate::error`].
//! It also holds the two rules every spawn obeys: a program runs only by an absolute
//! path ([`require_absolute`]), and the relayed signals are one set ([`relayed_set`]).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::error::{Error, Result};

/// The signals a supervised route relays to its processes (`exec::supervise`); helper
/// threads block them so that they reach the relay.
pub const RELAYED_SIGNALS: [nix::sys::signal::Signal; 4] = [
    nix::sys::signal::Signal::SIGINT,
    nix::sys::signal::Signal::SIGTERM,
    nix::sys::signal::Signal::SIGHUP,
    nix::sys::signal::Signal::SIGQUIT,
];

/// [`RELAYED_SIGNALS`] as a set, to block or wait on.
#[must_use]
pub fn relayed_set() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    for sig in RELAYED_SIGNALS {
        set.add(sig);
    }
    set
}

/// Set to `1` in the environment of a `--version` probe, so that a copy of dockroute
/// being probed answers with its marker instead of probing in turn.
pub const PROBE_VAR: &str = "DOCKROUTE_PROBE";
/// Environment variable listing the `dev.ino` of each dockroute passed through, `:`-joined.
pub const GUARD_VAR: &str = "DOCKROUTE_GUARD";
/// Environment variable counting how many times dockroute was entered in this call chain.
pub const HOPS_VAR: &str = "DOCKROUTE_HOPS";
/// Past this many hops dockroute stops with [`Error::Recursion`]. Generous on purpose:
/// rustup raised its limit from 5 to 20 because legitimate nesting hit 5.
pub const HOP_LIMIT: u32 = 20;

/// Every program dockroute starts must be named by an absolute path: a bare name would
/// make `Command` search PATH itself, relative entries (`.`, empty) included, so a
/// checked-out repository could supply the program. Spawning code calls this first.
///
/// # Errors
/// `InvalidInput` naming the program when its path is not absolute.
pub fn require_absolute(program: &std::path::Path) -> std::io::Result<()> {
    if program.is_absolute() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not an absolute path: dockroute never runs a program looked up by name",
                program.display()
            ),
        ))
    }
}

/// A file's identity: (device, inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`
    pub dev: u64,
    /// `st_ino`
    pub ino: u64,
}

/// Who "we" are, and which dockroute executables the call has already passed through.
#[derive(Debug, Clone, Default)]
pub struct SelfGuard {
    /// dockroute's own identity, when it could be read.
    pub own: Option<FileId>,
    /// Identities listed in the inherited guard.
    pub seen: Vec<FileId>,
    /// Hops so far, inherited (this process not counted).
    pub hops: u32,
}

impl SelfGuard {
    /// Reads the guard from the environment and identifies the running executable.
    #[must_use]
    pub fn from_env() -> SelfGuard {
        // Without /proc (a chroot or a container that does not mount it) current_exe()
        // fails too; argv[0], when it is a path, names the file that was executed (the
        // shell passes a bare `docker` for a PATH lookup, which tells nothing).
        let own = running_binary().or_else(|| match crate::entry::arg0() {
            Some(arg0) if arg0.as_bytes().contains(&b'/') => {
                std::fs::metadata(arg0).ok().map(|m| FileId {
                    dev: m.dev(),
                    ino: m.ino(),
                })
            }
            _ => None,
        });
        SelfGuard::from_vars(
            own,
            std::env::var_os(GUARD_VAR).as_deref(),
            std::env::var_os(HOPS_VAR).as_deref(),
        )
    }

    /// The guard from dockroute's own identity and the values of [`GUARD_VAR`] and
    /// [`HOPS_VAR`] (a hop count that is not a whole number counts as 0).
    #[must_use]
    pub(crate) fn from_vars(
        own: Option<FileId>,
        guard: Option<&OsStr>,
        hops: Option<&OsStr>,
    ) -> SelfGuard {
        SelfGuard {
            own,
            seen: guard.map(parse_guard).unwrap_or_default(),
            hops: hops
                .and_then(OsStr::to_str)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        }
    }

    /// Fails with [`Error::Recursion`] when this entry would pass the hop limit.
    pub fn check_hops(&self) -> Result<()> {
        if self.hops >= HOP_LIMIT {
            return Err(Error::Recursion {
                hops: self.hops + 1,
                limit: HOP_LIMIT,
            });
        }
        Ok(())
    }

    /// Whether a file is dockroute (this one or one the call passed through).
    #[must_use]
    pub fn is_dockroute(&self, id: FileId) -> bool {
        self.own == Some(id) || self.seen.contains(&id)
    }

    /// The environment every child gets: the guard with us added, and the next hop count.
    #[must_use]
    pub fn child_env(&self) -> [(&'static str, OsString); 2] {
        let mut ids = self.seen.clone();
        if let Some(own) = self.own {
            if !ids.contains(&own) {
                ids.push(own);
            }
        }
        let guard = ids
            .iter()
            .map(|id| format!("{}.{}", id.dev, id.ino))
            .collect::<Vec<_>>()
            .join(":");
        [
            (GUARD_VAR, OsString::from(guard)),
            (HOPS_VAR, OsString::from((self.hops + 1).to_string())),
        ]
    }
}

/// The running binary's identity: stat("/proc/self/exe") follows the link to it, one
/// syscall where current_exe() + metadata() take two. `None` without /proc.
pub(crate) fn running_binary() -> Option<FileId> {
    std::fs::metadata("/proc/self/exe").ok().map(|m| FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

fn parse_guard(v: &OsStr) -> Vec<FileId> {
    guard_ids(v.as_bytes()).collect()
}

/// The identities listed in a [`GUARD_VAR`] value (`dev.ino` items joined by `:`; items
/// that are not two numbers are skipped).
pub(crate) fn guard_ids(v: &[u8]) -> impl Iterator<Item = FileId> + '_ {
    v.split(|b| *b == b':').filter_map(|item| {
        let s = std::str::from_utf8(item).ok()?;
        let (dev, ino) = s.split_once('.')?;
        Some(FileId {
            dev: dev.parse().ok()?,
            ino: ino.parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_round_trips_and_hops_count() {
        let g = SelfGuard {
            own: Some(FileId { dev: 1, ino: 2 }),
            seen: vec![FileId { dev: 3, ino: 4 }],
            hops: 19,
        };
        let env = g.child_env();
        assert_eq!(env[0].1, OsString::from("3.4:1.2"));
        assert_eq!(
            parse_guard(&env[0].1),
            vec![FileId { dev: 3, ino: 4 }, FileId { dev: 1, ino: 2 }]
        );
        assert_eq!(env[1].1, OsString::from("20"));
        assert!(g.check_hops().is_ok());
        let g = SelfGuard { hops: 20, ..g };
        assert_eq!(g.check_hops().unwrap_err().exit_code(), 2);
        assert!(parse_guard(OsStr::new("garbage:1.x:.:5.6")).len() == 1);
    }
}
