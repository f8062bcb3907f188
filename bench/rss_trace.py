#!/usr/bin/env python3
"""Samples a command's memory while it runs, to see where its peak RSS comes from.

Usage (from the repo root):
    .venv/bin/python bench/rss_trace.py [--every-ms 5] [--maps] -- CMD ARGS...
    e.g. ETVK_LOAD_ORDER=legacy .venv/bin/python bench/rss_trace.py -- \
             build/etvk_run bench/out/resnet18.pte --json --iters 1 --loader file

Every --every-ms it reads /proc/PID/status (VmRSS, RssAnon, RssFile, RssShmem, VmHWM) and
prints a line whenever VmRSS moved by more than --step MB, then the samples at the peak.
With --maps it also reads /proc/PID/smaps at the highest VmRSS seen and lists the largest
resident mappings (heap, anonymous mmaps such as Vulkan device memory, the .pte when mmap'd,
libLLVM, ...). The command's stdout is passed through at the end.
"""

import argparse
import subprocess
import sys
import time

FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in FIELDS:
                    out[k] = int(v.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out if len(out) == len(FIELDS) else None


def smaps(pid):
    """[(rss_bytes, name)] of every mapping, largest first."""
    maps = []
    try:
        with open(f"/proc/{pid}/smaps") as f:
            name, size = "", 0
            for line in f:
                parts = line.split()
                if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                    name = parts[5] if len(parts) > 5 else f"[anon {parts[0]}]"
                elif parts[0] == "Rss:":
                    maps.append((int(parts[1]) * 1024, name))
    except (FileNotFoundError, ProcessLookupError):
        return []
    return sorted(maps, reverse=True)


def mib(b):
    return f"{b / 1e6:8.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every-ms", type=float, default=5.0)
    ap.add_argument("--step", type=float, default=1.0, help="print when VmRSS moves this many MB (10^6 bytes)")
    ap.add_argument("--maps", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    print(f"{'t_s':>7} " + " ".join(f"{k:>9}" for k in FIELDS) + "   (MB)", file=sys.stderr)
    last, best, best_maps = -1e18, None, []
    while p.poll() is None:
        s = status(p.pid)
        if s:
            t = time.monotonic() - t0
            if abs(s["VmRSS"] - last) >= a.step * 1e6:
                print(f"{t:7.3f} " + " ".join(mib(s[k]) + " " for k in FIELDS), file=sys.stderr)
                last = s["VmRSS"]
            if best is None or s["VmRSS"] > best[1]["VmRSS"]:
                best = (t, s)
                if a.maps:
                    best_maps = smaps(p.pid)
        time.sleep(a.every_ms / 1000)
    out = p.stdout.read().decode()
    if best:
        t, s = best
        print(f"max VmRSS seen at {t:.3f} s: " + ", ".join(f"{k} {mib(s[k]).strip()}" for k in FIELDS), file=sys.stderr)
    if best_maps:
        print("largest resident mappings at that moment (MB):", file=sys.stderr)
        for rss, name in best_maps[:12]:
            print(f"  {mib(rss)}  {name}", file=sys.stderr)
    sys.stdout.write(out)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
