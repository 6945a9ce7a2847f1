//! A resolved project's builds, routed: each target becomes its `docker build`
//! ([`super::build_argv`]) and goes through [`crate::route::decide::decide`] exactly as
//! that `docker build` typed by hand would (mounted, legacy with its Dockerfile scan,
//! remote, daemonless; the build flag table), with the target's own Dockerfile scan.
//! Pure, like `decide`: the facts (the printer's targets, the scans, which images the
//! daemon has) were gathered by [`crate::probe::project`].
//!
//! Invariants: a target another one depends on (`contexts = { x = "target:y" }`,
//! compose `additional_contexts: service:…`, a Dockerfile `FROM` another target's image)
//! builds first; a cycle, or anything a target's route cannot express, is refused before
//! anything runs, naming the target and the field.

use crate::docker::args::Invocation;
use crate::error::{Error, Result};
use crate::project::build_argv::{build_args, context_target, field_of};
use crate::project::compose_call::{ProjectCall, Sub};
use crate::route::facts::{Client, Facts, ProjectFacts, ProjectTarget};
use crate::route::mode::Route;
use crate::route::plan::{Plan, ProjectPlan, TargetPlan};

/// At most this many builds run at once. compose (`--parallel` unset) and bake start every
/// build at once; the work is the daemon's, each client process is light, so the bound
/// only keeps a very large project from starting dozens of clients together.
pub(crate) const MAX_PARALLEL: usize = 8;

/// The project's plan: its builds, then (for `up`/`create`/`run`) compose itself, told
/// not to build. `None` when there is no resolved project to plan (the caller keeps
/// today's route).
///
/// # Errors
/// The printer's own failure (its message and exit code); a refusal naming the target
/// and the field; a dependency cycle.
pub(crate) fn plan(
    inv: &Invocation,
    facts: &Facts,
    call: &ProjectCall,
    first: &Client,
    reason: Option<String>,
) -> Option<Result<Plan>> {
    match facts.project.as_ref()? {
        ProjectFacts::PrinterFailed {
            printer,
            code,
            message,
        } => Some(Err(Error::Printer {
            printer: printer.clone(),
            code: *code,
            message: message.clone(),
        })),
        ProjectFacts::Unavailable { .. } => None,
        ProjectFacts::Resolved { printer, targets } => {
            Some(resolved(inv, facts, call, first, reason, printer, targets))
        }
    }
}

/// How many builds may run at once: compose's `--parallel N`, else its
/// `COMPOSE_PARALLEL_LIMIT`, when positive (a Pipelines docker service has 1 GB of memory
/// by default: one build at a time can be the user's choice); never more than
/// [`MAX_PARALLEL`]. compose reads `-1` (and 0) as unlimited.
fn parallel_bound(call: &ProjectCall, facts: &Facts) -> usize {
    use std::os::unix::ffi::OsStrExt;
    if call.sub == Sub::Bake {
        // bake has no such bound: it starts every build at once.
        return MAX_PARALLEL;
    }
    let limit = call.parallel.or_else(|| {
        facts
            .env
            .compose_parallel_limit
            .as_deref()
            .and_then(|v| crate::project::compose_call::parse_parallel(v.as_bytes()))
    });
    match limit.map(usize::try_from) {
        Some(Ok(n)) if n > 0 => n.min(MAX_PARALLEL),
        _ => MAX_PARALLEL,
    }
}

fn resolved(
    inv: &Invocation,
    facts: &Facts,
    call: &ProjectCall,
    first: &Client,
    reason: Option<String>,
    printer: &str,
    all: &[ProjectTarget],
) -> Result<Plan> {
    let targets: Vec<_> = all.iter().map(|t| t.target.clone()).collect();
    // `up`/`create`/`run` build only what compose would: every target under `--build`,
    // else those whose image the daemon lacks.
    let (chosen, skipped): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| {
        call.forces_build() || all[*i].always_build || all[*i].image_present != Some(true)
    });
    let mut plans = Vec::with_capacity(chosen.len());
    let mut notices = Vec::new();
    for &i in &chosen {
        let t = &all[i];
        let name = &t.target.name;
        let mut args = build_args(inv.global_args(), &t.target, &targets)?;
        if call.quiet {
            // Before the context, the last argument.
            args.insert(args.len() - 1, "--quiet".into());
        }
        let target_inv = Invocation::parse(args);
        let mut target_facts = Facts {
            dockerfile: t.dockerfile.clone(),
            project: None,
            ..facts.clone()
        };
        // Each target's node is chosen by its own context and Dockerfile, as its `docker
        // build` typed by hand would be.
        target_facts.buildkit.affinity = t.affinity.clone();
        // Each target's own private directory (for a metadata file): the builds run at
        // once, and one shared file name would have them overwrite each other's.
        let mut scratch = facts.scratch.clone().into_os_string();
        scratch.push(format!("-{}", plans.len()));
        target_facts.scratch = scratch.into();
        let plan = crate::route::decide::decide(&target_inv, &target_facts)
            .map_err(|e| in_target(e, name))?;
        notices.extend(plan.notices.iter().map(|n| format!("[{name}] {n}")));
        let mut after = Vec::new();
        let deps = t
            .target
            .contexts
            .iter()
            .filter_map(|(_, v)| context_target(v))
            .chain(t.from_targets.iter().map(String::as_str));
        for dep in deps {
            // A dependency not being built is there already (its image is present).
            if let Some(j) = chosen.iter().position(|&c| all[c].target.name == dep) {
                if !after.contains(&j) && all[chosen[j]].target.name != *name {
                    after.push(j);
                }
            }
        }
        plans.push(TargetPlan {
            name: name.clone(),
            plan,
            after,
        });
    }
    refuse_cycle(&plans)?;
    // `run` rebuilds a `pull_policy: build` service itself (through bake, which fails
    // here) unless told not to pull: built above, `--pull never` keeps it.
    let rebuilds = call.sub == Sub::Run && chosen.iter().any(|&i| all[i].always_build);
    let then = call.after_build(inv, rebuilds);
    let route = plans.first().map_or(Route::Pass, |p| p.plan.route);
    let mut argv = vec![first.path.clone().into_os_string()];
    argv.extend(then.clone().unwrap_or_else(|| inv.args.clone()));
    Ok(Plan {
        client: Some(first.clone()),
        reason,
        notices,
        project: Some(Box::new(ProjectPlan {
            printer: printer.to_string(),
            parallel: parallel_bound(call, facts).min(plans.len()).max(1),
            targets: plans,
            skipped: skipped
                .into_iter()
                .map(|i| {
                    (
                        all[i].target.name.clone(),
                        "its image is in the daemon already".to_string(),
                    )
                })
                .collect(),
            then_run: then.is_some() && call.sub != Sub::Build,
        })),
        ..Plan::new(route, call.sub.words(), first.path.clone(), argv)
    })
}

/// A target's refusal, saying which target and (for a flag the project wrote) which field.
fn in_target(e: Error, name: &str) -> Error {
    match e {
        Error::Refused { flag, why, fix } => {
            let head = flag.split([' ', '=']).next().unwrap_or("");
            let flag = match field_of(head) {
                Some(field) => format!("target {name}, field {field} ({flag})"),
                None => format!("target {name}: {flag}"),
            };
            Error::Refused { flag, why, fix }
        }
        Error::NeedsBuildKit { findings, why, fix } => Error::NeedsBuildKit {
            findings,
            why: format!("target `{name}`: {why}"),
            fix,
        },
        other => other,
    }
}

/// Refuses targets that wait for each other (bake refuses them too, but a Dockerfile
/// `FROM` loop is only seen here).
fn refuse_cycle(plans: &[TargetPlan]) -> Result<()> {
    let mut done = vec![false; plans.len()];
    loop {
        let ready: Vec<usize> = (0..plans.len())
            .filter(|&i| !done[i] && plans[i].after.iter().all(|&d| done[d]))
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done[i] = true;
        }
    }
    let stuck: Vec<&str> = (0..plans.len())
        .filter(|&i| !done[i])
        .map(|i| plans[i].name.as_str())
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        flag: format!("targets {}", stuck.join(", ")),
        why: "they depend on each other (through `contexts`, `additional_contexts` or a Dockerfile `FROM`), so none can build first".into(),
        fix: "break the cycle in the project".into(),
    })
}

#[cfg(test)]
mod tests {
    //! The project rows of the routing table: `decide` on a compose or bake call, with the
    //! project as the printer resolved it.

    use std::ffi::OsString;

    use crate::docker::dockerfile::Finding;
    use crate::error::Error;
    use crate::project::bake::Target;
    use crate::route::decide::decide;
    use crate::route::facts::{
        Client, DockerfileScan, Facts, ProjectFacts, ProjectTarget, Runtime,
    };
    use crate::route::mode::Route;
    use crate::route::plan::Plan;

    const NEW: &str = "/usr/local/bin/docker";
    const OLD: &str = "/usr/bin/docker";

    fn inv(args: &[&str]) -> crate::docker::args::Invocation {
        crate::docker::args::Invocation::parse(args.iter().map(OsString::from).collect())
    }

    fn target(name: &str, present: Option<bool>) -> ProjectTarget {
        ProjectTarget {
            target: Target {
                name: name.into(),
                context: Some(format!("/p/{name}")),
                tags: vec![format!("p-{name}")],
                ..Target::default()
            },
            dockerfile: None,
            image_present: present,
            from_targets: Vec::new(),
            always_build: false,
            affinity: None,
        }
    }

    fn facts(clients: Vec<Client>, runtime: Runtime, targets: Vec<ProjectTarget>) -> Facts {
        Facts {
            clients,
            runtime: Some(runtime),
            project: Some(ProjectFacts::Resolved {
                printer: "docker compose build --print".into(),
                targets,
            }),
            ..Facts::default()
        }
    }

    fn restricted() -> Runtime {
        Runtime::Restricted {
            why: "authorization denied by plugin pipelines: --privileged=true is not allowed"
                .into(),
        }
    }

    fn v2(targets: Vec<ProjectTarget>) -> Facts {
        facts(
            vec![
                Client::fixture(NEW, 28, false, true),
                Client::fixture(OLD, 20, true, false),
            ],
            restricted(),
            targets,
        )
    }

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    fn project(p: &Plan) -> &crate::route::plan::ProjectPlan {
        p.project.as_deref().expect("a project plan")
    }

    #[test]
    fn each_target_takes_its_own_node_and_skips_the_dead_ones() {
        use crate::route::nodes::{order, parse_list, Affinity, NodeCheck};
        let list = "tcp://n1:1234,tcp://n2:1234,tcp://n3:1234";
        let nodes = parse_list(list);
        let with = |name: &str| {
            let mut t = target(name, None);
            t.affinity = Some(Affinity {
                context: format!("/p/{name}").into(),
                dockerfile: Some(format!("/p/{name}/Dockerfile").into()),
            });
            t
        };
        let (a, b) = (with("a"), with("b"));
        let first =
            |t: &ProjectTarget| order(&nodes, &t.affinity.as_ref().unwrap().key())[0].to_string();
        // The node first in a's order is dead: a goes to its second, b to its first
        // unless that is the same dead node.
        let dead = first(&a);
        let mut f = v2(vec![a.clone(), b.clone()]);
        f.buildkit.remote = Some(list.into());
        f.buildkit.buildctl = Some("/usr/bin/buildctl".into());
        f.buildkit.checks = nodes
            .iter()
            .map(|n| NodeCheck {
                address: n.clone(),
                unreachable: (*n == dead).then(|| "connection refused".into()),
            })
            .collect();
        let p = decide(&inv(&["compose", "build"]), &f).unwrap();
        let addr = |name: &str| {
            let t = project(&p).targets.iter().find(|t| t.name == name).unwrap();
            assert_eq!(t.plan.route, Route::Remote);
            let argv = strs(&t.plan.argv);
            argv[argv.iter().position(|x| x == "--addr").unwrap() + 1].clone()
        };
        let order_a = order(&nodes, &a.affinity.as_ref().unwrap().key());
        assert_eq!(addr("a"), order_a[1]);
        let order_b = order(&nodes, &b.affinity.as_ref().unwrap().key());
        let live_b = order_b.iter().find(|n| **n != dead).unwrap();
        assert_eq!(addr("b"), *live_b);
        assert!(
            p.notices
                .iter()
                .any(|n| n.starts_with("[a] the BuildKit node") && n.contains(&dead)),
            "{:?}",
            p.notices
        );
    }

    #[test]
    fn compose_parallel_bounds_the_builds_at_once() {
        let three = || vec![target("a", None), target("b", None), target("c", None)];
        let parallel = |args: &[&str], env: Option<&str>| {
            let mut f = v2(three());
            f.env.compose_parallel_limit = env.map(OsString::from);
            project(&decide(&inv(args), &f).unwrap()).parallel
        };
        assert_eq!(parallel(&["compose", "build"], None), 3);
        assert_eq!(parallel(&["compose", "--parallel", "1", "build"], None), 1);
        assert_eq!(parallel(&["compose", "--parallel=2", "up", "-d"], None), 2);
        assert_eq!(parallel(&["compose", "--parallel", "-1", "build"], None), 3);
        assert_eq!(parallel(&["compose", "build"], Some("1")), 1);
        assert_eq!(
            parallel(&["compose", "--parallel", "2", "build"], Some("1")),
            2
        );
        assert_eq!(parallel(&["compose", "build"], Some("x")), 3);
        // bake reads neither.
        assert_eq!(parallel(&["buildx", "bake"], Some("1")), 3);
    }

    #[test]
    fn compose_build_builds_each_service_on_the_mounted_route() {
        let mut app = target("app", None);
        app.target.secrets = vec!["id=tok,type=file,src=/p/tok".into()];
        app.target.contexts = Vec::new();
        let mut web = target("web", None);
        web.from_targets = vec!["app".into()];
        let p = decide(
            &inv(&["compose", "build"]),
            &v2(vec![app, web, target("db", None)]),
        )
        .unwrap();
        assert_eq!(p.route, Route::Mounted);
        assert!(p.is_reroute(&inv(&["compose", "build"]), Some(NEW.as_ref())));
        let pp = project(&p);
        assert!(!pp.then_run);
        assert_eq!(pp.parallel, 3);
        let names: Vec<&str> = pp.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["app", "web", "db"]);
        for t in &pp.targets {
            assert_eq!(t.plan.route, Route::Mounted);
            assert_eq!(t.plan.program.to_str(), Some(OLD));
            assert_eq!(
                t.plan.env_set,
                [("DOCKER_BUILDKIT".to_string(), "1".to_string())]
            );
        }
        assert_eq!(
            strs(&pp.targets[0].plan.argv),
            [
                OLD,
                "build",
                "--tag",
                "p-app",
                "--secret",
                "id=tok,type=file,src=/p/tok",
                "/p/app"
            ]
        );
        // `web` is built FROM `app`'s image: after it; the others at once.
        assert_eq!(pp.targets[1].after, [0]);
        assert!(pp.targets[0].after.is_empty() && pp.targets[2].after.is_empty());
    }

    #[test]
    fn up_builds_only_missing_images_then_runs_compose_without_building() {
        let f = v2(vec![target("app", Some(false)), target("db", Some(true))]);
        let call = inv(&["compose", "up", "-d"]);
        let p = decide(&call, &f).unwrap();
        let pp = project(&p);
        assert!(pp.then_run);
        assert_eq!(pp.targets.len(), 1);
        assert_eq!(pp.skipped[0].0, "db");
        assert_eq!(strs(&p.argv), [NEW, "compose", "up", "--no-build", "-d"]);
        assert_eq!(p.program.to_str(), Some(NEW));
        // `--build`: everything, and compose is not told `--build` again.
        let p = decide(&inv(&["compose", "up", "--build"]), &f).unwrap();
        assert_eq!(project(&p).targets.len(), 2);
        assert_eq!(strs(&p.argv), [NEW, "compose", "up", "--no-build"]);
        // `pull_policy: build`: built though present; `run` is told not to rebuild it.
        let mut db = target("db", Some(true));
        db.always_build = true;
        let f = v2(vec![db]);
        let p = decide(&inv(&["compose", "run", "--rm", "db", "true"]), &f).unwrap();
        assert_eq!(project(&p).targets.len(), 1);
        assert_eq!(
            strs(&p.argv),
            [NEW, "compose", "run", "--pull", "never", "--rm", "db", "true"]
        );
    }

    #[test]
    fn what_a_route_cannot_express_is_refused_naming_target_and_field() {
        let mut app = target("app", None);
        app.target.contexts = vec![("base".into(), "target:db".into())];
        let e = decide(
            &inv(&["buildx", "bake"]),
            &v2(vec![app, target("db", None)]),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("refused `target app, field contexts (--build-context)`"),
            "{e}"
        );
        // No client < 23: the legacy route, where a build secret cannot go.
        let mut app = target("app", None);
        app.target.secrets = vec!["id=tok,src=/p/tok".into()];
        let mut f = v2(vec![app]);
        f.clients.truncate(1);
        let e = decide(&inv(&["compose", "build"]), &f).unwrap_err();
        assert!(e.to_string().contains("target app, field secret"), "{e}");
        // ... nor a Dockerfile with BuildKit-only syntax.
        let mut app = target("app", None);
        app.dockerfile = Some(DockerfileScan {
            path: "app/Dockerfile".into(),
            findings: vec![Finding {
                line: 2,
                construct: "RUN --mount".into(),
            }],
            stages: Vec::new(),
        });
        let mut f = v2(vec![app]);
        f.clients.truncate(1);
        let e = decide(&inv(&["compose", "build"]), &f).unwrap_err();
        assert!(matches!(e, Error::NeedsBuildKit { .. }));
        assert!(
            e.to_string()
                .contains("app/Dockerfile:2: RUN --mount needs BuildKit"),
            "{e}"
        );
        assert!(e.to_string().contains("target `app`"), "{e}");
    }

    #[test]
    fn compose_build_quiet_makes_each_build_quiet() {
        let p = decide(
            &inv(&["compose", "build", "-q"]),
            &v2(vec![target("app", None)]),
        )
        .unwrap();
        assert_eq!(
            strs(&project(&p).targets[0].plan.argv),
            [OLD, "build", "--tag", "p-app", "--quiet", "/p/app"]
        );
    }

    #[test]
    fn a_dependency_cycle_is_refused() {
        let mut a = target("a", None);
        a.from_targets = vec!["b".into()];
        let mut b = target("b", None);
        b.from_targets = vec!["a".into()];
        let e = decide(&inv(&["compose", "build"]), &v2(vec![a, b])).unwrap_err();
        assert!(e.to_string().contains("refused `targets a, b`"), "{e}");
    }

    #[test]
    fn the_printers_failure_is_its_own_message_and_code() {
        let mut f = v2(Vec::new());
        f.project = Some(ProjectFacts::PrinterFailed {
            printer: "docker compose build --print".into(),
            code: 15,
            message: b"no such service: x\n".to_vec(),
        });
        let e = decide(&inv(&["compose", "build", "x"]), &f).unwrap_err();
        assert_eq!(e.exit_code(), 15);
        assert_eq!(e.to_string(), "no such service: x");
    }

    #[test]
    fn without_a_printer_compose_keeps_the_classic_builder_after_the_scan() {
        let mut f = v2(Vec::new());
        f.project = Some(ProjectFacts::Unavailable {
            why: "`docker compose build --print` is not available here".into(),
            scans: vec![DockerfileScan {
                path: "web/Dockerfile".into(),
                findings: vec![Finding {
                    line: 4,
                    construct: "RUN --mount".into(),
                }],
                stages: Vec::new(),
            }],
        });
        let e = decide(&inv(&["compose", "build"]), &f).unwrap_err();
        assert!(
            e.to_string()
                .contains("web/Dockerfile:4: RUN --mount needs BuildKit"),
            "{e}"
        );
        f.project = Some(ProjectFacts::Unavailable {
            why: "no printer".into(),
            scans: Vec::new(),
        });
        let p = decide(&inv(&["compose", "build"]), &f).unwrap();
        assert_eq!(p.route, Route::Legacy);
        assert!(
            p.notices.iter().any(|n| n.contains("no printer")),
            "{:?}",
            p.notices
        );
        // bake has no classic fallback: refused as before.
        assert_eq!(
            decide(&inv(&["buildx", "bake"]), &f)
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn on_runtime_v3_and_open_daemons_compose_and_bake_pass_through() {
        for runtime in [
            Runtime::V3 { why: "v3".into() },
            Runtime::Open { why: "open".into() },
        ] {
            let f = facts(
                vec![Client::fixture(NEW, 28, false, true)],
                runtime,
                vec![target("app", None)],
            );
            for args in [
                &["compose", "build"][..],
                &["buildx", "bake"],
                &["compose", "up"],
            ] {
                let p = decide(&inv(args), &f).unwrap();
                assert_eq!(p.route, Route::Pass, "{args:?}");
                assert!(p.project.is_none());
            }
        }
    }
}
