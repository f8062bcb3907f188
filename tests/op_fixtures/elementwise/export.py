"""Elementwise ops (binary arithmetic, comparisons, bitwise/logical, where, unary math and
activations), a few ops per exported program. Run: .venv/bin/python tests/op_fixtures/elementwise/export.py

Not exportable as its own op: aten.hardshrink.default (decomposed into abs/le/where before
partitioning, so the `activations` case runs that decomposition instead); bitwise ops on
integer tensors and where/pow.Tensor_Scalar on integer tensors (the partitioner only delegates
them for bool / float tensors).

Integer scalars are kept out on purpose (`i * 3`, `x * 3`): the exporter lifts them into 0-dim
int64 constants cast by `_to_dim_order_copy(..., dim_order=[])`, whose empty IntList flatc
writes with an unaligned i64 payload that the Rust flatbuffer verifier rejects (format issue,
not an elementwise one).

Pass case names as arguments to export only those."""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
TRANSCENDENTAL = (1e-5, 1e-5)


class ArithFloat(torch.nn.Module):
    def forward(self, x, y):
        return (
            torch.add(x, y, alpha=2.0),
            x - y,
            x * y,
            x / y,
            torch.div(x, y, rounding_mode="floor"),
            torch.div(x, y, rounding_mode="trunc"),
            torch.pow(x.abs() + 0.5, y),
            x**2,
            torch.minimum(x, y),
            x * 0.5 + 1.0,
        )


class ArithInt(torch.nn.Module):
    def forward(self, i, j):
        return (
            i + j,
            torch.sub(i, j, alpha=2),
            i * j,
            torch.div(i, j, rounding_mode="floor"),
            torch.div(i, j, rounding_mode="trunc"),
            i / j,
            torch.minimum(i, j),
            torch.pow(i, j.abs()),
        )


class Compare(torch.nn.Module):
    def forward(self, x, y, i, j):
        return (
            x == y,
            x < y,
            x <= y,
            x > y,
            x >= y,
            x == 0.5,
            x != 0.5,
            x < 0.5,
            x <= -0.5,
            x > 0,
            x >= 1,
            i == j,
            i > j,
            i != 2,
            i < -1,
        )


class LogicWhere(torch.nn.Module):
    def forward(self, x, y, c):
        p = x > 0
        q = y < 0.5
        return (
            p & q,
            c | q,
            ~c,
            torch.logical_and(p, c),
            torch.logical_or(q, c),
            torch.logical_not(p),
            torch.where(c, x, y),
            torch.where(q, 0.0, x),
        )


class UnaryMath(torch.nn.Module):
    def forward(self, x):
        a = x.abs()
        return (
            -x,
            torch.exp(x),
            torch.sqrt(a),
            torch.rsqrt(a + 0.1),
            torch.sin(x * 3.0),
            torch.cos(x * 3.0),
            torch.log10(a + 0.01),
            torch.round(x),
            torch.sigmoid(x),
            torch.tanh(x),
        )


class Activations(torch.nn.Module):
    def forward(self, x):
        return (
            F.gelu(x),
            F.gelu(x, approximate="tanh"),
            F.hardswish(x),
            F.leaky_relu(x, 0.2),
            F.hardshrink(x, 0.75),
            F.relu(x),
            F.hardtanh(x, -1.0, 2.0),
        )


def coarse(*shape):
    """Floats on a 0.5 grid, so comparisons see ties."""
    return torch.randint(-6, 7, shape).float() / 2


def main():
    only = set(sys.argv[1:])
    export = oplib.export_case

    def case(out, name, *args, **kwargs):
        if not only or name in only:
            export(out, name, *args, **kwargs)

    torch.manual_seed(0)
    x = torch.randn(2, 3, 4) * 3
    y = torch.randn(3, 4)
    y = torch.where(y < 0, y - 0.5, y + 0.5)
    case(
        OUT, "arith_float", ArithFloat(), [x, y],
        expect_ops=["aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor", "aten.div.Tensor",
                    "aten.div.Tensor_mode", "aten.pow.Tensor_Tensor", "aten.pow.Tensor_Scalar",
                    "aten.minimum.default"],
        tolerance=TRANSCENDENTAL,
    )
    i = torch.randint(-20, 21, (2, 3, 4), dtype=torch.int32)
    j = torch.tensor([3, -2, 5, -7], dtype=torch.int32)
    case(
        OUT, "arith_int", ArithInt(), [i, j],
        expect_ops=["aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor", "aten.div.Tensor_mode",
                    "aten.div.Tensor", "aten.minimum.default", "aten.pow.Tensor_Tensor"],
        tolerance=(0.0, 1e-6),
    )
    i = torch.randint(-3, 4, (2, 3, 4), dtype=torch.int32)
    j = torch.randint(-3, 4, (4,), dtype=torch.int32)
    case(
        OUT, "compare", Compare(), [coarse(2, 3, 4), coarse(4), i, j],
        expect_ops=[f"aten.{n}.Tensor" for n in ("eq", "lt", "le", "gt", "ge")]
        + [f"aten.{n}.Scalar" for n in ("eq", "ne", "lt", "le", "gt", "ge")],
        tolerance=(0.0, 0.0),
    )
    case(
        OUT, "logic_where", LogicWhere(), [torch.randn(2, 3, 4), torch.rand(3, 1), torch.rand(3, 4) > 0.5],
        expect_ops=["aten.bitwise_and.Tensor", "aten.bitwise_or.Tensor", "aten.bitwise_not.default",
                    "aten.logical_and.default", "aten.logical_or.default", "aten.logical_not.default",
                    "aten.where.self"],
        tolerance=(0.0, 0.0),
    )
    x = torch.randn(2, 3, 5) * 2
    x.view(-1)[:6] = torch.tensor([0.5, 1.5, 2.5, -0.5, -2.5, 3.5])
    case(
        OUT, "unary_math", UnaryMath(), [x],
        expect_ops=["aten.neg.default", "aten.exp.default", "aten.sqrt.default", "aten.rsqrt.default",
                    "aten.sin.default", "aten.cos.default", "aten.log10.default", "aten.round.default",
                    "aten.sigmoid.default", "aten.tanh.default"],
        tolerance=TRANSCENDENTAL,
    )
    case(
        OUT, "activations", Activations(), [torch.randn(2, 3, 5) * 3],
        expect_ops=["aten.gelu.default", "aten.hardswish.default", "aten.leaky_relu.default",
                    "aten.where.self", "aten.relu.default", "aten.hardtanh.default"],
        tolerance=TRANSCENDENTAL,
    )


if __name__ == "__main__":
    main()
