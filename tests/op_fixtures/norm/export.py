"""Normalizations: native_layer_norm (affine over the last dim; no affine over the last two
dims), native_group_norm (affine), _native_batch_norm_legit_no_training (a standalone
BatchNorm2d in eval mode with non-trivial running stats and affine parameters, and a
BatchNorm1d without affine on [N, C, L]; a BatchNorm2d right after a conv is folded into the
conv's weights by the Vulkan preprocess, so it never reaches the delegate as its own op), and
et_vk.rms_norm (the Llama RMSNorm form, which the partitioner fuses into the custom op;
torch.nn.RMSNorm does not match that pattern: it exports as pow/mean/add.Scalar/rsqrt/mul with
the add left on the CPU).
Run: .venv/bin/python tests/op_fixtures/norm/export.py [case ...]"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE


def randomize(m: torch.nn.Module) -> torch.nn.Module:
    """Random affine parameters and running stats, so defaults (1, 0) don't hide bugs."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
        for name, buf in m.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn_like(buf))
            elif name.endswith("running_var"):
                buf.copy_(torch.rand_like(buf) + 0.5)
    return m


class RMSNorm(torch.nn.Module):
    """Llama's RMSNorm: the form the Vulkan rms_norm pattern matches."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        norm = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return norm.type_as(x) * self.weight


LN = "aten.native_layer_norm.default"
GN = "aten.native_group_norm.default"
BN = "aten._native_batch_norm_legit_no_training.default"
RMS = "et_vk.rms_norm.default"


def cases():
    torch.manual_seed(0)
    return {
        "layer_norm": lambda: oplib.export_case(
            OUT, "layer_norm", randomize(torch.nn.LayerNorm(37)),
            [torch.randn(2, 3, 37) * 2 + 1], expect_ops=[LN],
        ),
        "layer_norm_2d_no_affine": lambda: oplib.export_case(
            OUT, "layer_norm_2d_no_affine",
            torch.nn.LayerNorm([5, 6], elementwise_affine=False, eps=1e-3),
            [torch.randn(2, 3, 5, 6) + 3], expect_ops=[LN],
        ),
        "group_norm": lambda: oplib.export_case(
            OUT, "group_norm", randomize(torch.nn.GroupNorm(3, 6)),
            [torch.randn(2, 6, 5, 7) + 1], expect_ops=[GN],
        ),
        "batch_norm": lambda: oplib.export_case(
            OUT, "batch_norm", randomize(torch.nn.BatchNorm2d(5)),
            [torch.randn(2, 5, 4, 7)], expect_ops=[BN],
        ),
        "batch_norm_1d_no_affine": lambda: oplib.export_case(
            OUT, "batch_norm_1d_no_affine",
            randomize(torch.nn.BatchNorm1d(4, affine=False, eps=1e-3)),
            [torch.randn(3, 4, 6)], expect_ops=[BN],
        ),
        "rms_norm": lambda: oplib.export_case(
            OUT, "rms_norm", randomize(RMSNorm(40)), [torch.randn(2, 3, 40)], expect_ops=[RMS],
        ),
    }


if __name__ == "__main__":
    oplib.run_cases(cases())
