//! `docker login`/`logout` in a BuildKit pod: dockroute as `docker`, every program of
//! /usr/bin but the docker clients, no docker client anywhere. dockroute answers them
//! itself: `config.json` edited (other keys kept, mode 0600), credential helpers
//! called, credentials checked with plain-HTTP registries, the password in no output.
//! With a client on PATH, login passes through to it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::*;

/// The password every test logs in with: long and unusual, so any leak is found.
const PASSWORD: &str = "Pa55-w0rd";
/// A bcrypt hash of [`PASSWORD`] for the registry's htpasswd file (made with Python's
/// `crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))`).
const PASSWORD_BCRYPT: &str = "$2b$12$7fOte4jehkMehwvFkezLj.2vClXqKvSBAkHdfN5YooDAhNkCc1efy";

/// A pod-like sandbox: PATH = a directory linking every file of /usr/bin except
/// `docker*`, then the shim (dockroute as `docker`). `DOCKER_CONFIG` is `cfg/`.
fn pod() -> Sandbox {
    let s = Sandbox::bare();
    let bin = s.p("pod-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for entry in std::fs::read_dir("/usr/bin").unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("docker") {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), bin.join(&name)).unwrap();
    }
    let shim = s.shim_dir();
    let cfg = s.p("cfg");
    s.with_path(&[bin, shim]).env("DOCKER_CONFIG", cfg)
}

/// Runs `docker ARGS` in `s` with `input` on stdin and `DOCKROUTE_LOG=trace`.
fn docker_with_stdin(s: &Sandbox, args: &[&str], input: &str) -> Output {
    let file = s.p(&format!("stdin-{}", unique("in")));
    std::fs::write(&file, input).unwrap();
    let mut c = s.docker();
    c.args(args)
        .env("DOCKROUTE_LOG", "trace")
        .stdin(std::fs::File::open(&file).unwrap());
    run_within(c, Duration::from_secs(30)).0
}

fn config(s: &Sandbox) -> serde_json::Value {
    let text = std::fs::read_to_string(s.p("cfg/config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[track_caller]
fn assert_no_password(o: &Output) {
    for (name, stream) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(PASSWORD),
            "the password is in {name}:\n{text}"
        );
    }
}

fn auth_of(user: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"))
}

#[test]
fn login_and_logout_edit_config_json_and_keep_its_other_keys() {
    let s = pod();
    let cfg = s.p("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        r#"{"auths":{"other.example":{"auth":"b3RoZXI6eA=="}},"currentContext":"default","proxies":{"default":{"noProxy":"*.local"}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(
        cfg.join("config.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let o = docker_with_stdin(
        &s,
        &[
            "login",
            "-u",
            "ci",
            "--password-stdin",
            "https://registry.example:5000/",
        ],
        &format!("{PASSWORD}\n"),
    );
    ok(&o);
    assert_no_password(&o);
    assert_eq!(stdout(&o), "Login Succeeded\n");
    assert!(
        stderr(&o)
            .contains("credentials stored, not verified (registry.example is reached over HTTPS"),
        "{}",
        stderr(&o)
    );
    let c = config(&s);
    assert_eq!(
        c["auths"]["registry.example:5000"],
        serde_json::json!({"auth": auth_of("ci")}),
        "stored under the host name, the trailing newline of stdin dropped"
    );
    assert_eq!(c["auths"]["other.example"]["auth"], "b3RoZXI6eA==");
    assert_eq!(c["currentContext"], "default");
    assert_eq!(c["proxies"]["default"]["noProxy"], "*.local");
    let mode = std::fs::metadata(cfg.join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let o = docker_with_stdin(&s, &["logout", "registry.example:5000"], "");
    ok(&o);
    assert_eq!(
        stdout(&o),
        "Removing login credentials for registry.example:5000\n"
    );
    let c = config(&s);
    assert!(c["auths"].get("registry.example:5000").is_none(), "{c}");
    assert_eq!(c["auths"]["other.example"]["auth"], "b3RoZXI6eA==");
    assert_eq!(c["currentContext"], "default");

    // Anything else still needs a client: 127, as before.
    let o = docker_with_stdin(&s, &["push", "registry.example:5000/x:1"], "");
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
}

#[test]
fn docker_hub_is_the_default_and_home_docker_is_created_private() {
    // No DOCKER_CONFIG: ~/.docker/config.json, the directory created 0700.
    let s = pod();
    let s = Sandbox {
        env: s
            .env
            .into_iter()
            .filter(|(k, _)| k != "DOCKER_CONFIG")
            .collect(),
        ..s
    };
    let o = docker_with_stdin(
        &s,
        &["login", "--username=hub", "--password-stdin"],
        PASSWORD,
    );
    ok(&o);
    assert_no_password(&o);
    let dir = s.p("home/.docker");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        c["auths"]["https://index.docker.io/v1/"]["auth"],
        auth_of("hub")
    );
    // `docker.io` names the same registry.
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "hub2", "--password-stdin", "docker.io"],
        PASSWORD,
    );
    ok(&o);
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        c["auths"]["https://index.docker.io/v1/"]["auth"],
        auth_of("hub2")
    );
    assert_eq!(c["auths"].as_object().unwrap().len(), 1, "{c}");
    let o = docker_with_stdin(&s, &["logout"], "");
    ok(&o);
    assert_eq!(
        stdout(&o),
        "Removing login credentials for https://index.docker.io/v1/\n"
    );
}

#[test]
fn password_on_the_command_line_gets_dockers_warning_and_stays_out_of_the_output() {
    let s = pod();
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "-p", PASSWORD, "registry.example"],
        "",
    );
    ok(&o);
    assert!(
        stderr(&o).lines().any(
            |l| l == "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
        ),
        "{}",
        stderr(&o)
    );
    assert_no_password(&o);
    assert!(
        stderr(&o).contains("TRACE") || stderr(&o).contains("DEBUG"),
        "the log ran: {}",
        stderr(&o)
    );
    assert_eq!(
        config(&s)["auths"]["registry.example"]["auth"],
        auth_of("ci")
    );

    // -p with --password-stdin, and --password-stdin without a user: docker's errors.
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "-p", PASSWORD, "--password-stdin"],
        PASSWORD,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mutually exclusive"), "{}", stderr(&o));
    assert_no_password(&o);
    let o = docker_with_stdin(&s, &["login", "--password-stdin"], PASSWORD);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Must provide --username"),
        "{}",
        stderr(&o)
    );
    // No password and no terminal: no prompt, docker's error.
    let o = docker_with_stdin(&s, &["login", "-u", "ci"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("non TTY"), "{}", stderr(&o));
}

/// A credential helper script that appends `ACTION` and its stdin to `record`.
fn recording_helper(dir: &Path, name: &str, record: &Path) -> PathBuf {
    script(
        &dir.join(format!("docker-credential-{name}")),
        &format!(
            "#!/bin/sh\n{{ echo \"{name} $1\"; cat; echo; }} >> {}\n",
            record.display()
        ),
    )
}

#[test]
fn a_configured_credential_helper_receives_the_credentials_and_the_erase() {
    let s = pod();
    let helpers = s.p("helpers");
    let record = s.p("helper.log");
    recording_helper(&helpers, "store-all", &record);
    recording_helper(&helpers, "per-registry", &record);
    let mut path = s.path.clone();
    path.push(helpers);
    let s = s.with_path(&path);
    let cfg = s.p("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        r#"{"credsStore":"store-all","credHelpers":{"special.example":"per-registry"},"auths":{}}"#,
    )
    .unwrap();

    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "--password-stdin", "registry.example"],
        PASSWORD,
    );
    ok(&o);
    assert_no_password(&o);
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "sp", "--password-stdin", "special.example"],
        PASSWORD,
    );
    ok(&o);
    let log = std::fs::read_to_string(&record).unwrap();
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("store-all store"), "{log}");
    let sent: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"ServerURL": "registry.example", "Username": "ci", "Secret": PASSWORD})
    );
    assert_eq!(lines.next(), Some("per-registry store"), "{log}");
    let sent: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(sent["ServerURL"], "special.example");
    assert_eq!(sent["Username"], "sp");
    // config.json names the registries, the secrets stay with the helpers.
    let c = config(&s);
    assert_eq!(c["auths"]["registry.example"], serde_json::json!({}));
    assert_eq!(c["auths"]["special.example"], serde_json::json!({}));
    assert!(!std::fs::read_to_string(cfg.join("config.json"))
        .unwrap()
        .contains(PASSWORD));

    std::fs::write(&record, "").unwrap();
    let o = docker_with_stdin(&s, &["logout", "special.example"], "");
    ok(&o);
    let log = std::fs::read_to_string(&record).unwrap();
    assert!(
        log.starts_with("per-registry erase\nspecial.example\n"),
        "{log}"
    );
    assert!(config(&s)["auths"].get("special.example").is_none());

    // A helper that is not installed: a clear error, nothing stored.
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"absent"}"#).unwrap();
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "--password-stdin", "r.example"],
        PASSWORD,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("docker-credential-absent not found"),
        "{}",
        stderr(&o)
    );
    assert!(config(&s).get("auths").is_none());
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn credentials_are_checked_with_a_plain_http_registry() {
    // The bed's registry asks for no credentials: verified, nothing said but docker's line.
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    let s = pod();
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "--password-stdin", &registry],
        PASSWORD,
    );
    ok(&o);
    assert_eq!(stdout(&o), "Login Succeeded\n");
    assert!(!stderr(&o).contains("not verified"), "{}", stderr(&o));
    assert_no_password(&o);

    // A registry with htpasswd (Basic) authentication: the right password is accepted,
    // a wrong one refused in docker's words with nothing stored.
    let private = PrivateRegistry::start(&s);
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "tester", "--password-stdin", &private.addr],
        PASSWORD,
    );
    ok(&o);
    assert!(!stderr(&o).contains("not verified"), "{}", stderr(&o));
    assert_no_password(&o);
    assert_eq!(
        config(&s)["auths"][&private.addr]["auth"],
        auth_of("tester")
    );
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "tester", "--password-stdin", &private.addr],
        "wrong-password",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            private.addr
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        config(&s)["auths"][&private.addr]["auth"],
        auth_of("tester"),
        "the refused login changed nothing"
    );
}

#[test]
#[ignore = "needs the test bed: scripts/test.sh"]
fn with_a_client_on_path_login_passes_through_to_it() {
    // No daemon, but the 28.x client: it logs in client-side, as docker does.
    let registry = testbed("DOCKROUTE_TEST_REGISTRY");
    let s = Sandbox::new().env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let cfg = s.p("cfg");
    let s = s.env("DOCKER_CONFIG", &cfg);
    let o = docker_with_stdin(
        &s,
        &["login", "-u", "ci", "--password-stdin", &registry],
        PASSWORD,
    );
    ok(&o);
    assert!(
        !stderr(&o).contains("decided route=\"builtin\""),
        "{}",
        stderr(&o)
    );
    // The real client's own words (its client-side login tries HTTPS first), not
    // dockroute's.
    assert!(
        stderr(&o).contains("server gave HTTP response to HTTPS client")
            && stderr(&o).contains("WARNING! Your credentials are stored unencrypted"),
        "the real client logged in: {}",
        stderr(&o)
    );
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["auths"][&registry]["auth"], auth_of("ci"));
}

/// A docker-registry with htpasswd authentication on a free loopback port, stopped on
/// drop.
struct PrivateRegistry {
    addr: String,
    child: std::process::Child,
}

impl PrivateRegistry {
    fn start(s: &Sandbox) -> PrivateRegistry {
        let dir = s.p("private-registry");
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        std::fs::write(dir.join("htpasswd"), format!("tester:{PASSWORD_BCRYPT}\n")).unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = format!("127.0.0.1:{port}");
            std::fs::write(
                dir.join("config.yml"),
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: dockroute-test\n    path: {}\n",
                    dir.join("storage").display(),
                    dir.join("htpasswd").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(dir.join("config.yml"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry (Debian's docker-registry package, installed by scripts/test.sh)");
            let mut reg = PrivateRegistry { addr, child };
            for _ in 0..100 {
                if std::net::TcpStream::connect(&reg.addr).is_ok() {
                    return reg;
                }
                if reg.child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = reg.child.kill();
        }
        panic!(
            "the private registry did not start: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
