"""Creation ops: arange.start_step, full and full_like.
Run: .venv/bin/python tests/op_fixtures/create/export.py [case ...]

What the exporter does with the others: zeros/ones become full.default and zeros_like/
ones_like become full_like.default (the `fresh` and `likes` cases); scalar_tensor with a
constant value is folded into a lifted constant, and with a symbolic value the exporter's
memory planning fails, so it only appears in tests/ops_create.rs. A delegate fed by nothing
(only creation ops) makes the exporter fail in FuseBatchNormPass (mixed fake modes), so
creation ops are always exported next to an op with a real input. arange with a symbolic end
(`arange_dynamic`) is exported at the bounds and recorded at a smaller size."""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
EXACT = (0.0, 0.0)


class Likes(torch.nn.Module):
    def forward(self, x):
        return (
            torch.zeros_like(x) + x,
            torch.ones_like(x) * x,
            torch.full_like(x, 2.5) - x,
        )


class Fresh(torch.nn.Module):
    def forward(self, x):
        return (
            x + torch.zeros(3, 4),
            x * torch.ones(3, 4),
            x - torch.full((3, 4), -1.5),
        )


class Arange(torch.nn.Module):
    def forward(self, x):
        return (
            x + torch.arange(1, 9, 2, dtype=torch.float32),
            x * torch.arange(0.5, 2.5, 0.5),
        )


class ArangeDynamic(torch.nn.Module):
    def forward(self, x):
        return x + torch.arange(0, x.shape[1], 1, dtype=torch.float32)


def main():
    only = set(sys.argv[1:])

    def case(name, *args, **kwargs):
        if not only or name in only:
            oplib.export_case(OUT, name, *args, **kwargs)

    torch.manual_seed(0)
    case("likes", Likes(), [torch.randn(2, 3)], expect_ops=["aten.full_like.default"], tolerance=EXACT)
    case("fresh", Fresh(), [torch.randn(3, 4)], expect_ops=["aten.full.default"], tolerance=EXACT)
    case("arange", Arange(), [torch.randn(3, 4)], expect_ops=["aten.arange.start_step"])
    c = torch.export.Dim("c", min=1, max=8)
    case(
        "arange_dynamic", ArangeDynamic(), [torch.randn(2, 8)], expect_ops=["aten.arange.start_step"],
        partitioner_options={"require_dynamic_shapes": True}, dynamic_shapes=({1: c},),
        record_inputs=[torch.randn(2, 5)],
    )


if __name__ == "__main__":
    main()
