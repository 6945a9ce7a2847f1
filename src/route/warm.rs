//! Warm rebuilds through Bitbucket's docker cache, for the routes that build on the
//! daemon (`mounted`, `legacy`). Pure: it reads the call and [`WarmFacts`] and says what
//! to add.
//!
//! Bitbucket's `docker` cache keeps images: `docker image save` at the end of a step,
//! `docker image load` at the start of the next (Atlassian's "read-only pipeline docker
//! cache" knowledge-base article). BuildKit's own build cache is not in an image, so a
//! BuildKit build in the next step starts cold, and a legacy build finds its cache in a
//! loaded image only through `--cache-from` (the parent links of its intermediate images
//! are not in a saved tag). So, unless `DOCKROUTE_WARM=off`:
//! - on BuildKit, `--build-arg BUILDKIT_INLINE_CACHE=1` puts the build's cache metadata
//!   in the image (BuildKit's inline cache, the final stage's layers), unless the call
//!   sets `BUILDKIT_INLINE_CACHE` itself (any value, bare or `K=V`): the call's wins;
//! - on either builder, `--cache-from TAG` for each of the build's own tags the daemon
//!   has (looked up by [`crate::probe::images`]; a tag it lacks is not passed, since the
//!   daemon's BuildKit would look it up in a registry), unless the call already names it
//!   or passes `--no-cache`. The call's own `--cache-from`s stay where they are;
//! - with `DOCKROUTE_WARM=on` (the default; `final` stops at the above), a BuildKit
//!   build of a multi-stage Dockerfile also keeps the named stages its target uses as
//!   images of their own, `dockroute-stage/REPO:STAGE` (REPO from the first `-t`), each
//!   built after the build (`--target STAGE`, from BuildKit's cache by then) with inline
//!   cache when the daemon lacks it, and passed as `--cache-from` when it has it (the
//!   docker cache brought it back). Inline cache
//!   is BuildKit's `mode=min`: without this, a stage the final image only copies from
//!   (a dependency install in a builder stage) is cold after the docker cache, while the
//!   legacy builder keeps it in its intermediate images. The cost is the stage images'
//!   bytes in the docker cache (the layers the legacy builder's intermediate images held
//!   anyway) and one cached build per stage in a step whose daemon lacks the image (the
//!   first of a docker cache's week; measured in `bench/builds.sh`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::docker::build_flags::{BuildCall, BuildFlag};
use crate::route::facts::{DockerfileScan, LocalTags, WarmFacts, WarmLevel};
use crate::route::plan::{StageImage, Warm};

/// The repository of the stage images: a name of dockroute's own, so the stages never
/// land in the user's repository (`docker push --all-tags` would push them).
pub(crate) const STAGE_REPOSITORY: &str = "dockroute-stage";

/// The build argument that asks BuildKit for inline cache metadata.
pub(crate) const INLINE_CACHE: &str = "BUILDKIT_INLINE_CACHE";
/// It, turned on: what the routes add.
pub(crate) const INLINE_CACHE_ON: &str = "BUILDKIT_INLINE_CACHE=1";

/// Whether the call sets `BUILDKIT_INLINE_CACHE` itself (`K=V`, or bare `K` taken from
/// the environment).
fn sets_inline_cache(call: &BuildCall) -> bool {
    call.all(BuildFlag::BuildArg)
        .filter_map(|f| f.value.as_ref())
        .any(|v| {
            let name = v
                .as_bytes()
                .split(|b| *b == b'=')
                .next()
                .unwrap_or_default();
            name == INLINE_CACHE.as_bytes()
        })
}

/// The repository part of an image reference, lowercased, as one path component:
/// `127.0.0.1:5000/team/app:1` → `127-0-0-1-5000-team-app`.
fn repository_component(tag: &[u8]) -> String {
    let without_digest = tag.split(|b| *b == b'@').next().unwrap_or_default();
    // A `:` after the last `/` starts the tag (one before it is a registry's port).
    let last_slash = without_digest
        .iter()
        .rposition(|b| *b == b'/')
        .map_or(0, |i| i + 1);
    let repo = match without_digest[last_slash..].iter().position(|b| *b == b':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    };
    let mut out = String::new();
    for b in repo {
        let c = b.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c as char);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(200);
    out
}

/// The named stages the build's target (`--target`, else the last stage) uses, directly
/// or through other stages, earliest first, each with its image
/// `dockroute-stage/REPO:STAGE`. Empty without a `-t` to name them after, without a
/// local Dockerfile, or with a single stage.
#[must_use]
pub(crate) fn stage_images(
    call: &BuildCall,
    scan: Option<&DockerfileScan>,
) -> Vec<(String, OsString)> {
    let Some(stages) = scan.map(|s| &s.stages).filter(|s| s.len() > 1) else {
        return Vec::new();
    };
    let Some(repo) = call
        .tags()
        .first()
        .map(|t| repository_component(t.as_bytes()))
        .filter(|r| !r.is_empty())
    else {
        return Vec::new();
    };
    let target = match call
        .all(BuildFlag::Target)
        .filter_map(|f| f.value.as_ref())
        .last()
    {
        Some(t) => {
            let t = t.to_string_lossy().to_ascii_lowercase();
            match stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.as_str()))
            {
                Some(i) => i,
                None => return Vec::new(),
            }
        }
        None => stages.len() - 1,
    };
    let mut used = vec![false; stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        for &u in &stages[i].uses {
            if u < stages.len() && !used[u] {
                used[u] = true;
                todo.push(u);
            }
        }
    }
    stages
        .iter()
        .enumerate()
        .filter(|(i, _)| used[*i] && *i != target)
        .filter_map(|(_, s)| s.name.clone())
        .map(|name| {
            let mut tag = format!("{STAGE_REPOSITORY}/{repo}:{name}");
            tag.truncate(STAGE_REPOSITORY.len() + 1 + repo.len() + 1 + 128);
            (name, tag.into())
        })
        .collect()
}

/// What to add to a build on the daemon with this builder (`buildkit`: the daemon's
/// BuildKit; otherwise the legacy builder); `None` when `DOCKROUTE_WARM=off`.
#[must_use]
pub(crate) fn plan(
    call: &BuildCall,
    warm: &WarmFacts,
    scan: Option<&DockerfileScan>,
    buildkit: bool,
) -> Option<Warm> {
    if warm.level == WarmLevel::Off {
        return None;
    }
    let mut w = Warm::default();
    let own_inline = sets_inline_cache(call);
    if buildkit {
        if own_inline {
            w.kept
                .push(format!("{INLINE_CACHE} is set by the call and kept"));
        } else {
            w.inline_cache = true;
        }
    }
    let given: Vec<&OsString> = call
        .all(BuildFlag::CacheFrom)
        .filter_map(|f| f.value.as_ref())
        .collect();
    let stages = if warm.level == WarmLevel::Stages && w.inline_cache {
        stage_images(call, scan)
    } else {
        Vec::new()
    };
    match &warm.local_tags {
        _ if call.has(BuildFlag::NoCache) => {
            w.kept.push("--no-cache: no --cache-from added".into());
        }
        LocalTags::Unchecked(why) => w.kept.push(format!("no --cache-from: {why}")),
        LocalTags::Present(present) => {
            let own = call.tags();
            w.cache_from = own
                .iter()
                .chain(stages.iter().map(|(_, t)| t))
                .filter(|t| present.contains(t) && !given.contains(t))
                .cloned()
                .collect();
            if own.is_empty() {
                w.kept
                    .push("no -t/--tag, so no image of this build to take the cache from".into());
            } else if !own.iter().any(|t| present.contains(t)) {
                w.kept
                    .push("no tag of this build is in the daemon yet, so no --cache-from".into());
            }
        }
    }
    // Only a stage image the daemon lacks is built: one the docker cache brought back
    // stays as it is, since Bitbucket saves a cache only when it has none (it expires
    // after a week), so a refreshed image would not be saved anyway, and a stale one
    // still holds the stage's slow steps (its dependency install) when their inputs did
    // not change. Where the daemon could not be asked, none is built: none could be used.
    w.stage_images = match &warm.local_tags {
        LocalTags::Present(present) => stages
            .into_iter()
            .filter(|(_, tag)| !present.contains(tag))
            .map(|(stage, tag)| StageImage { stage, tag })
            .collect(),
        LocalTags::Unchecked(_) => Vec::new(),
    };
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::args::Invocation;

    fn call(args: &[&str]) -> BuildCall {
        Invocation::parse(args.iter().map(OsString::from).collect())
            .build_call()
            .unwrap()
    }

    fn facts(present: &[&str]) -> WarmFacts {
        WarmFacts {
            level: WarmLevel::Stages,
            local_tags: LocalTags::Present(present.iter().map(OsString::from).collect()),
        }
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    /// A row: the call, the tags the daemon has, BuildKit or not, what is added.
    type Row = (
        &'static [&'static str],
        &'static [&'static str],
        bool,
        &'static [&'static str],
    );

    /// The table: the call, the tags the daemon has, BuildKit or not → what is added.
    #[test]
    fn what_is_added() {
        #[rustfmt::skip]
        let rows: &[Row] = &[
            // BuildKit, both tags present: inline cache and a --cache-from each.
            (&["build", "-t", "app:1", "-t", "app:latest", "."], &["app:1", "app:latest"], true,
             &["--build-arg", "BUILDKIT_INLINE_CACHE=1", "--cache-from", "app:1", "--cache-from", "app:latest"]),
            // A tag the daemon lacks adds nothing.
            (&["build", "-t", "app:2", "."], &[], true, &["--build-arg", "BUILDKIT_INLINE_CACHE=1"]),
            // The legacy builder gets no build argument it would warn about.
            (&["build", "-t", "app:1", "."], &["app:1"], false, &["--cache-from", "app:1"]),
            // The call's own BUILDKIT_INLINE_CACHE wins, whatever its value or form.
            (&["build", "--build-arg", "BUILDKIT_INLINE_CACHE=0", "-t", "app:1", "."], &["app:1"], true, &["--cache-from", "app:1"]),
            (&["build", "--build-arg=BUILDKIT_INLINE_CACHE", "-t", "app:1", "."], &[], true, &[]),
            // A lookalike name is not the switch.
            (&["build", "--build-arg", "BUILDKIT_INLINE_CACHE_X=0", "-t", "a", "."], &[], true, &["--build-arg", "BUILDKIT_INLINE_CACHE=1"]),
            // The call's own --cache-from of the same tag is not repeated; others stay.
            (&["build", "--cache-from", "app:1", "--cache-from=reg/app:cache", "-t", "app:1", "-t", "app:2", "."], &["app:1", "app:2"], true,
             &["--build-arg", "BUILDKIT_INLINE_CACHE=1", "--cache-from", "app:2"]),
            // --no-cache: no --cache-from; the image still carries its cache for next time.
            (&["build", "--no-cache", "-t", "app:1", "."], &["app:1"], true, &["--build-arg", "BUILDKIT_INLINE_CACHE=1"]),
            // --no-cache=false is not --no-cache.
            (&["build", "--no-cache=false", "-t", "app:1", "."], &["app:1"], false, &["--cache-from", "app:1"]),
        ];
        for (args, present, buildkit, added) in rows {
            let w = plan(&call(args), &facts(present), None, *buildkit).unwrap();
            assert_eq!(w.args(), os(added), "{args:?} with {present:?}");
        }
    }

    #[test]
    fn off_adds_nothing() {
        let mut f = facts(&["app:1"]);
        f.level = WarmLevel::Off;
        assert_eq!(
            plan(&call(&["build", "-t", "app:1", "."]), &f, None, true),
            None
        );
    }

    #[test]
    fn what_is_not_added_is_said() {
        let w = plan(
            &call(&[
                "build",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=0",
                "-t",
                "app:1",
                ".",
            ]),
            &facts(&[]),
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            w.describe(),
            "nothing added (BUILDKIT_INLINE_CACHE is set by the call and kept; no tag of this build is in the daemon yet, so no --cache-from)"
        );
        let unchecked = WarmFacts {
            level: WarmLevel::Stages,
            local_tags: LocalTags::Unchecked("the daemon at ssh://h is reached only through the client, so its images are not looked up".into()),
        };
        let w = plan(
            &call(&["build", "-t", "app:1", "."]),
            &unchecked,
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            w.describe(),
            "BUILDKIT_INLINE_CACHE=1 (no --cache-from: the daemon at ssh://h is reached only through the client, so its images are not looked up)"
        );
        let w = plan(
            &call(&["build", "-t", "app:1", "."]),
            &facts(&["app:1"]),
            None,
            true,
        )
        .unwrap();
        assert_eq!(w.describe(), "BUILDKIT_INLINE_CACHE=1, --cache-from app:1");
    }

    fn multi_stage(text: &str) -> DockerfileScan {
        DockerfileScan {
            path: "Dockerfile".into(),
            findings: Vec::new(),
            stages: crate::docker::dockerfile::stages(text.as_bytes()),
        }
    }

    const FOUR_STAGES: &str = "FROM a AS deps\nFROM deps AS build\nFROM a AS test\nCOPY --from=build /x /x\nFROM scratch\nCOPY --from=build /app /app\n";

    #[test]
    fn the_stages_the_target_uses_get_images_of_their_own() {
        let names = |args: &[&str], text: &str| -> Vec<(String, String)> {
            stage_images(&call(args), Some(&multi_stage(text)))
                .into_iter()
                .map(|(s, t)| (s, t.to_string_lossy().into_owned()))
                .collect()
        };
        // The final stage uses build, which uses deps; test is not built, so not kept.
        assert_eq!(
            names(
                &[
                    "build",
                    "-t",
                    "127.0.0.1:5000/Team/App:1",
                    "-t",
                    "other",
                    "."
                ],
                FOUR_STAGES
            ),
            vec![
                (
                    "deps".into(),
                    "dockroute-stage/127-0-0-1-5000-team-app:deps".into()
                ),
                (
                    "build".into(),
                    "dockroute-stage/127-0-0-1-5000-team-app:build".into()
                ),
            ]
        );
        assert_eq!(
            names(
                &["build", "--target", "TEST", "-t", "app", "."],
                FOUR_STAGES
            ),
            vec![
                ("deps".into(), "dockroute-stage/app:deps".into()),
                ("build".into(), "dockroute-stage/app:build".into()),
            ]
        );
        assert!(names(
            &["build", "--target", "deps", "-t", "app", "."],
            FOUR_STAGES
        )
        .is_empty());
        assert!(names(
            &["build", "--target", "nope", "-t", "app", "."],
            FOUR_STAGES
        )
        .is_empty());
        assert!(
            names(&["build", "."], FOUR_STAGES).is_empty(),
            "no tag to name them after"
        );
        assert!(names(&["build", "-t", "app", "."], "FROM a\nRUN x\n").is_empty());
        assert!(
            names(
                &["build", "-t", "app@sha256:00", "."],
                "FROM a\nFROM b\nCOPY --from=0 / /\n"
            )
            .is_empty(),
            "an unnamed stage cannot be a --target"
        );
    }

    #[test]
    fn stage_images_are_added_only_on_buildkit_with_inline_cache_at_level_on() {
        let scan = multi_stage(FOUR_STAGES);
        let args = ["build", "-t", "app:1", "."];
        let f = facts(&["app:1", "dockroute-stage/app:build"]);
        let w = plan(&call(&args), &f, Some(&scan), true).unwrap();
        // deps is missing: built after the build; build came back: a cache source only.
        assert_eq!(
            w.args(),
            os(&[
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                "--cache-from",
                "app:1",
                "--cache-from",
                "dockroute-stage/app:build"
            ])
        );
        let stages: Vec<&str> = w.stage_images.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(stages, ["deps"]);
        assert_eq!(
            Warm::stage_args(&w.stage_images[0]),
            os(&[
                "--target",
                "deps",
                "-t",
                "dockroute-stage/app:deps",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1"
            ])
        );
        assert!(
            w.describe()
                .contains("--cache-from dockroute-stage/app:build, stage images dockroute-stage/app:deps (built from the cache after the build)"),
            "{}",
            w.describe()
        );
        // Both back from the docker cache: nothing built after the build.
        let both = facts(&[
            "app:1",
            "dockroute-stage/app:deps",
            "dockroute-stage/app:build",
        ]);
        let w = plan(&call(&args), &both, Some(&scan), true).unwrap();
        assert!(w.stage_images.is_empty());
        assert_eq!(w.cache_from.len(), 3);
        // The daemon could not be asked: no stage image would ever be used.
        let unchecked = WarmFacts {
            level: WarmLevel::Stages,
            local_tags: LocalTags::Unchecked("ssh".into()),
        };
        assert!(plan(&call(&args), &unchecked, Some(&scan), true)
            .unwrap()
            .stage_images
            .is_empty());
        let mut final_only = f.clone();
        final_only.level = WarmLevel::Final;
        assert!(plan(&call(&args), &final_only, Some(&scan), true)
            .unwrap()
            .stage_images
            .is_empty());
        assert!(
            plan(&call(&args), &f, Some(&scan), false)
                .unwrap()
                .stage_images
                .is_empty(),
            "legacy builder"
        );
        let own = call(&[
            "build",
            "--build-arg",
            "BUILDKIT_INLINE_CACHE=0",
            "-t",
            "app:1",
            ".",
        ]);
        assert!(
            plan(&own, &f, Some(&scan), true)
                .unwrap()
                .stage_images
                .is_empty(),
            "no inline cache, no use"
        );
    }
}
