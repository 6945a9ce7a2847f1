//! A `docker compose …` or `docker buildx bake …` call, read just enough to resolve its
//! project with the tool's own printer and to run compose afterwards without a build:
//! where the subcommand is, which services it names, its `--build`/`--no-build`.
//!
//! Like [`crate::docker::args`], nothing is rewritten in place: arguments are
//! `OsString`s kept byte for byte, and the printer's and the follow-up call's argument
//! lists are made of the user's own arguments plus `--print`, `--no-build` or
//! `--with-dependencies`, minus `--build`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::docker::args::{CommandKind, Invocation};

/// What builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Sub {
    /// `docker compose build`.
    Build,
    /// `docker compose up`.
    Up,
    /// `docker compose create`.
    Create,
    /// `docker compose run`.
    Run,
    /// `docker buildx bake`.
    Bake,
}

impl Sub {
    /// The words as typed after `docker`.
    #[must_use]
    pub(crate) fn words(self) -> &'static str {
        match self {
            Sub::Build => "compose build",
            Sub::Up => "compose up",
            Sub::Create => "compose create",
            Sub::Run => "compose run",
            Sub::Bake => "buildx bake",
        }
    }
}

/// `docker compose`'s own flags before the subcommand that take a value
/// (docker/compose `cmd/compose/compose.go`).
const COMPOSE_VALUE_FLAGS: &[&str] = &[
    "ansi",
    "env-file",
    "file",
    "parallel",
    "profile",
    "progress",
    "project-directory",
    "project-name",
];
const COMPOSE_VALUE_SHORT: &[u8] = b"fp";

/// The flags with a value of `up`, `create` and `run` (compose 2.40 `cmd/compose/up.go`,
/// `create.go`, `run.go`): only their arity matters, to find the services.
const SUB_VALUE_FLAGS: &[&str] = &[
    "attach",
    "cap-add",
    "cap-drop",
    "entrypoint",
    "env",
    "env-from-file",
    "exit-code-from",
    "label",
    "name",
    "no-attach",
    "publish",
    "pull",
    "scale",
    "timeout",
    "user",
    "volume",
    "wait-timeout",
    "workdir",
];
const SUB_VALUE_SHORT: &[u8] = b"elpuvw";
/// `up`'s and `create`'s `-t/--timeout` (`run`'s `-t` is `--tty`, a boolean).
const UP_VALUE_SHORT: &[u8] = b"t";

/// The call, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectCall {
    /// Which subcommand.
    pub sub: Sub,
    /// Index in [`Invocation::args`] of the subcommand word (`build`, `up`, …; `bake`).
    pub sub_at: usize,
    /// The services named (`up`/`create`: every positional; `run`: the first one).
    pub services: Vec<OsString>,
    /// Indices of `--build` (and `--build=true`) among the arguments.
    pub build_flags: Vec<usize>,
    /// `--no-build` was given.
    pub no_build: bool,
    /// `--pull` was given.
    pub pull: bool,
    /// `compose build -q/--quiet`: each build quiet too.
    pub quiet: bool,
    /// compose's own `--parallel N` (before the subcommand): at most N builds at once;
    /// `None` when not given. compose reads `-1` (its default) as unlimited.
    pub parallel: Option<i64>,
}

fn is_value_flag(arg: &[u8], long: &[&str], short: &[u8]) -> bool {
    if let Some(name) = arg.strip_prefix(b"--") {
        return !name.contains(&b'=') && long.iter().any(|l| l.as_bytes() == name);
    }
    // `-f x` takes the next word; `-fx` has its value attached.
    arg.len() == 2 && arg[0] == b'-' && short.contains(&arg[1])
}

/// `docker buildx bake` flags that make it print instead of build: the resolved
/// definition (`--print`) or the targets and variables (`--list TYPE`, buildx 0.18's
/// `--list-targets`/`--list-variables`). None of them boots a builder.
const BAKE_SHOWING: &[&str] = &["--print", "--list", "--list-targets", "--list-variables"];

/// Whether `arg` is one of `names`, alone or as `NAME=VALUE` (but not `NAME=false`).
fn is_one_of(arg: &[u8], names: &[&str]) -> bool {
    names.iter().any(|n| {
        let n = n.as_bytes();
        arg == n
            || arg
                .strip_prefix(n)
                .and_then(|rest| rest.strip_prefix(b"="))
                .is_some_and(|v| v != b"false")
    })
}

/// Whether a compose or bake call only shows what it would do and builds nothing:
/// `docker buildx bake --print`/`--list`, `docker compose build --print`, and compose's
/// `--dry-run` (before or after the subcommand). They reach no builder and no daemon
/// (checked on the strict test daemon: not one request), so they pass through, and the
/// user gets the tool's own output.
#[must_use]
pub(crate) fn only_shows(inv: &Invocation) -> bool {
    let args = &inv.args;
    let until_dashes = |from: usize| {
        args.get(from..)
            .unwrap_or_default()
            .iter()
            .map(|a| a.as_bytes())
            .take_while(|a| *a != b"--")
    };
    match inv.kind {
        CommandKind::BuilderBoot(crate::docker::args::BootForm::Bake) => {
            until_dashes(inv.rest_at).any(|a| is_one_of(a, BAKE_SHOWING))
        }
        CommandKind::Compose => {
            let sub = inv.compose_subcommand().map(OsStr::as_bytes);
            let mut words = until_dashes(inv.rest_at).skip_while(|a| Some(*a) != sub);
            let before = until_dashes(inv.rest_at).take_while(|a| Some(*a) != sub);
            let after: Vec<&[u8]> = match words.next() {
                // `run SERVICE COMMAND…`: the command's own words are not compose's (a
                // flag's value also ends the scan: only ever toward building).
                Some(b"run") => words.take_while(|a| a.starts_with(b"-")).collect(),
                _ => words.collect(),
            };
            before.chain(after).any(|a| {
                is_one_of(a, &["--dry-run"])
                    || (sub == Some(b"build") && is_one_of(a, &["--print"]))
            })
        }
        _ => false,
    }
}

/// compose's `--parallel` value (an integer; anything else is compose's error to give).
#[must_use]
pub(crate) fn parse_parallel(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// Reads a compose or bake call; `None` for calls that build nothing (`up`/`create`
/// with `--no-build` included: compose builds nothing then, and neither does dockroute;
/// and the calls that [`only_shows`]).
#[must_use]
pub(crate) fn read(inv: &Invocation) -> Option<ProjectCall> {
    if only_shows(inv) {
        return None;
    }
    let args = &inv.args;
    let mut parallel = None;
    let at = match inv.kind {
        CommandKind::BuilderBoot(crate::docker::args::BootForm::Bake) => {
            return Some(ProjectCall {
                sub: Sub::Bake,
                sub_at: inv.rest_at.checked_sub(1)?,
                services: Vec::new(),
                build_flags: Vec::new(),
                no_build: false,
                pull: false,
                quiet: false,
                parallel: None,
            })
        }
        CommandKind::Compose => {
            let mut i = inv.rest_at;
            while let Some(a) = args.get(i).map(|a| a.as_bytes()) {
                if !a.starts_with(b"-") || a == b"-" {
                    break;
                }
                if a == b"--parallel" {
                    parallel = args.get(i + 1).and_then(|v| parse_parallel(v.as_bytes()));
                } else if let Some(v) = a.strip_prefix(b"--parallel=") {
                    parallel = parse_parallel(v);
                }
                i += if is_value_flag(a, COMPOSE_VALUE_FLAGS, COMPOSE_VALUE_SHORT) {
                    2
                } else {
                    1
                };
            }
            i
        }
        _ => return None,
    };
    let sub = match args.get(at)?.as_bytes() {
        b"build" => Sub::Build,
        b"up" => Sub::Up,
        b"create" => Sub::Create,
        b"run" => Sub::Run,
        _ => return None,
    };
    let mut call = ProjectCall {
        sub,
        sub_at: at,
        services: Vec::new(),
        build_flags: Vec::new(),
        no_build: false,
        pull: false,
        quiet: false,
        parallel,
    };
    let mut i = at + 1;
    while let Some(a) = args.get(i).map(|a| a.as_bytes()) {
        if a == b"--" {
            call.services.extend(args.get(i + 1).cloned());
            break;
        }
        if a.starts_with(b"-") && a != b"-" {
            match a {
                b"--build" | b"--build=true" => call.build_flags.push(i),
                b"--no-build" | b"--no-build=true" => call.no_build = true,
                _ if a == b"--pull" || a.starts_with(b"--pull=") => call.pull = true,
                b"-q" | b"--quiet" if sub == Sub::Build => call.quiet = true,
                _ => {}
            }
            let short = if sub == Sub::Run {
                SUB_VALUE_SHORT
            } else {
                UP_VALUE_SHORT
            };
            i += if is_value_flag(a, SUB_VALUE_FLAGS, short) {
                2
            } else {
                1
            };
            continue;
        }
        call.services.push(args[i].clone());
        // `run SERVICE COMMAND…`: the rest is the command.
        if sub == Sub::Run {
            break;
        }
        i += 1;
    }
    (!call.no_build).then_some(call)
}

impl ProjectCall {
    /// The printer's arguments after the client's path: `[globals…] compose [compose
    /// flags…] build --print …` or `[globals…] buildx bake --print …`. For `compose build`
    /// and `bake` it is the call itself with `--print` after the subcommand (every flag and
    /// service reaches the printer); for `up`/`create`/`run` it is `build --print` of the
    /// services named, with their dependencies.
    #[must_use]
    pub(crate) fn printer_args(&self, inv: &Invocation) -> Vec<OsString> {
        let mut argv: Vec<OsString> = inv.args[..self.sub_at].to_vec();
        match self.sub {
            Sub::Build | Sub::Bake => {
                argv.push(inv.args[self.sub_at].clone());
                argv.push("--print".into());
                argv.extend(inv.args[self.sub_at + 1..].iter().cloned());
            }
            Sub::Up | Sub::Create | Sub::Run => {
                argv.push("build".into());
                argv.push("--print".into());
                if !self.services.is_empty() {
                    argv.push("--with-dependencies".into());
                    argv.push("--".into());
                    argv.extend(self.services.iter().cloned());
                }
            }
        }
        argv
    }

    /// The compose call to run once the images are built, so that compose builds nothing
    /// itself: `up`/`create` with `--no-build` (and without `--build`), `run` without
    /// `--build` (it has no `--no-build` in compose 2.40), and with `--pull never` when
    /// `no_pull` (a `pull_policy: build` service, which `run` would build again) unless the
    /// call chose its own `--pull`. `None` for `build` and `bake`.
    #[must_use]
    pub(crate) fn after_build(&self, inv: &Invocation, no_pull: bool) -> Option<Vec<OsString>> {
        if matches!(self.sub, Sub::Build | Sub::Bake) {
            return None;
        }
        let mut argv = Vec::with_capacity(inv.args.len() + 1);
        for (i, a) in inv.args.iter().enumerate() {
            if self.build_flags.contains(&i) {
                continue;
            }
            argv.push(a.clone());
            if i == self.sub_at && self.sub != Sub::Run && !self.no_build {
                argv.push(OsStr::new("--no-build").to_owned());
            }
            if i == self.sub_at && self.sub == Sub::Run && no_pull && !self.pull {
                argv.extend(["--pull", "never"].map(OsString::from));
            }
        }
        Some(argv)
    }

    /// `--build` was given: every service with a build section is built.
    #[must_use]
    pub(crate) fn forces_build(&self) -> bool {
        self.sub == Sub::Build || self.sub == Sub::Bake || !self.build_flags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> (Invocation, Option<ProjectCall>) {
        let inv = Invocation::parse(args.iter().map(OsString::from).collect());
        let c = read(&inv);
        (inv, c)
    }

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn compose_build_gets_print_after_the_subcommand() {
        let (inv, c) = call(&[
            "-H",
            "unix:///x",
            "compose",
            "-f",
            "a.yml",
            "--profile",
            "p",
            "build",
            "--no-cache",
            "app",
        ]);
        let c = c.unwrap();
        assert_eq!(c.sub, Sub::Build);
        assert_eq!(
            strs(&c.printer_args(&inv)),
            [
                "-H",
                "unix:///x",
                "compose",
                "-f",
                "a.yml",
                "--profile",
                "p",
                "build",
                "--print",
                "--no-cache",
                "app"
            ]
        );
        assert_eq!(c.after_build(&inv, false), None);
    }

    #[test]
    fn up_names_services_and_runs_with_no_build() {
        let (inv, c) = call(&[
            "compose", "-p", "x", "up", "-d", "--build", "--scale", "web=2", "-t", "3", "web", "db",
        ]);
        let c = c.unwrap();
        assert_eq!(c.sub, Sub::Up);
        assert_eq!(strs(&c.services), ["web", "db"]);
        assert!(c.forces_build());
        assert_eq!(
            strs(&c.printer_args(&inv)),
            [
                "compose",
                "-p",
                "x",
                "build",
                "--print",
                "--with-dependencies",
                "--",
                "web",
                "db"
            ]
        );
        assert_eq!(
            strs(&c.after_build(&inv, false).unwrap()),
            [
                "compose",
                "-p",
                "x",
                "up",
                "--no-build",
                "-d",
                "--scale",
                "web=2",
                "-t",
                "3",
                "web",
                "db"
            ]
        );
    }

    #[test]
    fn run_takes_one_service_and_loses_build() {
        let (inv, c) = call(&[
            "compose", "run", "--build", "-e", "A=1", "-t", "--rm", "app", "sh", "-c", "x",
        ]);
        let c = c.unwrap();
        assert_eq!(strs(&c.services), ["app"]);
        assert_eq!(
            strs(&c.after_build(&inv, false).unwrap()),
            ["compose", "run", "-e", "A=1", "-t", "--rm", "app", "sh", "-c", "x"]
        );
        let (_, none) = call(&["compose", "ps"]);
        assert_eq!(none, None);
        let (_, none) = call(&["compose", "up", "--no-build", "-d"]);
        assert_eq!(none, None, "up --no-build builds nothing");
    }

    #[test]
    fn calls_that_only_show_build_nothing() {
        for shows in [
            &["buildx", "bake", "--print"][..],
            &["buildx", "bake", "-f", "x.hcl", "--print=true", "a"],
            &["buildx", "bake", "--list", "targets"],
            &["buildx", "bake", "--list=variables"],
            &["buildx", "bake", "--list-targets"],
            &["compose", "build", "--print", "app"],
            &["compose", "--dry-run", "up", "-d"],
            &["compose", "-f", "a.yml", "up", "--dry-run", "--build"],
            &["compose", "build", "--dry-run=true"],
            &["compose", "run", "--dry-run", "app", "echo"],
        ] {
            let (inv, c) = call(shows);
            assert!(only_shows(&inv), "{shows:?}");
            assert_eq!(c, None, "{shows:?}");
        }
        for builds in [
            &["buildx", "bake", "--print=false"][..],
            &["buildx", "bake", "--", "--print"],
            &["compose", "up", "--print"],
            &["compose", "build", "--dry-run=false"],
            &["compose", "run", "app", "--", "--dry-run"],
            &["compose", "run", "--rm", "app", "echo", "--dry-run"],
        ] {
            let (inv, _) = call(builds);
            assert!(!only_shows(&inv), "{builds:?}");
        }
    }

    #[test]
    fn bake_prints_with_its_own_arguments() {
        let (inv, c) = call(&["buildx", "bake", "-f", "x.hcl", "--set", "a.args.X=1", "a"]);
        let c = c.unwrap();
        assert_eq!(c.sub, Sub::Bake);
        assert_eq!(
            strs(&c.printer_args(&inv)),
            [
                "buildx",
                "bake",
                "--print",
                "-f",
                "x.hcl",
                "--set",
                "a.args.X=1",
                "a"
            ]
        );
    }
}
