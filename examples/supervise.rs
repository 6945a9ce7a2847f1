//! Runs `dockroute::exec::supervise::run` on stages given on the command line, for the
//! end-to-end tests that send it signals (a test must not signal its own harness).
//!
//! Usage: `supervise STAGE [';' STAGE]...`, where a stage is `COMMAND` or
//! `COMMAND '|' COMMAND`, and a command is `PROGRAM [ARG]...`. `;` and `|` are words of
//! their own; a PROGRAM without a `/` is looked up on PATH. Example:
//!
//! ```text
//! supervise sh -c 'printf hi' '|' wc -c ';' sh -c 'exit 3'
//! ```
//!
//! Exits with the code `run` returns, or with the error's exit code (after one line on
//! stderr) when a program cannot be started; 2 for a malformed command line.

#![allow(clippy::print_stderr)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use dockroute::exec::supervise::{run, Stage, Step};
use dockroute::guard::SelfGuard;

fn step(words: &[OsString]) -> Option<Step> {
    let first = words.first()?;
    let program = if first.to_string_lossy().contains('/') {
        PathBuf::from(first)
    } else {
        dockroute::probe::discovery::find_program(
            std::env::var_os("PATH").as_deref(),
            &first.to_string_lossy(),
        )
        .unwrap_or_else(|| PathBuf::from(first))
    };
    Some(Step {
        program,
        argv: words.to_vec(),
        env_set: Vec::new(),
        env_unset: Vec::new(),
        stdout_to_stderr: false,
        cwd: None,
    })
}

fn parse(args: &[OsString]) -> Option<Vec<Stage>> {
    args.split(|a| a == ";")
        .map(|stage| {
            let parts: Vec<&[OsString]> = stage.split(|a| a == "|").collect();
            match parts[..] {
                [one] => Some(Stage::One(step(one)?)),
                [producer, consumer] => Some(Stage::Pipe(step(producer)?, step(consumer)?)),
                _ => None,
            }
        })
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(stages) = parse(&args).filter(|s| !s.is_empty()) else {
        eprintln!("usage: supervise COMMAND ['|' COMMAND] [';' COMMAND ['|' COMMAND]]...");
        return ExitCode::from(2);
    };
    match run(&stages, &SelfGuard::default()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("supervise: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
