#!/usr/bin/env bash
# `pip install .` of this repository, then `import etvk` alone registers the backend: the
# package is installed into a temporary folder (put on PYTHONPATH of the venv's interpreter,
# which has executorch and torch), and tests/python/test_pybindings.py --import-etvk runs every
# fixture through ExecuTorch's Python bindings against PyTorch's outputs.
#   tests/python/test_package.sh [PYTHON]     (default .venv/bin/python; exits 77 without torch)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${1:-$ROOT/.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! "$PY" -c "import torch, numpy, executorch" 2>/dev/null; then
  echo "SKIP: $PY cannot import torch, numpy and executorch (make test-deps installs them)"
  exit 77
fi
# --no-deps: the venv's executorch was installed --no-deps, so pip would otherwise fetch its
# whole dependency list; --no-build-isolation: build with this venv's setuptools, offline.
echo "+ pip install --no-deps --no-build-isolation --target $tmp/site $ROOT"
if ! (cd "$tmp" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$PY" -m pip install --quiet \
    --no-deps --no-build-isolation --target "$tmp/site" "$ROOT") >"$tmp/pip.log" 2>&1; then
  echo "FAIL: pip install of $ROOT failed"
  cat "$tmp/pip.log"
  exit 1
fi
ls "$tmp/site"/etvk/libetvk_executorch.so >/dev/null || { echo "FAIL: no plugin in the package"; exit 1; }
cd "$tmp" && PYTHONPATH="$tmp/site" "$PY" "$ROOT/tests/python/test_pybindings.py" --import-etvk \
  --fixtures "$ROOT/tests/fixtures"
