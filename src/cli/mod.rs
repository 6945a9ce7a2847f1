//! dockroute's own command line (clap): `doctor`, `explain`, `exec`, `completions`,
//! `man`, `--version`. Used only when invoked under a name other than `docker`; docker's
//! own arguments are never parsed with clap.
//!
//! Shell completions and the man page are generated from these clap definitions
//! (`clap_complete`, `clap_mangen`) so they cannot drift from the CLI; install.sh and the
//! Debian package install what `dockroute completions` and `dockroute man` print. The
//! man page adds the sections clap knows nothing about — ENVIRONMENT (from the settings table, `probe::settings::TABLE`), exit status,
//! files — from the tables below, which the README mirrors.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::error::Error;

pub(crate) mod doctor;
pub(crate) mod explain;
#[cfg(test)]
mod json_schema;
pub(crate) mod plan_json;

/// A drop-in `docker` that hands each call to the right real client for this runtime.
#[derive(Debug, Parser)]
#[command(
    name = "dockroute",
    version,
    about,
    long_about = "A drop-in `docker` that hands each call to the right real client for this runtime.\n\n\
        Invoked as `docker` (a link named docker, first on PATH) it is the shim: calls other than \
        builds and compose pass straight through to the first real docker on PATH; `docker build` \
        and `docker compose` go to the client and builder the runtime allows, with one \
        `dockroute:` line on stderr saying where and why. Invoked as `dockroute` it is this CLI."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show every docker client, the runtime, and where builds would go now.
    Doctor {
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Show what `docker <ARGS>` would run, and why, without running it.
    Explain {
        /// Print the plan as one JSON object.
        #[arg(long)]
        json: bool,
        /// The docker arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `dockroute man | man -l -`.
    Man,
    /// Run `docker <ARGS>` exactly as the `docker` shim would.
    Exec {
        /// The docker arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
}

/// The clap command, for completions and the man page.
#[must_use]
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().after_long_help(environment_help())
}

/// `--help`'s list of the variables users set, from the settings table.
fn environment_help() -> String {
    let mut text = String::from("Environment:\n");
    for s in crate::probe::settings::TABLE.iter().filter(|s| !s.internal) {
        let default = if s.default.is_empty() {
            String::new()
        } else {
            format!(" (default: {})", s.default)
        };
        text.push_str(&format!("  {}{default}\n      {}\n", s.name, s.help));
    }
    text
}

/// Runs dockroute's own CLI; returns the exit code.
#[must_use]
pub(crate) fn run(args: Vec<OsString>) -> u8 {
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    crate::output::logging::init();
    let result = match cli.command {
        Command::Exec { args } => return crate::shim::run(args),
        Command::Doctor { json } => crate::cli::doctor::run(json),
        // With nothing to explain, say what to give rather than explain a bare `docker`.
        Command::Explain { args, .. } if args.is_empty() => Err(Error::Usage(
            "explain needs the docker arguments to explain, after `--`: for example `dockroute explain -- build .`".into(),
        )),
        Command::Explain { json, args } => crate::cli::explain::run(args, json),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command(), "dockroute", &mut out);
            crate::output::report(&String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Man => match man_page() {
            Ok(page) => {
                crate::output::report(&page);
                Ok(0)
            }
            Err(source) => Err(Error::Io {
                what: "render the man page".into(),
                source,
                fix: None,
            }),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::output::error(&e);
            e.exit_code()
        }
    }
}

/// The man page: clap's sections for the CLI, then each command with its options, then
/// the shim, environment, exit status and files.
///
/// # Errors
/// When roff rendering fails (it writes to memory, so in practice never).
pub(crate) fn man_page() -> std::io::Result<String> {
    let cmd = command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();

    page.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut usage = format!("\\fBdockroute {}\\fR", sub.get_name());
        for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = a.get_long() {
                usage.push_str(&format!(" [\\fB\\-\\-{}\\fR]", roff_escape(long)));
            } else if a.is_positional() {
                let name = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map_or_else(|| a.get_id().to_string(), ToString::to_string);
                usage.push_str(&format!(" \\fI{}\\fR", roff_escape(&name)));
            }
        }
        page.push_str(&format!(".TP\n{usage}\n"));
        if let Some(about) = sub.get_about() {
            page.push_str(&format!("{}\n", roff_escape(&about.to_string())));
        }
    }
    page.push_str(".SH SHIM MODE\n");
    page.push_str(&roff_escape(
        "Invoked under the name docker, dockroute never parses docker's arguments with its own CLI. \
         It lists every docker on PATH (absolute entries only, itself skipped), and execs the first \
         real client for every call that is not a build or compose. For build, image build, builder \
         build, buildx build and compose it probes the clients and the daemon (does it allow a \
         privileged container?) and execs the right client with the right environment, printing one \
         line starting with \"dockroute:\" to stderr. Where privileged containers are forbidden, \
         docker compose build, up, create and run and docker buildx bake are resolved with the tools' \
         own --print and each target is built as its docker build would be, independent targets at \
         once. dockroute explain -- ARGS shows that decision without running it.",
    ));
    page.push('\n');
    page.push_str(".SH ENVIRONMENT\n");
    for setting in crate::probe::settings::TABLE {
        let default = if setting.default.is_empty() {
            String::new()
        } else {
            format!(" Default: {}.", setting.default)
        };
        page.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_escape(setting.name),
            roff_escape(&format!("{}{default}", setting.help))
        ));
    }
    page.push_str(".SH EXIT STATUS\nThe real client's own, except:\n");
    for (code, what) in crate::error::exit::ALL {
        page.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff_escape(what)));
    }
    page.push_str(&format!(
        ".SH FILES\n.TP\n{}\n{}\n.TP\n{}\n{}\n",
        roff_escape("$XDG_CACHE_HOME/dockroute, ~/.cache/dockroute"),
        roff_escape("Probe cache (0700 directory, 0600 files); deleting it only costs speed."),
        roff_escape("$XDG_STATE_HOME/dockroute/images.json, ~/.local/state/dockroute/images.json"),
        roff_escape("Records of images built on BuildKit with no daemon (0700 directory, 0600 file), which docker tag, push, save, images, rmi and image inspect act on where no daemon answers; deleting it forgets them.")
    ));
    page.push_str(".SH SEE ALSO\n\\fBdocker\\fR(1)\n");
    Ok(page)
}

/// Escapes text for roff: backslashes, hyphens, and a leading dot or quote.
fn roff_escape(s: &str) -> String {
    let mut out = s.replace('\\', "\\e").replace('-', "\\-");
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `DOCKROUTE_*` variable named in the sources is documented.
    #[test]
    fn every_variable_in_the_sources_is_documented() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // Every .rs file under src/, folders included.
        let mut files = Vec::new();
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 20, "found only {files:?}");
        let mut missing = Vec::new();
        let mut names_seen = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            // Built at run time so that this test's own source does not match.
            let needle = format!("\"{}_", "DOCKROUTE");
            for (i, _) in text.match_indices(&needle) {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // Only whole string literals holding a full name.
                let whole =
                    name.len() > needle.len() - 1 && text[i + 1 + name.len()..].starts_with('"');
                names_seen += usize::from(whole);
                if whole
                    && !crate::probe::settings::TABLE.iter().any(|s| s.name == name)
                    && !missing.contains(&name)
                {
                    missing.push(name);
                }
            }
        }
        assert!(names_seen >= 10, "the scan found only {names_seen} names");
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    #[test]
    fn the_man_page_has_commands_environment_and_exit_status() {
        let page = man_page().unwrap();
        for needle in [
            ".TH dockroute 1",
            ".SH COMMANDS",
            "\\fBdockroute doctor\\fR [\\fB\\-\\-json\\fR]",
            ".SH ENVIRONMENT",
            "DOCKROUTE_PROBE_TIMEOUT_MS",
            ".SH EXIT STATUS",
            "\\fB127\\fR",
        ] {
            assert!(page.contains(needle), "{needle} missing from\n{page}");
        }
        // Every exit code of dockroute's own, from the one table the errors use.
        for (code, _) in crate::error::exit::ALL {
            assert!(
                page.contains(&format!(".TP\n\\fB{code}\\fR\n")),
                "{code}: {page}"
            );
        }
        assert!(
            !page.contains("dockroute\\-doctor(1)"),
            "no pages that do not exist"
        );
    }

    #[test]
    fn help_lists_the_settings_from_the_table() {
        let help = command().render_long_help().to_string();
        for s in crate::probe::settings::TABLE.iter().filter(|s| !s.internal) {
            assert!(help.contains(s.name), "{} missing from --help", s.name);
        }
    }

    #[test]
    fn roff_escaping() {
        assert_eq!(roff_escape(".x-y"), "\\&.x\\-y");
        assert_eq!(roff_escape("a\\b"), "a\\eb");
    }
}
