"""Attention ops: et_vk.apply_rotary_emb (the llama RoPE pattern the exporter fuses),
et_vk.apply_rotary_emb_hf (the HF rotate_half pattern, and a direct call with start_pos),
et_vk.apply_rotary_emb_interleaved, et_vk.sdpa, and the llama KV-cache ops: a decode step through
llama.sdpa_with_kv_cache with a symbolic start_pos, update_cache + custom_sdpa (which the
exporter fuses into sdpa_with_kv_cache), and update_cache on its own.

KV caches are module buffers that the ops mutate; the exporter serializes them as constant
tensors of the delegate. They are filled with distinct random values here (the state after
earlier tokens): all-zero caches share one named-data key, which etvk does not yet keep apart
(tests/ops_attention.rs: zero_caches_sharing_one_named_key_stay_separate)."""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402
import executorch.backends.vulkan.custom_ops_lib  # noqa: E402,F401  (registers et_vk ops)
import executorch.extension.llm.custom_ops.custom_ops  # noqa: E402,F401  (registers llama ops)
from executorch.backends.vulkan.patterns.rope import RotaryEmbeddingPattern  # noqa: E402
from executorch.backends.vulkan.patterns.rope_hf import HfRotaryEmbeddingPattern  # noqa: E402
from torch.export import Dim  # noqa: E402

OUT = HERE

# Symbolic-int delegate inputs (a dynamic start_pos) are recorded as one-element tensors, which
# the Rust side accepts for SymInt inputs.
_record = oplib.record_delegate_io


def _record_ints_as_tensors(edge, inputs):
    rec, out = _record(edge, inputs)
    rec = [
        (lowered, [torch.tensor([x]) if isinstance(x, int) else x for x in d_in], d_out)
        for lowered, d_in, d_out in rec
    ]
    return rec, out


oplib.record_delegate_io = _record_ints_as_tensors


class Rope(torch.nn.Module):
    def forward(self, xq, xk, cos, sin):
        return RotaryEmbeddingPattern()(xq, xk, cos, sin)


class RopeHfPattern(torch.nn.Module):
    def forward(self, xq, xk, cos, sin):
        return HfRotaryEmbeddingPattern()(xq, xk, cos, sin)


class RopeHf(torch.nn.Module):
    def forward(self, xq, xk, cos, sin):
        return torch.ops.et_vk.apply_rotary_emb_hf(xq, xk, cos, sin, 2)


class RopeInterleaved(torch.nn.Module):
    def forward(self, x, freqs_cis):
        return torch.ops.et_vk.apply_rotary_emb_interleaved(x, freqs_cis)


class Sdpa(torch.nn.Module):
    def forward(self, q, k, v, mask):
        return torch.ops.et_vk.sdpa(q, k, v, mask, 0.3)


class CausalSdpa(torch.nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class Caches(torch.nn.Module):
    def __init__(self, b, t, hkv, d):
        super().__init__()
        self.register_buffer("k_cache", torch.randn(b, t, hkv, d))
        self.register_buffer("v_cache", torch.randn(b, t, hkv, d))


class KvDecode(Caches):
    def forward(self, q, k, v, start_pos: int):
        return torch.ops.llama.sdpa_with_kv_cache(
            q, k, v, self.k_cache, self.v_cache, start_pos, q.shape[1], None, 0.0, True
        )


class KvPrefill(Caches):
    def forward(self, q, k, v):
        torch.ops.llama.update_cache(k, self.k_cache, 2)
        torch.ops.llama.update_cache(v, self.v_cache, 2)
        return torch.ops.llama.custom_sdpa(q, self.k_cache, self.v_cache, 2, None, 0.0, True)


class UpdateCache(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.randn(2, 6, 3, 4))

    def forward(self, value, x):
        torch.ops.llama.update_cache(value, self.cache, 3)
        return self.cache + x


KV_SDPA = "sdpa_with_kv_cache.default"


def main():
    torch.manual_seed(0)
    b, s, h, hkv, d = 1, 3, 4, 2, 8
    xq, xk = torch.randn(b, s, h, d), torch.randn(b, s, hkv, d)
    oplib.export_case(
        OUT, "rope", Rope(), [xq, xk, torch.randn(s, d // 2), torch.randn(s, d // 2)],
        expect_ops=["et_vk.apply_rotary_emb.default"],
    )
    oplib.export_case(
        OUT, "rope_hf_partial", RopeHfPattern(), [xq, xk, torch.randn(s, 6), torch.randn(s, 6)],
        expect_ops=["et_vk.apply_rotary_emb_hf.default"],
    )
    oplib.export_case(
        OUT, "rope_hf_start", RopeHf(), [xq, xk, torch.randn(7, d), torch.randn(7, d)],
        expect_ops=["et_vk.apply_rotary_emb_hf.default"],
    )
    oplib.export_case(
        OUT, "rope_interleaved", RopeInterleaved(), [torch.randn(2, 5, 8), torch.randn(1, 5, 4, 2)],
        expect_ops=["et_vk.apply_rotary_emb_interleaved.default"],
    )
    oplib.export_case(
        OUT, "sdpa_mask", Sdpa(),
        [torch.randn(2, 3, 5, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 4), torch.randn(5, 6)],
        expect_ops=["et_vk.sdpa.default"], tolerance=(1e-5, 1e-4),
    )
    oplib.export_case(
        OUT, "kv_decode", KvDecode(1, 8, hkv, d),
        [torch.randn(1, 1, h, d), torch.randn(1, 1, hkv, d), torch.randn(1, 1, hkv, d), 5],
        expect_ops=[KV_SDPA], dynamic_shapes=(None, None, None, Dim.DYNAMIC), tolerance=(1e-5, 1e-4),
    )
    oplib.export_case(
        OUT, "kv_prefill", KvPrefill(1, 7, hkv, d),
        [torch.randn(1, s, h, d), torch.randn(1, s, hkv, d), torch.randn(1, s, hkv, d)],
        expect_ops=[KV_SDPA], tolerance=(1e-5, 1e-4),
    )
    # Rope with a dynamic sequence length (exported at 6, run at 2). A prefill through
    # llama.update_cache/custom_sdpa with a dynamic length fails torch.export's checks in the
    # custom ops' meta functions, so decode (kv_decode, dynamic start_pos) is the dynamic case.
    seq = torch.export.Dim("seq", min=1, max=6)
    dyn = {"require_dynamic_shapes": True}
    oplib.export_case(
        OUT, "rope_dyn", Rope(), [torch.randn(1, 6, h, d), torch.randn(1, 6, hkv, d), torch.randn(6, d // 2), torch.randn(6, d // 2)],
        expect_ops=["et_vk.apply_rotary_emb.default"], partitioner_options=dyn,
        dynamic_shapes=({1: seq}, {1: seq}, {0: seq}, {0: seq}),
        record_inputs=[torch.randn(1, 2, h, d), torch.randn(1, 2, hkv, d), torch.randn(2, d // 2), torch.randn(2, d // 2)],
    )
    oplib.export_case(
        OUT, "update_cache", UpdateCache(), [torch.randn(2, 2, 3, 4), torch.randn(2, 6, 3, 4)],
        expect_ops=["update_cache.default"],
    )
    # A plain causal F.scaled_dot_product_attention is decomposed by the exporter (bmm,
    # _softmax, where, a mask built from full/arange/unsqueeze_copy/sub/le/logical_and,
    # squeeze_copy, full_like, view/permute_copy), not rewritten into et_vk.sdpa; it lands in 3
    # delegates around CPU mul.Scalar / any.dim. Exported only with --causal-sdpa until etvk has
    # full, full_like, arange, unsqueeze_copy and squeeze_copy.
    if "--causal-sdpa" in sys.argv:
        oplib.export_case(
            OUT, "causal_sdpa", CausalSdpa(),
            [torch.randn(1, 2, 5, 8), torch.randn(1, 2, 5, 8), torch.randn(1, 2, 5, 8)],
            expect_ops=["aten.bmm.default", "aten._softmax.default"], tolerance=(1e-5, 1e-4),
        )


if __name__ == "__main__":
    main()
