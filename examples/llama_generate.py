#!/usr/bin/env python3
"""Generates tokens with a Llama program from `export_llama --vulkan` through ExecuTorch's
Python bindings, with etvk as the VulkanBackend.

    python examples/llama_generate.py MODEL.pte --prompt-ids 1,2,3 [--max-new-tokens 32]
    python examples/llama_generate.py MODEL.pte --tokenizer tokenizer.model --prompt "Once upon"

The program takes forward(tokens int64 [1, S], input_pos int64 [1]) and returns the last
token's logits (export_llama with -kv --use_sdpa_with_kv_cache: the KV cache is state inside
the delegate). The prompt goes in as one prefill call at position 0, then one call per new
token, greedy (argmax). With --tokenizer (tiktoken / sentencepiece / HF json, through
pytorch_tokenizers) the prompt is text and the output is decoded. Prints the tokens and
prefill / decode tokens per second.

etvk registers itself when its plugin is loaded: `import etvk` after `pip install .` of this
repository, or --plugin PATH (default: build/libetvk_executorch.so of this checkout).
"""

import argparse
import ctypes
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PLUGIN = os.path.join(HERE, "..", "build", "libetvk_executorch.so")


def load_backend(plugin):
    """Registers etvk's VulkanBackend: the given plugin, else the etvk package, else build/."""
    if plugin is None:
        try:
            import etvk  # noqa: F401  (registers on import)

            return "the etvk package"
        except ImportError:
            plugin = DEFAULT_PLUGIN
    ctypes.CDLL(os.path.abspath(plugin), mode=ctypes.RTLD_GLOBAL)
    return plugin


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pte")
    ap.add_argument("--prompt-ids", help="comma-separated token ids")
    ap.add_argument("--prompt", help="text (needs --tokenizer)")
    ap.add_argument("--tokenizer", help="tokenizer file (tokenizer.model, tokenizer.json, ...)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--plugin", help="path to libetvk_executorch.so")
    a = ap.parse_args()

    tokenizer = None
    if a.tokenizer:
        from pytorch_tokenizers import get_tokenizer

        tokenizer = get_tokenizer(a.tokenizer)
    if a.prompt is not None:
        if tokenizer is None:
            ap.error("--prompt needs --tokenizer (or give --prompt-ids)")
        prompt = tokenizer.encode(a.prompt, bos=True, eos=False)
    elif a.prompt_ids:
        prompt = [int(t) for t in a.prompt_ids.split(",")]
    else:
        ap.error("give --prompt-ids or --prompt with --tokenizer")

    backend = load_backend(a.plugin)
    import torch
    from executorch.extension.pybindings import portable_lib

    t0 = time.perf_counter()
    method = portable_lib._load_for_executorch(a.pte)
    print(f"loaded {a.pte} with VulkanBackend from {backend} in {(time.perf_counter() - t0) * 1e3:.0f} ms")

    def forward(tokens, pos):
        (logits,) = method.forward((torch.tensor([tokens], dtype=torch.int64),
                                    torch.tensor([pos], dtype=torch.int64)))
        return logits.reshape(-1, logits.shape[-1])[-1]

    t1 = time.perf_counter()
    logits = forward(prompt, 0)  # the delegate initializes on the first call
    prefill_s = time.perf_counter() - t1
    generated = []
    pos = len(prompt)
    t2 = time.perf_counter()
    for _ in range(a.max_new_tokens):
        nxt = int(torch.argmax(logits))
        generated.append(nxt)
        if tokenizer is not None and nxt in getattr(tokenizer, "stop_tokens", [tokenizer.eos_id]):
            break
        logits = forward([nxt], pos)
        pos += 1
    decode_s = time.perf_counter() - t2
    print("tokens:", generated)
    if tokenizer is not None:
        print("text:", tokenizer.decode(prompt + generated))
    print(f"prefill {len(prompt)} tokens in {prefill_s * 1e3:.1f} ms (first call, includes delegate "
          f"init); decode {len(generated)} tokens at {len(generated) / decode_s:.1f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
