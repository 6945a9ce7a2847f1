#!/usr/bin/env bash
# dockroute's benchmarks, each measured side by side in one interleaved run:
#   1. pass-through: exec'ing a no-op client directly vs. through one raw execve with no
#      libc at all (bench/rawexec.c, the floor) vs. through a static C program that only
#      calls execv vs. through dockroute (the static release build). Target (issue 16):
#      dockroute's overhead (dockroute − direct) within 2x the raw execve's, and at most
#      the C wrapper's. A std-only Rust shim taking the same steps (bench/rustshim.rs)
#      shows what std's start-up costs. Each case's median page faults (the wrapper's and
#      the client's, from wait4) are reported beside its time, and the system calls each
#      wrapper makes before the client's execve (strace, when installed);
#   2. a build-like call decided with a warm cache vs. pass-through on the same PATH
#      (stand-in clients that answer `--version` like the real ones). Target: < 1 ms more;
#      Image commands (`docker push`) also pass straight through when the record store
#      does not name their image: measured with no store and with a store of one other
#      record, against `docker ps` pass-through (target: within noise of it);
#   3. a cold probe (empty cache every run) of both real clients vs. the slowest single
#      `--version` and vs. both `--version`s started at once by a C program (bench/par.c).
#      Target: about the slowest single `--version`.
# The main measurements come from bench/harness.c (posix_spawn + waitpid per run, every
# case once per round in shuffled order); hyperfine, when available, gives a
# non-interleaved cross-check. The summary goes to stdout and bench/results.txt.
#
# Usage (from anywhere): bench/run.sh [ROUNDS [COLD_ROUNDS]]   defaults 3000 and 150
#   CARGO_TARGET_DIR is honoured; BENCH_HYPERFINE=0 skips the hyperfine cross-check.
#   BENCH_BASELINE_BIN=PATH adds an earlier static build of dockroute to the same
#   interleaved run (pass-through and warm decisions), so a change is measured against it
#   side by side rather than across runs.
# Build wall times (BuildKit routes, the legacy builder) are bench/builds.sh's.
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
rounds="${1:-3000}"
cold_rounds="${2:-150}"
results=bench/results.txt

for tool in gcc file ldd awk; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }
done
DOCKER28=/usr/local/bin/docker
DOCKER20=/usr/bin/docker
for c in "$DOCKER28" "$DOCKER20"; do
  [ -x "$c" ] || { echo "bench/run.sh needs the real client $c (Debian's docker.io gives 20.10)" >&2; exit 1; }
done

# --- 1. the static release binary --------------------------------------------------------
tdir="${CARGO_TARGET_DIR:-target}"
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  triple=x86_64-unknown-linux-musl
  cargo build --release --target "$triple"
else
  echo "bench: musl target not installed; building a static glibc binary (crt-static)" >&2
  triple=x86_64-unknown-linux-gnu
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$triple"
fi
bin="$(realpath "$tdir/$triple/release/dockroute")"
# The release profile's code generation, for the Rust reference shim (rustc directly).
opt="$(sed -n '/^\[profile\.release\]/,/^\[/s/^opt-level *= *"\{0,1\}\([0-9sz]\)"\{0,1\}.*/\1/p' Cargo.toml)"
rust_flags=(--edition 2021 --target "$triple" -C "opt-level=${opt:-s}" -C lto -C codegen-units=1 -C panic=abort
  -C strip=symbols -C target-feature=+crt-static)
[ "$triple" = x86_64-unknown-linux-gnu ] || rust_flags+=(-C relocation-model=static)
file_out="$(file -L -b "$bin")"
ldd_out="$(ldd "$bin" 2>&1 || true)"
echo "dockroute: $bin"
echo "  file: $file_out"
echo "  ldd:  $ldd_out"
if ! grep -Eq 'statically linked|static-pie linked' <<<"$file_out" || grep -q '=>' <<<"$ldd_out"; then
  echo "bench: $bin is not static; the figures would not be the shipped build's" >&2
  exit 1
fi

# --- 2./3. the C programs and the directory layout -------------------------------------
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
chmod 700 "$w"
mkdir -p "$w/real" "$w/shim" "$w/rshim" "$w/fake28" "$w/fake20" "$w/home" "$w/cache" "$w/cache-real"
cc_static() { gcc -O2 -static -Wall "$@"; }
cc_static -o "$w/real/docker" bench/noop.c
cc_static -DREAL="\"$w/real/docker\"" -o "$w/cwrap" bench/cwrap.c
gcc -O2 -static -nostdlib -no-pie -fno-stack-protector -Wall -DREAL="\"$w/real/docker\"" -o "$w/rawexec" bench/rawexec.c
cc_static -DVERSION='"28.2.2"' -DBUILD='"e6534b4"' -o "$w/fake28/docker" bench/fakeclient.c
cc_static -DVERSION='"20.10.24+dfsg1"' -DBUILD='"297e128"' -o "$w/fake20/docker" bench/fakeclient.c
cc_static -o "$w/par" bench/par.c
gcc -O2 -Wall -o "$w/harness" bench/harness.c
rustc "${rust_flags[@]}" -o "$w/rshim/docker" bench/rustshim.rs
ln -s "$bin" "$w/shim/docker"
baseline_cases=()
if [ -n "${BENCH_BASELINE_BIN:-}" ]; then
  mkdir -p "$w/bshim" "$w/cache-base"
  ln -s "$(realpath "$BENCH_BASELINE_BIN")" "$w/bshim/docker"
  env -i "HOME=$w/home" PATH="$w/bshim:$w/fake28:$w/fake20" DOCKROUTE_CACHE_DIR="$w/cache-base" DOCKROUTE_RUNTIME=open "$w/bshim/docker" build .
  baseline_cases=(--- \
    base-pass "HOME=$w/home" PATH="$w/bshim:$w/real" "$w/bshim/docker" ps --- \
    base-pass-fakes "HOME=$w/home" PATH="$w/bshim:$w/fake28:$w/fake20" "$w/bshim/docker" ps --- \
    base-build-restricted "HOME=$w/home" PATH="$w/bshim:$w/fake28:$w/fake20" DOCKROUTE_CACHE_DIR="$w/cache-base" DOCKROUTE_RUNTIME=restricted DOCKROUTE_QUIET=1 "$w/bshim/docker" build .)
fi
# A record store holding one record of another image (`docker push` must still pass).
mkdir -p "$w/state/dockroute"
printf '%s' '{"version":1,"records":[{"name":"other.example/app:1","build":{"args":["build"],"cwd":"/","context":".","dockerfile":"./Dockerfile"},"ran_on":{"kind":"daemonless"},"digest":null,"id":null,"created":1}]}' >"$w/state/dockroute/images.json"
H="$w/harness"
HOME_ENV="HOME=$w/home"
FAKES="$w/shim:$w/fake28:$w/fake20"
REALS="/usr/local/bin:/usr/bin"

machine="$(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo 'cpu unknown')"
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- src Cargo.toml Cargo.lock .cargo 2>/dev/null || rev="$rev + uncommitted src changes"
kind="$(cut -d, -f1-2 <<<"$file_out" | sed 's/ELF 64-bit LSB //'), $triple, $(($(stat -c %s "$bin") / 1024)) KiB (Rust reference shim $(($(stat -c %s "$w/rshim/docker") / 1024)) KiB)"
echo "machine: $machine"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# Warm the caches (and check the cases work) before anything is timed.
env -i "$HOME_ENV" PATH="$FAKES" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=open "$w/shim/docker" build .
env -i "$HOME_ENV" PATH="$REALS" DOCKROUTE_CACHE_DIR="$w/cache-real" DOCKROUTE_RUNTIME=open "$bin" explain -- build . >/dev/null
route_restricted="$(env -i "$HOME_ENV" PATH="$FAKES" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=restricted \
  "$bin" explain --json -- build . | sed -n 's/.*"route":"\([a-z]*\)".*/\1/p')"
[ -n "$(ls -A "$w/cache")" ] || { echo "bench: dockroute wrote no cache in $w/cache" >&2; exit 1; }

# --- 4./5. pass-through and warm decision, interleaved ----------------------------------
echo "measuring pass-through and warm decisions: $rounds rounds x 10 cases ..." >&2
out1="$("$H" -w 50 "$rounds" \
  direct "$HOME_ENV" PATH="$w/real" "$w/real/docker" ps --- \
  raw-execve "$HOME_ENV" PATH="$w/real" "$w/rawexec" ps --- \
  c-wrapper "$HOME_ENV" PATH="$w/real" "$w/cwrap" ps --- \
  dockroute-pass "$HOME_ENV" PATH="$w/shim:$w/real" "$w/shim/docker" ps --- \
  push-no-store "$HOME_ENV" PATH="$w/shim:$w/real" "$w/shim/docker" push registry.example/app:1 --- \
  push-other-store "$HOME_ENV" XDG_STATE_HOME="$w/state" PATH="$w/shim:$w/real" "$w/shim/docker" push registry.example/app:1 --- \
  rust-shim "$HOME_ENV" PATH="$w/rshim:$w/real" "$w/rshim/docker" ps --- \
  pass-fakes "$HOME_ENV" PATH="$FAKES" "$w/shim/docker" ps --- \
  build-open "$HOME_ENV" PATH="$FAKES" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=open "$w/shim/docker" build . --- \
  build-restricted "$HOME_ENV" PATH="$FAKES" DOCKROUTE_CACHE_DIR="$w/cache" DOCKROUTE_RUNTIME=restricted DOCKROUTE_QUIET=1 "$w/shim/docker" build . \
  "${baseline_cases[@]}")"

# --- 6. cold probe with the real clients, interleaved -----------------------------------
# The probe runs each client as `--version` with DOCKER_HOST=unix:///dev/null (the 20.10
# client pings the daemon first); the single-client references get the same.
echo "measuring the cold probe: $cold_rounds rounds x 6 cases ..." >&2
out2="$("$H" -w 5 "$cold_rounds" \
  version-28 "$HOME_ENV" PATH="$REALS" DOCKER_HOST=unix:///dev/null "$DOCKER28" --version --- \
  version-20 "$HOME_ENV" PATH="$REALS" DOCKER_HOST=unix:///dev/null "$DOCKER20" --version --- \
  both-parallel "$HOME_ENV" PATH="$REALS" DOCKER_HOST=unix:///dev/null "$w/par" "$DOCKER28" --version -- "$DOCKER20" --version --- \
  cold-explain "@rmrf=$w/cache-cold" "$HOME_ENV" PATH="$REALS" DOCKROUTE_CACHE_DIR="$w/cache-cold" DOCKROUTE_RUNTIME=open "$bin" explain -- build . --- \
  cold-no-store "$HOME_ENV" PATH="$REALS" DOCKROUTE_CACHE_DIR=/dev/null/unusable DOCKROUTE_RUNTIME=open "$bin" explain -- build . --- \
  warm-explain "$HOME_ENV" PATH="$REALS" DOCKROUTE_CACHE_DIR="$w/cache-real" DOCKROUTE_RUNTIME=open "$bin" explain -- build .)"

# --- system calls before the client's execve (strace -f, when installed) ----------------
# Each wrapper's own calls: the lines strace logs between the wrapper's execve and the
# client's (the process keeps its pid across the exec).
sys_lines=""
if strace_bin="$(command -v strace)"; then
  count_syscalls() { # LABEL PATH-VALUE PROGRAM
    env -i "$HOME_ENV" PATH="$2" "$strace_bin" -f -qq -o "$w/strace.out" "$3" ps >/dev/null 2>&1 || true
    echo "S $1 $(awk '/^[0-9]+ +execve\(/ { n++; next } n == 1 && !/^[0-9]+ +(\+\+\+|---)/ { c++ } END { print c + 0 }' "$w/strace.out")"
  }
  sys_lines="$(count_syscalls raw-execve "$w/real" "$w/rawexec"
    count_syscalls c-wrapper "$w/real" "$w/cwrap"
    count_syscalls dockroute-pass "$w/shim:$w/real" "$w/shim/docker"
    count_syscalls rust-shim "$w/rshim:$w/real" "$w/rshim/docker"
    [ -z "${BENCH_BASELINE_BIN:-}" ] || count_syscalls base-pass "$w/bshim:$w/real" "$w/bshim/docker")"
else
  echo "bench: strace not installed; no system call counts" >&2
fi

# --- hyperfine cross-check (each command's runs back to back, not interleaved) ---------
hf=""
if [ "${BENCH_HYPERFINE:-1}" != 0 ]; then
  if ! command -v hyperfine >/dev/null; then
    (apt-get install -y -q hyperfine >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q hyperfine >/dev/null 2>&1; }) || true
  fi
  if command -v hyperfine >/dev/null; then
    echo "hyperfine cross-check ..." >&2
    hyperfine_bin="$(command -v hyperfine)"
    env -i "$HOME_ENV" PATH="$w/shim:$w/real" "$hyperfine_bin" -N --style none --warmup 50 --runs 2000 \
      --export-json "$w/hf-pass.json" --export-csv "$w/hf-pass.csv" \
      -n direct "$w/real/docker ps" -n c-wrapper "$w/cwrap ps" -n dockroute-pass "$w/shim/docker ps" \
      >"$w/hf.log" 2>&1 || { cat "$w/hf.log" >&2; exit 1; }
    env -i "$HOME_ENV" PATH="$REALS" DOCKER_HOST=unix:///dev/null DOCKROUTE_CACHE_DIR="$w/hf-cold" DOCKROUTE_RUNTIME=open \
      "$hyperfine_bin" -N --style none --warmup 3 --runs 60 --prepare "rm -rf $w/hf-cold" \
      --export-json "$w/hf-cold.json" --export-csv "$w/hf-cold.csv" \
      -n version-28 "$DOCKER28 --version" -n version-20 "$DOCKER20 --version" \
      -n cold-explain "$bin explain -- build ." >"$w/hf.log" 2>&1 || { cat "$w/hf.log" >&2; exit 1; }
    # CSV columns: command,mean,stddev,median,user,system,min,max (seconds)
    hf="$(tail -q -n +2 "$w/hf-pass.csv" "$w/hf-cold.csv" | awk -F, '{ printf "%s %.2f\n", $1, $4 * 1e6 }')"
  else
    echo "bench: hyperfine not available; skipping the cross-check" >&2
  fi
fi

# --- 7. summary --------------------------------------------------------------------------
{
  echo "dockroute bench ($(date -u +%Y-%m-%d), $rev)"
  echo "machine: $machine; load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
  echo "binary:  $kind"
  echo "ldd:     $ldd_out"
  printf '%s\n' "$out1" "$out2" | sed 's/^/H /'
  [ -z "$sys_lines" ] || printf '%s\n' "$sys_lines"
  [ -z "$hf" ] || printf '%s\n' "$hf" | sed 's/^/F /'
} | awk -v rounds="$rounds" -v cold="$cold_rounds" -v routed="$route_restricted" '
  $1 == "H" { med[$2] = $3 / 1000; p10[$2] = $4 / 1000; p90[$2] = $5 / 1000; fails[$2] = $7; faults[$2] = $8; next }
  $1 == "S" { sys[$2] = $3; nsys++; next }
  $1 == "F" { hf[$2] = $3 / 1000; nhf++; next }
  { print }
  function row(label, key, extra) {
    printf "  %-44s %8.3f %8.3f %8.3f %6s  %s\n", label, med[key], p10[key], p90[key], faults[key], extra
    if (fails[key] > 0) bad = bad sprintf(" %s(%d)", key, fails[key])
  }
  END {
    c = med["c-wrapper"] - med["direct"]; d = med["dockroute-pass"] - med["direct"]
    pc = med["c-wrapper-minus-direct"]; pd = med["dockroute-pass-minus-direct"]
    r = med["rust-shim"] - med["direct"]
    bo = med["build-open"] - med["pass-fakes"]; br = med["build-restricted"] - med["pass-fakes"]
    v28 = med["version-28"]; v20 = med["version-20"]; slow = (v28 > v20) ? v28 : v20
    f = med["raw-execve"] - med["direct"]; pf = med["raw-execve-minus-direct"]
    printf "\n%-46s %8s %8s %8s %6s\n", "case (ms; " rounds " interleaved rounds)", "median", "p10", "p90", "faults"
    print "pass-through (docker ps)"
    row("no-op client, exec'"'"'d directly", "direct", "")
    row("one raw execve, no libc (the floor)", "raw-execve", sprintf("+%.3f", f))
    row("static C execv wrapper", "c-wrapper", sprintf("+%.3f", c))
    row("dockroute pass-through", "dockroute-pass", sprintf("+%.3f", d))
    row("reference: std-only Rust shim, same steps", "rust-shim", sprintf("+%.3f", r))
    row("dockroute docker push, no record store", "push-no-store", sprintf("%+.3f over docker ps", med["push-no-store"] - med["dockroute-pass"]))
    row("dockroute docker push, store of another image", "push-other-store", sprintf("%+.3f over docker ps", med["push-other-store"] - med["dockroute-pass"]))
    print "warm build-like decision (stand-in clients, same PATH)"
    row("dockroute pass-through (docker ps)", "pass-fakes", "")
    row("docker build . (RUNTIME=open, passes)", "build-open", sprintf("+%.3f", bo))
    row("docker build . (RUNTIME=restricted, " routed ")", "build-restricted", sprintf("+%.3f", br))
    printf "\n%-46s %8s %8s %8s %6s\n", "case (ms; " cold " interleaved rounds)", "median", "p10", "p90", "faults"
    print "cold probe (real clients)"
    row("/usr/local/bin/docker --version (28.2.2)", "version-28", "")
    row("/usr/bin/docker --version (20.10.24)", "version-20", "")
    row("both --version at once (C floor)", "both-parallel", "")
    row("dockroute explain -- build ., empty cache", "cold-explain", sprintf("x%.2f of slowest", med["cold-explain"] / slow))
    row("  same, cache dir unusable (no store/fsync)", "cold-no-store", "")
    row("dockroute explain -- build ., warm cache", "warm-explain", "")
    if ("base-pass" in med) {
      print "baseline build (BENCH_BASELINE_BIN), same rounds"
      row("baseline pass-through (docker ps)", "base-pass", sprintf("+%.3f", med["base-pass"] - med["direct"]))
      row("baseline docker build . (RUNTIME=restricted)", "base-build-restricted", sprintf("+%.3f over its pass-through", med["base-build-restricted"] - med["base-pass-fakes"]))
    }
    print "\nresults against the targets"
    printf "  pass-through overhead / one raw execve'"'"'s: %.2f from medians, %.2f from paired rounds  (target <= 2.0)\n", (f > 0 ? d / f : 0), (pf > 0 ? pd / pf : 0)
    if ("base-pass" in med) {
      bd = med["base-pass"] - med["direct"]; pbd = med["base-pass-minus-direct"]
      printf "    baseline (BENCH_BASELINE_BIN) / one raw execve'"'"'s: %.2f from medians, %.2f from paired rounds\n", (f > 0 ? bd / f : 0), (pf > 0 ? pbd / pf : 0)
    }
    printf "  page faults over the direct exec: raw execve %+d, C wrapper %+d, dockroute %+d", faults["raw-execve"] - faults["direct"], faults["c-wrapper"] - faults["direct"], faults["dockroute-pass"] - faults["direct"]
    if ("base-pass" in med) printf ", baseline %+d", faults["base-pass"] - faults["direct"]
    printf "\n"
    if (nsys > 0) {
      printf "  system calls before the client'"'"'s execve (strace): raw execve %d, C wrapper %d, dockroute %d, std-only Rust shim %d", sys["raw-execve"], sys["c-wrapper"], sys["dockroute-pass"], sys["rust-shim"]
      if ("base-pass" in sys) printf ", baseline %d", sys["base-pass"]
      printf "\n"
    }
    printf "  pass-through overhead ratio (dockroute / C wrapper): %.2f from medians, %.2f from paired rounds  (target <= 1.0)\n", (c > 0 ? d / c : 0), (pc > 0 ? pd / pc : 0)
    printf "  dockroute pass-through overhead / std-only Rust shim overhead: %.2f\n", (r > 0 ? d / r : 0)
    printf "  warm decision over pass-through: +%.3f ms open, +%.3f ms restricted  (target < 1 ms)\n", bo, br
    printf "  cold probe: %.2f ms vs slowest single --version %.2f ms: x%.2f  (target: about x1)\n", med["cold-explain"], slow, med["cold-explain"] / slow
    printf "    vs both --version at once (the floor on this machine) %.2f ms: x%.2f; storing the cache: %+.2f ms\n", med["both-parallel"], med["cold-explain"] / med["both-parallel"], med["cold-explain"] - med["cold-no-store"]
    if ("base-pass" in med) {
      bd = med["base-pass"] - med["direct"]
      printf "  against the baseline: pass-through overhead %.3f ms now vs %.3f ms (ratio %.2f); warm restricted decision +%.3f ms now vs +%.3f ms over each one'"'"'s pass-through, %.3f ms vs %.3f ms in all\n", d, bd, (bd > 0 ? d / bd : 0), br, med["base-build-restricted"] - med["base-pass-fakes"], med["build-restricted"], med["base-build-restricted"]
    }
    if (nhf > 0) {
      hc = hf["c-wrapper"] - hf["direct"]; hd = hf["dockroute-pass"] - hf["direct"]
      hs = (hf["version-28"] > hf["version-20"]) ? hf["version-28"] : hf["version-20"]
      print "\nhyperfine -N cross-check (medians, ms; runs back to back, not interleaved)"
      printf "  direct %.3f, C wrapper %.3f, dockroute %.3f: ratio %.2f\n", hf["direct"], hf["c-wrapper"], hf["dockroute-pass"], (hc > 0 ? hd / hc : 0)
      printf "  --version 28: %.2f, 20.10: %.2f; cold explain: %.2f (x%.2f)\n", hf["version-28"], hf["version-20"], hf["cold-explain"], hf["cold-explain"] / hs
    }
    if (bad != "") printf "\nWARNING: runs that did not exit 0:%s\n", bad
  }' | tee "$results"
