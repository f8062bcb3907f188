//! Normalizations: `aten.native_layer_norm.default`, `aten.native_group_norm.default`,
//! `aten._native_batch_norm_legit_no_training.default` and `et_vk.rms_norm.default`.
//! Shaders: `shaders/norm_rows.comp` (layer / group / RMS norm: one 64-wide workgroup per
//! normalized row on GPUs, one invocation on CPU devices; two-pass mean and variance), `shaders/norm_batch.comp` (batch norm with
//! running statistics, elementwise).

use crate::error::Result;
use crate::format::{Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::norm::{
    NormBatchParams, NormRowsParams, NormRowsSpec, NORM_BATCH, NORM_ROWS, NORM_ROWS_TEXEL,
};
use crate::kernels::Elem;

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.native_layer_norm.default", native_layer_norm),
    OpDef::new("aten.native_group_norm.default", native_group_norm),
    OpDef::new(
        "aten._native_batch_norm_legit_no_training.default",
        native_batch_norm_legit_no_training,
    ),
    OpDef::new("et_vk.rms_norm.default", rms_norm),
];

/// Invocations per row in `norm_rows.comp`: a 64-wide workgroup on GPUs, one invocation on
/// CPU devices, whose workgroup barriers are costly (lavapipe: a ViT's layer norms of 65 rows
/// of 64 took 175-190 us each with a workgroup per row). `ETVK_SPLIT_REDUCTION=always` /
/// `never` force one (tests run the GPU layout on lavapipe).
fn row_lanes(b: &OpBuilder) -> usize {
    if super::split::gpu_layout(b) {
        64
    } else {
        1
    }
}

/// `native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias,
/// float eps) -> (Tensor, Tensor, Tensor)`; the output is one ValueList [out, mean, rstd],
/// mean and rstd sized like the input with the normalized dims set to 1.
pub fn native_layer_norm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let x = b.tensor(args[0])?;
    let shape = b.int_list(args[1])?;
    let weight = b.opt_tensor(args[2])?;
    let bias = b.opt_tensor(args[3])?;
    let eps = b.double(args[4])?;
    let outs = output_list(b, args[5], 3)?;

    let k = shape.len();
    if k == 0 || k > x.rank() {
        return Err(b.err(format!(
            "normalized_shape {shape:?} must name 1 to {} trailing dims of input {:?}",
            x.rank(),
            x.sizes
        )));
    }
    let lead = x.rank() - k;
    if shape
        .iter()
        .zip(&x.sizes[lead..])
        .any(|(&s, &d)| s < 0 || s as usize != d)
    {
        return Err(b.err(format!(
            "normalized_shape {shape:?} does not match the trailing dims of input {:?}",
            x.sizes
        )));
    }
    let norm_sizes = x.sizes[lead..].to_vec();
    for (t, what) in [(&weight, "weight"), (&bias, "bias")] {
        if let Some(t) = t {
            if t.sizes != norm_sizes {
                return Err(b.err(format!(
                    "{what} sizes {:?} should equal normalized_shape {norm_sizes:?}",
                    t.sizes
                )));
            }
        }
    }
    let mut stat_sizes = x.sizes[..lead].to_vec();
    stat_sizes.resize(x.rank(), 1);
    let out = b.set_output(outs[0], x.sizes.clone())?;
    let mean = b.set_output(outs[1], stat_sizes.clone())?;
    let rstd = b.set_output(outs[2], stat_sizes)?;
    let d: usize = norm_sizes.iter().product();
    let rows: usize = x.sizes[..lead].iter().product();
    rows_norm(
        b,
        RowsNorm {
            x: &x,
            out: &out,
            stats: Some((&mean, &rstd)),
            weight: weight.as_ref(),
            bias: bias.as_ref(),
            rows,
            d,
            wrap: 1,
            div: 1,
            eps,
        },
    )
}

/// `native_group_norm(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C,
/// SymInt HxW, int group, float eps) -> (Tensor, Tensor, Tensor)`; the output is one ValueList
/// [out, mean, rstd] with mean and rstd of sizes [N, group].
pub fn native_group_norm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 9)?;
    let x = b.tensor(args[0])?;
    let weight = b.opt_tensor(args[1])?;
    let bias = b.opt_tensor(args[2])?;
    let n = b.int(args[3])?;
    let c = b.int(args[4])?;
    let hxw = b.int(args[5])?;
    let group = b.int(args[6])?;
    let eps = b.double(args[7])?;
    let outs = output_list(b, args[8], 3)?;

    if x.rank() < 2 {
        return Err(b.err(format!(
            "input must have at least 2 dims [N, C, ...], has sizes {:?}",
            x.sizes
        )));
    }
    if n < 0 || c < 0 || hxw < 0 || group <= 0 {
        return Err(b.err(format!(
            "N={n}, C={c}, HxW={hxw} must be >= 0 and group={group} > 0"
        )));
    }
    let (n, c, hxw, group) = (n as usize, c as usize, hxw as usize, group as usize);
    let spatial: usize = x.sizes[2..].iter().product();
    if x.sizes[0] != n || x.sizes[1] != c || spatial != hxw {
        return Err(b.err(format!(
            "N={n}, C={c}, HxW={hxw} do not match input sizes {:?}",
            x.sizes
        )));
    }
    if c % group != 0 {
        return Err(b.err(format!("C={c} is not divisible by group={group}")));
    }
    for (t, what) in [(&weight, "weight"), (&bias, "bias")] {
        if let Some(t) = t {
            if t.sizes != [c] {
                return Err(b.err(format!("{what} sizes {:?} should be [{c}]", t.sizes)));
            }
        }
    }
    let out = b.set_output(outs[0], x.sizes.clone())?;
    let mean = b.set_output(outs[1], vec![n, group])?;
    let rstd = b.set_output(outs[2], vec![n, group])?;
    rows_norm(
        b,
        RowsNorm {
            x: &x,
            out: &out,
            stats: Some((&mean, &rstd)),
            weight: weight.as_ref(),
            bias: bias.as_ref(),
            rows: n * group,
            d: c / group * hxw,
            wrap: group,
            div: hxw,
            eps,
        },
    )
}

/// `et_vk.rms_norm(Tensor x, Tensor weight, float eps) -> Tensor`:
/// `x * rsqrt(mean(x^2, dim=-1, keepdim=True) + eps) * weight`, weight sized like x's last dim.
pub fn rms_norm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let weight = b.tensor(args[1])?;
    let eps = b.double(args[2])?;
    let Some(&d) = x.sizes.last() else {
        return Err(b.err("input must have at least one dim"));
    };
    if weight.sizes != [d] {
        return Err(b.err(format!(
            "weight sizes {:?} should be [{d}] (the input's last dim, input {:?})",
            weight.sizes, x.sizes
        )));
    }
    let out = b.set_output(args[3], x.sizes.clone())?;
    let rows = x.numel().checked_div(d).unwrap_or(0);
    rows_norm(
        b,
        RowsNorm {
            x: &x,
            out: &out,
            stats: None,
            weight: Some(&weight),
            bias: None,
            rows,
            d,
            wrap: 1,
            div: 1,
            eps,
        },
    )
}

/// `_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias,
/// Tensor running_mean, Tensor running_var, float momentum, float eps)
/// -> (Tensor, Tensor, Tensor)`; the output is one ValueList [out, save_mean, save_invstd],
/// the latter two empty ([0]) as in PyTorch.
pub fn native_batch_norm_legit_no_training(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    let weight = b.opt_tensor(args[1])?;
    let bias = b.opt_tensor(args[2])?;
    let running_mean = b.tensor(args[3])?;
    let running_var = b.tensor(args[4])?;
    b.double(args[5])?; // momentum: unused without training
    let eps = b.double(args[6])?;
    let outs = output_list(b, args[7], 3)?;

    if x.rank() < 2 {
        return Err(b.err(format!(
            "input must have at least 2 dims [N, C, ...], has sizes {:?}",
            x.sizes
        )));
    }
    let c = x.sizes[1];
    for (t, what) in [
        (weight.as_ref(), "weight"),
        (bias.as_ref(), "bias"),
        (Some(&running_mean), "running_mean"),
        (Some(&running_var), "running_var"),
    ] {
        if let Some(t) = t {
            if t.sizes != [c] {
                return Err(b.err(format!(
                    "{what} sizes {:?} should be [{c}] (input {:?})",
                    t.sizes, x.sizes
                )));
            }
        }
    }
    let out = b.set_output(outs[0], x.sizes.clone())?;
    b.set_output(outs[1], vec![0])?;
    b.set_output(outs[2], vec![0])?;
    let mut all = vec![&x, &out, &running_mean, &running_var];
    all.extend(weight.as_ref());
    all.extend(bias.as_ref());
    b.require_float(&all)?;
    check_size(b, &x)?;
    if x.numel() == 0 {
        return Ok(());
    }
    let inner: usize = x.sizes[2..].iter().product();
    let p = NormBatchParams {
        count: x.numel() as u32,
        channels: c as i32,
        inner: inner as i32,
        eps: eps as f32,
        has_weight: weight.is_some() as i32,
        has_bias: bias.is_some() as i32,
    };
    let w_id = weight.as_ref().map_or(x.id, |t| t.id);
    let b_id = bias.as_ref().map_or(x.id, |t| t.id);
    b.dispatch(
        NORM_BATCH.call(p).linear(x.numel()),
        &[out.id, x.id, running_mean.id, running_var.id, w_id, b_id],
    )
}

/// Rows per workgroup when each invocation normalizes a row.
const CPU_ROWS_GROUP: usize = 8;

/// One `norm_rows.comp` dispatch: `rows` contiguous rows of `d` elements; `stats` = (mean,
/// rstd) outputs for mean/variance normalization, None for RMS normalization; affine index of
/// element k of row r: ((r % wrap) * d + k) / div.
struct RowsNorm<'a> {
    x: &'a TensorInfo,
    out: &'a TensorInfo,
    stats: Option<(&'a TensorInfo, &'a TensorInfo)>,
    weight: Option<&'a TensorInfo>,
    bias: Option<&'a TensorInfo>,
    rows: usize,
    d: usize,
    wrap: usize,
    div: usize,
    eps: f64,
}

fn rows_norm(b: &mut OpBuilder, n: RowsNorm) -> Result<()> {
    let mut all = vec![n.x, n.out];
    if let Some((m, r)) = n.stats {
        all.extend([m, r]);
    }
    all.extend(n.weight);
    all.extend(n.bias);
    b.require_float(&all)?;
    check_size(b, n.x)?;
    if n.rows == 0 {
        return Ok(());
    }
    if n.d == 0 {
        return Err(b.unsupported(format!(
            "normalizing over zero elements (input {:?})",
            n.x.sizes
        )));
    }
    let lanes = row_lanes(b);
    let work = n
        .rows
        .checked_mul(lanes)
        .filter(|&w| w <= i32::MAX as usize)
        .ok_or_else(|| b.unsupported(format!("{} rows are too many for one dispatch", n.rows)))?;
    let p = NormRowsParams {
        count: work as u32,
        d: n.d as i32,
        eps: n.eps as f32,
        has_weight: n.weight.is_some() as i32,
        has_bias: n.bias.is_some() as i32,
        wrap: n.wrap as i32,
        div: n.div as i32,
        mode: n.stats.is_none() as i32,
    };
    // Unused bindings get a tensor of the right kind that the shader never touches.
    let (mean_id, rstd_id) = n.stats.map_or((n.out.id, n.out.id), |(m, r)| (m.id, r.id));
    let w_id = n.weight.map_or(n.x.id, |t| t.id);
    let b_id = n.bias.map_or(n.x.id, |t| t.id);
    let plain_affine = (n.wrap == 1 && n.div == 1) || (n.weight.is_none() && n.bias.is_none());
    let vec4 = n.d.is_multiple_of(4) && plain_affine;
    let spec = NormRowsSpec {
        LANES: lanes as i32,
        VEC4: vec4 as i32,
    };
    // Rows of whole vec4s through a texel buffer where the device prefers texel reads
    // (lavapipe, layer norms of 65 rows of 64: 40-75 us each from a storage buffer, 30-35
    // us from a texel buffer).
    let texel = vec4 && b.elem_of(n.x.id) == Elem::F32 && b.caps().texel_reads(n.x.numel() / 4);
    let kernel = if texel { &NORM_ROWS_TEXEL } else { &NORM_ROWS };
    let call = kernel.call(p).spec(spec);
    // One row per invocation (CPU devices): workgroups of 8, so that a few dozen rows still
    // reach every thread (lavapipe runs a workgroup on one thread; 65 rows in groups of 64
    // left one thread with 64 of them).
    let call = if lanes == 1 && work <= CPU_ROWS_GROUP * u16::MAX as usize {
        call.tiles([work, 1, 1], [CPU_ROWS_GROUP as u32, 1, 1])
    } else {
        call.linear(work)
    };
    b.dispatch(call, &[n.out.id, mean_id, rstd_id, n.x.id, w_id, b_id])
}

/// The `n` tensors of a multi-output op's ValueList output.
pub(super) fn output_list(b: &OpBuilder, id: ValueId, n: usize) -> Result<Vec<ValueId>> {
    match b.value(id)? {
        Value::ValueList(items) if items.len() == n => Ok(items.clone()),
        Value::ValueList(items) => Err(b.err(format!(
            "output list should hold {n} tensors, holds {}",
            items.len()
        ))),
        other => Err(b.err(format!(
            "output value {id} should be a list of {n} tensors, is {}",
            other.kind_name()
        ))),
    }
}

fn check_size(b: &OpBuilder, x: &TensorInfo) -> Result<()> {
    b.require_i32_indexing(&[x])?;
    Ok(())
}
