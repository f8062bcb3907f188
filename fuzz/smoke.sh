#!/usr/bin/env bash
# The fuzz targets for a short while each (a `make test` step): parse_blob, dry_run and
# mutate_graph, ETVK_FUZZ_SECONDS (default 20) each, from corpora seeded with the committed
# fixtures (fuzz/corpus/, git-ignored, grows from run to run). Fails on any crash, hang
# (10 s per input) or out-of-memory (2 GB); the input that failed is in fuzz/artifacts/.
# Exits 77 (skipped) without the nightly toolchain or cargo-fuzz (`make fuzz-deps`).
#   fuzz/smoke.sh
set -uo pipefail
FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$FUZZ")"
SECONDS_EACH="${ETVK_FUZZ_SECONDS:-20}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "SKIP: no nightly Rust toolchain (rustup toolchain install nightly)"
  exit 77
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "SKIP: cargo-fuzz is not installed (make fuzz-deps, or cargo install cargo-fuzz)"
  exit 77
fi
"$FUZZ/seed.sh" || exit 1
cd "$ROOT" || exit 1
cargo +nightly fuzz build -O 2>&1 | tail -1
status=0
for target in parse_blob dry_run mutate_graph; do
  log="$(mktemp)"
  cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" -- -max_total_time="$SECONDS_EACH" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  if ((rc == 0)); then
    echo "ok    $target: ${runs:-?} executions in ${SECONDS_EACH} s, no crash, hang or OOM"
  else
    echo "FAIL  $target (exit $rc) after ${runs:-?} executions:"
    grep -E "ERROR|panicked|SUMMARY|Test unit written|artifact" "$log" | head -20 | sed 's/^/      /'
    status=1
  fi
  rm -f "$log"
done
exit $status
