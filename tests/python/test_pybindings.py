#!/usr/bin/env python3
"""End-to-end check of the etvk plugin through ExecuTorch's Python bindings.

    .venv/bin/python tests/python/test_pybindings.py [--fixtures DIR] [--only NAME ...]
    .venv/bin/python tests/python/test_pybindings.py --no-plugin   # stock runtime check
    .venv/bin/python tests/python/test_pybindings.py --import-etvk # the pip-installed package

Imports `executorch.extension.pybindings.portable_lib`, then loads the etvk plugin
(`$ETVK_PLUGIN`, default `build/libetvk_executorch.so`) with RTLD_GLOBAL so its
static initializer registers "VulkanBackend" into the libexecutorch.so that the
bindings use. Then, for every fixture directory (one containing model.pte), runs
forward(input0.npy, input1.npy, ...) and compares each output with
expected<i>.npy (atol 1e-4, rtol 1e-4).

Exit status 0 and a final "N passed, 0 failed" line on success. If torch /
executorch cannot be imported, prints a SKIP message and exits 77 (`make test`
counts that as skipped, not passed; it installs tests/python/requirements.txt
first). A missing plugin library is a failure (exit 1) unless --no-plugin is given.

--import-etvk: register the backend with `import etvk` (the package `pip install .` builds)
instead of loading the plugin by path; checks that etvk came from outside this checkout's
python/ folder and that etvk.is_available() holds.

--no-plugin: do not load the plugin; every fixture is expected to fail with the
stock runtime's "Backend VulkanBackend is not registered" error (ExecuTorch logs
"[method.cpp:NN] Backend VulkanBackend is not registered." on stderr and
run_method raises RuntimeError("Failed to execute method forward, error: 0x20"),
0x20 = Error::NotFound). Useful to check the harness without a build.
"""

import argparse
import ctypes
import glob
import os
import sys
import traceback

# Exit status of a run that could not test anything (the automake convention).
SKIPPED = 77

ATOL = 1e-4
RTOL = 1e-4

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_FIXTURES = os.path.join(REPO, "tests", "fixtures")


def fixture_dirs(root, only):
    dirs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "*", "model.pte")))
    if only:
        dirs = [d for d in dirs if os.path.basename(d) in only]
    return dirs


def numbered(d, prefix):
    out = []
    i = 0
    while os.path.exists(os.path.join(d, "%s%d.npy" % (prefix, i))):
        out.append(os.path.join(d, "%s%d.npy" % (prefix, i)))
        i += 1
    return out


def run_fixture(pl, torch, np, d):
    """Returns None on success, else an error string."""
    inputs = [torch.from_numpy(np.load(p)) for p in numbered(d, "input")]
    expected = [np.load(p) for p in numbered(d, "expected")]
    module = pl._load_for_executorch(os.path.join(d, "model.pte"))
    outputs = module.run_method("forward", tuple(inputs))
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if len(outputs) != len(expected):
        return "got %d outputs, expected %d" % (len(outputs), len(expected))
    for i, (o, e) in enumerate(zip(outputs, expected)):
        o = o.detach().cpu().numpy() if hasattr(o, "detach") else np.asarray(o)
        if tuple(o.shape) != tuple(e.shape):
            return "output %d: shape %s, expected %s" % (i, tuple(o.shape), tuple(e.shape))
        o = o.astype(np.float32)
        if not np.allclose(o, e, atol=ATOL, rtol=RTOL):
            err = np.abs(o - e)
            j = np.unravel_index(int(np.argmax(err)), err.shape)
            return "output %d: max abs err %.3g at %s (got %r, expected %r)" % (
                i, float(err.max()), tuple(int(x) for x in j), float(o[j]), float(e[j]))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--no-plugin", action="store_true",
                    help="don't load the plugin; expect 'VulkanBackend not registered' failures")
    ap.add_argument("--import-etvk", action="store_true",
                    help="register the backend with `import etvk` (an installed package)")
    args = ap.parse_args()

    try:
        import numpy as np
        import torch
        import executorch.extension.pybindings.portable_lib as pl
    except Exception as e:  # ImportError, or a broken native library
        print("SKIP: cannot import torch/executorch pybindings (%s: %s)" % (type(e).__name__, e))
        return SKIPPED

    if args.import_etvk:
        import etvk

        if os.path.dirname(os.path.abspath(etvk.__file__)) == os.path.join(REPO, "python", "etvk"):
            print("FAIL: imported the source tree's etvk, not an installed package")
            print("0 passed, 1 failed")
            return 1
        if not etvk.is_available():
            print("FAIL: etvk.is_available() is False: %s" % etvk.last_error())
            print("0 passed, 1 failed")
            return 1
        print("imported etvk from %s (plugin %s)" % (os.path.dirname(etvk.__file__), etvk.PLUGIN_PATH))
    elif not args.no_plugin:
        plugin = os.environ.get("ETVK_PLUGIN", "build/libetvk_executorch.so")
        try:
            ctypes.CDLL(plugin, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            print("FAIL: cannot load plugin %r (set ETVK_PLUGIN or build it first): %s" % (plugin, e))
            print("0 passed, 1 failed")
            return 1
        print("loaded plugin %s" % plugin)

    backends = list(pl._get_registered_backend_names()) if hasattr(pl, "_get_registered_backend_names") else None
    print("registered backends: %s" % backends)
    if backends is not None:
        if args.no_plugin and "VulkanBackend" in backends:
            print("note: VulkanBackend is already registered without the plugin")
        if not args.no_plugin and "VulkanBackend" not in backends:
            print("FAIL: plugin loaded but VulkanBackend is not registered")
            print("0 passed, 1 failed")
            return 1

    dirs = fixture_dirs(args.fixtures, args.only)
    if not dirs:
        print("FAIL: no fixtures (*/model.pte) under %s" % args.fixtures)
        print("0 passed, 1 failed")
        return 1

    passed = failed = 0
    for d in dirs:
        name = os.path.basename(d)
        try:
            err = run_fixture(pl, torch, np, d)
        except Exception as e:
            err = "%s: %s" % (type(e).__name__, e)
            if os.environ.get("ETVK_TEST_VERBOSE"):
                traceback.print_exc()
        if args.no_plugin:
            # Stock runtime: the delegate can't be initialised, so running must fail.
            if err is not None and "0x20" in err:
                print("ok    %s (expected failure: %s)" % (name, err))
                passed += 1
            else:
                print("FAIL  %s (expected a NotFound/0x20 failure, got: %s)" % (name, err or "success"))
                failed += 1
            continue
        if err is None:
            print("ok    %s" % name)
            passed += 1
        else:
            print("FAIL  %s: %s" % (name, err))
            failed += 1

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
