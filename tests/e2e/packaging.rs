//! Installing dockroute: install.sh into a temporary prefix and back out, the Debian
//! package's layout and maintainer scripts, the static binary baked into a libc-free
//! image on the test daemon, completions and the man page, doctor's two outputs agreeing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn install(s: &Sandbox, prefix: &Path, extra: &[&str]) -> Output {
    let mut c = s.command("/bin/sh");
    c.arg(repo().join("install.sh"))
        .arg("--prefix")
        .arg(prefix)
        .args(extra)
        .env("DOCKROUTE_SHARE_DIR", s.p("share"));
    run(c)
}

fn from_test_binary() -> [String; 2] {
    ["--from".into(), dockroute_bin().display().to_string()]
}

/// Every path under `dir`, with its symlink target, sorted; dockroute's own probe cache
/// (`cache`, made by the doctor run at the end of an install) is no installed file.
fn tree(dir: &Path) -> Vec<String> {
    let cache = dir.join("cache");
    all_paths(dir)
        .into_iter()
        .filter(|p| !Path::new(p).starts_with(&cache))
        .collect()
}

/// Every path under `dir`, which must exist. A directory that cannot be read panics:
/// "the tree is unchanged" is never concluded from two listings that both failed.
fn all_paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for e in entries {
        let p = e
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        let meta = std::fs::symlink_metadata(&p)
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", p.display()));
        if meta.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            out.push(format!("{} -> {}", p.display(), t.display()));
        } else {
            out.push(p.display().to_string());
            if meta.is_dir() {
                out.extend(all_paths(&p));
            }
        }
    }
    out.sort();
    out
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::symlink_metadata(p).unwrap().modified().unwrap()
}

#[test]
fn install_twice_changes_nothing_and_uninstall_leaves_no_trace() {
    let s = Sandbox::bare();
    // A prefix whose parent does not exist yet: uninstall must remove what install made.
    let prefix = s.p("opt/dr/sbin");
    let s = s.with_path(&[
        prefix.clone(),
        "/usr/local/bin".into(),
        "/usr/bin".into(),
        "/bin".into(),
    ]);
    let before = tree(s.dir.path());
    let real28 = std::fs::read(DOCKER28).unwrap();
    let real20 = std::fs::read(DOCKER20).unwrap();
    let from = from_test_binary();
    let args: Vec<&str> = from.iter().map(String::as_str).collect();

    let o = install(&s, &prefix, &args);
    ok(&o);
    let out = stdout(&o);
    assert_eq!(
        std::fs::read_link(prefix.join("docker")).unwrap(),
        PathBuf::from("dockroute")
    );
    assert!(
        out.contains(&format!(
            "ok: `docker` resolves to {} (dockroute)",
            prefix.join("docker").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("Which docker runs my build?"),
        "doctor ran: {out}"
    );
    for f in [
        "share/bash-completion/completions/dockroute",
        "share/zsh/site-functions/_dockroute",
        "share/fish/vendor_completions.d/dockroute.fish",
        "share/man/man1/dockroute.1",
        "share/dockroute/manifest",
    ] {
        assert!(s.p(f).is_file(), "{f}");
    }

    // Second run: same tree, same mtimes, nothing written.
    let installed = tree(s.dir.path());
    let stamps: Vec<_> = [
        prefix.join("dockroute"),
        prefix.join("docker"),
        s.p("share/man/man1/dockroute.1"),
        s.p("share/dockroute/manifest"),
    ]
    .iter()
    .map(|p| mtime(p))
    .collect();
    let o = install(&s, &prefix, &args);
    ok(&o);
    let out = stdout(&o);
    assert!(out.contains("up to date"), "{out}");
    assert!(
        !out.contains("wrote ") && !out.contains("installed ") && !out.contains("linked "),
        "a second run changes nothing: {out}"
    );
    assert_eq!(tree(s.dir.path()), installed);
    let again: Vec<_> = [
        prefix.join("dockroute"),
        prefix.join("docker"),
        s.p("share/man/man1/dockroute.1"),
        s.p("share/dockroute/manifest"),
    ]
    .iter()
    .map(|p| mtime(p))
    .collect();
    assert_eq!(stamps, again);

    // Uninstall: exactly the tree from before, real clients byte for byte the same.
    let o = install(&s, &prefix, &["--uninstall"]);
    ok(&o);
    assert!(
        stdout(&o).contains("`docker` now resolves to /usr/local/bin/docker"),
        "{}",
        stdout(&o)
    );
    assert_eq!(tree(s.dir.path()), before);
    assert_eq!(std::fs::read(DOCKER28).unwrap(), real28, "28.x untouched");
    assert_eq!(std::fs::read(DOCKER20).unwrap(), real20, "20.10 untouched");
    // And again: nothing to do, still success.
    let o = install(&s, &prefix, &["--uninstall"]);
    ok(&o);
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
}

#[test]
fn install_refuses_to_clobber_a_real_client() {
    let s = Sandbox::bare();
    let prefix = s.p("bin");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::copy(DOCKER28, prefix.join("docker")).unwrap();
    let before = std::fs::read(prefix.join("docker")).unwrap();
    let s = s.with_path(&[prefix.clone(), "/usr/bin".into(), "/bin".into()]);
    let from = from_test_binary();
    let o = install(&s, &prefix, &[&from[0], &from[1]]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("exists and is not dockroute: refusing to overwrite a real docker client"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(prefix.join("docker")).unwrap(), before);
    assert!(!prefix.join("dockroute").exists(), "nothing installed");
    assert!(!s.p("share").exists(), "nothing installed");
    // Uninstalling there leaves the real client alone too.
    ok(&install(&s, &prefix, &["--uninstall"]));
    assert_eq!(std::fs::read(prefix.join("docker")).unwrap(), before);
}

#[test]
fn install_prints_the_path_line_when_docker_does_not_resolve_to_it() {
    let s = Sandbox::bare();
    let prefix = s.p("sbin");
    // The prefix is not on PATH at all: the real 28.x client still answers to `docker`.
    let s = s.with_path(&["/usr/local/bin".into(), "/usr/bin".into(), "/bin".into()]);
    let from = from_test_binary();
    let o = install(&s, &prefix, &[&from[0], &from[1]]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let out = stdout(&o);
    let dir = prefix.display();
    assert!(
        out.contains(&format!("    ENV PATH={dir}:$PATH\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("    export PATH={dir}:$PATH\n")),
        "{out}"
    );
    assert!(out.contains("NOT dockroute"), "doctor says so too: {out}");
    ok(&install(&s, &prefix, &["--uninstall"]));
}

#[test]
fn completions_and_man_page_generate() {
    let s = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
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
    let page = stdout(&o);
    for needle in [
        ".TH dockroute 1",
        ".SH COMMANDS",
        ".SH ENVIRONMENT",
        ".SH EXIT STATUS",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    // The page renders (man-db's `man -l` reads stdin with `-`). Without man-db the
    // test fails rather than skip the check.
    assert!(
        Path::new("/usr/bin/man").exists(),
        "rendering the man page needs /usr/bin/man: apt-get install man-db"
    );
    let mut c = Command::new("/usr/bin/man");
    c.args(["-l", "-"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("MANPAGER", "cat");
    let rendered = {
        use std::io::Write;
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    ok(&rendered);
    assert!(
        stdout(&rendered).contains("DOCKROUTE_MODE"),
        "{}",
        stdout(&rendered)
    );
}

#[test]
fn doctor_json_matches_the_plain_output() {
    let s = Sandbox::new().env("DOCKROUTE_RUNTIME", "restricted");
    let mut c = s.dockroute();
    c.arg("doctor");
    let o = run(c);
    ok(&o);
    let text = stdout(&o);
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let o = run(c);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("doctor --json parses");
    // The three answers are the same sentences in both.
    for (key, question) in [
        ("which_docker_builds", "Which docker runs my build?"),
        ("buildkit", "Is BuildKit on?"),
        ("runtime", "Runtime v2 or v3?"),
    ] {
        let answer = v["answers"][key].as_str().unwrap();
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(question) && l.ends_with(answer)),
            "{question} {answer}\n{text}"
        );
    }
    assert_eq!(v["build"]["program"], DOCKER20);
    assert_eq!(v["build"]["route"], "mounted");
    assert!(v["answers"]["runtime"]
        .as_str()
        .unwrap()
        .contains("DOCKROUTE_RUNTIME"));
    let clients = v["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "both real clients: {v}");
    for client in clients {
        let path = client["path"].as_str().unwrap();
        let version = client["version"].as_str().unwrap();
        assert!(
            text.lines()
                .any(|l| l.contains(path) && l.contains(version)),
            "{path} {version}"
        );
    }
    let routes = v["routes"].as_array().unwrap();
    assert!(!routes.is_empty(), "{v}");
    for route in routes {
        assert!(text.contains(route["call"].as_str().unwrap()));
        assert!(text.contains(route["plan"]["route"].as_str().unwrap()));
    }
    assert_eq!(v["docker_is_dockroute"], true);
    assert!(text.contains("→ dockroute ok"));
    assert!(v["problems"].as_array().unwrap().is_empty());
    assert!(text.contains("No problems found."));
    assert!(!text.contains('\x1b'), "no colour when not on a terminal");

    // A problem appears in both, with its fix.
    let s = s.env("DOCKROUTE_MODE", "sideways");
    let mut c = s.dockroute();
    c.arg("doctor");
    let o = run(c);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let mut c = s.dockroute();
    c.args(["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&run(c).stdout).unwrap();
    let p = &v["problems"][0];
    assert!(text.contains(p["problem"].as_str().unwrap()), "{text}");
    assert!(
        text.contains(&format!("fix: {}", p["fix"].as_str().unwrap())),
        "{text}"
    );
}

/// Builds, on the test daemon `host`, an image of busybox (no libc at all) plus the real
/// 28.x client (a static Go binary) in /usr/local/bin plus the documented snippet,
/// verbatim, with the static dockroute from the test bed. Returns the tag.
fn bake(s: &Sandbox, host: &str) -> String {
    let bin = testbed("DOCKROUTE_TEST_STATIC_BIN");
    let ctx = s.p("img");
    let dest = ctx.join("target/x86_64-unknown-linux-musl/release");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(&bin, dest.join("dockroute")).unwrap();
    let snippet = std::fs::read_to_string(repo().join("packaging/Dockerfile.snippet")).unwrap();
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
    // The legacy builder: it needs no privileged container, so it works on every daemon.
    let o = Command::new(DOCKER28)
        .args(["-H", host, "build", "-q", "-t", &tag])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    ok(&o);
    tag
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_static_binary_runs_as_docker_in_a_libc_free_image() {
    let host = daemon("plain");
    let s = Sandbox::bare();
    let tag = bake(&s, &host);
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
    let real = real_version();
    assert_eq!(
        stdout(&o),
        format!("/usr/local/sbin/docker\n{}", String::from_utf8_lossy(&real))
    );
    // Without a real client on PATH, dockroute, run as `docker`, says where it looked.
    let o = in_image(
        &["-e", "PATH=/usr/local/sbin:/bin"],
        &["docker", "--version"],
    );
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no real docker client found on PATH; looked in: /usr/local/sbin"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "nothing on stdout: {}", stdout(&o));
    let _ = Command::new(DOCKER28)
        .args(["-H", &host, "rmi", "-f", &tag])
        .output();
}

/// End to end in one container: the baked image in a step shaped like Bitbucket
/// runtime v2 — the daemon's socket with the `pipelines` authorization plugin, the 20.10
/// client bind-mounted at /usr/bin/docker (with the host's libc beside it: Debian's
/// client is dynamically linked, Pipelines' own is not), BITBUCKET_* set. doctor answers
/// the three questions, and `docker build` goes to the mounted client and succeeds.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_baked_image_in_a_pipelines_v2_like_step_builds_through_the_mounted_client() {
    each_strict(|which| {
        let host = daemon(which);
        let sock = host
            .strip_prefix("unix://")
            .expect("a unix socket")
            .to_string();
        let s = Sandbox::bare();
        let tag = bake(&s, &host);
        let script = "set -e
dockroute doctor --json > /tmp/doctor.json
dockroute doctor
mkdir /ctx && cd /ctx && printf 'FROM busybox:latest\\nRUN echo built-in-step\\n' > Dockerfile
docker build --network none -t step-built . 2>&1
docker rmi step-built >/dev/null
echo '---json'
cat /tmp/doctor.json";
        let o = Command::new(DOCKER28)
            .args(["-H", &host, "run", "--rm", "--network", "none"])
            .args(["-v", &format!("{DOCKER20}:/usr/bin/docker:ro")])
            .args(["-v", "/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro"])
            .args(["-v", "/lib64:/lib64:ro"])
            .args(["-v", &format!("{sock}:/var/run/docker.sock")])
            .args(["-e", "BITBUCKET_BUILD_NUMBER=7"])
            .arg(&tag)
            .args(["sh", "-c", script])
            .output()
            .unwrap();
        let _ = Command::new(DOCKER28)
            .args(["-H", &host, "rmi", "-f", &tag])
            .output();
        ok(&o);
        let out = stdout(&o);
        let (text, json) = out.split_once("---json\n").expect("both parts");
        let v: serde_json::Value = serde_json::from_str(json).expect("doctor --json parses");
        assert_eq!(v["build"]["program"], "/usr/bin/docker", "{text}");
        assert_eq!(v["build"]["route"], "mounted");
        assert_eq!(v["docker_is_dockroute"], true);
        assert!(v["answers"]["runtime"]
            .as_str()
            .unwrap()
            .starts_with("v2 — Bitbucket runtime v2"));
        assert!(
        text.contains("Which docker runs my build?  /usr/bin/docker (20.10.24, bind-mounted), route mounted — because: authorization denied by plugin pipelines: --privileged=true is not allowed"),
        "{text}"
    );
        assert!(text.contains("built-in-step"), "the build ran: {text}");
        assert!(
        text.contains("dockroute: `docker build` routed (mounted) to /usr/bin/docker (20.10.24, bind-mounted)"),
        "the one log line: {text}"
    );
        assert!(!text.contains("buildx_buildkit_default"), "{text}");
    });
}

fn build_deb(s: &Sandbox) -> PathBuf {
    let o = Command::new(repo().join("packaging/deb/build.sh"))
        .arg("--from")
        .arg(dockroute_bin())
        .arg("--out")
        .arg(s.p("debs"))
        .output()
        .unwrap();
    ok(&o);
    let deb = PathBuf::from(stdout(&o).trim());
    assert!(deb.is_file(), "{}", deb.display());
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("dockroute_{}_amd64.deb", env!("CARGO_PKG_VERSION"))
    );
    deb
}

#[test]
fn the_debian_package_builds_with_the_documented_layout() {
    let s = Sandbox::bare();
    let deb = build_deb(&s);
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
        std::fs::read_link(root.join("usr/bin/dockroute")).unwrap(),
        PathBuf::from("../lib/dockroute/bin/dockroute")
    );
    for f in [
        "usr/share/man/man1/dockroute.1.gz",
        "usr/share/bash-completion/completions/dockroute",
        "usr/share/zsh/vendor-completions/_dockroute",
        "usr/share/fish/vendor_completions.d/dockroute.fish",
        "usr/share/doc/dockroute/copyright",
        "usr/share/doc/dockroute/README.Debian",
        "etc/profile.d/dockroute.sh",
    ] {
        assert!(root.join(f).is_file(), "{f}");
    }
    // No `docker` anywhere a real client lives, and nothing under /usr/local.
    for d in [
        "usr/bin/docker",
        "usr/sbin/docker",
        "bin/docker",
        "usr/local",
    ] {
        assert!(!root.join(d).exists(), "the package never ships {d}");
    }
    // The profile snippet puts the shim first, once; inert when the shim is gone.
    let profile = root.join("etc/profile.d/dockroute.sh");
    let text = std::fs::read_to_string(&profile).unwrap();
    let shifted = text.replace("/usr/lib/dockroute/bin", &bin.display().to_string());
    let sourced = |body: &str| {
        let f = s.p("profile.sh");
        std::fs::write(&f, body).unwrap();
        let o = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(". {0}; . {0}; echo \"$PATH\"", f.display()))
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap();
        ok(&o);
        stdout(&o).trim().to_string()
    };
    assert_eq!(
        sourced(&shifted),
        format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())
    );
    assert_eq!(
        sourced(&text.replace("/usr/lib/dockroute/bin", "/nonexistent/dockroute/bin")),
        "/usr/local/bin:/usr/bin:/bin"
    );
    let field = |name: &str| {
        let o = Command::new("dpkg-deb")
            .arg("-f")
            .arg(&deb)
            .arg(name)
            .output()
            .unwrap();
        // A field the package lacks is an empty answer with exit 0; a failure is not.
        ok(&o);
        stdout(&o).trim().to_string()
    };
    assert_eq!(field("Package"), "dockroute");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(field("Depends"), "", "static: no dependencies");
}

/// dpkg with `--root` and chrootless maintainer scripts (which honour `DPKG_ROOT`).
fn dpkg(root: &Path, args: &[&str]) -> Output {
    let o = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--log=/dev/null"])
        .args(args)
        .output()
        .unwrap();
    ok(&o);
    o
}

fn empty_dpkg_root(s: &Sandbox, name: &str) -> PathBuf {
    let root = s.p(name);
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "usr/local/sbin",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    root
}

#[test]
fn the_debian_package_installs_its_run_step_link_and_removal_restores() {
    let s = Sandbox::bare();
    let deb = build_deb(&s);
    let deb = deb.to_str().unwrap();
    let link = "/usr/lib/dockroute/bin/dockroute";

    // A clean root: postinst adds /usr/local/sbin/docker; remove takes it away again.
    let root = empty_dpkg_root(&s, "clean");
    let before = tree(&root.join("usr"));
    let o = dpkg(&root, &["-i", deb]);
    assert!(
        stdout(&o).contains("linked /usr/local/sbin/docker"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read_link(root.join("usr/local/sbin/docker")).unwrap(),
        PathBuf::from(link)
    );
    assert!(root.join("usr/lib/dockroute/bin/dockroute").is_file());
    // Reinstalling changes nothing.
    dpkg(&root, &["-i", deb]);
    dpkg(&root, &["-r", "dockroute"]);
    assert!(!root.join("usr/local/sbin/docker").is_symlink());
    assert_eq!(tree(&root.join("usr")), before, "remove restores /usr");
    assert!(
        root.join("etc/profile.d/dockroute.sh").exists(),
        "the conffile stays until purge (inert: it checks for the shim)"
    );
    dpkg(&root, &["-P", "dockroute"]);
    assert!(!root.join("etc/profile.d/dockroute.sh").exists());

    // Something already at /usr/local/sbin/docker: left alone on install and removal.
    let root = empty_dpkg_root(&s, "taken");
    let theirs = root.join("usr/local/sbin/docker");
    std::fs::copy(DOCKER20, &theirs).unwrap();
    let o = dpkg(&root, &["-i", deb]);
    assert!(
        stderr(&o).contains("exists and is not dockroute: left alone")
            && stderr(&o).contains("ENV PATH=/usr/lib/dockroute/bin:$PATH"),
        "{}",
        stderr(&o)
    );
    dpkg(&root, &["-P", "dockroute"]);
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        std::fs::read(DOCKER20).unwrap()
    );
}

/// The one-file image of `packaging/image/Dockerfile`, built as the README says (a context
/// holding only the static binary) with the legacy builder on the plain test daemon: it
/// holds exactly `/dockroute`, runs it as its entry point, and a second image made
/// `FROM` busybox takes it with the documented `COPY --from` line. There dockroute runs
/// by both names, and `docker --version` reaches the image's real client through it.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn the_one_file_image_is_copied_from_into_a_ci_image() {
    let host = daemon("plain");
    let bin = testbed("DOCKROUTE_TEST_STATIC_BIN");
    let s = Sandbox::bare();
    let docker = |args: &[&str]| {
        Command::new(DOCKER28)
            .args(["-H", &host])
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap()
    };

    // The image of one file, from a context holding only the binary.
    let only = s.p("only-the-binary");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(&bin, only.join("dockroute")).unwrap();
    let dockerfile = repo().join("packaging/image/Dockerfile");
    let carrier = unique("dr-one-file");
    ok(&docker(&[
        "build",
        "-q",
        "-f",
        dockerfile.to_str().unwrap(),
        "-t",
        &carrier,
        only.to_str().unwrap(),
    ]));

    // Exactly one layer holding exactly one file: `docker save`'s manifest names the
    // layers; the only one lists `dockroute` and nothing else.
    let saved = s.p("saved");
    std::fs::create_dir_all(&saved).unwrap();
    let tarball = s.p("carrier.tar");
    ok(&docker(&[
        "save",
        "-o",
        tarball.to_str().unwrap(),
        &carrier,
    ]));
    ok(&Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&saved)
        .output()
        .unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.join("manifest.json")).unwrap())
            .expect("docker save writes manifest.json");
    let layers = manifest[0]["Layers"].as_array().expect("a Layers list");
    assert_eq!(layers.len(), 1, "one layer: {manifest}");
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(saved.join(layers[0].as_str().unwrap()))
        .output()
        .unwrap();
    ok(&listing);
    assert_eq!(stdout(&listing), "dockroute\n", "only the binary");

    // Its entry point is dockroute's own CLI: `docker run IMAGE` prints the version.
    let o = docker(&["run", "--rm", "--network", "none", &carrier]);
    ok(&o);
    assert_eq!(
        stdout(&o),
        format!("dockroute {}\n", env!("CARGO_PKG_VERSION"))
    );

    // A CI image on busybox (no libc) with the real 28.x client, taking dockroute with
    // the README's three lines.
    let ci = s.p("ci-image");
    std::fs::create_dir_all(&ci).unwrap();
    std::fs::copy(DOCKER28, ci.join("docker-cli")).unwrap();
    std::fs::write(
        ci.join("Dockerfile"),
        format!(
            "FROM {}\n\
             COPY docker-cli /usr/local/bin/docker\n\
             COPY --from={carrier} /dockroute /usr/local/sbin/dockroute\n\
             RUN ln -s dockroute /usr/local/sbin/docker\n\
             ENV PATH=/usr/local/sbin:$PATH\n",
            image()
        ),
    )
    .unwrap();
    let tag = unique("dr-copied");
    let built = docker(&["build", "-q", "-t", &tag, ci.to_str().unwrap()]);
    let o = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "sh",
        "-c",
        "command -v docker; dockroute --version; docker --version",
    ]);
    let _ = docker(&["rmi", "-f", &tag, &carrier]);
    ok(&built);
    ok(&o);
    let real = real_version();
    assert_eq!(
        stdout(&o),
        format!(
            "/usr/local/sbin/docker\ndockroute {}\n{}",
            env!("CARGO_PKG_VERSION"),
            String::from_utf8_lossy(&real)
        ),
        "{}",
        stderr(&o)
    );
}

/// install.sh is POSIX sh: in a root that has only busybox (the shape of Alpine and
/// busybox CI images, with no bash and no install(1)), it installs, a second run changes
/// nothing, and `--uninstall` leaves none of its files behind.
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn install_sh_runs_under_busybox_sh_in_a_busybox_root() {
    let bin = testbed("DOCKROUTE_TEST_STATIC_BIN");
    let s = Sandbox::bare();
    let root = s.p("root");
    for d in ["bin", "dev", "proc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    std::fs::copy(repo().join("install.sh"), root.join("install.sh")).unwrap();
    std::fs::copy(&bin, root.join("dr")).unwrap();
    let chroot = |args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind /dev \"$0/dev\" && mount -t proc proc \"$0/proc\" && \
                 exec chroot \"$0\" /bin/busybox env -i PATH=/usr/local/sbin:/usr/local/bin:/bin \
                 HOME=/root /bin/sh \"$@\"",
            )
            .arg(&root)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null());
        run(c)
    };
    let setup = {
        let mut c = Command::new("chroot");
        c.arg(&root)
            .args(["/bin/busybox", "--install", "-s", "/bin"]);
        run(c)
    };
    ok(&setup);
    assert!(
        !root.join("bin/bash").exists(),
        "the root must have no bash"
    );
    let first = chroot(&["/install.sh", "--from", "/dr"]);
    ok(&first);
    let out = stdout(&first);
    assert!(
        out.contains("linked /usr/local/sbin/docker -> dockroute"),
        "{out}"
    );
    assert!(
        out.contains("ok: `docker` resolves to /usr/local/sbin/docker"),
        "{out}"
    );
    assert!(root.join("usr/local/share/man/man1/dockroute.1").is_file());
    let manifest =
        std::fs::read_to_string(root.join("usr/local/share/dockroute/manifest")).unwrap();
    assert!(manifest.contains("dir /usr/local/sbin\n"), "{manifest}");

    let second = chroot(&["/install.sh", "--from", "/dr"]);
    ok(&second);
    let out = stdout(&second);
    assert!(
        out.contains("/usr/local/sbin/dockroute is up to date"),
        "{out}"
    );
    assert!(
        !out.contains("wrote ") && !out.contains("linked "),
        "second run changed something: {out}"
    );

    let gone = chroot(&["/install.sh", "--uninstall"]);
    ok(&gone);
    assert!(
        !root.join("usr").exists(),
        "--uninstall left files: {}",
        stdout(&gone)
    );
}

/// The set-up commands of the README's Quick start for root, as written.
fn readme_root_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("## Quick start")
        .expect("a Quick start section");
    let block = readme[start..]
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in Quick start");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The README's two set-up commands work as written for root on a machine with no sudo
/// (a root CI image): the install command runs in a mount namespace whose
/// `/usr/local/sbin` and `/usr/local/share` are empty tmpfs, with root's Debian PATH and
/// no sudo on it, installs, makes `docker` mean dockroute and uninstalls; the test
/// command is the one `.ci/run` runs (the suite this test is part of).
#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn readme_set_up_commands_work_as_root_without_sudo() {
    // scripts/test.sh built the release binary the install command builds: cheap here.
    testbed("DOCKROUTE_TEST_STATIC_BIN");
    let commands = readme_root_commands();
    assert_eq!(
        commands,
        ["./install.sh", "scripts/test.sh"],
        "{commands:?}"
    );
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == commands[1]),
        ".ci/run does not run the README's test command `{}`:\n{ci}",
        commands[1]
    );

    let s = Sandbox::bare();
    let home = std::env::var_os("HOME").expect("HOME (install.sh finds cargo in ~/.cargo/bin)");
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "/bin/sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /usr/local/sbin && mount -t tmpfs tmpfs /usr/local/share || exit 99; \
             if command -v sudo; then echo 'sudo is on PATH'; exit 98; fi; \
             cd \"$0\" && $1; echo \"install=$?\"; docker --version; \
             ./install.sh --uninstall; echo \"uninstall=$?\"; ls -A /usr/local/sbin /usr/local/share",
        )
        .arg(repo())
        .arg(&commands[0])
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", s.p("cache"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .stdin(Stdio::null());
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        c.env("CARGO_TARGET_DIR", t);
    }
    let (out, _) = run_within(c, std::time::Duration::from_secs(600));
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(o.contains("install=0\n"), "{o}{e}");
    assert!(
        o.contains("ok: `docker` resolves to /usr/local/sbin/docker"),
        "{o}{e}"
    );
    assert!(o.contains("Docker version 28."), "{o}{e}");
    assert!(o.contains("uninstall=0\n"), "{o}{e}");
    assert!(
        o.ends_with("/usr/local/sbin:\n\n/usr/local/share:\n"),
        "--uninstall left files: {o}{e}"
    );
}

/// `scripts/test.sh` run without root says how to become root on this machine: `sudo`
/// where it is installed, `su -c` where it is not (a root-less image with no sudo).
#[test]
#[ignore = "needs root"]
fn test_sh_as_a_user_says_how_to_become_root() {
    let s = Sandbox::bare();
    // A copy anyone can read (the checkout may be in root's home), and a directory
    // with a `sudo` for `command -v` to find (it would fail if run).
    let dir = s.p("bin");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::copy(repo().join("scripts/test.sh"), dir.join("scripts/test.sh")).unwrap();
    script(&dir.join("sudo"), "exit 1");
    for d in [s.dir.path(), &dir, &dir.join("scripts")] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let as_nobody = |path: &str| {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/bash",
        ])
        .arg(dir.join("scripts/test.sh"))
        .env_clear()
        .env("PATH", path)
        .current_dir(&dir)
        .stdin(Stdio::null());
        run(c)
    };
    let without = as_nobody("/usr/bin:/bin");
    assert_eq!(without.status.code(), Some(1));
    assert!(
        stderr(&without)
            .contains("Run it as root (there is no sudo here): su -c 'scripts/test.sh' root"),
        "{}",
        stderr(&without)
    );
    let with = as_nobody(&format!("{}:/usr/bin:/bin", dir.display()));
    assert_eq!(with.status.code(), Some(1));
    assert!(
        stderr(&with).contains("Run: sudo scripts/test.sh"),
        "{}",
        stderr(&with)
    );
}
