#!/usr/bin/env bash
# The README's C++ program, built the way a user would: `cmake --install` into a fresh prefix,
# the program's files taken verbatim from README.md (the blocks after "<!-- example: PATH -->"),
# configured with find_package(etvk), built against the plugin and against the static
# libraries, then run on tests/fixtures/example and compared with its PyTorch output.
#   tests/cpp_example.sh      (after `make build`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ETVK_BUILD_DIR:-$ROOT/build}"
FIXTURE="$ROOT/tests/fixtures/example"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cmake --install "$BUILD" --prefix "$tmp/prefix" >/dev/null
runpath="$(readelf -d "$tmp/prefix/lib/libetvk_executorch.so" | sed -n 's/.*RUNPATH.*\[\(.*\)\]/\1/p')"
if [[ "$runpath" != '$ORIGIN' ]]; then
  echo "FAIL: the installed plugin's RUNPATH is '$runpath', want \$ORIGIN only"
  exit 1
fi

# README blocks -> files; raw float32 input from the fixture's .npy (python3 stdlib only).
python3 - "$ROOT/README.md" "$tmp" "$FIXTURE/input0.npy" "$tmp/input.f32" <<'PY'
import os, re, sys
readme, out, npy, raw = sys.argv[1:]
blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", open(readme).read(), re.S)
assert {p for p, _ in blocks} == {"hello/CMakeLists.txt", "hello/main.cpp"}, blocks
for path, text in blocks:
    os.makedirs(os.path.dirname(os.path.join(out, path)), exist_ok=True)
    open(os.path.join(out, path), "w").write(text)
data = open(npy, "rb").read()
assert data[:6] == b"\x93NUMPY" and b"'<f4'" in data[:128], "float32 .npy v1 expected"
header_len = int.from_bytes(data[8:10], "little")
open(raw, "wb").write(data[10 + header_len:])
PY

status=0
for variant in shared static; do
  flag=OFF
  [[ $variant == static ]] && flag=ON
  dir="$tmp/build-$variant"
  # --as-needed, the default of some distributions (Ubuntu's), would drop a plugin linked plainly.
  cmake -S "$tmp/hello" -B "$dir" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DHELLO_STATIC=$flag \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed >"$tmp/cmake.log" 2>&1 \
    && cmake --build "$dir" -j "$(nproc)" >>"$tmp/cmake.log" 2>&1 \
    || { echo "FAIL $variant: configure/build"; cat "$tmp/cmake.log"; status=1; continue; }
  needed="$(readelf -d "$dir/hello" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  if [[ $variant == shared && "$needed" != *libetvk_executorch.so* ]]; then
    echo "FAIL $variant: hello does not need libetvk_executorch.so (needs: $needed)"
    status=1
    continue
  fi
  if [[ $variant == static && "$needed" == *libetvk_executorch.so* ]]; then
    echo "FAIL $variant: hello needs libetvk_executorch.so (needs: $needed)"
    status=1
    continue
  fi
  if ! "$dir/hello" "$FIXTURE/model.pte" "$tmp/input.f32" "$tmp/out-$variant.f32" >"$tmp/run.log" 2>&1; then
    echo "FAIL $variant: hello exited non-zero"; cat "$tmp/run.log"; status=1; continue
  fi
  if python3 - "$tmp/out-$variant.f32" "$FIXTURE/expected0.npy" <<'PY'
import struct, sys
got = open(sys.argv[1], "rb").read()
data = open(sys.argv[2], "rb").read()
header_len = int.from_bytes(data[8:10], "little")
want = data[10 + header_len:]
assert len(got) == len(want), f"{len(got)} bytes, expected {len(want)}"
g = struct.unpack(f"<{len(got) // 4}f", got)
w = struct.unpack(f"<{len(want) // 4}f", want)
bad = [i for i, (a, b) in enumerate(zip(g, w)) if not abs(a - b) <= 1e-4 + 1e-4 * abs(b)]
assert not bad, f"{len(bad)} of {len(w)} values differ, first at {bad[0]}: {g[bad[0]]} vs {w[bad[0]]}"
PY
  then
    echo "ok    $variant: $(cat "$tmp/run.log") matching PyTorch (needs: $needed)"
  else
    echo "FAIL $variant: output differs from $FIXTURE/expected0.npy"; status=1
  fi
done
exit $status
