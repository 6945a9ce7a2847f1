//! The test that every flag of [`BUILD_FLAGS`] is accounted for on every build route:
//! one walk over the table, each flag given on its own (`--flag`, or `--flag=x` for a
//! value flag) to the mounted, legacy, buildx, daemonless and remote routes, checking
//! that each route does what the flag's row says — kept byte for byte, dropped with a
//! notice, emulated, translated, or refused naming the flag.

use std::ffi::OsString;

use crate::docker::args::{Arity, Invocation};
use crate::docker::build_flags::{BuildFlagRow, BuildKit, Buildctl, Legacy, BUILD_FLAGS};
use crate::error::Error;
use crate::route::decide::decide;
use crate::route::facts::{BuildKitFacts, Client, Facts, Runtime};
use crate::route::mode::Route;
use crate::route::plan::{Builder, Plan};

const NEW: &str = "/usr/local/bin/docker";
const OLD: &str = "/usr/bin/docker";

fn restricted(clients: Vec<Client>) -> Facts {
    Facts {
        clients,
        runtime: Some(Runtime::Restricted {
            why: "--privileged=true is not allowed".into(),
        }),
        ..Facts::default()
    }
}

fn mounted() -> Facts {
    restricted(vec![
        Client::fixture(NEW, 28, false, false),
        Client::fixture(OLD, 20, true, false),
    ])
}

fn legacy() -> Facts {
    restricted(vec![Client::fixture(NEW, 28, false, false)])
}

fn buildx() -> Facts {
    Facts {
        clients: vec![Client::fixture(NEW, 28, false, true)],
        runtime: Some(Runtime::V3 { why: "v3".into() }),
        ..Facts::default()
    }
}

fn daemonless() -> Facts {
    Facts {
        clients: vec![Client::fixture(NEW, 28, false, false)],
        runtime: Some(Runtime::NoDaemon {
            why: "refused".into(),
        }),
        buildkit: BuildKitFacts {
            host: Some("tcp://bk:1234".into()),
            buildctl: Some("/usr/bin/buildctl".into()),
            ..BuildKitFacts::default()
        },
        ..Facts::default()
    }
}

fn remote() -> Facts {
    let mut f = mounted();
    f.buildkit = BuildKitFacts {
        remote: Some("tcp://bk:1234".into()),
        buildctl: Some("/usr/bin/buildctl".into()),
        ..BuildKitFacts::default()
    };
    f
}

/// The flag as the test gives it.
fn typed(row: &BuildFlagRow) -> String {
    match row.spec.arity {
        Arity::Bool => format!("--{}", row.spec.long),
        Arity::Value => format!("--{}=x", row.spec.long),
    }
}

fn run(route: Route, facts: &Facts, row: &BuildFlagRow) -> crate::error::Result<Plan> {
    let args: Vec<OsString> = ["build", "-t", "r/a", &typed(row), "."]
        .iter()
        .map(OsString::from)
        .collect();
    let plan = decide(&Invocation::parse(args), facts);
    if let Ok(p) = &plan {
        assert_eq!(p.route, route, "--{} took another route", row.spec.long);
    }
    plan
}

fn refused_for(res: &crate::error::Result<Plan>, row: &BuildFlagRow, why: &str) -> bool {
    matches!(res, Err(Error::Refused { flag, why: w, fix })
        if *flag == format!("--{}", row.spec.long) && w.contains(why) && !fix.is_empty())
}

fn passes(plan: &Plan, row: &BuildFlagRow) -> bool {
    plan.argv.iter().any(|a| *a == *typed(row))
}

fn dropped(plan: &Plan, row: &BuildFlagRow, why: &str) -> bool {
    !passes(plan, row)
        && plan
            .notices
            .iter()
            .any(|n| n.starts_with(&format!("dropped --{}: ", row.spec.long)) && n.contains(why))
}

/// A Docker CLI < 23: the mounted route (BuildKit on for what needs it) and the legacy
/// route (the legacy builder).
fn check_client_route(route: Route, row: &BuildFlagRow) -> Result<(), String> {
    let facts = if route == Route::Mounted {
        mounted()
    } else {
        legacy()
    };
    let res = run(route, &facts, row);
    let ok = match (route, row.buildkit, row.legacy) {
        (Route::Legacy, BuildKit::Needs(why), _) => refused_for(&res, row, why),
        (_, _, Legacy::Refuse(why)) => refused_for(&res, row, why),
        (_, _, Legacy::Emulate) => res
            .as_ref()
            .is_ok_and(|p| !passes(p, row) && !p.then.is_empty()),
        (Route::Legacy, _, Legacy::Drop { legacy, .. }) => {
            res.as_ref().is_ok_and(|p| dropped(p, row, legacy))
        }
        (
            Route::Mounted,
            _,
            Legacy::Drop {
                mounted: Some(why), ..
            },
        ) => res.as_ref().is_ok_and(|p| dropped(p, row, why)),
        (_, _, Legacy::Keep | Legacy::KeepOne(_) | Legacy::Drop { .. }) => {
            res.as_ref().is_ok_and(|p| passes(p, row))
        }
    };
    // On the mounted route what needs BuildKit turns it on, saying which flag did.
    let builder_ok = route != Route::Mounted
        || row.buildkit == BuildKit::No
        || res.as_ref().is_ok_and(|p| {
            p.builder.as_ref().is_some_and(|b| {
                b.builder == Some(Builder::DaemonBuildKit)
                    && b.why.contains(&format!("`--{}`", row.spec.long))
            })
        });
    (ok && builder_ok)
        .then_some(())
        .ok_or_else(|| format!("{route:?} --{}: {res:?}", row.spec.long))
}

/// The buildx route hands every flag to `docker buildx build` as typed.
fn check_buildx(row: &BuildFlagRow) -> Result<(), String> {
    let res = run(Route::Buildx, &buildx(), row);
    res.as_ref()
        .is_ok_and(|p| passes(p, row))
        .then_some(())
        .ok_or_else(|| format!("Buildx --{}: {res:?}", row.spec.long))
}

/// The BuildKit routes translate for `buildctl`.
fn check_buildctl(route: Route, row: &BuildFlagRow) -> Result<(), String> {
    let facts = if route == Route::Remote {
        remote()
    } else {
        daemonless()
    };
    let res = run(route, &facts, row);
    let noticed = |p: &Plan, notice: &str| p.notices.iter().any(|n| n == notice);
    let ok = match row.buildctl {
        // Translated, or refused for its value (`x`) — by its own rule, never by the
        // fall-backs for flags without one.
        Buildctl::Translate(what) => {
            !what.is_empty()
                && match &res {
                    Ok(_) => true,
                    Err(Error::Refused { flag, why, .. }) => {
                        flag.contains(row.spec.long)
                            && !why.contains("no buildctl rule")
                            && !why.contains("not a `docker build` flag")
                    }
                    Err(_) => false,
                }
        }
        Buildctl::Accept | Buildctl::RefuseOff(_) => res.as_ref().is_ok_and(|p| !passes(p, row)),
        Buildctl::Drop(notice) => res.as_ref().is_ok_and(|p| noticed(p, notice)),
        Buildctl::AcceptOnly(_, r) | Buildctl::RefuseOn(r) | Buildctl::Refuse(r) => {
            refused_for(&res, row, r.why)
        }
    };
    ok.then_some(())
        .ok_or_else(|| format!("{route:?} --{}: {res:?}", row.spec.long))
}

#[test]
fn every_flag_of_the_table_is_accounted_for_on_every_route() {
    let mut failures = Vec::new();
    for row in BUILD_FLAGS {
        failures.extend(check_client_route(Route::Mounted, row).err());
        failures.extend(check_client_route(Route::Legacy, row).err());
        failures.extend(check_buildx(row).err());
        failures.extend(check_buildctl(Route::Daemonless, row).err());
        failures.extend(check_buildctl(Route::Remote, row).err());
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_flag_the_table_does_not_know_is_kept_by_clients_and_refused_by_buildctl() {
    let args = |facts: &Facts| {
        decide(
            &Invocation::parse(
                ["build", "-t", "r/a", "--frobnicate", "."]
                    .iter()
                    .map(OsString::from)
                    .collect(),
            ),
            facts,
        )
    };
    for facts in [mounted(), legacy(), buildx()] {
        let p = args(&facts).unwrap();
        assert!(p.argv.iter().any(|a| a == "--frobnicate"), "{p:?}");
    }
    for facts in [daemonless(), remote()] {
        assert!(matches!(args(&facts), Err(Error::Refused { flag, .. }) if flag == "--frobnicate"));
    }
}
