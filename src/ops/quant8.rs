//! 8-bit quantized ops (`docs/quantized-ops.md`, sections 4 and 5). Weights stay on the device
//! as the raw bytes the exporter wrote ([`Elem::U8`]); int8 activations are i32 words.
//! - weight-only per-channel linears: `et_vk.linear_qcs4w` (4-bit, high nibble = even k) and
//!   `aten._weight_int8pack_mm` (int8), float activations;
//! - static int8 (`q8ta`) ops: `et_vk.linear_q8ta_q8csw` (float output), `q8ta_linear`,
//!   `q8ta_linear_gemv`, `q8ta_conv2d`, `_pw`, `_dw`, `_transposed`, `q8ta_add`, `q8ta_relu`,
//!   `q8ta_pixel_shuffle`. Dot products are exact in int32 with the input zero point taken off
//!   each input value, then `f = acc * (in_scale * w_scale) + bias`, and int8 outputs are
//!   `clamp(roundEven(relu?(f) * (1 / out_scale)) + out_zp, -128, 127)` with the reciprocal
//!   taken in double and used as f32, as the eager `quantize_per_tensor` does.

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::{OpBuilder, OpDef, TensorInfo};
use crate::kernels::quant8::{
    conv_op, q8ta_op, LinearQ8Params, LinearQ8Spec, Q8taConvParams, Q8taConvSpec,
    Q8taElementwiseParams, LINEAR_Q8TA, LINEAR_QCW, Q8TA_CONV2D, Q8TA_ELEMENTWISE,
};
use crate::kernels::{Elem, Layout};

use super::split::{use_split, Reads, SPLIT_LANES};

pub const OPS: &[OpDef] = &[
    OpDef::new("et_vk.linear_qcs4w.default", linear_qcs4w),
    OpDef::new("aten._weight_int8pack_mm.default", weight_int8pack_mm),
    OpDef::new("et_vk.linear_q8ta_q8csw.default", linear_q8ta_q8csw),
    OpDef::new("et_vk.q8ta_linear.default", q8ta_linear),
    OpDef::new("et_vk.q8ta_linear_gemv.default", q8ta_linear),
    OpDef::new("et_vk.q8ta_conv2d.default", q8ta_conv2d),
    OpDef::new("et_vk.q8ta_conv2d_pw.default", q8ta_conv2d),
    OpDef::new("et_vk.q8ta_conv2d_dw.default", q8ta_conv2d_dw),
    OpDef::new(
        "et_vk.q8ta_conv2d_transposed.default",
        q8ta_conv2d_transposed,
    ),
    OpDef::new("et_vk.q8ta_add.default", q8ta_add),
    OpDef::new("et_vk.q8ta_relu.default", q8ta_relu),
    OpDef::new("et_vk.q8ta_pixel_shuffle.default", q8ta_pixel_shuffle),
];

// ------------------------------------------------------------------------------------------
// Arguments

/// A Double scale: positive and finite as an f32.
fn scale_arg(b: &OpBuilder, id: ValueId) -> Result<f64> {
    let s = b.double(id)?;
    let f = s as f32;
    if !(s > 0.0 && f > 0.0 && f.is_finite()) {
        return Err(b.err(format!("scale {s} must be a positive finite f32")));
    }
    Ok(s)
}

/// An Int zero point of an int8 tensor.
fn zero_arg(b: &OpBuilder, id: ValueId) -> Result<i32> {
    let zp = b.int(id)?;
    if !(-128..=127).contains(&zp) {
        return Err(b.err(format!("zero point {zp} is outside int8's [-128, 127]")));
    }
    Ok(zp as i32)
}

/// `1 / scale` as the eager `quantize_per_tensor` takes it: in double, then used as f32.
fn inv_scale(s: f64) -> f32 {
    (1.0 / s) as f32
}

/// `String('relu')` or `String('none')`: whether a relu is fused.
fn activation_arg(b: &OpBuilder, id: ValueId) -> Result<bool> {
    match b.value(id)? {
        Value::String(s) if s == "relu" => Ok(true),
        Value::String(s) if s == "none" => Ok(false),
        Value::String(s) => Err(b.unsupported(format!("activation {s:?} (only none, relu)"))),
        other => Err(b.err(format!(
            "activation must be a string, is {}",
            other.kind_name()
        ))),
    }
}

/// An int8 activation (stored as i32 words).
fn int8_input(b: &OpBuilder, id: ValueId) -> Result<TensorInfo> {
    let x = b.tensor(id)?;
    if !matches!(x.dtype, DType::Int8 | DType::Uint8 | DType::Int32) {
        return Err(b.err(format!(
            "input must be an int8 tensor, is {:?} {:?}",
            x.dtype, x.sizes
        )));
    }
    Ok(x)
}

/// An int8 output of `sizes` (i32 words).
fn int8_output(b: &mut OpBuilder, id: ValueId, sizes: Vec<usize>) -> Result<TensorInfo> {
    let out = b.set_output_as(id, sizes, Layout::Contiguous, Elem::I32)?;
    if out.is_float() {
        return Err(b.err(format!("output must be an int8 tensor, is {:?}", out.dtype)));
    }
    Ok(out)
}

/// Constant 8-bit weights kept as raw bytes.
fn byte_weights(b: &mut OpBuilder, w: &TensorInfo, dtype: DType) -> Result<ValueId> {
    if w.dtype != dtype {
        return Err(b.err(format!(
            "weights must be {dtype:?}, are {:?} {:?}",
            w.dtype, w.sizes
        )));
    }
    b.packed_constant(w, None, Elem::U8)?.ok_or_else(|| {
        b.unsupported(format!(
            "weights (value {}) must be a constant of the program",
            w.id
        ))
    })
}

/// A float per-channel tensor (scales, bias) with at least `n` entries.
fn per_channel_floats(b: &OpBuilder, id: ValueId, n: usize, what: &str) -> Result<TensorInfo> {
    let t = b.tensor(id)?;
    b.require_float(&[&t])?;
    if t.numel() < n {
        return Err(b.err(format!(
            "{what} {:?} should hold at least {n} values",
            t.sizes
        )));
    }
    Ok(t)
}

/// The exporter's weight sums: integers. The kernels take the zero point off each input value
/// instead, which is exact at padded borders too, so only their presence is checked.
fn check_sums(b: &OpBuilder, id: ValueId) -> Result<()> {
    let s = b.tensor(id)?;
    if s.is_float() {
        return Err(b.err(format!("weight sums must be integers, are {:?}", s.dtype)));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Linears

/// Which linear kernel, and its per-kernel arguments.
enum LinearKind {
    /// Float x, 4- or 8-bit weight-only (`LINEAR_QCW`, variant = bits).
    WeightOnly { bits: i32 },
    /// Int8 x: float output, or requantized (with relu).
    Q8ta {
        in_scale: f64,
        in_zp: i32,
        bias: Option<ValueId>,
        out: Option<(f64, i32, bool)>,
    },
}

/// `[..., K]` x times `[N, row_bytes]` byte weights with per-channel scales; output `[..., N]`.
fn linear(
    b: &mut OpBuilder,
    x: &TensorInfo,
    (w, scales, out_id): (&TensorInfo, &TensorInfo, ValueId),
    kind: LinearKind,
) -> Result<()> {
    let k = *x
        .sizes
        .last()
        .ok_or_else(|| b.err("input must have at least one dimension"))?;
    let m = x.numel().checked_div(k).unwrap_or(0);
    let (n, row_bytes) = (w.sizes[0], w.sizes[1]);
    let bits = match kind {
        LinearKind::WeightOnly { bits } => bits,
        LinearKind::Q8ta { .. } => 8,
    };
    let per_word = if bits == 4 { 8 } else { 4 };
    let mut out_sizes = x.sizes.clone();
    *out_sizes.last_mut().expect("rank checked") = n;
    let weights = byte_weights(b, w, if bits == 4 { DType::Uint8 } else { DType::Int8 })?;
    let out = match &kind {
        LinearKind::Q8ta { out: Some(_), .. } => int8_output(b, out_id, out_sizes)?,
        _ => {
            let out = b.set_output_as(out_id, out_sizes, Layout::Contiguous, Elem::F32)?;
            if !out.is_float() {
                return Err(b.err(format!("output must be float, is {:?}", out.dtype)));
            }
            out
        }
    };
    if out.numel() == 0 {
        return Ok(());
    }
    if k == 0 {
        return Err(b.unsupported("a linear over K = 0 (its output would be the bias)"));
    }
    b.require_i32_indexing(&[x, &out, w])?;
    let tm = m.next_power_of_two().clamp(1, 4);
    let n4 = n.div_ceil(4);
    let split = use_split(b, m * n, k, Reads::Contiguous);
    let lanes = if split { SPLIT_LANES } else { 1 };
    let mut p = LinearQ8Params {
        m: m as u32,
        k: k as u32,
        n: n as u32,
        row_bytes: row_bytes as u32,
        w_words: (w.numel().div_ceil(4)) as u32,
        chunks: k.div_ceil(per_word) as u32,
        ..Default::default()
    };
    let spec = LinearQ8Spec {
        TM: tm as i32,
        SPLIT: lanes as i32,
        XALIGNED: k.is_multiple_of(4) as i32,
        WALIGNED: row_bytes.is_multiple_of(4) as i32,
    };
    let (global, local) = if split {
        ([n4 * lanes, m.div_ceil(tm), 1], [lanes as u32, 1, 1])
    } else {
        let rows = m.div_ceil(tm);
        ([n4, rows, 1], super::conv::local_2d(n4, rows))
    };
    let flops = 2 * (m * n * k) as u64;
    let (kernel, variant, bias) = match kind {
        LinearKind::WeightOnly { bits } => (&LINEAR_QCW, bits, None),
        LinearKind::Q8ta {
            in_scale,
            in_zp,
            bias,
            out,
        } => {
            p.in_scale = in_scale as f32;
            p.in_zp = in_zp;
            p.has_bias = bias.is_some() as i32;
            if let Some((s, zp, relu)) = out {
                p.out_inv_scale = inv_scale(s);
                p.out_zp = zp;
                p.relu = relu as i32;
            }
            (&LINEAR_Q8TA, out.is_some() as i32, bias)
        }
    };
    let call = kernel
        .call(p)
        .variant(variant)
        .spec(spec)
        .tiles(global, local)
        .flops(flops);
    // No bias: bind the scales again (never read).
    let bias = bias.unwrap_or(scales.id);
    b.dispatch(call, &[out.id, x.id, weights, scales.id, bias])
}

/// A weight-only linear's operands: float x `[..., K]`, weights `[N, >= K * bits / 8]`,
/// scales `[>= N]`.
fn weight_only(b: &mut OpBuilder, args: &[ValueId], bits: i32) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let w = b.tensor(args[1])?;
    b.require_float(&[&x])?;
    let k = x.sizes.last().copied().unwrap_or(0);
    let need = if bits == 4 { k.div_ceil(2) } else { k };
    if w.rank() != 2 || w.sizes[1] < need || (bits == 8 && w.sizes[1] != k) {
        return Err(b.err(format!(
            "weights {:?} do not hold K = {k} {bits}-bit values per row",
            w.sizes
        )));
    }
    let scales = per_channel_floats(b, args[2], w.sizes[0], "scales")?;
    linear(
        b,
        &x,
        (&w, &scales, args[3]),
        LinearKind::WeightOnly { bits },
    )
}

/// `et_vk.linear_qcs4w(x [..., K], weight uint8 [N, ceil(K / 2)], scales [N])`: 4-bit
/// weights, high nibble = even k, value nibble - 8.
pub fn linear_qcs4w(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    weight_only(b, args, 4)
}

/// `aten._weight_int8pack_mm(x [..., K], weight int8 [N, K], scales [N])`.
pub fn weight_int8pack_mm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    weight_only(b, args, 8)
}

/// The operands shared by the q8ta linears: int8 x `[..., K]`, its qparams, int8 weights
/// `[N, K]`, sums, scales `[>= N]`.
fn q8ta_linear_operands(
    b: &OpBuilder,
    args: &[ValueId],
) -> Result<(TensorInfo, f64, i32, TensorInfo, TensorInfo)> {
    let x = int8_input(b, args[0])?;
    let in_scale = scale_arg(b, args[1])?;
    let in_zp = zero_arg(b, args[2])?;
    let w = b.tensor(args[3])?;
    let k = x.sizes.last().copied().unwrap_or(0);
    if w.rank() != 2 || w.sizes[1] != k {
        return Err(b.err(format!(
            "weights {:?} should be [N, K = {k}] (input {:?})",
            w.sizes, x.sizes
        )));
    }
    check_sums(b, args[4])?;
    let scales = per_channel_floats(b, args[5], w.sizes[0], "weight scales")?;
    Ok((x, in_scale, in_zp, w, scales))
}

/// An optional float bias with at least `n` entries.
fn opt_bias(b: &OpBuilder, id: ValueId, n: usize) -> Result<Option<ValueId>> {
    if b.is_null(id) {
        return Ok(None);
    }
    Ok(Some(per_channel_floats(b, id, n, "bias")?.id))
}

/// `et_vk.linear_q8ta_q8csw(x int8 [..., K], input_scale, input_zero_point, weights int8
/// [N, K], weight_sums, weight_scales [N4], bias? [N4]) -> float [..., N]`.
pub fn linear_q8ta_q8csw(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let (x, in_scale, in_zp, w, scales) = q8ta_linear_operands(b, args)?;
    let bias = opt_bias(b, args[6], w.sizes[0])?;
    let kind = LinearKind::Q8ta {
        in_scale,
        in_zp,
        bias,
        out: None,
    };
    linear(b, &x, (&w, &scales, args[7]), kind)
}

/// `et_vk.q8ta_linear(x int8 [..., K], input_scale, input_zero_point, weights int8 [N, K],
/// weight_sums, weight_scales [N4], output_scale, output_zero_point, bias? [N4], activation)
/// -> int8 [..., N]` (and `q8ta_linear_gemv`, the same for one row).
pub fn q8ta_linear(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 11)?;
    let (x, in_scale, in_zp, w, scales) = q8ta_linear_operands(b, args)?;
    let out_scale = scale_arg(b, args[6])?;
    let out_zp = zero_arg(b, args[7])?;
    let bias = opt_bias(b, args[8], w.sizes[0])?;
    let relu = activation_arg(b, args[9])?;
    let kind = LinearKind::Q8ta {
        in_scale,
        in_zp,
        bias,
        out: Some((out_scale, out_zp, relu)),
    };
    linear(b, &x, (&w, &scales, args[10]), kind)
}

// ------------------------------------------------------------------------------------------
// Convolutions

/// An `IntList([h, w])` (a single entry: both).
fn pair(b: &OpBuilder, id: ValueId, what: &str) -> Result<[i64; 2]> {
    match b.int_list(id)?.as_slice() {
        [v] => Ok([*v, *v]),
        [h, w] => Ok([*h, *w]),
        v => Err(b.err(format!("{what} {v:?} should have 1 or 2 entries"))),
    }
}

/// What the conv ops share: qparams, bias, geometry arguments.
struct ConvArgs {
    x: TensorInfo,
    w: TensorInfo,
    scales: ValueId,
    bias: ValueId,
    in_scale: f64,
    in_zp: i32,
    out_scale: f64,
    out_zp: i32,
    kernel: [usize; 2],
    stride: [i64; 2],
    padding: [i64; 2],
    output_padding: [i64; 2],
    dilation: [i64; 2],
    groups: usize,
    relu: bool,
    transposed: bool,
}

impl ConvArgs {
    /// Reads `(x, input_scale, input_zero_point, weights, weight_sums, weight_scales,
    /// output_scale, output_zero_point, bias?, kernel_size, stride, padding,
    /// [output_padding,] dilation, groups, activation)`.
    fn read(b: &OpBuilder, args: &[ValueId], transposed: bool) -> Result<ConvArgs> {
        let x = int8_input(b, args[0])?;
        if x.rank() != 4 {
            return Err(b.unsupported(format!("input {:?} (only [N, C, H, W])", x.sizes)));
        }
        let w = b.tensor(args[3])?;
        check_sums(b, args[4])?;
        let kernel = pair(b, args[9], "kernel_size")?;
        let stride = pair(b, args[10], "stride")?;
        let padding = pair(b, args[11], "padding")?;
        let (output_padding, rest) = if transposed {
            (pair(b, args[12], "output_padding")?, &args[13..])
        } else {
            ([0, 0], &args[12..])
        };
        let dilation = pair(b, rest[0], "dilation")?;
        let groups = b.int(rest[1])?;
        let relu = activation_arg(b, rest[2])?;
        if kernel.iter().any(|&v| v <= 0)
            || stride.iter().any(|&v| v <= 0)
            || dilation.iter().any(|&v| v <= 0)
            || groups <= 0
        {
            return Err(b.err(format!(
                "kernel {kernel:?}, stride {stride:?}, dilation {dilation:?} and groups \
                 {groups} must be positive"
            )));
        }
        if padding.iter().chain(&output_padding).any(|&v| v < 0) {
            return Err(b.err(format!(
                "padding {padding:?} and output padding {output_padding:?} must not be negative"
            )));
        }
        let limit = (i32::MAX / 4) as i64;
        if [kernel, stride, padding, dilation, output_padding]
            .iter()
            .flatten()
            .any(|&v| v > limit)
        {
            return Err(b.unsupported("convolution arguments beyond 32-bit indexing"));
        }
        let groups = groups as usize;
        if x.sizes[1] % groups != 0 {
            return Err(b.err(format!(
                "input channels {} are not divisible by groups {groups}",
                x.sizes[1]
            )));
        }
        Ok(ConvArgs {
            x,
            w,
            scales: args[5],
            bias: args[8],
            in_scale: scale_arg(b, args[1])?,
            in_zp: zero_arg(b, args[2])?,
            out_scale: scale_arg(b, args[6])?,
            out_zp: zero_arg(b, args[7])?,
            kernel: kernel.map(|v| v as usize),
            stride,
            padding,
            output_padding,
            dilation,
            groups,
            relu,
            transposed,
        })
    }

    /// Output size of spatial dim `d` (0: H, 1: W), as PyTorch computes it.
    fn out_dim(&self, b: &OpBuilder, d: usize) -> Result<usize> {
        let i = self.x.sizes[2 + d] as i64;
        let k = self.kernel[d] as i64;
        let (s, p, dl) = (self.stride[d], self.padding[d], self.dilation[d]);
        let o = if self.transposed {
            (i - 1) * s - 2 * p + dl * (k - 1) + self.output_padding[d] + 1
        } else {
            (i + 2 * p - dl * (k - 1) - 1).div_euclid(s) + 1
        };
        usize::try_from(o).map_err(|_| {
            b.err(format!(
                "input {:?} is too small for kernel {:?} (padding {:?}, dilation {:?})",
                self.x.sizes, self.kernel, self.padding, self.dilation
            ))
        })
    }

    /// Checks the per-channel tensors against `oc` output channels, declares the output,
    /// and records the dispatch.
    fn emit(
        &self,
        b: &mut OpBuilder,
        out_id: ValueId,
        (oc, weights, row_words, k): (usize, ValueId, usize, usize),
        (op, tile_w, blocks): (i32, usize, usize),
    ) -> Result<()> {
        let scales = per_channel_floats(b, self.scales, oc, "weight scales")?;
        let bias = opt_bias(b, self.bias, oc)?;
        let [n, ic, h, w] = [0, 1, 2, 3].map(|i| self.x.sizes[i]);
        let (oh, ow) = (self.out_dim(b, 0)?, self.out_dim(b, 1)?);
        let out = int8_output(b, out_id, vec![n, oc, oh, ow])?;
        if out.numel() == 0 {
            return Ok(());
        }
        if self.x.numel() == 0 {
            return Err(b.unsupported("a convolution of an empty input"));
        }
        b.require_i32_indexing(&[&self.x, &out, &self.w])?;
        let groups = if op == conv_op::DEPTHWISE {
            1
        } else {
            self.groups
        };
        let p = Q8taConvParams {
            n: n as u32,
            ic: ic as u32,
            h: h as i32,
            w: w as i32,
            oc: oc as u32,
            oh: oh as u32,
            ow: ow as u32,
            kh: self.kernel[0] as u32,
            kw: self.kernel[1] as u32,
            sh: self.stride[0] as i32,
            sw: self.stride[1] as i32,
            ph: self.padding[0] as i32,
            pw: self.padding[1] as i32,
            dh: self.dilation[0] as i32,
            dw: self.dilation[1] as i32,
            icg: (ic / self.groups) as u32,
            ocg: (oc / groups) as u32,
            blocks: blocks as u32,
            row_words: row_words as u32,
            k: k as u32,
            has_bias: bias.is_some() as i32,
            relu: self.relu as i32,
            in_zp: self.in_zp,
            out_zp: self.out_zp,
            in_scale: self.in_scale as f32,
            out_inv_scale: inv_scale(self.out_scale),
        };
        let tile_w = tile_w.min(ow).max(1);
        let gx = ow.div_ceil(tile_w);
        let gz = n * groups * blocks;
        let macs = n * oc * oh * ow * (ic / self.groups) * self.kernel[0] * self.kernel[1];
        let call = Q8TA_CONV2D
            .call(p)
            .variant(op)
            .spec(Q8taConvSpec {
                TILE_W: tile_w as i32,
            })
            .tiles([gx, oh, gz], super::conv::local_2d(gx, oh))
            .flops(2 * macs as u64);
        let bias = bias.unwrap_or(scales.id);
        b.dispatch(call, &[out.id, self.x.id, weights, scales.id, bias])
    }
}

/// Regular and transposed convolutions' weights `[OC, Kp]`, K = KH * KW * ICg ordered
/// (kh, kw, ic) and padded to a multiple of 4 (so rows start on words).
fn row_weights(b: &mut OpBuilder, c: &ConvArgs) -> Result<(usize, ValueId, usize, usize)> {
    let icg = c.x.sizes[1] / c.groups;
    let k = c.kernel[0] * c.kernel[1] * icg;
    let w = &c.w;
    if w.rank() != 2 || w.sizes[1] < k || !w.sizes[1].is_multiple_of(4) {
        return Err(b.err(format!(
            "weights {:?} are not [OC, KH * KW * ICg = {k} padded to a multiple of 4]",
            w.sizes
        )));
    }
    let oc = w.sizes[0];
    if oc == 0 || !oc.is_multiple_of(c.groups) {
        return Err(b.err(format!(
            "{oc} output channels are not divisible by groups {}",
            c.groups
        )));
    }
    let weights = byte_weights(b, w, DType::Int8)?;
    Ok((oc, weights, w.sizes[1] / 4, k))
}

/// `et_vk.q8ta_conv2d` and `et_vk.q8ta_conv2d_pw`: int8 NCHW convolution (grouped, strided,
/// padded, dilated) with weights `[OC, Kp]`.
pub fn q8ta_conv2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 16)?;
    let c = ConvArgs::read(b, args, false)?;
    let (oc, weights, row_words, k) = row_weights(b, &c)?;
    let blocks = (oc / c.groups).div_ceil(4);
    c.emit(
        b,
        args[15],
        (oc, weights, row_words, k),
        (conv_op::REGULAR, 4, blocks),
    )
}

/// `et_vk.q8ta_conv2d_transposed`: as `q8ta_conv2d` with `output_padding` after `padding`;
/// dilation must be 1.
pub fn q8ta_conv2d_transposed(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 17)?;
    let c = ConvArgs::read(b, args, true)?;
    if c.dilation != [1, 1] {
        return Err(b.unsupported(format!(
            "transposed convolution with dilation {:?} (only 1, as the exporter emits)",
            c.dilation
        )));
    }
    if c.output_padding[0] >= c.stride[0].max(c.dilation[0])
        || c.output_padding[1] >= c.stride[1].max(c.dilation[1])
    {
        return Err(b.err(format!(
            "output padding {:?} must be smaller than the stride {:?}",
            c.output_padding, c.stride
        )));
    }
    let (oc, weights, row_words, k) = row_weights(b, &c)?;
    let blocks = (oc / c.groups).div_ceil(4);
    c.emit(
        b,
        args[16],
        (oc, weights, row_words, k),
        (conv_op::TRANSPOSED, 1, blocks),
    )
}

/// `et_vk.q8ta_conv2d_dw`: depthwise (groups = C = OC), weights `[KH, KW, C4]` (C padded to a
/// multiple of 4).
pub fn q8ta_conv2d_dw(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 16)?;
    let c = ConvArgs::read(b, args, false)?;
    let ch = c.x.sizes[1];
    if c.groups != ch {
        return Err(b.err(format!(
            "a depthwise convolution needs groups = channels, has {} and {ch}",
            c.groups
        )));
    }
    let w = &c.w;
    if w.rank() != 3 || w.sizes[..2] != c.kernel || w.sizes[2] < ch || !w.sizes[2].is_multiple_of(4)
    {
        return Err(b.err(format!(
            "weights {:?} are not [KH, KW, C = {ch} padded to a multiple of 4] for kernel {:?}",
            w.sizes, c.kernel
        )));
    }
    let row_words = w.sizes[2] / 4;
    let weights = byte_weights(b, w, DType::Int8)?;
    let k = c.kernel[0] * c.kernel[1];
    c.emit(
        b,
        args[15],
        (ch, weights, row_words, k),
        (conv_op::DEPTHWISE, 4, ch.div_ceil(4)),
    )
}

// ------------------------------------------------------------------------------------------
// Elementwise

/// Records a `q8ta_elementwise.comp` dispatch over `count` elements (4 per invocation).
fn elementwise(
    b: &mut OpBuilder,
    p: Q8taElementwiseParams,
    op: i32,
    (out, a, bb): (ValueId, ValueId, ValueId),
) -> Result<()> {
    let count = p.count as usize;
    if count == 0 {
        return Ok(());
    }
    let call = Q8TA_ELEMENTWISE
        .call(p)
        .variant(op)
        .linear(count.div_ceil(4));
    b.dispatch(call, &[out, a, bb])
}

/// `et_vk.q8ta_add(a, b, a_scale, a_zero_point, b_scale, b_zero_point, output_scale,
/// output_zero_point, alpha)`: int8 tensors of one shape.
pub fn q8ta_add(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 10)?;
    let x = int8_input(b, args[0])?;
    let y = int8_input(b, args[1])?;
    if x.sizes != y.sizes {
        return Err(b.unsupported(format!(
            "broadcasting {:?} with {:?} (only equal shapes)",
            x.sizes, y.sizes
        )));
    }
    let alpha = b.double(args[8])?;
    let out = int8_output(b, args[9], x.sizes.clone())?;
    b.require_i32_indexing(&[&x])?;
    let p = Q8taElementwiseParams {
        count: x.numel() as u32,
        a_scale: scale_arg(b, args[2])? as f32,
        a_zp: zero_arg(b, args[3])?,
        b_scale: scale_arg(b, args[4])? as f32,
        b_zp: zero_arg(b, args[5])?,
        out_inv_scale: inv_scale(scale_arg(b, args[6])?),
        out_zp: zero_arg(b, args[7])?,
        alpha: alpha as f32,
        ..Default::default()
    };
    elementwise(b, p, q8ta_op::ADD, (out.id, x.id, y.id))
}

/// `et_vk.q8ta_relu(x, input_scale, input_zero_point, output_scale, output_zero_point)`.
pub fn q8ta_relu(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let x = int8_input(b, args[0])?;
    let out = int8_output(b, args[5], x.sizes.clone())?;
    b.require_i32_indexing(&[&x])?;
    let p = Q8taElementwiseParams {
        count: x.numel() as u32,
        a_scale: scale_arg(b, args[1])? as f32,
        a_zp: zero_arg(b, args[2])?,
        out_inv_scale: inv_scale(scale_arg(b, args[3])?),
        out_zp: zero_arg(b, args[4])?,
        ..Default::default()
    };
    // B is not read by relu: bind x again.
    elementwise(b, p, q8ta_op::RELU, (out.id, x.id, x.id))
}

/// `et_vk.q8ta_pixel_shuffle(x [..., C * r * r, H, W], input_scale, input_zero_point,
/// output_inv_scale, output_zero_point, upscale_factor) -> [..., C, H * r, W * r]`; arg 3 is
/// `1 / output_scale`.
pub fn q8ta_pixel_shuffle(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let x = int8_input(b, args[0])?;
    let inv = b.double(args[3])?;
    if !(inv > 0.0 && (inv as f32).is_finite()) {
        return Err(b.err(format!(
            "output inverse scale {inv} must be a positive finite f32"
        )));
    }
    let r = b.int(args[5])?;
    if !(1..=1024).contains(&r) {
        return Err(b.err(format!("upscale factor {r} must be in [1, 1024]")));
    }
    let r = r as usize;
    if x.rank() < 3 || x.sizes[x.rank() - 3] % (r * r) != 0 {
        return Err(b.err(format!(
            "input {:?} needs channels (dim -3) divisible by {}",
            x.sizes,
            r * r
        )));
    }
    let rank = x.rank();
    let (c, h, w) = (
        x.sizes[rank - 3] / (r * r),
        x.sizes[rank - 2],
        x.sizes[rank - 1],
    );
    let lead: usize = x.sizes[..rank - 3].iter().product();
    let mut sizes = x.sizes[..rank - 3].to_vec();
    sizes.extend([c, h * r, w * r]);
    let out = int8_output(b, args[6], sizes)?;
    if out.numel() == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&x])?;
    let p = Q8taElementwiseParams {
        count: (lead * c) as u32,
        r: r as u32,
        c: c as u32,
        h: h as u32,
        w: w as u32,
        a_scale: scale_arg(b, args[1])? as f32,
        a_zp: zero_arg(b, args[2])?,
        out_inv_scale: inv as f32,
        out_zp: zero_arg(b, args[4])?,
        ..Default::default()
    };
    let (gx, gy) = (w * r, h * r);
    let call = Q8TA_ELEMENTWISE
        .call(p)
        .variant(q8ta_op::PIXEL_SHUFFLE)
        .tiles([gx, gy, lead * c], super::conv::local_2d(gx, gy));
    b.dispatch(call, &[out.id, x.id, x.id])
}
