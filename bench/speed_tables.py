#!/usr/bin/env python3
"""Markdown tables (for docs/speed.md) from the JSON that bench/speed.py writes.

    bench/speed_tables.py bench/out/speed/speed.json [--title lavapipe]

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
    ap.add_argument("json")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    d = json.load(open(a.json))
    rows = d["rows"]
    title = f" ({a.title})" if a.title else ""
    print(f"Whole models{title}: median execute, {d['iters']} executes after {d['warmup']} warm-up "
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
          "conversions at the program's edges.\n")
    print("| op | reference ms (program) | etvk ms (program) | etvk op µs | GFLOP/s |")
    print("|---|---|---|---|---|")
    for r in ops:
        us, flops = r.get("op_us"), r.get("flops")
        g = f"{gflops(flops, us):.1f}" if us and flops else ""
        print(f"| {r['name']} | {ms(r.get('reference'))} | {ms(r['etvk'])} | "
              f"{'' if us is None else f'{us:.1f}'} | {g} |")


if __name__ == "__main__":
    main()
