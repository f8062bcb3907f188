"""Convolutions as the partitioner delegates them (2-D with batch 1; 1-D not transposed):
strided / padded / dilated / grouped 2-D with bias, depthwise without bias, transposed 2-D
with output_padding and groups, grouped 1-D, a conv reading an unsqueezed view, and a conv + ReLU6 that fuses into
et_vk.conv_with_clamp."""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
CONV = "aten.convolution.default"


class ConvRelu6(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)

    def forward(self, x):
        return torch.nn.functional.relu6(self.conv(x))


class ConvOnView(torch.nn.Module):
    """A conv reading a rank-3 activation through an unsqueezed view: the channels-packed copy
    is laid out from the view's [N, C, H, W], not from the rank-3 root's."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x, a):
        return self.conv((x + a).unsqueeze(0))


def main():
    torch.manual_seed(0)
    oplib.export_case(
        OUT, "conv2d_grouped",
        torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        [torch.randn(1, 4, 9, 8)], expect_ops=[CONV],
    )
    oplib.export_case(
        OUT, "conv2d_depthwise", torch.nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False),
        [torch.randn(1, 6, 7, 10)], expect_ops=[CONV],
    )
    oplib.export_case(
        OUT, "conv_transpose2d",
        torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        [torch.randn(1, 4, 5, 6)], expect_ops=[CONV],
    )
    oplib.export_case(
        OUT, "conv1d_grouped", torch.nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
        [torch.randn(2, 4, 13)], expect_ops=[CONV],
    )
    oplib.export_case(
        OUT, "conv2d_relu6", ConvRelu6(), [torch.randn(1, 3, 6, 7)],
        expect_ops=["et_vk.conv_with_clamp.default"],
    )
    oplib.export_case(
        OUT, "conv2d_on_view", ConvOnView(), [torch.rand(3, 10, 10), torch.rand(3, 10, 10)],
        expect_ops=[CONV],
    )


if __name__ == "__main__":
    main()
