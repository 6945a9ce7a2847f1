//! What dockroute remembers of an image built on BuildKit with no Docker daemon to keep
//! it: per name, the build as data (the translated `buildctl` arguments, the working
//! directory, the context and the Dockerfile), the BuildKit it ran on, and the digests
//! buildctl reported. With no daemon, `docker tag`, `push`, `save`, `images`, `rmi` and
//! `image inspect` act on these records ([`super::image_routes`]); `push` and `save`
//! run the recorded build again, which BuildKit's cache turns into an export.
//!
//! Plain data and the name rules; the store on disk is [`crate::images::store`].
//! Arguments are kept byte for byte ([`Arg`]: text when it is UTF-8, bytes otherwise).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// One argument, stored as JSON text when it is UTF-8 and as its bytes otherwise, so a
/// record gives back exactly what the build was called with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Arg {
    /// A UTF-8 argument.
    Text(String),
    /// Any other argument, as bytes.
    Bytes(Vec<u8>),
}

impl Arg {
    /// The stored form of `a`.
    #[must_use]
    pub fn of(a: &std::ffi::OsStr) -> Arg {
        match a.to_str() {
            Some(s) => Arg::Text(s.to_string()),
            None => Arg::Bytes(a.as_bytes().to_vec()),
        }
    }

    /// The argument again.
    #[must_use]
    pub fn to_os(&self) -> OsString {
        match self {
            Arg::Text(s) => OsString::from(s),
            Arg::Bytes(b) => OsString::from_vec(b.clone()),
        }
    }
}

/// A build as data: enough to run it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedBuild {
    /// The `buildctl` arguments after its global flags (`build --frontend dockerfile.v0
    /// --local …`), without the outputs, the metadata file and the progress mode, which
    /// each replay sets for itself.
    pub args: Vec<Arg>,
    /// The working directory the build ran in (its paths are relative to it, as typed).
    pub cwd: PathBuf,
    /// The build context, as typed.
    pub context: Arg,
    /// The Dockerfile, as typed (`CONTEXT/Dockerfile` without `-f`).
    pub dockerfile: Arg,
}

/// Where a build ran: a BuildKit address, or a private BuildKit started by
/// `buildctl-daemonless.sh` (whose `--root` in `BUILDKITD_FLAGS` keeps its cache).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RanOn {
    /// `buildctl --addr ADDRESS`.
    Address {
        /// The address, as buildctl was given it.
        address: String,
    },
    /// `buildctl-daemonless.sh`.
    Daemonless,
}

impl RanOn {
    /// How notices and `image inspect` name it.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            RanOn::Address { address } => address.clone(),
            RanOn::Daemonless => "a private BuildKit (buildctl-daemonless.sh)".into(),
        }
    }
}

/// The record of one name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageRecord {
    /// The name, normalised ([`normalize`]): `registry:5000/app:1`, `app:latest`.
    pub name: String,
    /// The build that made it.
    pub build: RecordedBuild,
    /// The BuildKit it ran on.
    pub ran_on: RanOn,
    /// The image manifest's digest (buildctl's `containerimage.digest`), when reported.
    pub digest: Option<String>,
    /// The image config's digest, docker's image ID (`containerimage.config.digest`).
    pub id: Option<String>,
    /// When it was recorded (seconds since the epoch).
    pub created: u64,
}

impl ImageRecord {
    /// Whether two records name the same build on the same BuildKit (one replay makes
    /// both).
    #[must_use]
    pub fn same_build(&self, other: &ImageRecord) -> bool {
        self.build == other.build && self.ran_on == other.ran_on
    }
}

/// A reference as docker completes it for lookups: `:latest` added when it names no tag
/// and no digest (`app` → `app:latest`, `reg:5000/app` → `reg:5000/app:latest`).
#[must_use]
pub fn normalize(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// The repository of a reference: without its tag or digest (`reg:5000/app:1` →
/// `reg:5000/app`).
#[must_use]
pub fn repository(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => &name[..slash + i],
        None => name,
    }
}

/// The tag of a normalised reference (`latest` when it has none; empty for a digest).
#[must_use]
pub fn tag(name: &str) -> &str {
    if name.contains('@') {
        return "";
    }
    let repo = repository(name);
    name.get(repo.len() + 1..).unwrap_or("latest")
}

/// The `--format` values `docker image inspect` answers from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectFormat {
    /// `{{.Id}}` (or `{{.ID}}`): the image ID.
    Id,
    /// `{{.RepoTags}}`: the names, as Go prints a list (`[a b]`).
    RepoTags,
    /// `{{json .}}` or `json`: the object, on one line.
    Json,
}

impl InspectFormat {
    /// Reads a `--format` value; `None` for templates records cannot answer.
    #[must_use]
    pub fn parse(s: &str) -> Option<InspectFormat> {
        match s.trim() {
            "{{.Id}}" | "{{.ID}}" | "{{ .Id }}" | "{{ .ID }}" => Some(InspectFormat::Id),
            "{{.RepoTags}}" | "{{ .RepoTags }}" => Some(InspectFormat::RepoTags),
            "{{json .}}" | "{{ json . }}" | "json" => Some(InspectFormat::Json),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_completed_as_docker_completes_them() {
        assert_eq!(normalize("app"), "app:latest");
        assert_eq!(normalize("app:1"), "app:1");
        assert_eq!(normalize("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(normalize("127.0.0.1:5000/x:2"), "127.0.0.1:5000/x:2");
        assert_eq!(normalize("r/x@sha256:ab"), "r/x@sha256:ab");
        assert_eq!(repository("127.0.0.1:5000/x:2"), "127.0.0.1:5000/x");
        assert_eq!(repository("127.0.0.1:5000/x"), "127.0.0.1:5000/x");
        assert_eq!(repository("app:1"), "app");
        assert_eq!(repository("r/x@sha256:ab"), "r/x");
        assert_eq!(tag("127.0.0.1:5000/x:2"), "2");
        assert_eq!(tag("app:latest"), "latest");
        assert_eq!(tag("r/x@sha256:ab"), "");
    }

    #[test]
    fn arguments_round_trip_byte_for_byte() {
        let odd = OsString::from_vec(vec![b'a', 0xff, b'=', 0xfe]);
        for a in [
            OsString::from("--opt"),
            OsString::from("build-arg:K=vé"),
            odd,
        ] {
            let stored = serde_json::to_string(&Arg::of(&a)).unwrap();
            let back: Arg = serde_json::from_str(&stored).unwrap();
            assert_eq!(back.to_os(), a);
        }
    }
}
