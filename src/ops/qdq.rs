//! Quantize, dequantize and choose_qparams ops (`docs/quantized-ops.md`, section 6):
//! `quantized_decomposed.{quantize,dequantize}_per_tensor` (`.default`: Double scale and Int
//! zero point; `.tensor`: one-element tensors), `_per_channel`, `_per_token`,
//! `choose_qparams.tensor`, `choose_qparams_per_token_asymmetric`, and
//! `torchao.{quantize,dequantize}_affine` over row blocks. Quantized values are stored as i32
//! words whatever their dtype; the rounding is the eager ops': `clamp(roundEven(x * (1 / s)) +
//! zp, qmin, qmax)` with the product in f32, and `(q - zp) * s`.

use crate::error::Result;
use crate::format::ValueId;
use crate::graph::{OpBuilder, OpDef, TensorInfo};
use crate::kernels::quant8::{
    qdq_op, ChooseQparamsTokenParams, QdqParams, CHOOSE_QPARAMS_TOKEN, QDQ,
};
use crate::kernels::quantized::{ChooseQparamsParams, CHOOSE_QPARAMS};

pub const OPS: &[OpDef] = &[
    OpDef::new(
        "quantized_decomposed.quantize_per_tensor.default",
        quantize_per_tensor,
    ),
    OpDef::new(
        "quantized_decomposed.quantize_per_tensor.tensor",
        quantize_per_tensor_t,
    ),
    OpDef::new(
        "quantized_decomposed.dequantize_per_tensor.default",
        dequantize_per_tensor,
    ),
    OpDef::new(
        "quantized_decomposed.dequantize_per_tensor.tensor",
        dequantize_per_tensor_t,
    ),
    OpDef::new(
        "quantized_decomposed.quantize_per_channel.default",
        quantize_per_channel,
    ),
    OpDef::new(
        "quantized_decomposed.dequantize_per_channel.default",
        dequantize_per_channel,
    ),
    OpDef::new(
        "quantized_decomposed.quantize_per_token.default",
        quantize_per_token,
    ),
    OpDef::new(
        "quantized_decomposed.dequantize_per_token.default",
        dequantize_per_token,
    ),
    OpDef::new(
        "quantized_decomposed.choose_qparams.tensor",
        choose_qparams_tensor,
    ),
    OpDef::new(
        "quantized_decomposed.choose_qparams_per_token_asymmetric.default",
        choose_qparams_per_token,
    ),
    OpDef::new("torchao.quantize_affine.default", quantize_affine),
    OpDef::new("torchao.dequantize_affine.default", dequantize_affine),
];

/// Where each element's qparams come from.
enum Qparams {
    /// A Double scale and an Int zero point.
    Scalar { scale: f64, zp: i64 },
    /// Element i uses entry `(i / inner) % channels` of the scale tensor and of the zero
    /// point tensor (or zero point 0 when there is none).
    Tensors {
        scale: TensorInfo,
        zero: Option<TensorInfo>,
        inner: usize,
        channels: usize,
    },
}

/// The quant range `[qmin, qmax]` of args `lo`, `hi`.
fn quant_range(b: &OpBuilder, lo: ValueId, hi: ValueId) -> Result<(i32, i32)> {
    let (qmin, qmax) = (b.int(lo)?, b.int(hi)?);
    let fits = |v: i64| i32::try_from(v).is_ok();
    if !fits(qmin) || !fits(qmax) || qmin > qmax {
        return Err(b.err(format!("quant range [{qmin}, {qmax}] is empty or too wide")));
    }
    Ok((qmin as i32, qmax as i32))
}

/// A Double scale: finite and positive, an f32 value.
fn scalar_scale(b: &OpBuilder, id: ValueId) -> Result<f64> {
    let s = b.double(id)?;
    if !(s.is_finite() && s > 0.0 && (s as f32) > 0.0 && (s as f32).is_finite()) {
        return Err(b.err(format!("scale {s} must be a positive finite f32")));
    }
    Ok(s)
}

/// An Int zero point within i32.
fn scalar_zero(b: &OpBuilder, id: ValueId) -> Result<i64> {
    let zp = b.int(id)?;
    if i32::try_from(zp).is_err() {
        return Err(b.err(format!("zero point {zp} does not fit 32 bits")));
    }
    Ok(zp)
}

/// Scale and zero point tensors holding `channels` entries each (zero point optional).
fn qparam_tensors(
    b: &OpBuilder,
    scale: ValueId,
    zero: ValueId,
    inner: usize,
    channels: usize,
) -> Result<Qparams> {
    let scale = b.tensor(scale)?;
    let zero = b.opt_tensor(zero)?;
    b.require_float(&[&scale])?;
    if scale.numel() != channels {
        return Err(b.err(format!(
            "scales {:?} should hold {channels} values",
            scale.sizes
        )));
    }
    if let Some(z) = &zero {
        if z.is_float() {
            return Err(b.unsupported(format!("{:?} zero points (only integer ones)", z.dtype)));
        }
        if z.numel() != channels {
            return Err(b.err(format!(
                "zero points {:?} should hold {channels} values",
                z.sizes
            )));
        }
    }
    Ok(Qparams::Tensors {
        scale,
        zero,
        inner,
        channels,
    })
}

/// Records the quantize (`to_int`) or dequantize dispatch of `x` into `out` (declared here
/// with x's sizes).
fn emit(
    b: &mut OpBuilder,
    x: &TensorInfo,
    out: ValueId,
    q: Qparams,
    (qmin, qmax): (i32, i32),
    to_int: bool,
) -> Result<()> {
    if to_int {
        b.require_float(&[x])?;
    } else if x.is_float() {
        return Err(b.err(format!(
            "input of a dequantize must be an integer tensor, is {:?}",
            x.dtype
        )));
    }
    let out = b.set_output(out, x.sizes.clone())?;
    if out.is_float() == to_int {
        return Err(b.err(format!(
            "output must be {}, is {:?}",
            if to_int {
                "an integer tensor"
            } else {
                "a float tensor"
            },
            out.dtype
        )));
    }
    let count = x.numel();
    if count == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[x])?;
    let mut p = QdqParams {
        count: count as u32,
        inner: count as u32,
        channels: 1,
        qmin,
        qmax,
        ..Default::default()
    };
    // Unused bindings take the input again (never read).
    let (scale_id, zero_id) = match q {
        Qparams::Scalar { scale, zp } => {
            p.scale = scale as f32;
            // The eager op's `1.0 / scale` in double, used as f32.
            p.inv_scale = (1.0 / scale) as f32;
            p.zp = zp as i32;
            (x.id, x.id)
        }
        Qparams::Tensors {
            scale,
            zero,
            inner,
            channels,
        } => {
            p.scale_tensor = 1;
            p.inner = inner.max(1) as u32;
            p.channels = channels as u32;
            p.zero_tensor = zero.is_some() as i32;
            (scale.id, zero.map_or(x.id, |z| z.id))
        }
    };
    let op = if to_int {
        qdq_op::QUANTIZE
    } else {
        qdq_op::DEQUANTIZE
    };
    let call = QDQ.call(p).variant(op).linear(count.div_ceil(4));
    b.dispatch(call, &[out.id, x.id, scale_id, zero_id])
}

/// `quantize_per_tensor(input, float scale, int zero_point, quant_min, quant_max, dtype)`.
pub fn quantize_per_tensor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let x = b.tensor(args[0])?;
    let q = Qparams::Scalar {
        scale: scalar_scale(b, args[1])?,
        zp: scalar_zero(b, args[2])?,
    };
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[6], q, range, true)
}

/// `quantize_per_tensor.tensor(input, Tensor scale, Tensor zero_point, quant_min, quant_max,
/// dtype)`: one-element scale and zero point tensors.
pub fn quantize_per_tensor_t(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let x = b.tensor(args[0])?;
    let q = qparam_tensors(b, args[1], args[2], x.numel(), 1)?;
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[6], q, range, true)
}

/// `dequantize_per_tensor(input, float scale, int zero_point, quant_min, quant_max, dtype,
/// out_dtype)`.
pub fn dequantize_per_tensor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let q = Qparams::Scalar {
        scale: scalar_scale(b, args[1])?,
        zp: scalar_zero(b, args[2])?,
    };
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[7], q, range, false)
}

/// `dequantize_per_tensor.tensor(input, Tensor scale, Tensor zero_point, quant_min,
/// quant_max, dtype, out_dtype)`.
pub fn dequantize_per_tensor_t(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let q = qparam_tensors(b, args[1], args[2], x.numel(), 1)?;
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[7], q, range, false)
}

/// Per-channel qparams of `x` along `axis` (arg `axis_id`).
fn per_channel(
    b: &OpBuilder,
    x: &TensorInfo,
    (scale, zero, axis_id): (ValueId, ValueId, ValueId),
) -> Result<Qparams> {
    let axis = b.int(axis_id)?;
    let rank = x.rank() as i64;
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&a) {
        return Err(b.err(format!(
            "axis {axis} is out of range for input {:?}",
            x.sizes
        )));
    }
    let a = a as usize;
    let inner = x.sizes[a + 1..].iter().product();
    qparam_tensors(b, scale, zero, inner, x.sizes[a])
}

/// `quantize_per_channel(input, scales, zero_points?, axis, quant_min, quant_max, dtype)`.
pub fn quantize_per_channel(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let q = per_channel(b, &x, (args[1], args[2], args[3]))?;
    let range = quant_range(b, args[4], args[5])?;
    emit(b, &x, args[7], q, range, true)
}

/// `dequantize_per_channel(input, scales, zero_points?, axis, quant_min, quant_max, dtype,
/// out_dtype)`.
pub fn dequantize_per_channel(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 9)?;
    let x = b.tensor(args[0])?;
    let q = per_channel(b, &x, (args[1], args[2], args[3]))?;
    let range = quant_range(b, args[4], args[5])?;
    emit(b, &x, args[8], q, range, false)
}

/// Per-row (token) qparams of `x`: one per last-dim row.
fn per_token(b: &OpBuilder, x: &TensorInfo, scale: ValueId, zero: ValueId) -> Result<Qparams> {
    let k = x.sizes.last().copied().unwrap_or(1);
    let rows = x.numel().checked_div(k).unwrap_or(0);
    qparam_tensors(b, scale, zero, k, rows)
}

/// `quantize_per_token(input, scales [..., 1], zero_points [..., 1], quant_min, quant_max,
/// dtype)`.
pub fn quantize_per_token(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let x = b.tensor(args[0])?;
    let q = per_token(b, &x, args[1], args[2])?;
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[6], q, range, true)
}

/// `dequantize_per_token(input, scales, zero_points, quant_min, quant_max, dtype,
/// output_dtype)`.
pub fn dequantize_per_token(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let q = per_token(b, &x, args[1], args[2])?;
    let range = quant_range(b, args[3], args[4])?;
    emit(b, &x, args[7], q, range, false)
}

/// torchao's block-wise qparams: blocks of `block_size` that are 1 in the leading dims, divide
/// one dim, and cover every later dim whole (per tensor, per row, per group of a row). Their
/// qparams are then consecutive: element i uses entry `i / inner`.
fn affine_blocks(
    b: &OpBuilder,
    x: &TensorInfo,
    (block, scale, zero): (ValueId, ValueId, ValueId),
) -> Result<Qparams> {
    let block = b.int_list(block)?;
    let unsupported = || {
        b.unsupported(format!(
            "block size {block:?} for input {:?} (only blocks of whole trailing dims, of one \
             divided dim, and 1 before it)",
            x.sizes
        ))
    };
    if block.len() != x.rank() || block.iter().any(|&v| v <= 0) {
        return Err(unsupported());
    }
    let block: Vec<usize> = block.iter().map(|&v| v as usize).collect();
    // The first dim whose block is not 1 (all 1: every element its own block).
    let j = block
        .iter()
        .position(|&v| v != 1)
        .unwrap_or(x.rank().saturating_sub(1));
    let ok = x.rank() == 0
        || (x.sizes[j].is_multiple_of(block[j]) && block[j + 1..] == x.sizes[j + 1..]);
    if !ok {
        return Err(unsupported());
    }
    let inner: usize = block[j..].iter().product();
    let channels = x.numel().checked_div(inner).unwrap_or(0);
    qparam_tensors(b, scale, zero, inner, channels)
}

/// `torchao.quantize_affine(input, block_size, scale, zero_point?, output_dtype, quant_min,
/// quant_max)`.
pub fn quantize_affine(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let q = affine_blocks(b, &x, (args[1], args[2], args[3]))?;
    let range = quant_range(b, args[5], args[6])?;
    emit(b, &x, args[7], q, range, true)
}

/// `torchao.dequantize_affine(input, block_size, scale, zero_point?, input_dtype, quant_min,
/// quant_max, output_dtype)`.
pub fn dequantize_affine(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 9)?;
    let x = b.tensor(args[0])?;
    let q = affine_blocks(b, &x, (args[1], args[2], args[3]))?;
    let range = quant_range(b, args[5], args[6])?;
    emit(b, &x, args[8], q, range, false)
}

/// The float input and the (scale, zero point) outputs of a choose_qparams op.
fn choose_outputs(
    b: &mut OpBuilder,
    x: ValueId,
    outs: ValueId,
    sizes: Vec<usize>,
) -> Result<(TensorInfo, TensorInfo, TensorInfo)> {
    let x = b.tensor(x)?;
    b.require_float(&[&x])?;
    let outs = super::norm::output_list(b, outs, 2)?;
    let scale = b.set_output(outs[0], sizes.clone())?;
    let zero = b.set_output(outs[1], sizes)?;
    if !scale.is_float() || zero.is_float() {
        return Err(b.err(format!(
            "outputs must be a float scale and an integer zero point, are {:?} / {:?}",
            scale.dtype, zero.dtype
        )));
    }
    b.require_i32_indexing(&[&x])?;
    Ok((x, scale, zero))
}

/// `choose_qparams.tensor(input, quant_min, quant_max, float eps, dtype) -> (scale [1],
/// zero_point [1])`: per-tensor affine (`torch.ao.quantization.utils.determine_qparams`).
pub fn choose_qparams_tensor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let (qmin, qmax) = quant_range(b, args[1], args[2])?;
    if qmin == qmax {
        return Err(b.err(format!("quant range [{qmin}, {qmax}] has one value")));
    }
    let eps = b.double(args[3])?;
    let (x, scale, zero) = choose_outputs(b, args[0], args[5], vec![1])?;
    let k = x.numel();
    if k == 0 {
        return Err(b.unsupported("choose_qparams of an empty tensor (torch raises)"));
    }
    // The 4-bit path's per-row kernel over one row: the same formula (section 6.2).
    let p = ChooseQparamsParams {
        rows: 1,
        k: k as u32,
        qmin,
        qmax,
        eps: eps as f32,
    };
    b.dispatch(
        CHOOSE_QPARAMS.call(p).linear(64),
        &[scale.id, zero.id, x.id],
    )
}

/// `choose_qparams_per_token_asymmetric(input, dtype) -> (scales [..., 1], zero_points [...,
/// 1])`: int8, per last-dim row.
pub fn choose_qparams_per_token(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let sizes = b.tensor(args[0])?.sizes;
    let Some((_, lead)) = sizes.split_last() else {
        return Err(b.err("input must have at least one dimension"));
    };
    let mut out_sizes = lead.to_vec();
    out_sizes.push(1);
    let (x, scale, zero) = choose_outputs(b, args[0], args[2], out_sizes)?;
    let k = *x.sizes.last().expect("rank checked");
    let rows = scale.numel();
    if rows == 0 {
        return Ok(());
    }
    if k == 0 {
        return Err(b.unsupported("choose_qparams of empty rows (torch raises)"));
    }
    let work = rows
        .checked_mul(64)
        .filter(|&w| w <= i32::MAX as usize)
        .ok_or_else(|| b.unsupported(format!("{rows} rows are too many for one dispatch")))?;
    let p = ChooseQparamsTokenParams {
        rows: rows as u32,
        k: k as u32,
    };
    b.dispatch(
        CHOOSE_QPARAMS_TOKEN.call(p).linear(work),
        &[scale.id, zero.id, x.id],
    )
}
