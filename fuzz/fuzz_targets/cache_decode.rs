//! The cache decoder on arbitrary bytes: never panics, whatever the file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dockroute::probe::cache::decode::<serde_json::Value>(data);
    let _ = dockroute::probe::cache::decode::<Vec<(String, u64)>>(data);
});
