#!/usr/bin/env python3
"""Corrupted whole .pte files through build/etvk_run: an error exit, never a signal or a hang.

Each case is one committed program (tests/fixtures/*/model.pte, tests/runner/*.pte) with a few
bytes (1 to 8) set to random values at random offsets, from a fixed seed, so a failure names a
case that reproduces. A case passes when etvk_run exits by itself within the timeout, whatever
the code (a corruption in weight bytes may still run, or fail --expected); it fails when the
process dies of a signal (SIGSEGV, SIGABRT, SIGFPE, ...) or hangs. The runner loads programs with
ExecuTorch's InternalConsistency verification; with Minimal verification cases of this test
died in ExecuTorch's Program::method_meta and Method::parse_values.

    tests/robustness_pte.py [--cases N] [--seed S] [--runner build/etvk_run] [--keep DIR]

Python 3 standard library only.
"""

import argparse
import glob
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corrupt(data: bytes, rng: random.Random) -> tuple[bytes, list[tuple[int, int]]]:
    """`data` with 1 to 8 bytes set to random values at random offsets; returns the edits."""
    out = bytearray(data)
    edits = []
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        out[at] = rng.randrange(256)
        edits.append((at, out[at]))
    return bytes(out), edits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=400, help="corrupted files in all (default 400)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--runner", default=os.path.join(ROOT, "build", "etvk_run"))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    ap.add_argument("--keep", help="directory to keep the failing cases in")
    args = ap.parse_args()

    if not os.access(args.runner, os.X_OK):
        print(f"robustness_pte: {args.runner} not found; run `make build` first", file=sys.stderr)
        return 2
    programs = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*", "model.pte")))
    programs += sorted(glob.glob(os.path.join(ROOT, "tests", "runner", "*.pte")))
    if not programs:
        print("robustness_pte: no programs found", file=sys.stderr)
        return 2
    originals = {p: open(p, "rb").read() for p in programs}

    rng = random.Random(args.seed)
    codes: dict[int, int] = {}
    bad = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            program = programs[case % len(programs)]
            data, edits = corrupt(originals[program], rng)
            path = os.path.join(tmp, f"case{case}.pte")
            with open(path, "wb") as f:
                f.write(data)
            name = os.path.relpath(program, ROOT)
            try:
                r = subprocess.run(
                    [args.runner, path, "--iters", "1", "--seed", str(case)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=args.timeout,
                )
                rc, tail = r.returncode, r.stdout.decode(errors="replace").strip().splitlines()[-3:]
            except subprocess.TimeoutExpired:
                rc, tail = None, [f"no exit within {args.timeout:.0f} s"]
            if rc is None or rc < 0 or rc >= 128:
                if rc is None:
                    what = "hang"
                elif rc < 0:
                    what = signal.Signals(-rc).name
                else:
                    what = f"exit {rc}"
                bad.append(case)
                print(f"FAIL case {case}: {name} with bytes {edits} (offset, value): {what}")
                for line in tail:
                    print(f"      {line}")
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    os.replace(path, os.path.join(args.keep, f"case{case}.pte"))
                continue
            codes[rc] = codes.get(rc, 0) + 1
            os.remove(path)

    took = time.monotonic() - start
    summary = ", ".join(f"exit {c}: {n}" for c, n in sorted(codes.items()))
    print(
        f"corrupted .pte files: {args.cases} cases over {len(programs)} programs (seed {args.seed}), "
        f"{len(bad)} died or hung; {summary} ({took:.0f} s)"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
