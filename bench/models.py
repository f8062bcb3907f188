#!/usr/bin/env python3
"""Models for `bench/memory.py`, exported on demand with the real VulkanPartitioner.

Usage (from the repo root):
    .venv/bin/python bench/models.py [--out bench/out] [--force] [NAME ...]

Writes <out>/<name>.pte (git-ignored, never committed), <name>.input<i>.npy and
<name>.expected<i>.npy (PyTorch eager outputs, for a correctness check) and <name>.json (what
was exported: parameter count, input shapes, variant, delegate count). Exports are deterministic: fixed
seeds, batch 1, eval mode. An existing .pte is kept unless --force is given.

Models:
    baseline      relu of a 1-element tensor: one tiny Vulkan delegate (the RSS baseline)
    mobilenet_v2  torchvision mobilenet_v2(weights=None), 1x3x224x224
    resnet18      torchvision resnet18(weights=None), 1x3x224x224
    transformer   4 pre-norm encoder blocks, d_model 384, 6 heads, MLP 1536, one sequence of
                  128 tokens given as a (128, 384) tensor
                  (~28 MB of fp32 weights): linear Q/K/V/out projections, attention as
                  bmm + softmax, an MLP. Norm and MLP activation depend on what etvk
                  supports (see transformer_variant()): LayerNorm + GELU when
                  aten.native_layer_norm and aten.gelu are in src/ops, else a mean-abs norm
                  built from sub/abs/mean/add/div/mul and a ReLU MLP.
"""

import argparse
import glob
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "bench", "out")

# --------------------------------------------------------------------------- #
# What etvk supports (the OPS tables of src/ops/*.rs)
# --------------------------------------------------------------------------- #


def etvk_ops():
    ops = set()
    for path in glob.glob(os.path.join(REPO, "src", "ops", "*.rs")):
        text = open(path).read()
        m = re.search(r"pub const OPS:[^=]*=\s*&\[(.*?)\n\];", text, re.S)
        if m:
            ops.update(re.findall(r'"([A-Za-z0-9_.]+)"', m.group(1)))
    return ops


def transformer_variant(requested="auto"):
    """'ln-gelu' when etvk has aten.native_layer_norm and aten.gelu, else 'absnorm-relu'."""
    if requested != "auto":
        return requested
    ops = etvk_ops()
    has_ln = any("native_layer_norm" in o for o in ops)
    has_gelu = any(re.search(r"(^|\.)gelu(\.|$)", o) for o in ops)
    return "ln-gelu" if (has_ln and has_gelu) else "absnorm-relu"


# --------------------------------------------------------------------------- #
# Models
# --------------------------------------------------------------------------- #


class Relu1(nn.Module):
    def forward(self, x):
        return F.relu(x)


class AbsNorm(nn.Module):
    """(x - mean(x)) / (mean|x - mean(x)| + eps) * g + b over the last dim: a LayerNorm
    stand-in made only of ops etvk has (sub, abs, mean.dim, add, div, mul)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d) + 0.1 * torch.randn(d))
        self.bias = nn.Parameter(0.1 * torch.randn(d))
        self.eps = eps

    def forward(self, x):
        c = x - x.mean(dim=-1, keepdim=True)
        return c / (c.abs().mean(dim=-1, keepdim=True) + self.eps) * self.weight + self.bias


class Block(nn.Module):
    def __init__(self, d, heads, ff, variant):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)
        norm = (lambda: nn.LayerNorm(d)) if variant == "ln-gelu" else (lambda: AbsNorm(d))
        self.n1, self.n2 = norm(), norm()
        self.act = F.gelu if variant == "ln-gelu" else F.relu

    def forward(self, x):  # x: (S, d)
        s = x.shape[0]
        h = self.n1(x)
        q = self.q(h).view(s, self.h, self.hd).permute(1, 0, 2)  # (H, S, hd)
        kt = self.k(h).view(s, self.h, self.hd).permute(1, 2, 0)  # (H, hd, S)
        v = self.v(h).view(s, self.h, self.hd).permute(1, 0, 2)  # (H, S, hd)
        p = torch.softmax(torch.bmm(q, kt) * (1.0 / math.sqrt(self.hd)), dim=-1)
        a = torch.bmm(p, v).permute(1, 0, 2).reshape(s, self.h * self.hd)  # (S, d)
        x = x + self.o(a)
        return x + self.fc2(self.act(self.fc1(self.n2(x))))


class Transformer(nn.Module):
    def __init__(self, variant, d=384, heads=6, ff=1536, blocks=4):
        super().__init__()
        self.d = d
        self.blocks = nn.ModuleList(Block(d, heads, ff, variant) for _ in range(blocks))

    # The input is one sequence as (S, d), not (1, S, d): the exporter turns a linear on a
    # (1, S, d) tensor into aten.squeeze_copy.dims(x, [0]) + a 2-D linear, and etvk has no
    # squeeze_copy (yet).
    def forward(self, x):  # (S, d)
        for b in self.blocks:
            x = b(x)
        return x


def build(name, variant):
    """(module, example inputs) with fixed seeds."""
    torch.manual_seed(0)
    if name == "baseline":
        return Relu1().eval(), (torch.randn(1),)
    if name in ("mobilenet_v2", "resnet18"):
        import torchvision

        model = getattr(torchvision.models, name)(weights=None).eval()
        return model, (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)),)
    if name == "transformer":
        model = Transformer(variant).eval()
        return model, (torch.randn(128, 384, generator=torch.Generator().manual_seed(1)),)
    raise ValueError(f"unknown model {name}")


MODELS = ["baseline", "mobilenet_v2", "resnet18", "transformer"]

# Bump when a model definition or the export changes: cached exports with another
# version are redone.
EXPORT_VERSION = 2


def export(name, out_dir, force=False, variant="auto"):
    """Exports `name` to <out_dir>/<name>.pte unless it is there; returns its metadata."""
    os.makedirs(out_dir, exist_ok=True)
    pte = os.path.join(out_dir, f"{name}.pte")
    meta_path = os.path.join(out_dir, f"{name}.json")
    variant = transformer_variant(variant) if name == "transformer" else None
    if not force and os.path.exists(pte) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("variant") == variant and meta.get("export_version") == EXPORT_VERSION:
            return meta
    from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner
    from executorch.exir import to_edge_transform_and_lower

    t0 = time.time()
    model, inputs = build(name, variant)
    with torch.no_grad():
        ep = torch.export.export(model, inputs)
        edge = to_edge_transform_and_lower(ep, partitioner=[VulkanPartitioner()])
        prog = edge.to_executorch()
    with torch.no_grad():
        expected = model(*inputs)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    for i, t in enumerate(inputs):
        np.save(os.path.join(out_dir, f"{name}.input{i}.npy"), t.numpy().astype(np.float32))
    for i, t in enumerate(expected):
        np.save(os.path.join(out_dir, f"{name}.expected{i}.npy"), t.numpy().astype(np.float32))
    gm = prog.exported_program().graph_module
    delegates = sum(
        1
        for n in gm.graph.nodes
        if n.op == "call_function" and getattr(n.target, "__name__", "") == "executorch_call_delegate"
    )
    cpu_ops = sorted(
        {
            str(n.target)
            for n in gm.graph.nodes
            if n.op == "call_function" and getattr(n.target, "__name__", "") != "executorch_call_delegate"
            and "getitem" not in str(n.target)
        }
    )
    tmp = pte + ".tmp"
    with open(tmp, "wb") as f:
        prog.write_to_file(f)
    os.replace(tmp, pte)
    # ExecuTorch's own planned memory (inputs/outputs of the delegate live there): Module
    # allocates and zero-fills it at load_method, so it is resident.
    from executorch.exir._serialize._program import deserialize_pte_binary

    plan = deserialize_pte_binary(open(pte, "rb").read()).program.execution_plan[0]
    meta = {
        "name": name,
        "export_version": EXPORT_VERSION,
        "variant": variant,
        "params": int(sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())),
        "inputs": [list(t.shape) for t in inputs],
        "n_inputs": len(inputs),
        "n_outputs": len(expected),
        "max_abs_expected": float(max(t.abs().max() for t in expected)),
        "input_bytes": int(sum(t.numel() * t.element_size() for t in inputs)),
        "output_bytes": int(sum(t.numel() * t.element_size() for t in expected)),
        "et_planned_bytes": int(sum(plan.non_const_buffer_sizes)),
        "delegates": delegates,
        "cpu_ops": cpu_ops,
        "pte_bytes": os.path.getsize(pte),
        "export_s": round(time.time() - t0, 1),
        "torch": torch.__version__,
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(f"[export] {name}: {meta}", file=sys.stderr)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", default=MODELS)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--transformer-variant", default="auto", choices=["auto", "ln-gelu", "absnorm-relu"])
    a = ap.parse_args()
    for n in a.names:
        export(n, a.out, a.force, a.transformer_variant)


if __name__ == "__main__":
    main()
