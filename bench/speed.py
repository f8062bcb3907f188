#!/usr/bin/env python3
"""Speed benchmark: whole models and single convolutions / linears, timed through ExecuTorch
with etvk and, side by side in the same run, any other VulkanBackend plugin.

Usage (from the repo root):
    .venv/bin/python bench/speed.py [--reference OTHER_PLUGIN.so] [--iters N] [--warmup N]
                                    [--rounds R] [--models a,b] [--no-ops] [--json OUT.json]

Every figure is the median of --iters executes after --warmup (defaults: 3 after 1, as on
lavapipe; use 50 after 5 on a real GPU; a program faster than that runs again with executes
filling about a second, at most 200); with --rounds R each plugin runs each program R times,
the two plugins taking turns, and the median round is reported, with "x min" the ratio of the
fastest executes of all rounds (a shared host's slow spells move single runs 2x). Each run is
a fresh process of
build/etvk_bench, which loads the plugin given by --plugin: build/libetvk_executorch.so for
etvk, the --reference plugin for the other column. Both are timed without GPU timestamps; a
second etvk process with the per-dispatch GPU profile (etvk_bench --profile) gives each op's
own time and GFLOP/s. bench/speed_tables.py turns the JSON into docs/speed.md's tables.

Programs are exported on demand (needs torch, torchvision and executorch in the Python that
runs this) into bench/out/speed/ (git-ignored) and reused when present, so the same command
runs on a machine without torch once the files are there (carry bench/out/speed).

Models: mobilenet_v2, resnet18 (torchvision, random weights, 1x3x224x224), transformer (4
pre-norm encoder blocks, d 384, 128 tokens), vit (a ViT encoder, 64x64 patches of 8),
llama_decode (a Llama-style KV-cache decode step: sdpa_with_kv_cache), unet (a small U-Net:
3x3 convs on 64x64, 16/32/64 channels, max-pool down, nearest-upsample + concat up),
one_dispatch (a relu of one element: the floor of any execute, a submit and wait around one
dispatch, against which the small programs' times read).
Ops: every distinct convolution of mobilenet_v2, resnet18's 3x3 convolutions and the
transformer's linears, each exported alone (batch 1).
"""

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "bench", "out", "speed")
BENCH_RUNNER = os.path.join(REPO, "build", "etvk_bench")
ETVK_PLUGIN = os.path.join(REPO, "build", "libetvk_executorch.so")
MODELS = [
    "mobilenet_v2",
    "mobilenet_v2_fp16",
    "resnet18",
    "transformer",
    "vit",
    "llama_decode",
    "unet",
    "unet_fp16",
    "one_dispatch",
]

# Bump when a definition changes: cached exports of another version are redone.
EXPORT_VERSION = 1
# Per program, where it differs. 2: BatchNorm calibrated.
EXPORT_VERSIONS = {"mobilenet_v2": 2, "mobilenet_v2_fp16": 2, "resnet18": 2}


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------- #
# Definitions (torch is imported only to export)
# --------------------------------------------------------------------------- #


def unet_module():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def double(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()
        )

    class UNet(nn.Module):
        def __init__(self, c=16):
            super().__init__()
            self.e1, self.e2, self.mid = double(3, c), double(c, 2 * c), double(2 * c, 4 * c)
            self.d2, self.d1 = double(6 * c, 2 * c), double(3 * c, c)
            self.head = nn.Conv2d(c, 1, 1)

        def forward(self, x):
            e1 = self.e1(x)
            e2 = self.e2(F.max_pool2d(e1, 2))
            m = self.mid(F.max_pool2d(e2, 2))
            d2 = self.d2(torch.cat([F.interpolate(m, scale_factor=2.0, mode="nearest"), e2], 1))
            d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
            return self.head(d1)

    torch.manual_seed(0)
    return UNet().eval(), (torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)),)


def build_model(name):
    """(module, example inputs). A `_fp16` suffix is the same model exported with force_fp16."""
    name = name.removesuffix("_fp16")
    if name == "unet":
        return unet_module()
    run_models = load_module(os.path.join(REPO, "tests", "models", "run_models.py"), "run_models")
    models = load_module(os.path.join(REPO, "bench", "models.py"), "bench_models")
    if name == "one_dispatch":
        return models.build("baseline", None)
    if name in ("mobilenet_v2", "resnet18", "transformer"):
        variant = models.transformer_variant("auto") if name == "transformer" else None
        module, inputs = models.build(name, variant)
        # BatchNorm statistics from the model's own hidden states: torchvision's random init
        # shrinks the outputs to ~1e-9, below f16's range (the fp16 export would give zeros).
        return run_models.calibrate_batchnorm(module, inputs[0]), inputs
    return run_models.build({"llama_decode": "kv_decode"}.get(name, name))


def conv_shapes():
    """Distinct convolutions (as nn.Conv2d arguments + input shape) of mobilenet_v2 and the 3x3
    ones of resnet18, found by tracing the torchvision models."""
    import torch
    import torchvision

    found = []
    for name, only3x3 in (("mobilenet_v2", False), ("resnet18", True)):
        model = getattr(torchvision.models, name)(weights=None).eval()
        seen = []

        def hook(mod, inp, _out, seen=seen):
            k = mod.kernel_size
            if only3x3 and k != (3, 3):
                return
            key = (
                tuple(inp[0].shape), mod.in_channels, mod.out_channels, k, mod.stride, mod.padding,
                mod.groups,
            )
            if key not in seen:
                seen.append(key)

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        with torch.no_grad():
            model(torch.randn(1, 3, 224, 224))
        for h in handles:
            h.remove()
        found += [(name,) + k for k in seen]
    return found


def op_programs():
    """name -> (module factory, description) for the single-op benchmarks."""
    progs = {}
    for model, shape, cin, cout, k, s, p, g in conv_shapes():
        tag = "pw" if k == (1, 1) else ("dw" if g == cin and g > 1 else f"{k[0]}x{k[1]}")
        name = f"conv_{model}_{tag}_{cin}x{shape[2]}x{shape[3]}_to_{cout}_s{s[0]}"
        progs[name] = (("conv", shape, cin, cout, k, s, p, g), f"{model} conv {tag}")
    for n_in, n_out in ((384, 384), (384, 1536), (1536, 384)):
        progs[f"linear_transformer_128x{n_in}_to_{n_out}"] = (("linear", 128, n_in, n_out), "transformer linear")
    return progs


def build_op(spec):
    import torch

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if spec[0] == "conv":
        _, shape, cin, cout, k, s, p, groups = spec
        m = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, groups=groups).eval()
        return m, (torch.randn(*shape, generator=g),)
    _, rows, n_in, n_out = spec
    return torch.nn.Linear(n_in, n_out).eval(), (torch.randn(rows, n_in, generator=g),)


def op_flops(spec):
    if spec[0] == "conv":
        _, shape, cin, cout, k, s, p, groups = spec
        ho = (shape[2] + 2 * p[0] - k[0]) // s[0] + 1
        wo = (shape[3] + 2 * p[1] - k[1]) // s[1] + 1
        return 2 * cout * ho * wo * (cin // groups) * k[0] * k[1]
    _, rows, n_in, n_out = spec
    return 2 * rows * n_in * n_out


def export(name, factory):
    """Exports <OUT>/<name>.pte (+ input/expected .npy) unless a current one is there."""
    pte = os.path.join(OUT, f"{name}.pte")
    meta_path = os.path.join(OUT, f"{name}.json")
    if os.path.exists(pte) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("export_version") == EXPORT_VERSIONS.get(name, EXPORT_VERSION):
            return meta
    import numpy as np
    import torch
    from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner
    from executorch.exir import to_edge_transform_and_lower

    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    model, inputs = factory()
    import copy

    with torch.no_grad():
        expected = copy.deepcopy(model)(*inputs)
        ep = torch.export.export(model, inputs)
        options = {"force_fp16": True} if name.endswith("_fp16") else {}
        prog = to_edge_transform_and_lower(ep, partitioner=[VulkanPartitioner(options)]).to_executorch()
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    for i, t in enumerate(inputs):
        np.save(os.path.join(OUT, f"{name}.input{i}.npy"), t.numpy())
    for i, t in enumerate(expected):
        np.save(os.path.join(OUT, f"{name}.expected{i}.npy"), t.numpy().astype(np.float32))
    with open(pte + ".tmp", "wb") as f:
        prog.write_to_file(f)
    os.replace(pte + ".tmp", pte)
    meta = {
        "name": name,
        "export_version": EXPORT_VERSIONS.get(name, EXPORT_VERSION),
        "n_inputs": len(inputs),
        "n_outputs": len(expected),
        "max_abs_expected": float(max(t.abs().max() for t in expected)),
        "pte_bytes": os.path.getsize(pte),
        "export_s": round(time.time() - t0, 1),
    }
    json.dump(meta, open(meta_path, "w"), indent=1)
    print(f"[export] {name} ({meta['export_s']} s)", file=sys.stderr)
    return meta


# --------------------------------------------------------------------------- #
# Timing
# --------------------------------------------------------------------------- #


def run(plugin, name, meta, iters, warmup, profile):
    """A fresh etvk_bench process; returns its JSON, or {"error": ...}. A program whose
    --iters executes take under a second runs again with enough executes to fill about one
    (a median of 3 sub-millisecond executes is mostly noise)."""
    first = run_once(plugin, name, meta, iters, warmup, profile)
    ms = first.get("median_execute_ms")
    if ms is None or ms * iters >= 1000:
        return first
    more = min(200, max(iters, int(1000 / max(ms, 0.01))))
    return run_once(plugin, name, meta, more, warmup, profile)


def run_rounds(plugins, name, meta, a):
    """Each plugin's runs of one program, --rounds fresh processes each, interleaved (A B A B
    ...: a shared host's slow spells then fall on both sides); per plugin, the run whose median
    is the median of the rounds, with `rounds_ms` (every round's median) and `min_execute_ms`
    (the fastest execute of all rounds) added. An error in any round is the result."""
    runs = {p: [] for p in plugins}
    for _ in range(a.rounds):
        for p in plugins:
            runs[p].append(run(p, name, meta, a.iters, a.warmup, profile=False))
    out = {}
    for p, rs in runs.items():
        bad = [r for r in rs if "error" in r]
        if bad:
            out[p] = bad[0]
            continue
        rs = sorted(rs, key=lambda r: r["median_execute_ms"])
        pick = dict(rs[(len(rs) - 1) // 2])
        pick["rounds_ms"] = [r["median_execute_ms"] for r in rs]
        pick["min_execute_ms"] = min(r.get("min_execute_ms", r["median_execute_ms"]) for r in rs)
        out[p] = pick
    return out


def run_once(plugin, name, meta, iters, warmup, profile):
    pte = os.path.join(OUT, f"{name}.pte")
    cmd = [BENCH_RUNNER, "--plugin", plugin, pte, "--iters", str(iters), "--warmup", str(warmup), "--json"]
    inputs = [os.path.join(OUT, f"{name}.input{i}.npy") for i in range(meta["n_inputs"])]
    if all(os.path.exists(i) for i in inputs):
        cmd += ["--inputs"] + inputs  # else seeded random inputs (files left behind to travel light)
    expected = [os.path.join(OUT, f"{name}.expected{i}.npy") for i in range(meta["n_outputs"])]
    if all(os.path.exists(e) for e in expected):
        # A tolerance scaled to the output (random-weight models have tiny outputs).
        # fp16 programs: f16 weights and activations against fp32 PyTorch (mobilenet_v2's 53
        # layers: 1.3% of the output range with f16 storage, 1.0% with f32 storage of the same
        # f16 weights).
        tol = 3e-2 if name.endswith("_fp16") else 1e-3
        scale = max(meta.get("max_abs_expected", 1.0), 1e-30)
        cmd += ["--expected"] + expected + ["--atol", repr(tol * scale), "--rtol", repr(tol)]
    if profile:
        cmd.append("--profile")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def gflops(flops, us):
    return flops / us / 1e3 if us > 0 else float("nan")


def fmt_ms(r):
    if r is None:
        return "-"
    if "error" in r:
        return "error"
    return f"{r['median_execute_ms']:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", help="another VulkanBackend plugin to time on the same files")
    ap.add_argument("--plugin", default=ETVK_PLUGIN, help="the etvk plugin (default: build/)")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1,
                    help="fresh processes per program and plugin, interleaved; the median round is reported")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-ops", action="store_true", help="skip the single-op programs")
    ap.add_argument("--no-export", action="store_true", help="use only programs already in bench/out/speed")
    ap.add_argument("--json", default=os.path.join(OUT, "speed.json"))
    a = ap.parse_args()

    if not os.path.exists(BENCH_RUNNER):
        sys.exit(f"{BENCH_RUNNER} is missing: run `make build`")
    models = [m for m in a.models.split(",") if m]
    jobs = []  # (kind, name, description, flops)
    for m in models:
        jobs.append(("model", m, m, None))
    if not a.no_ops:
        try:
            ops = op_programs()
        except ImportError:
            ops = {}
            for f in sorted(os.listdir(OUT)) if os.path.isdir(OUT) else []:
                if f.endswith(".json") and (f.startswith("conv_") or f.startswith("linear_")):
                    meta = json.load(open(os.path.join(OUT, f)))
                    ops[meta["name"]] = (meta.get("spec"), meta.get("description", ""))
        for name, (spec, desc) in ops.items():
            jobs.append(("op", name, desc, spec))

    results = {"device_note": "", "iters": a.iters, "warmup": a.warmup, "rounds": a.rounds, "rows": []}
    print(f"{'program':58} {'ref ms':>9} {'etvk ms':>9} {'x':>6} {'x min':>6}  {'etvk op us':>10} "
          f"{'GFLOP/s':>8}  {'W MB':>6}  match", flush=True)
    for kind, name, desc, spec in jobs:
        meta_path = os.path.join(OUT, f"{name}.json")
        if a.no_export and not os.path.exists(meta_path):
            continue
        if a.no_export:
            meta = json.load(open(meta_path))
        else:
            factory = (lambda n=name: build_model(n)) if kind == "model" else (lambda s=spec: build_op(s))
            meta = export(name, factory)
        if kind == "op" and "spec" not in meta:
            meta["spec"], meta["description"] = spec, desc
            json.dump(meta, open(meta_path, "w"), indent=1)
        # Timed without GPU timestamps (on lavapipe a timestamp waits for all earlier work, which
        # doubles a small program's time); a second, profiled process gives the per-op times.
        timed = run_rounds([a.plugin] + ([a.reference] if a.reference else []), name, meta, a)
        mine = timed[a.plugin]
        ref = timed[a.reference] if a.reference else None
        row = {"kind": kind, "name": name, "description": desc, "etvk": mine, "reference": ref}
        prof = run_once(a.plugin, name, meta, a.iters, a.warmup, profile=True) if "error" not in mine else {}
        # The op's own GPU time: its heaviest dispatch group (a convolution / matmul, without the
        # layout conversions at the program's boundary).
        op_us = flops = None
        if kind == "op" and "profile" in prof:
            heavy = [e for e in prof["profile"] if e["flops"] > 0]
            if heavy:
                op_us = sum(e["us"] for e in heavy)
                flops = sum(e["flops"] for e in heavy)
        row["op_us"], row["flops"] = op_us, flops
        if "profile" in prof:
            mine["profile_total_us"] = sum(e["us"] for e in prof["profile"])
        results["rows"].append(row)
        ratio = ratio_min = ""
        if ref and "error" not in ref and "error" not in mine:
            ratio = f"{ref['median_execute_ms'] / mine['median_execute_ms']:.1f}"
            if "min_execute_ms" in ref and "min_execute_ms" in mine:
                ratio_min = f"{ref['min_execute_ms'] / mine['min_execute_ms']:.1f}"
        match = mine.get("match") if "error" not in mine else mine["error"]
        print(
            f"{name:58} {fmt_ms(ref):>9} {fmt_ms(mine):>9} {ratio:>6} {ratio_min:>6}  "
            f"{(f'{op_us:.1f}' if op_us else ''):>10} {(f'{gflops(flops, op_us):.1f}' if op_us else ''):>8}  "
            f"{mine.get('weights_bytes', 0) / 1e6:>6.2f}  {match}",
            flush=True,
        )
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    json.dump(results, open(a.json, "w"), indent=1)
    print(f"[speed] wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
