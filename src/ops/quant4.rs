//! 4-bit weight ops of the LLM path (`export_llama -qmode 4w / 8da4w`, quantized embeddings):
//! the weights stay packed two per byte on the device, exactly as the exporter wrote them
//! (`docs/quantized-ops.md`, section 3), with their scales beside them.
//! - `et_vk.linear_q4gsw`: 4-bit group-symmetric weight-only linear;
//! - `torchao.choose_qparams_affine` + `et_vk.linear_dq8ca_q4gsw`: int8 per-token activations
//!   (quantized inside the linear's kernel) times 4-bit weights;
//! - `et_vk.embedding_q4gsw`, `quantized_decomposed.embedding_4bit`: 4-bit embedding rows.

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::{OpBuilder, OpDef, TensorInfo};
use crate::kernels::packing::Packing;
use crate::kernels::quantized::{
    ChooseQparamsParams, EmbeddingQ4Params, EmbeddingQ4Spec, LinearQ4Params, LinearQ4Spec,
    CHOOSE_QPARAMS, EMBEDDING_Q4, LINEAR_DQ8CA_Q4GSW, LINEAR_Q4GSW,
};
use crate::kernels::{Elem, Layout};

use super::split::{use_split, Reads, SPLIT_LANES};

pub const OPS: &[OpDef] = &[
    OpDef::new("et_vk.linear_q4gsw.default", linear_q4gsw),
    OpDef::new("et_vk.linear_dq8ca_q4gsw.default", linear_dq8ca_q4gsw),
    OpDef::new(
        "torchao.choose_qparams_affine.default",
        choose_qparams_affine,
    ),
    OpDef::new("et_vk.embedding_q4gsw.default", embedding_q4gsw),
    OpDef::new("quantized_decomposed.embedding_4bit.dtype", embedding_4bit),
];

/// A 4-bit linear's operands, checked against each other.
struct Q4Linear {
    x: TensorInfo,
    /// `[N, Kp / 2]` packed weights, as raw bytes on the device.
    weights: ValueId,
    /// `[K / G, >= N]` scales (rows a multiple of 4 long, so 4 columns are one vec4).
    scales: TensorInfo,
    /// `[>= N]` bias padded to a multiple of 4, if any.
    bias: Option<ValueId>,
    m: usize,
    k: usize,
    n: usize,
    group: usize,
    groups: usize,
    row_words: usize,
}

impl Q4Linear {
    fn read(
        b: &mut OpBuilder,
        x: ValueId,
        (weights, scales, group, bias): (ValueId, ValueId, ValueId, ValueId),
    ) -> Result<Self> {
        let x = b.tensor(x)?;
        let w = b.tensor(weights)?;
        let scales = b.tensor(scales)?;
        let group = b.int(group)?;
        let bias = b.opt_tensor(bias)?;
        b.require_float(&[&x, &scales])?;
        if x.rank() == 0 {
            return Err(b.err("input must have at least one dimension"));
        }
        let k = *x.sizes.last().expect("rank checked");
        let m = x.numel() / k.max(1);
        if w.rank() != 2 || w.dtype != DType::Uint8 {
            return Err(b.err(format!(
                "weights must be uint8 [N, K / 2], are {:?} {:?}",
                w.dtype, w.sizes
            )));
        }
        let (n, row_bytes) = (w.sizes[0], w.sizes[1]);
        if row_bytes * 2 < k || !row_bytes.is_multiple_of(4) {
            return Err(b.unsupported(format!(
                "weights {:?} do not hold K = {k} 4-bit values per row in whole 32-bit words \
                 (the exporter pads K to a multiple of 8)",
                w.sizes
            )));
        }
        if group <= 0 {
            return Err(b.err(format!("group size {group} must be positive")));
        }
        let group = group as usize;
        let groups = k.div_ceil(group);
        if scales.rank() != 2
            || scales.sizes[0] != groups
            || scales.sizes[1] < n
            || !scales.sizes[1].is_multiple_of(4)
        {
            return Err(b.unsupported(format!(
                "scales {:?} are not [K / G = {groups}, N = {n} padded to 4]",
                scales.sizes
            )));
        }
        let Some(weights) = b.packed_constant(&w, None, Elem::U8)? else {
            return Err(b.unsupported(format!(
                "weights (value {}) must be a constant of the program",
                w.id
            )));
        };
        let bias = match bias {
            Some(t) => {
                b.require_float(&[&t])?;
                if t.numel() < n {
                    return Err(b.err(format!("bias {:?} is shorter than N = {n}", t.sizes)));
                }
                Some(padded4(b, &t)?)
            }
            None => None,
        };
        Ok(Q4Linear {
            x,
            weights,
            scales,
            bias,
            m,
            k,
            n,
            group,
            groups,
            row_words: row_bytes / 4,
        })
    }

    fn out_sizes(&self) -> Vec<usize> {
        let mut s = self.x.sizes.clone();
        *s.last_mut().expect("rank checked") = self.n;
        s
    }

    /// The dispatch shape: rows per tile, split lanes, and the grid.
    fn plan(&self, b: &OpBuilder, sums_stride: usize) -> (LinearQ4Params, LinearQ4Spec, Grid2) {
        let tm = self.m.next_power_of_two().clamp(1, 4);
        let row_blocks = self.m.div_ceil(tm);
        let n4 = self.n.div_ceil(4);
        let split = use_split(b, self.m * self.n, self.k, Reads::Contiguous);
        let lanes = if split { SPLIT_LANES } else { 1 };
        let p = LinearQ4Params {
            m: self.m as u32,
            k: self.k as u32,
            n: self.n as u32,
            group: self.group as u32,
            groups: self.groups as u32,
            row_words: self.row_words as u32,
            scale_stride: self.scales.sizes[1] as u32,
            sums_stride: sums_stride as u32,
            has_bias: self.bias.is_some() as i32,
        };
        let spec = LinearQ4Spec {
            TM: tm as i32,
            SPLIT: lanes as i32,
            ALIGNED: self.k.is_multiple_of(4) as i32,
            GROUP8: self.group.is_multiple_of(8) as i32,
        };
        let grid = if split {
            ([n4 * lanes, row_blocks, 1], [lanes as u32, 1, 1])
        } else {
            ([n4, row_blocks, 1], super::conv::local_2d(n4, row_blocks))
        };
        (p, spec, grid)
    }

    fn flops(&self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

/// Global and local sizes of a tiled dispatch.
type Grid2 = ([usize; 3], [u32; 3]);

/// A 1-D float constant padded with zeros to a multiple of 4 (already padded: itself).
fn padded4(b: &mut OpBuilder, t: &TensorInfo) -> Result<ValueId> {
    if t.numel().is_multiple_of(4) {
        return Ok(t.id);
    }
    let padded = b.packed_constant(t, Some(Packing::Pad4 { n: t.numel() }), Elem::F32)?;
    padded.ok_or_else(|| {
        b.unsupported(format!(
            "bias (value {}) of {} elements must be a constant or a multiple of 4 long",
            t.id,
            t.numel()
        ))
    })
}

/// `et_vk.linear_q4gsw(x [..., K], weights uint8 [N, Kp / 2], scales [K / G, N4], int
/// group_size, bias? [N4]) -> [..., N]`.
pub fn linear_q4gsw(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let q = Q4Linear::read(b, args[0], (args[1], args[2], args[3], args[4]))?;
    let out = b.set_output_as(args[5], q.out_sizes(), Layout::Contiguous, Elem::F32)?;
    if out.numel() == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out, &q.x])?;
    let (p, spec, (global, local)) = q.plan(b, 0);
    // No bias: bind the scales again (never read).
    let bias = q.bias.unwrap_or(q.scales.id);
    let call = LINEAR_Q4GSW
        .call(p)
        .spec(spec)
        .tiles(global, local)
        .flops(q.flops());
    b.dispatch(call, &[out.id, q.x.id, q.weights, q.scales.id, bias])
}

/// `et_vk.linear_dq8ca_q4gsw(x [..., K], input_scales [..., M], input_zp int8 [..., M],
/// weights uint8 [N, Kp / 2], weight_sums int32 [K / G, N8], weight_scales [K / G, N4], int
/// group_size, bias? [N4]) -> [..., N]`.
pub fn linear_dq8ca_q4gsw(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 9)?;
    let q = Q4Linear::read(b, args[0], (args[3], args[5], args[6], args[7]))?;
    let x_scale = b.tensor(args[1])?;
    let x_zero = b.tensor(args[2])?;
    let sums = b.tensor(args[4])?;
    b.require_float(&[&x_scale])?;
    if x_scale.numel() != q.m || x_zero.numel() != q.m || x_zero.is_float() {
        return Err(b.err(format!(
            "per-row input qparams {:?} / {:?} {:?} do not match {} rows of x {:?}",
            x_scale.sizes, x_zero.dtype, x_zero.sizes, q.m, q.x.sizes
        )));
    }
    if sums.rank() != 2 || sums.sizes[0] != q.groups || sums.sizes[1] < q.n.div_ceil(4) * 4 {
        return Err(b.unsupported(format!(
            "weight sums {:?} are not [K / G = {}, N = {} padded to 8]",
            sums.sizes, q.groups, q.n
        )));
    }
    if sums.is_float() {
        return Err(b.err(format!(
            "weight sums must be integers, are {:?}",
            sums.dtype
        )));
    }
    let out = b.set_output_as(args[8], q.out_sizes(), Layout::Contiguous, Elem::F32)?;
    if out.numel() == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out, &q.x])?;
    let (p, spec, (global, local)) = q.plan(b, sums.sizes[1]);
    let bias = q.bias.unwrap_or(q.scales.id);
    let call = LINEAR_DQ8CA_Q4GSW
        .call(p)
        .spec(spec)
        .tiles(global, local)
        .flops(q.flops());
    let tensors = [
        out.id,
        q.x.id,
        x_scale.id,
        x_zero.id,
        q.weights,
        sums.id,
        q.scales.id,
        bias,
    ];
    b.dispatch(call, &tensors)
}

/// `torchao.choose_qparams_affine(input, mapping_type, block_size, target_dtype, quant_min,
/// quant_max, eps, scale_dtype, zero_point_dtype, keepdim) -> (scale, zero_point)`,
/// asymmetric, over blocks along the last dim (8da4w's per-token form is `[1, ..., 1, K]`).
pub fn choose_qparams_affine(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 11)?;
    let x = b.tensor(args[0])?;
    b.require_float(&[&x])?;
    match b.value(args[1])? {
        Value::String(s) if s == "ASYMMETRIC" => {}
        Value::String(s) => {
            return Err(b.unsupported(format!("mapping type {s} (only ASYMMETRIC)")));
        }
        other => {
            return Err(b.err(format!(
                "mapping type must be a string, is {}",
                other.kind_name()
            )))
        }
    }
    let block = b.int_list(args[2])?;
    // Blocks of B consecutive elements of the last dim (B dividing it): each is one "row" of
    // the kernel, and the qparams are shaped [..., K / B] (the reduced dim dropped when B = K
    // unless keepdim), as torchao's reduction shapes them.
    let k = x.sizes.last().copied().unwrap_or(0);
    let bk = block.last().copied().unwrap_or(0);
    let contiguous_blocks = block.len() == x.rank()
        && x.rank() > 0
        && block[..x.rank() - 1].iter().all(|&v| v == 1)
        && bk > 0
        && (bk as usize) <= k.max(1)
        && k.is_multiple_of(bk as usize);
    if !contiguous_blocks {
        return Err(b.unsupported(format!(
            "block size {block:?} for input {:?} (only blocks along the last dim)",
            x.sizes
        )));
    }
    let bk = bk as usize;
    let qmin = b.int(args[4])?;
    let qmax = b.int(args[5])?;
    if !(i32::MIN as i64..=i32::MAX as i64).contains(&qmin) || qmin >= qmax {
        return Err(b.err(format!("quant range [{qmin}, {qmax}] is empty")));
    }
    // eps None: the smallest normal f32 (torch.finfo(float32).eps is not what torchao uses).
    let eps = b.opt_double(args[6])?.unwrap_or(f32::MIN_POSITIVE as f64);
    let rows = x.numel() / bk;
    let outs = super::norm::output_list(b, args[10], 2)?;
    let mut out_sizes = x.sizes[..x.rank() - 1].to_vec();
    if bk != k {
        out_sizes.push(k / bk);
    } else if b.bool(args[9])? {
        out_sizes.push(1);
    }
    let scale = b.set_output(outs[0], out_sizes.clone())?;
    let zero = b.set_output(outs[1], out_sizes)?;
    if !scale.is_float() || zero.is_float() {
        return Err(b.err(format!(
            "outputs must be a float scale and an integer zero point, are {:?} / {:?}",
            scale.dtype, zero.dtype
        )));
    }
    if rows == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&x])?;
    let p = ChooseQparamsParams {
        rows: rows as u32,
        k: bk as u32,
        qmin: qmin as i32,
        qmax: qmax as i32,
        eps: eps as f32,
    };
    let work = rows
        .checked_mul(64)
        .filter(|&w| w <= i32::MAX as usize)
        .ok_or_else(|| b.unsupported(format!("{rows} rows are too many for one dispatch")))?;
    b.dispatch(
        CHOOSE_QPARAMS.call(p).linear(work),
        &[scale.id, zero.id, x.id],
    )
}

/// `et_vk.embedding_q4gsw(weight uint8 [V, D / 2], weight_scales [V, D / G], int group_size,
/// indices, bool is_linear_weight) -> indices.shape + [D]`.
pub fn embedding_q4gsw(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let group = b.int(args[2])?;
    // is_linear_weight: the linear packing (low nibble = even column); else high first.
    let high_first = !b.bool(args[4])?;
    embedding(
        b,
        (args[0], args[1], args[3], args[5]),
        Some(group),
        high_first,
    )
}

/// `quantized_decomposed.embedding_4bit.dtype(weight uint8 [V, D / 2], weight_scales [V,
/// groups] or [V], weight_zero_points?, quant_min, quant_max, indices, dtype?)`: high nibble =
/// even column, symmetric (no zero points).
pub fn embedding_4bit(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    if !b.is_null(args[2]) {
        return Err(b.unsupported("4-bit embeddings with zero points"));
    }
    let (qmin, qmax) = (b.int(args[3])?, b.int(args[4])?);
    if (qmin, qmax) != (-8, 7) {
        return Err(b.unsupported(format!("quant range [{qmin}, {qmax}] (only [-8, 7])")));
    }
    embedding(b, (args[0], args[1], args[5], args[7]), None, true)
}

/// Rows of a 4-bit embedding table: `out[i][d] = (nibble - 8) * scale[idx][d / G]`, with G
/// given or derived from the scales' shape.
fn embedding(
    b: &mut OpBuilder,
    (weight, scales, indices, out): (ValueId, ValueId, ValueId, ValueId),
    group: Option<i64>,
    high_first: bool,
) -> Result<()> {
    let w = b.tensor(weight)?;
    let scales = b.tensor(scales)?;
    let idx = b.tensor(indices)?;
    b.require_float(&[&scales])?;
    if w.rank() != 2 || w.dtype != DType::Uint8 {
        return Err(b.err(format!(
            "weight must be uint8 [V, D / 2], is {:?} {:?}",
            w.dtype, w.sizes
        )));
    }
    if !matches!(idx.dtype, DType::Int32 | DType::Int64) {
        return Err(b.err(format!("indices must be integers, are {:?}", idx.dtype)));
    }
    let (vocab, dim) = (w.sizes[0], w.sizes[1] * 2);
    let groups = if scales.rank() == 1 {
        1
    } else {
        scales.sizes[1]
    };
    if scales.rank() > 2 || scales.sizes.first() != Some(&vocab) || groups == 0 {
        return Err(b.err(format!(
            "scales {:?} are not [V = {vocab}, groups]",
            scales.sizes
        )));
    }
    let group = match group {
        Some(g) if g > 0 => g as usize,
        Some(g) => return Err(b.err(format!("group size {g} must be positive"))),
        None => dim / groups,
    };
    if group == 0 || dim.div_ceil(group) != groups {
        return Err(b.err(format!(
            "{groups} scale groups per row do not cover D = {dim} in groups of {group}"
        )));
    }
    let Some(weights) = b.packed_constant(&w, None, Elem::U8)? else {
        return Err(b.unsupported(format!(
            "weight (value {}) must be a constant of the program",
            w.id
        )));
    };
    let mut sizes = idx.sizes.clone();
    sizes.push(dim);
    let out = b.set_output_as(out, sizes, Layout::Contiguous, Elem::F32)?;
    let count = idx.numel() * dim / 2;
    if count == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out])?;
    let p = EmbeddingQ4Params {
        count: count as u32,
        vocab: vocab as u32,
        dim: dim as u32,
        group: group as u32,
        groups: groups as u32,
    };
    let spec = EmbeddingQ4Spec {
        HIGH_FIRST: high_first as i32,
    };
    let call = EMBEDDING_Q4.call(p).spec(spec).linear(count);
    b.dispatch(call, &[out.id, weights, scales.id, idx.id])
}
