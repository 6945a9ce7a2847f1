//! The image record store's decoder on arbitrary bytes: never panics, whatever the file
//! holds (a corrupt store must read as empty, with a notice).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dockroute::images::store::decode(data);
});
