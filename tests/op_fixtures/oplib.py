"""Shared helper for per-op fixtures: export a small module with the real VulkanPartitioner,
check that the ops under test were delegated, and save what the Rust test runs
(tests/fixtures_rust.rs walks tests/op_fixtures/**):

  <out>/<case>/delegate<k>.bin, named/<key>.bin, delegate<k>_input<i>.npy,
  delegate<k>_expected<i>.npy (PyTorch eager I/O of each delegate), ops.txt, and optionally
  tolerance.txt ("atol rtol") and model.pte.

Run the family scripts with the repo's venv: .venv/bin/python tests/op_fixtures/<family>/export.py

fp16: with OPLIB_FP16=1 the same cases are exported with the `force_fp16` compile option (fp32
constants serialized as fp16, FLOAT16 tensors inside the delegate) into
tests/op_fixtures/fp16/<family>/<case>, still compared with fp32 PyTorch eager, at the case's
tolerance or FP16_TOLERANCE, whichever is looser.
"""

import io
import os
import shutil
import sys
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import dump_delegates  # noqa: E402
from export_fixtures import count_delegate_calls, record_delegate_io  # noqa: E402
from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner  # noqa: E402
from executorch.exir import to_edge_transform_and_lower  # noqa: E402


# atol, rtol for force_fp16 programs: constants are rounded to fp16 (relative error 2^-11) by the
# exporter; etvk computes in f32, so errors stay near the rounding of the weights.
FP16_TOLERANCE = (1e-2, 1e-2)


def fp16_mode() -> bool:
    return os.environ.get("OPLIB_FP16") == "1"


def export_case(
    out_root: str,
    name: str,
    model: torch.nn.Module,
    inputs: Sequence[torch.Tensor],
    expect_ops: Iterable[str] = (),
    partitioner_options: Optional[Dict] = None,
    tolerance: Optional[tuple] = None,
    keep_pte: bool = False,
    dynamic_shapes=None,
    record_inputs: Optional[Sequence[torch.Tensor]] = None,
) -> str:
    """Exports one case; asserts every name in `expect_ops` (e.g. "aten.gelu.default") is in a
    Vulkan delegate. Delegate I/O is recorded on `inputs`, or on `record_inputs` when given
    (dynamic shapes: export at the bounds, record at other sizes). Returns the case directory."""
    if fp16_mode():
        partitioner_options = {**(partitioner_options or {}), "force_fp16": True}
        out_root = os.path.join(HERE, "fp16", os.path.basename(os.path.normpath(out_root)))
        tolerance = tuple(max(a, b) for a, b in zip(tolerance or (0, 0), FP16_TOLERANCE))
    model = model.eval()
    inputs = tuple(inputs)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    partitioner = VulkanPartitioner(partitioner_options or {})
    edge = to_edge_transform_and_lower(ep, partitioner=[partitioner])
    exec_prog = edge.to_executorch()
    rec, _ = record_delegate_io(edge, tuple(record_inputs) if record_inputs is not None else inputs)
    n_calls = count_delegate_calls(exec_prog)
    assert n_calls >= 1, f"{name}: nothing was delegated to Vulkan"

    d = os.path.join(out_root, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    pte_path = os.path.join(d, "model.pte")
    with open(pte_path, "wb") as f:
        exec_prog.write_to_file(f)
    buf = io.StringIO()
    info, graphs = dump_delegates.dump_pte(
        pte_path, save_dir=d, ops_txt=os.path.join(d, "ops.txt"), check_flatc=False, out=buf
    )
    delegated = {op.name for g in graphs for op in g.chain}
    missing = [op for op in expect_ops if op not in delegated]
    assert not missing, f"{name}: {missing} not delegated (delegated: {sorted(delegated)}; CPU: {info.operators})"
    assert len(rec) == len(info.delegates), (len(rec), len(info.delegates))
    for k, (lowered, d_in, d_out) in enumerate(rec):
        assert bytes(lowered.processed_bytes) == info.delegates[k]["blob"], f"{name}: delegate order"
        for i, t in enumerate(d_in):
            np.save(os.path.join(d, f"delegate{k}_input{i}.npy"), t.detach().numpy())
        for i, t in enumerate(d_out):
            np.save(os.path.join(d, f"delegate{k}_expected{i}.npy"), t.detach().numpy())
    if dynamic_shapes is not None:
        # Marks the case as a dynamic-shape program (docs/ops.md lists them per op).
        with open(os.path.join(d, "dynamic_shapes.txt"), "w") as f:
            f.write("exported with dynamic_shapes\n")
    if tolerance is not None:
        with open(os.path.join(d, "tolerance.txt"), "w") as f:
            f.write(f"{tolerance[0]} {tolerance[1]}\n")
    if not keep_pte:
        os.remove(pte_path)
    return d


def run_cases(cases: Dict[str, callable]) -> None:
    """Exports the cases named on the command line, or all of them."""
    for name in sys.argv[1:] or list(cases):
        cases[name]()
        print("exported", name)
