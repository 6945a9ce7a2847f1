//! dockroute: a drop-in `docker` executable that finds every real docker client on PATH,
//! learns what each one is and what the runtime allows, and hands each call to the right
//! client with the right arguments and environment.
//!
//! Layout (data flows one way: the entry points gather facts, the pure core decides,
//! exec carries the plan out; a module never imports one above it):
//!
//! - [`entry`]: the process entry (`main`), which hands a plain pass-through to the
//!   first real client before anything else is set up (`fast_path`), else starts the rest.
//! - [`shim`] and [`cli`]: the two personalities, chosen from argv\[0\].
//! - [`probe`]: learns the facts from this machine (PATH, `--version`, the daemon, cache,
//!   settings).
//! - [`prepare`]: the one step the shim, `explain` and `doctor` share: settings,
//!   redaction, facts, decision.
//! - [`route`]: the pure decision from (invocation, facts) to a plan or a refusal.
//! - [`exec`]: hands the plan to the chosen client.
//! - [`registry`]: `docker login`/`logout` answered by dockroute itself when no docker
//!   client exists (a BuildKit pod).
//! - [`images`]: records of images built on BuildKit with no daemon, and the image
//!   commands (`tag`, `images`, `rmi`, `image inspect`) answered from them.
//! - Shared below them all: [`docker`] (the docker CLI's own grammar and files), [`net`]
//!   (a small HTTP/1.1 client), [`output`] (notices, redaction, logging), [`error`],
//!   [`atomic_file`] (replacing a small file whole).

mod atomic_file;
pub(crate) mod cli;
pub mod docker;
pub mod entry;
pub mod error;
pub mod exec;
mod fast_path;
pub mod guard;
pub mod images;
pub mod net;

pub(crate) mod output;
mod prepare;
pub mod probe;
pub(crate) mod project;
pub(crate) mod registry;
pub mod route;
pub(crate) mod shim;

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Environment variable that overrides argv\[0\]'s file name, so tests can run either
/// personality without links (rustup's `RUSTUP_FORCE_ARG0`).
pub const FORCE_ARG0_VAR: &str = "DOCKROUTE_FORCE_ARG0";

/// Which personality argv\[0\] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// Invoked as `docker`: the shim.
    Shim,
    /// Anything else: dockroute's own CLI.
    Cli,
}

/// Picks the personality from argv\[0\]'s file name (or the override).
#[must_use]
pub fn personality(arg0: Option<&OsStr>, force: Option<&OsStr>) -> Personality {
    let name = force.or(arg0).and_then(|a| Path::new(a).file_name());
    if name.is_some_and(|n| n == "docker") {
        Personality::Shim
    } else {
        Personality::Cli
    }
}

/// The whole program after the process entry ([`entry::main`]): dispatch on argv\[0\],
/// return the exit code when not exec'd away.
#[must_use]
pub fn run() -> u8 {
    let mut args = entry::args().into_iter();
    let arg0 = args.next();
    let force = std::env::var_os(FORCE_ARG0_VAR);
    match personality(arg0.as_deref(), force.as_deref()) {
        Personality::Shim => shim::run(args.collect()),
        Personality::Cli => {
            let mut all: Vec<OsString> = vec![arg0.unwrap_or_else(|| "dockroute".into())];
            all.extend(args);
            cli::run(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personality_by_file_name() {
        let p = |a: &str| personality(Some(OsStr::new(a)), None);
        assert_eq!(p("/usr/local/sbin/docker"), Personality::Shim);
        assert_eq!(p("docker"), Personality::Shim);
        assert_eq!(p("/usr/local/sbin/dockroute"), Personality::Cli);
        assert_eq!(p("docker-compose"), Personality::Cli);
        assert_eq!(
            personality(Some(OsStr::new("dockroute")), Some(OsStr::new("docker"))),
            Personality::Shim
        );
    }
}
