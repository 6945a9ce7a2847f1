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
//! `supervise --jobs STAGE [';' STAGE]...` runs each stage as an independent job of
//! `run_jobs` instead (all at once, output lines prefixed `[N] `, N from 0).
//!
//! Exits with the code `run` returns, or with the error's exit code (after one line on
//! stderr) when a program cannot be started; 2 for a malformed command line.

#![allow(clippy::print_stderr)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use dockroute::exec::supervise::{run, run_jobs, Job, Stage, Step};
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
        prefix: None,
        cwd: None,
        hold_stderr: false,
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

fn prefixed(stage: Stage, prefix: &str) -> Stage {
    let mark = |mut s: Step| {
        s.prefix = Some(prefix.to_string());
        s
    };
    match stage {
        Stage::One(s) => Stage::One(mark(s)),
        Stage::Pipe(p, c) => Stage::Pipe(mark(p), mark(c)),
    }
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let jobs = args.first().is_some_and(|a| a == "--jobs");
    if jobs {
        args.remove(0);
    }
    let Some(stages) = parse(&args).filter(|s| !s.is_empty()) else {
        eprintln!("usage: supervise [--jobs] COMMAND ['|' COMMAND] [';' COMMAND ['|' COMMAND]]...");
        return ExitCode::from(2);
    };
    let ran = if jobs {
        let jobs: Vec<Job> = stages
            .into_iter()
            .enumerate()
            .map(|(i, stage)| Job {
                stages: vec![prefixed(stage, &format!("[{i}] "))],
                after: Vec::new(),
            })
            .collect();
        let n = jobs.len();
        run_jobs(&jobs, n, &SelfGuard::default())
    } else {
        run(&stages, &SelfGuard::default())
    };
    match ran {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("supervise: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
