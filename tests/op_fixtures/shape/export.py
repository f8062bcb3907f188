"""Shape and copy ops: squeeze_copy.dims, unsqueeze_copy, permute_copy, t_copy, expand_copy,
repeat, select_copy.int, slice_copy.Tensor, split_with_sizes_copy, flip, constant_pad_nd,
unfold_copy, cat and the dtype casts of _to_dim_order_copy, a few ops per exported program.
Run: .venv/bin/python tests/op_fixtures/shape/export.py [case ...]

Not exportable as their own op: alias_copy, clone, _clone_dim_order, copy and
_to_dim_order_copy without a dtype change (the Vulkan preprocess removes them as redundant;
copy is only delegated when it is such a no-op), _to_copy (the edge dialect turns
`.to(dtype)` into _to_dim_order_copy) and t_copy (decomposed to permute_copy)."""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
EXACT = (0.0, 0.0)


class SqueezePermute(torch.nn.Module):
    def forward(self, x):
        a = x.squeeze(1)  # [2, 3, 5]
        b = a.unsqueeze(-1).unsqueeze(0)  # [1, 2, 3, 5, 1]
        return a.permute(2, 0, 1) + 1.0, b * 2.0, x[0, 0].t() - 1.0


class ExpandRepeat(torch.nn.Module):
    def forward(self, x, y):
        return x.expand(2, 3, 4) * 1.0, y.repeat(2, 1, 3) + 0.0


class SelectSlice(torch.nn.Module):
    def forward(self, x):
        return (
            x[1] * 1.0,
            x[:, -1] + 0.0,
            x[:, 1:-1:2] * 2.0,
            x[..., 3:] - 1.0,
            x[:, :, ::3] + 0.5,
        )


class Split(torch.nn.Module):
    def forward(self, x):
        a, b, c = torch.split(x, [2, 1, 3], dim=1)
        return a * 1.0, b + 1.0, c - 1.0


class FlipPad(torch.nn.Module):
    def forward(self, x):
        return (
            torch.flip(x, [0, 2]) * 1.0,
            F.pad(x, (1, 2, 0, 1), value=0.5),
            F.pad(x, (-1, 1, 1, -1)),
        )


class Unfold(torch.nn.Module):
    def forward(self, x):
        return x.unfold(2, 3, 2) * 1.0, x.unfold(1, 2, 1) + 0.0


class Cat(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x * 1.0, y + 0.0], dim=1)


class Casts(torch.nn.Module):
    def forward(self, x, i):
        return (
            (x * 4.0).to(torch.int32) + i,
            i.to(torch.float32) * 0.5,
            (x > 0.3).to(torch.float32) + x,
        )


def main():
    only = set(sys.argv[1:])

    def case(name, *args, **kwargs):
        if not only or name in only:
            oplib.export_case(OUT, name, *args, **kwargs)

    torch.manual_seed(0)
    case(
        "squeeze_permute", SqueezePermute(), [torch.randn(2, 1, 3, 5)],
        expect_ops=["aten.squeeze_copy.dims", "aten.unsqueeze_copy.default", "aten.permute_copy.default"],
        tolerance=EXACT,
    )
    case(
        "expand_repeat", ExpandRepeat(), [torch.randn(3, 1), torch.randn(2, 3)],
        expect_ops=["aten.expand_copy.default", "aten.repeat.default"],
        tolerance=EXACT,
    )
    case(
        "select_slice", SelectSlice(), [torch.randn(3, 5, 7)],
        expect_ops=["aten.select_copy.int", "aten.slice_copy.Tensor"],
        tolerance=EXACT,
    )
    case(
        "split", Split(), [torch.randn(2, 6, 3)],
        expect_ops=["aten.split_with_sizes_copy.default"],
        tolerance=EXACT,
    )
    case(
        "flip_pad", FlipPad(), [torch.randn(2, 3, 4)],
        expect_ops=["aten.flip.default", "aten.constant_pad_nd.default"],
        tolerance=EXACT,
    )
    case(
        "unfold", Unfold(), [torch.randn(2, 3, 7)],
        expect_ops=["aten.unfold_copy.default"],
        tolerance=EXACT,
    )
    case(
        "cat", Cat(), [torch.randn(2, 3, 4), torch.randn(2, 2, 4)],
        expect_ops=["aten.cat.default"],
        tolerance=EXACT,
    )
    case(
        "casts", Casts(), [torch.randn(2, 3, 4), torch.randint(-5, 6, (2, 3, 4), dtype=torch.int32)],
        expect_ops=["dim_order_ops._to_dim_order_copy.default"],
        tolerance=EXACT,
    )


if __name__ == "__main__":
    main()
