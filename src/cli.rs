//! dockroute's own command line (clap): `doctor`, `explain`, `exec`, `--version`.
//! Used only when invoked under a name other than `docker`; docker's own arguments are
//! never parsed with clap.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::error::Error;

/// A drop-in `docker` that hands each call to the right real client for this runtime.
#[derive(Debug, Parser)]
#[command(name = "dockroute", version, about, long_about = None)]
pub struct Cli {
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
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(hide = true)]
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
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs dockroute's own CLI; returns the exit code.
#[must_use]
pub fn run(args: Vec<OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    crate::logging::init();
    let result = match cli.command {
        Command::Exec { args } => return crate::shim::run(args),
        Command::Doctor { json } => crate::doctor::run(json),
        Command::Explain { json, args } => crate::explain::run(args, json),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command(), "dockroute", &mut out);
            crate::output::report(&String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(command()).render(&mut out) {
                Ok(()) => {
                    crate::output::report(&String::from_utf8_lossy(&out));
                    Ok(0)
                }
                Err(e) => Err(Error::Usage(format!("could not render the man page: {e}"))),
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::output::error(&e);
            e.exit_code()
        }
    }
}

/// Shorthand for the CLI's fallible commands.
pub type CliResult = Result<u8, Error>;
