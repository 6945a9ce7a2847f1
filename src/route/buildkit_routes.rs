//! The routes that build on BuildKit itself, through its own client `buildctl`:
//! `daemonless` (no daemon: `BUILDKIT_HOST`, or a private BuildKit that
//! `buildctl-daemonless.sh` starts) and `remote` (a shared BuildKit,
//! `DOCKROUTE_BUILDKIT_HOST`, the image loaded into the daemon with `docker load`). The
//! call itself is translated by [`crate::route::buildctl`]; this module picks the program,
//! the address and what happens around the build. Pure.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use crate::docker::args::{BuildCall, Invocation};
use crate::error::{Error, Result};
use crate::route::buildctl::{self, Sink};
use crate::route::facts::{Facts, Runtime};
use crate::route::mode::Route;
use crate::route::nodes::{self, Choice};
use crate::route::plan::{After, AfterAction, Builder, BuilderChoice, ImageId, Plan, Step};
use crate::route::records::{normalize, Arg, RanOn, RecordedBuild};

/// The daemonless and remote routes: the call translated for `buildctl`.
pub(super) fn buildkit(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    route: Route,
    reason: Option<String>,
) -> Result<Plan> {
    let bk = &facts.buildkit;
    let no_buildctl = |what: &str| {
        Error::Refused {
        flag: what.to_string(),
        why: "`buildctl` is not on PATH".into(),
        fix: "install BuildKit's client (the `buildctl` binary of a moby/buildkit release) into a directory on PATH".into(),
    }
    };
    let mut early_notices = Vec::new();
    // Where the build runs, and how buildctl is started.
    // `buildctl --addr ADDR [--tlsdir DIR]`: a BuildKit at an address. The TLS files are
    // for network addresses; a unix socket is reached through the file system.
    let at = |addr: &str, setting: &str| -> Result<(PathBuf, Vec<OsString>)> {
        let program = bk.buildctl.clone().ok_or_else(|| no_buildctl(setting))?;
        let mut argv = vec![
            program.clone().into_os_string(),
            "--addr".into(),
            addr.into(),
        ];
        if let Some(dir) = bk.tls_dir.as_ref().filter(|_| !addr.starts_with("unix://")) {
            argv.push("--tlsdir".into());
            argv.push(dir.clone().into_os_string());
        }
        Ok((program, argv))
    };
    let (program, mut argv, supervised, node) = if route == Route::Remote {
        let list = bk.remote.clone().ok_or_else(|| Error::Refused {
            flag: "DOCKROUTE_MODE=remote".into(),
            why: "DOCKROUTE_BUILDKIT_HOST is not set".into(),
            fix: "set DOCKROUTE_BUILDKIT_HOST to the shared BuildKit's address (tcp://…, unix://…, kube-pod://…)".into(),
        })?;
        let node = node_for(&list, facts, "DOCKROUTE_BUILDKIT_HOST")?;
        let (program, argv) = at(&node.address, "DOCKROUTE_BUILDKIT_HOST")?;
        (program, argv, false, Some(node))
    } else if let Some(host) = bk
        .host
        .as_ref()
        .filter(|_| bk.unreachable.is_none() || bk.daemonless.is_none())
    {
        let node = node_for(host, facts, "BUILDKIT_HOST")?;
        let (program, argv) = at(&node.address, "BUILDKIT_HOST")?;
        (program, argv, false, Some(node))
    } else if let Some(script) = &bk.daemonless {
        if let (Some(host), Some(why)) = (&bk.host, &bk.unreachable) {
            // Images such as moby/buildkit:rootless preset BUILDKIT_HOST to the socket
            // their own buildkitd would listen on; in a pod with no such daemon the
            // script is what the image is for.
            early_notices.push(format!(
                "BUILDKIT_HOST={host} does not answer ({why}): building on a private BuildKit started by buildctl-daemonless.sh instead"
            ));
        }
        (
            script.clone(),
            vec![script.clone().into_os_string()],
            true,
            None,
        )
    } else {
        return Err(Error::Refused {
            flag: "DOCKROUTE_MODE=daemonless".into(),
            why: "neither BUILDKIT_HOST nor buildctl-daemonless.sh is there".into(),
            fix: "set BUILDKIT_HOST to a BuildKit address, or put buildctl-daemonless.sh (with buildctl and buildkitd) on PATH, as the moby/buildkit images do".into(),
        });
    };
    if let Some(node) = &node {
        for (addr, why) in &node.skipped {
            early_notices.push(format!(
                "the BuildKit node {addr} does not answer ({why}): building on {}, the next node in this build's order",
                node.address
            ));
        }
    }
    let daemon = route == Route::Remote && !matches!(facts.runtime, Some(Runtime::NoDaemon { .. }));
    let lookup = |name: &OsStr| {
        facts
            .env
            .build_args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let t = buildctl::translate(&buildctl::Request {
        inv,
        call,
        env: &lookup,
        daemon,
        scratch: &facts.scratch,
    })?;
    argv.extend(t.args);
    let mut notices = early_notices;
    notices.extend(t.notices);
    let load = match &t.sink {
        Sink::Load { .. } => {
            let client = facts.clients.first().ok_or_else(|| Error::Refused {
                flag: "DOCKROUTE_BUILDKIT_HOST".into(),
                why: "the image should be loaded into the daemon, but no docker client is on PATH to run `docker load`".into(),
                fix: "put a Docker CLI on PATH, or add `--push` or `-o` to the build".into(),
            })?;
            let mut argv = vec![client.path.clone().into_os_string()];
            argv.extend(inv.global_args().iter().cloned());
            argv.push("load".into());
            Some(Step {
                program: client.path.clone(),
                argv,
            })
        }
        _ => None,
    };
    let image_id = match (t.iidfile, t.print_id) {
        (None, None) => None,
        (iid, print) => {
            let (metadata, metadata_is_ours) = match (&iid, &print) {
                (Some(i), _) => (i.metadata.clone(), i.metadata_is_ours),
                (None, Some(p)) => (p.metadata.clone(), p.metadata_is_ours),
                (None, None) => (Default::default(), false),
            };
            Some(ImageId {
                // Only a metadata file under the call's own scratch directory means that
                // directory must be made (and removed); the --iidfile's own directory is
                // the user's.
                scratch: (metadata_is_ours && metadata.starts_with(&facts.scratch))
                    .then(|| facts.scratch.clone()),
                metadata,
                metadata_is_ours,
                write_to: iid.map(|i| i.path),
                print: print.is_some(),
            })
        }
    };
    let after = match (&t.sink, &t.metadata, &facts.cwd) {
        (Sink::Store { names }, Some((metadata, ours)), Some(cwd)) if !names.is_empty() => {
            Some(After {
                action: AfterAction::Record {
                    names: names
                        .iter()
                        .map(|n| normalize(&n.to_string_lossy()))
                        .collect(),
                    build: RecordedBuild {
                        args: t.replay.iter().map(|a| Arg::of(a)).collect(),
                        cwd: cwd.clone(),
                        context: Arg::of(&t.context),
                        dockerfile: Arg::of(&t.dockerfile),
                    },
                    // The node the build ran on (of a list, the one chosen), so a replay
                    // finds the cache there.
                    ran_on: match &node {
                        Some(n) => RanOn::Address {
                            address: n.address.clone(),
                        },
                        None => RanOn::Daemonless,
                    },
                },
                metadata: metadata.clone(),
                metadata_is_ours: *ours,
                scratch: (*ours && metadata.starts_with(&facts.scratch))
                    .then(|| facts.scratch.clone()),
            })
        }
        _ => None,
    };
    Ok(Plan {
        reason,
        builder: Some(BuilderChoice {
            builder: Some(Builder::BuildKit),
            why: match &node {
                Some(n) if n.of > 1 => format!(
                    "the BuildKit at {}, node {} of {} in the order of this build ({})",
                    n.address,
                    n.rank,
                    n.of,
                    nodes::describe(bk.affinity.as_ref())
                ),
                Some(n) => format!("the BuildKit at {}", n.address),
                None => {
                    "a private BuildKit started for this build by buildctl-daemonless.sh".into()
                }
            },
            set_by_route: false,
        }),
        notices,
        load,
        image_id,
        supervised,
        after,
        ..Plan::new(route, "build", program, argv)
    })
}

/// The node of `list` (the value of `setting`) this build goes to: the first in the
/// build's order that the probe did not find dead. Refused, naming each node and why,
/// when none answers.
fn node_for(list: &str, facts: &Facts, setting: &str) -> Result<Choice> {
    let bk = &facts.buildkit;
    let all = nodes::parse_list(list);
    let key = bk.affinity_key();
    nodes::choose(&all, &key, &bk.checks).map_err(|dead| match dead.as_slice() {
        [(addr, why)] => Error::Refused {
            flag: format!("--addr {addr}"),
            why: format!("the BuildKit at {addr} does not answer: {why}"),
            fix: "check that buildkitd runs there and that this step can reach it (address, port, TLS files)".into(),
        },
        _ => Error::Refused {
            flag: setting.to_string(),
            why: format!(
                "none of the {} BuildKit nodes in {setting} answers: {}",
                dead.len(),
                dead.iter()
                    .map(|(a, w)| format!("{a} ({w})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            fix: "check that the buildkitds run and that this step can reach them (addresses, ports, TLS files)".into(),
        },
    })
}
