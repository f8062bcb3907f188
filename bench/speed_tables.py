#!/usr/bin/env python3
"""Markdown tables (for docs/speed.md) from the JSON that bench/speed.py writes.

    bench/speed_tables.py bench/out/speed/speed.json [more.json ...] [--title lavapipe]

With several JSONs (runs of the same programs) each program's figures are the fastest run's,
for etvk and the reference separately: on a shared host a run can be slowed by neighbours.
Prints the whole-model table (reference and etvk median execute, speed-up, accounted device
weights, whether the outputs matched PyTorch) and the per-op table (etvk's GPU time of the op's
own dispatches and GFLOP/s).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speed import fmt_ms as ms, gflops  # noqa: E402  (the benchmark's own formats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    runs = [json.load(open(f)) for f in a.json]
    d = runs[0]
    rows = best_rows(runs)
    title = f" ({a.title})" if a.title else ""
    print(f"Whole models{title}: median execute, {timing(runs, 'model')} "
          "(programs under a second re-timed over about a second).\n")
    print("| model | reference ms | etvk ms | speed-up | device weights MB | matches PyTorch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] != "model":
            continue
        mine, ref = r["etvk"], r.get("reference")
        x = ""
        if ref and "error" not in ref and "error" not in mine:
            x = f"{ref['median_execute_ms'] / mine['median_execute_ms']:.1f}×"
        w = mine.get("weights_bytes")
        print(f"| {r['name']} | {ms(ref)} | {ms(mine)} | {x} | "
              f"{'' if w is None else f'{w / 1e6:.2f}'} | {mine.get('match', mine.get('error'))} |")
    ops = [r for r in rows if r["kind"] == "op"]
    if not ops:
        return
    print(f"\nSingle ops{title}: the op's own dispatches (GPU timestamps), without the layout "
          f"conversions at the program's edges; {timing(runs, 'op')}.\n")
    print("| op | reference ms (program) | etvk ms (program) | etvk op µs | GFLOP/s |")
    print("|---|---|---|---|---|")
    for r in ops:
        us, flops = r.get("op_us"), r.get("flops")
        g = f"{gflops(flops, us):.1f}" if us and flops else ""
        print(f"| {r['name']} | {ms(r.get('reference'))} | {ms(r['etvk'])} | "
              f"{'' if us is None else f'{us:.1f}'} | {g} |")


def timing(runs, kind):
    """How the runs that hold programs of `kind` timed them, e.g. "7 executes after 2 warm-up,
    the fastest of 3 runs"."""
    mine = [r for r in runs if any(row["kind"] == kind for row in r["rows"])]
    iters = " or ".join(str(i) for i in sorted({r["iters"] for r in mine}))
    warmup = " or ".join(str(w) for w in sorted({r["warmup"] for r in mine}))
    best = f", the fastest of {len(mine)} runs" if len(mine) > 1 else ""
    return f"{iters} executes after {warmup} warm-up{best}"


def best_rows(runs):
    """Every program of the runs (in order of first appearance), each side (etvk, reference)
    from the run where that side's median execute was lowest among the runs that timed the
    program without error."""
    def median(side):
        if not side or "error" in side:
            return float("inf")
        return side["median_execute_ms"]

    by_name = {}
    for run in runs:
        for r in run["rows"]:
            by_name.setdefault((r["kind"], r["name"]), []).append(r)
    rows = []
    firsts = {}
    for run in runs:
        for r in run["rows"]:
            firsts.setdefault((r["kind"], r["name"]), r)
    for r in firsts.values():
        same = by_name[(r["kind"], r["name"])]
        r = dict(r)
        for side in ("etvk", "reference"):
            fastest = min(same, key=lambda x: median(x.get(side)))
            if fastest.get(side) is not None:
                r[side] = fastest[side]
                if side == "etvk" and "op_us" in fastest:
                    r["op_us"] = fastest["op_us"]
        rows.append(r)
    return rows


if __name__ == "__main__":
    main()
