//! Times `dockroute::docker::dockerfile::scan` on a generated, realistic 300-line
//! Dockerfile (directives, comments, multi-stage `FROM`s, long `RUN` continuations,
//! `COPY`/`ADD` with flags, a heredoc) and prints the median time per scan.
//!
//! Usage: `cargo run --release --example scan_bench [RUNS]` (default 2000 runs).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use dockroute::docker::dockerfile::scan;

/// Lines of the generated Dockerfile.
const LINES: usize = 300;

/// A Dockerfile of exactly [`LINES`] lines, mixing the shapes real ones have.
fn dockerfile() -> String {
    let mut lines: Vec<String> = vec![
        "# syntax=docker/dockerfile:1.7".into(),
        "# escape=\\".into(),
        String::new(),
        "ARG BASE=debian:bookworm-slim".into(),
        "FROM --platform=$BUILDPLATFORM ${BASE} AS build".into(),
        "ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8".into(),
        "RUN <<EOF".into(),
        "set -eux".into(),
        "apt-get update".into(),
        "apt-get install -y --no-install-recommends ca-certificates curl git".into(),
        "rm -rf /var/lib/apt/lists/*".into(),
        "EOF".into(),
    ];
    let mut stage = 0;
    while lines.len() < LINES - 2 {
        stage += 1;
        lines.push(String::new());
        lines.push(format!("# Stage {stage}: build the component"));
        lines.push(format!("FROM build AS stage{stage}"));
        lines.push(format!("WORKDIR /src/component{stage}"));
        lines.push("COPY --chown=1000:1000 go.mod go.sum ./".into());
        lines.push("RUN --mount=type=cache,target=/root/.cache/go-build \\".into());
        lines.push("    --mount=type=cache,target=/go/pkg/mod \\".into());
        lines.push("    go mod download \\".into());
        lines.push("    # comments inside a continuation are skipped".into());
        lines.push("    && go build -trimpath -ldflags='-s -w' -o /out/app . \\".into());
        lines.push("    && echo \"built << done\" > /out/status".into());
        lines.push(format!(
            "COPY --link --chmod=0755 scripts/run{stage}.sh /usr/local/bin/"
        ));
        lines.push(format!(
            "ADD --checksum=sha256:{stage:064x} https://example.com/a{stage}.tgz /tmp/"
        ));
        lines.push("LABEL org.opencontainers.image.source=\"https://example.com/r\" \\".into());
        lines.push(format!(
            "      org.opencontainers.image.version=\"1.{stage}.0\""
        ));
        lines.push("HEALTHCHECK --interval=30s CMD [\"/usr/local/bin/healthcheck\"]".into());
        lines.push("USER 1000:1000".into());
    }
    lines.truncate(LINES - 2);
    lines.push("EXPOSE 8080".into());
    lines.push("ENTRYPOINT [\"/out/app\"]".into());
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000)
        .max(1);
    let text = dockerfile();
    assert_eq!(text.lines().count(), LINES);
    let findings = scan(text.as_bytes()).len();
    for _ in 0..runs / 10 {
        black_box(scan(black_box(text.as_bytes())));
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(scan(black_box(text.as_bytes())));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "scan {LINES} lines: median {median:.3} ms over {runs} runs ({findings} findings each)"
    );
}
