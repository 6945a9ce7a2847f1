//! Discovery end to end: self-skip however installed, relative PATH entries, recursion,
//! no client, hanging clients.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::*;

#[test]
fn skips_itself_as_symlink_hard_link_and_copy() {
    let s = Sandbox::bare();
    // A private copy so hard links stay on one filesystem.
    let copy_dir = s.p("copy");
    std::fs::create_dir_all(&copy_dir).unwrap();
    std::fs::copy(dockroute_bin(), copy_dir.join("docker")).unwrap();
    let hard = s.p("hard");
    std::fs::create_dir_all(&hard).unwrap();
    std::fs::hard_link(copy_dir.join("docker"), hard.join("docker")).unwrap();
    let copy2 = s.p("copy2");
    std::fs::create_dir_all(&copy2).unwrap();
    std::fs::copy(dockroute_bin(), copy2.join("docker")).unwrap();
    let sym = s.shim_dir();
    let s = s.with_path(&[
        sym.clone(),
        hard,
        copy_dir,
        copy2,
        PathBuf::from("/usr/local/bin"),
    ]);
    let mut c = s.docker();
    c.arg("--version");
    let (o, took) = run_within(c, Duration::from_secs(20));
    ok(&o);
    assert_eq!(o.stdout, real_version());
    assert!(took < Duration::from_secs(5));
    // The probing path recognises the copies and never lists them as clients.
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let o = run(c);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("doctor --json is JSON");
    let clients: Vec<&str> = v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(clients, vec![DOCKER28], "{}", stdout(&o));
}

#[test]
fn relative_and_empty_path_entries_never_supply_docker() {
    let s = Sandbox::bare();
    let work = s.p("checkout");
    let marker = s.p("ran-untrusted");
    let evil = format!("#!/bin/sh\ntouch {}\necho EVIL\n", marker.display());
    script(&work.join("docker"), &evil);
    script(&work.join("bin/docker"), &evil);
    let shim = s.shim_dir();
    let s = s.with_path(&[
        PathBuf::from(""),
        PathBuf::from("."),
        PathBuf::from("bin"),
        shim,
        PathBuf::from("/usr/local/bin"),
    ]);
    // Each call must reach the real client (its own output, not just "not EVIL"), so a
    // call that failed before running anything cannot pass.
    for (args, real) in [
        (&["--version"][..], "Docker version 28."),
        (&["build", "--help"], "Usage:  docker build"),
    ] {
        let mut c = s.docker();
        c.args(args).current_dir(&work);
        let o = run(c);
        ok(&o);
        assert!(stdout(&o).starts_with(real), "{args:?}: {}", stdout(&o));
        assert!(!stdout(&o).contains("EVIL"), "{args:?}: {}", stdout(&o));
        assert!(
            !marker.exists(),
            "{args:?} ran a docker from a relative PATH entry"
        );
    }
    // With only relative entries there is no client at all.
    let shim = s.shim_dir();
    let s = s.with_path(&[PathBuf::from("."), PathBuf::from("bin"), shim]);
    let mut c = s.docker();
    c.arg("ps").current_dir(&work);
    let o = run(c);
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("never searched"), "{}", stderr(&o));
    assert!(!marker.exists());
}

#[test]
fn no_real_client_exits_127_saying_where_it_looked() {
    let s = Sandbox::bare();
    let shim = s.shim_dir();
    let empty = s.p("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let s = s.with_path(&[shim.clone(), empty.clone()]);
    for args in [&["ps"][..], &["build", "."]] {
        let mut c = s.docker();
        c.args(args);
        let o = run(c);
        assert_eq!(o.status.code(), Some(127), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains(&empty.display().to_string()) && err.contains(&shim.display().to_string()),
            "{err}"
        );
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn two_wrappers_calling_each_other_stop_with_exit_2() {
    let s = Sandbox::bare();
    // A foreign wrapper that calls `docker` by name again: dockroute → wrapper → dockroute …
    let w = s.p("wrap");
    script(&w.join("docker"), "#!/bin/sh\nexec docker \"$@\"\n");
    let shim = s.shim_dir();
    let s = s.with_path(&[
        shim,
        w.clone(),
        PathBuf::from("/usr/local/bin"),
        PathBuf::from("/bin"),
        PathBuf::from("/usr/bin"),
    ]);
    assert_recursion_stops(&s, &w.display().to_string());
}

#[test]
fn a_client_hanging_on_version_is_bounded_by_the_timeout() {
    let s = Sandbox::bare();
    let hang = s.p("hang");
    let nap = format!("sleep {}", unique_sleep());
    script(&hang.join("docker"), &format!("#!/bin/sh\n/bin/{nap}\n"));
    let shim = s.shim_dir();
    let s = s
        .with_path(&[
            shim,
            PathBuf::from("/usr/local/bin"),
            hang,
            PathBuf::from("/bin"),
        ])
        .env("DOCKROUTE_PROBE_TIMEOUT_MS", "700")
        .env("DOCKROUTE_RUNTIME", "open");
    let mut c = s.dockroute();
    c.args(["explain", "--json", "--", "build", "."]);
    let (o, took) = run_within(c, Duration::from_secs(20));
    ok(&o);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["program"], DOCKER28);
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let (o, took) = run_within(c, Duration::from_secs(20));
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problem = v["clients"][1]["problem"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(problem.contains("timed out"), "{v}");
    assert!(
        gone_within(&nap, Duration::from_secs(3)),
        "the hung probe was killed with its process group"
    );
}

/// With no /proc (a chroot or a container that does not mount it), dockroute cannot read
/// /proc/self/exe. Started by a path it knows itself by argv[0] and passes through to the
/// real client; started by a bare name (as a shell does) it says that /proc is missing
/// instead of "no real docker client found" alone, and names the clients passed over.
#[test]
#[ignore = "needs root"]
fn without_proc_it_says_so_and_works_when_started_by_a_path() {
    let s = Sandbox::new();
    let shim = s.shim_dir().join("docker");
    let mut c = s.command("unshare");
    c.args(["-m", "--propagation", "private", "/bin/sh", "-c"])
        .arg(
            "umount -l /proc || exit 99; test -e /proc/self && exit 98; \
             \"$0\" --version; echo \"by-path=$?\"; docker --version; echo \"by-name=$?\"",
        )
        .arg(&shim);
    let out = run(c);
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Docker version 28."), "{stdout}{stderr}");
    assert!(stdout.contains("by-path=0\n"), "{stdout}{stderr}");
    assert!(stdout.contains("by-name=127\n"), "{stdout}{stderr}");
    assert!(
        stderr.contains("passed over ")
            && stderr.contains("/usr/local/bin/docker")
            && stderr.contains("because /proc is not mounted"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: mount /proc"), "{stderr}");
}
