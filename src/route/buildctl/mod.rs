//! Translates a `docker build` call (any build-like form) into the arguments of BuildKit's
//! own client, `buildctl build --frontend dockerfile.v0 …`, for the routes that build on
//! a BuildKit daemon directly: a machine with no Docker daemon, or a shared remote
//! BuildKit.
//!
//! Pure: no environment reads, no files, no processes. What the translation needs from
//! outside comes in through [`Request`] (an environment lookup for bare `--build-arg K`,
//! whether a Docker daemon is there, a scratch directory path); what the caller must do
//! around `buildctl` comes out in [`Translation`] (where the image goes, the `--iidfile`
//! to write, the image ID to print for `-q`).
//!
//! Invariants:
//! - Every flag of the call is accounted for, as the `buildctl` column of
//!   [`crate::docker::build_flags::BUILD_FLAGS`] says: translated; accepted silently
//!   because BuildKit's behaviour already is what the flag asks for; dropped with a
//!   notice when it only names machinery this route does not use; or refused before
//!   anything runs ([`Error::Refused`](crate::error::Error::Refused): the flag, why, and
//!   the fix). A flag the grammar does not know is refused, never dropped.
//! - Values reach buildctl byte for byte: they are handled as bytes, never through a
//!   lossy string. Where buildctl reads a value as CSV (`--output`, cache entries), the
//!   fields are parsed and re-quoted so each byte keeps the meaning it had for docker.
//! - Paths are passed as the user typed them (relative to the working directory, as the
//!   docker CLI reads `-f`), so `buildctl` must run in the caller's working directory.
//! - Notices never contain a build-arg value or an environment value.
//!
//! The semantics follow `docker buildx build` where the legacy builder and buildx differ:
//! `-o` shorthands, `type=registry`, `--push`/`--load` next to `-o`, tags filling the
//! `name` of image outputs, entitlements, attestations.
//!
//! The steps, one file each: `options` applies each flag use by its row's rule into
//! one typed value (single values read by `values`, outputs by `outputs`,
//! attestations by `attest`); `context` finds the build context and Dockerfile;
//! `frontend` writes the `--local`s and the Dockerfile frontend's `--opt`s; `assemble`
//! puts the whole `buildctl build` call together with the daemon's flags (secrets, SSH,
//! entitlements, caches), the outputs and the image-ID files. `csv` reads and writes
//! buildctl's CSV values.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::docker::args::{BuildCall, Invocation};
use crate::error::Result;

mod assemble;
mod attest;
mod context;
mod csv;
mod frontend;
mod options;
mod outputs;
#[cfg(test)]
mod tests;
mod values;

pub use csv::{csv_field, csv_quote_names};

/// What [`translate`] reads: the parsed call and the few facts from outside it needs.
pub struct Request<'a> {
    /// The whole docker command line.
    pub inv: &'a Invocation,
    /// Its build flags and positionals.
    pub call: &'a BuildCall,
    /// Value of an environment variable, for bare `--build-arg K` (as the docker CLI
    /// does: taken from the environment; absent → the arg is omitted).
    pub env: &'a dyn Fn(&OsStr) -> Option<OsString>,
    /// Whether a Docker daemon is there to load the image into.
    pub daemon: bool,
    /// A directory private to this call, for buildctl's metadata file when `-q` needs the
    /// image ID and the user named no `--iidfile` or `--metadata-file`. `translate` only
    /// builds a path under it; the caller creates it when [`Translation::print_id`] points
    /// there, and removes it afterwards.
    pub scratch: &'a Path,
}

/// Where the built image goes, which decides what the caller does around `buildctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Pushed to a registry by BuildKit itself (`--push`, `type=image,push=true`).
    Push,
    /// Written by buildctl where an `-o/--output` says (a directory, a tar file, stdout).
    Export,
    /// A docker-format tarball on buildctl's stdout: pipe it into `docker load`.
    Load {
        /// The tags the loaded image gets (empty: untagged, as `docker build` without
        /// `-t`).
        names: Vec<OsString>,
    },
    /// The image stays in BuildKit's own image store.
    Store {
        /// The names it is stored under (empty: unnamed).
        names: Vec<OsString>,
    },
    /// No output at all: the build runs, its result stays in BuildKit's cache only.
    Discard,
}

/// docker's `--iidfile`: after a successful build, write the image config digest read
/// from `metadata` (buildctl's `--metadata-file` JSON, key
/// `containerimage.config.digest`) to `path`. When the key is missing (the outputs made
/// no image, e.g. `-o type=local`) there is no ID to write, as with buildx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IidFile {
    /// Where docker would write the image ID.
    pub path: PathBuf,
    /// buildctl's metadata file to read it from.
    pub metadata: PathBuf,
    /// Whether dockroute chose `metadata` (remove it after reading) or the user named it
    /// with `--metadata-file` (keep it).
    pub metadata_is_ours: bool,
}

/// docker's `-q/--quiet`: the build prints nothing but, on success, the image ID on
/// stdout. buildctl has no such mode, so the caller prints `containerimage.config.digest`
/// from `metadata` itself (and keeps `docker load`'s own stdout out of it for
/// [`Sink::Load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintId {
    /// buildctl's metadata file to read the ID from.
    pub metadata: PathBuf,
    /// Whether dockroute chose `metadata` (remove it after reading).
    pub metadata_is_ours: bool,
}

/// The translated call and what the caller must do around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// Everything after `buildctl [global flags]`: starts with "build", "--frontend",
    /// "dockerfile.v0", …
    pub args: Vec<OsString>,
    /// The same build without its outputs, metadata file, progress mode, `--no-cache`
    /// and cache export: what a record keeps to run it again.
    pub replay: Vec<OsString>,
    /// The build context, as typed.
    pub context: OsString,
    /// The Dockerfile, as typed (`CONTEXT/Dockerfile` without `-f`).
    pub dockerfile: OsString,
    /// The `--metadata-file` passed to buildctl, if any, and whether dockroute chose it
    /// (it is then removed after reading). An image kept in BuildKit's store under names
    /// always gets one, to record its digests.
    pub metadata: Option<(PathBuf, bool)>,
    /// Where the image goes.
    pub sink: Sink,
    /// `--iidfile`, to write after a successful build.
    pub iidfile: Option<IidFile>,
    /// `-q`, the image ID to print after a successful build.
    pub print_id: Option<PrintId>,
    /// One line each: flags dropped, where the image stays.
    pub notices: Vec<String>,
}

/// Appended to the `--iidfile` path to name buildctl's metadata file when the user gave
/// no `--metadata-file`.
pub const METADATA_SUFFIX: &str = ".buildctl-metadata.json";

/// The metadata file name under [`Request::scratch`].
pub const SCRATCH_METADATA: &str = "buildctl-metadata.json";

/// Translates a build call into `buildctl build` arguments, or refuses it: what each
/// flag becomes is the `buildctl` column of
/// [`BUILD_FLAGS`](crate::docker::build_flags::BUILD_FLAGS) (the mapping table test in
/// `tests.rs` has rows for each). The context `CTX` → `--local context=CTX`; `-f
/// DIR/NAME` → `--local dockerfile=DIR --opt filename=NAME`, without `-f` → `--local
/// dockerfile=CTX`. With no `-o`, `--push` or `--load` the image is loaded into the
/// Docker daemon when there is one, kept in BuildKit's store when there are tags, else
/// discarded.
///
/// # Errors
/// [`Error::Refused`](crate::error::Error::Refused) naming the flag (or the context)
/// that has no honest translation, with the fix.
pub fn translate(req: &Request<'_>) -> Result<Translation> {
    let options = options::Options::parse(req)?;
    assemble::assemble(req, options)
}
