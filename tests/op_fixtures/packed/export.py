"""Conv outputs through max pooling, nearest upsampling and channel concatenation: the ops
that keep channels-packed tensors packed between convolutions (a small U-Net block; channel
counts that are not multiples of 4; max pooling with its indices as an output). Batch 1: the
partitioner leaves convolutions of batch > 1 on the CPU."""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE


class UNetBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 6, 3, padding=1)
        self.dec = nn.Conv2d(14, 4, 3, padding=1)

    def forward(self, x):
        e = F.relu(self.enc(x))
        m = F.relu(self.mid(F.max_pool2d(e, 2)))
        up = F.interpolate(m, scale_factor=2.0, mode="nearest")
        return self.dec(torch.cat([e, up], 1))


class PoolIndices(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3)

    def forward(self, x):
        y, idx = F.max_pool2d(self.conv(x), 3, stride=2, padding=1, ceil_mode=True, return_indices=True)
        return y, idx


def main():
    torch.manual_seed(0)
    oplib.export_case(
        OUT, "unet_block", UNetBlock(), [torch.randn(1, 3, 12, 10)],
        expect_ops=["aten.max_pool2d_with_indices.default", "aten.upsample_nearest2d.vec", "aten.cat.default"],
    )
    oplib.export_case(
        OUT, "conv_pool_indices", PoolIndices(), [torch.randn(1, 3, 11, 9)],
        expect_ops=["aten.max_pool2d_with_indices.default"],
    )


if __name__ == "__main__":
    main()
