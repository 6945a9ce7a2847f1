//! What facts a call needs, and which BuildKit a build goes to: the routing rules that
//! gathering and `doctor` must follow, stated once, beside the decision that applies them.
//!
//! Gathering asks [`needs`] before it probes anything (so the pass-through path and calls
//! that route nothing pay for nothing), and checks only the address [`buildkit_address`]
//! names; doctor reports on that same address. Both are pure.

use crate::docker::args::CommandKind;
use crate::route::facts::{BuildKitFacts, Runtime};
use crate::route::mode::{Mode, Route};

/// The facts a call needs beyond the clients on PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The runtime (the daemon probe, or `DOCKROUTE_RUNTIME`).
    pub runtime: bool,
    /// Whether the BuildKit a build would use must be checked for an answer.
    pub buildkit: bool,
}

/// What `kind` needs under `mode`; `everything` asks for all of it (doctor's report).
#[must_use]
pub(crate) fn needs(kind: &CommandKind, mode: Mode, everything: bool) -> Needs {
    // Image commands (explain of `push` …): whether a daemon answers decides whether
    // the records do. The shim itself asks only when the record store names the image.
    let routed = matches!(
        kind,
        CommandKind::Build(_)
            | CommandKind::Compose
            | CommandKind::BuilderBoot(_)
            | CommandKind::Image(_)
    );
    let build = matches!(kind, CommandKind::Build(_));
    Needs {
        // Auto decides from the runtime; a forced remote build loads into a daemon when
        // one exists.
        runtime: everything
            || (routed && mode == Mode::Auto)
            || (build && mode.forces(Route::Remote)),
        buildkit: everything || build,
    }
}

/// The BuildKit address a build goes to, if any: the shared BuildKit
/// (`DOCKROUTE_BUILDKIT_HOST`) unless another route is forced, else `BUILDKIT_HOST` when
/// there is no daemon (or the daemonless route is forced). Either may be a node list, as
/// set: [`crate::route::nodes`] picks the build's node from it.
#[must_use]
pub(crate) fn buildkit_address<'a>(
    bk: &'a BuildKitFacts,
    mode: Mode,
    runtime: Option<&Runtime>,
) -> Option<&'a str> {
    let no_daemon =
        matches!(runtime, Some(Runtime::NoDaemon { .. })) || mode.forces(Route::Daemonless);
    match (&bk.remote, &bk.host) {
        (Some(remote), _) if mode == Mode::Auto || mode.forces(Route::Remote) => Some(remote),
        (_, Some(host)) if no_daemon => Some(host),
        _ => None,
    }
}

/// Whether a build ends on a route that builds with a docker client on the daemon
/// (mounted or legacy), whose result persists as the daemon's images (what Bitbucket's
/// docker cache saves): forced so, or in auto mode a restricted runtime with no shared
/// BuildKit (which takes every build, on any runtime).
#[must_use]
pub(crate) fn daemon_side(mode: Mode, shared_buildkit: bool, runtime: Option<&Runtime>) -> bool {
    match mode {
        Mode::Force(route) => matches!(route, Route::Mounted | Route::Legacy),
        Mode::Auto => !shared_buildkit && matches!(runtime, Some(Runtime::Restricted { .. })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::args::Invocation;

    fn kind(args: &[&str]) -> CommandKind {
        Invocation::parse(args.iter().map(Into::into).collect()).kind
    }

    #[test]
    fn what_each_call_needs() {
        let no = Needs {
            runtime: false,
            buildkit: false,
        };
        let auto = Mode::Auto;
        let pass = Mode::Force(Route::Pass);
        let remote = Mode::Force(Route::Remote);
        #[rustfmt::skip]
        let rows: &[(&[&str], Mode, bool, Needs)] = &[
            (&["ps"], auto, false, no),
            (&["push", "x"], auto, false, Needs { runtime: true, buildkit: false }),
            (&["push", "x"], pass, false, no),
            (&["build", "."], auto, false, Needs { runtime: true, buildkit: true }),
            (&["build", "."], pass, false, Needs { runtime: false, buildkit: true }),
            (&["build", "."], remote, false, Needs { runtime: true, buildkit: true }),
            (&["buildx", "build", "."], Mode::Force(Route::Mounted), false, Needs { runtime: false, buildkit: true }),
            (&["compose", "build"], auto, false, Needs { runtime: true, buildkit: false }),
            (&["compose", "build"], remote, false, no),
            (&["buildx", "bake"], auto, false, Needs { runtime: true, buildkit: false }),
            (&["ps"], auto, true, Needs { runtime: true, buildkit: true }),
        ];
        for (args, mode, everything, want) in rows {
            assert_eq!(
                needs(&kind(args), *mode, *everything),
                *want,
                "{args:?} {mode:?}"
            );
        }
    }

    #[test]
    fn which_buildkit_a_build_goes_to() {
        let both = BuildKitFacts {
            remote: Some("tcp://shared:1234".into()),
            host: Some("unix:///run/buildkit/buildkitd.sock".into()),
            ..BuildKitFacts::default()
        };
        let host_only = BuildKitFacts {
            remote: None,
            ..both.clone()
        };
        let no_daemon = Runtime::NoDaemon {
            why: "no socket".into(),
        };
        let auto = Mode::Auto;
        assert_eq!(
            buildkit_address(&both, auto, None),
            Some("tcp://shared:1234")
        );
        assert_eq!(
            buildkit_address(&both, auto, Some(&no_daemon)),
            Some("tcp://shared:1234")
        );
        assert_eq!(
            buildkit_address(&both, Mode::Force(Route::Daemonless), None),
            Some("unix:///run/buildkit/buildkitd.sock"),
            "a forced daemonless route uses BUILDKIT_HOST, not the shared BuildKit"
        );
        assert_eq!(
            buildkit_address(&both, Mode::Force(Route::Mounted), None),
            None
        );
        assert_eq!(
            buildkit_address(&host_only, auto, None),
            None,
            "a daemon answers"
        );
        assert_eq!(
            buildkit_address(&host_only, auto, Some(&no_daemon)),
            Some("unix:///run/buildkit/buildkitd.sock")
        );
        assert_eq!(
            buildkit_address(&BuildKitFacts::default(), auto, Some(&no_daemon)),
            None
        );
    }

    #[test]
    fn which_builds_end_on_the_daemon() {
        let restricted = Runtime::Restricted {
            why: "--privileged=true is not allowed".into(),
        };
        let no_daemon = Runtime::NoDaemon {
            why: "no socket".into(),
        };
        assert!(daemon_side(Mode::Auto, false, Some(&restricted)));
        assert!(
            !daemon_side(Mode::Auto, true, Some(&restricted)),
            "a shared BuildKit takes it"
        );
        assert!(!daemon_side(Mode::Auto, false, Some(&no_daemon)));
        assert!(!daemon_side(Mode::Auto, false, None));
        assert!(daemon_side(Mode::Force(Route::Legacy), true, None));
        assert!(daemon_side(
            Mode::Force(Route::Mounted),
            false,
            Some(&no_daemon)
        ));
        assert!(!daemon_side(
            Mode::Force(Route::Buildx),
            false,
            Some(&restricted)
        ));
        assert!(!daemon_side(
            Mode::Force(Route::Remote),
            false,
            Some(&restricted)
        ));
    }
}
