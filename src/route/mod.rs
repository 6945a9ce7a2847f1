//! The pure routing core: the facts a decision reads, the decision itself, the secrets
//! policy, and the translation of a build into `buildctl` arguments. No I/O happens here
//! — no environment, no files, no processes — so the whole routing table is covered by
//! table tests. It depends only on [`crate::docker`] (the argument grammar) and
//! [`crate::error`].

pub mod buildctl;
mod buildkit_routes;
mod daemon_routes;
pub mod decide;
#[cfg(test)]
mod every_flag;
pub mod facts;
pub(crate) mod image_routes;
pub mod mode;
pub(crate) mod needs;
pub mod nodes;
pub mod plan;
pub mod records;
pub mod secrets;
pub(crate) mod warm;
