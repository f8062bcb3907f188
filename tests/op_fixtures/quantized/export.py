"""Quantized single-op fixtures: every quantized op the executorch 1.5.1 VulkanPartitioner
delegates, each exported by the real partitioner from the flow that produces it in practice
(docs/quantized-ops.md says which flow emits which op, and what every argument and constant
byte means):

- torchao `quantize_` configs used by `export_llama -qmode 4w / 8da4w` (linear_q4gsw,
  linear_dq8ca_q4gsw + torchao.choose_qparams_affine), the `-E 4,G` embedding handler and a
  torchao embedding config (embedding_q4gsw; quantized_decomposed.embedding_4bit when the
  embedding dim is not a multiple of 32);
- PT2E with the wheel's VulkanQuantizer (weight-only 4 / 8 bit: linear_qcs4w,
  _weight_int8pack_mm; dynamic 8-bit: the activation q/dq is folded away, leaving
  dequantize_per_channel + linear);
- PT2E with XNNPACKQuantizer's static per-channel config, as the wheel's own Vulkan tests do
  (the et_vk.q8ta_* family and the quantize/dequantize_per_tensor at the delegate edges), plus a
  small static quantizer for relu / pixel_shuffle (which XNNPACKQuantizer does not annotate)
  and a static-input / float-output config for linear_q8ta_q8csw;
- direct calls of the quantized_decomposed / torchao primitives whose results leave the
  delegate (a quantize followed directly by its dequantize is folded to nothing by the
  exporter's FoldQDQPass, see the doc).

tests/fixtures_rust.rs runs every case (they waited in tests/op_fixtures_pending/ until etvk
had their kernels). Expected outputs are PyTorch eager (each
delegate's original graph run by oplib.record_delegate_io); tolerance.txt holds "atol rtol"
where the integer math may legitimately differ from eager (see TOLERANCES below and the doc).
reference.py beside this file recomputes every case from the blob + named data with numpy.

    .venv/bin/python tests/op_fixtures/quantized/export.py [CASE ...]
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "op_fixtures"))
import oplib  # noqa: E402

from executorch.backends.vulkan.quantizer.vulkan_quantizer import (  # noqa: E402
    get_symmetric_quantization_config as vk_config,
    VulkanQuantizer,
)
from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (  # noqa: E402
    get_symmetric_quantization_config as xnn_config,
    XNNPACKQuantizer,
)
from torchao.quantization.granularity import PerGroup  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e  # noqa: E402
from torchao.quantization.pt2e.quantizer import (  # noqa: E402
    QuantizationAnnotation,
    QuantizationConfig,
    Quantizer,
)
from torchao.quantization.quant_api import (  # noqa: E402
    Int8DynamicActivationIntxWeightConfig,
    IntxWeightOnlyConfig,
    quantize_,
)
from torchao.utils import unwrap_tensor_subclass  # noqa: E402

OUT = HERE
qd = torch.ops.quantized_decomposed
ta = torch.ops.torchao


# --------------------------------------------------------------------------- #
# Modules and quantization flows
# --------------------------------------------------------------------------- #


class Linear(torch.nn.Module):
    def __init__(self, k, n, bias=False, relu=False):
        super().__init__()
        self.linear = torch.nn.Linear(k, n, bias=bias)
        self.relu = relu

    def forward(self, x):
        y = self.linear(x)
        return torch.relu(y) if self.relu else y


class Conv(torch.nn.Module):
    def __init__(self, *args, relu=False, transposed=False, **kw):
        super().__init__()
        cls = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
        self.conv = cls(*args, **kw)
        self.relu = relu

    def forward(self, x):
        y = self.conv(x)
        return torch.relu(y) if self.relu else y


class Embedding(torch.nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)

    def forward(self, idx):
        return self.emb(idx)


class Fn(torch.nn.Module):
    """Wraps a function of the inputs; constant tensors are registered as buffers."""

    def __init__(self, fn, **buffers):
        super().__init__()
        self.fn = fn
        for k, v in buffers.items():
            self.register_buffer(k, v)

    def forward(self, *args):
        return self.fn(self, *args)


class StaticOpQuantizer(Quantizer):
    """Static per-tensor int8 (XNNPACK's activation spec) on input 0 and the output of every
    node whose target is in `targets`: XNNPACKQuantizer does not annotate a lone relu or
    pixel_shuffle, which is what et_vk.q8ta_relu / q8ta_pixel_shuffle are matched from."""

    def __init__(self, targets):
        super().__init__()
        self.targets = targets

    def annotate(self, gm):
        spec = xnn_config(is_per_channel=True, is_dynamic=False).input_activation
        for n in gm.graph.nodes:
            if n.op == "call_function" and n.target in self.targets:
                n.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={n.args[0]: spec}, output_qspec=spec, _annotated=True
                )
        return gm

    def validate(self, gm):
        pass


def pt2e(model, inputs, quantizer):
    """export -> prepare_pt2e -> calibrate on `inputs` -> convert_pt2e (the wheel's
    test_vulkan_delegate.quantize_and_lower_module flow)."""
    gm = torch.export.export(model.eval(), tuple(inputs)).module()
    gm = prepare_pt2e(gm, quantizer)
    gm(*inputs)
    gm = convert_pt2e(gm)
    gm.eval = lambda: gm  # oplib calls model.eval(); exported modules refuse it
    return gm


def xnn_static():
    return XNNPACKQuantizer().set_global(xnn_config(is_per_channel=True, is_dynamic=False))


def torchao_4w(model, group, filter_fn=None):
    """export_llama -qmode 4w (source_transformation/quantize.py): IntxWeightOnlyConfig int4
    PerGroup; export_llama also asks for intx_choose_qparams_algorithm="hqq_scale_only"
    (only how scales are chosen, not the op or its layout)."""
    cfg = IntxWeightOnlyConfig(
        weight_dtype=torch.int4, granularity=PerGroup(group), intx_choose_qparams_algorithm="hqq_scale_only"
    )
    quantize_(model, cfg, filter_fn)
    unwrap_tensor_subclass(model)
    return model


def torchao_8da4w(model, group):
    """export_llama -qmode 8da4w: Int8DynamicActivationIntxWeightConfig int4 PerGroup."""
    quantize_(
        model,
        Int8DynamicActivationIntxWeightConfig(
            weight_dtype=torch.int4,
            weight_granularity=PerGroup(group),
            intx_choose_qparams_algorithm="hqq_scale_only",
        ),
    )
    unwrap_tensor_subclass(model)
    return model


def rand(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale


# --------------------------------------------------------------------------- #
# Tolerances (atol, rtol) where the Vulkan computation may legitimately differ from eager;
# each value is explained in docs/quantized-ops.md ("Tolerances"). Cases not listed are
# exact up to float summation order and use the runner default (1e-4, 1e-4).
# --------------------------------------------------------------------------- #


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def export(name, model, inputs, ops, tolerance=None, options=None, rule=None):
    oplib.export_case(OUT, name, model, inputs, expect_ops=ops, tolerance=tolerance, partitioner_options=options)
    if rule is not None:
        RULES[name] = rule
        write_rule_tolerance(name)


# --------------------------------------------------------------------------- #
# Tolerances computed from the exported case (docs/quantized-ops.md, "Tolerances"): integer
# results may legitimately differ from eager by one quantization step where a float value is
# rounded to int8 (a kernel may associate the f32 products differently, or round x / s where
# eager rounds x * (1 / s)); the allowance is that one step, in output units.
# --------------------------------------------------------------------------- #

RULES = {}


def _graph(name):
    import reference

    d = os.path.join(OUT, name)
    _, g = reference.dd.parse_blob(open(os.path.join(d, "delegate0.bin"), "rb").read())
    return d, g, reference.Interp(g, os.path.join(d, "named"))


def write_rule_tolerance(name):
    import numpy as np

    import reference

    d, g, it = _graph(name)
    rule = RULES[name]
    ops = {op.name: op for op in g.chain}
    if rule == "out_step":
        # one step of the int8 output: the scale of the dequantize_per_tensor at the delegate edge
        dq = ops["quantized_decomposed.dequantize_per_tensor.default"]
        tol = (1.01 * float(np.float32(it.S(dq.args[1]))), 0.0)
    elif rule == "in_step":
        # linear_q8ta_q8csw: one int8 step of one input element (the quantize_per_tensor at the
        # edge) times the largest dequantized weight, plus the float tolerance
        op = ops["et_vk.linear_q8ta_q8csw.default"]
        w = it.T(op.args[3]).astype(np.float32) * it.T(op.args[5]).astype(np.float32)[: it.T(op.args[3]).shape[0], None]
        tol = (1.01 * float(it.S(op.args[1])) * float(np.abs(w).max()) + 1e-4, 1e-4)
    elif rule == "act_step":
        # linear_dq8ca_q4gsw: one int8 step of one activation element (per-token scale computed
        # from the recorded input) times the largest dequantized 4-bit weight
        op = ops["et_vk.linear_dq8ca_q4gsw.default"]
        x = np.load(os.path.join(d, "delegate0_input0.npy")).astype(np.float32)
        x2 = x.reshape(-1, x.shape[-1])
        sx = (np.maximum(x2.max(1), 0) - np.minimum(x2.min(1), 0)) / 255.0
        k, gs = x.shape[-1], it.S(op.args[6])
        w = reference.unpack_q4_low_even(it.T(op.args[3]), k)
        sc = it.T(op.args[5]).astype(np.float32)[:, : w.shape[0]]
        wdq = w * sc[np.arange(k) // gs, :].T
        tol = (1.01 * float(sx.max()) * float(np.abs(wdq).max()) + 1e-4, 1e-4)
    else:
        raise ValueError(rule)
    with open(os.path.join(d, "tolerance.txt"), "w") as f:
        f.write("%.6g %.6g\n" % tol)


def expect_failure(name, model, inputs, options=None):
    """Asserts that the exporter rejects this case; prints the error (quoted in the doc)."""
    try:
        oplib.export_case("/tmp/etvk_quantized_expected_failures", name, model, inputs,
                          partitioner_options=options)
    except Exception as e:  # noqa: BLE001
        root = e
        while root.__cause__ is not None:
            root = root.__cause__
        print("%s: export fails as expected: %s: %s" % (name, type(root).__name__, str(root).splitlines()[0][:200]))
        return
    raise AssertionError(name + ": expected the export to fail, it succeeded")


Q4 = "et_vk.linear_q4gsw.default"
DQ8CA = "et_vk.linear_dq8ca_q4gsw.default"
CQP_TA = "torchao.choose_qparams_affine.default"
QPT = "quantized_decomposed.quantize_per_tensor.default"
DQPT = "quantized_decomposed.dequantize_per_tensor.default"


# ---- 4-bit group-symmetric weight-only linear (export_llama -qmode 4w) ----


@case
def q4gsw_gemv():
    torch.manual_seed(1)
    export("q4gsw_gemv", torchao_4w(Linear(64, 24), 32), [rand(1, 64)], [Q4])


@case
def q4gsw_bias_n20():
    """N = 20 (a multiple of 4, not of 8), bias, 3 tokens."""
    torch.manual_seed(2)
    export("q4gsw_bias_n20", torchao_4w(Linear(64, 20, bias=True), 32), [rand(3, 64, seed=1)], [Q4])


@case
def q4gsw_odd_n_fails():
    """N = 23 cannot be exported: the exporter pads the scales to 24 columns and its own
    FusePatternsPass re-trace of et_vk.linear_q4gsw then fails (not written to disk)."""
    torch.manual_seed(2)
    expect_failure("q4gsw_odd_n", torchao_4w(Linear(64, 23, bias=True), 32), [rand(3, 64, seed=1)])


@case
def q4gsw_prefill_3d():
    """[1, 5, K] tokens, the shape export_llama's prefill gives a linear; group 16."""
    torch.manual_seed(3)
    export("q4gsw_prefill_3d", torchao_4w(Linear(64, 32), 16), [rand(1, 5, 64, seed=2)], [Q4])


@case
def q4gsw_k36_g12():
    """K = 36 is not a multiple of 8: the packer pads K to 40 with zeros (packed [N, 20])."""
    torch.manual_seed(4)
    export("q4gsw_k36_g12", torchao_4w(Linear(36, 8), 12), [rand(2, 36, seed=3)], [Q4])


@case
def q4gsw_fp16():
    """force_fp16 (export_llama --vulkan-force-fp16 with -qmode 4w): scales become FLOAT16."""
    torch.manual_seed(5)
    export(
        "q4gsw_fp16", torchao_4w(Linear(64, 24, bias=True), 32), [rand(3, 64, seed=4)], [Q4],
        tolerance=oplib.FP16_TOLERANCE, options={"force_fp16": True},
    )


# ---- 8-bit dynamic activations x 4-bit weights (export_llama -qmode 8da4w) ----


@case
def dq8ca_gemv():
    torch.manual_seed(6)
    export("dq8ca_gemv", torchao_8da4w(Linear(64, 24), 32), [rand(1, 64, seed=5)], [CQP_TA, DQ8CA], rule="act_step")


@case
def dq8ca_prefill_3d_n12():
    """[1, 5, K] tokens, N = 12 (weight sums padded to 16 columns), group 16."""
    torch.manual_seed(7)
    export("dq8ca_prefill_3d_n12", torchao_8da4w(Linear(64, 12), 16), [rand(1, 5, 64, seed=6)], [CQP_TA, DQ8CA], rule="act_step")


@case
def dq8ca_odd_n_fails():
    torch.manual_seed(7)
    expect_failure("dq8ca_odd_n", torchao_8da4w(Linear(64, 23), 16), [rand(1, 5, 64, seed=6)])


@case
def q4gsw_k18_unfused():
    """K = 18 (not a multiple of 4): QuantizedLinearMatch declines, so the delegate dequantizes
    the unpacked int8 weight at run time (torchao.dequantize_affine, zero points included)
    and runs a float aten.linear."""
    torch.manual_seed(43)
    export("q4gsw_k18_unfused", torchao_4w(Linear(18, 8), 6), [rand(2, 18, seed=43)],
           ["torchao.dequantize_affine.default", "aten.linear.default"])


@case
def dq8ca_k18_unfused():
    """8da4w with K = 18: no fused op, and FoldQDQPass deletes the activation's
    quantize_affine -> dequantize_affine pair, so the delegate multiplies the float input
    (eager quantizes it): the tolerance covers that exporter behaviour."""
    torch.manual_seed(44)
    export("dq8ca_k18_unfused", torchao_8da4w(Linear(18, 8), 6), [rand(2, 18, seed=44)],
           ["torchao.dequantize_affine.default", "aten.linear.default"], tolerance=(2e-2, 2e-2))


@case
def q4gsw_k_not_multiple_of_group():
    """K = 48 with group 32: torchao itself refuses the config, so no program exists."""
    torch.manual_seed(4)
    try:
        torchao_4w(Linear(48, 8), 32)
        m = "torchao accepted it"
    except Exception as e:  # noqa: BLE001
        m = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200])
    print("q4gsw K=48 G=32:", m)


@case
def dq8ca_bias():
    torch.manual_seed(8)
    export("dq8ca_bias", torchao_8da4w(Linear(64, 16, bias=True), 32), [rand(4, 64, seed=7)], [CQP_TA, DQ8CA], rule="act_step")


# ---- 4-bit embeddings ----

EMB = "et_vk.embedding_q4gsw.default"


@case
def embedding_q4gsw_llama():
    """export_llama -E 4,32 (EmbeddingQuantHandler, packed): quantized_decomposed.embedding_4bit
    rewritten to et_vk.embedding_q4gsw, the weight re-packed low nibble = even column."""
    from executorch.examples.models.llama.source_transformation.quantize import EmbeddingQuantHandler

    torch.manual_seed(9)
    m = EmbeddingQuantHandler(Embedding(40, 64), bitwidth=4, group_size=32, packed=True).quantized_model()
    export("embedding_q4gsw_llama", m, [torch.tensor([[0, 5, 39, 7]])], [EMB])


@case
def embedding_q4gsw_torchao():
    """torchao IntxWeightOnlyConfig on nn.Embedding (dequantize_affine -> embedding)."""
    torch.manual_seed(10)
    m = torchao_4w(Embedding(40, 64), 16, lambda mod, fqn: isinstance(mod, torch.nn.Embedding))
    export("embedding_q4gsw_torchao", m, [torch.tensor([[3, 3, 0], [39, 12, 1]])], [EMB])


@case
def embedding_4bit_dim48():
    """Embedding dim 48 (not a multiple of 32): the pattern does not match and
    quantized_decomposed.embedding_4bit.dtype itself is delegated, on the original packing
    (high nibble = even column)."""
    from executorch.examples.models.llama.source_transformation.quantize import EmbeddingQuantHandler

    torch.manual_seed(11)
    m = EmbeddingQuantHandler(Embedding(40, 48), bitwidth=4, group_size=16, packed=True).quantized_model()
    export("embedding_4bit_dim48", m, [torch.tensor([[0, 5, 39, 7]])], ["quantized_decomposed.embedding_4bit.dtype"])


# ---- weight-only per-channel (VulkanQuantizer, PT2E) ----


@case
def qcs4w():
    """VulkanQuantizer weight_bits=4: linear_qcs4w (+ aten.add for the bias)."""
    torch.manual_seed(12)
    x = [rand(3, 64, seed=8)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=False, weight_bits=4))
    export("qcs4w", pt2e(Linear(64, 24, bias=True), x, q), x, ["et_vk.linear_qcs4w.default"])


@case
def qcs4w_gemv_k36():
    """One token, K = 36 (even, not a multiple of 8), N = 12, no bias."""
    torch.manual_seed(13)
    x = [rand(1, 36, seed=9)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=False, weight_bits=4))
    export("qcs4w_gemv_k36", pt2e(Linear(36, 12), x, q), x, ["et_vk.linear_qcs4w.default"])


@case
def qcs4w_odd_k_fails():
    """K = 33: the packer would pad K to 34, but FuseQuantizedOpsTransform's re-trace of
    et_vk.linear_qcs4w fails first."""
    torch.manual_seed(13)
    x = [rand(2, 33, seed=9)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=False, weight_bits=4))
    expect_failure("qcs4w_odd_k", pt2e(Linear(33, 12), x, q), x)


@case
def weight_int8pack_mm_gemv_odd_n():
    torch.manual_seed(14)
    x = [rand(1, 64, seed=10)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=False, weight_bits=8))
    export("weight_int8pack_mm_gemv_odd_n", pt2e(Linear(64, 23), x, q), x, ["aten._weight_int8pack_mm.default"])


@case
def weight_int8pack_mm_bias():
    torch.manual_seed(15)
    x = [rand(4, 64, seed=11)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=False, weight_bits=8))
    export("weight_int8pack_mm_bias", pt2e(Linear(64, 24, bias=True), x, q), x, ["aten._weight_int8pack_mm.default"])


@case
def dequantize_per_channel_dynamic_linear():
    """VulkanQuantizer is_dynamic=True: no fused op matches dynamic per-tensor activations, so
    FoldQDQPass drops the activation q/dq (the delegate multiplies float x) and the weight
    is dequantized by quantized_decomposed.dequantize_per_channel at run time."""
    torch.manual_seed(16)
    x = [rand(3, 64, seed=12)]
    q = VulkanQuantizer().set_global(vk_config(is_dynamic=True, weight_bits=8))
    export(
        "dequantize_per_channel_dynamic_linear", pt2e(Linear(64, 24, bias=True), x, q), x,
        ["quantized_decomposed.dequantize_per_channel.default"],
        tolerance=(2e-2, 2e-2),
    )


# ---- static int8 linear ----


@case
def linear_q8ta_q8csw():
    """Static per-tensor input, per-channel weight, float output (a config with
    output_activation=None): et_vk.linear_q8ta_q8csw."""
    torch.manual_seed(17)
    x = [rand(3, 64, seed=13)]
    c = xnn_config(is_per_channel=True, is_dynamic=False)
    q = XNNPACKQuantizer().set_global(QuantizationConfig(c.input_activation, None, c.weight, c.bias))
    export("linear_q8ta_q8csw", pt2e(Linear(64, 24, bias=True), x, q), x, [QPT, "et_vk.linear_q8ta_q8csw.default"],
           rule="in_step")


@case
def q8ta_linear():
    torch.manual_seed(18)
    x = [rand(3, 64, seed=14)]
    export("q8ta_linear", pt2e(Linear(64, 24, bias=True), x, xnn_static()), x, [QPT, "et_vk.q8ta_linear.default", DQPT], rule="out_step")


@case
def q8ta_linear_relu_odd_n():
    torch.manual_seed(19)
    x = [rand(2, 32, seed=15)]
    export("q8ta_linear_relu_odd_n", pt2e(Linear(32, 22, bias=True, relu=True), x, xnn_static()), x, ["et_vk.q8ta_linear.default"], rule="out_step")


@case
def q8ta_linear_gemv():
    torch.manual_seed(20)
    x = [rand(1, 64, seed=16)]
    export("q8ta_linear_gemv", pt2e(Linear(64, 20, bias=True), x, xnn_static()), x, ["et_vk.q8ta_linear_gemv.default"], rule="out_step")


# ---- static int8 convolutions ----

Q8CONV = "et_vk.q8ta_conv2d.default"


@case
def q8ta_conv2d():
    torch.manual_seed(21)
    x = [rand(1, 4, 9, 8, seed=17)]
    export("q8ta_conv2d", pt2e(Conv(4, 8, 3, padding=1), x, xnn_static()), x, [Q8CONV], rule="out_step")


@case
def q8ta_conv2d_k27_oc6_relu():
    """IC 3 x 3x3: K = 27 padded to 28 in the weight matrix; OC 6: scales/bias/sums padded to 8."""
    torch.manual_seed(22)
    x = [rand(1, 3, 8, 7, seed=18)]
    export("q8ta_conv2d_k27_oc6_relu", pt2e(Conv(3, 6, 3, stride=2, padding=1, relu=True), x, xnn_static()), x, [Q8CONV], rule="out_step")


@case
def q8ta_conv2d_grouped_dilated():
    torch.manual_seed(23)
    x = [rand(1, 8, 9, 9, seed=19)]
    m = Conv(8, 8, 3, padding=2, dilation=2, groups=2, bias=False)
    export("q8ta_conv2d_grouped_dilated", pt2e(m, x, xnn_static()), x, [Q8CONV], rule="out_step")


@case
def q8ta_conv2d_dw():
    torch.manual_seed(24)
    x = [rand(1, 8, 9, 8, seed=20)]
    export("q8ta_conv2d_dw", pt2e(Conv(8, 8, 3, padding=1, groups=8), x, xnn_static()), x, ["et_vk.q8ta_conv2d_dw.default"], rule="out_step")


@case
def q8ta_conv2d_dw_s2_relu():
    torch.manual_seed(25)
    x = [rand(1, 12, 9, 10, seed=21)]
    m = Conv(12, 12, (3, 5), stride=2, padding=(1, 2), groups=12, relu=True)
    export("q8ta_conv2d_dw_s2_relu", pt2e(m, x, xnn_static()), x, ["et_vk.q8ta_conv2d_dw.default"], rule="out_step")


@case
def q8ta_conv2d_pw():
    torch.manual_seed(26)
    x = [rand(1, 8, 5, 6, seed=22)]
    export("q8ta_conv2d_pw", pt2e(Conv(8, 12, 1), x, xnn_static()), x, ["et_vk.q8ta_conv2d_pw.default"], rule="out_step")


@case
def q8ta_conv2d_pw_oc10():
    torch.manual_seed(27)
    x = [rand(1, 16, 4, 3, seed=23)]
    export("q8ta_conv2d_pw_oc10", pt2e(Conv(16, 10, 1, bias=False), x, xnn_static()), x, ["et_vk.q8ta_conv2d_pw.default"], rule="out_step")


@case
def q8ta_conv2d_transposed():
    torch.manual_seed(28)
    x = [rand(1, 4, 5, 6, seed=24)]
    m = Conv(4, 8, 3, stride=2, padding=1, transposed=True)
    export("q8ta_conv2d_transposed", pt2e(m, x, xnn_static()), x, ["et_vk.q8ta_conv2d_transposed.default"], rule="out_step")


@case
def q8ta_conv2d_transposed_outpad():
    """Non-square kernel, output_padding 1, OC 6 (scales/bias/sums padded to 8). (A grouped
    transposed conv is not covered: XNNPACKQuantizer leaves it unquantized.)"""
    torch.manual_seed(29)
    x = [rand(1, 8, 4, 5, seed=25)]
    m = Conv(8, 6, (3, 2), stride=2, padding=(1, 0), output_padding=1, transposed=True)
    export("q8ta_conv2d_transposed_outpad", pt2e(m, x, xnn_static()), x, ["et_vk.q8ta_conv2d_transposed.default"], rule="out_step")


# ---- static int8 elementwise ----


@case
def q8ta_add():
    torch.manual_seed(30)
    x = [rand(1, 8, 5, 6, seed=26), rand(1, 8, 5, 6, seed=27, scale=2.0)]
    export("q8ta_add", pt2e(Fn(lambda s, a, b: a + b), x, xnn_static()), x, ["et_vk.q8ta_add.default"], rule="out_step")


@case
def q8ta_add_relu():
    """add -> relu -> quantize: the relu is not an argument of q8ta_add; it survives only as
    the output quantization range (zero point -128)."""
    torch.manual_seed(31)
    x = [rand(1, 8, 5, 6, seed=28), rand(1, 8, 5, 6, seed=29)]
    export("q8ta_add_relu", pt2e(Fn(lambda s, a, b: torch.relu(a + b)), x, xnn_static()), x, ["et_vk.q8ta_add.default"], rule="out_step")


@case
def q8ta_relu():
    torch.manual_seed(32)
    x = [rand(1, 8, 5, 6, seed=30)]
    q = StaticOpQuantizer({torch.ops.aten.relu.default})
    export("q8ta_relu", pt2e(Fn(lambda s, a: torch.relu(a)), x, q), x, ["et_vk.q8ta_relu.default"], rule="out_step")


@case
def q8ta_pixel_shuffle():
    torch.manual_seed(33)
    x = [rand(1, 16, 3, 4, seed=31)]
    q = StaticOpQuantizer({torch.ops.aten.pixel_shuffle.default})
    m = Fn(lambda s, a: torch.nn.functional.pixel_shuffle(a, 2))
    export("q8ta_pixel_shuffle", pt2e(m, x, q), x, ["et_vk.q8ta_pixel_shuffle.default"], rule="out_step")


# ---- quantized_decomposed / torchao primitives whose results leave the delegate ----


@case
def qd_quantize_per_tensor():
    m = Fn(lambda s, x: qd.quantize_per_tensor(x, 0.02, 3, -128, 127, torch.int8))
    export("qd_quantize_per_tensor", m, [rand(2, 3, 10, seed=32)], [QPT], tolerance=(1.0, 0.0))


# Each case returns outputs of one kind, so that one tolerance.txt fits: integer results of a
# quantize may be one step off (atol 1); scales and zero points of a choose_qparams are exact.


@case
def qd_choose_qparams_tensor():
    def f(s, x):
        return qd.choose_qparams.tensor(x, -128, 127, 1e-7, torch.int8)

    export("qd_choose_qparams_tensor", Fn(f), [rand(3, 64, seed=33)], ["quantized_decomposed.choose_qparams.tensor"])


@case
def qd_quantize_per_tensor_tensor():
    m = Fn(lambda s, x, sc, zp: qd.quantize_per_tensor.tensor(x, sc, zp, -128, 127, torch.int8))
    export("qd_quantize_per_tensor_tensor", m, [rand(3, 64, seed=33), torch.tensor([0.019]), torch.tensor([7])],
           ["quantized_decomposed.quantize_per_tensor.tensor"], tolerance=(1.0, 0.0))


@case
def qd_dequantize_per_tensor_tensor():
    g = torch.Generator().manual_seed(34)
    q = torch.randint(-128, 128, (3, 64), generator=g, dtype=torch.int8)
    m = Fn(lambda s, x, sc, zp: qd.dequantize_per_tensor.tensor(x, sc, zp, -128, 127, torch.int8))
    export("qd_dequantize_per_tensor_tensor", m, [q, torch.tensor([0.021]), torch.tensor([-3])],
           ["quantized_decomposed.dequantize_per_tensor.tensor"])


@case
def qd_choose_qparams_per_token():
    m = Fn(lambda s, x: qd.choose_qparams_per_token_asymmetric(x, torch.int8))
    export("qd_choose_qparams_per_token", m, [rand(3, 40, seed=35)],
           ["quantized_decomposed.choose_qparams_per_token_asymmetric.default"])


@case
def qd_quantize_per_token():
    g = torch.Generator().manual_seed(41)
    sc = torch.rand(2, 3, 1, generator=g) * 0.05 + 0.005
    zp = torch.randint(-20, 20, (2, 3, 1), generator=g, dtype=torch.int32)
    m = Fn(lambda s, x, a, b: qd.quantize_per_token(x, a, b, -128, 127, torch.int8))
    export("qd_quantize_per_token", m, [rand(2, 3, 16, seed=41), sc, zp],
           ["quantized_decomposed.quantize_per_token.default"], tolerance=(1.0, 0.0))


@case
def qd_dequantize_per_token():
    g = torch.Generator().manual_seed(36)
    q = torch.randint(-128, 128, (2, 3, 16), generator=g, dtype=torch.int8)
    sc = torch.rand(2, 3, 1, generator=g) * 0.05 + 0.005
    zp = torch.randint(-20, 20, (2, 3, 1), generator=g, dtype=torch.int32)
    m = Fn(lambda s, x, a, b: qd.dequantize_per_token(x, a, b, -128, 127, torch.int8, torch.float32))
    export("qd_dequantize_per_token", m, [q, sc, zp], ["quantized_decomposed.dequantize_per_token.default"])


def _per_channel_params():
    g = torch.Generator().manual_seed(37)
    sc = torch.rand(8, generator=g) * 0.05 + 0.01
    zp = torch.randint(-5, 5, (8,), generator=g, dtype=torch.int32)
    return g, sc, zp


@case
def qd_quantize_per_channel():
    _, sc, zp = _per_channel_params()
    m = Fn(lambda s, x: qd.quantize_per_channel(x, s.sc, s.zp, 1, -128, 127, torch.int8), sc=sc, zp=zp)
    export("qd_quantize_per_channel", m, [rand(3, 8, 5, seed=38)],
           ["quantized_decomposed.quantize_per_channel.default"], tolerance=(1.0, 0.0))


@case
def qd_dequantize_per_channel():
    g, sc, zp = _per_channel_params()
    q = torch.randint(-128, 128, (3, 8, 5), generator=g, dtype=torch.int8)
    m = Fn(lambda s, x: qd.dequantize_per_channel(x, s.sc, s.zp, 1, -128, 127, torch.int8), sc=sc, zp=zp)
    export("qd_dequantize_per_channel", m, [q], ["quantized_decomposed.dequantize_per_channel.default"])


@case
def torchao_choose_qparams_affine():
    def f(s, x):
        return ta.choose_qparams_affine(x, "ASYMMETRIC", [1, 16], torch.int8, -128, 127, None, torch.float32, torch.int8)

    export("torchao_choose_qparams_affine", Fn(f), [rand(3, 64, seed=39)], [CQP_TA])


@case
def torchao_quantize_affine():
    g = torch.Generator().manual_seed(42)
    sc = torch.rand(3, 4, generator=g) * 0.05 + 0.005
    zp = torch.randint(-10, 10, (3, 4), generator=g, dtype=torch.int8)
    m = Fn(lambda s, x, a, b: ta.quantize_affine(x, [1, 16], a, b, torch.int8, -128, 127))
    export("torchao_quantize_affine", m, [rand(3, 64, seed=42), sc, zp], ["torchao.quantize_affine.default"],
           tolerance=(1.0, 0.0))


@case
def torchao_dequantize_affine():
    g = torch.Generator().manual_seed(40)
    q = torch.randint(-128, 128, (3, 64), generator=g, dtype=torch.int8)
    sc = torch.rand(3, 4, generator=g) * 0.05 + 0.005
    zp = torch.randint(-10, 10, (3, 4), generator=g, dtype=torch.int8)
    m = Fn(lambda s, x, a, b: ta.dequantize_affine(x, [1, 16], a, b, torch.int8, -128, 127))
    export("torchao_dequantize_affine", m, [q, sc, zp], ["torchao.dequantize_affine.default"])


def main():
    names = sys.argv[1:] or list(CASES)
    for n in names:
        CASES[n]()
        print("exported", n, flush=True)
    for n in sorted(RULES):
        print("tolerance", n, open(os.path.join(OUT, n, "tolerance.txt")).read().strip())


if __name__ == "__main__":
    main()
