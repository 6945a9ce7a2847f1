//! End-to-end tests: dockroute run as `docker` in front of the real Docker clients
//! (28.x in /usr/local/bin, 20.10.24 in /usr/bin), real throwaway dockerds, a real
//! authorization plugin, a real registry and real BuildKit daemons, all started by
//! `scripts/test.sh`.

#![allow(unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

mod support;

mod builders;
mod buildkit;
mod cli;
mod compose;
mod daemonless;
mod discovery;
mod fast_path;
mod login;
mod nodes;
mod packaging;
mod passthrough;
mod records;
mod relative_path;
mod routing;
mod security;
mod supervise;
mod warm;
