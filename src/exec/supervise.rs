//! A small process supervisor for routes that run more than one process: a build then a
//! push, a producer piped into a consumer (`buildctl … | docker load`), a script that
//! starts a daemon in the background (`buildctl-daemonless.sh`).
//!
//! Invariants:
//! - Stages run one after the other; the first that fails (or that a forwarded signal
//!   ends) stops the run. Every child gets the guard's environment plus its step's
//!   changes, and argv\[0\] is the program's path.
//! - Each stage runs in a new process group (both sides of a pipe in the same one), so a
//!   signal reaches everything the stage started, grandchildren included.
//! - While a run is active, SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in the calling
//!   thread (and in the threads it starts); a relay thread, started once and alive for the
//!   rest of the process, takes them with `sigwait` and forwards each to the running
//!   stage's group. Only signals that would act on the process are taken over: one it
//!   ignores or the caller blocks stays without effect, as without a supervisor. With no
//!   run active the relay gives a signal its default action. Any other thread of the
//!   process that leaves these signals unblocked may receive them instead and die of
//!   them, so threads alive during a run must block them too.
//! - Children start with the caller's signal mask, not the run's: std passes the spawning
//!   thread's mask on to the child (it only resets SIGPIPE's disposition), so each child
//!   puts the caller's mask back itself, between fork and exec. The supervising thread
//!   never unblocks the forwarded signals during a run: a signal that arrives while a
//!   stage starts (even while the producer of a pipe already runs and the consumer is
//!   being started) waits for the relay and is forwarded, and never ends this process
//!   with the children left running. This is the crate's one `unsafe` block
//!   ([`CommandExt::pre_exec`]).
//! - Child exits are collected by a waiter thread blocked in `wait`, not through SIGCHLD:
//!   SIGCHLD is sent to the whole process, and a thread that does not block it takes it
//!   and discards it, so a `sigwait` on it could wait forever.
//! - When a stage's children have exited, its group must be empty: the process is made a
//!   child subreaper, so orphans of the stage come back to it and are reaped here; what
//!   is still alive gets SIGTERM, then SIGKILL after [`GRACE`]. This holds on success as
//!   well: a well-behaved stage leaves nothing, and anything left would leak.
//! - Exit code: a child killed by signal N counts as 128+N. A pipe fails with its
//!   producer's code when the producer failed, unless the producer only lost its reader
//!   (SIGPIPE, or a shell's 141) after the consumer failed; otherwise with the consumer's
//!   code. After a forwarded signal S the run stops: a child that handled S and exited with
//!   a non-zero code of its own has the last word (as in a shell); otherwise the run
//!   returns 128+S.
//! - Nothing is written to stdout on the supervisor's own account (a prefixed step's
//!   output lines are relayed whole, one write each, to stdout or stderr); the calling
//!   thread's signal mask is restored on return.
//! - A consumer marked [`Step::hold_stderr`] has its stderr shown when its stage ends, and
//!   only if its producer succeeded: its complaint about a cut-short stream never follows
//!   the producer's real error.
//! - [`run_jobs`] (a project's builds) runs several such runs at once, each in threads of
//!   its own, at most a bound together, each job after those it waits for. Every run in
//!   progress is registered with the relay, so a signal reaches every running job's group;
//!   the scheduler is registered too, so a signal between two jobs stops the next one from
//!   starting rather than ending dockroute. After the first failure no further job starts
//!   and the running ones finish. A signal that arrives between the scheduler's check and
//!   a just-started job's registration reaches that job only if it is sent again.
//!
//! Not covered: a descendant that leaves the group (`setsid`, `setpgid`) is out of reach;
//! a stage is not the terminal's foreground group, so a child reading the terminal is
//! stopped by SIGTTIN, and Ctrl-Z stops dockroute alone. If dockroute itself is killed
//! with SIGKILL (which it cannot catch), the running stage's group is left to whoever
//! killed it: a CI runner that kills the job's whole process tree reaches it, one that
//! kills only dockroute's pid does not (a parent-death signal would need `unsafe`
//! `pre_exec`, which this crate does not use).

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::guard::SelfGuard;

/// How long a stage's leftover processes get between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// How often the group is looked at while waiting for it to empty.
const POLL: Duration = Duration::from_millis(20);

/// One process to start.
#[derive(Debug, Clone)]
pub struct Step {
    /// The program, as an absolute path (no PATH search is done for it).
    pub program: PathBuf,
    /// Its argument vector, argv\[0\] included; the child sees `program` as argv\[0\].
    pub argv: Vec<OsString>,
    /// Environment variables to set.
    pub env_set: Vec<(OsString, OsString)>,
    /// Environment variables to remove.
    pub env_unset: Vec<OsString>,
    /// Send its stdout to the caller's stderr (a consumer whose report is progress, not
    /// the command's output).
    pub stdout_to_stderr: bool,
    /// Relay its stdout and stderr line by line, each line prefixed with this (`[app] `):
    /// one of several builds running at once ([`run_jobs`]).
    pub prefix: Option<String>,
    /// The working directory; `None`: the caller's.
    pub cwd: Option<PathBuf>,
    /// A pipe's consumer only: keep its stderr until the stage ends and show it only when
    /// the producer succeeded. A consumer fed a stream its failed producer cut short says
    /// so in its own words (`docker load`: `open …/repositories: no such file or
    /// directory`), which would be the last line under the producer's real error.
    pub hold_stderr: bool,
}

/// What runs at once, in its own process group.
#[derive(Debug, Clone)]
pub enum Stage {
    /// One process with the caller's stdin, stdout and stderr.
    One(Step),
    /// A producer whose stdout feeds the consumer's stdin; the producer keeps the caller's
    /// stdin and stderr, the consumer its stdout and stderr.
    Pipe(Step, Step),
}

/// Runs `stages` in order, stopping at the first failure or forwarded signal. Returns the
/// exit code to leave with (see the module documentation for how it is chosen).
///
/// Fails with [`Error::Exec`] when a program cannot be started (processes the stage had
/// already started are stopped first), with [`Error::Io`] when the signal relay cannot be
/// set up.
pub fn run(stages: &[Stage], guard: &SelfGuard) -> Result<u8> {
    let set = crate::guard::relayed_set();
    let caller = set
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| Error::Io {
            what: "block the relayed signals before starting the build's processes".into(),
            source: e.into(),
            fix: None,
        })?;
    let result = run_masked(stages, guard, caller);
    let _ = caller.thread_set_mask();
    result
}

/// [`run`] on a thread that already blocks the forwarded signals; `caller` is the mask
/// the children start with (the caller's own, from before any blocking).
fn run_masked(stages: &[Stage], guard: &SelfGuard, caller: SigSet) -> Result<u8> {
    let set = crate::guard::relayed_set();
    // Best effort: without it, orphans are reparented to init and only signalled.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    Listener::register(taken_over(&set, &caller))
        .map_err(|source| Error::Io {
            what: "install the signal relay".into(),
            source,
            fix: None,
        })
        .and_then(|events| {
            let mut run = Run {
                guard,
                events,
                caller,
                received: None,
            };
            run.stages(stages)
        })
}

/// The forwarded signals that would act on this process without a supervisor: neither
/// ignored (a background job of a script starts with SIGINT and SIGQUIT ignored, `nohup`
/// ignores SIGHUP) nor blocked by the caller. Only those are forwarded; children inherit
/// the ignored ones anyway.
fn taken_over(set: &SigSet, caller: &SigSet) -> SigSet {
    let ignored = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    let mut wanted = SigSet::empty();
    for sig in set.iter() {
        if ignored & (1 << (sig as i32 - 1)) == 0 && !caller.contains(sig) {
            wanted.add(sig);
        }
    }
    wanted
}

/// One run in progress.
struct Run<'a> {
    guard: &'a SelfGuard,
    events: Listener,
    /// The caller's signal mask: what children start with.
    caller: SigSet,
    /// The last forwarded signal, once one came.
    received: Option<Signal>,
}

impl Run<'_> {
    fn stages(&mut self, stages: &[Stage]) -> Result<u8> {
        for stage in stages {
            // A signal that came between two stages stops the run before the next one.
            while let Ok(event) = self.events.rx.try_recv() {
                if let Event::Signal(sig) = event {
                    self.received = Some(sig);
                }
            }
            if let Some(sig) = self.received {
                return Ok(signal_code(sig as i32));
            }
            let statuses = self.stage(stage)?;
            let code = pipefail(&statuses);
            if let Some(sig) = self.received {
                let by_signal = statuses.iter().any(|s| s.signal().is_some());
                return Ok(if code == 0 || by_signal {
                    signal_code(sig as i32)
                } else {
                    code
                });
            }
            if code != 0 {
                return Ok(code);
            }
        }
        Ok(0)
    }

    /// Starts the stage, forwards signals to its group until its children have exited,
    /// then empties the group. Returns the children's statuses, producer first.
    fn stage(&mut self, stage: &Stage) -> Result<Vec<ExitStatus>> {
        let (first, second) = match stage {
            Stage::One(s) => (s, None),
            Stage::Pipe(p, c) => (p, Some(c)),
        };
        // The forwarded signals stay blocked here: each child unblocks them for itself
        // (`command`), so a signal that comes while the stage starts is relayed, not fatal.
        let spawned = spawn(first, second, self.guard, self.caller);
        let (mut children, pgid) = match spawned {
            Ok(started) => started,
            Err((e, started)) => {
                if let Some((mut producer, pgid)) = started {
                    let _ = killpg(pgid, Signal::SIGTERM);
                    let _ = wait(&mut producer);
                    self.clear_group(pgid);
                }
                return Err(e);
            }
        };

        let held = hold_stderr(&mut children, second);
        let relays = relay_output(&mut children, first, second);
        let tx = self.events.tx.clone();
        let waiter = std::thread::Builder::new()
            .name("supervise-wait".into())
            .spawn(move || {
                let mut children = children;
                let statuses = children.iter_mut().map(wait).collect();
                let _ = tx.send(Event::Exited(statuses));
            });
        if let Err(source) = waiter {
            // The children went with the closure; they are reaped with their group.
            let _ = killpg(pgid, Signal::SIGKILL);
            self.clear_group(pgid);
            relays.into_iter().for_each(|r| drop(r.join()));
            return Err(Error::Exec {
                program: first.program.clone(),
                source,
            });
        }

        let statuses = loop {
            match self.events.rx.recv() {
                Ok(Event::Signal(sig)) => {
                    self.received = Some(sig);
                    let _ = killpg(pgid, sig);
                }
                Ok(Event::Exited(statuses)) => break statuses,
                // Unreachable while `events` holds a sender; counted as a failure.
                Err(_) => break vec![ExitStatus::from_raw(1 << 8)],
            }
        };
        self.clear_group(pgid);
        // The group is empty, so every write end is closed: the relays end.
        relays.into_iter().for_each(|r| drop(r.join()));
        if let Some(held) = held {
            held.release(statuses.first().is_some_and(ExitStatus::success));
        }
        Ok(statuses)
    }

    /// Makes sure nothing of the group is left: SIGTERM, up to [`GRACE`] to go, then
    /// SIGKILL. Signals received meanwhile are still forwarded.
    fn clear_group(&mut self, pgid: Pid) {
        if !group_alive(pgid) {
            return;
        }
        tracing::warn!(
            pgid = pgid.as_raw(),
            "processes left in a finished stage's group; terminating them"
        );
        let _ = killpg(pgid, Signal::SIGTERM);
        let mut deadline = Instant::now() + GRACE;
        let mut killed = false;
        loop {
            if let Ok(Event::Signal(sig)) = self.events.rx.recv_timeout(POLL) {
                self.received = Some(sig);
                let _ = killpg(pgid, sig);
            }
            if !group_alive(pgid) {
                return;
            }
            if Instant::now() >= deadline {
                if killed {
                    return;
                }
                let _ = killpg(pgid, Signal::SIGKILL);
                killed = true;
                // Time to reap what SIGKILL ended, so no zombie outlives this process.
                deadline = Instant::now() + GRACE / 4;
            }
        }
    }
}

/// What a failed start leaves: the error, and the producer (with its group) when it was
/// already running.
type SpawnError = (Error, Option<(Child, Pid)>);

/// Starts the stage's processes: the first in a new group, the consumer (if any) in the
/// same group, reading the first one's stdout.
fn spawn(
    first: &Step,
    second: Option<&Step>,
    guard: &SelfGuard,
    mask: SigSet,
) -> std::result::Result<(Vec<Child>, Pid), SpawnError> {
    let exec_err = |step: &Step, source| Error::Exec {
        program: step.program.clone(),
        source,
    };
    for step in std::iter::once(first).chain(second) {
        crate::guard::require_absolute(&step.program).map_err(|e| (exec_err(step, e), None))?;
    }
    let mut cmd = command(first, guard, 0, mask);
    if second.is_some() {
        cmd.stdout(Stdio::piped());
    }
    let mut producer = cmd.spawn().map_err(|e| (exec_err(first, e), None))?;
    let pgid = Pid::from_raw(i32::try_from(producer.id()).unwrap_or(i32::MAX));
    let Some(step) = second else {
        return Ok((vec![producer], pgid));
    };
    let mut cmd = command(step, guard, pgid.as_raw(), mask);
    if let Some(out) = producer.stdout.take() {
        cmd.stdin(Stdio::from(out));
    }
    let spawned = cmd.spawn();
    // Our copy of the pipe's read end must go, or the producer never sees EPIPE.
    drop(cmd);
    match spawned {
        Ok(consumer) => Ok((vec![producer, consumer], pgid)),
        Err(e) => Err((exec_err(step, e), Some((producer, pgid)))),
    }
}

/// A consumer's stderr kept until its stage ends ([`Step::hold_stderr`]).
struct Held {
    /// The thread reading it to its end.
    reader: std::thread::JoinHandle<Vec<u8>>,
    /// The prefix its lines get when shown.
    prefix: Option<String>,
}

impl Held {
    /// Shows what the consumer wrote when its producer succeeded; otherwise drops it (the
    /// producer's error is the one that counts).
    fn release(self, producer_ok: bool) {
        use std::io::Write;
        let text = self.reader.join().unwrap_or_default();
        if !producer_ok {
            if !text.is_empty() {
                tracing::debug!(
                    bytes = text.len(),
                    "the consumer's stderr withheld: its producer failed"
                );
            }
            return;
        }
        match &self.prefix {
            Some(prefix) => relay_lines(&text[..], prefix, |line| {
                let _ = std::io::stderr().lock().write_all(line);
            }),
            None => {
                let _ = std::io::stderr().lock().write_all(&text);
            }
        }
    }
}

/// Takes the consumer's stderr when it is to be held, with a thread reading it (started
/// from a thread that blocks the forwarded signals, so it blocks them too). Should the
/// thread not start, the stream goes to the relays as usual (prefixed) or is dropped.
fn hold_stderr(children: &mut [Child], second: Option<&Step>) -> Option<Held> {
    let step = second.filter(|s| s.hold_stderr)?;
    let mut err = children.get_mut(1)?.stderr.take()?;
    let reader = std::thread::Builder::new()
        .name("supervise-hold".into())
        .spawn(move || {
            let mut text = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut text);
            text
        })
        .ok()?;
    Some(Held {
        reader,
        prefix: step.prefix.clone(),
    })
}

/// Starts a relay thread for each output stream of a prefixed step ([`Step::prefix`]):
/// every line is written whole, prefixed, to the caller's stdout (stderr for a step
/// whose stdout is progress) or stderr.
fn relay_output(
    children: &mut [Child],
    first: &Step,
    second: Option<&Step>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut relays = Vec::new();
    for (child, step) in children
        .iter_mut()
        .zip(std::iter::once(first).chain(second))
    {
        let Some(prefix) = &step.prefix else {
            continue;
        };
        if let Some(out) = child.stdout.take() {
            let to_stderr = step.stdout_to_stderr;
            relays.extend(spawn_relay(out, prefix.clone(), to_stderr));
        }
        if let Some(err) = child.stderr.take() {
            relays.extend(spawn_relay(err, prefix.clone(), true));
        }
    }
    relays
}

/// One relay thread (started from a thread that blocks the forwarded signals, so it
/// blocks them too). A last line without a newline gets one.
fn spawn_relay<R: std::io::Read + Send + 'static>(
    stream: R,
    prefix: String,
    to_stderr: bool,
) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("supervise-relay".into())
        .spawn(move || {
            relay_lines(stream, &prefix, |line| {
                use std::io::Write;
                // One write per line, under the stream's lock: lines of parallel builds
                // interleave, never mix.
                let _ = if to_stderr {
                    std::io::stderr().lock().write_all(line)
                } else {
                    std::io::stdout().lock().write_all(line)
                };
            });
        })
        .ok()
}

/// Reads `stream` to its end and hands `write` each line, prefixed, newline-terminated.
fn relay_lines<R: std::io::Read>(stream: R, prefix: &str, mut write: impl FnMut(&[u8])) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        let mut whole = Vec::with_capacity(prefix.len() + line.len());
        whole.extend_from_slice(prefix.as_bytes());
        whole.extend_from_slice(&line);
        write(&whole);
    }
}

/// One job of [`run_jobs`]: its stages, run in order as by [`run`], and the jobs (by
/// index) that must have succeeded before it starts.
#[derive(Debug, Clone)]
pub struct Job {
    /// What the job runs.
    pub stages: Vec<Stage>,
    /// Indices of the jobs it waits for.
    pub after: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Waiting,
    Running,
    Done(u8),
}

/// Runs `jobs`, at most `bound` at once, each as soon as the jobs it waits for have
/// succeeded: each job is a [`run`] of its own (own process groups, signals forwarded to
/// them). After the first failure or a forwarded signal no further job starts; the jobs
/// already running finish (a forwarded signal reaches them too). Returns the first
/// failure's exit code (in the order failures happened), else 128+N after signal N, else 0.
///
/// # Errors
/// [`Error::Exec`] when a job's program cannot be started (after the running jobs
/// finished), [`Error::Io`] when the signal relay cannot be set up.
pub fn run_jobs(jobs: &[Job], bound: usize, guard: &SelfGuard) -> Result<u8> {
    let set = crate::guard::relayed_set();
    let caller = set
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| Error::Io {
            what: "block the relayed signals before starting the project's builds".into(),
            source: e.into(),
            fix: None,
        })?;
    // The scheduler listens too, so a signal between two jobs stops the next one from
    // starting instead of taking its default action with jobs still running.
    let result = Listener::register(taken_over(&set, &caller))
        .map_err(|source| Error::Io {
            what: "install the signal relay".into(),
            source,
            fix: None,
        })
        .map(|events| schedule(jobs, bound.max(1), guard, caller, &events));
    let _ = caller.thread_set_mask();
    result?
}

fn schedule(
    jobs: &[Job],
    bound: usize,
    guard: &SelfGuard,
    caller: SigSet,
    events: &Listener,
) -> Result<u8> {
    let (tx, rx) = channel::<(usize, Result<u8>)>();
    let mut state = vec![JobState::Waiting; jobs.len()];
    let mut running = 0usize;
    let mut failure: Option<u8> = None;
    let mut error: Option<Error> = None;
    let mut received: Option<Signal> = None;
    std::thread::scope(|scope| loop {
        while let Ok(event) = events.rx.try_recv() {
            if let Event::Signal(sig) = event {
                received = Some(sig);
            }
        }
        if failure.is_none() && error.is_none() && received.is_none() {
            for i in 0..jobs.len() {
                let ready = state[i] == JobState::Waiting
                    && jobs[i]
                        .after
                        .iter()
                        .all(|d| state.get(*d) == Some(&JobState::Done(0)));
                if ready && running < bound {
                    state[i] = JobState::Running;
                    running += 1;
                    let tx = tx.clone();
                    let stages = &jobs[i].stages;
                    scope.spawn(move || {
                        let _ = tx.send((i, run_masked(stages, guard, caller)));
                    });
                }
            }
        }
        if running == 0 {
            break;
        }
        if let Ok((i, result)) = rx.recv_timeout(POLL) {
            running -= 1;
            let code = match result {
                Ok(code) => code,
                Err(e) => {
                    error.get_or_insert(e);
                    126
                }
            };
            state[i] = JobState::Done(code);
            if code != 0 {
                failure.get_or_insert(code);
            }
        }
    });
    match (error, failure, received) {
        (Some(e), _, _) => Err(e),
        (None, Some(code), _) => Ok(code),
        (None, None, Some(sig)) => Ok(signal_code(sig as i32)),
        (None, None, None) => Ok(0),
    }
}

fn wait(child: &mut Child) -> ExitStatus {
    child
        .wait()
        .unwrap_or_else(|_| ExitStatus::from_raw(1 << 8))
}

fn command(step: &Step, guard: &SelfGuard, pgid: i32, mask: SigSet) -> Command {
    let mut cmd = super::child(
        &step.program,
        &step.argv,
        &step.env_set,
        &step.env_unset,
        guard,
    );
    cmd.process_group(pgid);
    if let Some(dir) = &step.cwd {
        cmd.current_dir(dir);
    }
    start_with_mask(&mut cmd, mask);
    if step.prefix.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else if step.stdout_to_stderr {
        if let Ok(fd) = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() {
            cmd.stdout(Stdio::from(fd));
        }
    }
    if step.hold_stderr {
        cmd.stderr(Stdio::piped());
    }
    cmd
}

/// Makes the child set its signal mask to `mask` between fork and exec, so the parent
/// never has to unblock the forwarded signals for the spawn.
#[allow(unsafe_code)]
fn start_with_mask(cmd: &mut Command, mask: SigSet) {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes one `sigprocmask` call (listed as
    // async-signal-safe by POSIX) on a `SigSet` copied in before the fork; it allocates
    // nothing, takes no lock and touches no other state.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&mask), None)
                .map_err(std::io::Error::from)
        });
    }
}

/// Whether a process of the group can still be signalled, after reaping the group's
/// orphans that died (they are this process's children, as a subreaper). A group that
/// only holds processes we may not signal counts as gone: nothing more can be done.
fn group_alive(pgid: Pid) -> bool {
    let group = Pid::from_raw(-pgid.as_raw());
    while let Ok(status) = waitpid(group, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
    killpg(pgid, None).is_ok()
}

/// The run's exit code from one stage's statuses (pipefail; see the module doc).
fn pipefail(statuses: &[ExitStatus]) -> u8 {
    match statuses {
        [one] => code(*one),
        [producer, consumer] => {
            let (p, c) = (code(*producer), code(*consumer));
            let sigpipe = signal_code(Signal::SIGPIPE as i32);
            let lost_reader = p == sigpipe && c != 0;
            if p != 0 && !lost_reader {
                p
            } else {
                c
            }
        }
        _ => 1,
    }
}

fn code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(sig)) => signal_code(sig),
        (None, None) => 1,
    }
}

fn signal_code(sig: i32) -> u8 {
    u8::try_from((128 + sig) & 0xff).unwrap_or(1)
}

/// What the supervising thread waits for.
enum Event {
    /// A forwarded signal arrived.
    Signal(Signal),
    /// Every child of the stage has exited: their statuses, producer first.
    Exited(Vec<ExitStatus>),
}

/// The runs in progress, to which the relay thread forwards signals.
struct Registry {
    relay_started: bool,
    next_id: u64,
    /// Each run's id, the signals it takes over, and where to send them.
    listeners: Vec<(u64, SigSet, Sender<Event>)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    relay_started: false,
    next_id: 0,
    listeners: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One run's end of the event channel, registered with the relay while it lives.
struct Listener {
    id: u64,
    tx: Sender<Event>,
    rx: Receiver<Event>,
}

impl Listener {
    /// Registers a run, starting the relay thread the first time. The calling thread must
    /// already block the forwarded signals, so the relay inherits that mask.
    fn register(wanted: SigSet) -> std::io::Result<Listener> {
        let mut reg = registry();
        if !reg.relay_started {
            std::thread::Builder::new()
                .name("supervise-signals".into())
                .spawn(relay)?;
            reg.relay_started = true;
        }
        let (tx, rx) = channel();
        let id = reg.next_id;
        reg.next_id += 1;
        reg.listeners.push((id, wanted, tx.clone()));
        Ok(Listener { id, tx, rx })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        registry().listeners.retain(|(id, ..)| *id != self.id);
    }
}

/// The relay thread: takes each forwarded signal and hands it to every run in progress
/// that takes it over; with none, lets the signal do what it would have done.
fn relay() {
    let set = crate::guard::relayed_set();
    let _ = set.thread_block();
    while let Ok(sig) = set.wait() {
        let mut delivered = false;
        registry().listeners.retain(|(_, wanted, tx)| {
            if !wanted.contains(sig) {
                return true;
            }
            let sent = tx.send(Event::Signal(sig)).is_ok();
            delivered |= sent;
            sent
        });
        if !delivered {
            let mut one = SigSet::empty();
            one.add(sig);
            let _ = one.thread_unblock();
            let _ = nix::sys::signal::raise(sig);
            let _ = one.thread_block();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::FileId;
    use std::path::Path;

    fn sh(script: &str) -> Step {
        Step {
            program: "/bin/sh".into(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env_set: Vec::new(),
            env_unset: Vec::new(),
            stdout_to_stderr: false,
            prefix: None,
            cwd: None,
            hold_stderr: false,
        }
    }

    fn one(script: &str) -> Stage {
        Stage::One(sh(script))
    }

    fn pipe(producer: &str, consumer: &str) -> Stage {
        Stage::Pipe(sh(producer), sh(consumer))
    }

    fn go(stages: &[Stage]) -> u8 {
        run(stages, &SelfGuard::default()).unwrap()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn job(script: &str, after: &[usize]) -> Job {
        Job {
            stages: vec![one(script)],
            after: after.to_vec(),
        }
    }

    fn jobs(jobs: &[Job], bound: usize) -> u8 {
        run_jobs(jobs, bound, &SelfGuard::default()).unwrap()
    }

    /// Two jobs that each wait (bounded) for the other's mark can only both succeed when
    /// they run at the same time.
    #[test]
    fn supervise_jobs_run_at_once_up_to_the_bound() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        let meet = |mine: &Path, other: &Path| {
            format!(
                "touch {}; i=0; while [ ! -e {} ]; do i=$((i+1)); [ $i -gt 100 ] && exit 7; sleep 0.05; done",
                mine.display(),
                other.display()
            )
        };
        let pair = [job(&meet(&a, &b), &[]), job(&meet(&b, &a), &[])];
        assert_eq!(jobs(&pair, 2), 0);
        // One at a time, the first waits in vain.
        std::fs::remove_file(&a).unwrap();
        std::fs::remove_file(&b).unwrap();
        assert_eq!(jobs(&pair, 1), 7);
    }

    #[test]
    fn supervise_jobs_wait_for_what_they_depend_on_and_stop_after_a_failure() {
        let t = tempfile::tempdir().unwrap();
        let (first, second, never) = (t.path().join("1"), t.path().join("2"), t.path().join("n"));
        // Job 0 waits for job 1, which is slow: job 0 must see job 1's file.
        let ordered = [
            job(
                &format!("test -e {} && touch {}", second.display(), first.display()),
                &[1],
            ),
            job(&format!("sleep 0.2; touch {}", second.display()), &[]),
        ];
        assert_eq!(jobs(&ordered, 2), 0);
        assert!(first.exists());
        // A failure: its dependant never starts; the exit code is the failure's.
        let failing = [
            job("exit 5", &[]),
            job(&format!("touch {}", never.display()), &[0]),
        ];
        assert_eq!(jobs(&failing, 2), 5);
        assert!(
            !never.exists(),
            "a job ran after the one it waits for failed"
        );
        assert_eq!(jobs(&[], 4), 0);
    }

    #[test]
    fn supervise_relay_prefixes_every_line() {
        let mut out = Vec::new();
        relay_lines(&b"one\ntwo\n\nlast"[..], "[app] ", |l| {
            out.extend_from_slice(l)
        });
        assert_eq!(out, b"[app] one\n[app] two\n[app] \n[app] last\n");
    }

    #[test]
    fn supervise_sequence_stops_at_the_first_failure() {
        let t = tempfile::tempdir().unwrap();
        let mark = t.path().join("third");
        let third = format!("touch {}", mark.display());
        assert_eq!(go(&[one("exit 0"), one("exit 3"), one(&third)]), 3);
        assert!(!mark.exists(), "a stage after the failure ran");
        assert_eq!(go(&[one("true"), one(&third)]), 0);
        assert!(mark.exists());
        assert_eq!(go(&[]), 0);
    }

    #[test]
    fn supervise_pipe_moves_bytes_and_closes_the_pipe() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let count = format!("wc -c > {}", out.display());
        assert_eq!(go(&[pipe("head -c 1000000 /dev/zero", &count)]), 0);
        assert_eq!(read(&out).trim(), "1000000");
        // The consumer leaves early: the producer must get SIGPIPE, not block forever on a
        // read end this process kept open. Pipefail reports the producer's death.
        assert_eq!(go(&[pipe("yes", "head -c 1 >/dev/null")]), 128 + 13);
        // The producer's stderr and stdin are the caller's, the consumer's stdout too.
        assert_eq!(go(&[pipe("echo hi", "read x && test \"$x\" = hi")]), 0);
    }

    #[test]
    fn supervise_pipefail_ordering() {
        assert_eq!(go(&[pipe("exit 3", "cat >/dev/null; exit 4")]), 3);
        assert_eq!(go(&[pipe("exit 0", "cat >/dev/null; exit 4")]), 4);
        assert_eq!(go(&[pipe("exit 3", "cat >/dev/null")]), 3);
        // A producer that only lost its reader does not hide the reader's own failure.
        assert_eq!(go(&[pipe("yes", "head -c 1 >/dev/null; exit 5")]), 5);
        // A failing pipe stops the run like any stage.
        assert_eq!(go(&[pipe("true", "exit 6"), one("exit 9")]), 6);
    }

    #[test]
    fn supervise_child_killed_by_a_signal_is_128_plus_n() {
        assert_eq!(go(&[one("kill -KILL $$")]), 137);
        assert_eq!(go(&[one("kill -USR1 $$"), one("exit 0")]), 138);
        assert_eq!(go(&[pipe("true", "kill -TERM $$")]), 143);
    }

    #[test]
    fn supervise_environment_and_argv0() {
        let t = tempfile::tempdir().unwrap();
        let env_out = t.path().join("env");
        let argv_out = t.path().join("argv");
        let guard = SelfGuard {
            own: Some(FileId { dev: 1, ino: 2 }),
            seen: Vec::new(),
            hops: 4,
        };
        let mut printenv = sh(&format!("/usr/bin/env > {}", env_out.display()));
        printenv.env_set = vec![("SUPERVISE_TEST_VAR".into(), "set=yes".into())];
        printenv.env_unset = vec!["PATH".into()];
        let mut argv0 = sh(&format!(
            "tr '\\0' '\\n' < /proc/$$/cmdline > {}",
            argv_out.display()
        ));
        argv0.argv[0] = "not-the-program".into();
        let code = run(&[Stage::One(printenv), Stage::One(argv0)], &guard).unwrap();
        assert_eq!(code, 0);
        let env = read(&env_out);
        assert!(
            env.lines().any(|l| l == "SUPERVISE_TEST_VAR=set=yes"),
            "{env}"
        );
        assert!(env.lines().any(|l| l == "DOCKROUTE_GUARD=1.2"), "{env}");
        assert!(env.lines().any(|l| l == "DOCKROUTE_HOPS=5"), "{env}");
        assert!(!env.lines().any(|l| l.starts_with("PATH=")), "{env}");
        assert!(read(&argv_out).starts_with("/bin/sh\n-c\n"));
    }

    /// std passes the spawning thread's signal mask on to the child (only SIGPIPE's
    /// disposition is reset), so without care every child would start with the forwarded
    /// signals blocked, deaf to them.
    #[test]
    fn supervise_children_start_with_the_callers_signal_mask() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("status");
        let status = || read(Path::new("/proc/thread-self/status"));
        let fields = |text: &str, name: &str| -> Vec<u64> {
            text.lines()
                .filter_map(|l| l.strip_prefix(name))
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
                .collect()
        };
        let before = fields(&status(), "SigBlk:")[0];
        // grep itself is the child (a shell blocks signals of its own while it forks).
        let grep = Step {
            program: "/bin/grep".into(),
            argv: ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]
                .map(OsString::from)
                .to_vec(),
            env_set: Vec::new(),
            env_unset: Vec::new(),
            stdout_to_stderr: false,
            prefix: None,
            cwd: None,
            hold_stderr: false,
        };
        let save = sh(&format!(
            "cat > {0}; (trap '' TERM; grep '^SigIgn:' /proc/self/status) >> {0}",
            out.display()
        ));
        assert_eq!(go(&[Stage::Pipe(grep, save)]), 0);
        let text = read(&out);
        assert_eq!(fields(&text, "SigBlk:"), vec![before], "{text}");
        let bit = |sig: Signal| 1u64 << (sig as i32 - 1);
        for sig in crate::guard::RELAYED_SIGNALS {
            assert_eq!(before & bit(sig), 0, "the test thread blocks {sig}");
        }
        let ignored = fields(&text, "SigIgn:");
        assert_eq!(ignored.len(), 2, "{text}");
        assert_eq!(ignored[0] & bit(Signal::SIGPIPE), 0, "{text}");
        // The control: a disposition the child sets itself shows in the same field.
        assert_ne!(ignored[1] & bit(Signal::SIGTERM), 0, "{text}");
        // A child can be ended by the signals the run blocks for itself.
        assert_eq!(go(&[one("kill -TERM $$; exit 0")]), 143);
        // And this thread's mask is back to what it was.
        assert_eq!(fields(&status(), "SigBlk:"), vec![before]);
    }

    /// What the previous test guards against, shown on std directly: a child spawned
    /// while the thread blocks a signal starts with it blocked.
    #[test]
    fn supervise_std_passes_the_spawning_threads_mask_on() {
        let mut term = SigSet::empty();
        term.add(Signal::SIGTERM);
        let old = term.thread_swap_mask(SigmaskHow::SIG_BLOCK).unwrap();
        let out = Command::new("/bin/grep")
            .args(["^SigBlk:", "/proc/self/status"])
            .output();
        old.thread_set_mask().unwrap();
        let text = String::from_utf8(out.unwrap().stdout).unwrap();
        let blocked = u64::from_str_radix(text.trim_start_matches("SigBlk:").trim(), 16).unwrap();
        assert_ne!(blocked & (1 << (Signal::SIGTERM as i32 - 1)), 0, "{text}");
    }

    #[test]
    fn supervise_missing_program_is_an_exec_error() {
        let mut missing = sh("");
        missing.program = "/nonexistent/dockroute-supervise-test".into();
        let err = run(&[Stage::One(missing.clone())], &SelfGuard::default()).unwrap_err();
        assert!(matches!(&err, Error::Exec { program, .. } if program == &missing.program));
        assert_eq!(err.exit_code(), 127);
        // A consumer that cannot start: the producer already running is stopped.
        let start = Instant::now();
        let err = run(
            &[Stage::Pipe(sh("exec sleep 300"), missing.clone())],
            &SelfGuard::default(),
        )
        .unwrap_err();
        assert!(matches!(&err, Error::Exec { program, .. } if program == &missing.program));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn supervise_leftovers_of_a_successful_stage_are_stopped() {
        let t = tempfile::tempdir().unwrap();
        let pidfile = t.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; exit 0", pidfile.display());
        assert_eq!(go(&[one(&script)]), 0);
        let pid: i32 = read(&pidfile).trim().parse().unwrap();
        // Reaped here (this process is a subreaper), so the pid is gone, not a zombie.
        assert_eq!(
            nix::sys::signal::kill(Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
    }
}
