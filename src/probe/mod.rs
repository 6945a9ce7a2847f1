//! Learning the facts the routing core needs from this machine: the clients on PATH and
//! their versions, whether they are bind-mounted, the daemon's verdict on privileged
//! containers and the runtime it implies, dockroute's own settings, and the probe cache.
//!
//! [`gather`] is the one entry point that assembles them into [`crate::route::facts::Facts`].
//! Only build-like and compose calls (and `doctor`/`explain`) come here: pass-through calls
//! use [`discovery::first_client`] and nothing else.

pub mod buildkit;
pub mod cache;
pub(crate) mod clients;
pub mod daemon;
pub mod discovery;
pub(crate) mod gather;
pub(crate) mod images;
pub mod mounts;
pub(crate) mod project;
pub(crate) mod runtime;
pub mod settings;
pub(crate) mod spawn;
