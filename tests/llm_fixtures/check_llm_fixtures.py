#!/usr/bin/env python3
"""Runs the LLM fixtures through ExecuTorch's Python bindings with etvk's plugin loaded.

    .venv/bin/python tests/llm_fixtures/check_llm_fixtures.py [VARIANT ...] [--plugin PATH]

For each variant directory (vk_fp32, vk_fp16, vk_4w, vk_8da4w by default) it loads model.pte
once and calls forward(tokens, input_pos) with step<k>_tokens.npy / step<k>_input_pos.npy for
k = 0..4 in order (prefill, then 4 decode steps on the same loaded method, so the KV cache
inside the delegate carries over), comparing each step's logits with
step<k>_expected_logits.npy at the variant's tolerance.txt. Prints the max error per step;
a program etvk cannot run (the pybindings initialize the delegate at the first forward) is
reported and is fatal only with --require-all. Then examples/llama_generate.py runs on vk_4w
with the step-0 prompt and its first greedy token must be the argmax of the expected logits.
Exit status 1 when a program that runs does not match.
"""

import argparse
import ctypes
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="*", default=["vk_fp32", "vk_fp16", "vk_4w", "vk_8da4w"])
    ap.add_argument("--plugin", default=os.path.join(REPO, "build", "libetvk_executorch.so"))
    ap.add_argument("--require-all", action="store_true", help="a variant that does not run is a failure")
    a = ap.parse_args()

    import torch
    from executorch.extension.pybindings import portable_lib

    ctypes.CDLL(os.path.abspath(a.plugin), mode=ctypes.RTLD_GLOBAL)
    bad = False
    for v in a.variants:
        d = os.path.join(HERE, v)
        atol, rtol = (float(x) for x in open(os.path.join(d, "tolerance.txt")).read().split())
        try:
            m = portable_lib._load_for_executorch(os.path.join(d, "model.pte"))
        except Exception as e:  # noqa: BLE001
            print(f"{v}: does not load: {str(e).splitlines()[0]}")
            continue
        errs, ok = [], True
        for k in range(5):
            tok = torch.from_numpy(np.load(os.path.join(d, f"step{k}_tokens.npy")))
            pos = torch.from_numpy(np.load(os.path.join(d, f"step{k}_input_pos.npy")))
            exp = np.load(os.path.join(d, f"step{k}_expected_logits.npy"))
            try:
                (out,) = m.forward((tok, pos))
            except Exception as e:  # noqa: BLE001
                print(f"{v}: does not run (step {k}): {str(e).splitlines()[0]}")
                ok = None
                break
            out = out.detach().numpy().astype(np.float32)
            errs.append(float(np.abs(out - exp).max()))
            ok &= bool(np.all(np.abs(out - exp) <= atol + rtol * np.abs(exp)))
        if ok is None:
            bad |= a.require_all
            continue
        print(f"{v}: {'ok' if ok else 'MISMATCH'}; max |out - expected| per step: "
              + ", ".join(f"{e:.2e}" for e in errs) + f" (atol {atol}, rtol {rtol})")
        bad |= not ok
    bad |= not check_example(a.plugin)
    return 1 if bad else 0


def check_example(plugin: str) -> bool:
    """examples/llama_generate.py on vk_4w with the step-0 prompt: its first greedy token must
    be the argmax of the expected step-0 logits."""
    import subprocess

    d = os.path.join(HERE, "vk_4w")
    prompt = np.load(os.path.join(d, "step0_tokens.npy"))[0]
    want = int(np.argmax(np.load(os.path.join(d, "step0_expected_logits.npy"))))
    cmd = [sys.executable, os.path.join(REPO, "examples", "llama_generate.py"),
           os.path.join(d, "model.pte"), "--prompt-ids", ",".join(str(int(t)) for t in prompt),
           "--max-new-tokens", "4", "--plugin", plugin]
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("tokens: [")), None)
    got = int(line[len("tokens: ["):].split(",")[0].rstrip("]")) if line else None
    ok = p.returncode == 0 and got == want
    print(f"examples/llama_generate.py on vk_4w: {'ok' if ok else 'FAILED'}; first token {got}, "
          f"expected {want}" + ("" if p.returncode == 0 else f"; exit {p.returncode}: {p.stderr[-300:]}"))
    return ok


if __name__ == "__main__":
    sys.exit(main())
