#!/usr/bin/env bash
# Runs build/etvk_run on every fixture directory (tests/fixtures/<name>/ holding model.pte) with
# its inputs and expected outputs, and fails when any fixture fails.
#
#   scripts/test_runner.sh [NAME ...]        all fixtures, or only the named ones
#
# Per fixture: model.pte, optional model.ptd (--data), input0.npy input1.npy ... (--inputs),
# expected0.npy expected1.npy ... (--expected, required), optional runner_args (extra etvk_run
# arguments on one line, e.g. "--atol 1e-3 --rtol 1e-3").
# Environment: ETVK_RUN (runner binary), ETVK_FIXTURES (fixture root), ETVK_RUN_TIMEOUT (s).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${ETVK_RUN:-$ROOT/build/etvk_run}"
FIXTURES="${ETVK_FIXTURES:-$ROOT/tests/fixtures}"
TIMEOUT="${ETVK_RUN_TIMEOUT:-600}"

if [[ ! -x "$RUN" ]]; then
  echo "test_runner: $RUN not found; run \`make build\` first" >&2
  exit 2
fi

numbered() { # numbered DIR PREFIX -> DIR/PREFIX0.npy DIR/PREFIX1.npy ... (while they exist)
  local i=0
  while [[ -f "$1/$2$i.npy" ]]; do
    printf '%s\n' "$1/$2$i.npy"
    i=$((i + 1))
  done
}

pass=0
fail=0
failed=()
for dir in "$FIXTURES"/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  [[ -f "$dir/model.pte" ]] || continue
  if (($#)) && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  mapfile -t inputs < <(numbered "$dir" input)
  mapfile -t expected < <(numbered "$dir" expected)
  args=("$dir/model.pte" --iters 1)
  [[ -f "$dir/model.ptd" ]] && args+=(--data "$dir/model.ptd")
  ((${#inputs[@]})) && args+=(--inputs "${inputs[@]}")
  if ((${#expected[@]} == 0)); then
    echo "FAIL  $name: no expected0.npy"
    fail=$((fail + 1))
    failed+=("$name")
    continue
  fi
  args+=(--expected "${expected[@]}")
  if [[ -f "$dir/runner_args" ]]; then
    read -r -a extra <"$dir/runner_args"
    args+=("${extra[@]}")
  fi

  log="$(mktemp)"
  start=${EPOCHREALTIME/./}
  timeout "$TIMEOUT" "$RUN" "${args[@]}" >"$log" 2>&1
  rc=$?
  us=$((${EPOCHREALTIME/./} - start))
  secs="$((us / 1000000)).$(printf '%02d' $((us % 1000000 / 10000)))"
  if ((rc == 0)); then
    echo "ok    $name (${secs}s)"
    pass=$((pass + 1))
  else
    echo "FAIL  $name (exit $rc): ${RUN##*/} ${args[*]}"
    sed 's/^/      /' "$log"
    fail=$((fail + 1))
    failed+=("$name")
  fi
  rm -f "$log"
done

echo "runner fixtures: $pass passed, $fail failed${failed[*]:+ (${failed[*]})}"
if ((pass + fail == 0)); then
  echo "test_runner: no fixtures found under $FIXTURES" >&2
  exit 1
fi
((fail == 0))
