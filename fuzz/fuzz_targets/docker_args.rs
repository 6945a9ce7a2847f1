//! The docker argument grammar, the routing decision and the buildctl translation on
//! arbitrary argument lists: never panics, and every argument of a pass-through plan is
//! the input's, byte for byte.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use dockroute::docker::args::Invocation;
use dockroute::route::decide::decide;
use dockroute::route::facts::{BuildKitFacts, Client, Facts, Runtime};
use dockroute::route::mode::Mode;
use dockroute::route::mode::Route;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let args: Vec<OsString> = rest.split(|b| *b == 0).map(|a| OsString::from_vec(a.to_vec())).collect();
    let inv = Invocation::parse(args.clone());
    assert_eq!(inv.args, args);
    let _ = inv.build_call();
    let client = |p: &str, major: u64, mounted: bool, buildx: bool| Client {
        path: p.into(),
        version: Some(semver::Version::new(major, 0, 0)),
        problem: None,
        mounted,
        buildx,
    };
    let runtime = match selector % 5 {
        0 => Runtime::Restricted { why: "r".into() },
        1 => Runtime::V3 { why: "v3".into() },
        2 => Runtime::Open { why: "o".into() },
        3 => Runtime::NoDaemon { why: "n".into() },
        _ => Runtime::Unknown { why: "u".into() },
    };
    let mode = match (selector / 5) % 7 {
        0 => Mode::Auto,
        1 => Mode::Force(Route::Pass),
        2 => Mode::Force(Route::Mounted),
        3 => Mode::Force(Route::Legacy),
        4 => Mode::Force(Route::Buildx),
        5 => Mode::Force(Route::Daemonless),
        _ => Mode::Force(Route::Remote),
    };
    let buildkit = BuildKitFacts {
        remote: (selector & 0x40 != 0).then(|| "tcp://bk:1234".to_string()),
        host: Some("unix:///run/buildkit/buildkitd.sock".into()),
        buildctl: Some("/bin/buildctl".into()),
        daemonless: Some("/bin/buildctl-daemonless.sh".into()),
        ..BuildKitFacts::default()
    };
    let clients = if selector & 0x80 == 0 {
        vec![client("/a/docker", 28, false, true), client("/b/docker", 20, true, false)]
    } else {
        vec![client("/a/docker", 28, false, false)]
    };
    let facts = Facts { clients, runtime: Some(runtime), mode, buildkit, ..Facts::default() };
    if let Ok(plan) = decide(&inv, &facts) {
        if plan.route == Route::Pass {
            assert_eq!(&plan.argv[1..], &args[..]);
        }
    }
});
