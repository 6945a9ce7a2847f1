//! What dockroute knows about the docker CLI itself, independent of any one machine:
//! its argument grammar, its configuration directory and contexts, how it finds the
//! daemon's endpoint and its plugins, how it prints its version, and which Dockerfile
//! syntax its legacy builder lacks.
//!
//! Everything here is either pure or reads only the CLI's own files (`config.json`, the
//! context store, plugin directories) and the Dockerfile of a build. It imports nothing
//! from the rest of the crate except [`crate::error`], [`crate::atomic_file`] and
//! [`crate::net`] (an endpoint's HTTP address, credentials masked in URLs), which import
//! nothing above them, so every other layer may use it.

pub mod args;
pub mod build_flags;
pub mod config;
pub(crate) mod config_file;
pub mod dockerfile;
pub mod endpoint;
pub(crate) mod plugins;
pub(crate) mod program;
pub mod version;
