//! The pure routing core: the facts a decision reads, the decision itself, and the
//! secrets policy. No I/O happens here — no environment, no files, no processes — so the
//! whole routing table is covered by table tests. It depends only on [`crate::docker`]
//! (the argument grammar) and [`crate::error`].

pub mod decide;
pub mod facts;
pub mod secrets;
