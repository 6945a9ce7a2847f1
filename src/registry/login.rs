//! The `login` and `logout` commands, as the docker CLI behaves with no daemon (its
//! client-side login: docker/cli `cli/command/registry/login.go`, `logout.go`).
//!
//! `login [-u USER] [-p PASS | --password-stdin] [SERVER]`: docker's `--password`
//! warning, the password read from stdin with one trailing newline dropped, the
//! credentials checked where dockroute can ([`crate::registry::verify`]), then stored in
//! the configured credential helper or as `auths[KEY].auth` in `config.json`, and `Login
//! Succeeded` on stdout. `logout [SERVER]`: `Removing login credentials for HOST` on
//! stdout, then every key docker tries erased.
//!
//! The password is registered with the redaction point first and never logged.

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::docker::args::Invocation;
use crate::docker::config_file;
use crate::error::{Error, Result};
use crate::output;
use crate::registry::{helper, server, verify};

/// docker's own warning for `-p/--password` (printed to stderr as docker prints it).
pub(crate) const PASSWORD_WARNING: &str =
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.";

/// The arguments of `docker login`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoginArgs {
    /// `SERVER`, as typed.
    pub server: Option<String>,
    /// `-u/--username`.
    pub username: Option<String>,
    /// `-p/--password`.
    pub password: Option<String>,
    /// `--password-stdin`.
    pub password_stdin: bool,
    /// `-h/--help`.
    pub help: bool,
}

fn usage(why: impl Into<String>, command: &str) -> Error {
    Error::Login {
        why: why.into(),
        fix: format!("usage: docker {}", usage_line(command)),
    }
}

fn usage_line(command: &str) -> &'static str {
    if command == "login" {
        "login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]"
    } else {
        "logout [SERVER]"
    }
}

/// Parses the arguments after `login` (or `logout`, which takes only `SERVER`):
/// `-u V`, `-uV`, `--username V`, `--username=V`, the same for `-p/--password`,
/// `--password-stdin`, `--`, at most one `SERVER`.
///
/// # Errors
/// An unknown flag, a missing value, a second server, or an argument that is not UTF-8.
pub(crate) fn parse(command: &str, args: &[OsString]) -> Result<LoginArgs> {
    let login = command == "login";
    let mut out = LoginArgs::default();
    let mut positional = Vec::new();
    let mut it = args.iter();
    let mut only_positional = false;
    while let Some(arg) = it.next() {
        let arg = arg
            .to_str()
            .ok_or_else(|| usage("an argument is not valid UTF-8", command))?;
        if only_positional || !arg.starts_with('-') || arg == "-" {
            positional.push(arg.to_string());
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        let (name, inline) = match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            },
            None => {
                let short = &arg[1..2];
                let rest = &arg[2..];
                let long = match short {
                    "u" => "username",
                    "p" => "password",
                    "h" => "help",
                    _ => {
                        return Err(usage(
                            format!("unknown shorthand flag: '{short}' in {arg}"),
                            command,
                        ))
                    }
                };
                let rest = rest.strip_prefix('=').unwrap_or(rest);
                (
                    long.to_string(),
                    (!rest.is_empty()).then(|| rest.to_string()),
                )
            }
        };
        let mut value = |inline: Option<String>| -> Result<String> {
            match inline {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .and_then(|v| v.to_str())
                    .map(str::to_string)
                    .ok_or_else(|| usage(format!("flag needs an argument: --{name}"), command)),
            }
        };
        match name.as_str() {
            "help" => out.help = true,
            "username" if login => out.username = Some(value(inline)?),
            "password" if login => out.password = Some(value(inline)?),
            "password-stdin" if login => {
                out.password_stdin = inline.as_deref().map_or(true, |v| {
                    crate::docker::args::parse_bool(v.as_bytes()) != Some(false)
                });
            }
            _ => return Err(usage(format!("unknown flag: --{name}"), command)),
        }
    }
    if positional.len() > 1 {
        return Err(usage(
            format!("\"docker {command}\" requires at most 1 argument"),
            command,
        ));
    }
    out.server = positional.pop();
    Ok(out)
}

/// Runs `docker login`/`logout` (the command word at `inv.command_at`); the exit code.
///
/// # Errors
/// Bad flags, refused credentials, an unusable `config.json` or credential helper.
pub(crate) fn run(inv: &Invocation) -> Result<u8> {
    let command = inv
        .args
        .get(inv.command_at)
        .map(|w| w.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args = parse(
        &command,
        inv.args.get(inv.command_at + 1..).unwrap_or_default(),
    )?;
    if args.help {
        output::stdout_line(&format!("Usage:  docker {}", usage_line(&command)));
        return Ok(0);
    }
    let dir = crate::docker::config::config_dir(inv.globals.value("config")).ok_or_else(|| {
        Error::Login {
            why: "no docker configuration directory: neither DOCKER_CONFIG nor HOME is set".into(),
            fix: "set DOCKER_CONFIG to the directory that holds (or will hold) config.json".into(),
        }
    })?;
    if command == "login" {
        login(&args, &dir)
    } else {
        logout(args.server.as_deref(), &dir)
    }
}

fn failed(why: impl Into<String>) -> Error {
    Error::Login {
        why: why.into(),
        fix: "nothing was stored: check the registry address, the user name and the password"
            .into(),
    }
}

fn config_error(why: String, dir: &Path) -> Error {
    Error::Login {
        why,
        fix: format!(
            "fix or move {} (dockroute never overwrites a file it cannot read)",
            dir.join(config_file::FILE_NAME).display()
        ),
    }
}

fn login(args: &LoginArgs, dir: &Path) -> Result<u8> {
    let mut password = args.password.clone();
    if password.as_deref().is_some_and(|p| !p.is_empty()) {
        output::stderr_line(PASSWORD_WARNING);
        if args.password_stdin {
            return Err(usage(
                "--password and --password-stdin are mutually exclusive",
                "login",
            ));
        }
    }
    if args.password_stdin {
        if args.username.as_deref().map_or(true, str::is_empty) {
            return Err(usage(
                "Must provide --username with --password-stdin",
                "login",
            ));
        }
        let mut read = Vec::new();
        std::io::stdin()
            .read_to_end(&mut read)
            .map_err(|e| failed(format!("cannot read the password from stdin: {e}")))?;
        let mut p = String::from_utf8(read)
            .map_err(|_| failed("the password on stdin is not valid UTF-8"))?;
        if p.ends_with('\n') {
            p.pop();
        }
        if p.ends_with('\r') {
            p.pop();
        }
        password = Some(p);
    }
    let (Some(username), Some(password)) = (
        args.username.clone().filter(|u| !u.is_empty()),
        password.filter(|p| !p.is_empty()),
    ) else {
        let tty = std::io::stdin().is_terminal();
        return Err(Error::Login {
            why: if tty {
                "dockroute does not prompt for credentials (there is no docker client here to do it)".into()
            } else {
                "Cannot perform an interactive login from a non TTY device".into()
            },
            fix: "pass them: `docker login -u USER --password-stdin [SERVER]` with the password on stdin".into(),
        });
    };
    output::redact::register([password.clone()]);
    let key = server::login_key(args.server.as_deref());
    tracing::debug!(key = %key, username = %username, "login answered by dockroute (no docker client)");
    let unverified = match server::check(args.server.as_deref()) {
        server::Check::PlainHttp { host, port } => {
            match verify::check(&host, port, &username, &password).map_err(failed)? {
                verify::Outcome::Verified => None,
                verify::Outcome::Unverified(why) => Some(why),
            }
        }
        server::Check::HttpsOnly { host } => Some(format!(
            "{host} is reached over HTTPS, which dockroute does not speak; the registry checks them at the first push or pull"
        )),
    };
    let mut config = config_file::load(dir).map_err(|e| config_error(e, dir))?;
    match config_file::helper_for(&config, &key) {
        Some(name) => {
            let program = helper::find(std::env::var_os("PATH").as_deref(), &name).map_err(|e| {
                Error::Login {
                    why: format!("error storing credentials: {e}"),
                    fix: format!(
                        "install {} into a directory on PATH, or remove the helper from config.json",
                        helper::program_name(&name)
                    ),
                }
            })?;
            helper::store(&program, &key, &username, &password)
                .map_err(|e| failed(format!("error storing credentials: {e}")))?;
            config_file::set_auth(&mut config, &key, None);
        }
        None => {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            config_file::set_auth(&mut config, &key, Some(&auth));
        }
    }
    config_file::save(dir, &config)
        .map_err(|e| failed(format!("error saving credentials: {e}")))?;
    if let Some(why) = unverified {
        output::notice(&format!("credentials stored, not verified ({why})"));
    }
    output::stdout_line("Login Succeeded");
    Ok(0)
}

fn logout(server_arg: Option<&str>, dir: &Path) -> Result<u8> {
    let (host, keys) = server::logout_keys(server_arg);
    output::stdout_line(&format!("Removing login credentials for {host}"));
    let Ok(mut config) = config_file::load(dir) else {
        output::stderr_line(&format!(
            "WARNING: could not erase credentials: {} cannot be read",
            dir.join(config_file::FILE_NAME).display()
        ));
        return Ok(0);
    };
    let path_var = std::env::var_os("PATH");
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut changed = false;
    for key in &keys {
        if let Some(name) = config_file::helper_for(&config, key) {
            let erased = helper::find(path_var.as_deref(), &name)
                .and_then(|program: PathBuf| helper::erase(&program, key));
            if let Err(e) = erased {
                errors.push((key.clone(), e));
                continue;
            }
        }
        changed |= config_file::remove_auth(&mut config, key);
    }
    if changed {
        if let Err(e) = config_file::save(dir, &config) {
            errors = keys.iter().map(|k| (k.clone(), e.clone())).collect();
        }
    }
    if errors.len() == keys.len() {
        output::stderr_line("WARNING: could not erase credentials:");
        for (key, e) in errors {
            output::stderr_line(&format!("{key}: {e}"));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn login_flags_in_every_spelling() {
        let want = LoginArgs {
            server: Some("r.example".into()),
            username: Some("me".into()),
            password: Some("pw".into()),
            password_stdin: false,
            help: false,
        };
        for form in [
            &["-u", "me", "-p", "pw", "r.example"][..],
            &["-ume", "-ppw", "r.example"],
            &["--username=me", "--password", "pw", "r.example"],
            &["r.example", "--username", "me", "--password=pw"],
            &["-u=me", "-p=pw", "--", "r.example"],
        ] {
            assert_eq!(parse("login", &args(form)).unwrap(), want, "{form:?}");
        }
        let s = parse("login", &args(&["-u", "me", "--password-stdin"])).unwrap();
        assert!(s.password_stdin && s.server.is_none());
        assert!(
            !parse("login", &args(&["--password-stdin=false"]))
                .unwrap()
                .password_stdin
        );
        assert!(parse("login", &args(&["-h"])).unwrap().help);
    }

    #[test]
    fn bad_login_and_logout_arguments_are_errors_that_show_the_usage() {
        for (cmd, bad) in [
            ("login", &["--email", "x"][..]),
            ("login", &["-x"]),
            ("login", &["-u"]),
            ("login", &["a", "b"]),
            ("logout", &["-u", "me"]),
            ("logout", &["a", "b"]),
        ] {
            let e = parse(cmd, &args(bad)).unwrap_err();
            assert_eq!(e.exit_code(), 1, "{bad:?}");
            assert!(
                e.hint().unwrap().contains(&format!("docker {cmd}")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse("logout", &args(&["r.example"]))
                .unwrap()
                .server
                .as_deref(),
            Some("r.example")
        );
    }
}
