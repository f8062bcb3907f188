#!/usr/bin/env python3
"""ExecuTorch's own Vulkan delegate tests (the wheel's
backends/vulkan/test/test_vulkan_delegate.py) run against the etvk plugin.

    .venv/bin/python scripts/test_official.py [--plugin build/libetvk_executorch.so]
        [--only SUBSTRING ...] [--timeout 300] [--jobs 1] [--logs DIR] [--list]

The parent imports the bindings, loads the plugin with RTLD_GLOBAL (so it registers
"VulkanBackend" into the bindings' libexecutorch.so) and imports the test module once; every
test then runs in a forked child, so a test that crashes (signal) or hangs (timeout) is
counted as such and the rest still run. A test is "disabled" when it is wrapped by the file's
own disable_test decorator (it prints DISABLED_TEST and returns without running; unittest
would count it as a pass).

A test in KNOWN_FAILURES that fails counts as "known" (with the issue that tracks it), not as
passed; one that passes there counts as failed, so the list cannot go stale.

Each test's output goes to DIR/<test>.log (default build/test-official). The last line is
"official: P passed, F failed, K known failures, C crashed, D disabled (of N)"; the exit status
is 0 only when nothing failed or crashed, 2 when the environment is missing something.
"""

import argparse
import ctypes
import os
import select
import signal
import sys
import time
import traceback
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_MODULE = "executorch.backends.vulkan.test.test_vulkan_delegate"
DISABLED_MARK = b"DISABLED_TEST:"

# Failures tracked elsewhere: test name -> why.
KNOWN_FAILURES = {}


def load_environment(plugin):
    """Imports the bindings, loads the plugin, imports the test module. Returns the module."""
    from executorch.extension.pybindings import portable_lib

    ctypes.CDLL(os.path.abspath(plugin), mode=ctypes.RTLD_GLOBAL)
    names = list(portable_lib._get_registered_backend_names())
    if "VulkanBackend" not in names:
        raise RuntimeError("plugin %s loaded but VulkanBackend is not registered" % plugin)
    import importlib

    return importlib.import_module(TEST_MODULE)


def test_names(module, only):
    loader = unittest.TestLoader()
    cases = []
    for name in loader.getTestCaseNames(module.TestVulkanBackend):
        if only and not any(s in name for s in only):
            continue
        cases.append(name)
    return cases


def run_in_child(module, name, log_path):
    """Forks; the child runs one test with stdout/stderr (fd 1 and 2) in log_path and exits
    0 on success, 1 on failure or error. Returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        suite = unittest.TestSuite([module.TestVulkanBackend(name)])
        stream = os.fdopen(os.dup(2), "w", buffering=1)
        result = unittest.TextTestRunner(stream=stream, verbosity=2).run(suite)
        stream.flush()
        code = 0 if result.wasSuccessful() else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reason_from_log(log_path):
    """One line saying why a test failed: etvk's own message, else the tolerance report, else
    the last exception line."""
    try:
        with open(log_path, "rb") as f:
            lines = [l.strip() for l in f.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    for wanted in ("etvk:", "values exceeding tolerance", "Error: "):
        for line in reversed(lines):
            if wanted in line:
                return line[:240]
    return ""


def classify(name, status, log_path):
    if os.WIFSIGNALED(status):
        return "crashed", "signal %d" % os.WTERMSIG(status)
    with open(log_path, "rb") as f:
        disabled = DISABLED_MARK in f.read()
    passed = os.WEXITSTATUS(status) == 0
    if name in KNOWN_FAILURES:
        if passed and not disabled:
            return "failed", "passes now: remove it from KNOWN_FAILURES in %s" % __file__
        return "known", KNOWN_FAILURES[name]
    if passed:
        return ("disabled" if disabled else "passed"), ""
    return "failed", reason_from_log(log_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugin", default=os.environ.get("ETVK_PLUGIN", os.path.join(REPO, "build", "libetvk_executorch.so")))
    ap.add_argument("--only", nargs="*", help="run tests whose name contains one of these")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per test before it counts as crashed")
    ap.add_argument("--jobs", type=int, default=1, help="tests run at the same time")
    ap.add_argument("--logs", default=os.path.join(REPO, "build", "test-official"))
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args()

    if not os.path.exists(args.plugin):
        print("official: plugin %s not found; run `make build`" % args.plugin)
        return 2
    try:
        module = load_environment(args.plugin)
    except Exception as e:
        traceback.print_exc()
        print("official: cannot set up the tests (%s: %s); `make test-official` installs what they need" % (type(e).__name__, e))
        return 2

    names = test_names(module, args.only)
    if args.list:
        print("\n".join(names))
        return 0
    if not names:
        print("official: no test matches %s" % args.only)
        return 2
    os.makedirs(args.logs, exist_ok=True)

    counts = {"passed": 0, "failed": 0, "known": 0, "crashed": 0, "disabled": 0}
    bad = []
    pending = list(names)
    running = {}  # pid -> (name, log, start)
    started = time.time()
    while pending or running:
        while pending and len(running) < max(1, args.jobs):
            name = pending.pop(0)
            log = os.path.join(args.logs, name + ".log")
            running[run_in_child(module, name, log)] = (name, log, time.time())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.time()
            for p, (name, log, t0) in list(running.items()):
                if now - t0 > args.timeout:
                    os.kill(p, signal.SIGKILL)
            select.select([], [], [], 0.05)
            continue
        name, log, t0 = running.pop(pid)
        outcome, why = classify(name, status, log)
        if outcome == "crashed" and time.time() - t0 > args.timeout:
            why = "timed out after %.0f s" % args.timeout
        counts[outcome] += 1
        print("%-9s %s (%.1fs)%s" % (outcome, name, time.time() - t0, ": " + why if why else ""), flush=True)
        if outcome in ("failed", "crashed"):
            bad.append(name)

    total = sum(counts.values())
    print("official: logs in %s; %.0f s" % (args.logs, time.time() - started))
    if bad:
        print("official: failed or crashed: %s" % " ".join(bad))
    print("official: %d passed, %d failed, %d known failures, %d crashed, %d disabled (of %d)"
          % (counts["passed"], counts["failed"], counts["known"], counts["crashed"],
             counts["disabled"], total))
    return 0 if counts["failed"] == 0 and counts["crashed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
