//! The lenient `--version` parser on arbitrary output: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dockroute::docker::version::parse(&String::from_utf8_lossy(data));
});
