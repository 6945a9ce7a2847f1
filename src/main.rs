//! The `dockroute` executable: everything lives in the library. With `#![no_main]` this
//! exports the C `main` itself, so that [`dockroute::entry::main`] decides a plain
//! pass-through before std's runtime start-up (which the lean path does not need and the
//! full path then does as std would): see `src/entry.rs` for why and what it costs.
#![no_main]

use std::ffi::{c_char, c_int};

/// The C runtime's `main`.
#[allow(unsafe_code)] // `no_mangle`: this is the symbol the C runtime calls.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: these are the C runtime's own arguments to `main`, as `entry::main` requires.
    unsafe { dockroute::entry::main(argc, argv, envp) }
}
