#!/usr/bin/env python3
"""Token-generation benchmark with Llama-3.2-shaped programs from export_llama (issue 10).

    .venv/bin/python bench/llm.py [--model llama3_2_1b|twin|tiny] [--prompt-len 128]
        [--new-tokens 64] [--orders lazy,legacy] [--profile] [--json OUT.json]

Models (random seeded weights; exported on demand into bench/out/llm/, git-ignored, and
reused; a machine without torch runs the cached .pte):
  llama3_2_1b  Llama 3.2 1B widths: dim 2048, 16 layers, 32 heads, 8 KV heads, SwiGLU 8192,
               vocab 128256, max_seq_len 512, `-qmode 4w -G 64` (export: about 17 minutes and
               8.4 GB of memory; the .pte is about 1.2 GB: its fp32 embedding is 1 GB)
  twin         the same widths with 1 layer and vocab 2048 (about 55 MB, for the H200
               machine, whose calls carry at most 64 MiB)
  tiny         tests/llm_fixtures/vk_4w (dim 64, 2 layers, vocab 512; no export)

Each order (etvk's lazy load, and the legacy order: every weight and its staging allocated
up front) runs build/etvk_llm in a fresh process: load time, accounted W, A and peak, peak
RSS, prefill tokens/s for a --prompt-len prompt, decode tokens/s over --new-tokens greedy
tokens. --profile adds a run with GPU timestamps and splits the last decode step's GPU time
into the transformer layers (per layer) and the rest (embedding, final norm, LM head).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
OUT = os.path.join(HERE, "out", "llm")
RUNNER = os.path.join(REPO, "build", "etvk_llm")

LLAMA_1B = {
    "dim": 2048,
    "ffn_dim_multiplier": 1.5,
    "multiple_of": 256,
    "n_heads": 32,
    "n_kv_heads": 8,
    "n_layers": 16,
    "norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "use_scaled_rope": True,
    "vocab_size": 128256,
}
MODELS = {
    "llama3_2_1b": dict(LLAMA_1B),
    "twin": dict(LLAMA_1B, n_layers=1, vocab_size=2048),
}
MAX_SEQ = 512
QUANT = ["-qmode", "4w", "-G", "64"]
SEED = 0


def export(name: str) -> str:
    """The model's .pte, exported unless cached (with the params it was made from)."""
    if name == "tiny":
        return os.path.join(REPO, "tests", "llm_fixtures", "vk_4w", "model.pte")
    params = MODELS[name]
    pte = os.path.join(OUT, f"{name}.pte")
    params_path = os.path.join(OUT, f"{name}.params.json")
    if os.path.exists(pte) and os.path.exists(params_path) and json.load(open(params_path)) == params:
        return pte
    os.makedirs(OUT, exist_ok=True)
    json.dump(params, open(params_path, "w"), indent=1)
    ckpt = os.path.join(OUT, f"{name}.ckpt.pth")
    t = time.time()
    make_checkpoint(params, ckpt)
    print(f"[llm] {name}: checkpoint in {time.time() - t:.0f} s", flush=True)
    cmd = [sys.executable, "-m", "executorch.examples.models.llama.export_llama",
           "-c", ckpt, "-p", params_path, "--model", "llama3_2", "-kv", "--use_sdpa_with_kv_cache",
           "-d", "fp32", "--max_seq_length", str(MAX_SEQ), "--max_context_length", str(MAX_SEQ),
           "--vulkan", *QUANT, "-o", OUT, "-n", f"{name}_tmp"]
    t = time.time()
    with open(os.path.join(OUT, f"{name}.export.log"), "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=OUT)
    os.replace(os.path.join(OUT, f"{name}_tmp.pte"), pte)
    os.remove(ckpt)
    print(f"[llm] {name}: exported {os.path.getsize(pte) / 1e6:.1f} MB in {time.time() - t:.0f} s",
          flush=True)
    return pte


def make_checkpoint(params: dict, path: str) -> None:
    """Random seeded weights from the model's own constructor (RMSNorm weights 1 + 0.1 randn)."""
    import torch
    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs

    torch.manual_seed(SEED)
    m = construct_transformer(ModelArgs(max_seq_len=MAX_SEQ, max_context_len=MAX_SEQ, **params))
    sd = {}
    for k, v in m.state_dict().items():
        if any(s in k for s in ("freqs", "mask", "cache")):
            continue  # buffers the model recomputes
        sd[k] = (1.0 + 0.1 * torch.randn_like(v)) if k.endswith("norm.weight") else v.detach()
    torch.save(sd, path)


def run(pte: str, order: str, a, profile: bool) -> dict:
    cmd = [RUNNER, pte, "--prompt-len", str(a.prompt_len), "--new-tokens", str(a.new_tokens),
           "--json"] + (["--profile"] if profile else [])
    env = dict(os.environ, ETVK_LOAD_ORDER=order)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]}
    return json.loads(lines[-1])


def split_layers(profile: list, layers: int) -> dict:
    """GPU time of the last decode step: the layers (everything between the embedding and the
    final norm) per layer, and the rest."""
    total = sum(e["us"] for e in profile)
    norms = [e["op_index"] for e in profile if e["op"] == "et_vk.rms_norm.default"]
    embed = [e["op_index"] for e in profile if "embedding" in e["op"]]
    if not norms:
        return {"gpu_us": total}
    first = max(embed) + 1 if embed else 0
    last_norm = max(norms)
    body = sum(e["us"] for e in profile if first <= e["op_index"] < last_norm)
    return {"gpu_us": total, "layers_us": body, "per_layer_us": body / max(layers, 1),
            "rest_us": total - body}


def mb(v):
    return f"{v / 1e6:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="llama3_2_1b", choices=["llama3_2_1b", "twin", "tiny"])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--orders", default="lazy,legacy")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if not os.path.exists(RUNNER):
        print(f"[llm] {RUNNER} is missing: run `make build`", file=sys.stderr)
        return 2
    pte = export(a.model)
    layers = {"tiny": 2}.get(a.model) or MODELS[a.model]["n_layers"]
    results = {"model": a.model, "pte": pte, "pte_bytes": os.path.getsize(pte), "runs": {}}
    print(f"[llm] {a.model}: {pte} ({mb(os.path.getsize(pte))} MB), prompt {a.prompt_len}, "
          f"{a.new_tokens} new tokens", flush=True)
    header = (f"{'order':7} {'load ms':>9} {'W MB':>8} {'A MB':>7} {'peak MB':>8} {'RSS MB':>8} "
              f"{'prefill tok/s':>13} {'decode tok/s':>12} {'step ms':>8}")
    print(header)
    for order in a.orders.split(","):
        r = run(pte, order, a, profile=False)
        results["runs"][order] = r
        if "error" in r:
            print(f"{order:7} error: {r['error']}", flush=True)
            continue
        print(f"{order:7} {r['load_ms']:9.1f} {mb(r['weights_bytes']):>8} {mb(r['activations_bytes']):>7} "
              f"{mb(r['accounted_peak_bytes']):>8} {mb(r['peak_rss_bytes']):>8} "
              f"{r['prefill_tokens_per_s']:13.1f} {r['decode_tokens_per_s']:12.2f} "
              f"{r['median_step_ms']:8.3f}", flush=True)
    if a.profile:
        r = run(pte, "lazy", a, profile=True)
        if "error" in r:
            print(f"profile run: error: {r['error']}")
        else:
            s = split_layers(r["profile"], layers)
            results["profile"] = s
            line = f"[llm] last decode step GPU time {s['gpu_us']:.1f} us"
            if "per_layer_us" in s:
                line += (f": {layers} layers {s['layers_us']:.1f} us ({s['per_layer_us']:.1f} us "
                         f"per layer), embedding + final norm + LM head {s['rest_us']:.1f} us")
            print(line)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        json.dump(results, open(a.json, "w"), indent=1)
    return 0 if all("error" not in r for r in results["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
