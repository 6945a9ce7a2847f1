//! Several shared BuildKits behind one `DOCKROUTE_BUILDKIT_HOST` list, on the test bed's
//! two real buildkitds (`bk` on a unix socket, `bk-tcp` with mutual TLS) and dead
//! addresses (a socket path that does not exist, a closed loopback port): a dead node is
//! skipped for the next one in the build's order, one context keeps landing on one node
//! (its second build is cached there), different contexts spread, and `explain` and
//! `doctor` say which node and why.
//!
//! Where a build really ran is read from the buildkitds themselves: each build carries a
//! unique, unused build argument, and `buildctl debug histories` on each node lists the
//! builds it ran with their frontend attributes.

use std::path::{Path, PathBuf};

use crate::support::*;

const NO_DAEMON: &str = "unix:///nonexistent/docker.sock";

/// A build context whose Dockerfile copies one file; `name` makes it a project of its own.
fn project(s: &Sandbox, name: &str) -> PathBuf {
    let dir = context(&s.p(name), "FROM scratch\nCOPY f.txt /f.txt\n");
    std::fs::write(dir.join("f.txt"), unique("dockroute-nodes-e2e")).unwrap();
    dir
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("tcp://127.0.0.1:{port}")
}

/// A pod-like sandbox with no daemon, the shim first, and `list` as its shared BuildKits
/// (the bed's client certificates for the TLS node).
fn with_nodes(list: &[String]) -> Sandbox {
    with_nodes_in("DOCKROUTE_BUILDKIT_HOST", list)
}

/// The same with the list in `var`: `DOCKROUTE_BUILDKIT_HOST` (route remote) or
/// `BUILDKIT_HOST` (route daemonless).
fn with_nodes_in(var: &str, list: &[String]) -> Sandbox {
    with_buildkit_path(Sandbox::new(), true)
        .env("DOCKER_HOST", NO_DAEMON)
        .env(var, list.join(","))
        .env("DOCKROUTE_BUILDKIT_TLS_DIR", buildkit_tls_dir())
}

/// `dockroute explain --json -- build -o type=local,dest=OUT CTX`, run in `cwd`.
fn explain(s: &Sandbox, ctx: &Path) -> serde_json::Value {
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "-o"])
        .arg(format!(
            "type=local,dest={}",
            ctx.with_extension("out").display()
        ))
        .arg(ctx);
    let o = run(c);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// The node a plan builds on: the value after `--addr` in its argv.
fn node_of(plan: &serde_json::Value) -> String {
    let argv: Vec<&str> = plan["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {plan}"))
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let at = argv.iter().position(|a| *a == "--addr").expect("--addr");
    argv[at + 1].to_string()
}

/// `docker build` of `ctx` through the shim with the build argument `DR_NODE_MARK=mark`
/// (unused by the Dockerfile: it changes no cache key), its output into a directory.
/// Returns its stderr; asserts success and the file's arrival.
#[track_caller]
fn build(s: &Sandbox, ctx: &Path, mark: &str) -> String {
    let out = s.p(&unique("out"));
    let mut c = s.docker();
    c.args(["build", "--progress", "plain", "--build-arg"])
        .arg(format!("DR_NODE_MARK={mark}"))
        .arg("-o")
        .arg(format!("type=local,dest={}", out.display()))
        .arg(ctx);
    let o = run(c);
    ok(&o);
    assert_eq!(
        std::fs::read(out.join("f.txt")).unwrap_or_default(),
        std::fs::read(ctx.join("f.txt")).unwrap(),
        "{}",
        stderr(&o)
    );
    stderr(&o)
}

/// The bed's nodes on which a build marked `mark` ran, read from each buildkitd's own
/// build history.
fn ran_on(mark: &str) -> Vec<String> {
    let needle = format!("\"build-arg:DR_NODE_MARK\":\"{mark}\"");
    let mut found = Vec::new();
    for (addr, tls) in [(buildkit_addr("unix"), false), (buildkit_addr("tcp"), true)] {
        let mut c = std::process::Command::new(buildkit_bin().join("buildctl"));
        c.args(["--addr", &addr]);
        if tls {
            c.arg("--tlsdir").arg(buildkit_tls_dir());
        }
        c.args(["debug", "histories", "--format", "{{json .}}"]);
        let o = run(c);
        ok(&o);
        if stdout(&o).contains(&needle) {
            found.push(addr);
        }
    }
    found
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn dead_nodes_first_in_the_order_are_skipped_for_the_next_live_one() {
    let live = buildkit_addr("unix");
    let dead_socket = "unix:///nonexistent/dockroute-nodes/buildkitd.sock".to_string();
    let dead_port = closed_port();
    let list = [dead_socket.clone(), live.clone(), dead_port.clone()];
    for (var, route) in [
        ("DOCKROUTE_BUILDKIT_HOST", "remote"),
        ("BUILDKIT_HOST", "daemonless"),
    ] {
        let s = with_nodes_in(var, &list);
        // A project whose order puts both dead nodes before the live one (one in three
        // does: the order is a stable hash of the context, so try projects until one does).
        let (ctx, plan) = (0..64)
            .map(|i| project(&s, &format!("p{i}")))
            .map(|ctx| {
                let v = explain(&s, &ctx);
                (ctx, v)
            })
            .find(|(_, v)| {
                v["notices"].as_array().is_some_and(|n| {
                    n.iter()
                        .filter(|n| n.as_str().unwrap_or_default().contains("does not answer"))
                        .count()
                        == 2
                })
            })
            .expect("no project of 64 has both dead nodes first");
        assert_eq!(plan["route"], route, "{plan}");
        assert_eq!(node_of(&plan), live, "{plan}");
        let why = plan["builder"]["why"].as_str().unwrap_or_default();
        assert!(
            why.contains("node 3 of 3 in the order of this build"),
            "{why}"
        );

        let mark = unique("dead-first");
        let err = build(&s, &ctx, &mark);
        for dead in [&dead_socket, &dead_port] {
            assert!(
                err.contains(&format!("the BuildKit node {dead} does not answer (")),
                "{var}: {err}"
            );
        }
        assert!(err.contains(&format!("building on {live}")), "{err}");
        assert_eq!(ran_on(&mark), [live.as_str()], "{var}: {err}");
    }

    let ctx = project(&with_nodes(&list), "all-dead");
    // Every node dead: refused before anything runs (exit 2), each named.
    let s = with_nodes(&[dead_socket.clone(), dead_port.clone()]);
    let mut c = s.docker();
    c.args(["build", "-o", "type=local,dest=out"]).arg(&ctx);
    let o = run(c);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("none of the 2 BuildKit nodes in DOCKROUTE_BUILDKIT_HOST answers"),
        "{err}"
    );
    assert!(
        err.contains(&dead_socket) && err.contains(&dead_port),
        "{err}"
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn one_context_stays_on_its_node_and_two_contexts_can_land_on_two() {
    let (unix, tcp) = (buildkit_addr("unix"), buildkit_addr("tcp"));
    let s = with_nodes(&[unix.clone(), tcp.clone()]);
    // Projects until both nodes are someone's first choice (half of them are each).
    let mut by_node: Vec<(String, PathBuf)> = Vec::new();
    for i in 0..64 {
        let ctx = project(&s, &format!("p{i}"));
        let node = node_of(&explain(&s, &ctx));
        assert!(node == unix || node == tcp, "{node}");
        // Asked again: the same answer.
        assert_eq!(node_of(&explain(&s, &ctx)), node);
        if !by_node.iter().any(|(n, _)| *n == node) {
            by_node.push((node, ctx));
        }
        if by_node.len() == 2 {
            break;
        }
    }
    assert_eq!(
        by_node.len(),
        2,
        "64 projects, all on one node: {by_node:?}"
    );

    for (node, ctx) in &by_node {
        // The same context twice: both builds on the node explain named, the second one
        // from that node's cache.
        let first = unique("same-1");
        build(&s, ctx, &first);
        assert_eq!(ran_on(&first), [node.as_str()], "{}", ctx.display());
        let second = unique("same-2");
        let err = build(&s, ctx, &second);
        assert_eq!(ran_on(&second), [node.as_str()], "{}", ctx.display());
        assert!(err.contains("CACHED"), "the rebuild was not cached: {err}");
        // The reroute line names the node.
        assert!(err.contains(node.as_str()), "{err}");
    }

    // The same project reached through a symlink is the same project: same node.
    let (node, ctx) = &by_node[1];
    let link = s.p("link-to-project");
    std::os::unix::fs::symlink(ctx, &link).unwrap();
    assert_eq!(&node_of(&explain(&s, &link)), node);

    // explain in words: the node, its place in the order and what was hashed.
    let mut c = s.dockroute();
    c.args(["explain", "--", "build", "-o", "type=local,dest=x"])
        .arg(ctx);
    let o = run(c);
    ok(&o);
    let text = stdout(&o);
    let canonical = ctx.canonicalize().unwrap();
    assert!(
        text.contains(&format!(
            "builder: BuildKit — the BuildKit at {node}, node 1 of 2 in the order of this build ({} and {})",
            canonical.display(),
            canonical.join("Dockerfile").display()
        )),
        "{text}"
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn doctor_lists_every_node_and_whether_it_answers() {
    let (unix, tcp) = (buildkit_addr("unix"), buildkit_addr("tcp"));
    let dead = closed_port();
    let s = with_nodes(&[unix.clone(), dead.clone(), tcp.clone()]);
    let ctx = project(&s, "here");
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]).current_dir(&ctx);
    let o = run(c);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    let nodes = v["buildkit"]["nodes"].as_array().expect("nodes");
    let mut seen: Vec<(String, bool)> = nodes
        .iter()
        .map(|n| {
            (
                n["address"].as_str().unwrap().to_string(),
                n["answers"].as_bool().expect("checked"),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (unix.clone(), true),
        (dead.clone(), false),
        (tcp.clone(), true),
    ];
    want.sort();
    assert_eq!(seen, want, "{v}");
    // The node `docker build .` here goes to is the one explain names for it.
    let chosen: Vec<&str> = nodes
        .iter()
        .filter(|n| n["chosen"] == true)
        .filter_map(|n| n["address"].as_str())
        .collect();
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "."])
        .current_dir(&ctx);
    let o = run(c);
    ok(&o);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(chosen, [node_of(&plan)], "{v}");
    // The dead node is worth knowing, not a failure of the whole list.
    let notes = v["notes"].to_string();
    assert!(
        notes.contains(&format!("the BuildKit node {dead} does not answer")),
        "{notes}"
    );

    // In words: one line per node.
    let mut c = s.dockroute();
    c.arg("doctor").current_dir(&ctx);
    let text = stdout(&run(c));
    for addr in [&unix, &dead, &tcp] {
        assert!(
            text.lines()
                .any(|l| l.contains("node ") && l.contains(" of 3") && l.contains(addr.as_str())),
            "{text}"
        );
    }
    assert!(text.contains("← docker build . here"), "{text}");
}

/// A compose project on a strict daemon with a node list: each service is a build of its
/// own, so each gets its own order (its context and Dockerfile) and skips the dead nodes,
/// as its `docker build` would. Before, a project's targets were given neither: every
/// target hashed an empty key ("no local context") and no node was checked, so a dead
/// node first in that one order failed every build with buildctl's connection error.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn each_compose_service_gets_its_own_order_and_skips_dead_nodes() {
    each_strict(|which| {
        let host = daemon(which);
        let s = with_buildkit_path(Sandbox::new(), true);
        let config = config_with_real_compose(&s);
        let dead: Vec<String> = (0..3).map(|_| closed_port()).collect();
        let mut list = dead.clone();
        list.push(buildkit_addr("unix"));
        let s = s
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", &config)
            .env("DOCKROUTE_BUILDKIT_HOST", list.join(","));
        let dir = s.p("nodes-project");
        let (a, b) = (unique("dr-cnodes-a"), unique("dr-cnodes-b"));
        std::fs::create_dir_all(&dir).unwrap();
        for svc in ["a", "b"] {
            std::fs::write(dir.join(format!("{svc}.txt")), unique(svc)).unwrap();
            std::fs::write(
                dir.join(format!("Dockerfile.{svc}")),
                format!("FROM scratch\nCOPY {svc}.txt /{svc}.txt\n"),
            )
            .unwrap();
        }
        std::fs::write(
            dir.join("compose.yaml"),
            format!(
                "services:\n  a:\n    build: {{ context: ., dockerfile: Dockerfile.a }}\n    image: {a}\n  b:\n    build: {{ context: ., dockerfile: Dockerfile.b }}\n    image: {b}\n"
            ),
        )
        .unwrap();
        let mut c = s.docker();
        c.current_dir(&dir).args(["compose", "build"]);
        let o = run(with_mounted_client(&c));
        let err = stderr(&o);
        ok(&o);
        let canonical = dir.canonicalize().unwrap();
        for svc in ["a", "b"] {
            let order = format!(
                "in the order of this build ({} and {})",
                canonical.display(),
                canonical.join(format!("Dockerfile.{svc}")).display()
            );
            let line = err
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "dockroute: [{svc}] `docker build` routed (remote)"
                    ))
                })
                .unwrap_or_else(|| panic!("no reroute line for {svc}: {err}"));
            assert!(line.contains(&order), "{line}");
            assert!(
                line.contains(&format!("the BuildKit at {}", buildkit_addr("unix"))),
                "{line}"
            );
        }
        assert!(image_exists(&host, &a) && image_exists(&host, &b), "{err}");
    });
}
