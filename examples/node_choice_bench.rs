//! Times the choice of a BuildKit node for a build (`dockroute::route::nodes`): the
//! rendezvous order of a node list for a build's key, and `choose` with the first node in
//! that order dead, for lists of 1, 3, 8 and 32 nodes; and, side by side, what the probe
//! does around it: the build's affinity (its context directory and Dockerfile made
//! canonical, on a real directory) and one reachability check (a connect to a listening
//! unix socket, what each node checked costs at best). Cases are interleaved round by
//! round; it prints each case's median in µs and the choice's ratio to one check.
//!
//! Usage: `cargo run --release --example node_choice_bench [ROUNDS]` (default 50 rounds
//! of 2000 choices per case).
#![allow(clippy::print_stdout)]

use std::ffi::OsString;
use std::hint::black_box;
use std::time::Instant;

use dockroute::docker::args::Invocation;
use dockroute::probe::buildkit::affinity;
use dockroute::probe::buildkit::unreachable;
use dockroute::route::nodes::{choose, order, parse_list, Affinity, NodeCheck};

/// Choices timed together in one round of a case (a single one is below the clock's
/// resolution).
const BATCH: u32 = 2000;

/// `tcp://buildkitd-I.buildkitd.ci.svc.cluster.local:1234` for I in 0..n: a StatefulSet's
/// per-pod Service names, as the README's set-up has them.
fn list(n: usize) -> String {
    (0..n)
        .map(|i| format!("tcp://buildkitd-{i}.buildkitd.ci.svc.cluster.local:1234"))
        .collect::<Vec<_>>()
        .join(",")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .max(1);
    let key = Affinity {
        context: "/builds/acme/checkout/services/payments-api".into(),
        dockerfile: Some("/builds/acme/checkout/services/payments-api/Dockerfile".into()),
    }
    .key();
    let sizes = [1usize, 3, 8, 32];
    let lists: Vec<Vec<String>> = sizes.iter().map(|n| parse_list(&list(*n))).collect();
    // The first node of each order dead: choose skips it (the failover path).
    let dead: Vec<Vec<NodeCheck>> = lists
        .iter()
        .map(|l| {
            vec![NodeCheck {
                address: order(l, &key)[0].to_string(),
                unreachable: Some("connection refused".into()),
            }]
        })
        .collect();

    // The affinity on a real project directory: two canonicalize calls and a stat.
    let dir = std::env::temp_dir().join(format!("dockroute-node-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("svc")).unwrap();
    std::fs::write(dir.join("svc/Dockerfile"), "FROM scratch\n").unwrap();
    let inv = Invocation::parse(vec![OsString::from("build"), OsString::from("svc")]);
    let call = inv.build_call().unwrap();
    assert!(affinity(&call, &inv.args, &dir).is_some());

    let mut ordered: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut failover: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut probe: Vec<f64> = Vec::new();
    let sock = dir.join("bk.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // Accepted and dropped at once, as a buildkitd would accept (its backlog never fills).
    std::thread::spawn(move || {
        for c in listener.incoming() {
            drop(c);
        }
    });
    let addr = format!("unix://{}", sock.display());
    let timeout = std::time::Duration::from_millis(1500);
    assert_eq!(unreachable(&addr, timeout), None);
    let mut connect: Vec<f64> = Vec::new();
    let per = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH);
    for _ in 0..rounds {
        for (i, l) in lists.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(order(black_box(l), black_box(&key)));
            }
            ordered[i].push(per(start));
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(choose(black_box(l), black_box(&key), black_box(&dead[i])).ok());
            }
            failover[i].push(per(start));
        }
        let start = Instant::now();
        for _ in 0..BATCH / 10 {
            black_box(affinity(black_box(&call), &inv.args, &dir));
        }
        probe.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH / 10));
        let start = Instant::now();
        for _ in 0..BATCH / 10 {
            black_box(unreachable(black_box(&addr), timeout));
        }
        connect.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH / 10));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let check = median(&mut connect);
    println!("node choice (µs; medians of {rounds} interleaved rounds)");
    for (i, n) in sizes.iter().enumerate() {
        let o = median(&mut ordered[i]);
        let f = median(&mut failover[i]);
        println!(
            "  {n:>2} node{}: order {o:.3} µs, choose with the first dead {f:.3} µs ({:.2} of one check)",
            if *n == 1 { " " } else { "s" },
            f / check
        );
    }
    println!(
        "  the build's affinity (canonical context + Dockerfile): {:.3} µs",
        median(&mut probe)
    );
    println!("  one reachability check (connect to a local unix socket): {check:.3} µs");
}
