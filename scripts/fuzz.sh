#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60): the short run the test command makes.
# The long run is the same script with hours: `scripts/fuzz.sh 14400` (see BENCHMARKS.md).
# cargo fuzz needs unstable compiler flags: the nightly toolchain where rustup has one, else
# the stable one with RUSTC_BOOTSTRAP=1 (its sanitizer runtime ships with it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-60}"
command -v cargo-fuzz >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz" ] \
  || cargo install cargo-fuzz --locked --version 0.13.2
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
cd "$ROOT"
for target in mask_json mask_structured restore_sse restore_json; do
  # A scratch copy of the corpus: what a run finds is not committed by accident.
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$work/"
  echo "fuzz: $target for ${SECONDS_EACH}s"
  log="$work.log"
  if ! "${fuzz[@]}" run "$target" "$work" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target failed (the input is in fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E '(DONE|^Done [0-9]+ runs|^stat::number_of_executed_units|^stat::peak_rss_mb)' "$log" || true
  rm -rf "$work" "$log"
done
