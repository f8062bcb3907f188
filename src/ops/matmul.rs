//! Matrix products: `mm`, `bmm`, `addmm`, `linear`. All lower to one kernel
//! (`shaders/gemm.glsl`, register tiles of up to 4 x 4 outputs):
//! out[b,m,n] = beta * bias(m,n) + alpha * sum_k A[b,m,k] * B(k,n), where B is stored either
//! [K,N] or transposed [N,K] (linear's weight) and the bias is optional and broadcast to [M,N].

use crate::error::Result;
use crate::format::DType;
use crate::format::ValueId;
use crate::gpu::DeviceKind;
use crate::graph::OpDef;
use crate::graph::{OpBuilder, Piece, TensorInfo};
use crate::kernels::matmul::{GemmParams, GemmSpec, GEMM, GEMM_TEXEL_W16};
use crate::kernels::{Elem, Layout};

use super::binary::broadcast_strides;

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.mm.default", mm),
    OpDef::new("aten.bmm.default", bmm),
    OpDef::new("aten.addmm.default", addmm),
    OpDef::new("aten.linear.default", linear),
];

/// One matmul dispatch, in the shader's terms.
struct Plan {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    /// A's elements per batch entry (0 when A is shared by every batch).
    a_batch_stride: usize,
    b_batch_stride: usize,
    /// Elements between rows of A (along m) and of B as stored; None: contiguous (k, and k or
    /// n).
    strides: Option<RowStrides>,
    /// B stored [N,K] instead of [K,N].
    b_transposed: bool,
    alpha: f64,
    /// (bias tensor, beta, stride along m, stride along n).
    bias: Option<(TensorInfo, f64, usize, usize)>,
}

/// Row strides of operands read in place from wider tensors.
#[derive(Clone, Copy, Debug)]
struct RowStrides {
    a: usize,
    b: usize,
}

fn record(
    b: &mut OpBuilder,
    plan: Plan,
    a: &TensorInfo,
    mat: &TensorInfo,
    out_id: ValueId,
    out_sizes: Vec<usize>,
) -> Result<()> {
    // FLOAT16 outputs are stored as f16 where the device can (decided from the dtype alone,
    // so a resize to other sizes keeps it).
    let dtype = b.tensor(out_id)?.dtype;
    let half = b.stores_f16(dtype);
    let elem = if half { Elem::F16 } else { Elem::F32 };
    let out = b.set_output_as(out_id, out_sizes, Layout::Contiguous, elem)?;
    b.require_float(&[a, mat, &out])?;
    if let Some((bias, ..)) = &plan.bias {
        b.require_float(&[bias])?;
    }
    let numel = plan.batch * plan.m * plan.n;
    if numel == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out, a, mat])?;
    let (bias_id, has_bias, beta, sm, sn) = match &plan.bias {
        Some((t, beta, sm, sn)) => (t.id, 1, *beta, *sm, *sn),
        // No bias: bind the weights again (never read).
        None => (mat.id, 0, 0.0, 0, 0),
    };
    let (m, k, n) = (plan.m, plan.k, plan.n);
    // Whole vec4s of each operand whose rows and batches start on one (batch strides matter
    // only with batches); gathered scalars for the others. Bits: 1 A, 2 B, 4 the output.
    let batched = |stride: usize| plan.batch == 1 || stride.is_multiple_of(4);
    let b_row = if plan.b_transposed { k } else { n };
    let rows = plan.strides.unwrap_or(RowStrides { a: k, b: b_row });
    let align_bits =
        (k.is_multiple_of(4) && rows.a.is_multiple_of(4) && batched(plan.a_batch_stride)) as i32
            | ((b_row.is_multiple_of(4) && rows.b.is_multiple_of(4) && batched(plan.b_batch_stride))
                as i32)
                << 1
            | (n.is_multiple_of(4) as i32) << 2;
    let aligned = align_bits == 7;
    let n4 = n.div_ceil(4);
    let k4 = k.div_ceil(4);
    let split = match super::split::forced() {
        Some(always) => always && k4 > 1,
        None => {
            let tm = rows_per_invocation(b, m, n4 * plan.batch);
            let tiles = n4 * m.div_ceil(tm) * plan.batch;
            b.caps().kind != DeviceKind::Cpu && tiles < 4096 && k4 >= 32
        }
    };
    // Column blocks per invocation: 2 on CPU devices (each A texel then serves 8 columns:
    // llvmpipe loads per lane), 1 on GPUs and with split lanes.
    let tn = if !split && b.caps().kind == DeviceKind::Cpu && n4 >= 4 {
        2
    } else {
        1
    };
    let column_groups = n4.div_ceil(tn);
    let tm = rows_per_invocation(b, m, column_groups * plan.batch);
    let row_blocks = m.div_ceil(tm);
    let lanes = if split { GEMM_SPLIT_LANES } else { 1 };
    let p = GemmParams {
        m: m as u32,
        k: k as u32,
        n: n as u32,
        a_batch_stride: plan.a_batch_stride as u32,
        b_batch_stride: plan.b_batch_stride as u32,
        a_row_stride: rows.a as u32,
        b_row_stride: rows.b as u32,
        has_bias,
        alpha: plan.alpha as f32,
        beta: beta as f32,
        bias_sm: sm as u32,
        bias_sn: sn as u32,
    };
    let spec = GemmSpec {
        TM: tm as i32,
        B_TRANSPOSED: plan.b_transposed as i32,
        SPLIT: lanes as i32,
        ALIGNED: align_bits,
        ACT: 0,
        RESIDUAL: 0,
        TN: tn as i32,
    };
    let (global, local) = if split {
        ([n4 * lanes, row_blocks, plan.batch], [lanes as u32, 1, 1])
    } else {
        (
            [column_groups, row_blocks, plan.batch],
            super::conv::local_2d(column_groups, row_blocks),
        )
    };
    // Texel views read whole texels: aligned shapes only.
    let texels = (a.numel() / 4).max(mat.numel() / 4);
    let texel = aligned && b.caps().texel_reads(texels);
    let as_f16 = |b: &mut OpBuilder, id: ValueId| -> Result<ValueId> {
        let t = b.tensor(id)?;
        Ok(b.packed_constant(&t, None, Elem::F16)?.unwrap_or(id))
    };
    // An f16 output keeps constant weights and bias in f16 too. On CPU devices constant
    // weights (and bias) read through texel views are f16 with f32 activations
    // (Caps::f16_activations).
    let w16 = dtype == DType::Float16
        && b.caps().f16_weights_only(texel)
        && b.is_constant(mat.id)
        && (has_bias == 0 || b.is_constant(bias_id));
    let (mat_id, bias_id) = if half || w16 {
        let mat_id = as_f16(b, mat.id)?;
        let bias_id = if has_bias != 0 {
            as_f16(b, bias_id)?
        } else {
            mat_id
        };
        (mat_id, bias_id)
    } else {
        (mat.id, bias_id)
    };
    let kernel = if w16 {
        &GEMM_TEXEL_W16
    } else {
        GEMM.pick(texel, half)
    };
    let flops = 2 * (plan.batch * m * n * k) as u64;
    let call = kernel.call(p).spec(spec).tiles(global, local).flops(flops);
    // No residual: bind A again in its slot (never read).
    b.dispatch(call, &[out.id, a.id, mat_id, bias_id, a.id])?;
    // An activation that only reads the product may be applied as it is stored.
    b.offer_piece(out.id, Piece::Product);
    Ok(())
}

/// `act(x) -> out` for the unary op of `unary.comp`'s code `code` (a parameterless
/// activation), applied by the product that wrote `x` as it stores (its `ACT`) when the
/// activation is the product's only reader: the product writes `out`, and the activation
/// records nothing. `false` (nothing recorded) otherwise.
pub fn store_activated(
    b: &mut OpBuilder,
    x: &TensorInfo,
    out_id: ValueId,
    code: i32,
) -> Result<bool> {
    if b.piece(x.id) != Some(Piece::Product) || b.tensor(out_id)?.dtype != x.dtype {
        return Ok(false);
    }
    let out = b.set_output_as(out_id, x.sizes.clone(), Layout::Contiguous, b.elem_of(x.id))?;
    Ok(b.retarget_piece(x.id, out.id, |d| {
        match (d.spec_word("ACT"), d.spec_word("RESIDUAL")) {
            // One epilogue at a time: the order of the two is then the graph's.
            (Some(at), Some(res)) if d.spec[at] == 0 && d.spec[res] == 0 => {
                d.spec[at] = (code + 1) as u32;
                true
            }
            _ => false,
        }
    }))
}

/// `x + residual -> out` (or `residual + x`; alpha 1) added by the product that wrote `x` as
/// it stores, when the add is the product's only reader and `residual` (the same shape and
/// storage) holds its final values when the product runs: nothing writes it after the
/// product's dispatch. The product writes `out`, and the add records nothing. `false`
/// (nothing recorded) otherwise.
pub fn store_with_residual(
    b: &mut OpBuilder,
    x: &TensorInfo,
    residual: &TensorInfo,
    out_id: ValueId,
) -> Result<bool> {
    let same = residual.sizes == x.sizes
        && residual.dtype == x.dtype
        && b.tensor(out_id)?.dtype == x.dtype
        && b.layout_of(residual.id) == Layout::Contiguous
        && b.elem_of(residual.id) == b.elem_of(x.id);
    if !same || b.piece(x.id) != Some(Piece::Product) {
        return Ok(false);
    }
    let Some(since) = b.piece_dispatch(x.id) else {
        return Ok(false);
    };
    if b.written_since(residual.id, since) {
        return Ok(false);
    }
    let out = b.set_output_as(out_id, x.sizes.clone(), Layout::Contiguous, b.elem_of(x.id))?;
    let sizes = residual.sizes.clone();
    Ok(b.retarget_piece(x.id, out.id, |d| {
        match (d.spec_word("ACT"), d.spec_word("RESIDUAL")) {
            (Some(at), Some(res))
                if d.spec[at] == 0 && d.spec[res] == 0 && d.tensors.len() == 5 =>
            {
                d.spec[res] = 1;
                d.tensors[4] = residual.id;
                d.shapes[4] = sizes;
                true
            }
            _ => false,
        }
    }))
}

/// Rows of A per invocation (`TM`): up to 4 on GPUs. On CPU devices up to 16 while at least
/// CPU_MIN_INVOCATIONS remain: each B texel loaded then serves 16 rows (lavapipe, the
/// transformer's 32 matmuls with M = 128: 64 -> 47 ms; 32 rows was twice as slow, and fewer
/// invocations than that left cores idle). `columns`: invocations per row block.
fn rows_per_invocation(b: &OpBuilder, m: usize, columns: usize) -> usize {
    const CPU_MIN_INVOCATIONS: usize = 512;
    let most = if b.caps().kind == DeviceKind::Cpu {
        [16, 8]
            .into_iter()
            .find(|&tm| m >= 4 * tm && columns * m.div_ceil(tm) >= CPU_MIN_INVOCATIONS)
            .unwrap_or(4)
    } else {
        4
    };
    m.next_power_of_two().min(most)
}

/// Lanes that split one tile's K in `gemm.comp` (GPUs, few tiles).
const GEMM_SPLIT_LANES: usize = 64;

/// `mm(self [M,K], mat2 [K,N]) -> [M,N]`.
pub fn mm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let a = b.tensor(args[0])?;
    let mat = b.tensor(args[1])?;
    let (m, k, n) = mm_dims(b, &a, &mat)?;
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        strides: None,
        b_transposed: false,
        alpha: 1.0,
        bias: None,
    };
    record(b, plan, &a, &mat, args[2], vec![m, n])
}

fn mm_dims(b: &OpBuilder, a: &TensorInfo, mat: &TensorInfo) -> Result<(usize, usize, usize)> {
    if a.rank() != 2 || mat.rank() != 2 {
        return Err(b.err(format!(
            "expects 2-D matrices, got {:?} and {:?}",
            a.sizes, mat.sizes
        )));
    }
    if a.sizes[1] != mat.sizes[0] {
        return Err(b.err(format!(
            "inner dimensions differ: {:?} @ {:?}",
            a.sizes, mat.sizes
        )));
    }
    Ok((a.sizes[0], a.sizes[1], mat.sizes[1]))
}

/// `bmm(self [B,M,K], mat2 [B,K,N]) -> [B,M,N]`.
pub fn bmm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let a = b.tensor(args[0])?;
    let mat = b.tensor(args[1])?;
    if a.rank() != 3 || mat.rank() != 3 {
        return Err(b.err(format!(
            "expects 3-D batches of matrices, got {:?} and {:?}",
            a.sizes, mat.sizes
        )));
    }
    if a.sizes[0] != mat.sizes[0] || a.sizes[2] != mat.sizes[1] {
        return Err(b.err(format!(
            "batch or inner dimensions differ: {:?} @ {:?}",
            a.sizes, mat.sizes
        )));
    }
    let (batch, m, k, n) = (a.sizes[0], a.sizes[1], a.sizes[2], mat.sizes[2]);
    // The end of attention written out op by op: one dispatch for the whole chain.
    if super::attention_chain::fuse(b, &a, &mat, args[2])? {
        return Ok(());
    }
    // Operands that a permute copied from a contiguous tensor (attention's q, k^T and v,
    // split into heads out of their projections) are read there in place, and the permutes
    // are left out: A with the k of a row contiguous, B with its k (read transposed) or its n
    // contiguous.
    let a_read = b
        .permuted_read(a.id, [batch, m, k])
        .filter(|r| r.strides[2] == 1);
    let b_read = b
        .permuted_read(mat.id, [batch, k, n])
        .filter(|r| r.strides[1] == 1 || r.strides[2] == 1);
    let b_transposed = b_read.is_some_and(|r| r.strides[1] == 1);
    if a_read.is_some() {
        b.take_piece(a.id);
    }
    if b_read.is_some() {
        b.take_piece(mat.id);
    }
    let a_src = match a_read {
        Some(r) => b.tensor(r.src)?,
        None => a.clone(),
    };
    let b_src = match b_read {
        Some(r) => b.tensor(r.src)?,
        None => mat.clone(),
    };
    // Per batch entry and row, in elements of what is bound.
    let a_strides = a_read.map_or([m * k, k], |r| [r.strides[0], r.strides[1]]);
    let b_strides = match b_read {
        Some(r) if b_transposed => [r.strides[0], r.strides[2]],
        Some(r) => [r.strides[0], r.strides[1]],
        None => [k * n, n],
    };
    let plan = Plan {
        batch,
        m,
        k,
        n,
        a_batch_stride: a_strides[0],
        b_batch_stride: b_strides[0],
        strides: Some(RowStrides {
            a: a_strides[1],
            b: b_strides[1],
        }),
        b_transposed,
        alpha: 1.0,
        bias: None,
    };
    record(b, plan, &a_src, &b_src, args[2], vec![batch, m, n])?;
    // Attention's scores (k read in place), which a later product may take over.
    if b_transposed {
        let piece = Piece::Scores {
            q: (a_src.id, a_strides),
            k: (b_src.id, b_strides),
            batch,
            lq: m,
            lk: n,
            d: k,
        };
        b.offer_piece(args[2], piece);
    }
    Ok(())
}

/// Strides (along m, along n) reading `bias` broadcast to [M,N], or an error naming the shapes.
fn bias_strides(b: &OpBuilder, bias: &TensorInfo, m: usize, n: usize) -> Result<(usize, usize)> {
    let ok = bias.rank() <= 2
        && bias
            .sizes
            .iter()
            .rev()
            .zip([n, m])
            .all(|(&s, want)| s == 1 || s == want);
    if !ok {
        return Err(b.err(format!(
            "bias {:?} does not broadcast to [{m}, {n}]",
            bias.sizes
        )));
    }
    let s = broadcast_strides(&bias.sizes, 2);
    Ok((s[0], s[1]))
}

/// `addmm(self, mat1 [M,K], mat2 [K,N], *, beta=1, alpha=1) -> beta*self + alpha*(mat1 @ mat2)`.
pub fn addmm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let bias = b.tensor(args[0])?;
    let a = b.tensor(args[1])?;
    let mat = b.tensor(args[2])?;
    let beta = b.double(args[3])?;
    let alpha = b.double(args[4])?;
    let (m, k, n) = mm_dims(b, &a, &mat)?;
    let (sm, sn) = bias_strides(b, &bias, m, n)?;
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        strides: None,
        b_transposed: false,
        alpha,
        // PyTorch ignores `self` entirely (even NaNs) when beta == 0.
        bias: (beta != 0.0).then_some((bias, beta, sm, sn)),
    };
    record(b, plan, &a, &mat, args[5], vec![m, n])
}

/// `linear(input [..., K], weight [N,K], bias? [N]) -> [..., N]`.
pub fn linear(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let w = b.tensor(args[1])?;
    let bias = b.opt_tensor(args[2])?;
    if x.rank() == 0 {
        return Err(b.err("input must have at least one dimension"));
    }
    if w.rank() != 2 {
        return Err(b.err(format!("weight must be 2-D [N, K], got {:?}", w.sizes)));
    }
    let k = *x.sizes.last().expect("rank checked");
    let n = w.sizes[0];
    if w.sizes[1] != k {
        return Err(b.err(format!(
            "input {:?} has {k} features but weight {:?} expects {}",
            x.sizes, w.sizes, w.sizes[1]
        )));
    }
    let m: usize = x.sizes[..x.rank() - 1].iter().product();
    let bias = match bias {
        Some(t) => {
            if t.rank() > 1 {
                return Err(b.unsupported(format!("bias must be 1-D [N], got {:?}", t.sizes)));
            }
            let (sm, sn) = bias_strides(b, &t, m, n)?;
            Some((t, 1.0, sm, sn))
        }
        None => None,
    };
    let mut out_sizes = x.sizes[..x.rank() - 1].to_vec();
    out_sizes.push(n);
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        strides: None,
        b_transposed: true,
        alpha: 1.0,
        bias,
    };
    record(b, plan, &x, &w, args[3], out_sizes)
}
