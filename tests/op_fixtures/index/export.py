"""Indexing ops: embedding, index_select, gather and index.Tensor.
Run: .venv/bin/python tests/op_fixtures/index/export.py [case ...]

The partitioner delegates index.Tensor only with exactly one index tensor, 1-D, so the
fixtures cover `x[idx]` and `x[:, idx]`; broader forms are covered by tests/ops_index.rs."""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
EXACT = (0.0, 0.0)


class Embedding(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 6)

    def forward(self, ids):
        return self.emb(ids)


class IndexSelect(torch.nn.Module):
    def forward(self, x, idx):
        return torch.index_select(x, 1, idx) * 1.0, torch.index_select(x, 0, idx[1:4]) + 0.0


class Gather(torch.nn.Module):
    def forward(self, x, idx):
        return torch.gather(x, 2, idx) * 1.0


class IndexTensor(torch.nn.Module):
    def forward(self, x, idx):
        return x[idx] * 1.0, x[:, idx] + 0.0


def main():
    only = set(sys.argv[1:])

    def case(name, *args, **kwargs):
        if not only or name in only:
            oplib.export_case(OUT, name, *args, **kwargs)

    torch.manual_seed(0)
    case(
        "embedding", Embedding(), [torch.randint(0, 11, (2, 5))],
        expect_ops=["aten.embedding.default"],
        tolerance=EXACT,
    )
    case(
        "index_select", IndexSelect(), [torch.randn(4, 5, 3), torch.tensor([4, 0, 2, 2, 1])],
        expect_ops=["aten.index_select.default"],
        tolerance=EXACT,
    )
    case(
        "gather", Gather(), [torch.randn(2, 3, 5), torch.randint(0, 5, (2, 3, 4))],
        expect_ops=["aten.gather.default"],
        tolerance=EXACT,
    )
    case(
        "index_tensor", IndexTensor(), [torch.randn(5, 4, 3), torch.tensor([3, 0, -2, 1])],
        expect_ops=["aten.index.Tensor"],
        tolerance=EXACT,
    )


if __name__ == "__main__":
    main()
