//! Attention written out op by op, as exporters of ViT and encoder blocks leave it:
//! `bmm(softmax(bmm(q, k^T) * scale, -1), v)`, with k^T a transpose the first product reads
//! in place. The last `bmm` takes the earlier ops over (their dispatches are left out, and the
//! `[batch, lq, lk]` scores are never stored) and computes the whole chain in one dispatch of
//! `shaders/attn_rows.comp`, one invocation per query row. A permute that then puts each
//! row's heads side by side (before the output projection) is stored by that dispatch too.
//!
//! Taken only where each intermediate has no other reader, everything is contiguous f32, and
//! the head dims are whole vec4s of at most [`MAX_HEAD_DIM`] (the row lives in registers);
//! otherwise the ops run one by one.

use crate::error::Result;
use crate::format::{DType, ValueId};
use crate::graph::{OpBuilder, Piece, Scale, TensorInfo};
use crate::kernels::attention::{AttnRowsParams, AttnRowsSpec, ATTN_ROWS, ATTN_ROWS_TEXEL};
use crate::kernels::{Elem, Layout, Params};

/// Query rows per workgroup: 32 wastes less of the last group of short sequences (65 tokens)
/// than 64.
const ROWS_PER_GROUP: u32 = 32;

/// The largest head dim (of q/k and of v) kept in registers.
pub const MAX_HEAD_DIM: usize = 64;

/// The pieces behind `p` (the attention weights `[batch, lq, lk]` that `bmm(p, v)` reads),
/// when each was offered and may be taken: the scores with the scale between them and the
/// softmax, and the values to take the pieces at (softmax output, scaled scores if any,
/// scores).
struct Chain {
    scores: Piece,
    scale: Option<Scale>,
    taken: Vec<ValueId>,
}

fn chain(b: &OpBuilder, p: ValueId) -> Option<Chain> {
    // Each piece read its input as it is (no conversion in between).
    let Piece::Softmax { x } = b.piece(p)? else {
        return None;
    };
    let mut taken = vec![p, x];
    let (scores, scale) = match b.piece(x)? {
        Piece::Scaled { x: s, scale } => {
            taken.push(s);
            (b.piece(s)?, Some(scale))
        }
        scores => (scores, None),
    };
    if !taken[1..].iter().all(|&t| plain_f32(b, t)) {
        return None;
    }
    matches!(scores, Piece::Scores { .. }).then_some(Chain {
        scores,
        scale,
        taken,
    })
}

/// Contiguous f32 storage (what `attn_rows.comp` reads and writes).
fn plain_f32(b: &OpBuilder, id: ValueId) -> bool {
    b.layout_of(id) == Layout::Contiguous && b.elem_of(id) == Elem::F32
}

/// `bmm(p, v) -> out` as one attention dispatch when `p` is the end of an attention chain
/// that may be taken over; `false` (nothing recorded) otherwise.
pub fn fuse(b: &mut OpBuilder, p: &TensorInfo, v: &TensorInfo, out_id: ValueId) -> Result<bool> {
    let Some(chain) = chain(b, p.id) else {
        return Ok(false);
    };
    let Piece::Scores {
        q,
        k,
        batch,
        lq,
        lk,
        d,
    } = chain.scores
    else {
        return Ok(false);
    };
    let dv = v.sizes[2];
    let fits = p.sizes == [batch, lq, lk]
        && v.sizes[..2] == [batch, lk]
        && d.is_multiple_of(4)
        && dv.is_multiple_of(4)
        && (1..=MAX_HEAD_DIM).contains(&d)
        && (1..=MAX_HEAD_DIM).contains(&dv)
        && b.tensor(out_id)?.dtype == DType::Float32
        && batch * lq > 0
        && batch <= u16::MAX as usize
        && lk > 0
        && u32::try_from(batch * lq * lk.max(d).max(dv)).is_ok();
    // q and k are read when the chain ends instead of when it starts: nothing may write them
    // in between (the same condition as sharing a view's memory).
    let (p_q, k_t) = (b.tensor(q)?, b.tensor(k)?);
    let settled = b.may_alias(&p_q) && b.may_alias(&k_t);
    let (scale, scale_id) = match chain.scale {
        None => (1.0, None),
        Some(Scale::Value(s)) => (s, None),
        Some(Scale::Tensor(s)) => (1.0, Some(s)),
    };
    let plain = [q, k, v.id]
        .into_iter()
        .chain(scale_id)
        .all(|t| plain_f32(b, t));
    if !fits || !settled || !plain {
        return Ok(false);
    }
    for &x in &chain.taken {
        b.take_piece(x);
    }
    let out = b.set_output_as(out_id, vec![batch, lq, dv], Layout::Contiguous, Elem::F32)?;
    let (d4, dv4) = ((d / 4) as u32, (dv / 4) as u32);
    let (lq, lk) = (lq as u32, lk as u32);
    let params = AttnRowsParams {
        lq,
        lk,
        heads: batch as u32,
        scale,
        q_head: lq * d4,
        q_row: d4,
        k_head: lk * d4,
        k_row: d4,
        v_head: lk * dv4,
        v_row: dv4,
        o_head: lq * dv4,
        o_row: dv4,
        ..Default::default()
    };
    let spec = AttnRowsSpec {
        D4: d4 as i32,
        DV4: dv4 as i32,
        SCALE_TENSOR: scale_id.is_some() as i32,
    };
    // Two dot products per score (max pass, sum pass) and one multiply-add per value.
    let flops = 2 * (batch as u64) * (lq as u64) * (lk as u64) * (2 * d as u64 + dv as u64);
    // Rows along x, batch entries along y (one per workgroup row: see the shader).
    let texels = [&p_q, &k_t, v]
        .iter()
        .map(|t| t.numel() / 4)
        .max()
        .unwrap_or(0);
    let kernel = if b.caps().texel_reads(texels) {
        &ATTN_ROWS_TEXEL
    } else {
        &ATTN_ROWS
    };
    let call = (kernel.call(params).spec(spec).flops(flops))
        .tiles([lq as usize, batch, 1], [ROWS_PER_GROUP, 1, 1]);
    // Without a scale tensor, bind q again in its slot (never read).
    b.dispatch(call, &[out.id, q, k, v.id, scale_id.unwrap_or(q)])?;
    let heads = batch;
    b.offer_piece(
        out.id,
        Piece::Attention {
            params,
            heads,
            lq: lq as usize,
            dv,
        },
    );
    Ok(true)
}

/// `permute(x, perm) -> out` when `x` is an attention's `[heads, lq, dv]` output (with a
/// leading 1: `[1, heads, lq, dv]`) and the permute swaps its heads and rows (attention
/// before the output projection): the attention dispatch stores each row's heads side by
/// side in `out` instead, and no copy runs. `false` (nothing recorded) otherwise.
pub fn store_permuted(
    b: &mut OpBuilder,
    x: &TensorInfo,
    perm: &[usize],
    out_id: ValueId,
) -> Result<bool> {
    let Some(Piece::Attention {
        mut params,
        heads,
        lq,
        dv,
    }) = b.piece(x.id)
    else {
        return Ok(false);
    };
    let swaps = match x.rank() {
        3 => perm == [1, 0, 2],
        4 => x.sizes[0] == 1 && perm == [0, 2, 1, 3],
        _ => false,
    };
    let rank = x.rank();
    if !swaps || x.sizes[rank - 3..] != [heads, lq, dv] || b.tensor(out_id)?.dtype != DType::Float32
    {
        return Ok(false);
    }
    let out_sizes: Vec<usize> = perm.iter().map(|&d| x.sizes[d]).collect();
    let out = b.set_output_as(out_id, out_sizes, Layout::Contiguous, Elem::F32)?;
    // Row i, head h at (i * heads + h) * dv.
    let dv4 = (dv / 4) as u32;
    params.o_head = dv4;
    params.o_row = heads as u32 * dv4;
    Ok(b.retarget_piece(x.id, out.id, params.words()))
}
