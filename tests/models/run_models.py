#!/usr/bin/env python3
"""End-to-end model checks: export whole models with the real VulkanPartitioner and run them
through build/etvk_run with --expected.

Usage (from the repo root):
    .venv/bin/python tests/models/run_models.py [--force] [--atol-scale 1e-3] [--rtol 1e-3] [NAME ...]

Exports (on demand, cached) into the git-ignored bench/out/models/: <name>.pte,
<name>.input<i>.npy, <name>.expected<i>.npy (PyTorch eager), <name>.meta.json. Random weights,
fixed seeds, eval mode, fp32. BatchNorm running statistics are calibrated on the model's own
hidden states (torchvision's random init leaves mean 0 / var 1, which shrinks mobilenet_v2's
output to ~3e-9, below any absolute tolerance).

Each output is compared as |etvk - eager| <= atol + rtol * |eager| with atol = atol_scale *
max|eager| (scaled to the output's magnitude). Before that, a self-check runs the same
comparison on an all-zero output: a model whose check would pass on zeros fails.

Models:
    mobilenet_v2  torchvision mobilenet_v2(weights=None), 1x3x224x224
    resnet18      torchvision resnet18(weights=None), 1x3x224x224
    vit           ViT-style encoder: Conv2d patch embedding (1x3x64x64, patch 8), cls token,
                  positional embedding, 2 pre-norm blocks (LayerNorm, MHA as matmul + softmax,
                  GELU MLP), final LayerNorm + head on the cls token
    llama         Llama-style decoder: embedding, RMSNorm (x * rsqrt(mean(x^2)+eps) * w), rotary
                  embedding, causal F.scaled_dot_product_attention, SwiGLU MLP, 2 layers,
                  int64 tokens (1, 8)
    kv_decode     one KV-cache decode step: q/k/v projections of one token, rotary-free,
                  torch.ops.llama.sdpa_with_kv_cache on registered k/v cache buffers at a fixed
                  start_pos, output projection

Prints a table and "N passed, M failed"; exits 1 on any failure.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "bench", "out", "models")
RUNNER = os.path.join(REPO, "build", "etvk_run")
sys.path.insert(0, os.path.join(REPO, "bench"))

EXPORT_VERSION = 3

# --------------------------------------------------------------------------- #
# Models
# --------------------------------------------------------------------------- #


class VitBlock(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.n1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.n2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)

    def forward(self, x):  # (B, S, d)
        b, s, d = x.shape
        qkv = self.qkv(self.n1(x)).view(b, s, 3, self.h, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, S, hd)
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd)), dim=-1)
        a = torch.matmul(att, v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(a)
        return x + self.fc2(F.gelu(self.fc1(self.n2(x))))


class Vit(nn.Module):
    def __init__(self, img=64, patch=8, d=64, heads=4, ff=128, blocks=2, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch)
        n = (img // patch) ** 2
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, d))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n + 1, d))
        self.blocks = nn.ModuleList(VitBlock(d, heads, ff) for _ in range(blocks))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, img):
        x = self.patch(img).flatten(2).transpose(1, 2)  # (B, N, d)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d) + 0.1 * torch.randn(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq, hd, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.outer(torch.arange(seq).float(), freqs)  # (S, hd/2)
    return torch.cos(ang), torch.sin(ang)


def apply_rope(xq, xk, cos, sin):
    """xq, xk: (B, S, H, hd). The llama reference form (examples/models/llama/rope.py
    apply_rotary_emb), which the Vulkan exporter fuses into et_vk.apply_rotary_emb."""
    xq_r, xq_i = xq.float().reshape(xq.shape[:-1] + (-1, 2)).unbind(-1)
    xk_r, xk_i = xk.float().reshape(xk.shape[:-1] + (-1, 2)).unbind(-1)
    shape = [d if i == 1 or i == xq_r.ndim - 1 else 1 for i, d in enumerate(xq_r.shape)]
    c, s = cos.view(shape), sin.view(shape)
    xq_out = torch.stack([xq_r * c - xq_i * s, xq_r * s + xq_i * c], dim=-1).flatten(3)
    xk_out = torch.stack([xk_r * c - xk_i * s, xk_r * s + xk_i * c], dim=-1).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


class LlamaLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.attn_norm = RMSNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.w1 = nn.Linear(d, ff, bias=False)
        self.w3 = nn.Linear(d, ff, bias=False)
        self.w2 = nn.Linear(ff, d, bias=False)

    def forward(self, x, cos, sin):
        b, s, d = x.shape
        h = self.attn_norm(x)
        q, k = apply_rope(self.wq(h).view(b, s, self.h, self.hd), self.wk(h).view(b, s, self.h, self.hd), cos, sin)
        v = self.wv(h).view(b, s, self.h, self.hd)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(b, s, d))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, vocab=256, d=64, heads=4, ff=172, layers=2, seq=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(LlamaLayer(d, heads, ff) for _ in range(layers))
        self.norm = RMSNorm(d)
        self.out = nn.Linear(d, vocab, bias=False)
        cos, sin = rope_tables(seq, d // heads)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, tokens):  # (1, S) int64
        x = self.emb(tokens)
        s = tokens.shape[1]
        cos, sin = self.cos[:s], self.sin[:s]
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.out(self.norm(x))


class KvDecode(nn.Module):
    """One decode step at a fixed start_pos with k/v caches as buffers (filled with distinct
    random values: the state after earlier tokens)."""

    def __init__(self, d=64, heads=4, kv_heads=2, max_seq=16, start_pos=5):
        super().__init__()
        self.h, self.hkv, self.hd = heads, kv_heads, d // heads
        self.start_pos = start_pos
        self.wq = nn.Linear(d, heads * self.hd, bias=False)
        self.wk = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(heads * self.hd, d, bias=False)
        self.register_buffer("k_cache", torch.randn(1, max_seq, kv_heads, self.hd))
        self.register_buffer("v_cache", torch.randn(1, max_seq, kv_heads, self.hd))

    def forward(self, x):  # (1, 1, d)
        q = self.wq(x).view(1, 1, self.h, self.hd)
        k = self.wk(x).view(1, 1, self.hkv, self.hd)
        v = self.wv(x).view(1, 1, self.hkv, self.hd)
        a = torch.ops.llama.sdpa_with_kv_cache(
            q, k, v, self.k_cache, self.v_cache, self.start_pos, 1, None, 0.0, True
        )
        return self.wo(a.reshape(1, 1, self.h * self.hd))


def calibrate_batchnorm(model, example, batches=4, batch=8, seed=7):
    """Sets every BatchNorm's running mean/var to the statistics of its input over random
    batches shaped like `example` (cumulative average), then returns to eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(batch, *example.shape[1:], generator=g))
    return model.eval()


def build(name):
    """(module, example inputs) with fixed seeds."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name in ("mobilenet_v2", "resnet18"):
        from models import build as bench_build  # bench/models.py

        model, inputs = bench_build(name, None)
        return calibrate_batchnorm(model, inputs[0]), inputs
    if name == "vit":
        return Vit().eval(), (torch.randn(1, 3, 64, 64, generator=g),)
    if name == "llama":
        return Llama().eval(), (torch.randint(0, 256, (1, 8), generator=g, dtype=torch.int64),)
    if name == "kv_decode":
        import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401  (registers llama ops)

        return KvDecode().eval(), (torch.randn(1, 1, 64, generator=g),)
    raise ValueError(f"unknown model {name}")


MODELS = ["mobilenet_v2", "resnet18", "vit", "llama", "kv_decode"]

# --------------------------------------------------------------------------- #
# Export
# --------------------------------------------------------------------------- #


def graph_summary(exec_prog):
    gm = exec_prog.exported_program().graph_module
    delegates, cpu = 0, {}
    for n in gm.graph.nodes:
        if n.op != "call_function":
            continue
        tname = getattr(n.target, "__name__", str(n.target))
        if tname == "executorch_call_delegate":
            delegates += 1
        elif "getitem" not in tname and getattr(n.target, "__module__", "") != "executorch.exir.memory":
            key = str(n.target)
            cpu[key] = cpu.get(key, 0) + 1
    return delegates, cpu


def export(name, force=False):
    os.makedirs(OUT, exist_ok=True)
    pte = os.path.join(OUT, f"{name}.pte")
    meta_path = os.path.join(OUT, f"{name}.meta.json")
    if not force and os.path.exists(pte) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("export_version") == EXPORT_VERSION:
            return meta
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401
    from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner
    from executorch.exir import to_edge_transform_and_lower

    t0 = time.time()
    model, inputs = build(name)
    # Eager first: a module with in-place cache updates must see the original buffers.
    with torch.no_grad():
        import copy

        expected = copy.deepcopy(model)(*inputs)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    with torch.no_grad():
        ep = torch.export.export(model, inputs)
        edge = to_edge_transform_and_lower(ep, partitioner=[VulkanPartitioner()])
        prog = edge.to_executorch()
    for f in os.listdir(OUT):
        if f.startswith(f"{name}.input") or f.startswith(f"{name}.expected"):
            os.remove(os.path.join(OUT, f))
    for i, t in enumerate(inputs):
        np.save(os.path.join(OUT, f"{name}.input{i}.npy"), t.numpy())
    for i, t in enumerate(expected):
        np.save(os.path.join(OUT, f"{name}.expected{i}.npy"), t.numpy().astype(np.float32))
    delegates, cpu = graph_summary(prog)
    tmp = pte + ".tmp"
    with open(tmp, "wb") as f:
        prog.write_to_file(f)
    os.replace(tmp, pte)
    meta = {
        "name": name,
        "export_version": EXPORT_VERSION,
        "params": int(sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())),
        "inputs": [[list(t.shape), str(t.dtype)] for t in inputs],
        "n_inputs": len(inputs),
        "n_outputs": len(expected),
        "delegates": delegates,
        "cpu_ops": cpu,
        "pte_bytes": os.path.getsize(pte),
        "export_s": round(time.time() - t0, 1),
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# --------------------------------------------------------------------------- #
# Run
# --------------------------------------------------------------------------- #


def compare(got, want, atol, rtol):
    """(ok, message) for |got - want| <= atol + rtol * |want| everywhere (NaN never matches)."""
    if got.shape != want.shape:
        return False, f"shape {got.shape}, expected {want.shape}"
    got, want = got.astype(np.float64), want.astype(np.float64)
    err = np.abs(got - want)
    bad = ~(err <= atol + rtol * np.abs(want))
    if not bad.any():
        return True, f"max err {err.max() if err.size else 0:.3g}"
    i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), err.shape)
    return False, (f"{int(bad.sum())} of {bad.size} values off, worst at {tuple(int(x) for x in i)}: "
                   f"{got[i]:.6g} vs {want[i]:.6g}")


def check_outputs(name, meta, out_dir, atol_scale, rtol):
    """(ok, message): every saved etvk output against eager, after the zero self-check."""
    notes = []
    for i in range(meta["n_outputs"]):
        want = np.load(os.path.join(OUT, f"{name}.expected{i}.npy"))
        atol = atol_scale * float(np.abs(want).max()) if want.size else 0.0
        zeros_pass, _ = compare(np.zeros_like(want), want, atol, rtol)
        if zeros_pass:
            return False, f"output {i}: the comparison (atol {atol:.3g}, rtol {rtol}) passes on zeros"
        path = os.path.join(out_dir, f"output{i}.npy")
        if not os.path.exists(path):
            return False, f"output {i}: etvk_run saved nothing"
        ok, msg = compare(np.load(path), want, atol, rtol)
        if not ok:
            return False, f"output {i} (atol {atol:.3g}, rtol {rtol}): {msg}"
        notes.append(f"output {i}: {msg} (atol {atol:.3g}; zeros fail)")
    return True, "; ".join(notes)


def run_etvk(name, meta, out_dir, iters):
    pte = os.path.join(OUT, f"{name}.pte")
    cmd = [RUNNER, pte, "--inputs"]
    cmd += [os.path.join(OUT, f"{name}.input{i}.npy") for i in range(meta["n_inputs"])]
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    cmd += ["--save", out_dir, "--json"]
    if iters:
        cmd += ["--iters", str(iters)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    js = None
    for line in reversed(p.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                js = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    if js is None:
        try:
            js = json.loads(p.stdout)
        except json.JSONDecodeError:
            js = None
    return p.returncode, js, p.stdout, p.stderr, " ".join(cmd)


def mb(x):
    return "-" if x is None else f"{x / 1e6:.1f}"  # MB = 10^6 bytes


def ms(x):
    return "-" if x is None else f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", default=MODELS)
    ap.add_argument("--force", action="store_true", help="re-export even if cached")
    ap.add_argument("--atol-scale", type=float, default=1e-3,
                    help="atol = this * max|eager output| (per output)")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--iters", type=int, default=0, help="passed to etvk_run --iters when > 0")
    a = ap.parse_args()
    if not os.path.exists(RUNNER):
        sys.exit(f"{RUNNER} not built (see README.md)")

    rows, failures = [], []
    for name in a.names:
        row = {"name": name, "status": "FAIL", "delegates": None, "cpu_ops": None}
        try:
            meta = export(name, a.force)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            msg = f"export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            row["error"] = msg
            failures.append((name, msg))
            rows.append(row)
            continue
        row["delegates"] = meta["delegates"]
        row["cpu_ops"] = meta["cpu_ops"]
        cpu = ", ".join(f"{k} x{v}" for k, v in sorted(meta["cpu_ops"].items())) or "none"
        print(f"[{name}] {meta['params']} params, {meta['delegates']} Vulkan delegate(s); CPU ops: {cpu}", flush=True)
        out_dir = os.path.join(OUT, f"{name}.etvk")
        rc, js, out, err, cmd = run_etvk(name, meta, out_dir, a.iters)
        row["json"] = js
        ok = rc == 0 and meta["delegates"] >= 1 and js is not None
        match, note = check_outputs(name, meta, out_dir, a.atol_scale, a.rtol) if ok else (False, "")
        if ok and match:
            row["status"] = "PASS"
            print(f"[{name}] {note}", flush=True)
        else:
            lines = [l for l in (err.strip().splitlines() + out.strip().splitlines()) if l.strip()]
            if meta["delegates"] < 1:
                msg = "no Vulkan delegate in the program"
            elif ok:
                msg = note
            else:
                msg = f"etvk_run exit {rc}: " + (" | ".join(lines[-6:]) if lines else "(no output)")
            row["error"] = msg
            failures.append((name, msg))
            print(f"[{name}] FAILED: {cmd}\n{err}{out}", flush=True)
        rows.append(row)

    hdr = ["model", "result", "deleg", "cpu ops", "load ms", "first ms", "median ms", "peak RSS MB",
           "weights MB", "activ MB"]
    table = []
    for r in rows:
        js = r.get("json") or {}
        ncpu = "-" if r["cpu_ops"] is None else str(sum(r["cpu_ops"].values()))
        table.append([
            r["name"], r["status"], "-" if r["delegates"] is None else str(r["delegates"]), ncpu,
            ms(js.get("load_ms")), ms(js.get("first_execute_ms")), ms(js.get("median_execute_ms")),
            mb(js.get("peak_rss_bytes")), mb(js.get("weights_bytes")), mb(js.get("activations_bytes")),
        ])
    w = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(hdr)]
    print()
    print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for t in table:
        print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(t)) + " |")
    for name, msg in failures:
        print(f"FAIL {name}: {msg}")
    n_pass = sum(r["status"] == "PASS" for r in rows)
    print(f"{n_pass} passed, {len(rows) - n_pass} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
