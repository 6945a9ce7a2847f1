//! The `/proc/self/mountinfo` parser (octal escapes included) on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = dockroute::probe::mounts::MountPoints::parse(&String::from_utf8_lossy(data));
    let _ = m.is_mounted(std::path::Path::new("/usr/bin/docker"));
});
