//! What each `docker build` flag means to dockroute: one row per flag in [`BUILD_FLAGS`]
//! (its spelling and arity, what the routes that run a Docker CLI < 23 do with it,
//! whether it needs BuildKit, and how it reaches `buildctl`), and a build call's
//! arguments parsed once into typed flag uses ([`BuildCall`]).
//!
//! The split follows ripgrep's low-args → high-args: [`crate::docker::args`] reads the
//! argument list with the arities of this table; [`BuildCall`] then holds each flag use
//! with its [`BuildFlag`] and its span, so every route asks by flag, never by string,
//! and rewrites the original arguments by index range. Values stay `OsString`s, byte for
//! byte. A new flag is a new [`BuildFlag`] and a new row; the routes read the row.
//!
//! The flags are those of `docker build` (legacy and BuildKit-era, docker/cli
//! `cli/command/image/build.go`) and `docker buildx build` (docker/buildx
//! `commands/build.go`). The buildctl column follows buildx's `build/opt.go` where the
//! legacy builder and buildx differ.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::docker::args::{is_false, Arity, FlagSpec, FlagUse};

/// A `docker build` flag. The variants are in the order of [`BUILD_FLAGS`] (sorted by
/// long name), so `flag as usize` is the index of its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BuildFlag {
    AddHost,
    Allow,
    Annotation,
    Attest,
    BuildArg,
    BuildContext,
    Builder,
    CacheFrom,
    CacheTo,
    Call,
    CgroupParent,
    Check,
    Compress,
    CpuPeriod,
    CpuQuota,
    CpuShares,
    CpusetCpus,
    CpusetMems,
    Debug,
    DisableContentTrust,
    File,
    ForceRm,
    Help,
    Iidfile,
    Isolation,
    Label,
    Load,
    Memory,
    MemorySwap,
    MetadataFile,
    Network,
    NoCache,
    NoCacheFilter,
    Output,
    Platform,
    Progress,
    Provenance,
    Pull,
    Push,
    Quiet,
    Rm,
    Sbom,
    Secret,
    SecurityOpt,
    ShmSize,
    Squash,
    Ssh,
    Tag,
    Target,
    Ulimit,
}

impl BuildFlag {
    /// This flag's row of [`BUILD_FLAGS`].
    #[must_use]
    pub fn row(self) -> &'static BuildFlagRow {
        &BUILD_FLAGS[self as usize]
    }

    /// The long name, without `--`.
    #[must_use]
    pub fn long(self) -> &'static str {
        self.row().spec.long
    }

    /// The flag as docker's messages write it: `--tag`.
    #[must_use]
    pub fn dashed(self) -> String {
        format!("--{}", self.long())
    }

    /// The flag with this long name, if the grammar knows it.
    #[must_use]
    pub fn from_long(long: &str) -> Option<BuildFlag> {
        BUILD_FLAGS
            .binary_search_by(|r| r.spec.long.cmp(long))
            .ok()
            .map(|i| BUILD_FLAGS[i].flag)
    }
}

/// What the routes that run a Docker CLI < 23 (`mounted`: a v20.10 client with the
/// daemon's builder; `legacy`: the first client's legacy builder) do with a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// The client takes it as it is.
    Keep,
    /// Kept when it names one value; several (`--platform a,b`) are refused, why.
    KeepOne(&'static str),
    /// Removed from the call with a notice saying why: on the mounted route (`None`:
    /// kept there), on the legacy route.
    Drop {
        /// Why, on the mounted route; `None` keeps it there.
        mounted: Option<&'static str>,
        /// Why, on the legacy route.
        legacy: &'static str,
    },
    /// Done by dockroute around the build (`--push`: build, then `docker push` each
    /// tag); dropped with a notice when given only turned off.
    Emulate,
    /// Only buildx can do it: refused when on (why), dropped with a notice when given
    /// only turned off (`--provenance=false`), which asks for nothing.
    Refuse(&'static str),
}

/// Whether a flag needs BuildKit rather than the legacy builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKit {
    /// Either builder does what it asks.
    No,
    /// Only BuildKit can: the mounted route turns BuildKit on for it (and says so when
    /// `DOCKER_BUILDKIT=0` keeps it off); the legacy route refuses it, saying why.
    Needs(&'static str),
    /// BuildKit does it, the legacy builder ignores it: the mounted route turns BuildKit
    /// on for it; the legacy route drops it ([`Legacy::Drop`]).
    Wants,
}

/// Why a flag cannot be translated to `buildctl`, and what to do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Why the flag is refused.
    pub why: &'static str,
    /// What the user can do instead.
    pub fix: &'static str,
}

/// How a flag reaches `buildctl build` on the BuildKit routes (`daemonless`, `remote`).
/// Every value is checked (a boolean must parse; a value flag must have a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buildctl {
    /// Translated by its own rule in [`crate::route::buildctl`]: what it becomes.
    Translate(&'static str),
    /// Accepted with nothing to pass: BuildKit already does what it asks for.
    Accept,
    /// Accepted when its value is one of these, refused otherwise.
    AcceptOnly(&'static [&'static [u8]], Refusal),
    /// It only names machinery this route does not use: dropped with this notice (a
    /// boolean only when on).
    Drop(&'static str),
    /// Refused when on (a boolean), or for a value flag any value but empty or false.
    RefuseOn(Refusal),
    /// Refused when turned off (`--disable-content-trust=false`).
    RefuseOff(Refusal),
    /// Always refused: there is no honest translation.
    Refuse(Refusal),
}

/// One `docker build` flag and what every route does with it.
#[derive(Debug)]
pub struct BuildFlagRow {
    /// Which flag (the row's index).
    pub flag: BuildFlag,
    /// Its spelling and arity, for the grammar.
    pub spec: FlagSpec,
    /// What the routes through a Docker CLI < 23 do with it.
    pub legacy: Legacy,
    /// Whether it needs BuildKit.
    pub buildkit: BuildKit,
    /// How it reaches `buildctl`.
    pub buildctl: Buildctl,
}

impl AsRef<FlagSpec> for BuildFlagRow {
    fn as_ref(&self) -> &FlagSpec {
        &self.spec
    }
}

use Arity::{Bool, Value};
use BuildFlag as F;
use Buildctl::{Accept, AcceptOnly, RefuseOff, RefuseOn, Translate};

const KEEP: Legacy = Legacy::Keep;
const NO: BuildKit = BuildKit::No;

#[allow(clippy::too_many_arguments)]
const fn row(
    flag: BuildFlag,
    long: &'static str,
    short: Option<u8>,
    arity: Arity,
    legacy: Legacy,
    buildkit: BuildKit,
    buildctl: Buildctl,
) -> BuildFlagRow {
    BuildFlagRow {
        flag,
        spec: FlagSpec { long, short, arity },
        legacy,
        buildkit,
        buildctl,
    }
}

const fn buildx_only(why: &'static str) -> Legacy {
    Legacy::Refuse(why)
}

const RESOURCES: Buildctl = Buildctl::Refuse(Refusal {
    why: "BuildKit has no per-build CPU or memory limits",
    fix: "limit the BuildKit daemon itself, or give `--cgroup-parent` a cgroup with the limits; then drop the flag",
});

const CHECKS: Refusal = Refusal {
    why: "build checks and other `--call` methods print their results through buildx, which buildctl cannot",
    fix: "run `docker buildx build --check` where buildx is installed, or drop the flag",
};

/// Why `--sbom` and `--attest type=sbom` are refused on the BuildKit routes.
pub const SBOM: Refusal = Refusal {
    why: "an SBOM attestation needs BuildKit's scanner image from a registry, which this translation does not set up",
    fix: "generate the SBOM in a separate step (e.g. with syft), or drop the flag",
};

/// Every `docker build` flag, sorted by long name (binary search), one row each.
/// Unknown flags are read as booleans by the grammar (at worst the build context is
/// misplaced in `explain`, never an argument taken), kept by the client routes and
/// refused by the buildctl translation.
#[rustfmt::skip]
pub static BUILD_FLAGS: &[BuildFlagRow] = &[
    row(F::AddHost, "add-host", None, Value, KEEP, NO, Translate("`--opt add-hosts=h=ip,…` (`h:ip` and `h=ip`; IPv6 in brackets)")),
    row(F::Allow, "allow", None, Value, buildx_only("entitlements (`--allow`) need buildx"), NO,
        Translate("`--allow` (the daemon's entitlements: network.host, security.insecure, device)")),
    row(F::Annotation, "annotation", None, Value, buildx_only("annotations need buildx"), NO,
        Buildctl::Refuse(Refusal {
            why: "annotations are not translated to buildctl",
            fix: "put it on the output instead: `-o type=image,name=…,annotation.KEY=VALUE`",
        })),
    row(F::Attest, "attest", None, Value, buildx_only("attestations need buildx"), NO,
        Translate("`type=provenance` → `--opt attest:provenance=…`; a disabled SBOM accepted")),
    row(F::BuildArg, "build-arg", None, Value, KEEP, NO,
        Translate("`--opt build-arg:K=V`; bare `K` from the environment, omitted when unset")),
    row(F::BuildContext, "build-context", None, Value, buildx_only("named build contexts need buildx"), NO,
        Translate("`--local name=path --opt context:name=local:name`, or `--opt context:name=SOURCE`")),
    row(F::Builder, "builder", None, Value,
        Legacy::Drop {
            mounted: Some("the v20.10 client builds with the daemon's own builder"),
            legacy: "the legacy builder is the daemon's own",
        }, NO,
        Buildctl::Drop("dropped --builder: the build runs on the BuildKit daemon dockroute chose, not on a buildx builder")),
    row(F::CacheFrom, "cache-from", None, Value, KEEP, NO,
        Translate("`--import-cache` (a bare ref → `type=registry,ref=REF`)")),
    row(F::CacheTo, "cache-to", None, Value, buildx_only("exporting a build cache needs buildx"), NO,
        Translate("`--export-cache` (a bare ref → `type=registry,ref=REF`)")),
    row(F::Call, "call", None, Value, buildx_only("build checks (`--call`) need buildx"), NO,
        AcceptOnly(&[b"build", b""], CHECKS)),
    row(F::CgroupParent, "cgroup-parent", None, Value, KEEP, NO, Translate("`--opt cgroup-parent=…`")),
    row(F::Check, "check", None, Bool, buildx_only("build checks (`--check`) need buildx"), NO, RefuseOn(CHECKS)),
    row(F::Compress, "compress", None, Bool, KEEP, NO,
        Buildctl::Drop("dropped --compress: BuildKit sends only the changed files of the context; the image is the same")),
    row(F::CpuPeriod, "cpu-period", None, Value, KEEP, NO, RESOURCES),
    row(F::CpuQuota, "cpu-quota", None, Value, KEEP, NO, RESOURCES),
    row(F::CpuShares, "cpu-shares", Some(b'c'), Value, KEEP, NO, RESOURCES),
    row(F::CpusetCpus, "cpuset-cpus", None, Value, KEEP, NO, RESOURCES),
    row(F::CpusetMems, "cpuset-mems", None, Value, KEEP, NO, RESOURCES),
    row(F::Debug, "debug", Some(b'D'), Bool, KEEP, NO,
        Buildctl::Drop("dropped --debug: buildctl's debug logging is not turned on")),
    // BuildKit never verifies image signatures, which is what the flag (true by default)
    // asks for; asking for verification cannot be honoured.
    row(F::DisableContentTrust, "disable-content-trust", None, Bool, KEEP, NO,
        RefuseOff(Refusal {
            why: "BuildKit does not verify image signatures (Docker Content Trust)",
            fix: "drop `--disable-content-trust=false`; verify base images by digest (`FROM image@sha256:…`) instead",
        })),
    row(F::File, "file", Some(b'f'), Value, KEEP, NO,
        Translate("`-f DIR/NAME` → `--local dockerfile=DIR --opt filename=NAME`")),
    // BuildKit runs no intermediate containers to keep or remove.
    row(F::ForceRm, "force-rm", None, Bool, KEEP, NO, Accept),
    row(F::Help, "help", None, Bool, KEEP, NO,
        Buildctl::Refuse(Refusal {
            why: "the help text is the docker CLI's own",
            fix: "run `DOCKROUTE_MODE=pass docker build --help`",
        })),
    row(F::Iidfile, "iidfile", None, Value, KEEP, NO,
        Translate("`--metadata-file`, and the image ID written from it after the build")),
    row(F::Isolation, "isolation", None, Value, KEEP, NO,
        AcceptOnly(&[b"", b"default"], Refusal {
            why: "BuildKit on Linux has only the default isolation",
            fix: "drop the flag",
        })),
    row(F::Label, "label", None, Value, KEEP, NO, Translate("`--opt label:k=v`")),
    row(F::Load, "load", None, Bool,
        Legacy::Drop {
            mounted: Some("the v20.10 client loads the built image into the daemon anyway"),
            legacy: "the legacy builder always loads the image into the daemon",
        }, NO,
        Translate("`--output type=docker`, piped into `docker load`")),
    row(F::Memory, "memory", Some(b'm'), Value, KEEP, NO, RESOURCES),
    row(F::MemorySwap, "memory-swap", None, Value, KEEP, NO, RESOURCES),
    row(F::MetadataFile, "metadata-file", None, Value, buildx_only("`--metadata-file` needs buildx"), NO,
        Translate("`--metadata-file`")),
    row(F::Network, "network", None, Value, KEEP, NO,
        Translate("`none`/`host` → `--opt force-network-mode=…` (host also `--allow network.host`)")),
    row(F::NoCache, "no-cache", None, Bool, KEEP, NO, Translate("`--no-cache`")),
    row(F::NoCacheFilter, "no-cache-filter", None, Value, buildx_only("`--no-cache-filter` needs buildx"), NO,
        Translate("`--opt no-cache=a,b`")),
    row(F::Output, "output", Some(b'o'), Value, KEEP, BuildKit::Needs("custom outputs need BuildKit"),
        Translate("`--output` (buildx's shorthands; `type=registry` → `type=image,push=true`)")),
    row(F::Platform, "platform", None, Value, Legacy::KeepOne("several platforms in one build need buildx"), NO,
        Translate("`--opt platform=a,b` (all values joined)")),
    row(F::Progress, "progress", None, Value,
        Legacy::Drop { mounted: None, legacy: "the legacy builder has no progress modes" }, BuildKit::Wants,
        Translate("`--progress` (`none` → `quiet`)")),
    row(F::Provenance, "provenance", None, Value, buildx_only("provenance attestations need buildx"), NO,
        Translate("`--opt attest:provenance=…`")),
    row(F::Pull, "pull", None, Bool, KEEP, NO, Translate("`--opt image-resolve-mode=pull`")),
    row(F::Push, "push", None, Bool, Legacy::Emulate, NO,
        Translate("`--output type=image,name=TAGS,push=true`")),
    row(F::Quiet, "quiet", Some(b'q'), Bool, KEEP, NO,
        Translate("`--progress quiet`, `--metadata-file`, and the image ID printed from it")),
    row(F::Rm, "rm", None, Bool, KEEP, NO, Accept),
    row(F::Sbom, "sbom", None, Value, buildx_only("SBOM attestations need buildx"), NO, RefuseOn(SBOM)),
    row(F::Secret, "secret", None, Value, KEEP,
        BuildKit::Needs("build secrets (`RUN --mount=type=secret`) need BuildKit"), Translate("`--secret`")),
    row(F::SecurityOpt, "security-opt", None, Value, KEEP, NO,
        Buildctl::Refuse(Refusal {
            why: "BuildKit takes no per-build security options",
            fix: "for a privileged step use `RUN --security=insecure` with `--allow security.insecure`; seccomp and AppArmor profiles are set on the BuildKit daemon",
        })),
    row(F::ShmSize, "shm-size", None, Value, KEEP, NO, Translate("`--opt shm-size=BYTES`")),
    row(F::Squash, "squash", None, Bool, KEEP, NO,
        RefuseOn(Refusal {
            why: "BuildKit has no layer squashing",
            fix: "squash in the Dockerfile with a final stage `FROM scratch` + `COPY --from=build / /`, or drop the flag",
        })),
    row(F::Ssh, "ssh", None, Value, KEEP, BuildKit::Needs("SSH agent forwarding needs BuildKit"), Translate("`--ssh`")),
    row(F::Tag, "tag", Some(b't'), Value, KEEP, NO,
        Translate("the `name` of the image outputs, and where the image goes")),
    row(F::Target, "target", None, Value, KEEP, NO, Translate("`--opt target=T`")),
    row(F::Ulimit, "ulimit", None, Value, KEEP, NO, Translate("`--opt ulimit=name=soft:hard,…` (the last per name)")),
];

/// The flags that say what becomes of a build's result (its name, where it goes, its ID)
/// or that skip the build cache. A second build of the same call for another purpose —
/// the stage images of [`crate::route::warm`], built from the cache right after the
/// build — leaves them out, so it neither clobbers the build's outputs nor runs again.
pub(crate) const RESULT_FLAGS: &[BuildFlag] = &[
    BuildFlag::Tag,
    BuildFlag::Target,
    BuildFlag::Push,
    BuildFlag::Load,
    BuildFlag::Output,
    BuildFlag::Iidfile,
    BuildFlag::MetadataFile,
    BuildFlag::Quiet,
    BuildFlag::NoCache,
    BuildFlag::NoCacheFilter,
];

/// One flag occurrence of a build call: which flag (`None` for one the grammar does not
/// know) and the occurrence as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFlagUse {
    /// The flag, when the grammar knows it.
    pub flag: Option<BuildFlag>,
    /// The occurrence: name, value, span in the original arguments.
    pub arg: FlagUse,
}

impl BuildFlagUse {
    /// Whether this occurrence turns the flag on: not a value Go's `ParseBool` reads as
    /// false (`--push=false`, `--provenance=0`), as the docker CLI reads it.
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.arg.value.as_deref().map_or(true, |v| !is_false(v))
    }
}

/// The flags of a build call, typed, with their positions: what every route reads.
#[derive(Debug, Clone, Default)]
pub struct BuildCall {
    /// Every flag occurrence, in order.
    pub flags: Vec<BuildFlagUse>,
    /// Indices of positional arguments (normally one: the build context).
    pub positional: Vec<usize>,
}

impl BuildCall {
    /// Types the flag occurrences the grammar found (named by their long name).
    #[must_use]
    pub fn new(flags: Vec<FlagUse>, positional: Vec<usize>) -> BuildCall {
        BuildCall {
            flags: flags
                .into_iter()
                .map(|arg| BuildFlagUse {
                    flag: BuildFlag::from_long(&arg.name),
                    arg,
                })
                .collect(),
            positional,
        }
    }

    /// Every occurrence of a flag.
    pub fn all(&self, flag: BuildFlag) -> impl Iterator<Item = &FlagUse> + '_ {
        self.flags
            .iter()
            .filter(move |u| u.flag == Some(flag))
            .map(|u| &u.arg)
    }

    /// Whether the flag is on: it occurs, and not only with false values.
    #[must_use]
    pub fn has(&self, flag: BuildFlag) -> bool {
        self.flags.iter().any(|u| u.flag == Some(flag) && u.is_on())
    }

    /// Whether the flag occurs only turned off (`--provenance=false`): a client that
    /// does not know the flag would still reject it.
    #[must_use]
    pub fn only_off(&self, flag: BuildFlag) -> bool {
        self.all(flag).next().is_some() && !self.has(flag)
    }

    /// The values given for `-t/--tag`, in order.
    #[must_use]
    pub fn tags(&self) -> Vec<OsString> {
        self.all(F::Tag).filter_map(|f| f.value.clone()).collect()
    }

    /// The number of target platforms asked for (`--platform a,b` counts two).
    #[must_use]
    pub fn platform_count(&self) -> usize {
        self.value_count(F::Platform)
    }

    /// The number of comma-separated values given for a flag, over all its uses.
    #[must_use]
    pub fn value_count(&self, flag: BuildFlag) -> usize {
        self.all(flag)
            .filter_map(|f| f.value.as_ref())
            .map(|v| {
                v.as_bytes()
                    .split(|b| *b == b',')
                    .filter(|p| !p.is_empty())
                    .count()
            })
            .sum()
    }

    /// The rows of the flags this call turns on, in table order, each once.
    pub fn rows_on(&self) -> impl Iterator<Item = &'static BuildFlagRow> + '_ {
        BUILD_FLAGS.iter().filter(|r| self.has(r.flag))
    }

    /// The rows of the flags this call gives at all, in table order, each once.
    pub fn rows_given(&self) -> impl Iterator<Item = &'static BuildFlagRow> + '_ {
        BUILD_FLAGS
            .iter()
            .filter(|r| self.all(r.flag).next().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_and_indexed_by_their_flag() {
        assert!(BUILD_FLAGS
            .windows(2)
            .all(|w| w[0].spec.long < w[1].spec.long));
        for (i, r) in BUILD_FLAGS.iter().enumerate() {
            assert_eq!(r.flag as usize, i, "{} is out of place", r.spec.long);
            assert_eq!(BuildFlag::from_long(r.spec.long), Some(r.flag));
        }
        assert_eq!(BuildFlag::Ulimit as usize + 1, BUILD_FLAGS.len());
        assert_eq!(BuildFlag::from_long("frobnicate"), None);
    }

    #[test]
    fn short_letters_are_unique() {
        let shorts: Vec<u8> = BUILD_FLAGS.iter().filter_map(|r| r.spec.short).collect();
        let mut sorted = shorts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), shorts.len());
    }

    /// The columns agree with each other: a flag only BuildKit can do is kept by the
    /// client (which turns BuildKit on), one BuildKit merely wants is dropped on the
    /// legacy route, and only boolean flags are emulated.
    #[test]
    fn the_columns_agree() {
        for r in BUILD_FLAGS {
            match r.buildkit {
                BuildKit::Needs(why) => {
                    assert_eq!(r.legacy, Legacy::Keep, "{}", r.spec.long);
                    assert!(why.contains("need"), "{}", r.spec.long);
                }
                BuildKit::Wants => assert!(
                    matches!(r.legacy, Legacy::Drop { mounted: None, .. }),
                    "{}",
                    r.spec.long
                ),
                BuildKit::No => assert!(
                    !matches!(r.legacy, Legacy::Drop { mounted: None, .. }),
                    "{}: dropped only on the legacy route, yet not wanting BuildKit",
                    r.spec.long
                ),
            }
            if r.legacy == Legacy::Emulate {
                assert_eq!(r.spec.arity, Arity::Bool, "{}", r.spec.long);
            }
            if let AcceptOnly(values, _) = r.buildctl {
                assert_eq!(r.spec.arity, Arity::Value, "{}", r.spec.long);
                assert!(!values.is_empty());
            }
        }
    }

    #[test]
    fn calls_are_typed_by_flag() {
        let u = |name: &str, value: Option<&str>, at: usize| FlagUse {
            name: name.into(),
            value: value.map(OsString::from),
            span: at..at + 1,
        };
        let call = BuildCall::new(
            vec![
                u("tag", Some("a"), 0),
                u("push", Some("false"), 1),
                u("provenance", Some("0"), 2),
                u("frobnicate", None, 3),
                u("platform", Some("linux/amd64,linux/arm64"), 4),
                u("tag", Some("b"), 5),
            ],
            vec![6],
        );
        assert_eq!(call.tags(), [OsString::from("a"), OsString::from("b")]);
        assert!(!call.has(F::Push) && call.only_off(F::Push));
        assert!(call.only_off(F::Provenance));
        assert!(!call.only_off(F::Tag) && call.has(F::Tag));
        assert_eq!(call.flags[3].flag, None);
        assert_eq!(call.platform_count(), 2);
        let on: Vec<_> = call.rows_on().map(|r| r.flag).collect();
        assert_eq!(on, [F::Platform, F::Tag]);
        let given: Vec<_> = call.rows_given().map(|r| r.flag).collect();
        assert_eq!(given, [F::Platform, F::Provenance, F::Push, F::Tag]);
    }
}
