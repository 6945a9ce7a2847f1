//! The `dockroute` executable: everything lives in the library. With `#![no_main]` this
//! exports the C `main` itself, so that [`dockroute::entry::main`] decides a plain
//! pass-through before std's runtime start-up (which the lean path does not need and the
//! full path then does as std would): see `src/entry.rs` for why and what it costs.
//! (Built as a test, by `cargo test --all-targets`, the harness's own `main` runs.)
#![cfg_attr(not(test), no_main)]

/// The C runtime's `main`.
#[cfg(not(test))]
#[allow(unsafe_code)] // `no_mangle`: this is the symbol the C runtime calls.
#[no_mangle]
extern "C" fn main(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
    envp: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // SAFETY: these are the C runtime's own arguments to `main`, as `entry::main` requires.
    unsafe { dockroute::entry::main(argc, argv, envp) }
}
