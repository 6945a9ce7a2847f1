//! The daemon probe's HTTP response parser on arbitrary bytes: never panics, and a body
//! it accepts is never larger than the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = dockroute::net::http::parse_response(data) {
        assert!(r.body.len() <= 64 * 1024);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = dockroute::probe::daemon::parse_denial(s);
        let _ = dockroute::probe::daemon::classify_client_output(s);
    }
});
