//! The one error type of dockroute, with the exit code and the hint each variant carries.
//!
//! The exit codes are named in [`exit`] (the man page is generated from it): 127 when no
//! real client exists, 126 when the chosen client could not be executed, 125 when a local
//! operation of dockroute's own failed, 2 when a call is refused before anything runs
//! (recursion, a flag the chosen route cannot honour, a secret build argument under
//! `deny`, bad usage), 1 when a `docker login`/`logout` or an image command that
//! dockroute answers itself fails (as the docker CLI's own), 125 too when a call needs a
//! container runtime in a BuildKit pod (no daemon, no client). Every other exit code a
//! user sees is the real client's own (a project printer's failure, [`Error::Printer`],
//! included).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// dockroute's own exit codes; every other code a user sees is the real client's. The
/// man page's EXIT STATUS section is generated from [`exit::ALL`].
pub mod exit {
    /// `doctor` found something a person must fix; a `docker login`/`logout`, or an image
    /// command answered from dockroute's records (no daemon), failed (as the docker
    /// CLI's own failure).
    pub const FAILED: u8 = 1;
    /// Refused before anything ran: the message names the flag or setting, why, and the fix.
    pub const REFUSED: u8 = 2;
    /// dockroute itself could not do its part (a private directory, a signal mask): a
    /// local system error, not the client's (as `env` and `timeout` use 125).
    pub const OWN_FAILURE: u8 = 125;
    /// A call that needs a container runtime (`run`, `exec`, `compose up` …) in a
    /// BuildKit pod: no daemon, no client. 125 as docker's own daemon failures of `run`.
    pub const NO_DAEMON: u8 = 125;
    /// The chosen client exists but could not be executed.
    pub const CANNOT_EXECUTE: u8 = 126;
    /// No real docker client on PATH (or the chosen one vanished).
    pub const NO_CLIENT: u8 = 127;

    /// Each code with what it means, for the man page and `--help`.
    pub const ALL: &[(u8, &str)] = &[
        (NO_CLIENT, "No real docker client on PATH; the message says where it looked."),
        (CANNOT_EXECUTE, "The chosen client could not be executed."),
        (OWN_FAILURE, "dockroute itself could not do its part (a local system error: creating its private directory, setting its signal mask); the message names the operation. Also: in a BuildKit pod (no docker client, no daemon), a call that needs a container runtime (run, exec, create, compose up ...); the message says what works there."),
        (REFUSED, "Refused before running: a flag the route cannot honour (the message names it and gives the fix), a secret build argument under DOCKROUTE_SECRETS=deny, wrappers calling each other, or bad usage."),
        (FAILED, "doctor found something to fix; a docker login/logout, or an image command answered from dockroute's records of BuildKit builds (no daemon), that dockroute answered itself failed."),
    ];
}

/// Everything that can stop dockroute before (or instead of) handing over to a client.
#[derive(Debug)]
pub enum Error {
    /// No real `docker` client on PATH. `searched` lists the absolute directories looked
    /// in, `ignored` the PATH entries never searched (relative or empty).
    /// `unverified` lists the `docker` files passed over because dockroute could not tell
    /// them from itself, and `no_proc` says that `/proc` is not mounted (the usual cause).
    NoClient {
        searched: Vec<PathBuf>,
        ignored: Vec<OsString>,
        unverified: Vec<PathBuf>,
        no_proc: bool,
    },
    /// The chosen client exists but `execve` failed.
    Exec {
        program: PathBuf,
        source: std::io::Error,
    },
    /// The hop counter passed its limit: wrappers call each other.
    Recursion { hops: u32, limit: u32 },
    /// The call was refused before anything ran: which flag, why, and the fix.
    Refused {
        flag: String,
        why: String,
        fix: String,
    },
    /// The Dockerfile uses syntax only BuildKit understands, and the build would run on
    /// the legacy builder: one `PATH:LINE: CONSTRUCT needs BuildKit` line per finding.
    NeedsBuildKit {
        findings: Vec<String>,
        why: String,
        fix: String,
    },
    /// dockroute's own CLI was used wrongly, or a setting has a value it does not know.
    Usage(String),
    /// `docker login`/`logout` answered by dockroute itself (no docker client on PATH)
    /// failed: bad flags, a registry that refused the credentials, a credential helper
    /// or `config.json` that could not be used. Exit 1, as the docker CLI's own failure.
    Login { why: String, fix: String },
    /// An image command answered from dockroute's records (no daemon) failed: a name
    /// with no record, a store that cannot be changed, bad usage. Exit 1, as the docker
    /// CLI's own failure.
    Image { why: String, fix: String },
    /// The call needs a container runtime, and this is a BuildKit pod: no Docker daemon
    /// and no docker client. Exit 125, as docker's own "daemon" failures of `run`.
    NoDaemon { command: String, works: String },
    /// A local operation dockroute itself needed failed (creating its private directory,
    /// setting its signal mask, rendering its man page): `what` names the operation.
    Io {
        what: String,
        source: std::io::Error,
        fix: Option<String>,
    },
    /// The printer that resolves a project (`docker compose build --print`, `docker
    /// buildx bake --print`) failed: a broken compose file, an unknown service or target.
    /// Its own message is printed unchanged and its exit code is the one returned;
    /// nothing is built.
    Printer {
        printer: String,
        code: u8,
        message: Vec<u8>,
    },
}

impl Error {
    /// The process exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NoClient { .. } => exit::NO_CLIENT,
            Error::Exec { source, .. } => {
                if source.kind() == std::io::ErrorKind::NotFound {
                    exit::NO_CLIENT
                } else {
                    exit::CANNOT_EXECUTE
                }
            }
            Error::Login { .. } | Error::Image { .. } => exit::FAILED,
            Error::NoDaemon { .. } => exit::NO_DAEMON,
            Error::Io { .. } => exit::OWN_FAILURE,
            Error::Printer { code, .. } => *code,
            Error::Recursion { .. }
            | Error::Refused { .. }
            | Error::NeedsBuildKit { .. }
            | Error::Usage(_) => exit::REFUSED,
        }
    }

    /// What the user can do about it, when there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NoClient {
                unverified,
                no_proc,
                ..
            } if !unverified.is_empty() || *no_proc => Some(
                "mount /proc (`mount -t proc proc /proc`); without it dockroute recognises \
                 itself only when started by a path (`/usr/local/sbin/docker …`, not a bare \
                 `docker`), and does not recognise a bind-mounted client as mounted"
                    .into(),
            ),
            Error::NoClient { .. } => Some(
                "install a Docker CLI (e.g. `apt-get install docker.io`) or add the directory \
                 holding the real `docker` to PATH as an absolute path"
                    .into(),
            ),
            Error::Exec { .. } => {
                Some("check the file's permissions and that it is a program for this machine".into())
            }
            Error::Recursion { .. } => Some(
                "a wrapper on PATH calls `docker` again by name; make it call the real client by \
                 its absolute path, or remove it from PATH (set DOCKROUTE_LOG=debug to see each hop)"
                    .into(),
            ),
            Error::Refused { fix, .. }
            | Error::NeedsBuildKit { fix, .. }
            | Error::Login { fix, .. }
            | Error::Image { fix, .. } => Some(fix.clone()),
            Error::NoDaemon { works, .. } => Some(works.clone()),
            Error::Usage(_) => Some("see `dockroute --help`".into()),
            Error::Io { fix, .. } => fix.clone(),
            Error::Printer { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoClient {
                searched,
                ignored,
                unverified,
                no_proc,
            } => {
                write!(f, "no real docker client found on PATH; looked in: ")?;
                if searched.is_empty() {
                    write!(f, "(no absolute directory on PATH)")?;
                } else {
                    let dirs: Vec<String> =
                        searched.iter().map(|d| d.display().to_string()).collect();
                    write!(f, "{}", dirs.join(", "))?;
                }
                if !ignored.is_empty() {
                    let rel: Vec<String> = ignored
                        .iter()
                        .map(|e| {
                            if e.is_empty() {
                                "(empty entry)".to_string()
                            } else {
                                e.to_string_lossy().into_owned()
                            }
                        })
                        .collect();
                    write!(f, "; never searched (relative): {}", rel.join(", "))?;
                }
                if !unverified.is_empty() {
                    let files: Vec<String> =
                        unverified.iter().map(|d| d.display().to_string()).collect();
                    let which = if files.len() == 1 { "it" } else { "them" };
                    write!(
                        f,
                        "; passed over {}: dockroute could not tell {which} from itself",
                        files.join(", ")
                    )?;
                }
                if *no_proc {
                    write!(
                        f,
                        " because /proc is not mounted (dockroute knows its own file by \
                         /proc/self/exe, or by argv[0] when that is a path)"
                    )?;
                }
                Ok(())
            }
            Error::Exec { program, source } => {
                write!(f, "could not execute {}: {source}", program.display())
            }
            Error::Recursion { hops, limit } => write!(
                f,
                "docker was re-entered {hops} times (limit {limit}): wrappers on PATH call each other"
            ),
            Error::Refused { flag, why, .. } => write!(f, "refused `{flag}`: {why}"),
            Error::NeedsBuildKit { findings, why, .. } => {
                write!(f, "refused: this Dockerfile needs BuildKit, but {why}")?;
                for line in findings {
                    write!(f, "\n{line}")?;
                }
                Ok(())
            }
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Login { why, .. } | Error::Image { why, .. } => write!(f, "{why}"),
            Error::NoDaemon { command, .. } => write!(
                f,
                "`docker {command}` needs a container runtime, and there is no Docker daemon here (no docker client on PATH; BuildKit builds images only)"
            ),
            Error::Io { what, source, .. } => write!(f, "could not {what}: {source}"),
            Error::Printer {
                printer,
                code,
                message,
            } => {
                let message = String::from_utf8_lossy(message);
                let message = message.trim_end();
                if message.is_empty() {
                    write!(f, "`{printer}` failed with exit code {code}")
                } else {
                    write!(f, "{message}")
                }
            }
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's exit code is one the man page documents.
    #[test]
    fn every_exit_code_is_documented() {
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let all = [
            Error::NoClient {
                searched: Vec::new(),
                ignored: Vec::new(),
                unverified: Vec::new(),
                no_proc: false,
            },
            Error::Exec {
                program: "/x".into(),
                source: io(),
            },
            Error::Exec {
                program: "/x".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            Error::Recursion { hops: 9, limit: 8 },
            Error::Refused {
                flag: "-x".into(),
                why: "w".into(),
                fix: "f".into(),
            },
            Error::NeedsBuildKit {
                findings: Vec::new(),
                why: "w".into(),
                fix: "f".into(),
            },
            Error::Usage("u".into()),
            Error::Login {
                why: "w".into(),
                fix: "f".into(),
            },
            Error::Image {
                why: "w".into(),
                fix: "f".into(),
            },
            Error::NoDaemon {
                command: "run".into(),
                works: "w".into(),
            },
            Error::Io {
                what: "do it".into(),
                source: io(),
                fix: None,
            },
        ];
        for e in &all {
            assert!(
                exit::ALL.iter().any(|(code, _)| *code == e.exit_code()),
                "{e}: {} undocumented",
                e.exit_code()
            );
        }
        assert_eq!(
            all.last().unwrap().to_string(),
            "could not do it: permission denied"
        );
    }
}
