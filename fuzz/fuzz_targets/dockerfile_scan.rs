//! The Dockerfile scan on arbitrary bytes: never panics, and every finding points at a
//! line of the input, in order.
#![no_main]

use std::path::Path;

use dockroute::docker::dockerfile::{refusal_lines, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let findings = scan(data);
    let lines = data.split(|b| *b == b'\n').count();
    for f in &findings {
        assert!(f.line >= 1 && f.line <= lines, "line {} of {lines}", f.line);
    }
    assert!(findings.windows(2).all(|w| w[0].line <= w[1].line));
    assert_eq!(
        refusal_lines(Path::new("Dockerfile"), &findings).len(),
        findings.len()
    );
});
