#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS, default 60 each) and prints
# the executions libFuzzer reports. Needs cargo-fuzz (`cargo install cargo-fuzz`) and the
# nightly toolchain (`rustup toolchain install nightly`); with only stable installed,
# RUSTC_BOOTSTRAP=1 lets stable accept the sanitizer flags cargo-fuzz passes.
# Crashing inputs land in fuzz/artifacts/<target>/: add each as a regression unit test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
toolchain=()
if rustup toolchain list | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  if cargo "${toolchain[@]}" fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
  fi
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
  [ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  printf '%-14s %-7s executions: %s\n' "$t" "$status" "${execs:-?}"
  if [ "$status" = FAILED ]; then tail -40 "$log"; fi
  rm -f "$log"
done
