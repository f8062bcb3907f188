"""Pooling: max_pool2d with indices (ceil_mode, padding, stride != kernel), max_pool2d with
dilation, avg_pool2d with ceil_mode and count_include_pad=False, avg_pool2d with
divisor_override."""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE


class Fn(torch.nn.Module):
    def __init__(self, fn, **kw):
        super().__init__()
        self.fn = fn
        self.kw = kw

    def forward(self, x):
        return self.fn(x, **self.kw)


MAXI = "aten.max_pool2d_with_indices.default"
AVG = "aten.avg_pool2d.default"


def main():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 8)
    oplib.export_case(
        OUT, "max_pool2d_indices",
        Fn(F.max_pool2d, kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        [x], expect_ops=[MAXI],
    )
    oplib.export_case(
        OUT, "max_pool2d_dilation", Fn(F.max_pool2d, kernel_size=(2, 3), stride=(1, 2), dilation=2),
        [x], expect_ops=[MAXI],
    )
    oplib.export_case(
        OUT, "avg_pool2d_ceil_exclude_pad",
        Fn(F.avg_pool2d, kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        [x], expect_ops=[AVG],
    )
    oplib.export_case(
        OUT, "avg_pool2d_divisor",
        Fn(F.avg_pool2d, kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), divisor_override=4),
        [x], expect_ops=[AVG],
    )


if __name__ == "__main__":
    main()
