"""FLOAT16 tensors: modules converted with .half() and run on half inputs, so the delegate's
inputs, outputs and constants are all FLOAT16. Expected outputs are PyTorch eager in half on the
CPU; etvk computes in f32 and rounds the outputs to half, so the stated tolerance covers half
rounding of the outputs (2^-11 relative) and eager's own half arithmetic.
Run: .venv/bin/python tests/op_fixtures/half/export.py [case ...]"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
TOL = (1e-2, 1e-2)


class MlpNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(24, 40)
        self.norm = torch.nn.LayerNorm(40)
        self.fc2 = torch.nn.Linear(40, 10)

    def forward(self, x):
        return torch.softmax(self.fc2(torch.nn.functional.gelu(self.norm(self.fc1(x)))), dim=-1)


class ConvBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)

    def forward(self, x):
        y = torch.nn.functional.hardswish(self.conv(x))
        y = torch.relu(self.dw(y)) + y
        return torch.nn.functional.avg_pool2d(y, 2).mean(dim=(2, 3))


class Attention(torch.nn.Module):
    def __init__(self, d=16, heads=2):
        super().__init__()
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.out = torch.nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, t, d))


class Elementwise(torch.nn.Module):
    def forward(self, a, b):
        return torch.sigmoid(a) * torch.exp(-b.abs()) - torch.sqrt(a * a + 1) / (b * b + 2)


def cases():
    torch.manual_seed(0)
    h = torch.float16
    return {
        "mlp_norm": lambda: oplib.export_case(
            OUT, "mlp_norm", MlpNorm().half(), [torch.randn(3, 24, dtype=h)],
            expect_ops=["aten.linear.default", "aten.native_layer_norm.default",
                        "aten.gelu.default", "aten._softmax.default"], tolerance=TOL,
        ),
        "conv_block": lambda: oplib.export_case(
            OUT, "conv_block", ConvBlock().half(), [torch.randn(2, 3, 10, 9, dtype=h)],
            expect_ops=["aten.hardswish.default", "aten.avg_pool2d.default"], tolerance=TOL,
        ),
        "attention": lambda: oplib.export_case(
            OUT, "attention", Attention().half(), [torch.randn(2, 5, 16, dtype=h)],
            expect_ops=["aten._softmax.default"], tolerance=TOL,
        ),
        "elementwise": lambda: oplib.export_case(
            OUT, "elementwise", Elementwise(), [torch.randn(4, 7, dtype=h), torch.randn(7, dtype=h)],
            expect_ops=["aten.sigmoid.default", "aten.exp.default", "aten.div.Tensor"], tolerance=TOL,
        ),
    }


if __name__ == "__main__":
    oplib.run_cases(cases())
