//! Attention written out op by op, as exporters of ViT and encoder blocks leave it:
//! `bmm(softmax(bmm(q, k^T) * scale, -1), v)`, with k^T a permute the first product reads
//! in place (q and v too when permutes split them into heads out of their projections). The
//! last `bmm` takes the earlier ops over (their dispatches are left out, and the
//! `[batch, lq, lk]` scores are never stored) and computes the whole chain in one dispatch of
//! `shaders/attn_rows.comp` (a team of invocations per query row on GPUs, 4 rows per
//! invocation on CPU devices). A permute that then puts each
//! row's heads side by side (before the output projection) is stored by that dispatch too.
//!
//! Taken only where each intermediate has no other reader, everything is contiguous f32, and
//! the head dims are whole vec4s of at most [`MAX_HEAD_DIM`] (the row lives in registers);
//! otherwise the ops run one by one.

use crate::error::Result;
use crate::format::{DType, ValueId};
use crate::graph::{contiguous_strides, OpBuilder, Piece, Scale, TensorInfo};
use crate::kernels::attention::{AttnRowsParams, AttnRowsSpec, ATTN_ROWS, ATTN_ROWS_TEXEL};
use crate::kernels::{Elem, Layout, Params};
use crate::ops::split;

/// Query rows per workgroup: 32 wastes less of the last group of short sequences (65 tokens)
/// than 64.
const ROWS_PER_GROUP: u32 = 32;

/// Invocations per query row on GPUs (a power of two dividing 64).
const ROW_LANES: u32 = 16;

/// Query rows per invocation on CPU devices (sequences of at least as many rows), which
/// share each key and value gather. lavapipe, the attentions' summed time per execute: ViT
/// (65 rows, head dim 16) 0.59-0.83 ms with 1 row, 0.39-0.52 with 4, 0.47-0.73 with 8; the
/// transformer (128 rows, head dim 64) 11.6-16.6 ms with 1, 5.5-8.2 with 4, 5.3-7.2 with 8.
const CPU_ROWS: u32 = 4;

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
pub(crate) fn plain_f32(b: &OpBuilder, id: ValueId) -> bool {
    b.layout_of(id) == Layout::Contiguous && b.elem_of(id) == Elem::F32
}

/// Where the attention reads q, k or v: a tensor and, in vec4s, the offset and strides per
/// outer index, head and row (the head dim is contiguous).
#[derive(Debug, Clone, Copy)]
struct Operand {
    id: ValueId,
    off: u32,
    outer: u32,
    head: u32,
    row: u32,
}

/// How the attention reads q, k and v, with the heads its batch splits into (the rest is
/// one outer index).
struct Operands {
    heads: usize,
    qkv: [Operand; 3],
    /// Values whose dispatches are left out (a projection's permute and its selects), each
    /// with its readers.
    taken: Vec<(ValueId, usize)>,
}

/// q, k and v selected from one permuted projection (`permute(view(linear(x)))[0, 1, 2]`, a
/// ViT block): read in place from the projection, whose permute and selects are left out.
/// Each is the select's `[outer.., heads, rows, dim]` view of the permute's source.
fn from_projection(
    b: &OpBuilder,
    batch: usize,
    qkv: [(&TensorInfo, usize, usize); 3],
) -> Option<Operands> {
    let mut taken = Vec::new();
    let mut found: Option<(ValueId, ValueId, usize)> = None;
    let mut operands = Vec::new();
    for (t, rows, dim) in qkv {
        let Piece::Select {
            x: p,
            dim: sd,
            index,
        } = b.piece(t.id)?
        else {
            return None;
        };
        let Piece::Permute { src, perm, rank } = b.piece_read_by(p, 3)? else {
            return None;
        };
        let s = b.tensor(src).ok()?;
        if s.rank() != rank || !plain_f32(b, src) || !b.may_alias(&s) {
            return None;
        }
        let src_strides = contiguous_strides(&s.sizes);
        let mut sizes: Vec<usize> = perm[..rank].iter().map(|&d| s.sizes[d]).collect();
        let mut strides: Vec<usize> = perm[..rank].iter().map(|&d| src_strides[d]).collect();
        let off = index * strides[sd];
        sizes.remove(sd);
        strides.remove(sd);
        let r = sizes.len();
        if r < 3 || sizes[r - 2..] != [rows, dim] || strides[r - 1] != 1 {
            return None;
        }
        let heads = sizes[r - 3];
        // The dims before the heads: one outer index (at most one of them longer than 1).
        let mut outer = (sizes[..r - 3].iter().zip(&strides)).filter(|(&n, _)| n > 1);
        let outer_stride = outer.next().map_or(0, |(_, &st)| st);
        let one_outer = outer.next().is_none();
        let count = sizes[..r - 3].iter().product::<usize>() * heads;
        let vec4s = [off, outer_stride, strides[r - 3], strides[r - 2]];
        if !one_outer || count != batch || !vec4s.iter().all(|v| v.is_multiple_of(4)) {
            return None;
        }
        match found {
            None => found = Some((p, src, heads)),
            Some(f) if f == (p, src, heads) => {}
            Some(_) => return None,
        }
        taken.push((t.id, 1));
        let [off, outer, head, row] = vec4s.map(|v| u32::try_from(v / 4).unwrap_or(u32::MAX));
        operands.push(Operand {
            id: src,
            off,
            outer,
            head,
            row,
        });
    }
    let (p, _, heads) = found?;
    // Three selects of the permute, each a different one of q, k and v.
    if taken[0].0 == taken[1].0 || taken[1].0 == taken[2].0 || taken[0].0 == taken[2].0 {
        return None;
    }
    taken.push((p, 3));
    Some(Operands {
        heads,
        qkv: [operands[0], operands[1], operands[2]],
        taken,
    })
}

/// q and k as the scores' product read them (in place from a projection split into heads,
/// or as they are), and v likewise: from the permute that copied it out of a contiguous
/// tensor (left out), or as it is. Each `[batch, rows, dim]` contiguous f32 with its rows
/// and batch entries on whole vec4s (the batch entries are the heads), read later than
/// before: never written in place.
fn strided(
    b: &OpBuilder,
    batch: usize,
    qk: [(ValueId, [usize; 2]); 2],
    v: &TensorInfo,
    lk: usize,
    dv: usize,
) -> Option<Operands> {
    let mut taken = Vec::new();
    let v_read = match b.permuted_read(v.id, [batch, lk, dv]) {
        Some(r) if r.strides[2] == 1 => {
            taken.push((v.id, 1));
            (r.src, [r.strides[0], r.strides[1]])
        }
        _ => (v.id, [lk * dv, dv]),
    };
    let mut qkv = Vec::new();
    for (id, [per_batch, per_row]) in [qk[0], qk[1], v_read] {
        let t = b.tensor(id).ok()?;
        let vec4s = per_batch.is_multiple_of(4) && per_row.is_multiple_of(4);
        if !plain_f32(b, id) || !b.may_alias(&t) || !vec4s {
            return None;
        }
        qkv.push(Operand {
            id,
            off: 0,
            outer: 0,
            head: u32::try_from(per_batch / 4).ok()?,
            row: u32::try_from(per_row / 4).ok()?,
        });
    }
    Some(Operands {
        heads: batch,
        qkv: [qkv[0], qkv[1], qkv[2]],
        taken,
    })
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
    let (scale, scale_id) = match chain.scale {
        None => (1.0, None),
        Some(Scale::Value(s)) => (s, None),
        Some(Scale::Tensor(s)) => (1.0, Some(s)),
    };
    if !fits || !scale_id.is_none_or(|s| plain_f32(b, s)) {
        return Ok(false);
    }
    // q and k are read when the chain ends instead of when it starts: nothing may write them
    // (or the projection they come from) in between, the condition for sharing a view's
    // memory.
    let (q_t, k_t) = (b.tensor(q.0)?, b.tensor(k.0)?);
    let qkv = [(&q_t, lq, d), (&k_t, lk, d), (v, lk, dv)];
    let contiguous = q.1 == [lq * d, d] && k.1 == [lk * d, d];
    let operands = contiguous
        .then(|| from_projection(b, batch, qkv))
        .flatten()
        .or_else(|| strided(b, batch, [q, k], v, lk, dv));
    let Some(operands) = operands else {
        return Ok(false);
    };
    for &x in &chain.taken {
        b.take_piece(x);
    }
    for &(x, readers) in &operands.taken {
        b.take_piece_read_by(x, readers);
    }
    let out = b.set_output_as(out_id, vec![batch, lq, dv], Layout::Contiguous, Elem::F32)?;
    let heads = operands.heads;
    let [qo, ko, vo] = operands.qkv;
    let dv4 = (dv / 4) as u32;
    let (lq, lk) = (lq as u32, lk as u32);
    let params = AttnRowsParams {
        lq,
        lk,
        heads: heads as u32,
        scale,
        q_off: qo.off,
        q_outer: qo.outer,
        q_head: qo.head,
        q_row: qo.row,
        k_off: ko.off,
        k_outer: ko.outer,
        k_head: ko.head,
        k_row: ko.row,
        v_off: vo.off,
        v_outer: vo.outer,
        v_head: vo.head,
        v_row: vo.row,
        o_off: 0,
        o_outer: heads as u32 * lq * dv4,
        o_head: lq * dv4,
        o_row: dv4,
    };
    record_rows(
        b,
        params,
        batch,
        [d, dv],
        out.id,
        [qo.id, ko.id, vo.id],
        scale_id,
    )?;
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

/// Records one `attn_rows` dispatch over `batch` entries (outer index x heads, as `params`
/// addresses them) of `params.lq` query rows: head dims `d` (q, k) and `dv` (v, out), q, k
/// and v read from `qkv`, the scale also from `scale_id` when given.
pub(crate) fn record_rows(
    b: &mut OpBuilder,
    params: AttnRowsParams,
    batch: usize,
    [d, dv]: [usize; 2],
    out: ValueId,
    qkv: [ValueId; 3],
    scale_id: Option<ValueId>,
) -> Result<()> {
    // GPUs split each row's keys across a team of lanes (260 rows of the ViT alone left
    // an H200 mostly idle: 29 µs per attention); CPU devices give each invocation whole rows.
    let lanes = if split::gpu_layout(b) { ROW_LANES } else { 1 };
    let rows = if lanes == 1 && params.lq >= CPU_ROWS {
        CPU_ROWS
    } else {
        1
    };
    let spec = AttnRowsSpec {
        D4: (d / 4) as i32,
        DV4: (dv / 4) as i32,
        SCALE_TENSOR: scale_id.is_some() as i32,
        LANES: lanes as i32,
        ROWS: rows as i32,
    };
    // Per score: a dot product in each pass over the keys (two passes in split rows, one
    // otherwise) and one multiply-add per value.
    let passes = if lanes > 1 { 2 } else { 1 };
    let (lq, lk) = (params.lq as u64, params.lk as u64);
    let flops = 2 * (batch as u64) * lq * lk * (passes * d as u64 + dv as u64);
    let mut texels = 0;
    for id in qkv {
        texels = texels.max(b.tensor(id)?.numel() / 4);
    }
    let kernel = if b.caps().texel_reads(texels) {
        &ATTN_ROWS_TEXEL
    } else {
        &ATTN_ROWS
    };
    // Rows along x, batch entries along y (one per workgroup row: see the shader); split,
    // the lanes of a row along x, then rows and batch entries.
    let call = kernel.call(params).spec(spec).flops(flops);
    let call = if lanes > 1 {
        let rows = 64 / lanes;
        call.tiles([lanes as usize, lq as usize, batch], [lanes, rows, 1])
    } else {
        let blocks = (lq as usize).div_ceil(rows as usize);
        call.tiles([blocks, batch, 1], [ROWS_PER_GROUP, 1, 1])
    };
    // Without a scale tensor, bind q again in its slot (never read).
    let [q, k, v] = qkv;
    b.dispatch(call, &[out, q, k, v, scale_id.unwrap_or(q)])
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
    params.o_outer = lq as u32 * params.o_row;
    let words = params.words();
    Ok(b.retarget_piece(x.id, out.id, |d| {
        let fits = d.params.len() == words.len();
        if fits {
            d.params = words;
        }
        fits
    }))
}
