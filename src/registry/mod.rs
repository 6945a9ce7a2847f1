//! `docker login` and `docker logout` answered by dockroute itself, for a BuildKit pod
//! with no docker client ([`crate::route::mode::Route::Builtin`]): the registry address
//! rules ([`server`]), the credential check over plain HTTP ([`verify`]), credential
//! helpers ([`helper`]), and the commands ([`login`]). `config.json` is edited by
//! [`crate::docker::config_file`]. BuildKit's `buildctl` reads the same file (and the
//! same helpers) for its pushes and pulls.
//!
//! None of this is on the pass-through path: the shim reaches it only after finding no
//! docker client at all.

pub(crate) mod helper;
pub(crate) mod login;
pub(crate) mod server;
pub(crate) mod verify;
