"""Dynamic-shape programs (torch.export.Dim, require_dynamic_shapes): each case is exported at
its upper bound and its delegate I/O is recorded at a smaller size, so the Rust test runs the
delegate on sizes below the serialized bounds (outputs resized on execute)."""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oplib  # noqa: E402

OUT = HERE
OPTS = {"require_dynamic_shapes": True}


class MlpView(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(12, 20)
        self.fc2 = torch.nn.Linear(20, 6)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        y = self.fc2(h)
        return y.view(x.shape[0], 2, 3), torch.softmax(y, dim=-1)


class ConvDyn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return torch.nn.functional.max_pool2d(y, 2) + 1.0


def main():
    torch.manual_seed(0)
    b = torch.export.Dim("b", min=1, max=8)
    # Exported at the upper bound; recorded at batch 3.
    oplib.export_case(
        OUT, "mlp_batch", MlpView(), [torch.randn(8, 12)],
        expect_ops=["aten.linear.default", "aten.view_copy.default"],
        partitioner_options=OPTS, dynamic_shapes=({0: b},), record_inputs=[torch.randn(3, 12)],
    )
    h = torch.export.Dim("h", min=4, max=16)
    w = torch.export.Dim("w", min=4, max=16)
    oplib.export_case(
        OUT, "conv_hw", ConvDyn(), [torch.randn(1, 3, 16, 16)],
        expect_ops=["et_vk.conv_with_clamp.default", "aten.max_pool2d_with_indices.default"],
        partitioner_options=OPTS, dynamic_shapes=({2: 2 * h, 3: 2 * w},), record_inputs=[torch.randn(1, 3, 10, 14)],
    )


if __name__ == "__main__":
    main()
