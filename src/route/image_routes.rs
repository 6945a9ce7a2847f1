//! The route of an image command (`tag`, `push`, `save`, `images`, `rmi`, `image
//! inspect`) and of the calls that need a container runtime, where there is no daemon.
//! Pure.
//!
//! - With a docker client and a daemon that answers (or a daemon not asked), the call
//!   passes through untouched: the daemon has the images.
//! - With no docker client, or a client whose daemon does not answer, the call acts on
//!   dockroute's records of builds made on BuildKit ([`crate::route::records`]):
//!   `tag`, `images`, `rmi` and `image inspect` are answered by dockroute itself
//!   ([`crate::images::commands`]); `push` and `save` run the recorded build again on
//!   BuildKit with an image push or a docker-format tarball as output, and compare the
//!   digest with the record's afterwards. A name with no record is an error naming it.
//! - In a BuildKit pod (no docker client, BuildKit there), a call that needs a
//!   container runtime (`run`, `exec`, `create`, `compose up` …) gets one line saying
//!   there is no daemon here and what works instead: exit 125.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::docker::args::{ImageOp, Invocation};
use crate::error::{Error, Result};
use crate::route::buildctl::csv_field;
use crate::route::decide::{command_words, pass_plan};
use crate::route::facts::{Facts, Runtime};
use crate::route::mode::Route;
use crate::route::plan::{After, AfterAction, DigestCheck, Plan, Step};
use crate::route::records::{normalize, repository, ImageRecord, RanOn};

/// What works in a BuildKit pod, for the no-daemon messages.
pub(crate) const WHAT_WORKS: &str = "what works here: `docker build` (on BuildKit), `docker tag`, `docker push`, `docker save`, `docker images`, `docker rmi`, `docker image inspect` (on the records of those builds), `docker login`, `docker logout`";

/// Commands that need a container runtime (a daemon): in a BuildKit pod they exit 125.
const RUNTIME_COMMANDS: &[&str] = &[
    "attach",
    "commit",
    "container",
    "cp",
    "create",
    "diff",
    "events",
    "exec",
    "export",
    "import",
    "info",
    "kill",
    "load",
    "logs",
    "network",
    "pause",
    "port",
    "ps",
    "pull",
    "restart",
    "rm",
    "run",
    "start",
    "stats",
    "stop",
    "system",
    "top",
    "unpause",
    "update",
    "volume",
    "wait",
];

/// `compose` subcommands that need a container runtime.
const RUNTIME_COMPOSE: &[&str] = &[
    "create", "exec", "kill", "logs", "pause", "ps", "restart", "rm", "run", "start", "stop",
    "top", "unpause", "up", "down", "watch",
];

/// Whether this machine is a BuildKit pod as far as the facts tell: no docker client, and
/// BuildKit there (its client, the daemonless script, or an address).
#[must_use]
pub(crate) fn buildkit_pod(facts: &Facts) -> bool {
    let bk = &facts.buildkit;
    facts.clients.is_empty()
        && (bk.buildctl.is_some()
            || bk.daemonless.is_some()
            || bk.host.is_some()
            || bk.remote.is_some())
}

/// In a BuildKit pod, a call that needs a container runtime: the error it ends with.
#[must_use]
pub(crate) fn needs_runtime(inv: &Invocation, facts: &Facts) -> Option<Error> {
    if !buildkit_pod(facts) {
        return None;
    }
    let word = inv.args.get(inv.command_at)?.to_str()?;
    let sub = if word == "compose" {
        let sub = inv.compose_subcommand()?.to_str()?;
        RUNTIME_COMPOSE
            .contains(&sub)
            .then(|| format!("compose {sub}"))?
    } else {
        RUNTIME_COMMANDS.contains(&word).then(|| word.to_string())?
    };
    Some(Error::NoDaemon {
        command: sub,
        works: WHAT_WORKS.into(),
    })
}

/// Whether the record store names what this call acts on (for `images`: whether it
/// holds any record). With a docker client on PATH, only then is the daemon asked
/// whether it answers; otherwise the call passes straight through.
#[must_use]
pub(crate) fn store_names_call(inv: &Invocation, op: ImageOp, records: &[ImageRecord]) -> bool {
    if records.is_empty() {
        return false;
    }
    if op == ImageOp::List {
        return true;
    }
    inv.rest().iter().filter_map(|a| a.to_str()).any(|a| {
        let n = normalize(a);
        records
            .iter()
            .any(|r| r.name == n || repository(&r.name) == a)
    })
}

/// Whether the records are what answers: no client, or no daemon answers.
fn records_answer(facts: &Facts) -> bool {
    facts.clients.is_empty() || matches!(facts.runtime, Some(Runtime::NoDaemon { .. }))
}

fn reason(facts: &Facts) -> String {
    if facts.clients.is_empty() {
        "no docker client on PATH (a BuildKit pod): dockroute's records of the builds made here answer".into()
    } else {
        format!(
            "{}: dockroute's records of the builds made here on BuildKit answer",
            facts
                .runtime
                .as_ref()
                .map_or("no daemon answers", Runtime::why)
        )
    }
}

/// The arguments of an image command, read with the command's own small grammar.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// Flags seen (long name), with their value when they take one.
    pub flags: Vec<(&'static str, Option<OsString>)>,
    /// The other arguments, in order.
    pub positional: Vec<OsString>,
}

impl Args {
    /// The positional arguments as text (image names are text in docker's API).
    #[must_use]
    pub(crate) fn names(&self) -> Vec<String> {
        self.positional
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    /// Whether the flag `name` (long name) was given.
    #[must_use]
    pub(crate) fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| *n == name)
    }
    /// The last value of the flag `name`.
    #[must_use]
    pub(crate) fn value(&self, name: &str) -> Option<&OsString> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_ref())
    }
}

/// (long, short, takes a value, supported on records)
type Spec = (&'static str, Option<u8>, bool, bool);

fn specs(op: ImageOp) -> &'static [Spec] {
    match op {
        ImageOp::Tag => &[],
        ImageOp::Push => &[
            ("all-tags", Some(b'a'), false, true),
            ("quiet", Some(b'q'), false, true),
            ("disable-content-trust", None, false, true),
            ("platform", None, true, false),
        ],
        ImageOp::Save => &[
            ("output", Some(b'o'), true, true),
            ("platform", None, true, false),
        ],
        ImageOp::List => &[
            ("all", Some(b'a'), false, true),
            ("quiet", Some(b'q'), false, true),
            ("no-trunc", None, false, true),
            ("digests", None, false, false),
            ("filter", Some(b'f'), true, false),
            ("format", None, true, false),
            ("tree", None, false, false),
        ],
        ImageOp::Remove => &[
            ("force", Some(b'f'), false, true),
            ("no-prune", None, false, true),
            ("platform", None, true, false),
        ],
        ImageOp::Inspect => &[
            ("format", Some(b'f'), true, true),
            ("platform", None, true, false),
        ],
    }
}

fn usage(why: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::Image {
        why: why.into(),
        fix: fix.into(),
    }
}

/// Reads the arguments of an image command; flags records cannot answer are errors.
///
/// # Errors
/// [`Error::Image`] naming the flag.
pub(crate) fn parse(inv: &Invocation, op: ImageOp) -> Result<Args> {
    let table = specs(op);
    let words = command_words(inv);
    let mut out = Args::default();
    let mut it = inv.rest().iter();
    let mut only_positional = false;
    while let Some(a) = it.next() {
        let b = a.as_bytes();
        if only_positional || b.len() < 2 || b[0] != b'-' {
            out.positional.push(a.clone());
            continue;
        }
        if b == b"--" {
            only_positional = true;
            continue;
        }
        let (spec, inline) = if let Some(body) = b.strip_prefix(b"--") {
            let (name, inline) = match body.iter().position(|c| *c == b'=') {
                Some(p) => (
                    &body[..p],
                    Some(OsString::from(std::ffi::OsStr::from_bytes(&body[p + 1..]))),
                ),
                None => (body, None),
            };
            (table.iter().find(|s| s.0.as_bytes() == name), inline)
        } else if b.len() == 2 {
            (table.iter().find(|s| s.1 == Some(b[1])), None)
        } else {
            // `-ofile` / `-qa`
            let spec = table.iter().find(|s| s.1 == Some(b[1]));
            match spec {
                Some(s) if s.2 => (
                    Some(s),
                    Some(OsString::from(std::ffi::OsStr::from_bytes(&b[2..]))),
                ),
                _ => {
                    // A cluster of boolean short flags.
                    for c in &b[1..] {
                        match table.iter().find(|s| s.1 == Some(*c) && !s.2) {
                            Some(s) if s.3 => out.flags.push((s.0, None)),
                            _ => return Err(unsupported(&words, &a.to_string_lossy())),
                        }
                    }
                    continue;
                }
            }
        };
        let Some(spec) = spec else {
            return Err(unsupported(&words, &a.to_string_lossy()));
        };
        if !spec.3 {
            return Err(unsupported(&words, &a.to_string_lossy()));
        }
        let value = if spec.2 {
            match inline {
                Some(v) => Some(v),
                None => Some(it.next().cloned().ok_or_else(|| {
                    usage(
                        format!(
                            "`docker {words}`: flag needs an argument: {}",
                            a.to_string_lossy()
                        ),
                        format!("see `docker {words} --help`"),
                    )
                })?),
            }
        } else {
            None
        };
        out.flags.push((spec.0, value));
    }
    Ok(out)
}

fn unsupported(words: &str, flag: &str) -> Error {
    Error::Image {
        why: format!(
            "`docker {words} {flag}` is not answered from dockroute's records of BuildKit builds (there is no Docker daemon here)"
        ),
        fix: format!("drop `{flag}`, or run the call where a Docker daemon is"),
    }
}

/// The error for a name that has no record.
#[must_use]
pub(crate) fn no_record(name: &str) -> Error {
    Error::Image {
        why: format!(
            "no image `{name}` here: there is no Docker daemon, and dockroute has no record of a build named `{name}`"
        ),
        fix: format!(
            "build it first with `docker build -t {name} DIR` (on BuildKit, recorded for `docker tag`/`push`/`save`), or build and push at once with `docker build -t {name} --push DIR`; an image already in a registry needs no push here, and a Dockerfile's `FROM {name}` pulls it"
        ),
    }
}

/// `docker tag`'s two names (SOURCE, TARGET).
///
/// # Errors
/// [`Error::Image`], a usage error, unless there are exactly two.
pub(crate) fn tag_pair<'a>(inv: &Invocation, names: &'a [String]) -> Result<(&'a str, &'a str)> {
    match names {
        [src, dst] => Ok((src, dst)),
        _ => {
            let words = command_words(inv);
            Err(usage(
                format!(
                    "`docker {words}` requires exactly 2 arguments (SOURCE_IMAGE TARGET_IMAGE)"
                ),
                format!("usage: docker {words} SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
            ))
        }
    }
}

fn find<'a>(records: &'a [ImageRecord], name: &str) -> Option<&'a ImageRecord> {
    let n = normalize(name);
    records.iter().find(|r| r.name == n)
}

/// Decides an image command.
///
/// # Errors
/// [`Error::Image`] for a name with no record or a flag records cannot answer;
/// [`Error::Refused`] when BuildKit is needed and not there; [`Error::NoClient`] never
/// (with no client, the records answer).
pub(crate) fn decide(inv: &Invocation, op: ImageOp, facts: &Facts) -> Result<Plan> {
    if !records_answer(facts) {
        if let Some(first) = facts.clients.first() {
            return Ok(pass_plan(inv, first));
        }
    }
    let args = parse(inv, op)?;
    let words = command_words(inv);
    let recs = &facts.records;
    let reason = reason(facts);
    let answered = |notices: Vec<String>| {
        let mut argv: Vec<OsString> = vec!["docker".into()];
        argv.extend(inv.args.iter().cloned());
        Plan {
            reason: Some(reason.clone()),
            notices,
            ..Plan::new(Route::Records, words.clone(), PathBuf::new(), argv)
        }
    };
    let names = args.names();
    match op {
        ImageOp::Tag => {
            let (src, dst) = tag_pair(inv, &names)?;
            find(recs, src).ok_or_else(|| no_record(src))?;
            if dst.is_empty() || dst.contains(char::is_whitespace) {
                return Err(usage(
                    format!("invalid reference format: `{dst}`"),
                    "name the target as REGISTRY/REPOSITORY[:TAG]",
                ));
            }
            Ok(answered(Vec::new()))
        }
        ImageOp::List => {
            if names.len() > 1 {
                return Err(usage(
                    format!("`docker {words}` accepts at most 1 argument (REPOSITORY[:TAG])"),
                    format!("usage: docker {words} [REPOSITORY[:TAG]]"),
                ));
            }
            Ok(answered(Vec::new()))
        }
        ImageOp::Remove | ImageOp::Inspect => {
            if names.is_empty() {
                return Err(usage(
                    format!("`docker {words}` requires at least 1 argument"),
                    format!("usage: docker {words} IMAGE [IMAGE...]"),
                ));
            }
            if !(op == ImageOp::Remove && args.has("force")) {
                if let Some(missing) = names.iter().find(|n| find(recs, n).is_none()) {
                    return Err(no_record(missing));
                }
            }
            if op == ImageOp::Inspect {
                if let Some(f) = args.value("format") {
                    crate::route::records::InspectFormat::parse(&f.to_string_lossy()).ok_or_else(|| {
                        usage(format!(
                                "`docker {words} --format {}` is not answered from dockroute's records: only `{{{{.Id}}}}`, `{{{{.ID}}}}`, `{{{{.RepoTags}}}}`, `{{{{json .}}}}` and `json` are",
                                f.to_string_lossy()
                            ),
                            "use one of those, or no --format (the JSON of what is known)",
                        )
                    })?;
                }
            }
            Ok(answered(Vec::new()))
        }
        ImageOp::Push => {
            let [name] = names.as_slice() else {
                return Err(usage(
                    format!("`docker {words}` requires exactly 1 argument"),
                    format!("usage: docker {words} [-a] NAME[:TAG]"),
                ));
            };
            let chosen: Vec<&ImageRecord> = if args.has("all-tags") {
                let repo = repository(name);
                recs.iter()
                    .filter(|r| repository(&r.name) == repo)
                    .collect()
            } else {
                find(recs, name).into_iter().collect()
            };
            if chosen.is_empty() {
                return Err(no_record(&if args.has("all-tags") {
                    repository(name).to_string()
                } else {
                    normalize(name)
                }));
            }
            replay(facts, &words, &reason, &chosen, |names| {
                let mut v = b"type=image,".to_vec();
                v.extend(csv_field(format!("name={}", names.join(",")).as_bytes()));
                v.extend_from_slice(b",push=true");
                Ok(OsString::from(std::ffi::OsStr::from_bytes(&v)))
            })
        }
        ImageOp::Save => {
            if names.is_empty() {
                return Err(usage(
                    format!("`docker {words}` requires at least 1 argument"),
                    format!("usage: docker {words} -o FILE IMAGE [IMAGE...]"),
                ));
            }
            let mut chosen = Vec::new();
            for n in &names {
                chosen.push(find(recs, n).ok_or_else(|| no_record(n))?);
            }
            if chosen.iter().any(|r| !r.same_build(chosen[0])) {
                return Err(usage("these names were recorded from different builds, and one `buildctl` run writes one build's image".to_string(),
                    format!("save them one build at a time: `docker {words} -o FILE NAME` for each"),
                ));
            }
            let dest = args.value("output").cloned();
            replay(facts, &words, &reason, &chosen, move |names| {
                let mut v = b"type=docker,".to_vec();
                v.extend(csv_field(format!("name={}", names.join(",")).as_bytes()));
                if let Some(d) = &dest {
                    v.push(b',');
                    v.extend(csv_field(&[&b"dest="[..], d.as_bytes()].concat()));
                }
                Ok(OsString::from(std::ffi::OsStr::from_bytes(&v)))
            })
        }
    }
}

/// The plan that runs recorded builds again, one `buildctl` run per build, with the
/// output `output(names)` and a metadata file each, in the directory they were built
/// in.
fn replay(
    facts: &Facts,
    words: &str,
    reason: &str,
    chosen: &[&ImageRecord],
    output: impl Fn(&[String]) -> Result<OsString>,
) -> Result<Plan> {
    // One run per build: the names of one build go out together.
    let mut groups: Vec<Vec<&ImageRecord>> = Vec::new();
    for r in chosen {
        match groups.iter_mut().find(|g| g[0].same_build(r)) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    let cwd = groups[0][0].build.cwd.clone();
    if groups.iter().any(|g| g[0].build.cwd != cwd) {
        return Err(Error::Image {
            why: "these names were recorded from builds in different directories".into(),
            fix: format!("run `docker {words}` for one name at a time"),
        });
    }
    let bk = &facts.buildkit;
    let mut notices = Vec::new();
    let mut supervised = false;
    let mut steps = Vec::new();
    let mut checks = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let (program, mut argv) = match &g[0].ran_on {
            RanOn::Address { address } => at(facts, address)?,
            RanOn::Daemonless => match (&bk.daemonless, &bk.host) {
                (Some(script), _) => {
                    supervised = true;
                    (script.clone(), vec![script.clone().into_os_string()])
                }
                (None, Some(host)) => {
                    notices.push(format!(
                        "`{}` was built on a private BuildKit (buildctl-daemonless.sh), which is not on PATH now: building it again at BUILDKIT_HOST={host}",
                        g[0].name
                    ));
                    at(facts, host)?
                }
                (None, None) => {
                    return Err(Error::Refused {
                        flag: format!("docker {words}"),
                        why: format!(
                            "`{}` was built on a private BuildKit (buildctl-daemonless.sh), which is not on PATH now, and BUILDKIT_HOST is not set",
                            g[0].name
                        ),
                        fix: "put buildctl-daemonless.sh (with buildctl and buildkitd) back on PATH, or set BUILDKIT_HOST".into(),
                    })
                }
            },
        };
        argv.extend(
            g[0].build
                .args
                .iter()
                .map(crate::route::records::Arg::to_os),
        );
        let names: Vec<String> = g.iter().map(|r| r.name.clone()).collect();
        argv.push("--output".into());
        argv.push(output(&names)?);
        let metadata = facts.scratch.join(format!("replay-{i}.json"));
        argv.push("--metadata-file".into());
        argv.push(metadata.clone().into_os_string());
        checks.push(DigestCheck {
            names,
            recorded: g[0].digest.clone(),
            metadata,
        });
        steps.push(Step { program, argv });
    }
    let first = steps.remove(0);
    Ok(Plan {
        reason: Some(reason.to_string()),
        notices,
        then: steps,
        supervised,
        cwd: Some(cwd),
        after: Some(After {
            metadata: checks[0].metadata.clone(),
            action: AfterAction::Compare(checks),
            metadata_is_ours: true,
            scratch: Some(facts.scratch.clone()),
        }),
        ..Plan::new(Route::Records, words.to_string(), first.program, first.argv)
    })
}

/// `buildctl --addr ADDRESS [--tlsdir DIR]`.
fn at(facts: &Facts, address: &str) -> Result<(PathBuf, Vec<OsString>)> {
    let bk = &facts.buildkit;
    let program = bk.buildctl.clone().ok_or_else(|| Error::Refused {
        flag: format!("--addr {address}"),
        why: "`buildctl` is not on PATH".into(),
        fix: "install BuildKit's client (the `buildctl` binary of a moby/buildkit release) into a directory on PATH".into(),
    })?;
    let mut argv = vec![
        program.clone().into_os_string(),
        "--addr".into(),
        address.into(),
    ];
    if let Some(dir) = &bk.tls_dir {
        if address.starts_with("tcp://") {
            argv.push("--tlsdir".into());
            argv.push(dir.clone().into_os_string());
        }
    }
    Ok((program, argv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::facts::{BuildKitFacts, Client};
    use crate::route::records::{Arg, RecordedBuild};

    const BUILDCTL: &str = "/bk/buildctl";
    const SCRIPT: &str = "/bk/buildctl-daemonless.sh";

    fn inv(args: &[&str]) -> Invocation {
        Invocation::parse(args.iter().map(OsString::from).collect())
    }

    fn op(i: &Invocation) -> ImageOp {
        match i.kind {
            crate::docker::args::CommandKind::Image(op) => op,
            k => panic!("not an image command: {k:?}"),
        }
    }

    fn record(name: &str, ctx: &str, ran_on: RanOn) -> ImageRecord {
        ImageRecord {
            name: name.into(),
            build: RecordedBuild {
                args: [
                    "build",
                    "--frontend",
                    "dockerfile.v0",
                    "--local",
                    &format!("context={ctx}"),
                ]
                .iter()
                .map(|a| Arg::Text((*a).into()))
                .collect(),
                cwd: "/work".into(),
                context: Arg::Text(ctx.into()),
                dockerfile: Arg::Text(format!("{ctx}/Dockerfile")),
            },
            ran_on,
            digest: Some("sha256:d1".into()),
            id: Some("sha256:c1".into()),
            created: 1,
        }
    }

    fn host() -> RanOn {
        RanOn::Address {
            address: "unix:///run/buildkit/buildkitd.sock".into(),
        }
    }

    /// A pod: no client, buildctl and the script on PATH, records of `reg/app:1` (and
    /// `reg/app:latest`, same build) and `reg/other:1` (another build).
    fn pod() -> Facts {
        Facts {
            buildkit: BuildKitFacts {
                buildctl: Some(BUILDCTL.into()),
                daemonless: Some(SCRIPT.into()),
                ..BuildKitFacts::default()
            },
            records: vec![
                record("reg/app:1", ".", host()),
                record("reg/app:latest", ".", host()),
                record("reg/other:1", "other", RanOn::Daemonless),
            ],
            scratch: "/tmp/s".into(),
            ..Facts::default()
        }
    }

    fn run(args: &[&str], facts: &Facts) -> Result<Plan> {
        let i = inv(args);
        decide(&i, op(&i), facts)
    }

    fn argv(p: &Plan) -> Vec<String> {
        p.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn with_a_client_and_a_daemon_everything_passes_through() {
        let mut f = pod();
        f.clients = vec![Client::fixture("/usr/bin/docker", 28, false, false)];
        for runtime in [None, Some(Runtime::Open { why: "x".into() })] {
            f.runtime = runtime;
            for args in [
                &["push", "reg/app:1"][..],
                &["tag", "nothing", "x"],
                &["images", "--format", "x"],
            ] {
                let p = run(args, &f).unwrap();
                assert_eq!(p.route, Route::Pass, "{args:?}");
                assert_eq!(p.program, PathBuf::from("/usr/bin/docker"));
            }
        }
        // A client whose daemon does not answer: the records.
        f.runtime = Some(Runtime::NoDaemon {
            why: "no daemon answered: refused".into(),
        });
        let p = run(&["push", "reg/app:1"], &f).unwrap();
        assert_eq!(p.route, Route::Records);
        assert!(p.reason.unwrap().starts_with("no daemon answered"));
    }

    #[test]
    fn the_store_is_consulted_only_for_the_names_it_holds() {
        let f = pod();
        let names = |args: &[&str]| {
            let i = inv(args);
            store_names_call(&i, op(&i), &f.records)
        };
        assert!(names(&["push", "reg/app:1"]));
        assert!(names(&["push", "-a", "reg/app"]));
        assert!(names(&["tag", "reg/app:latest", "x"]));
        assert!(names(&["images"]));
        assert!(!names(&["push", "reg/app:2"]));
        assert!(!names(&["save", "busybox"]));
        let i = inv(&["images"]);
        assert!(!store_names_call(&i, ImageOp::List, &[]));
    }

    #[test]
    fn the_table() {
        let f = pod();
        // (call, route, program, argv[1..] (after the program) or None, cwd)
        let rows: &[(&[&str], &str, &[&str])] = &[
            (
                &["tag", "reg/app:1", "reg/app:2"],
                "",
                &["docker", "tag", "reg/app:1", "reg/app:2"],
            ),
            (
                &["image", "tag", "reg/app:1", "x"],
                "",
                &["docker", "image", "tag", "reg/app:1", "x"],
            ),
            (&["images"], "", &["docker", "images"]),
            (
                &["image", "ls", "-q", "reg/app"],
                "",
                &["docker", "image", "ls", "-q", "reg/app"],
            ),
            (&["rmi", "reg/app:1"], "", &["docker", "rmi", "reg/app:1"]),
            (
                &["rmi", "-f", "nothing"],
                "",
                &["docker", "rmi", "-f", "nothing"],
            ),
            (
                &["image", "inspect", "-f", "{{.Id}}", "reg/app:1"],
                "",
                &["docker", "image", "inspect", "-f", "{{.Id}}", "reg/app:1"],
            ),
            (
                &["push", "reg/app:1"],
                BUILDCTL,
                &[
                    BUILDCTL,
                    "--addr",
                    "unix:///run/buildkit/buildkitd.sock",
                    "build",
                    "--frontend",
                    "dockerfile.v0",
                    "--local",
                    "context=.",
                    "--output",
                    "type=image,name=reg/app:1,push=true",
                    "--metadata-file",
                    "/tmp/s/replay-0.json",
                ],
            ),
            (
                &["image", "push", "--all-tags", "reg/app"],
                BUILDCTL,
                &[
                    BUILDCTL,
                    "--addr",
                    "unix:///run/buildkit/buildkitd.sock",
                    "build",
                    "--frontend",
                    "dockerfile.v0",
                    "--local",
                    "context=.",
                    "--output",
                    "type=image,\"name=reg/app:1,reg/app:latest\",push=true",
                    "--metadata-file",
                    "/tmp/s/replay-0.json",
                ],
            ),
            (
                &["push", "reg/other:1"],
                SCRIPT,
                &[
                    SCRIPT,
                    "build",
                    "--frontend",
                    "dockerfile.v0",
                    "--local",
                    "context=other",
                    "--output",
                    "type=image,name=reg/other:1,push=true",
                    "--metadata-file",
                    "/tmp/s/replay-0.json",
                ],
            ),
            (
                &["save", "-o", "out.tar", "reg/app:1", "reg/app"],
                BUILDCTL,
                &[
                    BUILDCTL,
                    "--addr",
                    "unix:///run/buildkit/buildkitd.sock",
                    "build",
                    "--frontend",
                    "dockerfile.v0",
                    "--local",
                    "context=.",
                    "--output",
                    "type=docker,\"name=reg/app:1,reg/app:latest\",dest=out.tar",
                    "--metadata-file",
                    "/tmp/s/replay-0.json",
                ],
            ),
        ];
        for (args, program, want) in rows {
            let p = run(args, &f).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(p.route, Route::Records, "{args:?}");
            assert_eq!(p.program, PathBuf::from(program), "{args:?}");
            assert_eq!(argv(&p), *want, "{args:?}");
            if program.is_empty() {
                assert_eq!(p.runner(), "dockroute itself");
                assert!(p.after.is_none() && p.cwd.is_none());
            } else {
                assert_eq!(p.cwd, Some(PathBuf::from("/work")), "{args:?}");
                assert_eq!(p.supervised, *program == SCRIPT, "{args:?}");
                let Some(After {
                    action: AfterAction::Compare(checks),
                    ..
                }) = &p.after
                else {
                    panic!("{args:?}: no digest check");
                };
                assert_eq!(checks[0].recorded.as_deref(), Some("sha256:d1"));
                assert!(p.needs_supervisor());
            }
        }
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        let f = pod();
        for (args, name) in [
            (&["push", "reg/nothing:1"][..], "reg/nothing:1"),
            (&["push", "reg/nothing"], "reg/nothing:latest"),
            (&["push", "-a", "reg/nothing"], "reg/nothing"),
            (&["tag", "reg/nothing:1", "x"], "reg/nothing:1"),
            (
                &["save", "-o", "f", "reg/app:1", "reg/nothing:1"],
                "reg/nothing:1",
            ),
            (&["rmi", "reg/nothing:1"], "reg/nothing:1"),
            (&["image", "inspect", "reg/nothing:1"], "reg/nothing:1"),
        ] {
            let e = run(args, &f).unwrap_err();
            assert_eq!(e.exit_code(), 1, "{args:?}");
            assert!(
                e.to_string().contains(&format!("no image `{name}`")),
                "{args:?}: {e}"
            );
            assert!(e.hint().unwrap().contains("docker build -t"), "{args:?}");
        }
    }

    #[test]
    fn what_records_cannot_answer_is_said() {
        let f = pod();
        for args in [
            &["images", "--format", "{{.ID}}"][..],
            &["push", "--platform", "linux/arm64", "reg/app:1"],
            &["save", "-o", "f", "reg/app:1", "reg/other:1"],
            &["tag", "reg/app:1"],
            &["image", "inspect", "-f", "{{.Size}}", "reg/app:1"],
            &["push"],
        ] {
            let e = run(args, &f).unwrap_err();
            assert_eq!(e.exit_code(), 1, "{args:?}: {e}");
        }
        // A private BuildKit's build with neither the script nor an address now.
        let mut f = pod();
        f.buildkit.daemonless = None;
        let e = run(&["push", "reg/other:1"], &f).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        f.buildkit.host = Some("tcp://127.0.0.1:1".into());
        let p = run(&["push", "reg/other:1"], &f).unwrap();
        assert_eq!(argv(&p)[..3], [BUILDCTL, "--addr", "tcp://127.0.0.1:1"]);
        assert_eq!(p.notices.len(), 1);
    }

    #[test]
    fn runtime_commands_in_a_buildkit_pod_exit_125_and_elsewhere_are_not_judged() {
        let f = pod();
        for (args, command) in [
            (&["run", "--rm", "x"][..], "run"),
            (&["-H", "unix:///x", "exec", "c", "sh"], "exec"),
            (&["create", "x"], "create"),
            (&["compose", "-f", "c.yml", "up", "-d"], "compose up"),
        ] {
            let e = needs_runtime(&inv(args), &f).unwrap_or_else(|| panic!("{args:?}"));
            assert_eq!(e.exit_code(), 125);
            assert!(
                e.to_string()
                    .contains(&format!("`docker {command}` needs a container runtime")),
                "{e}"
            );
            assert!(e.hint().unwrap().contains("docker push"));
        }
        for args in [
            &["version"][..],
            &["--version"],
            &["compose", "config"],
            &["login"],
        ] {
            assert!(needs_runtime(&inv(args), &f).is_none(), "{args:?}");
        }
        // No BuildKit at all: not a BuildKit pod (the no-client error stands).
        assert!(needs_runtime(&inv(&["run", "x"]), &Facts::default()).is_none());
        // A client: not judged here.
        let mut with_client = pod();
        with_client.clients = vec![Client::fixture("/usr/bin/docker", 28, false, false)];
        assert!(needs_runtime(&inv(&["run", "x"]), &with_client).is_none());
    }
}
