//! Attention: the llama KV-cache ops (`update_cache`, `sdpa_with_kv_cache`, `custom_sdpa`),
//! `et_vk.sdpa` and the rotary embeddings (`et_vk.apply_rotary_emb`, `_hf`, `_interleaved`).
//!
//! The llama ops use the `[batch, seq, heads, head_dim]` layout; caches are
//! `[batch, max_seq, kv_heads, head_dim]` and query head `h` reads KV head `h / (heads /
//! kv_heads)`. Attention over a cache covers positions `[0, start_pos + seq)`; causal rows `i`
//! see positions `<= start_pos + i`. `update_cache` writes the cache in place: the exporter
//! passes KV caches as constant tensors (mutable buffers), which must therefore keep their own
//! memory for the delegate's lifetime.

use crate::error::Result;
use crate::format::ValueId;
use crate::graph::OpDef;
use crate::graph::{broadcast_shapes, contiguous_strides, OpBuilder, TensorInfo};
use crate::kernels::attention::AttnRowsParams;
use crate::kernels::attention::{
    RotaryParams, SdpaParams, UpdateCacheParams, ATTN_ROTARY, ATTN_SDPA, ATTN_UPDATE_CACHE,
    ATTN_UPDATE_CACHES,
};
use crate::kernels::shape::padded;
use crate::ops::attention_chain::{plain_f32, record_rows, MAX_HEAD_DIM};
use crate::ops::split;

pub const OPS: &[OpDef] = &[
    // The exporter serializes the llama ops without their namespace.
    OpDef::new("sdpa_with_kv_cache.default", sdpa_with_kv_cache),
    OpDef::new("llama.sdpa_with_kv_cache.default", sdpa_with_kv_cache),
    OpDef::new("update_cache.default", update_cache),
    OpDef::new("llama.update_cache.default", update_cache),
    OpDef::new("custom_sdpa.default", custom_sdpa),
    OpDef::new("llama.custom_sdpa.default", custom_sdpa),
    OpDef::new("et_vk.sdpa.default", etvk_sdpa),
    OpDef::new("et_vk.apply_rotary_emb.default", apply_rotary_emb),
    OpDef::new("et_vk.apply_rotary_emb_hf.default", apply_rotary_emb_hf),
    OpDef::new(
        "et_vk.apply_rotary_emb_interleaved.default",
        apply_rotary_emb_interleaved,
    ),
];

/// Max number of outer (batch/head) dims `shaders/attn_sdpa.comp` handles.
const MAX_OUTER: usize = 6;

fn check_rank(b: &OpBuilder, t: &TensorInfo, rank: usize, what: &str) -> Result<()> {
    if t.rank() != rank {
        return Err(b.err(format!(
            "{what} must have rank {rank}, has sizes {:?}",
            t.sizes
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// update_cache
// ---------------------------------------------------------------------------------------------

/// Checks `cache[:, start_pos:start_pos + S] = value` (`[B, S, ...]` into `[B, T, ...]`) and
/// marks the cache written; the update's params, or `None` when there is nothing to write.
fn plan_update(
    b: &mut OpBuilder,
    value: &TensorInfo,
    cache: &TensorInfo,
    start_pos: i64,
) -> Result<Option<UpdateCacheParams>> {
    b.require_float(&[value, cache])?;
    check_rank(b, value, 4, "the value")?;
    check_rank(b, cache, 4, "the cache")?;
    let (v, c) = (&value.sizes, &cache.sizes);
    if v[0] != c[0] || v[2] != c[2] || v[3] != c[3] {
        return Err(b.err(format!(
            "value {v:?} does not match cache {c:?} in dims 0, 2 and 3"
        )));
    }
    if start_pos < 0 || start_pos as usize + v[1] > c[1] {
        return Err(b.err(format!(
            "start_pos {start_pos} + {} rows exceeds the cache length {}",
            v[1], c[1]
        )));
    }
    // The cache persists across executes and is written in place: it needs private memory
    // even when another constant has the same bytes (e.g. zero-filled caches).
    b.mark_written(cache.id);
    if value.numel() == 0 {
        return Ok(None);
    }
    let inner = v[2] * v[3];
    Ok(Some(UpdateCacheParams {
        count: value.numel() as u32,
        value_batch: (v[1] * inner) as i32,
        cache_batch: (c[1] * inner) as i32,
        start_offset: (start_pos as usize * inner) as i32,
    }))
}

/// Records `cache[:, start_pos:start_pos + S] = value`.
fn emit_update(
    b: &mut OpBuilder,
    value: &TensorInfo,
    cache: &TensorInfo,
    start_pos: i64,
) -> Result<()> {
    match plan_update(b, value, cache, start_pos)? {
        Some(params) => b.dispatch(
            ATTN_UPDATE_CACHE.call(params).linear(value.numel()),
            &[cache.id, value.id],
        ),
        None => Ok(()),
    }
}

/// Records the key and value updates of one step (`key` and `value` of the same sizes, as
/// the caches): one dispatch for both, as on small decode steps each dispatch costs more
/// than the rows it copies.
fn emit_updates(
    b: &mut OpBuilder,
    [key, value]: [&TensorInfo; 2],
    [k_cache, v_cache]: [&TensorInfo; 2],
    start_pos: i64,
) -> Result<()> {
    if b.memory_root(k_cache.id) == b.memory_root(v_cache.id) {
        // One cache memory for both: the value rows must land last, as two dispatches order
        // them.
        emit_update(b, key, k_cache, start_pos)?;
        return emit_update(b, value, v_cache, start_pos);
    }
    let params = plan_update(b, key, k_cache, start_pos)?;
    plan_update(b, value, v_cache, start_pos)?;
    match params {
        Some(params) => b.dispatch(
            ATTN_UPDATE_CACHES.call(params).linear(2 * key.numel()),
            &[k_cache.id, v_cache.id, key.id, value.id],
        ),
        None => Ok(()),
    }
}

/// `llama::update_cache(value, cache(a!), start_pos) -> Tensor`: the result is a 1-element
/// placeholder that nothing writes.
pub fn update_cache(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let value = b.tensor(args[0])?;
    let cache = b.tensor(args[1])?;
    let start_pos = b.int(args[2])?;
    emit_update(b, &value, &cache, start_pos)?;
    let out = b.tensor(args[3])?;
    b.set_output(args[3], out.sizes)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scaled dot-product attention
// ---------------------------------------------------------------------------------------------

/// Value dims one workgroup of `attn_sdpa.comp` computes (64 lanes x 4).
const SDPA_DIMS_PER_GROUP: usize = 256;

/// One attention problem for `shaders/attn_sdpa.comp` (see the shader for the layout).
struct Attention {
    outer: Vec<usize>,
    /// Strides of q, k, v, out, mask over the outer dims.
    strides: [Vec<usize>; 5],
    q_i: usize,
    k_j: usize,
    v_j: usize,
    o_i: usize,
    m_i: usize,
    m_j: usize,
    lq: usize,
    lk: usize,
    d: usize,
    dv: usize,
    scale: f32,
    mask: Option<ValueId>,
    /// Causal with this position offset (row i sees keys <= offset + i).
    causal: Option<usize>,
}

fn emit_attention(
    b: &mut OpBuilder,
    a: &Attention,
    q: ValueId,
    k: ValueId,
    v: ValueId,
    out: ValueId,
) -> Result<()> {
    if a.outer.len() > MAX_OUTER {
        return Err(b.unsupported(format!("{} batch dims above {MAX_OUTER}", a.outer.len())));
    }
    // One 64-wide workgroup per query row and chunk of 256 value dims.
    let rows = a.outer.iter().product::<usize>() * a.lq;
    let n = rows
        .checked_mul(a.dv.div_ceil(SDPA_DIMS_PER_GROUP) * 64)
        .filter(|&n| n <= i32::MAX as usize)
        .ok_or_else(|| {
            b.unsupported(format!(
                "{rows} attention rows are too many for one dispatch"
            ))
        })?;
    if n == 0 {
        return Ok(());
    }
    let pad = |v: &[usize]| -> [i32; MAX_OUTER] { padded(v.iter().map(|&x| x as i64)) };
    let p = SdpaParams {
        count: n as u32,
        outer_rank: a.outer.len() as i32,
        lq: a.lq as i32,
        lk: a.lk as i32,
        d: a.d as i32,
        dv: a.dv as i32,
        scale: a.scale,
        has_mask: a.mask.is_some() as i32,
        causal: a.causal.is_some() as i32,
        causal_offset: a.causal.unwrap_or(0) as i32,
        q_i: a.q_i as i32,
        k_j: a.k_j as i32,
        v_j: a.v_j as i32,
        o_i: a.o_i as i32,
        m_i: a.m_i as i32,
        m_j: a.m_j as i32,
        outer_sizes: pad(&a.outer),
        q_strides: pad(&a.strides[0]),
        k_strides: pad(&a.strides[1]),
        v_strides: pad(&a.strides[2]),
        o_strides: pad(&a.strides[3]),
        m_strides: pad(&a.strides[4]),
    };
    // Without a mask, bind q again in its slot (never read).
    let mask = a.mask.unwrap_or(q);
    b.dispatch(ATTN_SDPA.call(p).linear(n), &[out, q, k, v, mask])
}

/// The attention of a llama op (`a` from [`llama_attention`]): on CPU devices, `attn_rows`
/// (one invocation per 4 query rows, or per row below 4) when the rows fit it (batch 1, no mask, causal only
/// for one query row, whole vec4 head dims of at most 64, f32), which needs no barriers;
/// `attn_sdpa` otherwise (GPUs: a workgroup per row).
fn emit_llama_attention(
    b: &mut OpBuilder,
    a: &Attention,
    q: ValueId,
    k_cache: ValueId,
    v_cache: ValueId,
    out: ValueId,
) -> Result<()> {
    let (batch, hkv, rep) = (a.outer[0], a.outer[1], a.outer[2]);
    let rows_fit = !split::gpu_layout(b)
        && batch == 1
        && a.mask.is_none()
        && (a.causal.is_none() || a.lq == 1)
        && a.d.is_multiple_of(4)
        && (1..=MAX_HEAD_DIM).contains(&a.d)
        && [q, k_cache, v_cache, out].iter().all(|&t| plain_f32(b, t));
    if !rows_fit {
        return emit_attention(b, a, q, k_cache, v_cache, out);
    }
    // In vec4s: q and out [1, S, Hkv * rep, D], the caches [1, T, Hkv, D]; the outer index
    // is the KV head and the heads are the query heads sharing it.
    let d4 = (a.d / 4) as u32;
    let (rep4, h4, kv4) = (rep as u32 * d4, (hkv * rep) as u32 * d4, hkv as u32 * d4);
    let params = AttnRowsParams {
        lq: a.lq as u32,
        lk: a.lk as u32,
        heads: rep as u32,
        scale: a.scale,
        q_off: 0,
        q_outer: rep4,
        q_head: d4,
        q_row: h4,
        k_off: 0,
        k_outer: d4,
        k_head: 0,
        k_row: kv4,
        v_off: 0,
        v_outer: d4,
        v_head: 0,
        v_row: kv4,
        o_off: 0,
        o_outer: rep4,
        o_head: d4,
        o_row: h4,
    };
    record_rows(
        b,
        params,
        hkv * rep,
        [a.d, a.d],
        out,
        [q, k_cache, v_cache],
        None,
    )
}

/// Checks and plans the attention of `q` `[B, S, H, D]` over the first `start_pos + S`
/// positions of the caches `[B, T, Hkv, D]`, as the llama custom ops compute it; declares the
/// output.
#[allow(clippy::too_many_arguments)]
fn llama_attention(
    b: &mut OpBuilder,
    q: &TensorInfo,
    k_cache: &TensorInfo,
    v_cache: &TensorInfo,
    start_pos: i64,
    mask: Option<&TensorInfo>,
    is_causal: bool,
    scale: Option<f64>,
    out: ValueId,
) -> Result<Attention> {
    b.require_float(&[q, k_cache, v_cache])?;
    check_rank(b, q, 4, "the query")?;
    check_rank(b, k_cache, 4, "the key cache")?;
    if k_cache.sizes != v_cache.sizes {
        return Err(b.err(format!(
            "key cache {:?} and value cache {:?} differ",
            k_cache.sizes, v_cache.sizes
        )));
    }
    let [bs, s, h, d] = [q.sizes[0], q.sizes[1], q.sizes[2], q.sizes[3]];
    let [cb, t, hkv, cd] = [
        k_cache.sizes[0],
        k_cache.sizes[1],
        k_cache.sizes[2],
        k_cache.sizes[3],
    ];
    if cb != bs || cd != d {
        return Err(b.err(format!(
            "query {:?} and caches {:?} differ in batch or head dim",
            q.sizes, k_cache.sizes
        )));
    }
    if hkv == 0 || h % hkv != 0 {
        return Err(b.err(format!(
            "{h} query heads are not a multiple of {hkv} KV heads"
        )));
    }
    if start_pos < 0 || start_pos as usize + s > t {
        return Err(b.err(format!(
            "start_pos {start_pos} + {s} query rows exceeds the cache length {t}"
        )));
    }
    let start = start_pos as usize;
    let lk = start + s;
    if mask.is_some() && is_causal {
        return Err(b.err("attn_mask and is_causal cannot be set at the same time"));
    }
    let mut m_i = 0;
    if let Some(m) = mask {
        b.require_float(&[m])?;
        check_rank(b, m, 2, "attn_mask")?;
        if m.sizes[0] != s || m.sizes[1] < lk {
            return Err(b.err(format!(
                "attn_mask {:?} must be [{s}, {lk}] (query rows, attended positions)",
                m.sizes
            )));
        }
        m_i = m.sizes[1];
    }
    b.set_output(out, q.sizes.clone())?;
    let rep = h / hkv;
    // Outer dims [B, Hkv, rep]: query head = kv_head * rep + r.
    let q_strides = vec![s * h * d, rep * d, d];
    let kv_strides = vec![t * hkv * d, d, 0];
    Ok(Attention {
        outer: vec![bs, hkv, rep],
        strides: [
            q_strides.clone(),
            kv_strides.clone(),
            kv_strides,
            q_strides,
            vec![0, 0, 0],
        ],
        q_i: h * d,
        k_j: hkv * d,
        v_j: hkv * d,
        o_i: h * d,
        m_i,
        m_j: 1,
        lq: s,
        lk,
        d,
        dv: d,
        scale: scale.unwrap_or(1.0 / (d as f64).sqrt()) as f32,
        mask: mask.map(|m| m.id),
        causal: is_causal.then_some(start),
    })
}

/// `llama::sdpa_with_kv_cache(query, key, value, key_cache(a!), value_cache(b!), start_pos,
/// seq_len, attn_mask=None, drpout_p=0., is_causal=False, scale=None) -> Tensor`.
/// Writes key/value into the caches at `start_pos`, then attends over the caches. As in the
/// CPU kernel, the attended length follows the query's rows (`seq_len` is not used: the
/// exporter's fusion passes 1 whatever the query length) and dropout is ignored.
pub fn sdpa_with_kv_cache(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 12)?;
    let q = b.tensor(args[0])?;
    let k = b.tensor(args[1])?;
    let v = b.tensor(args[2])?;
    let k_cache = b.tensor(args[3])?;
    let v_cache = b.tensor(args[4])?;
    let start_pos = b.int(args[5])?;
    b.int(args[6])?;
    let mask = b.opt_tensor(args[7])?;
    b.double(args[8])?;
    let is_causal = b.bool(args[9])?;
    let scale = b.opt_double(args[10])?;
    b.require_float(&[&k, &v])?;
    check_rank(b, &k, 4, "the key")?;
    check_rank(b, &v, 4, "the value")?;
    if k.sizes != v.sizes {
        return Err(b.err(format!("key {:?} and value {:?} differ", k.sizes, v.sizes)));
    }
    let a = llama_attention(
        b,
        &q,
        &k_cache,
        &v_cache,
        start_pos,
        mask.as_ref(),
        is_causal,
        scale,
        args[11],
    )?;
    emit_updates(b, [&k, &v], [&k_cache, &v_cache], start_pos)?;
    emit_llama_attention(b, &a, q.id, k_cache.id, v_cache.id, args[11])
}

/// `llama::custom_sdpa(query, key, value, start_pos, attn_mask=None, drpout_p=0.,
/// is_causal=False, scale=None) -> Tensor`: attention over caches already updated.
pub fn custom_sdpa(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 9)?;
    let q = b.tensor(args[0])?;
    let k_cache = b.tensor(args[1])?;
    let v_cache = b.tensor(args[2])?;
    let start_pos = b.int(args[3])?;
    let mask = b.opt_tensor(args[4])?;
    b.double(args[5])?;
    let is_causal = b.bool(args[6])?;
    let scale = b.opt_double(args[7])?;
    let a = llama_attention(
        b,
        &q,
        &k_cache,
        &v_cache,
        start_pos,
        mask.as_ref(),
        is_causal,
        scale,
        args[8],
    )?;
    emit_llama_attention(b, &a, q.id, k_cache.id, v_cache.id, args[8])
}

/// Strides of the leading `sizes.len() - 2` dims of a contiguous tensor, right-aligned into
/// `rank` outer dims (0 where missing or broadcast).
fn outer_strides(sizes: &[usize], rank: usize) -> Vec<usize> {
    let full = contiguous_strides(sizes);
    let lead = sizes.len() - 2;
    (0..rank)
        .map(|i| {
            let off = rank - lead;
            if i < off || sizes[i - off] == 1 {
                0
            } else {
                full[i - off]
            }
        })
        .collect()
}

/// `et_vk::sdpa(q, k, v, attn_mask=None, scale=None) -> Tensor`:
/// `softmax(q @ k^T * scale + attn_mask) @ v` with matmul broadcasting of the batch dims;
/// `scale` defaults to `1 / sqrt(q.size(-1))`.
pub fn etvk_sdpa(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let q = b.tensor(args[0])?;
    let k = b.tensor(args[1])?;
    let v = b.tensor(args[2])?;
    let mask = b.opt_tensor(args[3])?;
    let scale = b.opt_double(args[4])?;
    b.require_float(&[&q, &k, &v])?;
    if let Some(m) = &mask {
        b.require_float(&[m])?;
    }
    if q.rank() < 2 || k.rank() < 2 || v.rank() < 2 {
        return Err(b.err(format!(
            "q {:?}, k {:?} and v {:?} must have rank >= 2",
            q.sizes, k.sizes, v.sizes
        )));
    }
    let last2 = |t: &TensorInfo| (t.sizes[t.rank() - 2], t.sizes[t.rank() - 1]);
    let ((lq, d), (lk, dk), (lv, dv)) = (last2(&q), last2(&k), last2(&v));
    if d != dk || lk != lv {
        return Err(b.err(format!(
            "q {:?}, k {:?}, v {:?}: need q[..., L, D], k[..., S, D], v[..., S, Dv]",
            q.sizes, k.sizes, v.sizes
        )));
    }
    // The mask, padded to rank >= 2, must broadcast to [Lq, Lk] without growing it.
    let mask_sizes = mask.as_ref().map(|m| {
        let mut s = vec![1; 2usize.saturating_sub(m.rank())];
        s.extend(&m.sizes);
        s
    });
    if let Some(ms) = &mask_sizes {
        let (mr, mc) = (ms[ms.len() - 2], ms[ms.len() - 1]);
        if (mr != lq && mr != 1) || (mc != lk && mc != 1) {
            return Err(b.err(format!(
                "attn_mask {ms:?} does not broadcast to the [{lq}, {lk}] scores"
            )));
        }
    }
    let lead = |s: &[usize]| s[..s.len() - 2].to_vec();
    let mut batch = broadcast_shapes(&lead(&q.sizes), &lead(&k.sizes));
    if let (Some(bt), Some(ms)) = (&batch, &mask_sizes) {
        batch = broadcast_shapes(bt, &lead(ms));
    }
    let batch = batch
        .and_then(|bt| broadcast_shapes(&bt, &lead(&v.sizes)))
        .ok_or_else(|| {
            b.err(format!(
                "batch dims of q {:?}, k {:?}, v {:?} and the mask do not broadcast",
                q.sizes, k.sizes, v.sizes
            ))
        })?;
    let mut out_sizes = batch.clone();
    out_sizes.extend([lq, dv]);
    b.set_output(args[5], out_sizes.clone())?;
    let rank = batch.len();
    let (m_strides, m_i, m_j) = match &mask_sizes {
        Some(ms) => {
            let full = contiguous_strides(ms);
            let r = ms.len();
            (
                outer_strides(ms, rank),
                if ms[r - 2] == 1 { 0 } else { full[r - 2] },
                if ms[r - 1] == 1 { 0 } else { 1 },
            )
        }
        None => (vec![0; rank], 0, 0),
    };
    let a = Attention {
        outer: batch,
        strides: [
            outer_strides(&q.sizes, rank),
            outer_strides(&k.sizes, rank),
            outer_strides(&v.sizes, rank),
            outer_strides(&out_sizes, rank),
            m_strides,
        ],
        q_i: d,
        k_j: d,
        v_j: dv,
        o_i: dv,
        m_i,
        m_j,
        lq,
        lk,
        d,
        dv,
        scale: scale.unwrap_or(1.0 / (d as f64).sqrt()) as f32,
        mask: mask.map(|m| m.id),
        causal: None,
    };
    emit_attention(b, &a, q.id, k.id, v.id, args[5])
}

// ---------------------------------------------------------------------------------------------
// Rotary embeddings
// ---------------------------------------------------------------------------------------------

/// Kind codes of `shaders/attn_rotary.comp`.
#[derive(Clone, Copy)]
enum Rotary {
    Pairs = 0,
    Hf = 1,
    Interleaved = 2,
}

/// One rotary dispatch over `x` viewed as `[outer, S, H, D]`; the table index of row s, head h
/// is `start + s * fs + h * fh`.
#[allow(clippy::too_many_arguments)]
fn emit_rotary(
    b: &mut OpBuilder,
    kind: Rotary,
    x: &TensorInfo,
    out: ValueId,
    cos: ValueId,
    sin: ValueId,
    [s, h, d]: [usize; 3],
    [fs, fh, start, r]: [usize; 4],
) -> Result<()> {
    if x.numel() == 0 {
        return Ok(());
    }
    let params = RotaryParams {
        count: x.numel() as u32,
        kind: kind as i32,
        head_dim: d as i32,
        heads: h as i32,
        seq: s as i32,
        freq_s: fs as i32,
        freq_h: fh as i32,
        start: start as i32,
        rot_dims: r as i32,
    };
    b.dispatch(
        ATTN_ROTARY.call(params).linear(x.numel()),
        &[out, x.id, cos, sin],
    )
}

/// The two outputs of a rotary op (a ValueList of xq_out, xk_out), declared like xq and xk.
fn rotary_outputs(
    b: &mut OpBuilder,
    list: ValueId,
    xq: &TensorInfo,
    xk: &TensorInfo,
) -> Result<(ValueId, ValueId)> {
    let outs = b.tensor_list(list)?;
    if outs.len() != 2 {
        return Err(b.err(format!("expects 2 outputs, got {}", outs.len())));
    }
    let (oq, ok) = (outs[0].id, outs[1].id);
    let oq_t = b.set_output(oq, xq.sizes.clone())?;
    let ok_t = b.set_output(ok, xk.sizes.clone())?;
    b.require_float(&[&oq_t, &ok_t])?;
    Ok((oq, ok))
}

/// Stride of a frequency-table dim that lines up with an `x` dim of size `x_size`: `stride`
/// when the sizes agree, 0 when the table broadcasts (size 1).
fn table_stride(
    b: &OpBuilder,
    table: usize,
    x_size: usize,
    stride: usize,
    what: &str,
) -> Result<usize> {
    if table == x_size {
        Ok(if table == 1 { 0 } else { stride })
    } else if table == 1 {
        Ok(0)
    } else {
        Err(b.err(format!(
            "the frequency table's {what} size {table} does not match {x_size}"
        )))
    }
}

/// `et_vk::apply_rotary_emb(xq, xk, freqs_cos, freqs_sin) -> (Tensor, Tensor)`: the llama
/// rotary embedding on (even, odd) pairs of the head dim. x is `[B, S, H, D]`; the tables are
/// `[S, D/2]` or `[S, H, D/2]`.
pub fn apply_rotary_emb(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 5)?;
    let xq = b.tensor(args[0])?;
    let xk = b.tensor(args[1])?;
    let cos = b.tensor(args[2])?;
    let sin = b.tensor(args[3])?;
    b.require_float(&[&xq, &xk, &cos, &sin])?;
    check_rank(b, &xq, 4, "xq")?;
    check_rank(b, &xk, 4, "xk")?;
    if cos.sizes != sin.sizes {
        return Err(b.err(format!(
            "freqs_cos {:?} and freqs_sin {:?} differ",
            cos.sizes, sin.sizes
        )));
    }
    let [s, h, d] = [xq.sizes[1], xq.sizes[2], xq.sizes[3]];
    if d % 2 != 0 || xk.sizes[3] != d {
        return Err(b.err(format!(
            "xq {:?} and xk {:?} need the same, even head dim",
            xq.sizes, xk.sizes
        )));
    }
    let half = d / 2;
    // The table must be exactly [S, D/2] or [S, H, D/2] of xq (the reference asserts it).
    let want: Vec<usize> = match cos.rank() {
        2 => vec![s, half],
        3 => vec![s, h, half],
        _ => vec![],
    };
    if cos.sizes != want {
        return Err(b.err(format!(
            "frequency tables {:?} must be [{s}, {half}] or [{s}, {h}, {half}]",
            cos.sizes
        )));
    }
    let three_d = cos.rank() == 3;
    let (oq, ok) = rotary_outputs(b, args[4], &xq, &xk)?;
    for (x, out) in [(&xq, oq), (&xk, ok)] {
        let [xs, xh] = [x.sizes[1], x.sizes[2]];
        let fs = table_stride(b, s, xs, if three_d { h * half } else { half }, "sequence")?;
        let fh = if three_d {
            table_stride(b, h, xh, half, "head")?
        } else {
            0
        };
        emit_rotary(
            b,
            Rotary::Pairs,
            x,
            out,
            cos.id,
            sin.id,
            [xs, xh, d],
            [fs, fh, 0, 0],
        )?;
    }
    Ok(())
}

/// `et_vk::apply_rotary_emb_hf(xq, xk, freqs_cos, freqs_sin, start_pos) -> (Tensor, Tensor)`:
/// HuggingFace rotate_half RoPE on the first R dims of `[B, S, H, D]`, with rows
/// `[start_pos, start_pos + S)` of the `[T, R]` tables; dims from R on pass through.
pub fn apply_rotary_emb_hf(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let xq = b.tensor(args[0])?;
    let xk = b.tensor(args[1])?;
    let cos = b.tensor(args[2])?;
    let sin = b.tensor(args[3])?;
    let start_pos = b.int(args[4])?;
    b.require_float(&[&xq, &xk, &cos, &sin])?;
    check_rank(b, &xq, 4, "xq")?;
    check_rank(b, &xk, 4, "xk")?;
    check_rank(b, &cos, 2, "freqs_cos")?;
    if cos.sizes != sin.sizes {
        return Err(b.err(format!(
            "freqs_cos {:?} and freqs_sin {:?} differ",
            cos.sizes, sin.sizes
        )));
    }
    let s = xq.sizes[1];
    let (t, r) = (cos.sizes[0], cos.sizes[1]);
    if r > xq.sizes[3] || r > xk.sizes[3] {
        return Err(b.err(format!(
            "rotary dim {r} exceeds the head dim of xq {:?} or xk {:?}",
            xq.sizes, xk.sizes
        )));
    }
    if start_pos < 0 || start_pos as usize + s > t {
        return Err(b.err(format!(
            "rows [{start_pos}, {start_pos} + {s}) are outside the {t}-row frequency tables"
        )));
    }
    let (oq, ok) = rotary_outputs(b, args[5], &xq, &xk)?;
    for (x, out) in [(&xq, oq), (&xk, ok)] {
        let fs = table_stride(b, s, x.sizes[1], r, "sequence")?;
        emit_rotary(
            b,
            Rotary::Hf,
            x,
            out,
            cos.id,
            sin.id,
            [x.sizes[1], x.sizes[2], x.sizes[3]],
            [fs, 0, start_pos as usize * r, r],
        )?;
    }
    Ok(())
}

/// `et_vk::apply_rotary_emb_interleaved(x, freqs_cis) -> Tensor`: x is `[B, N, C]` with
/// (real, imag) pairs along C; `freqs_cis` has any shape holding `[N, C/2, (cos, sin)]`.
pub fn apply_rotary_emb_interleaved(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let f = b.tensor(args[1])?;
    b.require_float(&[&x, &f])?;
    check_rank(b, &x, 3, "x")?;
    let (n, c) = (x.sizes[1], x.sizes[2]);
    if c % 2 != 0 {
        return Err(b.err(format!("x {:?} needs an even last dim", x.sizes)));
    }
    if f.numel() != n * c {
        return Err(b.err(format!(
            "freqs_cis {:?} must hold {n} x {c} values",
            f.sizes
        )));
    }
    let out = b.set_output(args[2], x.sizes.clone())?;
    b.require_float(&[&out])?;
    emit_rotary(
        b,
        Rotary::Interleaved,
        &x,
        out.id,
        f.id,
        f.id,
        [n, 1, c],
        [c, 0, 0, 0],
    )?;
    Ok(())
}
