//! Installing dockroute: install.sh into a temporary prefix, completions and man page,
//! doctor's two outputs agreeing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn install(s: &Sandbox, prefix: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = s.command("/bin/bash");
    c.arg(repo().join("install.sh"))
        .arg("--prefix")
        .arg(prefix)
        .args(extra)
        .env("DOCKROUTE_SHARE_DIR", s.p("share"));
    run(c)
}

fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() && !p.is_symlink() {
                out.extend(tree(&p));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn install_is_idempotent_and_uninstall_restores() {
    let s = Sandbox::bare();
    let prefix = s.p("prefix/sbin");
    let s = s.with_path(&[
        prefix.clone(),
        "/usr/local/bin".into(),
        "/usr/bin".into(),
        "/bin".into(),
    ]);
    let real_before = std::fs::read(DOCKER28).unwrap();
    let o = install(&s, &prefix, &["--from", dockroute_bin().to_str().unwrap()]);
    ok(&o);
    assert_eq!(
        std::fs::read_link(prefix.join("docker")).unwrap(),
        PathBuf::from("dockroute")
    );
    assert!(
        stdout(&o).contains("docker -> ")
            && stdout(&o).contains(&prefix.join("docker").display().to_string()),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("Clients, in PATH order"),
        "doctor ran: {}",
        stdout(&o)
    );
    for f in [
        "share/bash-completion/completions/dockroute",
        "share/zsh/site-functions/_dockroute",
        "share/man/man1/dockroute.1",
    ] {
        assert!(s.p(f).is_file(), "{f}");
    }
    let installed = tree(s.dir.path());
    let mtime = std::fs::metadata(prefix.join("dockroute"))
        .unwrap()
        .modified()
        .unwrap();
    let o = install(&s, &prefix, &["--from", dockroute_bin().to_str().unwrap()]);
    ok(&o);
    assert!(stdout(&o).contains("up to date"), "{}", stdout(&o));
    assert!(
        !stdout(&o).contains("wrote "),
        "a second run changes nothing: {}",
        stdout(&o)
    );
    assert_eq!(tree(s.dir.path()), installed);
    assert_eq!(
        std::fs::metadata(prefix.join("dockroute"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    let o = install(&s, &prefix, &["--uninstall"]);
    ok(&o);
    assert!(!prefix.join("docker").exists() && !prefix.join("dockroute").exists());
    assert!(!s.p("share/man/man1/dockroute.1").exists());
    assert_eq!(
        std::fs::read(DOCKER28).unwrap(),
        real_before,
        "real clients untouched"
    );
}

#[test]
fn install_refuses_to_clobber_a_real_client() {
    let s = Sandbox::bare();
    let prefix = s.p("bin");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::copy(DOCKER28, prefix.join("docker")).unwrap();
    let before = std::fs::read(prefix.join("docker")).unwrap();
    let s = s.with_path(&[prefix.clone(), "/usr/bin".into(), "/bin".into()]);
    let o = install(&s, &prefix, &["--from", dockroute_bin().to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("refusing to overwrite"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(prefix.join("docker")).unwrap(), before);
    assert!(!prefix.join("dockroute").exists());
}

#[test]
fn completions_and_man_page_generate() {
    let s = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let mut c = s.dockroute();
        c.args(["completions", shell]);
        let o = run(c);
        ok(&o);
        assert!(
            stdout(&o).contains("doctor") && stdout(&o).contains("explain"),
            "{shell}"
        );
    }
    let mut c = s.dockroute();
    c.arg("man");
    let o = run(c);
    ok(&o);
    assert!(
        stdout(&o).starts_with(".ie") || stdout(&o).contains(".TH dockroute"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn doctor_json_matches_the_plain_output() {
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "restricted");
    let mut c = s.dockroute();
    c.arg("doctor");
    let text = stdout(&run(c));
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&run(c).stdout).expect("doctor --json parses");
    for client in v["clients"].as_array().unwrap() {
        assert!(text.contains(client["path"].as_str().unwrap()));
        assert!(text.contains(client["version"].as_str().unwrap()));
    }
    assert_eq!(v["build"]["program"], DOCKER20);
    assert!(
        text.contains(&format!("Which docker runs my build?  {DOCKER20}")),
        "{text}"
    );
    assert!(
        text.contains("Runtime v2 or v3?") && text.contains("restricted"),
        "{text}"
    );
    assert!(v["build"]["buildkit"].as_str().unwrap().len() > 2);
    assert!(!text.contains('\x1b'), "no colour when not on a terminal");
}

#[test]
fn the_static_binary_runs_as_docker_in_a_libc_free_image() {
    let bin = testbed("DOCKROUTE_TEST_STATIC_BIN");
    let host = daemon("plain");
    let s = Sandbox::bare();
    // The documented snippet, verbatim, on a busybox base (no libc at all).
    let ctx = s.p("img");
    let dest = ctx.join("target/x86_64-unknown-linux-musl/release");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(&bin, dest.join("dockroute")).unwrap();
    let snippet = std::fs::read_to_string(repo().join("packaging/Dockerfile.snippet")).unwrap();
    // The real 28.x client is a static Go binary: it runs in busybox too.
    std::fs::copy(DOCKER28, ctx.join("docker-cli")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {}\nCOPY docker-cli /usr/local/bin/docker\n{snippet}",
            image()
        ),
    )
    .unwrap();

    let tag = unique("dr-baked");
    let o = Command::new(DOCKER28)
        .args(["-H", &host, "build", "-q", "-t", &tag])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    ok(&o);
    // `docker run --rm --network none [extra…] IMAGE cmd…` on the test daemon.
    let in_image = |extra: &[&str], cmd: &[&str]| {
        Command::new(DOCKER28)
            .args(["-H", &host, "run", "--rm", "--network", "none"])
            .args(extra)
            .arg(&tag)
            .args(cmd)
            .output()
            .unwrap()
    };
    let o = in_image(&[], &["dockroute", "--version"]);
    ok(&o);
    assert!(stdout(&o).starts_with("dockroute "), "{}", stdout(&o));
    // `docker --version` inside goes through dockroute to the image's real client.
    let o = in_image(&[], &["sh", "-c", "command -v docker; docker --version"]);
    ok(&o);
    let real = Command::new(DOCKER28)
        .arg("--version")
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        stdout(&o),
        format!("/usr/local/sbin/docker\n{}", String::from_utf8_lossy(&real))
    );
    // Without a real client on PATH, dockroute, run as `docker`, says where it looked.
    let o = in_image(&["-e", "PATH=/usr/local/sbin:/bin"], &["docker", "ps"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no real docker client found on PATH; looked in: /usr/local/sbin"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_debian_package_builds_with_the_documented_layout() {
    let s = Sandbox::bare();
    let out = s.p("debs");
    let o = Command::new(repo().join("packaging/deb/build.sh"))
        .arg("--from")
        .arg(dockroute_bin())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    let deb = PathBuf::from(stdout(&o).trim());
    assert!(deb.is_file(), "{}", deb.display());
    let root = s.p("root");
    ok(&Command::new("dpkg")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .output()
        .unwrap());
    let bin = root.join("usr/lib/dockroute/bin");
    assert!(bin.join("dockroute").is_file());
    assert_eq!(
        std::fs::read_link(bin.join("docker")).unwrap(),
        PathBuf::from("dockroute")
    );
    assert_eq!(
        std::fs::read_link(root.join("usr/sbin/dockroute")).unwrap(),
        PathBuf::from("../lib/dockroute/bin/dockroute")
    );
    assert!(root.join("usr/share/man/man1/dockroute.1.gz").is_file());
    assert!(
        !root.join("usr/bin/docker").exists(),
        "the package never ships a /usr/bin/docker"
    );
    // The profile snippet puts the shim first, once.
    let o = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            ". {0}; . {0}; echo \"$PATH\"",
            root.join("etc/profile.d/dockroute.sh").display()
        ))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o).trim(),
        "/usr/lib/dockroute/bin:/usr/local/bin:/usr/bin:/bin"
    );
    let info = Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .arg("Package")
        .output()
        .unwrap();
    assert_eq!(stdout(&info).trim(), "dockroute");
}
