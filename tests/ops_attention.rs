//! Attention ops: llama update_cache / sdpa_with_kv_cache / custom_sdpa, et_vk.sdpa and the
//! rotary embeddings, against CPU references written from the PyTorch definitions
//! (extension/llm/custom_ops op_sdpa.cpp, backends/vulkan/custom_ops_lib.py).
mod common;
use common::*;

use etvk::format::{DType, Value, ValueId};
use etvk::runtime::{HostTensor, InputValue};
use etvk::ErrorKind;

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

fn input(sizes: &[usize], values: &[f32]) -> InputValue {
    InputValue::Tensor(HostTensor::from_f32(sizes.to_vec(), values).unwrap())
}

fn sym_input(g: &mut GraphBuilder, v: i64) -> ValueId {
    g.graph.values.push(Value::SymInt(v as i32));
    let id = g.graph.values.len() - 1;
    g.graph.input_ids.push(id);
    id
}

fn expect_err(g: &GraphBuilder, kind: ErrorKind, what: &str) {
    let err = g
        .build()
        .err()
        .unwrap_or_else(|| panic!("{what}: must fail"));
    assert_eq!(err.kind, kind, "{what}: {}", err.message);
}

// ------------------------------------------------------------------------------------------
// CPU references
// ------------------------------------------------------------------------------------------

/// `cache[:, start:start + S] = value` for `[B, S, ...]` into `[B, T, ...]`.
fn ref_update(cache: &mut [f32], cs: &[usize], value: &[f32], vs: &[usize], start: usize) {
    let inner: usize = vs[2..].iter().product();
    for b in 0..vs[0] {
        for s in 0..vs[1] {
            for e in 0..inner {
                cache[(b * cs[1] + start + s) * inner + e] = value[(b * vs[1] + s) * inner + e];
            }
        }
    }
}

/// Softmax-weighted sum over keys: `scores[j]` (already scaled/masked) and `value(j)`.
fn attend(scores: &[f32], dv: usize, value: impl Fn(usize, usize) -> f32) -> Vec<f32> {
    let mx = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = scores.iter().map(|s| (s - mx).exp()).collect();
    let sum: f32 = e.iter().sum();
    (0..dv)
        .map(|d| {
            e.iter()
                .enumerate()
                .map(|(j, w)| w * value(j, d))
                .sum::<f32>()
                / sum
        })
        .collect()
}

struct Llama<'a> {
    q: &'a [f32],
    qs: [usize; 4],
    kc: &'a [f32],
    vc: &'a [f32],
    cs: [usize; 4],
    start: usize,
    mask: Option<(&'a [f32], usize)>,
    causal: bool,
    scale: Option<f32>,
}

/// The llama custom-op attention over caches already updated.
fn ref_llama(a: &Llama) -> Vec<f32> {
    let [bs, s, h, d] = a.qs;
    let [_, t, hkv, _] = a.cs;
    let rep = h / hkv;
    let scale = a.scale.unwrap_or(1.0 / (d as f32).sqrt());
    let mut out = vec![0.0; numel(&a.qs)];
    for b in 0..bs {
        for i in 0..s {
            for hh in 0..h {
                let kh = hh / rep;
                let n = if a.causal {
                    a.start + i + 1
                } else {
                    a.start + s
                };
                let qo = ((b * s + i) * h + hh) * d;
                let kv = |j: usize| ((b * t + j) * hkv + kh) * d;
                let scores: Vec<f32> = (0..n)
                    .map(|j| {
                        let dot: f32 = (0..d).map(|e| a.q[qo + e] * a.kc[kv(j) + e]).sum();
                        dot * scale + a.mask.map_or(0.0, |(m, stride)| m[i * stride + j])
                    })
                    .collect();
                let o = attend(&scores, d, |j, e| a.vc[kv(j) + e]);
                out[qo..qo + d].copy_from_slice(&o);
            }
        }
    }
    out
}

/// Offset of batch index `idx` (of the broadcast batch shape) in a tensor whose leading dims
/// are `sizes[..len - 2]` (right-aligned, size-1 dims broadcast).
fn batch_offset(idx: &[usize], sizes: &[usize]) -> usize {
    let lead = sizes.len() - 2;
    let st = strides(sizes);
    (0..lead)
        .map(|k| {
            let c = idx[idx.len() - lead + k];
            if sizes[k] == 1 {
                0
            } else {
                c * st[k]
            }
        })
        .sum()
}

/// `softmax(q @ k^T * scale + mask) @ v` with matmul batch broadcasting.
#[allow(clippy::too_many_arguments)]
fn ref_sdpa(
    q: &[f32],
    qs: &[usize],
    k: &[f32],
    ks: &[usize],
    v: &[f32],
    vs: &[usize],
    mask: Option<(&[f32], &[usize])>,
    scale: Option<f32>,
) -> (Vec<f32>, Vec<usize>) {
    let last2 = |s: &[usize]| (s[s.len() - 2], s[s.len() - 1]);
    let ((lq, d), (lk, _), (_, dv)) = (last2(qs), last2(ks), last2(vs));
    let mut shapes: Vec<Vec<usize>> = vec![qs.to_vec(), ks.to_vec(), vs.to_vec()];
    let mask_sizes: Option<Vec<usize>> = mask.map(|(_, ms)| {
        let mut s = vec![1; 2usize.saturating_sub(ms.len())];
        s.extend(ms);
        s
    });
    if let Some(ms) = &mask_sizes {
        shapes.push(ms.clone());
    }
    let rank = shapes.iter().map(|s| s.len() - 2).max().unwrap();
    let mut batch = vec![1; rank];
    for s in &shapes {
        let lead = &s[..s.len() - 2];
        for (i, &x) in lead.iter().enumerate() {
            let slot = &mut batch[rank - lead.len() + i];
            *slot = (*slot).max(x);
        }
    }
    let scale = scale.unwrap_or(1.0 / (d as f32).sqrt());
    let nb = numel(&batch);
    let bst = strides(&batch);
    let mut out = Vec::with_capacity(nb * lq * dv);
    for ob in 0..nb {
        let idx: Vec<usize> = (0..rank).map(|a| (ob / bst[a]) % batch[a]).collect();
        let (q0, k0, v0) = (
            batch_offset(&idx, qs),
            batch_offset(&idx, ks),
            batch_offset(&idx, vs),
        );
        for i in 0..lq {
            let scores: Vec<f32> = (0..lk)
                .map(|j| {
                    let dot: f32 = (0..d).map(|e| q[q0 + i * d + e] * k[k0 + j * d + e]).sum();
                    let m = match (mask, &mask_sizes) {
                        (Some((m, _)), Some(ms)) => {
                            let r = ms.len();
                            let m0 = batch_offset(&idx, ms);
                            let mi = if ms[r - 2] == 1 { 0 } else { i * ms[r - 1] };
                            let mj = if ms[r - 1] == 1 { 0 } else { j };
                            m[m0 + mi + mj]
                        }
                        _ => 0.0,
                    };
                    dot * scale + m
                })
                .collect();
            out.extend(attend(&scores, dv, |j, e| v[v0 + j * dv + e]));
        }
    }
    let mut os = batch;
    os.extend([lq, dv]);
    (out, os)
}

/// Llama RoPE on (even, odd) pairs; `freq(s, h, k)` gives the table index.
fn ref_rope_pairs(x: &[f32], xs: &[usize], cos: &[f32], sin: &[f32], three_d: bool) -> Vec<f32> {
    let [_, s, h, d] = [xs[0], xs[1], xs[2], xs[3]];
    let half = d / 2;
    let mut out = vec![0.0; x.len()];
    for row in 0..x.len() / d {
        let (si, hi) = ((row / h) % s, row % h);
        for k in 0..half {
            let f = if three_d {
                (si * h + hi) * half + k
            } else {
                si * half + k
            };
            let (re, im) = (x[row * d + 2 * k], x[row * d + 2 * k + 1]);
            out[row * d + 2 * k] = re * cos[f] - im * sin[f];
            out[row * d + 2 * k + 1] = re * sin[f] + im * cos[f];
        }
    }
    out
}

/// HF RoPE: rotate_half on the first r dims with table rows start + s.
fn ref_rope_hf(
    x: &[f32],
    xs: &[usize],
    cos: &[f32],
    sin: &[f32],
    r: usize,
    start: usize,
) -> Vec<f32> {
    let [_, s, h, d] = [xs[0], xs[1], xs[2], xs[3]];
    let mut out = x.to_vec();
    for row in 0..x.len() / d {
        let si = (row / h) % s;
        let xr = &x[row * d..row * d + r];
        let (x1, x2) = xr.split_at(r / 2);
        let rot: Vec<f32> = x2.iter().map(|v| -v).chain(x1.iter().cloned()).collect();
        for j in 0..r {
            let f = (start + si) * r + j;
            out[row * d + j] = xr[j] * cos[f] + rot[j] * sin[f];
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// update_cache
// ------------------------------------------------------------------------------------------

/// cache (constant) -> [prepack] -> update_cache(value, cache, start) -> clone(cache).
fn update_graph(
    rng: &mut Rng,
    vs: [usize; 4],
    cs: [usize; 4],
    start: Option<i64>,
    prepack: bool,
) -> (GraphBuilder, Vec<f32>, ValueId) {
    let mut g = GraphBuilder::new();
    let init = rng.vec(numel(&cs));
    let value = g.input(&vs);
    let c0 = g.constant(&cs, &init);
    let start_id = match start {
        Some(s) => g.int(s),
        None => sym_input(&mut g, 0),
    };
    let cache = if prepack {
        let c1 = g.f32(&cs);
        g.op("et_vk.prepack.default", &[c0, c1]);
        c1
    } else {
        c0
    };
    let dummy = g.f32(&[1]);
    g.op("update_cache.default", &[value, cache, start_id, dummy]);
    let none = g.null();
    let out = g.f32(&cs);
    g.op("aten.clone.default", &[cache, none, out]);
    g.output(out);
    (g, init, start_id)
}

#[test]
fn update_cache_writes_rows_at_start_pos() {
    let mut rng = Rng::new(1);
    for (vs, cs, start, prepack) in [
        ([2, 3, 3, 4], [2, 7, 3, 4], 2, true),
        ([1, 1, 2, 5], [1, 6, 2, 5], 5, false),
        ([3, 4, 1, 3], [3, 4, 1, 3], 0, true),
    ] {
        let (g, mut want, _) = update_graph(&mut rng, vs, cs, Some(start), prepack);
        let value = rng.vec(numel(&vs));
        let got = g.run(&[(&vs, &value)]).unwrap();
        ref_update(&mut want, &cs, &value, &vs, start as usize);
        assert_close(
            &got[0],
            &want,
            0.0,
            0.0,
            &format!("update {vs:?} {cs:?} @{start}"),
        );
    }
}

#[test]
fn update_cache_persists_across_executes() {
    // A decode loop: each execute writes one row at a new (symbolic) start_pos; rows written
    // by earlier executes stay.
    let mut rng = Rng::new(2);
    let (vs, cs) = ([2, 1, 2, 3], [2, 5, 2, 3]);
    let (g, mut want, _) = update_graph(&mut rng, vs, cs, None, true);
    let mut d = g.build().unwrap();
    for start in [0usize, 1, 4, 2] {
        let value = rng.vec(numel(&vs));
        let got = d
            .run(&[input(&vs, &value), InputValue::Int(start as i64)])
            .unwrap();
        ref_update(&mut want, &cs, &value, &vs, start);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("start {start}"),
        );
    }
    // Out of range at run time: the rebuild fails.
    let value = rng.vec(numel(&vs));
    assert!(d.run(&[input(&vs, &value), InputValue::Int(5)]).is_err());
}

#[test]
fn update_cache_rejects_bad_arguments() {
    let mut rng = Rng::new(3);
    let (g, _, _) = update_graph(&mut rng, [1, 3, 2, 4], [1, 6, 2, 4], Some(4), false);
    expect_err(&g, ErrorKind::InvalidProgram, "start_pos + S > T");
    let (g, _, _) = update_graph(&mut rng, [1, 3, 2, 4], [1, 6, 2, 4], Some(-1), false);
    expect_err(&g, ErrorKind::InvalidProgram, "negative start_pos");
    let (g, _, _) = update_graph(&mut rng, [1, 3, 3, 4], [1, 6, 2, 4], Some(0), false);
    expect_err(&g, ErrorKind::InvalidProgram, "head mismatch");
    // Integer value.
    let mut g = GraphBuilder::new();
    let value = g.tensor(DType::Int32, &[1, 1, 2, 2]);
    g.graph.input_ids.push(value);
    let cache = g.constant(&[1, 3, 2, 2], &[0.0; 12]);
    let start = g.int(0);
    let dummy = g.f32(&[1]);
    g.op("update_cache.default", &[value, cache, start, dummy]);
    expect_err(&g, ErrorKind::NotSupported, "int value");
    // Wrong arity.
    let mut g = GraphBuilder::new();
    let value = g.input(&[1, 1, 2, 2]);
    g.op("update_cache.default", &[value]);
    expect_err(&g, ErrorKind::InvalidProgram, "arity");
}

// ------------------------------------------------------------------------------------------
// sdpa_with_kv_cache / custom_sdpa
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Case {
    b: usize,
    s: usize,
    h: usize,
    hkv: usize,
    d: usize,
    t: usize,
    start: usize,
    causal: bool,
    mask: bool,
    scale: Option<f32>,
}

const CASES: &[Case] = &[
    // Decode step with grouped KV heads.
    Case {
        b: 1,
        s: 1,
        h: 4,
        hkv: 2,
        d: 8,
        t: 8,
        start: 3,
        causal: true,
        mask: false,
        scale: None,
    },
    // Prefill in the middle of the cache, batch 2, explicit scale.
    Case {
        b: 2,
        s: 3,
        h: 4,
        hkv: 4,
        d: 5,
        t: 9,
        start: 2,
        causal: true,
        mask: false,
        scale: Some(0.3),
    },
    // Non-causal with an additive mask over the attended positions.
    Case {
        b: 1,
        s: 3,
        h: 6,
        hkv: 2,
        d: 4,
        t: 7,
        start: 1,
        causal: false,
        mask: true,
        scale: None,
    },
    // Non-causal without mask: every row sees all start + S positions.
    Case {
        b: 2,
        s: 2,
        h: 3,
        hkv: 1,
        d: 7,
        t: 5,
        start: 3,
        causal: false,
        mask: false,
        scale: None,
    },
    // The whole cache from position 0, causal.
    Case {
        b: 1,
        s: 4,
        h: 2,
        hkv: 1,
        d: 3,
        t: 4,
        start: 0,
        causal: true,
        mask: false,
        scale: Some(1.5),
    },
    // Decode deep into a long cache: keys in several blocks of 64, head dims past one
    // workgroup's 256.
    Case {
        b: 1,
        s: 2,
        h: 2,
        hkv: 1,
        d: 300,
        t: 150,
        start: 130,
        causal: true,
        mask: false,
        scale: None,
    },
    // Several key blocks with a mask.
    Case {
        b: 1,
        s: 3,
        h: 2,
        hkv: 2,
        d: 8,
        t: 140,
        start: 70,
        causal: false,
        mask: true,
        scale: None,
    },
    // Prefill without mask or causality over grouped KV heads, whole vec4 head dims: attn_rows
    // on CPU devices, 4 query rows per invocation and a partial block.
    Case {
        b: 1,
        s: 5,
        h: 6,
        hkv: 2,
        d: 16,
        t: 20,
        start: 5,
        causal: false,
        mask: false,
        scale: None,
    },
    // A decode step deep into the cache at the largest head dim kept in registers: 131 keys,
    // blocks of 4 and a tail of 3 in the one-pass rows.
    Case {
        b: 1,
        s: 1,
        h: 8,
        hkv: 2,
        d: 64,
        t: 150,
        start: 130,
        causal: true,
        mask: false,
        scale: Some(0.2),
    },
];

/// The kernel that computes the attention of `c`: `attn_rows` (one invocation per query row)
/// on CPU devices when the rows fit it, `attn_sdpa` (a workgroup per row) otherwise.
fn attention_kernel(c: &Case) -> &'static str {
    let gpu_layout = etvk::ops::split::forced().unwrap_or_else(|| {
        etvk::gpu::Context::shared().unwrap().caps().kind != etvk::gpu::DeviceKind::Cpu
    });
    let rows_fit =
        c.b == 1 && !c.mask && (!c.causal || c.s == 1) && c.d.is_multiple_of(4) && c.d <= 64;
    if rows_fit && !gpu_layout {
        "attn_rows"
    } else {
        "attn_sdpa"
    }
}

/// Optional mask `[S, start + S]`, with some -inf entries (never a whole row).
fn make_mask(rng: &mut Rng, c: &Case) -> Option<(Vec<f32>, [usize; 2])> {
    c.mask.then(|| {
        let ms = [c.s, c.start + c.s];
        let mut m = rng.vec(numel(&ms));
        for i in 0..c.s {
            m[i * ms[1] + (i % ms[1])] = f32::NEG_INFINITY;
        }
        (m, ms)
    })
}

/// The reference attention of case `c` for q, the updated caches and the mask.
fn case_reference(
    c: &Case,
    q: &[f32],
    kc: &[f32],
    vc: &[f32],
    mask: &Option<(Vec<f32>, [usize; 2])>,
) -> Vec<f32> {
    ref_llama(&Llama {
        q,
        qs: [c.b, c.s, c.h, c.d],
        kc,
        vc,
        cs: [c.b, c.t, c.hkv, c.d],
        start: c.start,
        mask: mask.as_ref().map(|(m, ms)| (m.as_slice(), ms[1])),
        causal: c.causal,
        scale: c.scale,
    })
}

/// Adds the trailing (attn_mask, dropout_p, is_causal, scale) arguments.
fn tail_args(g: &mut GraphBuilder, c: &Case, mask: Option<ValueId>) -> Vec<ValueId> {
    let mask = mask.unwrap_or_else(|| g.null());
    let dropout = g.double(0.0);
    let causal = g.bool(c.causal);
    let scale = match c.scale {
        Some(s) => g.double(s as f64),
        None => g.null(),
    };
    vec![mask, dropout, causal, scale]
}

#[test]
fn sdpa_with_kv_cache_matches_reference() {
    let mut rng = Rng::new(4);
    for c in CASES {
        check_sdpa_with_kv_cache(&mut rng, c, false);
    }
}

#[test]
fn one_cache_for_keys_and_values() {
    // Both caches one tensor: two update dispatches, so that the value rows land last, and
    // the attention reads those rows as keys and as values.
    check_sdpa_with_kv_cache(&mut Rng::new(8), &CASES[0], true);
}

/// One `sdpa_with_kv_cache` of case `c` (with one tensor as both caches when `one_cache`)
/// against the CPU reference, and the kernels it records: both cache updates in one dispatch
/// (two for one cache), then the attention.
fn check_sdpa_with_kv_cache(rng: &mut Rng, c: &Case, one_cache: bool) {
    let (qs, ks, cs) = (
        [c.b, c.s, c.h, c.d],
        [c.b, c.s, c.hkv, c.d],
        [c.b, c.t, c.hkv, c.d],
    );
    let (q, k, v) = (
        rng.vec(numel(&qs)),
        rng.vec(numel(&ks)),
        rng.vec(numel(&ks)),
    );
    let (mut kc, mut vc) = (rng.vec(numel(&cs)), rng.vec(numel(&cs)));
    let mask = make_mask(rng, c);
    let mut g = GraphBuilder::new();
    let (qi, ki, vi) = (g.input(&qs), g.input(&ks), g.input(&ks));
    let mi = mask.as_ref().map(|(_, ms)| g.input(ms));
    let kci = g.constant(&cs, &kc);
    let vci = if one_cache { kci } else { g.constant(&cs, &vc) };
    let start = g.int(c.start as i64);
    let seq_len = g.int(1); // what the exporter's fusion passes, whatever S is
    let mut args = vec![qi, ki, vi, kci, vci, start, seq_len];
    args.extend(tail_args(&mut g, c, mi));
    let out = g.f32(&qs);
    args.push(out);
    g.op("sdpa_with_kv_cache.default", &args);
    g.output(out);
    let what = format!("{qs:?} cache {cs:?} @{}, one cache {one_cache}", c.start);
    let updates: &[&str] = if one_cache {
        &["attn_update_cache", "attn_update_cache"]
    } else {
        &["attn_update_caches"]
    };
    let mut want_kernels = updates.to_vec();
    want_kernels.push(attention_kernel(c));
    assert_eq!(kernels(&g.build().unwrap()), want_kernels, "{what}");
    let mut inputs: Vec<(&[usize], &[f32])> = vec![(&qs, &q), (&ks, &k), (&ks, &v)];
    if let Some((m, ms)) = &mask {
        inputs.push((ms, m));
    }
    let got = g.run(&inputs).unwrap();
    ref_update(&mut kc, &cs, &k, &ks, c.start);
    if one_cache {
        ref_update(&mut kc, &cs, &v, &ks, c.start);
        vc.clone_from(&kc);
    } else {
        ref_update(&mut vc, &cs, &v, &ks, c.start);
    }
    let want = case_reference(c, &q, &kc, &vc, &mask);
    assert_close(&got[0], &want, 1e-5, 1e-4, &what);
}

#[test]
fn sdpa_with_kv_cache_decodes_step_by_step() {
    // Head dims 6 (attn_sdpa everywhere) and 8 (attn_rows on CPU devices).
    for d in [6, 8] {
        decode_step_by_step(d);
    }
}

/// Prefill-free decode loop with a symbolic start_pos: step n attends over the keys and
/// values every earlier execute wrote into the caches.
fn decode_step_by_step(d: usize) {
    let mut rng = Rng::new(5);
    let (h, hkv, t) = (4, 2, 6);
    let (qs, ks, cs) = ([1, 1, h, d], [1, 1, hkv, d], [1, t, hkv, d]);
    let (mut kc, mut vc) = (rng.vec(numel(&cs)), rng.vec(numel(&cs)));
    let mut g = GraphBuilder::new();
    let (qi, ki, vi) = (g.input(&qs), g.input(&ks), g.input(&ks));
    let kci = g.constant(&cs, &kc);
    let vci = g.constant(&cs, &vc);
    let start = sym_input(&mut g, 0);
    let seq_len = g.int(1);
    let c = Case {
        b: 1,
        s: 1,
        h,
        hkv,
        d,
        t,
        start: 0,
        causal: true,
        mask: false,
        scale: None,
    };
    let mut args = vec![qi, ki, vi, kci, vci, start, seq_len];
    args.extend(tail_args(&mut g, &c, None));
    let out = g.f32(&qs);
    args.push(out);
    g.op("sdpa_with_kv_cache.default", &args);
    g.output(out);
    let mut dlg = g.build().unwrap();
    for pos in 0..t {
        let (q, k, v) = (
            rng.vec(numel(&qs)),
            rng.vec(numel(&ks)),
            rng.vec(numel(&ks)),
        );
        let got = dlg
            .run(&[
                input(&qs, &q),
                input(&ks, &k),
                input(&ks, &v),
                InputValue::Int(pos as i64),
            ])
            .unwrap();
        ref_update(&mut kc, &cs, &k, &ks, pos);
        ref_update(&mut vc, &cs, &v, &ks, pos);
        let want = ref_llama(&Llama {
            q: &q,
            qs,
            kc: &kc,
            vc: &vc,
            cs,
            start: pos,
            mask: None,
            causal: true,
            scale: None,
        });
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-5,
            1e-4,
            &format!("head dim {d}, step {pos}"),
        );
    }
}

#[test]
fn custom_sdpa_matches_reference() {
    let mut rng = Rng::new(6);
    for c in CASES {
        let (qs, cs) = ([c.b, c.s, c.h, c.d], [c.b, c.t, c.hkv, c.d]);
        let (q, kc, vc) = (
            rng.vec(numel(&qs)),
            rng.vec(numel(&cs)),
            rng.vec(numel(&cs)),
        );
        let mask = make_mask(&mut rng, c);
        let mut g = GraphBuilder::new();
        let (qi, kci, vci) = (g.input(&qs), g.input(&cs), g.input(&cs));
        let mi = mask.as_ref().map(|(_, ms)| g.input(ms));
        let start = g.int(c.start as i64);
        let mut args = vec![qi, kci, vci, start];
        args.extend(tail_args(&mut g, c, mi));
        let out = g.f32(&qs);
        args.push(out);
        g.op("llama.custom_sdpa.default", &args);
        g.output(out);
        let ks_run = kernels(&g.build().unwrap());
        assert_eq!(ks_run, [attention_kernel(c)], "{qs:?} cache {cs:?}");
        let mut inputs: Vec<(&[usize], &[f32])> = vec![(&qs, &q), (&cs, &kc), (&cs, &vc)];
        if let Some((m, ms)) = &mask {
            inputs.push((ms, m));
        }
        let got = g.run(&inputs).unwrap();
        let want = case_reference(c, &q, &kc, &vc, &mask);
        assert_close(
            &got[0],
            &want,
            1e-5,
            1e-4,
            &format!("{qs:?} cache {cs:?} @{}", c.start),
        );
    }
}

/// A custom_sdpa graph with the given sizes (for error cases).
fn custom_sdpa_graph(
    qs: &[usize],
    cs: &[usize],
    vcs: &[usize],
    start: i64,
    causal: bool,
    mask: Option<&[usize]>,
) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let (qi, kci, vci) = (g.input(qs), g.input(cs), g.input(vcs));
    let mi = mask.map(|ms| g.input(ms)).unwrap_or_else(|| g.null());
    let start = g.int(start);
    let dropout = g.double(0.0);
    let causal = g.bool(causal);
    let scale = g.null();
    let out = g.f32(qs);
    g.op(
        "custom_sdpa.default",
        &[qi, kci, vci, start, mi, dropout, causal, scale, out],
    );
    g.output(out);
    g
}

#[test]
fn llama_sdpa_rejects_bad_arguments() {
    let (qs, cs) = ([1, 2, 4, 8], [1, 6, 2, 8]);
    let ok = custom_sdpa_graph(&qs, &cs, &cs, 1, true, None);
    assert!(ok.build().is_ok());
    let g = custom_sdpa_graph(&qs, &cs, &cs, 1, true, Some(&[2, 3]));
    expect_err(&g, ErrorKind::InvalidProgram, "mask and causal");
    let g = custom_sdpa_graph(&qs, &cs, &cs, 1, false, Some(&[2, 2]));
    expect_err(&g, ErrorKind::InvalidProgram, "mask too short");
    let g = custom_sdpa_graph(&qs, &cs, &cs, 1, false, Some(&[3, 3]));
    expect_err(&g, ErrorKind::InvalidProgram, "mask rows");
    let g = custom_sdpa_graph(&qs, &cs, &cs, 5, true, None);
    expect_err(&g, ErrorKind::InvalidProgram, "start_pos + S > T");
    let g = custom_sdpa_graph(&[1, 2, 3, 8], &cs, &cs, 0, true, None);
    expect_err(&g, ErrorKind::InvalidProgram, "heads not a multiple");
    let g = custom_sdpa_graph(&qs, &[1, 6, 2, 4], &[1, 6, 2, 4], 0, true, None);
    expect_err(&g, ErrorKind::InvalidProgram, "head dim mismatch");
    let g = custom_sdpa_graph(&qs, &cs, &[1, 5, 2, 8], 0, true, None);
    expect_err(&g, ErrorKind::InvalidProgram, "cache sizes differ");
    let g = custom_sdpa_graph(&[2, 4, 8], &cs, &cs, 0, true, None);
    expect_err(&g, ErrorKind::InvalidProgram, "rank 3 query");
    // Wrong output sizes.
    let mut g = custom_sdpa_graph(&qs, &cs, &cs, 0, true, None);
    let out = g.graph.output_ids[0];
    let wrong = g.f32(&[1, 2, 4, 7]);
    g.graph.values[out] = g.graph.values[wrong].clone();
    expect_err(&g, ErrorKind::InvalidProgram, "output sizes");
}

/// Two caches backed by the same named data (all-zero caches of a freshly exported model
/// share one key) must still be two tensors: writing the key cache must not write the
/// value cache.
#[test]
fn zero_caches_sharing_one_named_key_stay_separate() {
    let mut rng = Rng::new(7);
    let (qs, ks, cs) = ([1, 1, 2, 4], [1, 1, 1, 4], [1, 4, 1, 4]);
    let mut g = GraphBuilder::new();
    let (qi, ki, vi) = (g.input(&qs), g.input(&ks), g.input(&ks));
    let zeros = vec![0.0; numel(&cs)];
    let kci = g.constant_with_key("zeros", &cs, &zeros);
    let vci = g.constant_with_key("zeros", &cs, &zeros);
    let start = g.int(1);
    let seq_len = g.int(1);
    let c = Case {
        b: 1,
        s: 1,
        h: 2,
        hkv: 1,
        d: 4,
        t: 4,
        start: 1,
        causal: true,
        mask: false,
        scale: None,
    };
    let mut args = vec![qi, ki, vi, kci, vci, start, seq_len];
    args.extend(tail_args(&mut g, &c, None));
    let out = g.f32(&qs);
    args.push(out);
    g.op("sdpa_with_kv_cache.default", &args);
    g.output(out);
    let (q, k, v) = (
        rng.vec(numel(&qs)),
        rng.vec(numel(&ks)),
        rng.vec(numel(&ks)),
    );
    let got = g.run(&[(&qs, &q), (&ks, &k), (&ks, &v)]).unwrap();
    let (mut kc, mut vc) = (zeros.clone(), zeros);
    ref_update(&mut kc, &cs, &k, &ks, 1);
    ref_update(&mut vc, &cs, &v, &ks, 1);
    let want = ref_llama(&Llama {
        q: &q,
        qs,
        kc: &kc,
        vc: &vc,
        cs,
        start: 1,
        mask: None,
        causal: true,
        scale: None,
    });
    assert_close(&got[0], &want, 1e-5, 1e-4, "separate caches");
}

// ------------------------------------------------------------------------------------------
// et_vk.sdpa
// ------------------------------------------------------------------------------------------

type Sizes = &'static [usize];
/// q, k, v, optional mask sizes, optional scale.
type SdpaCase = (Sizes, Sizes, Sizes, Option<Sizes>, Option<f32>);

#[test]
fn etvk_sdpa_matches_reference() {
    let mut rng = Rng::new(8);
    let cases: &[SdpaCase] = &[
        (&[1, 2, 5, 8], &[1, 2, 5, 8], &[1, 2, 5, 8], None, None),
        // Batch broadcasting between q, k and v; Dv != D; a 2-D mask.
        (
            &[2, 3, 5, 8],
            &[2, 1, 6, 8],
            &[1, 3, 6, 3],
            Some(&[5, 6]),
            None,
        ),
        // Rank 3 with a batch mask and a row-broadcast mask dim; explicit scale.
        (
            &[4, 7, 6],
            &[4, 2, 6],
            &[4, 2, 5],
            Some(&[4, 1, 2]),
            Some(0.25),
        ),
        // Rank 2 with a 1-D mask.
        (&[3, 4], &[5, 4], &[5, 2], Some(&[5]), None),
        // The mask adds a batch dim.
        (&[3, 1, 4], &[3, 4], &[3, 2], Some(&[2, 1, 1, 3]), None),
    ];
    for (qs, ks, vs, ms, scale) in cases {
        let (q, k, v) = (rng.vec(numel(qs)), rng.vec(numel(ks)), rng.vec(numel(vs)));
        let m = ms.map(|ms| rng.vec(numel(ms)));
        let (want, os) = ref_sdpa(&q, qs, &k, ks, &v, vs, m.as_deref().zip(*ms), *scale);
        let mut g = GraphBuilder::new();
        let (qi, ki, vi) = (g.input(qs), g.input(ks), g.input(vs));
        let mi = ms.map(|ms| g.input(ms)).unwrap_or_else(|| g.null());
        let si = match scale {
            Some(s) => g.double(*s as f64),
            None => g.null(),
        };
        let out = g.f32(&os);
        g.op("et_vk.sdpa.default", &[qi, ki, vi, mi, si, out]);
        g.output(out);
        let mut inputs: Vec<(&[usize], &[f32])> = vec![(qs, &q), (ks, &k), (vs, &v)];
        if let (Some(ms), Some(m)) = (ms, &m) {
            inputs.push((ms, m));
        }
        let got = g.run(&inputs).unwrap();
        assert_close(
            &got[0],
            &want,
            1e-5,
            1e-4,
            &format!("q {qs:?} k {ks:?} v {vs:?} mask {ms:?}"),
        );
    }
}

#[test]
fn etvk_sdpa_rejects_bad_arguments() {
    let build = |qs: &[usize], ks: &[usize], vs: &[usize], ms: Option<&[usize]>, os: &[usize]| {
        let mut g = GraphBuilder::new();
        let (qi, ki, vi) = (g.input(qs), g.input(ks), g.input(vs));
        let mi = ms.map(|ms| g.input(ms)).unwrap_or_else(|| g.null());
        let si = g.null();
        let out = g.f32(os);
        g.op("et_vk.sdpa.default", &[qi, ki, vi, mi, si, out]);
        g
    };
    let g = build(&[2, 5, 8], &[2, 6, 7], &[2, 6, 8], None, &[2, 5, 8]);
    expect_err(&g, ErrorKind::InvalidProgram, "head dims differ");
    let g = build(&[2, 5, 8], &[2, 6, 8], &[2, 5, 8], None, &[2, 5, 8]);
    expect_err(&g, ErrorKind::InvalidProgram, "k/v lengths differ");
    let g = build(&[2, 5, 8], &[3, 6, 8], &[3, 6, 8], None, &[2, 5, 8]);
    expect_err(&g, ErrorKind::InvalidProgram, "batch does not broadcast");
    let g = build(
        &[2, 5, 8],
        &[2, 6, 8],
        &[2, 6, 8],
        Some(&[4, 6]),
        &[2, 5, 8],
    );
    expect_err(&g, ErrorKind::InvalidProgram, "mask rows");
    let g = build(&[8], &[6, 8], &[6, 8], None, &[8]);
    expect_err(&g, ErrorKind::InvalidProgram, "rank 1 query");
    let g = build(&[2, 5, 8], &[2, 6, 8], &[2, 6, 8], None, &[2, 5, 6]);
    expect_err(&g, ErrorKind::InvalidProgram, "output sizes");
    let g = build(
        &[1, 1, 1, 1, 1, 1, 1, 2, 3],
        &[2, 3],
        &[2, 3],
        None,
        &[1, 1, 1, 1, 1, 1, 1, 2, 3],
    );
    expect_err(&g, ErrorKind::NotSupported, "7 batch dims");
}

// ------------------------------------------------------------------------------------------
// Rotary embeddings
// ------------------------------------------------------------------------------------------

/// Runs a two-output rotary op `name(xq, xk, cos, sin, extra...)`.
#[allow(clippy::too_many_arguments)]
fn run_rotary(
    name: &str,
    xq: (&[usize], &[f32]),
    xk: (&[usize], &[f32]),
    fs: &[usize],
    cos: &[f32],
    sin: &[f32],
    start: Option<i64>,
) -> etvk::Result<Vec<Vec<f32>>> {
    let mut g = GraphBuilder::new();
    let (qi, ki) = (g.input(xq.0), g.input(xk.0));
    let (ci, si) = (g.input(fs), g.input(fs));
    let (oq, ok) = (g.f32(xq.0), g.f32(xk.0));
    let outs = g.value_list(&[oq, ok]);
    let mut args = vec![qi, ki, ci, si];
    if let Some(s) = start {
        args.push(g.int(s));
    }
    args.push(outs);
    g.op(name, &args);
    g.output(oq);
    g.output(ok);
    g.run(&[xq, xk, (fs, cos), (fs, sin)])
}

#[test]
fn apply_rotary_emb_matches_reference() {
    let mut rng = Rng::new(9);
    let cases: &[(&[usize], &[usize], &[usize])] = &[
        (&[2, 3, 4, 8], &[2, 3, 2, 8], &[3, 4]),
        (&[1, 1, 4, 6], &[1, 1, 1, 6], &[1, 3]),
        (&[1, 3, 2, 6], &[2, 3, 2, 6], &[3, 2, 3]),
    ];
    for (qs, ks, fs) in cases {
        let (q, k, c, s) = (
            rng.vec(numel(qs)),
            rng.vec(numel(ks)),
            rng.vec(numel(fs)),
            rng.vec(numel(fs)),
        );
        let got = run_rotary(
            "et_vk.apply_rotary_emb.default",
            (qs, &q),
            (ks, &k),
            fs,
            &c,
            &s,
            None,
        )
        .unwrap();
        let three_d = fs.len() == 3;
        assert_close(
            &got[0],
            &ref_rope_pairs(&q, qs, &c, &s, three_d),
            1e-6,
            1e-5,
            &format!("xq {qs:?} freqs {fs:?}"),
        );
        assert_close(
            &got[1],
            &ref_rope_pairs(&k, ks, &c, &s, three_d),
            1e-6,
            1e-5,
            &format!("xk {ks:?} freqs {fs:?}"),
        );
    }
}

#[test]
fn apply_rotary_emb_hf_matches_reference() {
    let mut rng = Rng::new(10);
    let cases: &[(Sizes, Sizes, Sizes, i64)] = &[
        (&[1, 3, 4, 8], &[1, 3, 2, 8], &[7, 8], 2),
        // Partial rotation (rotary dim 6 of 8), batch 2.
        (&[2, 2, 2, 8], &[2, 2, 1, 8], &[2, 6], 0),
        // Odd rotary dim.
        (&[1, 1, 3, 7], &[1, 1, 3, 7], &[4, 5], 3),
    ];
    for (qs, ks, fs, start) in cases {
        let (q, k, c, s) = (
            rng.vec(numel(qs)),
            rng.vec(numel(ks)),
            rng.vec(numel(fs)),
            rng.vec(numel(fs)),
        );
        let got = run_rotary(
            "et_vk.apply_rotary_emb_hf.default",
            (qs, &q),
            (ks, &k),
            fs,
            &c,
            &s,
            Some(*start),
        )
        .unwrap();
        let (r, st) = (fs[1], *start as usize);
        assert_close(
            &got[0],
            &ref_rope_hf(&q, qs, &c, &s, r, st),
            1e-6,
            1e-5,
            &format!("xq {qs:?} freqs {fs:?}"),
        );
        assert_close(
            &got[1],
            &ref_rope_hf(&k, ks, &c, &s, r, st),
            1e-6,
            1e-5,
            &format!("xk {ks:?} freqs {fs:?}"),
        );
    }
}

#[test]
fn apply_rotary_emb_interleaved_matches_reference() {
    let mut rng = Rng::new(11);
    for (xs, fs) in [
        (vec![2, 5, 8], vec![1, 5, 4, 2]),
        (vec![1, 3, 2], vec![3, 2]),
    ] {
        let (x, f) = (rng.vec(numel(&xs)), rng.vec(numel(&fs)));
        let mut g = GraphBuilder::new();
        let (xi, fi) = (g.input(&xs), g.input(&fs));
        let out = g.f32(&xs);
        g.op("et_vk.apply_rotary_emb_interleaved.default", &[xi, fi, out]);
        g.output(out);
        let got = g.run(&[(&xs, &x), (&fs, &f)]).unwrap();
        let c = xs[2];
        let want: Vec<f32> = (0..x.len())
            .map(|w| {
                let (n, dd) = ((w / c) % xs[1], w % c);
                let k = dd / 2;
                let (re, im) = (x[w - dd + 2 * k], x[w - dd + 2 * k + 1]);
                let (cs, sn) = (f[n * c + 2 * k], f[n * c + 2 * k + 1]);
                if dd % 2 == 0 {
                    re * cs - im * sn
                } else {
                    re * sn + im * cs
                }
            })
            .collect();
        assert_close(
            &got[0],
            &want,
            1e-6,
            1e-5,
            &format!("x {xs:?} freqs {fs:?}"),
        );
    }
}

#[test]
fn rotary_ops_reject_bad_arguments() {
    let rotary = |qs: &[usize], ks: &[usize], fs: &[usize]| {
        let mut g = GraphBuilder::new();
        let (qi, ki, ci, si) = (g.input(qs), g.input(ks), g.input(fs), g.input(fs));
        let (oq, ok) = (g.f32(qs), g.f32(ks));
        let outs = g.value_list(&[oq, ok]);
        g.op("et_vk.apply_rotary_emb.default", &[qi, ki, ci, si, outs]);
        g
    };
    expect_err(
        &rotary(&[1, 3, 4, 7], &[1, 3, 4, 7], &[3, 3]),
        ErrorKind::InvalidProgram,
        "odd head dim",
    );
    expect_err(
        &rotary(&[1, 3, 4, 8], &[1, 3, 4, 8], &[3, 3]),
        ErrorKind::InvalidProgram,
        "table width",
    );
    expect_err(
        &rotary(&[1, 3, 4, 8], &[1, 3, 4, 8], &[2, 4]),
        ErrorKind::InvalidProgram,
        "table rows",
    );
    expect_err(
        &rotary(&[1, 3, 4, 8], &[1, 2, 4, 8], &[3, 4]),
        ErrorKind::InvalidProgram,
        "xk seq",
    );
    expect_err(
        &rotary(&[3, 4, 8], &[3, 4, 8], &[3, 4]),
        ErrorKind::InvalidProgram,
        "rank 3",
    );
    expect_err(
        &rotary(&[1, 3, 4, 8], &[1, 3, 2, 8], &[3, 4, 4]),
        ErrorKind::InvalidProgram,
        "3-D table vs xk heads",
    );
    // hf: rows past the table, rotary dim above the head dim.
    let hf = |fs: &[usize], start: i64| {
        let mut g = GraphBuilder::new();
        let (qs, ks) = ([1, 2, 2, 4], [1, 2, 2, 4]);
        let (qi, ki, ci, si) = (g.input(&qs), g.input(&ks), g.input(fs), g.input(fs));
        let st = g.int(start);
        let (oq, ok) = (g.f32(&qs), g.f32(&ks));
        let outs = g.value_list(&[oq, ok]);
        g.op(
            "et_vk.apply_rotary_emb_hf.default",
            &[qi, ki, ci, si, st, outs],
        );
        g
    };
    assert!(hf(&[4, 4], 2).build().is_ok());
    expect_err(
        &hf(&[4, 4], 3),
        ErrorKind::InvalidProgram,
        "rows past the table",
    );
    expect_err(
        &hf(&[4, 6], 0),
        ErrorKind::InvalidProgram,
        "rotary dim > head dim",
    );
    // interleaved: odd C, wrong table size, integer input.
    let inter = |xs: &[usize], fs: &[usize], dtype: DType| {
        let mut g = GraphBuilder::new();
        let xi = g.tensor(dtype, xs);
        g.graph.input_ids.push(xi);
        let fi = g.input(fs);
        let out = g.tensor(dtype, xs);
        g.op("et_vk.apply_rotary_emb_interleaved.default", &[xi, fi, out]);
        g
    };
    expect_err(
        &inter(&[1, 3, 5], &[3, 5], DType::Float32),
        ErrorKind::InvalidProgram,
        "odd C",
    );
    expect_err(
        &inter(&[1, 3, 4], &[3, 2], DType::Float32),
        ErrorKind::InvalidProgram,
        "table size",
    );
    expect_err(
        &inter(&[1, 3, 4], &[3, 4], DType::Int32),
        ErrorKind::NotSupported,
        "int x",
    );
}
