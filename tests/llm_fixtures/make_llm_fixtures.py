#!/usr/bin/env python3
"""Llama-3.2-architecture fixtures from the real LLM flow (issue 10, item 3).

    .venv/bin/python tests/llm_fixtures/make_llm_fixtures.py [--work DIR] [--only VARIANT ...]
        [--skip-export] [--commit-limit BYTES]

Steps (all sequential, one CPU-heavy process at a time):

1. A checkpoint with random, seeded weights for the architecture in params.json (dim 64,
   2 layers, 4 heads / 2 KV heads, vocab 512, SwiGLU hidden 256, RMSNorm, scaled RoPE): the
   model's own constructor (`construct_transformer`) under torch.manual_seed(SEED), RMSNorm
   weights then set to 1 + 0.1 * randn so they are not all ones.
2. `python -m executorch.examples.models.llama.export_llama` on that checkpoint (`-c`), with
   KV cache and the custom SDPA (`-kv --use_sdpa_with_kv_cache`), `--max_seq_length 32
   --max_context_length 32`, once per Vulkan variant (fp32, --vulkan-force-fp16,
   -qmode 4w -G 32, -qmode 8da4w -G 32) and once per CPU reference program (the same
   command without --vulkan: a portable CPU program, no XNNPACK; fp32, 4w, 8da4w).
3. Expected logits, 12 token positions in 5 calls (see steps()) on one loaded method, so the
   KV cache carries over:
   - fp32 and force_fp16: the portable CPU program (same export_llama command without
     --vulkan) loaded once with the wheel's pybindings (`executorch.extension.pybindings.
     portable_lib`, plus `executorch.extension.llm.custom_ops` for llama::custom_sdpa /
     update_cache and `executorch.kernels.quantized`);
   - 4w and 8da4w: PyTorch eager on the model export_llama itself builds
     (`export_llama_lib._prepare_for_llama_export` with the same arguments: same checkpoint,
     same torchao quantize_ config, so the same quantized weights), because the portable CPU
     export of a torchao-quantized model is not runnable: export_llama's CPU program keeps
     `aten::linear.out` on the raw int8 weights with no dequantize op, and the pybindings
     fail with "Tensors do not match: dtype={Float, Char, Float}" (error 0x12). Eager fp32 is
     also run and compared with the fp32 CPU program, as a check of the eager route.

How the method takes its inputs (export_llama's `get_example_inputs_kvcache_sdpa` with
dynamic shapes, and the wheel's runner `examples/models/llama/runner/generation.py`):
`forward(tokens, input_pos)`, tokens int64 [1, S] (S = 1..max_seq_length-1), input_pos int64
[1] = position of tokens[0, 0]; it returns the logits of the last token only, float32
[1, vocab] (no --generate_full_logits). Prefill: tokens = the 8 prompt ids, input_pos = [0];
decode step i (0..3): tokens = [[decode_ids[i]]], input_pos = [8 + i]. The decode ids are
fixed (seeded), not sampled, so a backend whose argmax differs still gets the same inputs.

Output, per variant V in tests/llm_fixtures/V/: model.pte (when smaller than --commit-limit),
step<k>_tokens.npy, step<k>_input_pos.npy, step<k>_expected_logits.npy (k = 0 prefill,
1..4 decode), tolerance.txt ("atol rtol", see README.md) and export.log (the command).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PARAMS = os.path.join(HERE, "params.json")
SEED = 0
MAX_SEQ = 32
PROMPT_LEN = 8
DECODE_STEPS = 4
GROUP = 32

COMMON = [
    "--model", "llama3_2", "-kv", "--use_sdpa_with_kv_cache", "-d", "fp32",
    "--max_seq_length", str(MAX_SEQ), "--max_context_length", str(MAX_SEQ),
]
# name: (extra export_llama args, CPU reference variant, atol, rtol)
VARIANTS = {
    "vk_fp32": (["--vulkan"], "cpu_fp32", 1e-4, 1e-4),
    "vk_fp16": (["--vulkan", "--vulkan-force-fp16"], "cpu_fp32", 5e-3, 5e-3),
    "vk_4w": (["--vulkan", "-qmode", "4w", "-G", str(GROUP)], "eager_4w", 1e-4, 1e-4),
    "vk_8da4w": (["--vulkan", "-qmode", "8da4w", "-G", str(GROUP)], "eager_8da4w", 1e-2, 1e-2),
}
# Reference programs: "cpu_*" are exported for CPU and run through portable_lib; "eager_*"
# run the export_llama-prepared model in PyTorch eager.
REFS = {
    "cpu_fp32": [],
    "eager_fp32": [],
    "eager_4w": ["-qmode", "4w", "-G", str(GROUP)],
    "eager_8da4w": ["-qmode", "8da4w", "-G", str(GROUP)],
}


def steps(vocab: int):
    """The 12 token positions as (tokens int64 [1, S], input_pos int64 [1]) per call."""
    rng = np.random.default_rng(1234)
    ids = rng.integers(0, vocab, size=PROMPT_LEN + DECODE_STEPS)
    out = [(ids[None, :PROMPT_LEN].astype(np.int64), np.array([0], np.int64))]
    for i in range(DECODE_STEPS):
        out.append((ids[None, PROMPT_LEN + i : PROMPT_LEN + i + 1].astype(np.int64),
                    np.array([PROMPT_LEN + i], np.int64)))
    return out


def make_checkpoint(path: str) -> None:
    import torch
    from executorch.examples.models.llama.llama_transformer import construct_transformer
    from executorch.examples.models.llama.model_args import ModelArgs

    params = json.load(open(PARAMS))
    torch.manual_seed(SEED)
    m = construct_transformer(ModelArgs(max_seq_len=MAX_SEQ, max_context_len=MAX_SEQ, **params))
    sd = {}
    for k, v in m.state_dict().items():
        if k.endswith("norm.weight"):
            v = 1.0 + 0.1 * torch.randn_like(v)
        if any(s in k for s in ("freqs", "mask", "cache")):
            continue  # buffers the model recomputes
        sd[k] = v.detach().clone()
    torch.save(sd, path)


def export(name: str, extra, ckpt: str, work: str) -> str:
    pte = os.path.join(work, name + ".pte")
    cmd = [sys.executable, "-m", "executorch.examples.models.llama.export_llama",
           "-c", ckpt, "-p", PARAMS, *COMMON, *extra, "-o", work, "-n", pte]
    t = time.time()
    with open(os.path.join(work, name + ".log"), "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    print(f"exported {name}: {os.path.getsize(pte)} bytes in {time.time() - t:.0f} s")
    return pte


def run_cpu(pte: str, vocab: int):
    import torch
    from executorch.extension.pybindings import portable_lib
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401  (llama:: kernels)
    import executorch.kernels.quantized  # noqa: F401  (quantized_decomposed:: kernels)

    m = portable_lib._load_for_executorch(pte)
    outs = []
    for tok, pos in steps(vocab):
        (logits,) = m.forward((torch.from_numpy(tok), torch.from_numpy(pos)))
        outs.append(logits.detach().numpy().astype(np.float32))
    return outs


def run_eager(ckpt: str, extra, vocab: int, perturb=None):
    import torch
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401  (llama:: torch ops)
    from executorch.examples.models.llama.export_llama_lib import (
        _prepare_for_llama_export,
        build_args_parser,
    )
    from executorch.extension.llm.export.config.llm_config import LlmConfig

    args = build_args_parser().parse_args(["-c", ckpt, "-p", PARAMS, *COMMON, *extra])
    model = _prepare_for_llama_export(LlmConfig.from_args(args)).model.eval()
    if perturb is not None:
        perturb(model)
    outs = []
    with torch.no_grad():
        for tok, pos in steps(vocab):
            logits = model(torch.from_numpy(tok), {"input_pos": torch.from_numpy(pos)})
            if isinstance(logits, tuple):
                logits = logits[0]
            outs.append(logits.detach().numpy().astype(np.float32))
    return outs


def round_constants_to_fp16(model) -> None:
    """What force_fp16 does to the program's constants (weights, norms, RoPE tables; not the
    KV caches, which are state): round fp32 to fp16. The arithmetic stays fp32, as in etvk."""
    import torch

    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.dtype == torch.float32 and "cache" not in name:
                t.copy_(t.half().float())


def quantize_by_division(model) -> None:
    """8da4w activations quantized with round(x / scale) instead of torchao's
    round(x * (1 / scale)): a legitimate kernel choice that flips a few int8 values."""
    import torch
    import torchao.quantization.quant_primitives as qp

    orig = qp._quantize_affine_no_dtype_cast

    def div(input, block_size, scale, zero_point, quant_min, quant_max):
        q = orig(input, block_size, scale, zero_point, quant_min, quant_max)
        shape, dims = qp._get_reduction_params(block_size, input.size())
        after = list(shape)
        for i in dims:
            after[i] = 1
        x = input.view(shape)
        s = scale.view(after)
        z = zero_point.view(after) if zero_point is not None else 0
        return torch.clamp(torch.round(x / s) + z, quant_min, quant_max).view(q.shape)

    qp._quantize_affine_no_dtype_cast = div


def flip_one_activation(model) -> None:
    """Every dynamically quantized activation row gets one int8 value off by one (the first
    element of each quantized row, +1 or -1 inside [-128, 127]): far more than a rounding
    difference produces, as an upper bound of what one-step flips do to the logits."""
    import torch
    import torchao.quantization.quant_primitives as qp

    orig = qp._quantize_affine_no_dtype_cast

    def flip(input, block_size, scale, zero_point, quant_min, quant_max):
        q = orig(input, block_size, scale, zero_point, quant_min, quant_max).clone()
        flat = q.view(-1, q.shape[-1])
        flat[:, 0] = torch.where(flat[:, 0] < quant_max, flat[:, 0] + 1, flat[:, 0] - 1)
        return q

    qp._quantize_affine_no_dtype_cast = flip


def tolerance_study(ckpt: str, vocab: int, expected) -> None:
    """Prints how far legitimate implementation differences move the logits; the
    tolerances in VARIANTS are chosen from these figures (README.md)."""
    def diff(a, b):
        return max(float(np.abs(x - y).max()) for x, y in zip(a, b))

    fp16 = run_eager(ckpt, [], vocab, round_constants_to_fp16)
    print(f"study: fp32 constants rounded to fp16 (f32 math) vs cpu_fp32: max |d| = {diff(fp16, expected['cpu_fp32']):.3g}")
    import torchao.quantization.quant_primitives as qp

    orig = qp._quantize_affine_no_dtype_cast
    quantize_by_division(None)
    div = run_eager(ckpt, REFS["eager_8da4w"], vocab)
    print(f"study: 8da4w with round(x / s) vs eager_8da4w: max |d| = {diff(div, expected['eager_8da4w']):.3g}")
    qp._quantize_affine_no_dtype_cast = orig
    flip_one_activation(None)
    flip = run_eager(ckpt, REFS["eager_8da4w"], vocab)
    print(f"study: 8da4w with one int8 step off in every activation row vs eager_8da4w: max |d| = {diff(flip, expected['eager_8da4w']):.3g}")
    qp._quantize_affine_no_dtype_cast = orig


def reference(name: str, ckpt: str, work: str, vocab: int):
    if name.startswith("cpu_"):
        return run_cpu(os.path.join(work, name + ".pte"), vocab)
    return run_eager(ckpt, REFS[name], vocab)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/etvk_llm_fixtures")
    ap.add_argument("--only", nargs="*", help="Vulkan variants to (re)make")
    ap.add_argument("--skip-export", action="store_true", help="reuse the .pte files in --work")
    ap.add_argument("--commit-limit", type=int, default=1_500_000)
    ap.add_argument("--tolerance-study", action="store_true", help="print the figures behind the tolerances")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    vocab = json.load(open(PARAMS))["vocab_size"]
    ckpt = os.path.join(a.work, "checkpoint.pth")
    variants = a.only or list(VARIANTS)
    refs = sorted({VARIANTS[v][1] for v in variants})
    if "cpu_fp32" in refs:
        refs.append("eager_fp32")
    if not a.skip_export:
        make_checkpoint(ckpt)
        for r in refs:
            if r.startswith("cpu_"):
                export(r, REFS[r], ckpt, a.work)
        for v in variants:
            export(v, VARIANTS[v][0], ckpt, a.work)
    expected = {r: reference(r, ckpt, a.work, vocab) for r in refs}
    if "eager_fp32" in expected:
        d = max(float(np.abs(x - y).max()) for x, y in zip(expected["cpu_fp32"], expected["eager_fp32"]))
        print(f"fp32 CPU program vs eager, max abs difference over the 5 calls: {d:.3g}")
    if a.tolerance_study:
        tolerance_study(ckpt, vocab, expected)
    for v in variants:
        extra, ref, atol, rtol = VARIANTS[v]
        d = os.path.join(HERE, v)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        pte = os.path.join(a.work, v + ".pte")
        size = os.path.getsize(pte)
        if size < a.commit_limit:
            shutil.copy(pte, os.path.join(d, "model.pte"))
        else:
            print(f"{v}: {size} bytes >= {a.commit_limit}, model.pte not kept")
        for k, ((tok, pos), logits) in enumerate(zip(steps(vocab), expected[ref])):
            np.save(os.path.join(d, f"step{k}_tokens.npy"), tok)
            np.save(os.path.join(d, f"step{k}_input_pos.npy"), pos)
            np.save(os.path.join(d, f"step{k}_expected_logits.npy"), logits)
        with open(os.path.join(d, "tolerance.txt"), "w") as f:
            f.write(f"{atol} {rtol}\n")
        with open(os.path.join(d, "export.log"), "w") as f:
            f.write("python -m executorch.examples.models.llama.export_llama -c checkpoint.pth "
                    f"-p tests/llm_fixtures/params.json {' '.join(COMMON + extra)} -n model.pte\n"
                    + (f"expected logits: {ref}.pte (the same command without --vulkan) run by portable_lib\n"
                       if ref.startswith("cpu_") else
                       "expected logits: PyTorch eager on export_llama_lib._prepare_for_llama_export(same "
                       "arguments without --vulkan)\n") +
                    f"model.pte: {size} bytes\n")
        sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
        import dump_delegates

        dump_delegates.dump_pte(pte, ops_txt=os.path.join(d, "ops.txt"), quiet=True)
        print(f"{v}: {size} bytes, expected from {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
