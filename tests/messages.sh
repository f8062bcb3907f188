#!/usr/bin/env bash
# Failure messages reach the user: etvk's reason is in ExecuTorch's log (through the plugin) and
# in etvk_run's own error line; inputs the runner invents are valid.
#   tests/messages.sh      (after `make build`; ETVK_RUN overrides the runner)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${ETVK_RUN:-$ROOT/build/etvk_run}"
EXAMPLE="$ROOT/tests/fixtures/example/model.pte"
pass=0
fail=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# check NAME WANT_EXIT PATTERN... -- CMD...: runs CMD (stdout + stderr into one log), wants its
# exit status and every extended regex PATTERN in the log.
check() {
  local name="$1" want="$2"
  shift 2
  local patterns=()
  while [[ "$1" != "--" ]]; do patterns+=("$1"); shift; done
  shift
  "$@" >"$tmp/log" 2>&1
  local rc=$? missing=()
  for p in "${patterns[@]}"; do grep -Eq -- "$p" "$tmp/log" || missing+=("$p"); done
  if [[ $rc == "$want" && ${#missing[@]} == 0 ]]; then
    echo "ok    $name"
    pass=$((pass + 1))
  else
    echo "FAIL  $name: exit $rc (want $want), missing: ${missing[*]:-none}"
    sed 's/^/      /' "$tmp/log"
    fail=$((fail + 1))
  fi
}

check "ETVK_DEVICE matching nothing lists the devices" 3 \
  "etvk_backend.cpp.*etvk: no usable Vulkan device: ETVK_DEVICE=no-such-device matches no Vulkan device.*devices found: 0 '" \
  "etvk_run: loading method 'forward' failed .*: etvk: ETVK_DEVICE=no-such-device" \
  -- env ETVK_DEVICE=no-such-device "$RUN" "$EXAMPLE" --iters 1

# The same program with one operator renamed (same length, so the flatbuffer stays valid).
python3 - "$EXAMPLE" "$tmp/renamed.pte" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
old, new = b"aten._softmax.default", b"aten._softmaX.default"
assert old in data, "the example program has no softmax"
open(sys.argv[2], "wb").write(data.replace(old, new))
PY
check "an init failure carries etvk's reason" 3 \
  "etvk_backend.cpp.*etvk: init failed \(error 0x14\): .*aten._softmaX.default" \
  "etvk_run: loading method 'forward' failed \(ExecuTorch error 0x14\): etvk: .*aten._softmaX.default" \
  -- "$RUN" "$tmp/renamed.pte" --iters 1

check "invented integer inputs are 0 (valid ids) and say so" 0 \
  "input 0 \(int64\) is all 0" "match output 0" \
  -- "$RUN" "$ROOT/tests/runner/embedding.pte" --iters 1 \
     --expected "$ROOT/tests/runner/expected_zero_tokens.npy"

echo "messages: $pass passed, $fail failed"
((fail == 0))
