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
//! - Every flag of the call is accounted for: translated; accepted silently because
//!   BuildKit's behaviour already is what the flag asks for; dropped with a notice when it
//!   only names machinery this route does not use; or refused before anything runs
//!   ([`Error::Refused`]: the flag, why, and the fix). A flag the grammar does not know is
//!   refused, never dropped.
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
//! Size: the flag-by-flag mapping is one `match` in [`translate`]'s helper `collect`,
//! kept in one file so the whole table reads in one place (buildx keeps its own in one
//! file, `build/opt.go`); CSV handling, single flag values and outputs live in the
//! submodules `csv`, `values` and `outputs`.

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::docker::args::{Arity, BuildCall, FlagUse, Invocation};
use crate::docker::build_flags::{BuildFlag, BuildFlagUse, Buildctl, Refusal, SBOM};

mod csv;
mod outputs;
mod values;

use crate::error::{Error, Result};
use csv::*;
pub use csv::{csv_field, csv_quote_names};
use outputs::*;
use values::*;

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

/// The `key=value` fields of a CSV record, in order.
type Attrs = Vec<(Vec<u8>, Vec<u8>)>;

/// The entitlements BuildKit's daemon grants (`buildctl build --allow`); buildx's
/// file-system entitlements are enforced by buildx on the client and have no equivalent.
const ENTITLEMENTS: &[&str] = &["network.host", "security.insecure", "device"];

/// Translates a build call into `buildctl build` arguments, or refuses it.
///
/// The mapping, flag by flag (the table test below has a row for each):
/// - context `CTX` → `--local context=CTX`; `-f DIR/NAME` → `--local dockerfile=DIR
///   --opt filename=NAME`, without `-f` → `--local dockerfile=CTX`. A context on stdin
///   (`-`), a URL or `-f -` is refused, as is a missing or second context.
/// - `--build-arg K=V` → `--opt build-arg:K=V`; bare `K` → the value from the
///   environment, omitted when unset. `--label k=v` → `--opt label:k=v`.
/// - `--target`, `--platform` (all values joined), `--pull` (`image-resolve-mode=pull`),
///   `--network none|host` (`force-network-mode`, plus `--allow network.host`),
///   `--add-host h:ip` (`add-hosts=h=ip,…`), `--shm-size` (bytes), `--ulimit`,
///   `--cgroup-parent`, `--no-cache-filter` (`no-cache=a,b`) → frontend `--opt`s.
/// - `--no-cache`, `--secret`, `--ssh`, `--allow` (daemon entitlements) → the same flag.
/// - `--cache-from`/`--cache-to` → `--import-cache`/`--export-cache` (bare ref →
///   `type=registry,ref=REF`).
/// - outputs: `-o` (docker's shorthands expanded, `type=registry` → `type=image,push=true`),
///   `--push`, `--load`, `-t` → `--output`s and a [`Sink`]; with none of them the image is
///   loaded into the Docker daemon when there is one, kept in BuildKit's store when there
///   are tags, else discarded.
/// - `--iidfile`, `--metadata-file`, `-q` → `--metadata-file` and [`IidFile`]/[`PrintId`];
///   `--progress` → `--progress` (`none` → `quiet`).
/// - `--build-context name=path` → `--local name=path --opt context:name=local:name`;
///   `--provenance`/`--attest type=provenance` → `--opt attest:provenance=…`.
/// - No-ops: `--rm`, `--force-rm`, `--disable-content-trust`, `--isolation=default`,
///   `--call=build` and every boolean given as false. Dropped with a notice: `--builder`,
///   `--debug`, `--compress`. Refused: resource limits, `--squash`, `--security-opt`,
///   `--annotation`, SBOMs, build checks, `--help`, unknown flags.
pub fn translate(req: &Request<'_>) -> Result<Translation> {
    let mut c = Collected::default();
    for flag in &req.call.flags {
        apply(req, flag, &mut c)?;
    }
    let context = build_context_dir(req)?;

    let mut args: Vec<OsString> = ["build", "--frontend", "dockerfile.v0"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push("--local".into());
    args.push(cat(b"context=", context.as_bytes()));
    match &c.file {
        None => {
            args.push("--local".into());
            args.push(cat(b"dockerfile=", context.as_bytes()));
        }
        Some(file) => {
            let (dir, name) = split_dockerfile(file)?;
            args.push("--local".into());
            args.push(cat(b"dockerfile=", &dir));
            opt(&mut args, b"filename=", &name);
        }
    }
    for (name, value) in &c.contexts {
        match value {
            NamedContext::Local(path) => {
                args.push("--local".into());
                args.push(OsString::from_vec(cat3(name, b"=", path)));
                opt(&mut args, b"context:", &cat3(name, b"=local:", name));
            }
            NamedContext::Source(source) => {
                opt(&mut args, b"context:", &cat3(name, b"=", source));
            }
        }
    }
    if !c.contexts.is_empty() {
        // What buildx sends with named contexts: the Dockerfile frontend may then forward
        // them to a frontend image named by a `# syntax=` line.
        opt(
            &mut args,
            b"frontend.caps=",
            b"moby.buildkit.frontend.contexts+forward",
        );
    }
    if let Some(target) = &c.target {
        opt(&mut args, b"target=", target);
    }
    for arg in &c.build_args {
        opt(&mut args, b"build-arg:", arg);
    }
    for label in &c.labels {
        opt(&mut args, b"label:", label);
    }
    if !c.platforms.is_empty() {
        opt(&mut args, b"platform=", &c.platforms.join(&b","[..]));
    }
    if c.pull {
        opt(&mut args, b"image-resolve-mode=", b"pull");
    }
    if let Some(mode) = &c.network {
        opt(&mut args, b"force-network-mode=", mode);
    }
    if !c.add_hosts.is_empty() {
        opt(&mut args, b"add-hosts=", &c.add_hosts.join(&b","[..]));
    }
    if let Some(bytes) = c.shm_size {
        opt(&mut args, b"shm-size=", bytes.to_string().as_bytes());
    }
    if !c.ulimits.is_empty() {
        let all: Vec<&[u8]> = c.ulimits.iter().map(|(_, u)| u.as_slice()).collect();
        opt(&mut args, b"ulimit=", &all.join(&b","[..]));
    }
    if let Some(parent) = &c.cgroup_parent {
        opt(&mut args, b"cgroup-parent=", parent);
    }
    if !c.no_cache && !c.no_cache_filter.is_empty() {
        opt(&mut args, b"no-cache=", &c.no_cache_filter.join(&b","[..]));
    }
    if let Some((_, attrs)) = &c.provenance {
        opt(&mut args, b"attest:provenance=", &csv_join(attrs));
    }
    if c.no_cache {
        args.push("--no-cache".into());
    }
    // `--network host` needs the daemon to grant the entitlement, as buildx asks for it.
    if c.network.as_deref() == Some(b"host") && !c.allow.iter().any(|a| a == b"network.host") {
        c.allow.push(b"network.host".to_vec());
    }
    for (flag, values) in [
        ("--secret", &c.secrets),
        ("--ssh", &c.ssh),
        ("--allow", &c.allow),
        ("--import-cache", &c.cache_from),
        ("--export-cache", &c.cache_to),
    ] {
        for value in values {
            args.push(flag.into());
            args.push(OsString::from_vec(value.clone()));
        }
    }

    let (outputs, sink, notices) = outputs(req, &c)?;
    for out in &outputs {
        args.push("--output".into());
        args.push(OsString::from_vec(out.to_csv()));
    }
    c.notices.extend(notices);

    let iidfile = c.iidfile.as_ref().map(|path| match &c.metadata_file {
        Some(m) => IidFile {
            path: PathBuf::from(path),
            metadata: PathBuf::from(m),
            metadata_is_ours: false,
        },
        None => {
            let mut m = path.clone();
            m.push(METADATA_SUFFIX);
            IidFile {
                path: PathBuf::from(path),
                metadata: PathBuf::from(m),
                metadata_is_ours: true,
            }
        }
    });
    let print_id = c.quiet.then(|| match (&c.metadata_file, &iidfile) {
        (Some(m), _) => PrintId {
            metadata: PathBuf::from(m),
            metadata_is_ours: false,
        },
        (None, Some(iid)) => PrintId {
            metadata: iid.metadata.clone(),
            metadata_is_ours: iid.metadata_is_ours,
        },
        (None, None) => PrintId {
            metadata: req.scratch.join(SCRATCH_METADATA),
            metadata_is_ours: true,
        },
    });
    let metadata = c
        .metadata_file
        .clone()
        .or_else(|| {
            iidfile
                .as_ref()
                .map(|i| i.metadata.clone().into_os_string())
        })
        .or_else(|| {
            print_id
                .as_ref()
                .map(|p| p.metadata.clone().into_os_string())
        });
    if let Some(m) = metadata {
        args.push("--metadata-file".into());
        args.push(m);
    }
    if let Some(progress) = progress(&c)? {
        args.push("--progress".into());
        args.push(progress.into());
    }

    Ok(Translation {
        args,
        sink,
        iidfile,
        print_id,
        notices: c.notices,
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn cat(a: &[u8], b: &[u8]) -> OsString {
    OsString::from_vec([a, b].concat())
}

fn cat3(a: &[u8], b: &[u8], c: &[u8]) -> Vec<u8> {
    [a, b, c].concat()
}

/// Appends `--opt KEYVALUE`, where `key` ends with its separator (`=` or `:`).
fn opt(args: &mut Vec<OsString>, key: &[u8], value: &[u8]) {
    args.push("--opt".into());
    args.push(cat(key, value));
}

fn refused(flag: impl Into<String>, why: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::Refused {
        flag: flag.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

fn dashed(flag: &FlagUse) -> String {
    format!("--{}", flag.name)
}

/// Every flag's contribution, gathered in one pass before anything is assembled.
#[derive(Default)]
struct Collected {
    file: Option<OsString>,
    tags: Vec<OsString>,
    build_args: Vec<Vec<u8>>,
    labels: Vec<Vec<u8>>,
    target: Option<Vec<u8>>,
    platforms: Vec<Vec<u8>>,
    pull: bool,
    network: Option<Vec<u8>>,
    add_hosts: Vec<Vec<u8>>,
    shm_size: Option<i64>,
    /// `(name, name=soft:hard)`: one per name, the last one given.
    ulimits: Attrs,
    cgroup_parent: Option<Vec<u8>>,
    no_cache: bool,
    no_cache_filter: Vec<Vec<u8>>,
    /// The flag that asked for it, and its attributes.
    provenance: Option<(String, Attrs)>,
    secrets: Vec<Vec<u8>>,
    ssh: Vec<Vec<u8>>,
    allow: Vec<Vec<u8>>,
    cache_from: Vec<Vec<u8>>,
    cache_to: Vec<Vec<u8>>,
    contexts: Vec<(Vec<u8>, NamedContext)>,
    outputs: Vec<Output>,
    /// An `-o type=cacheonly`: the user asked for no output at all.
    cache_only: bool,
    push: bool,
    load: bool,
    iidfile: Option<OsString>,
    metadata_file: Option<OsString>,
    progress: Option<(String, &'static str)>,
    quiet: bool,
    notices: Vec<String>,
}

impl Collected {
    fn notice(&mut self, text: String) {
        if !self.notices.contains(&text) {
            self.notices.push(text);
        }
    }
}

/// The value of a flag that takes one; a flag at the very end has none.
fn value(flag: &FlagUse) -> Result<&[u8]> {
    flag.value.as_deref().map(OsStr::as_bytes).ok_or_else(|| {
        refused(
            dashed(flag),
            "the flag needs a value",
            format!("give it one: `{} VALUE`", dashed(flag)),
        )
    })
}

/// A value where empty means "not given", as for docker's string flags.
fn non_empty(flag: &FlagUse) -> Result<Option<Vec<u8>>> {
    let v = value(flag)?;
    Ok((!v.is_empty()).then(|| v.to_vec()))
}

/// Go's `strconv.ParseBool`, which the docker CLI uses for `--flag=VALUE`.
fn parse_bool(v: &[u8]) -> Option<bool> {
    match v {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

/// A boolean flag: `--flag` is true, `--flag=VALUE` is parsed.
fn boolean(flag: &FlagUse) -> Result<bool> {
    match flag.value.as_deref() {
        None => Ok(true),
        Some(v) => parse_bool(v.as_bytes()).ok_or_else(|| {
            refused(
                dashed(flag),
                format!("`{}` is not a boolean", v.to_string_lossy()),
                format!("write `{0}`, `{0}=true` or `{0}=false`", dashed(flag)),
            )
        }),
    }
}

fn invalid(flag: &FlagUse, what: &str, example: &str) -> Error {
    refused(
        dashed(flag),
        format!("the value is not {what}"),
        format!("write it as `{} {example}`", dashed(flag)),
    )
}

/// One flag use, by its row's buildctl rule: the declarative rules here, a
/// [`Buildctl::Translate`] by its own rule in [`collect`]; a flag the grammar does not
/// know is refused.
fn apply(req: &Request<'_>, u: &BuildFlagUse, c: &mut Collected) -> Result<()> {
    let flag = &u.arg;
    let Some(known) = u.flag else {
        let typed = req
            .inv
            .args
            .get(flag.span.start)
            .map_or_else(|| dashed(flag), |a| a.to_string_lossy().into_owned());
        return Err(refused(
            typed,
            "not a `docker build` flag dockroute can translate to buildctl",
            "check the spelling, or run the build where docker itself builds (DOCKROUTE_MODE=pass)",
        ));
    };
    let row = known.row();
    let refusal = |r: &Refusal| refused(dashed(flag), r.why, r.fix);
    // Whether the use turns its flag on: a boolean must parse; a value flag is on with
    // any value but an empty or false one.
    let on = || -> Result<bool> {
        match row.spec.arity {
            Arity::Bool => boolean(flag),
            Arity::Value => {
                let v = value(flag)?;
                Ok(!v.is_empty() && parse_bool(v) != Some(false))
            }
        }
    };
    match &row.buildctl {
        Buildctl::Translate(_) => collect(req, known, flag, c)?,
        Buildctl::Accept => {
            on()?;
        }
        Buildctl::AcceptOnly(values, r) => {
            if !values.contains(&value(flag)?) {
                return Err(refusal(r));
            }
        }
        Buildctl::Drop(notice) => {
            let given = match row.spec.arity {
                Arity::Bool => boolean(flag)?,
                Arity::Value => value(flag).map(|_| true)?,
            };
            if given {
                c.notice((*notice).to_string());
            }
        }
        Buildctl::RefuseOn(r) => {
            if on()? {
                return Err(refusal(r));
            }
        }
        Buildctl::RefuseOff(r) => {
            if !boolean(flag)? {
                return Err(refusal(r));
            }
        }
        Buildctl::Refuse(r) => return Err(refusal(r)),
    }
    Ok(())
}

/// A [`Buildctl::Translate`] flag's own rule: its contribution to [`Collected`].
fn collect(req: &Request<'_>, known: BuildFlag, flag: &FlagUse, c: &mut Collected) -> Result<()> {
    use BuildFlag as F;
    match known {
        F::File => c.file = Some(OsStr::from_bytes(value(flag)?).to_owned()),
        F::Tag => {
            let tag = value(flag)?;
            if tag.is_empty() {
                return Err(invalid(flag, "an image name", "registry/name:tag"));
            }
            c.tags.push(OsStr::from_bytes(tag).to_owned());
        }
        F::BuildArg => {
            let arg = value(flag)?;
            match arg.iter().position(|b| *b == b'=') {
                Some(0) => return Err(invalid(flag, "a `NAME=VALUE` pair", "NAME=VALUE")),
                Some(_) => c.build_args.push(arg.to_vec()),
                None if arg.is_empty() => {
                    return Err(invalid(flag, "a `NAME=VALUE` pair", "NAME=VALUE"))
                }
                None => {
                    if let Some(v) = (req.env)(OsStr::from_bytes(arg)) {
                        c.build_args.push(cat3(arg, b"=", v.as_bytes()));
                    }
                }
            }
        }
        F::Label => {
            let label = value(flag)?;
            match label.iter().position(|b| *b == b'=') {
                Some(0) => return Err(invalid(flag, "a `KEY=VALUE` pair", "KEY=VALUE")),
                Some(_) => c.labels.push(label.to_vec()),
                None if label.is_empty() => {
                    return Err(invalid(flag, "a `KEY=VALUE` pair", "KEY=VALUE"))
                }
                None => c.labels.push(cat3(label, b"=", b"")),
            }
        }
        F::Target => c.target = non_empty(flag)?,
        F::Platform => {
            if let Some(p) = non_empty(flag)? {
                c.platforms.push(p);
            }
        }
        F::Pull => c.pull = boolean(flag)?,
        F::Network => c.network = network(flag)?,
        F::AddHost => c.add_hosts.extend(add_host(flag)?),
        F::ShmSize => c.shm_size = Some(shm_size(flag)?).filter(|b| *b > 0),
        F::Ulimit => {
            let u = value(flag)?;
            let eq = u.iter().position(|b| *b == b'=');
            match eq {
                Some(eq) if eq > 0 && !u.iter().any(|b| matches!(b, b',' | b'"')) => {
                    let key = u[..eq].to_vec();
                    c.ulimits.retain(|(k, _)| *k != key);
                    c.ulimits.push((key, u.to_vec()));
                }
                _ => return Err(invalid(flag, "a ulimit", "nofile=1024:2048")),
            }
        }
        F::CgroupParent => c.cgroup_parent = non_empty(flag)?,
        F::NoCache => c.no_cache = boolean(flag)?,
        F::NoCacheFilter => {
            if let Some(stages) = non_empty(flag)? {
                c.no_cache_filter.push(stages);
            }
        }
        F::Secret => c.secrets.push(value(flag)?.to_vec()),
        F::Ssh => c.ssh.push(value(flag)?.to_vec()),
        F::Allow => {
            let e = value(flag)?;
            let key = e.split(|b| *b == b'=').next().unwrap_or_default();
            if !ENTITLEMENTS.iter().any(|k| k.as_bytes() == key) {
                return Err(refused(
                    dashed(flag),
                    format!(
                        "`{}` is not an entitlement the BuildKit daemon grants (buildx checks file-system entitlements on its own side)",
                        String::from_utf8_lossy(e)
                    ),
                    "allow one of network.host, security.insecure, device; or drop the flag",
                ));
            }
            if !c.allow.iter().any(|a| a == e) {
                c.allow.push(e.to_vec());
            }
        }
        F::CacheFrom => c.cache_from.extend(cache(flag)?),
        F::CacheTo => c.cache_to.extend(cache(flag)?),
        F::BuildContext => c.contexts.push(named_context(flag)?),
        F::Output => output_flag(flag, c)?,
        F::Push => c.push = boolean(flag)?,
        F::Load => c.load = boolean(flag)?,
        F::Iidfile => c.iidfile = non_empty(flag)?.map(OsString::from_vec),
        F::MetadataFile => c.metadata_file = non_empty(flag)?.map(OsString::from_vec),
        F::Progress => c.progress = progress_mode(flag)?,
        F::Quiet => c.quiet = boolean(flag)?,
        F::Provenance => provenance(flag, c)?,
        F::Attest => attest(flag, c)?,
        // The table's other rules never come here.
        other => {
            return Err(refused(
                other.dashed(),
                "dockroute has no buildctl rule for this flag",
                "run the build where docker itself builds (DOCKROUTE_MODE=pass)",
            ))
        }
    }
    Ok(())
}

fn sbom_refusal(flag: String) -> Error {
    refused(flag, SBOM.why, SBOM.fix)
}

/// The build context: the one positional, a local directory.
fn build_context_dir(req: &Request<'_>) -> Result<OsString> {
    let words = req
        .inv
        .args
        .get(req.inv.command_at..req.inv.rest_at)
        .unwrap_or_default()
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let ctx = match req.call.positional.as_slice() {
        [one] => req.inv.args.get(*one).cloned().unwrap_or_default(),
        other => {
            return Err(refused(
                format!("docker {words}"),
                format!(
                    "`docker {words}` requires exactly 1 argument (the build context), got {}",
                    other.len()
                ),
                format!("give the build context directory, e.g. `docker {words} .`"),
            ))
        }
    };
    let fix =
        "put the Dockerfile and its files in a local directory and build that: `docker build DIR`";
    if ctx.as_bytes() == b"-" {
        return Err(refused(
            "-",
            "a build context (or Dockerfile) on standard input cannot be handed to buildctl",
            fix,
        ));
    }
    if ctx.is_empty() {
        return Err(refused(
            "\"\"",
            "the build context is an empty string",
            format!("give the build context directory, e.g. `docker {words} .`"),
        ));
    }
    if is_remote(ctx.as_bytes()) {
        return Err(refused(
            ctx.to_string_lossy().into_owned(),
            "a remote build context (URL or Git repository) is not translated to buildctl",
            format!("clone or download it first, then {fix}"),
        ));
    }
    Ok(ctx)
}

/// `-f PATH` → (directory of PATH as given, `.` when none; file name).
fn split_dockerfile(file: &OsStr) -> Result<(Vec<u8>, Vec<u8>)> {
    let b = file.as_bytes();
    let fix = "name the Dockerfile by its path in a local directory: `-f DIR/Dockerfile`";
    if b == b"-" {
        return Err(refused(
            "--file",
            "a Dockerfile on standard input cannot be handed to buildctl",
            fix,
        ));
    }
    if is_remote(b) {
        return Err(refused(
            "--file",
            "a remote Dockerfile is not translated to buildctl",
            format!("download it first, then {fix}"),
        ));
    }
    let (dir, name) = match b.iter().rposition(|c| *c == b'/') {
        None => (&b"."[..], b),
        Some(slash) => {
            let dir = &b[..slash];
            let trimmed = dir
                .iter()
                .rposition(|c| *c != b'/')
                .map_or(&b"/"[..], |e| &dir[..=e]);
            (trimmed, &b[slash + 1..])
        }
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(refused(
            "--file",
            format!("`{}` names a directory, not a file", file.to_string_lossy()),
            fix,
        ));
    }
    Ok((dir.to_vec(), name.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a row expects.
    enum Want {
        /// The buildctl arguments after `build --frontend dockerfile.v0`, space-separated
        /// (`…` stands for `--local context=. --local dockerfile=.`), the sink, and a
        /// piece of the one notice ("" for no notice at all).
        Yes(&'static str, Sink, &'static str),
        /// Refused, naming this flag.
        No(&'static str),
    }
    use Want::{No, Yes};

    fn names(n: &[&str]) -> Vec<OsString> {
        n.iter().map(OsString::from).collect()
    }
    fn load(n: &[&str]) -> Sink {
        Sink::Load { names: names(n) }
    }
    fn store(n: &[&str]) -> Sink {
        Sink::Store { names: names(n) }
    }
    const D: Sink = Sink::Discard;
    const P: Sink = Sink::Push;
    const X: Sink = Sink::Export;

    type Row = (
        &'static str,
        &'static [(&'static str, &'static str)],
        bool,
        Want,
    );

    /// (docker args, environment, daemon) → buildctl args / sink / notice, or a refusal.
    #[rustfmt::skip]
    fn table() -> Vec<Row> {
        vec![
            // The context and the Dockerfile.
            ("build .",                              &[], false, Yes("…", D, "")),
            ("image build .",                        &[], false, Yes("…", D, "")),
            ("builder build .",                      &[], false, Yes("…", D, "")),
            ("buildx build .",                       &[], false, Yes("…", D, "")),
            ("buildx b .",                           &[], false, Yes("…", D, "")),
            ("build app/src",                        &[], false, Yes("--local context=app/src --local dockerfile=app/src", D, "")),
            ("build -f sub/app.Dockerfile .",        &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
            ("build --file=sub/app.Dockerfile .",    &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
            ("build --file sub/app.Dockerfile .",    &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
            ("build -fsub/app.Dockerfile .",         &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
            ("build -f Dockerfile.ci ctx",           &[], false, Yes("--local context=ctx --local dockerfile=. --opt filename=Dockerfile.ci", D, "")),
            ("build -f /abs/Dockerfile .",           &[], false, Yes("--local context=. --local dockerfile=/abs --opt filename=Dockerfile", D, "")),
            ("build -f /Dockerfile .",               &[], false, Yes("--local context=. --local dockerfile=/ --opt filename=Dockerfile", D, "")),
            ("build -f ../x//Dockerfile .",          &[], false, Yes("--local context=. --local dockerfile=../x --opt filename=Dockerfile", D, "")),
            ("build -f sub/ .",                      &[], false, No("--file")),
            ("build -f - .",                         &[], false, No("--file")),
            ("build -f https://x.io/Dockerfile .",   &[], false, No("--file")),
            ("build -",                              &[], false, No("-")),
            ("build https://github.com/a/b.git",     &[], false, No("https://github.com/a/b.git")),
            ("build git://host/repo",                &[], false, No("git://host/repo")),
            ("build git@github.com:a/b.git",         &[], false, No("git@github.com:a/b.git")),
            ("build github.com/a/b",                 &[], false, No("github.com/a/b")),
            ("build",                                &[], false, No("docker build")),
            ("buildx build -t a",                    &[], false, No("docker buildx build")),
            ("build . other",                        &[], false, No("docker build")),
            // Build arguments and labels.
            ("build --build-arg A=1 .",              &[], false, Yes("… --opt build-arg:A=1", D, "")),
            ("build --build-arg=A=1,2 .",            &[], false, Yes("… --opt build-arg:A=1,2", D, "")),
            ("build --build-arg A= .",               &[], false, Yes("… --opt build-arg:A=", D, "")),
            ("build --build-arg HOME .",             &[("HOME", "/root")], false, Yes("… --opt build-arg:HOME=/root", D, "")),
            ("build --build-arg UNSET .",            &[], false, Yes("…", D, "")),
            ("build --build-arg =x .",               &[], false, No("--build-arg")),
            ("build --label a=b --label=c .",        &[], false, Yes("… --opt label:a=b --opt label:c=", D, "")),
            // Frontend options.
            ("build --target t .",                   &[], false, Yes("… --opt target=t", D, "")),
            ("build --target=t .",                   &[], false, Yes("… --opt target=t", D, "")),
            ("build --pull .",                       &[], false, Yes("… --opt image-resolve-mode=pull", D, "")),
            ("build --pull=false .",                 &[], false, Yes("…", D, "")),
            ("build --pull=maybe .",                 &[], false, No("--pull")),
            ("build --platform linux/amd64 .",       &[], false, Yes("… --opt platform=linux/amd64", D, "")),
            ("build --platform=linux/amd64,linux/arm64 --platform linux/s390x .", &[], false,
                Yes("… --opt platform=linux/amd64,linux/arm64,linux/s390x", D, "")),
            ("build --network none .",               &[], false, Yes("… --opt force-network-mode=none", D, "")),
            ("build --network=host .",               &[], false, Yes("… --opt force-network-mode=host --allow network.host", D, "")),
            ("build --network default .",            &[], false, Yes("…", D, "")),
            ("build --network mynet .",              &[], false, No("--network")),
            ("build --add-host a:10.0.0.1 --add-host=b=10.0.0.2 .", &[], false,
                Yes("… --opt add-hosts=a=10.0.0.1,b=10.0.0.2", D, "")),
            ("build --add-host v6:::1 --add-host w=[fe80::1] .", &[], false,
                Yes("… --opt add-hosts=v6=::1,w=fe80::1", D, "")),
            ("build --add-host a:host-gateway .",    &[], false, No("--add-host")),
            ("build --add-host a:notanip .",         &[], false, No("--add-host")),
            ("build --add-host justahost .",         &[], false, No("--add-host")),
            ("build --shm-size 64m .",               &[], false, Yes("… --opt shm-size=67108864", D, "")),
            ("build --shm-size=1.5g .",              &[], false, Yes("… --opt shm-size=1610612736", D, "")),
            ("build --shm-size=2048 .",              &[], false, Yes("… --opt shm-size=2048", D, "")),
            ("build --shm-size=128KiB .",            &[], false, Yes("… --opt shm-size=131072", D, "")),
            ("build --shm-size=0 .",                 &[], false, Yes("…", D, "")),
            ("build --shm-size lots .",              &[], false, No("--shm-size")),
            ("build --ulimit nofile=1024:2048 --ulimit=nproc=64 .", &[], false,
                Yes("… --opt ulimit=nofile=1024:2048,nproc=64", D, "")),
            ("build --ulimit nofile=1 --ulimit nofile=2 .", &[], false, Yes("… --opt ulimit=nofile=2", D, "")),
            ("build --ulimit nofile .",              &[], false, No("--ulimit")),
            ("build --cgroup-parent /ci .",          &[], false, Yes("… --opt cgroup-parent=/ci", D, "")),
            ("build --cgroup-parent=/ci .",          &[], false, Yes("… --opt cgroup-parent=/ci", D, "")),
            ("build --no-cache .",                   &[], false, Yes("… --no-cache", D, "")),
            ("build --no-cache=false .",             &[], false, Yes("…", D, "")),
            ("build --no-cache-filter a --no-cache-filter=b,c .", &[], false, Yes("… --opt no-cache=a,b,c", D, "")),
            ("build --no-cache-filter a --no-cache .", &[], false, Yes("… --no-cache", D, "")),
            ("build --build-context base=./rootfs .", &[], false,
                Yes("… --local base=./rootfs --opt context:base=local:base --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
            ("build --build-context=alpine=docker-image://alpine:3 .", &[], false,
                Yes("… --opt context:alpine=docker-image://alpine:3 --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
            ("build --build-context src=https://github.com/a/b.git .", &[], false,
                Yes("… --opt context:src=https://github.com/a/b.git --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
            ("build --build-context context=./x .",  &[], false, No("--build-context")),
            ("build --build-context l=oci-layout:///x .", &[], false, No("--build-context")),
            ("build --build-context nothing .",      &[], false, No("--build-context")),
            // Same flag, same syntax.
            ("build --secret id=npm,src=.npmrc .",   &[], false, Yes("… --secret id=npm,src=.npmrc", D, "")),
            ("build --secret=id=tok,env=TOK .",      &[], false, Yes("… --secret id=tok,env=TOK", D, "")),
            ("build --ssh default .",                &[], false, Yes("… --ssh default", D, "")),
            ("build --ssh=key=/k/id_ed25519 .",      &[], false, Yes("… --ssh key=/k/id_ed25519", D, "")),
            ("build --allow security.insecure .",    &[], false, Yes("… --allow security.insecure", D, "")),
            ("build --allow=network.host --network host .", &[], false,
                Yes("… --opt force-network-mode=host --allow network.host", D, "")),
            ("build --allow fs.read=/data .",        &[], false, No("--allow")),
            // Caches.
            ("build --cache-from r/app:cache .",     &[], false, Yes("… --import-cache type=registry,ref=r/app:cache", D, "")),
            ("build --cache-from=r/a,r/b .",         &[], false,
                Yes("… --import-cache type=registry,ref=r/a --import-cache type=registry,ref=r/b", D, "")),
            ("build --cache-from type=local,src=c .", &[], false, Yes("… --import-cache type=local,src=c", D, "")),
            ("build --cache-to type=inline .",       &[], false, Yes("… --export-cache type=inline", D, "")),
            ("build --cache-to=type=local,dest=c,mode=max .", &[], false, Yes("… --export-cache type=local,dest=c,mode=max", D, "")),
            ("build --cache-to r/app:cache .",       &[], false, Yes("… --export-cache type=registry,ref=r/app:cache", D, "")),
            ("build --cache-to src=c .",             &[], false, No("--cache-to")),
            // Tags and outputs: where the image goes.
            ("build -t a:1 .",                       &[], true,  Yes("… --output type=docker,name=a:1", load(&["a:1"]), "")),
            ("build -t a:1 --tag=b:2 .",             &[], true,  Yes("… --output type=docker,\"name=a:1,b:2\"", load(&["a:1", "b:2"]), "")),
            ("build -ta:1 .",                        &[], true,  Yes("… --output type=docker,name=a:1", load(&["a:1"]), "")),
            ("build .",                              &[], true,  Yes("… --output type=docker", load(&[]), "")),
            ("build -t a:1 .",                       &[], false, Yes("… --output type=image,name=a:1", store(&["a:1"]), "BuildKit's store")),
            ("build -t a -t b .",                    &[], false, Yes("… --output type=image,\"name=a,b\"", store(&["a", "b"]), "BuildKit's store")),
            ("build -t a --load .",                  &[], true,  Yes("… --output type=docker,name=a", load(&["a"]), "")),
            ("build -t a --load .",                  &[], false, No("--load")),
            ("build -t a --load --platform linux/amd64,linux/arm64 .", &[], true, No("--platform")),
            ("build -t a --platform linux/amd64,linux/arm64 .", &[], true,
                Yes("… --opt platform=linux/amd64,linux/arm64 --output type=image,name=a", store(&["a"]), "several platforms")),
            ("build -t r/a:1 --push .",              &[], true,  Yes("… --output type=image,name=r/a:1,push=true", P, "")),
            ("build -t r/a -t r/b --push .",         &[], false, Yes("… --output type=image,\"name=r/a,r/b\",push=true", P, "")),
            ("build --push .",                       &[], false, No("--push")),
            ("build -t a --push=false .",            &[], false, Yes("… --output type=image,name=a", store(&["a"]), "BuildKit's store")),
            ("build -t a --push --load .",           &[], true,  Yes("… --output type=image,name=a,push=true --output type=docker,name=a", load(&["a"]), "")),
            ("build -o out .",                       &[], true,  Yes("… --output type=local,dest=out", X, "")),
            ("build --output=out .",                 &[], false, Yes("… --output type=local,dest=out", X, "")),
            ("build -oout .",                        &[], false, Yes("… --output type=local,dest=out", X, "")),
            ("build -o - .",                         &[], false, Yes("… --output type=tar,dest=-", X, "")),
            ("build -o type=tar,dest=img.tar .",     &[], false, Yes("… --output type=tar,dest=img.tar", X, "")),
            ("build -o Type=local,Dest=o .",         &[], false, Yes("… --output type=local,dest=o", X, "")),
            ("build -o type=local,\"dest=a,b\" .",   &[], false, Yes("… --output type=local,\"dest=a,b\"", X, "")),
            ("build -t a -o type=oci,dest=a.tar .",  &[], false, Yes("… --output type=oci,dest=a.tar,name=a", X, "")),
            ("build -t a -o type=docker,dest=a.tar .", &[], false, Yes("… --output type=docker,dest=a.tar,name=a", X, "")),
            ("build -t a -o type=docker .",          &[], true,  Yes("… --output type=docker,name=a", load(&["a"]), "")),
            ("build -o type=docker,name=x .",        &[], true,  Yes("… --output type=docker,name=x", load(&["x"]), "")),
            ("build -t a -o type=docker .",          &[], false, No("--output")),
            ("build -t r/a -o type=registry .",      &[], false, Yes("… --output type=image,push=true,name=r/a", P, "")),
            ("build -o type=registry,name=r/a .",    &[], false, Yes("… --output type=image,name=r/a,push=true", P, "")),
            ("build -o type=registry .",             &[], false, No("--output")),
            ("build -t a -o type=image .",           &[], false, Yes("… --output type=image,name=a", store(&["a"]), "")),
            ("build -t r/a -o type=image --push .",  &[], false, Yes("… --output type=image,name=r/a,push=true", P, "")),
            ("build -t r/a -o out --push .",         &[], false,
                Yes("… --output type=local,dest=out --output type=image,name=r/a,push=true", P, "")),
            ("build -o type=cacheonly .",            &[], true,  Yes("…", D, "")),
            ("build -o dest=out,x=y .",              &[], false, No("--output")),
            ("build -o - -o type=oci .",             &[], false, No("--output")),
            ("build -o - .",                         &[], true,  Yes("… --output type=tar,dest=-", X, "")),
            ("build -o - --load .",                  &[], true,  No("--output")),
            ("build -o type=local,\"dest=x .",       &[], false, No("--output")),
            ("build -o type=local,dest=x\"y .",      &[], false, No("--output")),
            // Image ID, metadata, progress.
            ("build --metadata-file m.json .",       &[], false, Yes("… --metadata-file m.json", D, "")),
            ("build --iidfile id .",                 &[], false, Yes("… --output type=image --metadata-file id.buildctl-metadata.json", store(&[]), "BuildKit's store")),
            ("build --iidfile=id --metadata-file m .", &[], true, Yes("… --output type=docker --metadata-file m", load(&[]), "")),
            ("build -q .",                           &[], true,  Yes("… --output type=docker --metadata-file /s/buildctl-metadata.json --progress quiet", load(&[]), "")),
            ("build --quiet --progress=auto .",      &[], true,  Yes("… --output type=docker --metadata-file /s/buildctl-metadata.json --progress quiet", load(&[]), "")),
            ("build -q --progress plain .",          &[], true,  No("--quiet")),
            ("build --progress plain .",             &[], false, Yes("… --progress plain", D, "")),
            ("build --progress=tty .",               &[], false, Yes("… --progress tty", D, "")),
            ("build --progress rawjson .",           &[], false, Yes("… --progress rawjson", D, "")),
            ("build --progress=quiet .",             &[], false, Yes("… --progress quiet", D, "")),
            ("build --progress none .",              &[], false, Yes("… --progress quiet", D, "")),
            ("build --progress fancy .",             &[], false, No("--progress")),
            // Attestations.
            ("build --provenance=true -o type=oci,dest=o.tar .", &[], false, Yes("… --opt attest:provenance= --output type=oci,dest=o.tar", X, "")),
            ("build --provenance mode=max -t r/a --push .", &[], false, Yes("… --opt attest:provenance=mode=max --output type=image,name=r/a,push=true", P, "")),
            ("build --attest type=provenance,mode=max -t r/a --push .", &[], false, Yes("… --opt attest:provenance=mode=max --output type=image,name=r/a,push=true", P, "")),
            ("build --provenance=false .",           &[], false, Yes("…", D, "")),
            ("build --attest type=provenance,disabled=true .", &[], false, Yes("…", D, "")),
            ("build --provenance=true -t a .",       &[], true,  No("--provenance")),
            ("build --sbom=false .",                 &[], false, Yes("…", D, "")),
            ("build --attest type=sbom,disabled=true .", &[], false, Yes("…", D, "")),
            ("build --sbom=true .",                  &[], false, No("--sbom")),
            ("build --attest type=sbom .",           &[], false, No("--attest")),
            ("build --attest type=weird .",          &[], false, No("--attest")),
            // No-ops: BuildKit already does what they ask for.
            ("build --rm .",                         &[], false, Yes("…", D, "")),
            ("build --rm=false --force-rm .",        &[], false, Yes("…", D, "")),
            ("build --disable-content-trust .",      &[], false, Yes("…", D, "")),
            ("build --disable-content-trust=true .", &[], false, Yes("…", D, "")),
            ("build --isolation default .",          &[], false, Yes("…", D, "")),
            ("build --squash=false --compress=false --check=false .", &[], false, Yes("…", D, "")),
            ("build --call build .",                 &[], false, Yes("…", D, "")),
            // Dropped with a notice.
            ("buildx build --builder ci .",          &[], false, Yes("…", D, "--builder")),
            ("buildx build -D .",                    &[], false, Yes("…", D, "--debug")),
            ("build --compress .",                   &[], false, Yes("…", D, "--compress")),
            // Refused: no honest translation.
            ("build --disable-content-trust=false .", &[], false, No("--disable-content-trust")),
            ("build --memory 1g .",                  &[], false, No("--memory")),
            ("build -m 1g .",                        &[], false, No("--memory")),
            ("build --memory-swap=2g .",             &[], false, No("--memory-swap")),
            ("build --cpu-shares 512 .",             &[], false, No("--cpu-shares")),
            ("build -c 512 .",                       &[], false, No("--cpu-shares")),
            ("build --cpu-period=1 .",               &[], false, No("--cpu-period")),
            ("build --cpu-quota 1 .",                &[], false, No("--cpu-quota")),
            ("build --cpuset-cpus 0 .",              &[], false, No("--cpuset-cpus")),
            ("build --cpuset-mems=0 .",              &[], false, No("--cpuset-mems")),
            ("build --squash .",                     &[], false, No("--squash")),
            ("build --isolation hyperv .",           &[], false, No("--isolation")),
            ("build --security-opt seccomp=unconfined .", &[], false, No("--security-opt")),
            ("build --annotation a=b .",             &[], false, No("--annotation")),
            ("build --call check .",                 &[], false, No("--call")),
            ("build --check .",                      &[], false, No("--check")),
            ("build --help .",                       &[], false, No("--help")),
            ("build --frobnicate .",                 &[], false, No("--frobnicate")),
            ("build -x .",                           &[], false, No("-x")),
            ("build --target",                       &[], false, No("--target")),
        ]
    }

    fn run(line: &str, env: &[(&str, &str)], daemon: bool) -> Result<Translation> {
        let inv = Invocation::parse(split(line));
        let call = inv.build_call().expect("a build call");
        let lookup = |k: &OsStr| {
            env.iter()
                .find(|(n, _)| OsStr::new(n) == k)
                .map(|(_, v)| OsString::from(v))
        };
        translate(&Request {
            inv: &inv,
            call: &call,
            env: &lookup,
            daemon,
            scratch: Path::new("/s"),
        })
    }

    /// Splits a row's docker arguments on spaces (quotes are literal CSV quotes).
    fn split(line: &str) -> Vec<OsString> {
        line.split(' ')
            .filter(|w| !w.is_empty())
            .map(OsString::from)
            .collect()
    }

    fn expected_args(want: &str) -> Vec<String> {
        let mut args: Vec<String> = ["build", "--frontend", "dockerfile.v0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for w in want.split(' ').filter(|w| !w.is_empty()) {
            if w == "…" {
                args.extend(
                    ["--local", "context=.", "--local", "dockerfile=."]
                        .iter()
                        .map(|s| s.to_string()),
                );
            } else {
                args.push(w.to_string());
            }
        }
        args
    }

    #[test]
    fn the_mapping_table() {
        let mut failures = Vec::new();
        let rows = table();
        for (line, env, daemon, want) in &rows {
            let got = run(line, env, *daemon);
            let ok = match (want, &got) {
                (Yes(args, sink, notice), Ok(t)) => {
                    let got_args: Vec<String> = t
                        .args
                        .iter()
                        .map(|a| a.to_str().expect("test args are UTF-8").to_string())
                        .collect();
                    got_args == expected_args(args)
                        && t.sink == *sink
                        && if notice.is_empty() {
                            t.notices.is_empty()
                        } else {
                            t.notices.len() == 1 && t.notices[0].contains(notice)
                        }
                }
                (No(flag), Err(Error::Refused { flag: f, why, fix })) => {
                    f == flag && !why.is_empty() && !fix.is_empty()
                }
                _ => false,
            };
            if !ok {
                failures.push(format!("{line:?} daemon={daemon}: got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn non_utf8_values_reach_buildctl_byte_for_byte() {
        let raw = |b: &[u8]| OsStr::from_bytes(b).to_owned();
        let inv = Invocation::parse(vec![
            "build".into(),
            "--build-arg".into(),
            raw(b"K=\xff\xfe,v"),
            "--build-arg".into(),
            raw(b"FROM_ENV"),
            "-t".into(),
            raw(b"r/\xe9"),
            "--secret".into(),
            raw(b"id=s,src=\xff"),
            "-f".into(),
            raw(b"d\xff/D\xfe"),
            raw(b"ctx\xff"),
        ]);
        let call = inv.build_call().unwrap();
        let env = |k: &OsStr| (k == "FROM_ENV").then(|| raw(b"\x80env"));
        let t = translate(&Request {
            inv: &inv,
            call: &call,
            env: &env,
            daemon: true,
            scratch: Path::new("/s"),
        })
        .unwrap();
        let has = |b: &[u8]| t.args.iter().any(|a| a.as_bytes() == b);
        assert!(has(b"build-arg:K=\xff\xfe,v"), "{:?}", t.args);
        assert!(has(b"build-arg:FROM_ENV=\x80env"));
        assert!(has(b"context=ctx\xff"));
        assert!(has(b"dockerfile=d\xff"));
        assert!(has(b"filename=D\xfe"));
        assert!(has(b"id=s,src=\xff"));
        assert!(has(b"type=docker,name=r/\xe9"));
        assert_eq!(
            t.sink,
            Sink::Load {
                names: vec![raw(b"r/\xe9")]
            }
        );
        assert!(t.notices.is_empty());
    }

    #[test]
    fn iidfile_and_quiet_share_one_metadata_file() {
        let t = run("build --iidfile out/id -q .", &[], true).unwrap();
        let iid = t.iidfile.clone().unwrap();
        assert_eq!(iid.path, PathBuf::from("out/id"));
        assert_eq!(iid.metadata, PathBuf::from("out/id.buildctl-metadata.json"));
        assert!(iid.metadata_is_ours);
        assert_eq!(
            t.print_id,
            Some(PrintId {
                metadata: iid.metadata.clone(),
                metadata_is_ours: true
            })
        );
        let n = t.args.iter().filter(|a| *a == "--metadata-file").count();
        assert_eq!(n, 1);

        let t = run("build --iidfile id --metadata-file m.json -q .", &[], true).unwrap();
        assert_eq!(
            t.iidfile,
            Some(IidFile {
                path: "id".into(),
                metadata: "m.json".into(),
                metadata_is_ours: false
            })
        );
        assert_eq!(t.print_id.unwrap().metadata, PathBuf::from("m.json"));

        let t = run("build -t a .", &[], true).unwrap();
        assert!(t.iidfile.is_none() && t.print_id.is_none());
        assert!(!t.args.iter().any(|a| a == "--metadata-file"));
    }

    #[test]
    fn refusals_name_the_flag_and_the_fix_and_exit_2() {
        let e = run("build --memory 1g .", &[], false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--memory"));
        assert!(e.hint().unwrap().contains("cgroup-parent"));
        let e = run("build --load .", &[], false).unwrap_err();
        assert!(e.to_string().contains("no Docker daemon"));
    }

    #[test]
    fn notices_never_carry_values() {
        let t = run(
            "buildx build --builder SECRETBUILDER --build-arg TOKEN=hunter2 -t a .",
            &[],
            false,
        )
        .unwrap();
        assert!(!t.notices.is_empty(), "--builder is dropped with a notice");
        for n in &t.notices {
            assert!(
                !n.contains("hunter2") && !n.contains("SECRETBUILDER"),
                "{n}"
            );
        }
    }

    #[test]
    fn csv_quoting_round_trips() {
        assert_eq!(csv_quote_names(&names(&["a"])), OsString::from("name=a"));
        assert_eq!(
            csv_quote_names(&names(&["r/a:1", "r/b:2"])),
            OsString::from("\"name=r/a:1,r/b:2\"")
        );
        assert_eq!(
            csv_quote_names(&names(&["we\"ird"])),
            OsString::from("\"name=we\"\"ird\"")
        );
        for field in [
            &b"plain"[..],
            b"a,b",
            b"say \"hi\"",
            b"",
            b"\xff,\xfe",
            b"line\nbreak",
        ] {
            let quoted = csv_field(field);
            let record = [&quoted[..], b",", &csv_field(b"next")].concat();
            assert_eq!(
                csv_fields(&record),
                Some(vec![field.to_vec(), b"next".to_vec()]),
                "{field:?}"
            );
        }
        assert_eq!(csv_fields(b"a\"b"), None);
        assert_eq!(csv_fields(b"\"a\"b"), None);
        assert_eq!(csv_fields(b"\"open"), None);
        assert_eq!(
            csv_fields(b"type=image,\"name=a,b\",push=true"),
            Some(vec![
                b"type=image".to_vec(),
                b"name=a,b".to_vec(),
                b"push=true".to_vec()
            ])
        );
    }
}
