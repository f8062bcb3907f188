"""Reductions: sum.dim_IntList / mean.dim / amax / amin (last dim with keepdim both ways and
negative dims; one or two other dims with keepdim=True), _softmax / _log_softmax (last,
middle and first dims, negative dims), argmax / argmin (dim given, keepdim both ways, ties
resolved to the first index; dim=None with keepdim=True on a [1, N] input).

Partitioner limits (op_registry.is_reduce_node_supported): a reduction is delegated when it
reduces only the last dim (keepdim either way), or at most two dims with keepdim=True. So
sum/mean/amax/amin/argmax/argmin over a non-last dim with keepdim=False, over all dims of a
rank >= 2 tensor (dim=None / []), or over three or more dims stay on the CPU and are covered
by tests/ops_reduce.rs only.
Run: .venv/bin/python tests/op_fixtures/reduce/export.py [case ...]"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
SUM = "aten.sum.dim_IntList"
MEAN = "aten.mean.dim"
AMAX = "aten.amax.default"
AMIN = "aten.amin.default"
SOFTMAX = "aten._softmax.default"
LOG_SOFTMAX = "aten._log_softmax.default"
ARGMAX = "aten.argmax.default"
ARGMIN = "aten.argmin.default"


class ReduceLastDim(torch.nn.Module):
    def forward(self, x):
        return (
            torch.sum(x, -1),
            torch.mean(x, dim=2, keepdim=True),
            torch.amax(x, -1, keepdim=True),
            torch.amin(x, [-1]),
        )


class ReduceKeepdim(torch.nn.Module):
    def forward(self, x):
        return (
            torch.sum(x, [1, -1], keepdim=True),
            torch.mean(x, [-2, -3], keepdim=True),
            torch.amax(x, 1, keepdim=True),
            torch.amin(x, [0, 2], keepdim=True),
        )


class Softmax(torch.nn.Module):
    def forward(self, x):
        return (
            torch.softmax(x, -1),
            torch.softmax(x, 1),
            torch.log_softmax(x, -3),
            torch.log_softmax(x, 3),
        )


class ArgReduce(torch.nn.Module):
    def forward(self, x):
        return (
            torch.argmax(x, -1),
            torch.argmin(x, -1, keepdim=True),
            torch.argmax(x, 1, keepdim=True),
            torch.argmin(x, 0, keepdim=True),
        )


class ArgReduceFlat(torch.nn.Module):
    def forward(self, v):
        # dim=None is only delegated with keepdim=True (argmax(v) alone stays on the CPU).
        return torch.argmax(v, keepdim=True), torch.argmin(v, keepdim=True)


def cases():
    torch.manual_seed(0)
    # Small integers as floats: many ties, so the first-index rule is exercised.
    ties = torch.randint(-3, 4, (2, 5, 9)).float()
    return {
        "reduce_last_dim": lambda: oplib.export_case(
            OUT, "reduce_last_dim", ReduceLastDim(), [torch.randn(2, 3, 37)],
            expect_ops=[SUM, MEAN, AMAX, AMIN],
        ),
        "reduce_keepdim": lambda: oplib.export_case(
            OUT, "reduce_keepdim", ReduceKeepdim(), [torch.randn(2, 3, 5, 7)],
            expect_ops=[SUM, MEAN, AMAX, AMIN],
        ),
        "softmax": lambda: oplib.export_case(
            OUT, "softmax", Softmax(), [torch.randn(2, 3, 5, 7) * 4],
            expect_ops=[SOFTMAX, LOG_SOFTMAX], tolerance=(1e-5, 1e-4),
        ),
        "argreduce": lambda: oplib.export_case(
            OUT, "argreduce", ArgReduce(), [ties], expect_ops=[ARGMAX, ARGMIN],
        ),
        "argreduce_flat": lambda: oplib.export_case(
            OUT, "argreduce_flat", ArgReduceFlat(), [torch.randint(-3, 4, (1, 23)).float()],
            expect_ops=[ARGMAX, ARGMIN],
        ),
    }


if __name__ == "__main__":
    oplib.run_cases(cases())
