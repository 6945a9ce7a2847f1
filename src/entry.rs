//! The process entry: the C `main(argc, argv, envp)` that `src/main.rs` exports
//! (`#![no_main]`). With the supervisor's `pre_exec`, `main.rs`'s `no_mangle` and the
//! `link_section` of `fast_path`'s names, the crate's only unsafe code.
//!
//! Why it exists (issue 16 part 4): std's runtime start-up and everything dockroute sets
//! up cost a plain pass-through about five times one raw `execve` (bench/run.sh: 33 more
//! page faults than a direct exec, 23 system calls before the client's `execve`). The
//! call that needs none of it — `docker ps` handed to the first real client — is decided
//! here, before any of it, by `crate::fast_path`, and exec'd with one `execve`. Every
//! other call, and every call the lean path is not sure of, takes the full path, with
//! std's start-up redone as std does it.
//!
//! What is unsafe here, and why each is sound:
//! - reading `argv` and `envp`: the C runtime hands `main` `argc` valid C strings and a
//!   NULL-terminated array of C strings, all living as long as the process;
//! - `poll`, `stat`, `fcntl`, `open`, `signal` and `execve`: system calls whose pointer
//!   arguments are live buffers of the right type, NUL-terminated strings, and
//!   NULL-terminated arrays of them.
//!
//! What std's start-up does that the full path redoes (`start_like_std`): closed fds
//! 0–2 reopened on `/dev/null`, `SIGPIPE` ignored (writes to a closed pipe fail with
//! `EPIPE`), the arguments handed to [`args`] (on musl, `std::env::args_os` is filled only
//! by std's own `main`). What it does not redo: the stack-overflow handler (a stack
//! overflow is a plain `SIGSEGV`, not std's message) and naming the main thread `main`.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr, OsStr, OsString};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use crate::fast_path::{self, LeanExec, Stat, Strings};
use crate::guard::FileId;

/// The arguments `main` was given, argv\[0\] included (set on the full path).
static ARGS: OnceLock<Vec<OsString>> = OnceLock::new();

/// The most arguments (argv\[0\] included) and environment entries (with the two guard
/// variables) the lean path's `execve` arrays hold; a call with more takes the full path.
/// Small on purpose: the arrays live on the stack, and every stack page a frame spans is
/// touched (stack probes), each a page fault; 2.5 KiB in all covers CI environments of a
/// couple of hundred variables.
const MAX_ARGS: usize = 64;
const MAX_ENV: usize = 256;

/// The process's arguments, argv\[0\] included: those handed to [`main`], else std's (a
/// program that did not start through [`main`], such as the test harness).
#[must_use]
pub fn args() -> Vec<OsString> {
    ARGS.get()
        .cloned()
        .unwrap_or_else(|| std::env::args_os().collect())
}

/// argv\[0\], as [`args`] has it.
#[must_use]
pub(crate) fn arg0() -> Option<OsString> {
    match ARGS.get() {
        Some(a) => a.first().cloned(),
        None => std::env::args_os().next(),
    }
}

/// The C runtime's argv or envp: pointers to C strings that live as long as the process.
#[derive(Clone, Copy)]
struct CStrings(&'static [*const c_char]);

impl Strings for CStrings {
    fn count(&self) -> usize {
        self.0.len()
    }
    #[inline(always)] // one function for the lean path's code: fewer pages touched
    fn at(&self, i: usize) -> &[u8] {
        // SAFETY: every pointer in argv and envp is a valid C string for the whole
        // process (`main`'s contract).
        unsafe { CStr::from_ptr(self.0[i]) }.to_bytes()
    }
}

/// The program: the lean pass-through when `fast_path::decide` takes the call, else
/// std's start-up and [`crate::run`]. Never returns.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings and `envp` to a
/// NULL-terminated array of them, all valid for the rest of the process: the arguments
/// the C runtime passes to `main`.
// The lean path's code (fast_path is inlined here) in `.text.hot`, which the linker puts
// at the start of the code, on the pages the C runtime's `_start` touches anyway: one
// page fault fewer than wherever it would land (perf record -e page-faults).
#[link_section = ".text.hot.dockroute_entry"]
pub unsafe fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> ! {
    let argv = CStrings(match usize::try_from(argc) {
        // SAFETY: the C runtime's argv holds argc pointers (the caller's contract).
        Ok(n) if n > 0 && !argv.is_null() => unsafe { std::slice::from_raw_parts(argv, n) },
        _ => &[],
    });
    // SAFETY: envp is NULL-terminated (the caller's contract); it is read before anything
    // could call setenv.
    let env = CStrings(unsafe { null_terminated(envp) });
    if std_fds_open() && argv.count() < MAX_ARGS && env.count() + 3 <= MAX_ENV {
        if let Ok(plan) = fast_path::decide(&argv, &env, stat) {
            exec(&plan, argv, env);
            // execve failed: the full path tries again and reports it.
        }
    }
    start_like_std();
    let _ = ARGS.set(
        (0..argv.count())
            .map(|i| OsStr::from_bytes(argv.at(i)).to_owned())
            .collect(),
    );
    std::process::exit(i32::from(crate::run()))
}

/// The pointers of a NULL-terminated array, without the NULL.
///
/// # Safety
/// `p` is NULL or points to a NULL-terminated array of pointers valid for the process.
#[inline(always)] // into `main`, beside `_start` (see there)
unsafe fn null_terminated(p: *const *const c_char) -> &'static [*const c_char] {
    if p.is_null() {
        return &[];
    }
    let mut n = 0;
    // SAFETY: the array is NULL-terminated, so every index up to the NULL is in bounds.
    while !unsafe { *p.add(n) }.is_null() {
        n += 1;
    }
    // SAFETY: n pointers, all in bounds (above).
    unsafe { std::slice::from_raw_parts(p, n) }
}

/// stat(2) of a NUL-terminated path, with no allocation (std's `metadata` would build a
/// `PathBuf` and touch a dozen more pages).
#[inline(always)] // into `main`, beside `_start` (see there)
fn stat(path: &[u8]) -> Option<Stat> {
    // fast_path's paths end in their NUL and hold no other (they are made of argv and
    // environment bytes); the check keeps a mistake from reading past the end.
    if path.last() != Some(&0) {
        return None;
    }
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a NUL-terminated path and a buffer of the right type for the kernel to fill.
    if unsafe { libc::stat(path.as_ptr().cast(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: stat returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    Some(Stat {
        mode: st.st_mode,
        id: FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        },
    })
}

/// Whether fds 0, 1 and 2 are all open (one `poll`, as std's start-up checks them). When
/// one is closed, or the check fails, the lean path defers, and the full path's start-up
/// reopens it on `/dev/null` as std would have before the client inherits it.
#[inline(always)] // into `main`, beside `_start` (see there)
fn std_fds_open() -> bool {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: fds is a live array of three pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    n >= 0 && fds.iter().all(|f| f.revents & libc::POLLNVAL == 0)
}

/// Replaces the process with the plan's client; returns only when `execve` failed.
/// argv\[0\] is the client's path, every other argument the caller's own pointer (byte
/// for byte); the environment is the caller's, in its order, with the guard replaced.
#[inline(always)] // into `main`, beside `_start` (see there)
fn exec(plan: &LeanExec, argv: CStrings, env: CStrings) {
    // Filled only as far as used; `main` checked that argv and envp fit.
    let mut child_argv = [MaybeUninit::<*const c_char>::uninit(); MAX_ARGS];
    let mut child_env = [MaybeUninit::<*const c_char>::uninit(); MAX_ENV];
    child_argv[0].write(plan.program.as_c_bytes().as_ptr().cast());
    let mut n = 1;
    for p in argv.0.iter().skip(1) {
        child_argv[n].write(*p);
        n += 1;
    }
    child_argv[n].write(std::ptr::null());
    let mut m = 0;
    for (i, p) in env.0.iter().enumerate() {
        if LeanExec::keeps(env.at(i)) {
            child_env[m].write(*p);
            m += 1;
        }
    }
    for var in [plan.guard.as_c_bytes(), plan.hops.as_c_bytes()] {
        child_env[m].write(var.as_ptr().cast());
        m += 1;
    }
    child_env[m].write(std::ptr::null());
    // As std's Command does before it execs: the client starts with SIGPIPE at its
    // default, whatever dockroute inherited.
    // SAFETY: setting a signal's disposition to SIG_DFL has no memory effects.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // SAFETY: the program is a NUL-terminated path; both arrays are initialised up to and
    // including their NULL (argc < MAX_ARGS and envc + 3 <= MAX_ENV, checked in main),
    // and point to the caller's argv and envp strings and to the plan's buffers.
    unsafe {
        libc::execve(
            plan.program.as_c_bytes().as_ptr().cast(),
            child_argv.as_ptr().cast(),
            child_env.as_ptr().cast(),
        )
    };
}

/// What std's runtime start-up does before `main` and the full path relies on: fds 0–2
/// open (a closed one reopened on `/dev/null`, so no file dockroute opens lands on it
/// and the client inherits `/dev/null`, not a closed fd), and `SIGPIPE` ignored.
fn start_like_std() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        // SAFETY: open with a static C string; the lowest free fd is the closed one.
        if closed && unsafe { libc::open(b"/dev/null\0".as_ptr().cast(), libc::O_RDWR, 0) } == -1 {
            // As std does: carrying on could write dockroute's output into a file
            // opened later on that descriptor.
            std::process::abort();
        }
    }
    // SAFETY: ignoring a signal has no memory effects.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}
