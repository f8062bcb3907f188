"""Data-dependent symbolic ints: `pos[0].item()` on a tensor input becomes
`et_vk.select_as_symint`, whose value slices a buffer (as llama's rotary tables do with
`input_pos`). Recorded at positions other than the one exported, so the delegate must read the
input's value on every execute and rebuild for it."""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
MAX_POS = 16


class NarrowAtPos(torch.nn.Module):
    """freqs.narrow(0, pos, seq) * x, as llama's rope does with input_pos."""

    def __init__(self):
        super().__init__()
        self.register_buffer("freqs", torch.randn(MAX_POS, 6))

    def forward(self, x, input_pos):
        pos = input_pos[-1].item()
        torch._check_is_size(pos)
        torch._check(pos < MAX_POS - x.shape[0] + 1)
        return self.freqs.narrow(0, pos, x.shape[0]) * x


def main():
    torch.manual_seed(0)
    pos = torch.tensor([3], dtype=torch.int64)
    oplib.export_case(
        OUT, "narrow_at_pos", NarrowAtPos(), [torch.randn(2, 6), pos],
        expect_ops=["et_vk.select_as_symint.default"],
        record_inputs=[torch.randn(2, 6), torch.tensor([9], dtype=torch.int64)],
    )


if __name__ == "__main__":
    main()
