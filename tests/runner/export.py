"""Programs for tests/messages.sh, exported with the real VulkanPartitioner:

  embedding.pte: nn.Embedding(5, 4) on int64 token ids [1, 6]. etvk_run invents 0 for integer
  inputs (the only id valid for any vocabulary); expected_zero_tokens.npy is PyTorch eager on
  all-zero ids. Its earlier random ids 0..9 were out of range for this vocabulary.

Run: .venv/bin/python tests/runner/export.py
"""

import os

import numpy as np
import torch
from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner
from executorch.exir import to_edge_transform_and_lower

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(0)
    model = torch.nn.Embedding(5, 4).eval()
    tokens = torch.zeros(1, 6, dtype=torch.int64)
    ep = torch.export.export(model, (tokens,))
    prog = to_edge_transform_and_lower(ep, partitioner=[VulkanPartitioner()]).to_executorch()
    assert any(d.id == "VulkanBackend" for d in prog.executorch_program.execution_plan[0].delegates)
    with open(os.path.join(HERE, "embedding.pte"), "wb") as f:
        prog.write_to_file(f)
    with torch.no_grad():
        np.save(os.path.join(HERE, "expected_zero_tokens.npy"), model(tokens).numpy())
    print("exported", os.path.join(HERE, "embedding.pte"))


if __name__ == "__main__":
    main()
