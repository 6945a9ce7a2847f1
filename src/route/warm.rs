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
//!   or passes `--no-cache`. The call's own `--cache-from`s stay where they are.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::docker::build_flags::{BuildCall, BuildFlag};
use crate::route::facts::{LocalTags, WarmFacts};
use crate::route::plan::Warm;

/// The build argument that asks BuildKit for inline cache metadata.
pub const INLINE_CACHE: &str = "BUILDKIT_INLINE_CACHE";
/// It, turned on: what the routes add.
pub const INLINE_CACHE_ON: &str = "BUILDKIT_INLINE_CACHE=1";

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

/// What to add to a build on the daemon with this builder (`buildkit`: the daemon's
/// BuildKit; otherwise the legacy builder); `None` when `DOCKROUTE_WARM=off`.
#[must_use]
pub fn plan(call: &BuildCall, warm: &WarmFacts, buildkit: bool) -> Option<Warm> {
    if !warm.on {
        return None;
    }
    let mut w = Warm::default();
    if buildkit {
        if sets_inline_cache(call) {
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
    match &warm.local_tags {
        _ if call.has(BuildFlag::NoCache) => {
            w.kept.push("--no-cache: no --cache-from added".into());
        }
        LocalTags::Unchecked(why) => w.kept.push(format!("no --cache-from: {why}")),
        LocalTags::Present(tags) => {
            w.cache_from = tags
                .iter()
                .filter(|t| !given.contains(t))
                .cloned()
                .collect();
            let tags_given = call.tags();
            if tags_given.is_empty() {
                w.kept
                    .push("no -t/--tag, so no image of this build to take the cache from".into());
            } else if tags.is_empty() {
                w.kept
                    .push("no tag of this build is in the daemon yet, so no --cache-from".into());
            }
        }
    }
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
            on: true,
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
            let w = plan(&call(args), &facts(present), *buildkit).unwrap();
            assert_eq!(w.args(), os(added), "{args:?} with {present:?}");
        }
    }

    #[test]
    fn off_adds_nothing() {
        let mut f = facts(&["app:1"]);
        f.on = false;
        assert_eq!(plan(&call(&["build", "-t", "app:1", "."]), &f, true), None);
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
            true,
        )
        .unwrap();
        assert_eq!(
            w.describe(),
            "nothing added (BUILDKIT_INLINE_CACHE is set by the call and kept; no tag of this build is in the daemon yet, so no --cache-from)"
        );
        let unchecked = WarmFacts {
            on: true,
            local_tags: LocalTags::Unchecked("the daemon at ssh://h is reached only through the client, so its images are not looked up".into()),
        };
        let w = plan(&call(&["build", "-t", "app:1", "."]), &unchecked, true).unwrap();
        assert_eq!(
            w.describe(),
            "BUILDKIT_INLINE_CACHE=1 (no --cache-from: the daemon at ssh://h is reached only through the client, so its images are not looked up)"
        );
        let w = plan(
            &call(&["build", "-t", "app:1", "."]),
            &facts(&["app:1"]),
            true,
        )
        .unwrap();
        assert_eq!(w.describe(), "BUILDKIT_INLINE_CACHE=1, --cache-from app:1");
    }
}
