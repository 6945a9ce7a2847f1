#!/usr/bin/env bash
# dockroute's benchmarks (SPEC §3), measured side by side in one run:
#   1. pass-through: direct exec of a no-op client vs. a static C execv wrapper vs.
#      dockroute (static release build) — ratio of overheads, target <= 1.0;
#   2. a build-like decision with a warm cache vs. pass-through — target < 1 ms more;
#   3. a cold probe of both real clients vs. the slowest single `--version`.
# Usage: bench/run.sh [ROUNDS]   (default 2000 rounds for 1–2, ROUNDS/20 for 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2000}"
command -v gcc >/dev/null || { echo "bench needs gcc" >&2; exit 1; }

target=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -q "$target" || rustup target add "$target" >/dev/null 2>&1; then
  cargo build --release --quiet --target "$target"
  bin="target/$target/release/dockroute"
else
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --quiet --target x86_64-unknown-linux-gnu
  bin="target/x86_64-unknown-linux-gnu/release/dockroute"
fi
bin="$(realpath "$bin")"

w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/real" "$w/shim" "$w/fake28" "$w/fake20" "$w/cache"
gcc -O2 -static -o "$w/real/docker" bench/noop.c
gcc -O2 -static -DREAL="\"$w/real/docker\"" -o "$w/cwrap" bench/cwrap.c
gcc -O2 -static -DVERSION='"28.2.2"' -o "$w/fake28/docker" bench/fakeclient.c
gcc -O2 -static -DVERSION='"20.10.24+dfsg1"' -o "$w/fake20/docker" bench/fakeclient.c
gcc -O2 -o "$w/harness" bench/harness.c
ln -s "$bin" "$w/shim/docker"

echo "machine: $(nproc) cores, $(uname -r); dockroute: $(file -b "$bin" | cut -d, -f1-2 | sed 's/ELF 64-bit LSB //')"

H="$w/harness"
out1="$("$H" "$rounds" \
  direct PATH="$w/real" "$w/real/docker" ps --- \
  c-wrapper PATH="$w/real" "$w/cwrap" ps --- \
  dockroute-pass PATH="$w/shim:$w/real" "$w/shim/docker" ps --- \
  dockroute-build-open PATH="$w/shim:$w/fake28:$w/fake20" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=open "$w/shim/docker" build . --- \
  dockroute-build-restricted PATH="$w/shim:$w/fake28:$w/fake20" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=restricted DOCKROUTE_QUIET=1 "$w/shim/docker" build . --- \
  dockroute-pass-fakes PATH="$w/shim:$w/fake28:$w/fake20" "$w/shim/docker" ps)"

cold_rounds=$(( rounds / 20 > 20 ? rounds / 20 : 20 ))
out2="$("$H" "$cold_rounds" \
  version-28 PATH=/usr/bin /usr/local/bin/docker --version --- \
  version-20.10 PATH=/usr/bin /usr/bin/docker --version --- \
  cold-probe-both PATH="/usr/local/bin:/usr/bin" DOCKROUTE_CACHE_DIR=/dev/null/no-cache DOCKROUTE_RUNTIME=open "$bin" explain -- build . --- \
  warm-explain PATH="/usr/local/bin:/usr/bin" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=open "$bin" explain -- build .)"

printf '%s\n%s\n' "$out1" "$out2" | awk '
  { med[$1] = $2; p10[$1] = $3; p90[$1] = $4; order[n++] = $1 }
  END {
    printf "%-28s %10s %10s %10s\n", "case", "median ms", "p10 ms", "p90 ms"
    for (i = 0; i < n; i++) printf "%-28s %10.3f %10.3f %10.3f\n", order[i], med[order[i]]/1000, p10[order[i]]/1000, p90[order[i]]/1000
    c = med["c-wrapper"] - med["direct"]; d = med["dockroute-pass"] - med["direct"]
    printf "\npass-through overhead: dockroute %.3f ms, C execv wrapper %.3f ms, ratio %.2f (target <= 1.0)\n", d/1000, c/1000, (c > 0 ? d/c : 0)
    printf "warm build decision vs pass-through (same PATH): +%.3f ms open, +%.3f ms restricted (target < 1 ms)\n", (med["dockroute-build-open"]-med["dockroute-pass-fakes"])/1000, (med["dockroute-build-restricted"]-med["dockroute-pass-fakes"])/1000
    s = (med["version-28"] > med["version-20.10"]) ? med["version-28"] : med["version-20.10"]
    printf "cold probe of both real clients: %.3f ms vs slowest single --version %.3f ms (ratio %.2f); warm: %.3f ms\n", med["cold-probe-both"]/1000, s/1000, med["cold-probe-both"]/s, med["warm-explain"]/1000
  }' | tee bench/results.txt
