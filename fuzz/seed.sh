#!/usr/bin/env bash
# Seeds the fuzz corpora from the committed fixtures: every delegate blob (tests/fixtures,
# tests/op_fixtures, tests/op_fixtures_pending) for parse_blob and dry_run; for mutate_graph,
# whose inputs are mutation scripts over those same blobs, one script per blob that picks it.
#   fuzz/seed.sh        (idempotent; fuzz/corpus is git-ignored)
set -euo pipefail
FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$FUZZ")"
mkdir -p "$FUZZ/corpus/parse_blob" "$FUZZ/corpus/dry_run" "$FUZZ/corpus/mutate_graph"
n=0
while IFS= read -r blob; do
  name="$(echo "${blob#"$ROOT"/tests/}" | tr '/' '_')"
  cp "$blob" "$FUZZ/corpus/parse_blob/$name"
  cp "$blob" "$FUZZ/corpus/dry_run/$name"
  # Script: the seed's index (blobs in sorted path order, as the target lists them), a
  # configuration byte, and a mutation count of 1.
  printf "$(printf '\\x%02x\\x%02x\\x00' $((n % 256)) $((n % 251)))" >"$FUZZ/corpus/mutate_graph/seed$n"
  n=$((n + 1))
done < <(find "$ROOT/tests/fixtures" "$ROOT/tests/op_fixtures" "$ROOT/tests/op_fixtures_pending" \
           -name 'delegate*.bin' | LC_ALL=C sort)
echo "fuzz corpora seeded from $n fixture blobs"
