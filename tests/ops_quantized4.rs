//! The 4-bit weight ops against a CPU reference written from docs/quantized-ops.md (the
//! exporter's byte layouts): linear_q4gsw, choose_qparams_affine + linear_dq8ca_q4gsw,
//! embedding_q4gsw, embedding_4bit, over odd shapes (K not a multiple of 4 or 8, groups not a
//! multiple of 8, odd N, one and several rows, 3-D inputs, bias padded or not), and the device
//! bytes of packed 4-bit weights.
mod common;
use common::*;

use etvk::format::{Constant, ConstantSource, DType, TensorDesc, Value, ValueId};
use etvk::gpu::MemTag;

/// A constant of any dtype from its raw little-endian bytes.
fn constant_bytes(g: &mut GraphBuilder, dtype: DType, dims: &[usize], bytes: Vec<u8>) -> ValueId {
    let key = format!("const{}", g.graph.constants.len());
    g.graph.constants.push(Constant {
        source: ConstantSource::Named { key: key.clone() },
        length: bytes.len(),
    });
    g.named.insert(key, bytes);
    g.graph.values.push(Value::Tensor(TensorDesc {
        dtype,
        dims: dims.to_vec(),
        constant: Some(g.graph.constants.len() - 1),
        mem_obj_id: None,
        staging_dtype: None,
        channels_packed_hint: false,
    }));
    g.graph.values.len() - 1
}

/// Random 4-bit weights `w[n][k]` in [-8, 7].
fn weights4(rng: &mut Rng, n: usize, k: usize) -> Vec<i8> {
    (0..n * k)
        .map(|_| (rng.next_u64() % 16) as i8 - 8)
        .collect()
}

/// The exporter's linear packing (`pack_4bit_weight_tensor`): K padded with zeros to a
/// multiple of 8, +8, two per byte, low nibble = even k. `[N, Kp / 2]`.
fn pack_linear(w: &[i8], n: usize, k: usize) -> (Vec<u8>, usize) {
    let kp = k.div_ceil(8) * 8;
    let at = |r: usize, c: usize| if c < k { w[r * k + c] } else { 0 };
    let mut out = Vec::with_capacity(n * kp / 2);
    for r in 0..n {
        for j in 0..kp / 2 {
            let lo = (at(r, 2 * j) + 8) as u8;
            let hi = (at(r, 2 * j + 1) + 8) as u8;
            out.push(hi << 4 | lo);
        }
    }
    (out, kp / 2)
}

/// Scales `[groups][N]` transposed and zero-padded along N to `stride`.
fn padded_rows(v: &[f32], rows: usize, cols: usize, stride: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * stride];
    for r in 0..rows {
        out[r * stride..r * stride + cols].copy_from_slice(&v[r * cols..(r + 1) * cols]);
    }
    out
}

struct Case {
    /// Input sizes; the last is K.
    x: &'static [usize],
    n: usize,
    group: usize,
    /// None: no bias; Some(true): padded to N4 as the exporter ships it; Some(false): [N].
    bias: Option<bool>,
}

const CASES: &[Case] = &[
    // GEMV, G a multiple of 8, no bias (the LLM decode step).
    Case {
        x: &[1, 64],
        n: 24,
        group: 32,
        bias: None,
    },
    // K = 36 (Kp 40), G = 12: groups straddle weight words; odd N; rows not a multiple of 4.
    Case {
        x: &[5, 36],
        n: 7,
        group: 12,
        bias: Some(false),
    },
    // K = 18: rows of x do not start on a vec4; G = 6.
    Case {
        x: &[3, 18],
        n: 5,
        group: 6,
        bias: Some(true),
    },
    // 3-D input (prefill), N not a multiple of 4, padded bias.
    Case {
        x: &[1, 9, 64],
        n: 10,
        group: 16,
        bias: Some(true),
    },
    // One group per row.
    Case {
        x: &[2, 40],
        n: 4,
        group: 40,
        bias: None,
    },
];

/// A linear's constants as the exporter writes them, and its reference operands.
struct Linear {
    m: usize,
    k: usize,
    n: usize,
    groups: usize,
    group: usize,
    w: Vec<i8>,
    scales: Vec<f32>,
    bias: Option<Vec<f32>>,
    packed: Vec<u8>,
    row_bytes: usize,
}

impl Linear {
    fn new(c: &Case, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let k = *c.x.last().unwrap();
        let m = c.x.iter().product::<usize>() / k;
        let groups = k / c.group;
        assert_eq!(groups * c.group, k, "the exporter's groups tile K");
        let w = weights4(&mut rng, c.n, k);
        let scales: Vec<f32> = (0..groups * c.n)
            .map(|_| 0.01 + 0.05 * rng.f32().abs())
            .collect();
        let bias = c.bias.map(|_| rng.vec(c.n));
        let (packed, row_bytes) = pack_linear(&w, c.n, k);
        Linear {
            m,
            k,
            n: c.n,
            groups,
            group: c.group,
            w,
            scales,
            bias,
            packed,
            row_bytes,
        }
    }

    /// Adds weights, scales and bias constants; returns their ids.
    fn constants(&self, g: &mut GraphBuilder, padded_bias: bool) -> (ValueId, ValueId, ValueId) {
        let n4 = self.n.div_ceil(4) * 4;
        let wid = constant_bytes(
            g,
            DType::Uint8,
            &[self.n, self.row_bytes],
            self.packed.clone(),
        );
        let s = padded_rows(&self.scales, self.groups, self.n, n4);
        let sid = g.constant(&[self.groups, n4], &s);
        let bid = match &self.bias {
            Some(b) if padded_bias => g.constant(&[n4], &padded_rows(b, 1, self.n, n4)),
            Some(b) => g.constant(&[self.n], b),
            None => g.null(),
        };
        (wid, sid, bid)
    }

    fn scale(&self, k: usize, n: usize) -> f32 {
        self.scales[(k / self.group) * self.n + n]
    }

    /// out[m][n] = sum_k x * w * scale + bias (f64 sums).
    fn reference(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.m * self.n];
        for r in 0..self.m {
            for c in 0..self.n {
                let acc: f64 = (0..self.k)
                    .map(|k| {
                        x[r * self.k + k] as f64
                            * self.w[c * self.k + k] as f64
                            * self.scale(k, c) as f64
                    })
                    .sum();
                let b = self.bias.as_ref().map_or(0.0, |b| b[c] as f64);
                out[r * self.n + c] = (acc + b) as f32;
            }
        }
        out
    }
}

fn out_sizes(x: &[usize], n: usize) -> Vec<usize> {
    let mut s = x.to_vec();
    *s.last_mut().unwrap() = n;
    s
}

#[test]
fn linear_q4gsw_matches_the_reference() {
    for (i, c) in CASES.iter().enumerate() {
        let l = Linear::new(c, 10 + i as u64);
        let mut g = GraphBuilder::new();
        let x = g.input(c.x);
        let (w, s, b) = l.constants(&mut g, c.bias == Some(true));
        let gs = g.int(c.group as i64);
        let out = g.f32(&out_sizes(c.x, c.n));
        g.op("et_vk.linear_q4gsw.default", &[x, w, s, gs, b, out]);
        g.output(out);
        let xv = Rng::new(100 + i as u64).vec(l.m * l.k);
        let got = g.run(&[(c.x, &xv)]).unwrap();
        let what = format!("linear_q4gsw x {:?} N {} G {}", c.x, c.n, c.group);
        assert_close(&got[0], &l.reference(&xv), 1e-5, 1e-4, &what);
    }
}

/// torchao's per-row asymmetric int8 qparams in f32 (docs/quantized-ops.md, 3.2).
fn qparams(row: &[f32]) -> (f32, i32) {
    let lo = row.iter().fold(0f32, |a, &v| a.min(v));
    let hi = row.iter().fold(0f32, |a, &v| a.max(v));
    let s = ((hi - lo) / 255.0).max(f32::MIN_POSITIVE);
    let zp = (-128.0 - (lo / s).round_ties_even()).clamp(-128.0, 127.0) as i32;
    (s, zp)
}

#[test]
fn choose_qparams_affine_per_row_and_per_block() {
    // Rows: mixed signs, all positive (zp -128), all negative (zp 127), all zero (scale eps).
    let k = 12;
    let mut x = Rng::new(7).vec(4 * k);
    x[k..2 * k].iter_mut().for_each(|v| *v = v.abs() + 0.1);
    x[2 * k..3 * k].iter_mut().for_each(|v| *v = -v.abs() - 0.1);
    x[3 * k..].iter_mut().for_each(|v| *v = 0.0);
    for block in [k, 4] {
        let mut g = GraphBuilder::new();
        let xi = g.input(&[4, k]);
        let blocks = k / block;
        let qs = if blocks == 1 {
            vec![4]
        } else {
            vec![4, blocks]
        };
        let scale = g.f32(&qs);
        let zero = g.tensor(DType::Int8, &qs);
        let outs = g.value_list(&[scale, zero]);
        let mapping = g.push_string("ASYMMETRIC");
        let bs = g.int_list(&[1, block as i64]);
        let (null, qmin, qmax, keep) = (g.null(), g.int(-128), g.int(127), g.bool(false));
        g.op(
            "torchao.choose_qparams_affine.default",
            &[
                xi, mapping, bs, null, qmin, qmax, null, null, null, keep, outs,
            ],
        );
        g.output(scale);
        g.output(zero);
        let got = run(&g, vec![f32_host(&[4, k], &x)]);
        let (want_s, want_z): (Vec<f32>, Vec<i64>) = x
            .chunks(block)
            .map(|r| {
                let (s, z) = qparams(r);
                (s, z as i64)
            })
            .unzip();
        assert_eq!(got[0].to_f32_vec(), want_s, "scales, blocks of {block}");
        assert_eq!(
            got[1].to_i64_vec(),
            want_z,
            "zero points, blocks of {block}"
        );
    }
}

/// Adds a String value (choose_qparams_affine's mapping type).
trait PushString {
    fn push_string(&mut self, s: &str) -> ValueId;
}

impl PushString for GraphBuilder {
    fn push_string(&mut self, s: &str) -> ValueId {
        self.graph.values.push(Value::String(s.to_owned()));
        self.graph.values.len() - 1
    }
}

#[test]
fn linear_dq8ca_q4gsw_matches_the_reference() {
    for (i, c) in CASES.iter().enumerate() {
        let l = Linear::new(c, 20 + i as u64);
        let mut g = GraphBuilder::new();
        let x = g.input(c.x);
        let rows = &c.x[..c.x.len() - 1];
        let scale = g.f32(rows);
        let zero = g.tensor(DType::Int8, rows);
        let outs = g.value_list(&[scale, zero]);
        let mapping = g.push_string("ASYMMETRIC");
        let mut block = vec![1i64; c.x.len()];
        *block.last_mut().unwrap() = l.k as i64;
        let bs = g.int_list(&block);
        let (null, qmin, qmax, keep) = (g.null(), g.int(-128), g.int(127), g.bool(false));
        g.op(
            "torchao.choose_qparams_affine.default",
            &[
                x, mapping, bs, null, qmin, qmax, null, null, null, keep, outs,
            ],
        );
        let (w, s, b) = l.constants(&mut g, c.bias == Some(true));
        // Weight sums [groups, N8], as the exporter computes them from the signed weights.
        let n8 = l.n.div_ceil(8) * 8;
        let mut sums = vec![0i32; l.groups * n8];
        for gi in 0..l.groups {
            for nn in 0..l.n {
                sums[gi * n8 + nn] = (gi * l.group..(gi + 1) * l.group)
                    .map(|kk| l.w[nn * l.k + kk] as i32)
                    .sum();
            }
        }
        let sums_bytes = sums.iter().flat_map(|v| v.to_le_bytes()).collect();
        let sid = constant_bytes(&mut g, DType::Int32, &[l.groups, n8], sums_bytes);
        let gs = g.int(c.group as i64);
        let out = g.f32(&out_sizes(c.x, c.n));
        g.op(
            "et_vk.linear_dq8ca_q4gsw.default",
            &[x, scale, zero, w, sid, s, gs, b, out],
        );
        g.output(out);
        let xv = Rng::new(200 + i as u64).vec(l.m * l.k);
        // Reference: x quantized per row, then the dequantized product.
        let mut xq = vec![0f32; xv.len()];
        let mut act_step = 0f32;
        for (r, row) in xv.chunks(l.k).enumerate() {
            let (s, zp) = qparams(row);
            act_step = act_step.max(s);
            let inv = 1.0 / s;
            for (kk, &v) in row.iter().enumerate() {
                let q = ((v * inv).round_ties_even() + zp as f32).clamp(-128.0, 127.0);
                xq[r * l.k + kk] = (q - zp as f32) * s;
            }
        }
        let want = l.reference(&xq);
        let got = g.run(&[(c.x, &xv)]).unwrap();
        // One activation step off at a rounding tie is still correct (docs, section 9).
        let max_w = l.scales.iter().fold(0f32, |a, &s| a.max(8.0 * s));
        let what = format!("linear_dq8ca_q4gsw x {:?} N {} G {}", c.x, c.n, c.group);
        assert_close(&got[0], &want, 1.01 * act_step * max_w + 1e-5, 1e-4, &what);
    }
}

/// The high-nibble-first packing of `quantized_decomposed.embedding_4bit`.
fn pack_high_first(w: &[i8]) -> Vec<u8> {
    w.chunks(2)
        .map(|p| ((p[0] + 8) as u8) << 4 | (p[1] + 8) as u8)
        .collect()
}

#[test]
fn embeddings_of_4bit_rows() {
    let (vocab, dim) = (10usize, 48usize);
    let mut rng = Rng::new(5);
    let w = weights4(&mut rng, vocab, dim);
    let idx: Vec<i32> = vec![3, 0, 9, -1, 10, 4];
    for (op, group) in [
        ("et_vk.embedding_q4gsw.default", 16usize),
        ("et_vk.embedding_q4gsw.default (high first)", 24),
        ("quantized_decomposed.embedding_4bit.dtype", 12),
    ] {
        let groups = dim / group;
        let scales: Vec<f32> = (0..vocab * groups)
            .map(|_| 0.02 + rng.f32().abs())
            .collect();
        let linear_packing = op == "et_vk.embedding_q4gsw.default";
        let bytes = if linear_packing {
            pack_linear(&w, vocab, dim).0
        } else {
            pack_high_first(&w)
        };
        let mut g = GraphBuilder::new();
        let ii = input(&mut g, DType::Int32, &[2, 3]);
        let wid = constant_bytes(&mut g, DType::Uint8, &[vocab, dim / 2], bytes);
        let sid = g.constant(&[vocab, groups], &scales);
        let out = g.f32(&[2, 3, dim]);
        if op.starts_with("et_vk") {
            let (gs, lin) = (g.int(group as i64), g.bool(linear_packing));
            g.op(
                "et_vk.embedding_q4gsw.default",
                &[wid, sid, gs, ii, lin, out],
            );
        } else {
            let (null, qmin, qmax) = (g.null(), g.int(-8), g.int(7));
            g.op(op, &[wid, sid, null, qmin, qmax, ii, null, out]);
        }
        g.output(out);
        let got = run(&g, vec![i32_host(&[2, 3], &idx)])[0].to_f32_vec();
        let mut want = Vec::new();
        for &i in &idx {
            let row = if i < 0 { i + vocab as i32 } else { i };
            for d in 0..dim {
                want.push(if (0..vocab as i32).contains(&row) {
                    let r = row as usize;
                    w[r * dim + d] as f32 * scales[r * groups + d / group]
                } else {
                    0.0 // out of range: 0 (torch raises)
                });
            }
        }
        assert_eq!(got, want, "{op}, group {group}");
    }
}

#[test]
fn packed_4bit_weights_are_accounted_at_their_file_size() {
    let c = &CASES[1];
    let l = Linear::new(c, 3);
    // Static sizes, and a graph with a symbolic int (planned per chain op, so every tensor
    // argument of an op could be bound at some size: the raw 4-bit constant must not be).
    for symbolic in [false, true] {
        let mut g = GraphBuilder::new();
        let x = g.input(c.x);
        let (w, s, b) = l.constants(&mut g, false);
        let gs = g.int(c.group as i64);
        let out = g.f32(&out_sizes(c.x, c.n));
        g.op("et_vk.linear_q4gsw.default", &[x, w, s, gs, b, out]);
        g.output(out);
        if symbolic {
            g.graph.values.push(Value::SymInt(5));
        }
        let mut d = g.build().unwrap();
        let xv = Rng::new(4).vec(l.m * l.k);
        let got = d
            .run(&[etvk::runtime::InputValue::Tensor(f32_host(c.x, &xv))])
            .unwrap();
        assert_close(
            &got[0].to_f32_vec(),
            &l.reference(&xv),
            1e-5,
            1e-4,
            "output",
        );
        let n4 = c.n.div_ceil(4) * 4;
        // 7 rows of 20 bytes (K 36 -> 40 nibbles), the scales [3, 8], the bias padded to 8.
        assert_eq!(l.packed.len(), 7 * 20);
        let packed = (l.packed.len() as u64).next_multiple_of(4);
        let want_w = packed + (l.groups * n4 * 4) as u64 + (n4 * 4) as u64;
        let r = d.memory_report().clone();
        assert_eq!(r.weights_bytes, want_w, "symbolic: {symbolic}");
        let st = d.memory_stats();
        assert_eq!(st.peak_of(MemTag::Weight), want_w);
        assert_eq!(st.peak_of(MemTag::Activation), r.activations_bytes);
    }
}

#[test]
fn bad_4bit_arguments_are_clear_errors() {
    let c = &CASES[0];
    let l = Linear::new(c, 1);
    // Scales for the wrong number of groups.
    let mut g = GraphBuilder::new();
    let x = g.input(c.x);
    let wid = constant_bytes(&mut g, DType::Uint8, &[l.n, l.row_bytes], l.packed.clone());
    let sid = g.constant(&[3, 24], &[0.1; 72]);
    let (gs, null) = (g.int(32), g.null());
    let out = g.f32(&[1, 24]);
    g.op("et_vk.linear_q4gsw.default", &[x, wid, sid, gs, null, out]);
    g.output(out);
    let e = build_err(&g).to_string();
    assert!(e.contains("scales [3, 24]"), "{e}");
    // Weights that are an input, not a constant of the program.
    let mut g = GraphBuilder::new();
    let x = g.input(c.x);
    let wid = input(&mut g, DType::Uint8, &[l.n, l.row_bytes]);
    let sid = g.constant(&[2, 24], &[0.1; 48]);
    let (gs, null) = (g.int(32), g.null());
    let out = g.f32(&[1, 24]);
    g.op("et_vk.linear_q4gsw.default", &[x, wid, sid, gs, null, out]);
    g.output(out);
    let e = build_err(&g).to_string();
    assert!(e.contains("must be a constant"), "{e}");
}
