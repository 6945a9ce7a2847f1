//! A docker pipeline (build, tag, push, save) in a BuildKit pod with no daemon and no
//! docker client: dockroute records each `docker build -t` kept in BuildKit's store and
//! answers `tag`, `push`, `save`, `images`, `rmi`, `image inspect` from the records,
//! `push` and `save` by running the recorded build again on the real BuildKit (the test
//! bed's buildkitd, or `buildctl-daemonless.sh` with a kept `--root`), pushing to the
//! bed's real registry and loading into the bed's real plain dockerd.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::support::*;

/// A pod's PATH: every program of /usr/bin and /usr/sbin but `docker*` (runc, mount,
/// unshare stay), BuildKit's programs, and the shim as `docker`. No docker client.
fn pod() -> Sandbox {
    let s = Sandbox::bare();
    let bin = s.p("pod-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for dir in ["/usr/bin", "/usr/sbin"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("docker") || bin.join(&name).exists() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), bin.join(&name)).unwrap();
        }
    }
    let shim = s.shim_dir();
    let cfg = s.p("cfg");
    s.with_path(&[shim, buildkit_bin(), bin])
        .env("DOCKER_CONFIG", cfg)
}

/// The pod with the bed's host buildkitd at `BUILDKIT_HOST`.
fn pod_with_host() -> Sandbox {
    pod().env("BUILDKIT_HOST", buildkit_addr("unix"))
}

/// A context whose image is `FROM scratch` plus one file holding `content`.
fn small_context(s: &Sandbox, name: &str, content: &str) -> PathBuf {
    let dir = context(&s.p(name), "FROM scratch\nCOPY f /f\n");
    std::fs::write(dir.join("f"), content).unwrap();
    dir
}

/// `docker ARGS` in `dir` through the shim.
fn docker_in(s: &Sandbox, dir: &Path, args: &[&str]) -> Output {
    let mut c = s.docker();
    c.args(args).current_dir(dir);
    run_within(c, Duration::from_secs(180)).0
}

/// The same inside a private /run (for buildctl-daemonless.sh, with a kept --root).
fn docker_in_private_run(s: &Sandbox, dir: &Path, args: &[&str]) -> Output {
    let mut c = s.docker();
    c.args(args).current_dir(dir);
    run_within(in_private_run(s, &c), Duration::from_secs(180)).0
}

/// The manifest digest the bed's registry serves for `repo:tag` (HEAD, plain HTTP).
fn manifest_digest(repo: &str, tag: &str) -> String {
    use std::io::{Read, Write};
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    let mut conn = std::net::TcpStream::connect(&registry).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(
        format!(
            "HEAD /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {registry}\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(" 200 "), "registry answered: {answer}");
    answer
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no digest in: {answer}"))
}

/// The store file of a sandbox (HOME's state directory).
fn store_file(s: &Sandbox) -> PathBuf {
    s.p("home/.local/state/dockroute/images.json")
}

fn reg() -> String {
    testbed("DOCKROUTE_TEST_REGISTRY")
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_pod_pipeline_build_tag_push_lands_both_names_with_one_digest() {
    let s = pod_with_host();
    let ctx = small_context(&s, "app", &unique("content"));
    let repo = unique("records-app");
    let one = format!("{}/{repo}:1", reg());
    let latest = format!("{}/{repo}:latest", reg());

    let o = docker_in(&s, &ctx, &["build", "-t", &one, "."]);
    ok(&o);
    // A first build runs its COPY (the replays below find it CACHED).
    assert!(!stderr(&o).contains("CACHED"), "{}", stderr(&o));
    // Nothing pushed by the build itself.
    assert!(registry_tags(&repo).is_empty());
    // The record: private, naming the build and where it ran.
    let file = store_file(&s);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let store: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let rec = &store["records"][0];
    assert_eq!(rec["name"], one.as_str(), "{store}");
    assert_eq!(rec["ran_on"]["address"], buildkit_addr("unix").as_str());
    assert_eq!(rec["build"]["cwd"], ctx.display().to_string().as_str());
    let recorded = rec["digest"].as_str().unwrap().to_string();
    assert!(recorded.starts_with("sha256:"), "{store}");

    let o = docker_in(&s, &ctx, &["tag", &one, &latest]);
    ok(&o);
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));

    // `images` lists both names with one ID; `image inspect` answers Id and RepoTags.
    let o = docker_in(&s, &ctx, &["images"]);
    ok(&o);
    let list = stdout(&o);
    assert!(list.starts_with("REPOSITORY"), "{list}");
    assert_eq!(
        list.lines().filter(|l| l.contains(&repo)).count(),
        2,
        "{list}"
    );
    let o = docker_in(&s, &ctx, &["image", "inspect", &latest]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["Id"], rec["id"], "{v}");
    let tags = v[0]["RepoTags"].to_string();
    assert!(tags.contains(&one) && tags.contains(&latest), "{v}");

    // Elsewhere (another working directory): the push runs the recorded build where it
    // was built.
    for name in [&one, &latest] {
        let o = docker_in(&s, &s.p(""), &["push", name]);
        ok(&o);
        let err = stderr(&o);
        assert!(err.contains("routed (records)"), "{err}");
        // BuildKit's cache makes it a push: the COPY step is not run again.
        assert!(err.contains("CACHED"), "{err}");
        assert!(!err.contains("digest"), "no digest change said: {err}");
    }
    let mut tags = registry_tags(&repo);
    tags.sort();
    assert_eq!(tags, ["1", "latest"]);
    assert_eq!(manifest_digest(&repo, "1"), recorded);
    assert_eq!(manifest_digest(&repo, "latest"), recorded);

    // A name with no record: the error names it and says how to get it.
    let missing = format!("{}/{repo}:2", reg());
    let o = docker_in(&s, &ctx, &["push", &missing]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("no image `{missing}`")), "{err}");
    assert!(err.contains("docker build -t"), "{err}");
    assert!(!registry_tags(&repo).contains(&"2".to_string()));

    // rmi forgets a name; pushing it is then an error.
    let o = docker_in(&s, &ctx, &["rmi", &latest]);
    ok(&o);
    assert_eq!(stdout(&o), format!("Untagged: {latest}\n"));
    let o = docker_in(&s, &ctx, &["push", &latest]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // What needs a container runtime: one clear line, 125.
    let o = docker_in(&s, &ctx, &["run", "--rm", &one]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`docker run` needs a container runtime, and there is no Docker daemon here"),
        "{err}"
    );
    assert!(err.contains("docker push"), "{err}");
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_changed_context_is_said_naming_both_digests() {
    let s = pod_with_host();
    let ctx = small_context(&s, "app", &unique("before"));
    let name = format!("{}/{}:1", reg(), unique("records-changed"));
    ok(&docker_in(&s, &ctx, &["build", "-t", &name, "."]));
    let store: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store_file(&s)).unwrap()).unwrap();
    let recorded = store["records"][0]["digest"].as_str().unwrap().to_string();
    std::fs::write(ctx.join("f"), unique("after")).unwrap();
    let o = docker_in(&s, &ctx, &["push", &name]);
    ok(&o);
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("built again with digest"))
        .unwrap_or_else(|| panic!("no digest notice: {err}"));
    let (repo, tag) = name
        .split_once('/')
        .map(|(_, rest)| rest.rsplit_once(':').unwrap())
        .unwrap();
    let pushed = manifest_digest(repo, tag);
    assert_ne!(pushed, recorded);
    assert!(line.contains(&pushed) && line.contains(&recorded), "{line}");
    // The record now holds the pushed digest: a second push says nothing.
    let o = docker_in(&s, &ctx, &["push", &name]);
    ok(&o);
    assert!(
        !stderr(&o).contains("built again with digest"),
        "{}",
        stderr(&o)
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn with_buildctl_daemonless_each_call_is_warm_from_the_kept_root_and_leaves_nothing() {
    // No BUILDKIT_HOST: each call starts a private buildkitd whose --root is kept.
    let s = pod();
    let ctx = small_context(&s, "app", &unique("content"));
    let repo = unique("records-daemonless");
    let one = format!("{}/{repo}:1", reg());
    let latest = format!("{}/{repo}:latest", reg());
    let o = docker_in_private_run(&s, &ctx, &["build", "-t", &one, "."]);
    ok(&o);
    assert!(
        stderr(&o).contains("buildctl-daemonless.sh"),
        "{}",
        stderr(&o)
    );
    let store: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store_file(&s)).unwrap()).unwrap();
    assert_eq!(
        store["records"][0]["ran_on"]["kind"], "daemonless",
        "{store}"
    );
    let recorded = store["records"][0]["digest"].as_str().unwrap().to_string();
    ok(&docker_in(&s, &ctx, &["tag", &one, &latest]));
    let o = docker_in_private_run(
        &s,
        &s.p(""),
        &["image", "push", "--all-tags", &format!("{}/{repo}", reg())],
    );
    ok(&o);
    let err = stderr(&o);
    assert!(err.contains("CACHED"), "the replay was not warm: {err}");
    let mut tags = registry_tags(&repo);
    tags.sort();
    assert_eq!(tags, ["1", "latest"]);
    assert_eq!(manifest_digest(&repo, "1"), recorded);
    assert_eq!(manifest_digest(&repo, "latest"), recorded);
    let left = pgrep(&format!("buildkitd.*{}", s.dir.path().display()));
    assert_eq!(left, "", "buildkitd left running");
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn save_then_docker_load_gives_the_image_with_its_tags() {
    let s = pod_with_host();
    let ctx = small_context(&s, "app", &unique("content"));
    let repo = unique("records-save");
    let one = format!("{}/{repo}:1", reg());
    let two = format!("{}/{repo}:2", reg());
    ok(&docker_in(&s, &ctx, &["build", "-t", &one, "."]));
    ok(&docker_in(&s, &ctx, &["image", "tag", &one, &two]));
    let tar = s.p("image.tar");
    let o = docker_in(&s, &ctx, &["save", "-o", tar.to_str().unwrap(), &one, &two]);
    ok(&o);
    assert!(stdout(&o).is_empty());
    let plain = daemon("plain");
    let o = std::process::Command::new(DOCKER28)
        .args(["-H", &plain, "load", "-i"])
        .arg(&tar)
        .output()
        .unwrap();
    ok(&o);
    assert!(image_exists(&plain, &one) && image_exists(&plain, &two));
    let id = |name: &str| {
        let o = std::process::Command::new(DOCKER28)
            .args(["-H", &plain, "image", "inspect", "-f", "{{.Id}}", name])
            .output()
            .unwrap();
        stdout(&o).trim().to_string()
    };
    let o = docker_in(&s, &ctx, &["image", "inspect", "-f", "{{.Id}}", &one]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), id(&one));
    assert_eq!(id(&one), id(&two));
    for n in [&one, &two] {
        let _ = std::process::Command::new(DOCKER28)
            .args(["-H", &plain, "rmi", n])
            .output();
    }
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn a_client_without_a_daemon_uses_the_records_and_with_a_daemon_passes_through() {
    // The 28.x client on PATH, its daemon absent: build on BUILDKIT_HOST, push from the
    // records (the client alone would say "Cannot connect to the Docker daemon").
    let s = with_buildkit_path(Sandbox::bare(), true)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("BUILDKIT_HOST", buildkit_addr("unix"));
    let ctx = small_context(&s, "app", &unique("content"));
    let repo = unique("records-client");
    let one = format!("{}/{repo}:1", reg());
    ok(&docker_in(&s, &ctx, &["build", "-t", &one, "."]));
    let o = docker_in(&s, &ctx, &["push", &one]);
    ok(&o);
    assert!(stderr(&o).contains("routed (records)"), "{}", stderr(&o));
    assert_eq!(registry_tags(&repo), ["1"]);
    // A name the store does not hold goes straight to the client, whose own error it is.
    let o = docker_in(&s, &ctx, &["push", &format!("{}/{repo}:9", reg())]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("dockroute"), "{}", stderr(&o));
    // With a daemon that answers, even a recorded name passes through to it: the
    // daemon has no such image, and says so itself.
    let plain = daemon("plain");
    let mut c = s.docker();
    c.args(["-H", &plain, "push", &one]).current_dir(&ctx);
    let o = run(c);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(!err.contains("dockroute"), "{err}");
    assert!(
        err.contains("does not exist") || err.contains("No such image"),
        "{err}"
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn two_builds_at_once_lose_neither_record_and_a_corrupt_store_reads_as_empty() {
    let s = pod_with_host();
    let a = small_context(&s, "a", &unique("a"));
    let b = small_context(&s, "b", &unique("b"));
    let repo = unique("records-parallel");
    let na = format!("{}/{repo}:a", reg());
    let nb = format!("{}/{repo}:b", reg());
    let start = |dir: &Path, name: &str| {
        let mut c = s.docker();
        c.args(["build", "-t", name, "."]).current_dir(dir);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c.spawn().unwrap()
    };
    let (mut ca, mut cb) = (start(&a, &na), start(&b, &nb));
    assert!(ca.wait().unwrap().success() && cb.wait().unwrap().success());
    let o = docker_in(&s, &a, &["images", "-q"]);
    ok(&o);
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));

    std::fs::write(store_file(&s), b"{\"version\":1,\"records\":[{").unwrap();
    let o = docker_in(&s, &a, &["images"]);
    ok(&o);
    assert!(stderr(&o).contains("taken as empty"), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    // The next build replaces it.
    ok(&docker_in(&s, &a, &["build", "-t", &na, "."]));
    let o = docker_in(&s, &a, &["images", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}
