"""Resampling ops: upsample_nearest2d.vec / upsample_bilinear2d.vec (F.interpolate with size and
with scale_factor, align_corners both ways), grid_sampler_2d (F.grid_sample in the one
configuration the partitioner delegates: bilinear, border, align_corners=True), pixel_shuffle
and et_vk.grid_priors."""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402
import executorch.backends.vulkan.custom_ops_lib  # noqa: E402,F401  (registers et_vk ops)

OUT = HERE


class Interp(torch.nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return F.interpolate(x, **self.kw)


class GridSample(torch.nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x, grid):
        return F.grid_sample(x, grid, **self.kw)


class GridPriors(torch.nn.Module):
    def forward(self, x):
        return torch.ops.et_vk.grid_priors(x, stride=8, offset=0.5)


NEAREST = "aten.upsample_nearest2d.vec"
BILINEAR = "aten.upsample_bilinear2d.vec"


def main():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7)
    oplib.export_case(OUT, "nearest_size", Interp(size=(8, 11), mode="nearest"), [x], expect_ops=[NEAREST])
    oplib.export_case(
        OUT, "nearest_scale", Interp(scale_factor=(1.7, 2.5), mode="nearest"), [x], expect_ops=[NEAREST]
    )
    oplib.export_case(
        OUT, "bilinear_size_ac", Interp(size=(9, 4), mode="bilinear", align_corners=True), [x],
        expect_ops=[BILINEAR],
    )
    oplib.export_case(
        OUT, "bilinear_size", Interp(size=(9, 13), mode="bilinear", align_corners=False), [x],
        expect_ops=[BILINEAR],
    )
    oplib.export_case(
        OUT, "bilinear_scale", Interp(scale_factor=1.5, mode="bilinear", align_corners=False), [x],
        expect_ops=[BILINEAR],
    )
    oplib.export_case(
        OUT, "bilinear_scale_ac", Interp(scale_factor=(0.6, 2.0), mode="bilinear", align_corners=True), [x],
        expect_ops=[BILINEAR],
    )
    grid = torch.rand(2, 4, 6, 2) * 2.4 - 1.2
    oplib.export_case(
        OUT, "grid_sample", GridSample(mode="bilinear", padding_mode="border", align_corners=True),
        [x, grid], expect_ops=["aten.grid_sampler_2d.default"],
    )
    oplib.export_case(
        OUT, "pixel_shuffle", torch.nn.PixelShuffle(2), [torch.randn(2, 12, 3, 5)],
        expect_ops=["aten.pixel_shuffle.default"],
    )
    oplib.export_case(
        OUT, "grid_priors", GridPriors(), [torch.rand(1, 5, 2, 3)], expect_ops=["et_vk.grid_priors.default"]
    )


if __name__ == "__main__":
    main()
