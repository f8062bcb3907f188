#!/usr/bin/env python3
"""Runs the LLM fixtures through ExecuTorch's Python bindings with etvk's plugin loaded.

    .venv/bin/python tests/llm_fixtures/check_llm_fixtures.py [VARIANT ...] [--plugin PATH]

For each variant directory (vk_fp32, vk_fp16, vk_4w, vk_8da4w by default) it loads model.pte
once and calls forward(tokens, input_pos) with step<k>_tokens.npy / step<k>_input_pos.npy for
k = 0..4 in order (prefill, then 4 decode steps on the same loaded method, so the KV cache
inside the delegate carries over), comparing each step's logits with
step<k>_expected_logits.npy at the variant's tolerance.txt. Prints the max error per step;
a program etvk cannot run (e.g. quantized ops not implemented yet: the pybindings initialize
the delegate at the first forward) is reported and is fatal only with --require-all. Exit
status 1 when a program that runs does not match.
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
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
