//! The 8-bit quantized ops (`docs/quantized-ops.md` sections 4 - 6) against CPU references over
//! edge shapes: K not a multiple of 4 or of the word, odd N, one row and several, leading
//! dims, padding / stride / dilation / groups, zero points at the int8 limits. Integer
//! results are compared exactly: the references do the f32 arithmetic of the doc (the f32
//! reciprocal of the scale, roundEven, clamp) in the same order as the kernels.
mod common;

use common::*;
use etvk::error::ErrorKind;
use etvk::format::{DType, ValueId};
use etvk::runtime::HostTensor;

// ------------------------------------------------------------------------------------------
// Helpers

/// `n` integers uniform in [lo, hi].
fn ints(rng: &mut Rng, n: usize, lo: i32, hi: i32) -> Vec<i32> {
    let span = (hi - lo + 1) as u64;
    (0..n)
        .map(|_| lo + (rng.next_u64() % span) as i32)
        .collect()
}

/// `n` floats uniform in [lo, hi).
fn uniform(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| lo + (hi - lo) * (rng.f32() * 0.5 + 0.5))
        .collect()
}

fn bytes_i8(v: &[i32]) -> Vec<u8> {
    v.iter().map(|&x| x as i8 as u8).collect()
}
fn bytes_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i8_host(sizes: &[usize], v: &[i32]) -> HostTensor {
    HostTensor::new(DType::Int8, sizes.to_vec(), bytes_i8(v)).unwrap()
}

/// `v` zero-padded to `n` entries.
fn padded<T: Copy + Default>(v: &[T], n: usize) -> Vec<T> {
    let mut out = v.to_vec();
    out.resize(n, T::default());
    out
}

/// `clamp(roundEven(x * inv) + zp, qmin, qmax)` in f32.
fn quantize(x: f32, inv: f32, zp: i32, qmin: i32, qmax: i32) -> i32 {
    let q = (x * inv).round_ties_even() + zp as f32;
    q.clamp(qmin as f32, qmax as f32) as i32
}

/// The q8ta requantization: `1 / out_scale` in double, used as f32.
fn requant(f: f32, out_scale: f64, zp: i32) -> i32 {
    quantize(f, (1.0 / out_scale) as f32, zp, -128, 127)
}

fn to_ints(t: &HostTensor) -> Vec<i32> {
    t.to_f32_vec().iter().map(|&v| v as i32).collect()
}

fn assert_ints(got: &[i32], want: &[i32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} of {} differ, first at {}: got {}, expected {}",
        bad.len(),
        got.len(),
        bad[0],
        got[bad[0]],
        want[bad[0]]
    );
    // The case must exercise more than the clamp.
    let distinct: std::collections::BTreeSet<i32> = want.iter().copied().collect();
    assert!(
        want.len() < 8 || distinct.len() > 3,
        "{what}: degenerate case"
    );
}

fn dims(lead: &[usize], last: usize) -> Vec<usize> {
    let mut d = lead.to_vec();
    d.push(last);
    d
}

fn int8_input(g: &mut GraphBuilder, sizes: &[usize]) -> ValueId {
    input(g, DType::Int8, sizes)
}

// ------------------------------------------------------------------------------------------
// Weight-only linears: et_vk.linear_qcs4w, aten._weight_int8pack_mm

/// x [lead.., K] times per-channel weights `w` [N, K] (values in the weight's range) with
/// scales [N], through `op` (4-bit or 8-bit).
fn weight_only_case(bits: u32, lead: &[usize], k: usize, n: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let m: usize = lead.iter().product();
    let x = rng.vec(m * k);
    let (lo, hi) = if bits == 4 { (-8, 7) } else { (-128, 127) };
    let w = ints(&mut rng, n * k, lo, hi);
    let scales = uniform(&mut rng, n, 0.005, 0.05);
    let mut g = GraphBuilder::new();
    let xs = dims(lead, k);
    let xi = g.input(&xs);
    let (wi, file_bytes, name) = if bits == 4 {
        // Two per byte, high nibble = even k, K padded to even with value 0 (nibble 8).
        let rb = k.div_ceil(2);
        let packed: Vec<u8> = (0..n * rb)
            .map(|i| {
                let (r, j) = (i / rb, i % rb);
                let even = w[r * k + 2 * j] + 8;
                let odd = if 2 * j + 1 < k {
                    w[r * k + 2 * j + 1] + 8
                } else {
                    8
                };
                ((even << 4) | odd) as u8
            })
            .collect();
        let id = g.constant_bytes(DType::Uint8, &[n, rb], packed);
        (id, n * rb, "et_vk.linear_qcs4w.default")
    } else {
        let id = g.constant_bytes(DType::Int8, &[n, k], bytes_i8(&w));
        (id, n * k, "aten._weight_int8pack_mm.default")
    };
    let si = g.constant(&[n], &scales);
    let out = g.f32(&dims(lead, n));
    g.op(name, &[xi, wi, si, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let got = d
        .run(&[etvk::runtime::InputValue::Tensor(f32_host(&xs, &x))])
        .unwrap()[0]
        .to_f32_vec();
    let want: Vec<f32> = (0..m * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            let s: f64 = (0..k)
                .map(|kk| x[r * k + kk] as f64 * w[c * k + kk] as f64)
                .sum();
            (s * scales[c] as f64) as f32
        })
        .collect();
    let what = format!("{name} x {xs:?}, N {n}");
    assert_close(&got, &want, 1e-4, 1e-4, &what);
    // The weights stay their file size on the device (rounded up to a word), beside the scales.
    assert_eq!(
        d.memory_report().weights_bytes,
        (file_bytes.next_multiple_of(4) + 4 * n) as u64,
        "{what}: weight bytes"
    );
}

#[test]
fn linear_qcs4w_matches_cpu() {
    // (leading dims, K, N): GEMV, K % 8 != 0 with odd row bytes, odd K, odd N, long K, 3-D.
    let cases: &[(&[usize], usize, usize)] = &[
        (&[1], 36, 12),
        (&[3], 18, 7),
        (&[5], 33, 9),
        (&[2, 3], 64, 24),
        (&[4], 7, 5),
        (&[1], 130, 3),
        (&[6], 8, 1),
    ];
    for (i, &(lead, k, n)) in cases.iter().enumerate() {
        weight_only_case(4, lead, k, n, 10 + i as u64);
    }
}

#[test]
fn weight_int8pack_mm_matches_cpu() {
    let cases: &[(&[usize], usize, usize)] = &[
        (&[1], 64, 23),
        (&[3], 18, 7),
        (&[2, 2], 37, 5),
        (&[5], 4, 1),
        (&[4], 64, 24),
        (&[1], 131, 9),
    ];
    for (i, &(lead, k, n)) in cases.iter().enumerate() {
        weight_only_case(8, lead, k, n, 20 + i as u64);
    }
}

// ------------------------------------------------------------------------------------------
// Static int8 linears: et_vk.q8ta_linear, q8ta_linear_gemv, linear_q8ta_q8csw

#[derive(Clone, Copy)]
struct Q8Linear {
    lead: &'static [usize],
    k: usize,
    n: usize,
    in_zp: i32,
    out_zp: i32,
    bias: bool,
    relu: bool,
    /// linear_q8ta_q8csw: float output, no requantization.
    float_out: bool,
}

fn q8_linear_case(c: Q8Linear, seed: u64) {
    let mut rng = Rng::new(seed);
    let (k, n) = (c.k, c.n);
    let n4 = n.div_ceil(4) * 4;
    let m: usize = c.lead.iter().product();
    let x = ints(&mut rng, m * k, -128, 127);
    let w = ints(&mut rng, n * k, -127, 127);
    let sums: Vec<i32> = (0..n4)
        .map(|r| {
            if r < n {
                w[r * k..(r + 1) * k].iter().sum()
            } else {
                0
            }
        })
        .collect();
    let wscales = padded(&uniform(&mut rng, n, 0.002, 0.01), n4);
    let bias = padded(&uniform(&mut rng, n, -2.0, 2.0), n4);
    let in_scale = 0.0213;
    // Outputs spread over the int8 range: f is about sqrt(K) * 150 * in_scale * w_scale.
    let out_scale = 0.004 * (k as f64).sqrt();

    let mut g = GraphBuilder::new();
    let xs = dims(c.lead, k);
    let xi = int8_input(&mut g, &xs);
    let si = g.double(in_scale);
    let zi = g.int(c.in_zp as i64);
    let wi = g.constant_bytes(DType::Int8, &[n, k], bytes_i8(&w));
    let sumi = g.constant_bytes(DType::Int32, &[n4], bytes_i32(&sums));
    let wsi = g.constant(&[n4], &wscales);
    let bi = if c.bias {
        g.constant(&[n4], &bias)
    } else {
        g.null()
    };
    let os = dims(c.lead, n);
    let name;
    let out;
    if c.float_out {
        out = g.f32(&os);
        name = "et_vk.linear_q8ta_q8csw.default";
        g.op(name, &[xi, si, zi, wi, sumi, wsi, bi, out]);
    } else {
        out = g.tensor(DType::Int8, &os);
        name = if m == 1 {
            "et_vk.q8ta_linear_gemv.default"
        } else {
            "et_vk.q8ta_linear.default"
        };
        let osi = g.double(out_scale);
        let ozi = g.int(c.out_zp as i64);
        let act = g.string(if c.relu { "relu" } else { "none" });
        g.op(name, &[xi, si, zi, wi, sumi, wsi, osi, ozi, bi, act, out]);
    }
    g.output(out);
    let got = run(&g, vec![i8_host(&xs, &x)]).remove(0);

    let f: Vec<f32> = (0..m * n)
        .map(|i| {
            let (r, col) = (i / n, i % n);
            let acc: i32 = (0..k)
                .map(|kk| (x[r * k + kk] - c.in_zp) * w[col * k + kk])
                .sum();
            let mut f = acc as f32 * (in_scale as f32 * wscales[col]);
            if c.bias {
                f += bias[col];
            }
            f
        })
        .collect();
    let what = format!("{name} x {xs:?} N {n} zp {} -> {}", c.in_zp, c.out_zp);
    if c.float_out {
        assert_close(&got.to_f32_vec(), &f, 1e-5, 1e-6, &what);
    } else {
        let want: Vec<i32> = f
            .iter()
            .map(|&v| requant(if c.relu { v.max(0.0) } else { v }, out_scale, c.out_zp))
            .collect();
        assert_ints(&to_ints(&got), &want, &what);
    }
}

#[test]
fn q8ta_linear_matches_cpu() {
    let base = Q8Linear {
        lead: &[3],
        k: 64,
        n: 24,
        in_zp: -14,
        out_zp: 6,
        bias: true,
        relu: false,
        float_out: false,
    };
    let cases = [
        base,
        // GEMV, no bias.
        Q8Linear {
            lead: &[1],
            n: 20,
            bias: false,
            in_zp: 127,
            ..base
        },
        // K % 4 != 0 (rows off word boundaries), odd N, zero points at the limits, relu.
        Q8Linear {
            lead: &[2],
            k: 18,
            n: 7,
            in_zp: -128,
            out_zp: -128,
            relu: true,
            ..base
        },
        Q8Linear {
            lead: &[5],
            k: 33,
            n: 22,
            out_zp: 127,
            ..base
        },
        Q8Linear {
            lead: &[2, 3],
            k: 4,
            n: 9,
            in_zp: 0,
            relu: true,
            ..base
        },
        Q8Linear {
            lead: &[1],
            k: 131,
            n: 5,
            ..base
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_linear_case(*c, 30 + i as u64);
    }
}

#[test]
fn linear_q8ta_q8csw_matches_cpu() {
    let base = Q8Linear {
        lead: &[3],
        k: 64,
        n: 24,
        in_zp: 13,
        out_zp: 0,
        bias: true,
        relu: false,
        float_out: true,
    };
    let cases = [
        base,
        Q8Linear {
            lead: &[1],
            k: 18,
            n: 7,
            in_zp: -128,
            bias: false,
            ..base
        },
        Q8Linear {
            lead: &[2, 2],
            k: 37,
            n: 10,
            in_zp: 127,
            ..base
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_linear_case(*c, 40 + i as u64);
    }
}

// ------------------------------------------------------------------------------------------
// Static int8 convolutions: et_vk.q8ta_conv2d, _pw, _dw, _transposed

#[derive(Clone, Copy, PartialEq)]
enum ConvKind {
    Regular,
    Pointwise,
    Depthwise,
    Transposed,
}

#[derive(Clone, Copy)]
struct Q8Conv {
    kind: ConvKind,
    n: usize,
    ic: usize,
    h: usize,
    w: usize,
    oc: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    out_pad: [usize; 2],
    dil: [usize; 2],
    groups: usize,
    relu: bool,
    bias: bool,
    in_zp: i32,
    out_zp: i32,
}

impl Q8Conv {
    fn regular(ic: usize, oc: usize, h: usize, w: usize) -> Self {
        Q8Conv {
            kind: ConvKind::Regular,
            n: 1,
            ic,
            h,
            w,
            oc,
            kernel: [3, 3],
            stride: [1, 1],
            pad: [1, 1],
            out_pad: [0, 0],
            dil: [1, 1],
            groups: 1,
            relu: false,
            bias: true,
            in_zp: 4,
            out_zp: 2,
        }
    }

    fn out_hw(&self) -> [usize; 2] {
        let ins = [self.h, self.w];
        [0, 1].map(|d| {
            let (i, k, s, p, dl) = (
                ins[d],
                self.kernel[d],
                self.stride[d],
                self.pad[d],
                self.dil[d],
            );
            if self.kind == ConvKind::Transposed {
                (i - 1) * s + dl * (k - 1) + self.out_pad[d] + 1 - 2 * p
            } else {
                (i + 2 * p - dl * (k - 1) - 1) / s + 1
            }
        })
    }
}

fn q8_conv_case(c: Q8Conv, seed: u64) {
    let mut rng = Rng::new(seed);
    let [kh, kw] = c.kernel;
    let icg = c.ic / c.groups;
    let ocg = c.oc / c.groups;
    let [oh, ow] = c.out_hw();
    let x = ints(&mut rng, c.n * c.ic * c.h * c.w, -128, 127);
    // PyTorch's weights: [OC, ICg, KH, KW], transposed [IC, OCg, KH, KW].
    let wt = if c.kind == ConvKind::Transposed {
        ints(&mut rng, c.ic * ocg * kh * kw, -127, 127)
    } else {
        ints(&mut rng, c.oc * icg * kh * kw, -127, 127)
    };
    let oc4 = c.oc.div_ceil(4) * 4;
    let wscales = padded(&uniform(&mut rng, c.oc, 0.002, 0.01), oc4);
    let bias = padded(&uniform(&mut rng, c.oc, -2.0, 2.0), oc4);
    let in_scale = 0.0219;
    let taps = (icg * kh * kw) as f64;
    let out_scale = 0.004 * taps.sqrt();

    // The exporter's packing (docs/quantized-ops.md 5.3, 5.4).
    let kk = kh * kw * icg;
    let kp = kk.div_ceil(4) * 4;
    let (w_dims, packed, sums) = if c.kind == ConvKind::Depthwise {
        let mut p = vec![0; kh * kw * oc4];
        for ch in 0..c.oc {
            for i in 0..kh * kw {
                p[i * oc4 + ch] = wt[ch * kh * kw + i];
            }
        }
        let sums = (0..oc4)
            .map(|ch| (0..kh * kw).map(|i| p[i * oc4 + ch]).sum())
            .collect::<Vec<i32>>();
        (vec![kh, kw, oc4], p, sums)
    } else {
        let mut p = vec![0; c.oc * kp];
        for o in 0..c.oc {
            for i in 0..kh {
                for j in 0..kw {
                    for ic in 0..icg {
                        let v = if c.kind == ConvKind::Transposed {
                            let (g, oo) = (o / ocg, o % ocg);
                            wt[(((g * icg + ic) * ocg + oo) * kh + i) * kw + j]
                        } else {
                            wt[((o * icg + ic) * kh + i) * kw + j]
                        };
                        p[o * kp + (i * kw + j) * icg + ic] = v;
                    }
                }
            }
        }
        let sums = (0..oc4)
            .map(|o| {
                if o < c.oc {
                    p[o * kp..(o + 1) * kp].iter().sum()
                } else {
                    0
                }
            })
            .collect::<Vec<i32>>();
        (vec![c.oc, kp], p, sums)
    };

    let mut g = GraphBuilder::new();
    let xs = [c.n, c.ic, c.h, c.w];
    let xi = int8_input(&mut g, &xs);
    let si = g.double(in_scale);
    let zi = g.int(c.in_zp as i64);
    let wi = g.constant_bytes(DType::Int8, &w_dims, bytes_i8(&packed));
    let sumi = g.constant_bytes(DType::Int32, &[oc4], bytes_i32(&sums));
    let wsi = g.constant(&[oc4], &wscales);
    let osi = g.double(out_scale);
    let ozi = g.int(c.out_zp as i64);
    let bi = if c.bias {
        g.constant(&[oc4], &bias)
    } else {
        g.null()
    };
    let ks = g.int_list(&c.kernel.map(|v| v as i64));
    let st = g.int_list(&c.stride.map(|v| v as i64));
    let pd = g.int_list(&c.pad.map(|v| v as i64));
    let op_ = g.int_list(&c.out_pad.map(|v| v as i64));
    let dl = g.int_list(&c.dil.map(|v| v as i64));
    let gr = g.int(c.groups as i64);
    let act = g.string(if c.relu { "relu" } else { "none" });
    let out = g.tensor(DType::Int8, &[c.n, c.oc, oh, ow]);
    let name = match c.kind {
        ConvKind::Regular => "et_vk.q8ta_conv2d.default",
        ConvKind::Pointwise => "et_vk.q8ta_conv2d_pw.default",
        ConvKind::Depthwise => "et_vk.q8ta_conv2d_dw.default",
        ConvKind::Transposed => "et_vk.q8ta_conv2d_transposed.default",
    };
    let mut args = vec![xi, si, zi, wi, sumi, wsi, osi, ozi, bi, ks, st, pd];
    if c.kind == ConvKind::Transposed {
        args.push(op_);
    }
    args.extend([dl, gr, act, out]);
    g.op(name, &args);
    g.output(out);
    let got = to_ints(&run(&g, vec![i8_host(&xs, &x)])[0]);

    // Integer accumulators, then the requantization.
    let xat = |nb: usize, ch: usize, y: usize, xx: usize| {
        x[((nb * c.ic + ch) * c.h + y) * c.w + xx] - c.in_zp
    };
    let mut acc = vec![0i32; c.n * c.oc * oh * ow];
    for nb in 0..c.n {
        for o in 0..c.oc {
            let gidx = o / ocg;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut a = 0;
                    for i in 0..kh {
                        for j in 0..kw {
                            for ic in 0..icg {
                                let (iy, ix, ch, wv);
                                if c.kind == ConvKind::Transposed {
                                    // y = iy * s - p + i
                                    let ty = (y + c.pad[0]) as i64 - i as i64;
                                    let tx = (xx + c.pad[1]) as i64 - j as i64;
                                    let (sy, sx) = (c.stride[0] as i64, c.stride[1] as i64);
                                    if ty < 0 || tx < 0 || ty % sy != 0 || tx % sx != 0 {
                                        continue;
                                    }
                                    (iy, ix) = (ty / sy, tx / sx);
                                    ch = gidx * icg + ic;
                                    wv = wt[((ch * ocg + o % ocg) * kh + i) * kw + j];
                                } else {
                                    iy = (y * c.stride[0] + i * c.dil[0]) as i64 - c.pad[0] as i64;
                                    ix = (xx * c.stride[1] + j * c.dil[1]) as i64 - c.pad[1] as i64;
                                    ch = if c.kind == ConvKind::Depthwise {
                                        o
                                    } else {
                                        gidx * icg + ic
                                    };
                                    wv = wt[((o * icg + ic) * kh + i) * kw + j];
                                }
                                if iy < 0 || ix < 0 || iy >= c.h as i64 || ix >= c.w as i64 {
                                    continue;
                                }
                                a += xat(nb, ch, iy as usize, ix as usize) * wv;
                            }
                        }
                    }
                    acc[((nb * c.oc + o) * oh + y) * ow + xx] = a;
                }
            }
        }
    }
    let want: Vec<i32> = acc
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let o = (i / (oh * ow)) % c.oc;
            let mut f = a as f32 * (in_scale as f32 * wscales[o]);
            if c.bias {
                f += bias[o];
            }
            if c.relu {
                f = f.max(0.0);
            }
            requant(f, out_scale, c.out_zp)
        })
        .collect();
    let what = format!(
        "{name} x {xs:?} oc {} kernel {:?} stride {:?} pad {:?} out_pad {:?} dil {:?} groups {}",
        c.oc, c.kernel, c.stride, c.pad, c.out_pad, c.dil, c.groups
    );
    assert_ints(&got, &want, &what);
}

#[test]
fn q8ta_conv2d_matches_cpu() {
    let base = Q8Conv::regular(4, 8, 9, 8);
    let cases = [
        base,
        // K = 27 padded to 28, OC 6 (a partial block of 4), stride 2, relu, zero points at the
        // limits (padding reads in_zp).
        Q8Conv {
            ic: 3,
            oc: 6,
            h: 8,
            w: 7,
            stride: [2, 2],
            relu: true,
            in_zp: -128,
            out_zp: -128,
            ..base
        },
        // Grouped and dilated.
        Q8Conv {
            ic: 8,
            oc: 8,
            h: 9,
            w: 9,
            pad: [2, 2],
            dil: [2, 2],
            groups: 2,
            bias: false,
            in_zp: 127,
            out_zp: 127,
            ..base
        },
        // Groups whose output channels are not a multiple of 4; a batch of 2.
        Q8Conv {
            n: 2,
            ic: 6,
            oc: 6,
            h: 5,
            w: 6,
            groups: 3,
            ..base
        },
        // A 2x3 kernel, unequal strides and paddings, an output narrower than a tile.
        Q8Conv {
            ic: 5,
            oc: 4,
            h: 7,
            w: 5,
            kernel: [2, 3],
            stride: [2, 1],
            pad: [0, 1],
            ..base
        },
        Q8Conv {
            ic: 2,
            oc: 3,
            h: 4,
            w: 3,
            kernel: [3, 1],
            stride: [1, 3],
            pad: [1, 0],
            ..base
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_conv_case(*c, 50 + i as u64);
    }
}

#[test]
fn q8ta_conv2d_pw_matches_cpu() {
    let pw = Q8Conv {
        kind: ConvKind::Pointwise,
        kernel: [1, 1],
        pad: [0, 0],
        ..Q8Conv::regular(8, 12, 5, 6)
    };
    let cases = [
        pw,
        Q8Conv {
            ic: 16,
            oc: 10,
            h: 4,
            w: 3,
            bias: false,
            in_zp: -128,
            out_zp: 127,
            ..pw
        },
        // IC not a multiple of 4 (K padded), odd OC.
        Q8Conv {
            ic: 7,
            oc: 5,
            h: 3,
            w: 9,
            relu: true,
            ..pw
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_conv_case(*c, 60 + i as u64);
    }
}

#[test]
fn q8ta_conv2d_dw_matches_cpu() {
    let dw = Q8Conv {
        kind: ConvKind::Depthwise,
        groups: 8,
        ..Q8Conv::regular(8, 8, 9, 8)
    };
    let cases = [
        dw,
        // 3x5 kernel, stride 2, padding (1, 2), relu.
        Q8Conv {
            ic: 12,
            oc: 12,
            groups: 12,
            h: 9,
            w: 10,
            kernel: [3, 5],
            stride: [2, 2],
            pad: [1, 2],
            relu: true,
            in_zp: 1,
            out_zp: -128,
            ..dw
        },
        // 6 channels (weights padded to 8), dilation 2, batch 2, zero points at the limits.
        Q8Conv {
            n: 2,
            ic: 6,
            oc: 6,
            groups: 6,
            h: 7,
            w: 6,
            dil: [2, 2],
            pad: [2, 1],
            bias: false,
            in_zp: -128,
            out_zp: 127,
            ..dw
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_conv_case(*c, 70 + i as u64);
    }
}

#[test]
fn q8ta_conv2d_transposed_matches_cpu() {
    let t = Q8Conv {
        kind: ConvKind::Transposed,
        stride: [2, 2],
        ..Q8Conv::regular(4, 8, 5, 6)
    };
    let cases = [
        t,
        // 3x2 kernel, output padding, OC 6, padding (1, 0).
        Q8Conv {
            ic: 8,
            oc: 6,
            h: 4,
            w: 5,
            kernel: [3, 2],
            pad: [1, 0],
            out_pad: [1, 1],
            in_zp: -8,
            out_zp: -6,
            ..t
        },
        // Groups (OCg = 3), unequal strides, zero points at the limits.
        Q8Conv {
            n: 2,
            ic: 4,
            oc: 6,
            h: 3,
            w: 4,
            groups: 2,
            stride: [2, 3],
            pad: [0, 1],
            relu: true,
            in_zp: 127,
            out_zp: -128,
            ..t
        },
        // Stride 1.
        Q8Conv {
            ic: 3,
            oc: 5,
            h: 4,
            w: 4,
            stride: [1, 1],
            pad: [0, 0],
            bias: false,
            ..t
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        q8_conv_case(*c, 80 + i as u64);
    }
}

// ------------------------------------------------------------------------------------------
// Static int8 elementwise ops: et_vk.q8ta_add, q8ta_relu, q8ta_pixel_shuffle

#[test]
fn q8ta_add_and_relu_match_cpu() {
    let mut rng = Rng::new(90);
    let shapes: &[&[usize]] = &[&[1, 8, 5, 6], &[3, 7], &[13]];
    for (si, &shape) in shapes.iter().enumerate() {
        let n: usize = shape.iter().product();
        let a = ints(&mut rng, n, -128, 127);
        let bv = ints(&mut rng, n, -128, 127);
        // (a_scale, a_zp, b_scale, b_zp, out_scale, out_zp, alpha)
        let params = [
            (0.0221, 18, 0.0382, 7, 0.0411, 5, 1.0),
            (0.0238, -128, 0.0231, 127, 0.0138, -128, 1.0),
            (0.01, 127, 0.02, -128, 0.05, 127, 0.5),
        ];
        for &(sa, za, sb, zb, so, zo, alpha) in &params {
            let mut g = GraphBuilder::new();
            let ai = int8_input(&mut g, shape);
            let bi = int8_input(&mut g, shape);
            let vals = [
                g.double(sa),
                g.int(za as i64),
                g.double(sb),
                g.int(zb as i64),
                g.double(so),
                g.int(zo as i64),
                g.double(alpha),
            ];
            let out = g.tensor(DType::Int8, shape);
            let mut args = vec![ai, bi];
            args.extend(vals);
            args.push(out);
            g.op("et_vk.q8ta_add.default", &args);
            g.output(out);
            let got = to_ints(&run(&g, vec![i8_host(shape, &a), i8_host(shape, &bv)])[0]);
            let want: Vec<i32> = (0..n)
                .map(|i| {
                    let fa = (a[i] - za) as f32 * sa as f32;
                    let fb = (bv[i] - zb) as f32 * sb as f32;
                    requant(fa + alpha as f32 * fb, so, zo)
                })
                .collect();
            assert_ints(&got, &want, &format!("q8ta_add {shape:?} case {si}"));

            // relu of a with the same qparams as the add's a -> out.
            let mut g = GraphBuilder::new();
            let ai = int8_input(&mut g, shape);
            let s_in = g.double(sa);
            let z_in = g.int(za as i64);
            let s_out = g.double(so);
            let z_out = g.int(zo as i64);
            let out = g.tensor(DType::Int8, shape);
            g.op(
                "et_vk.q8ta_relu.default",
                &[ai, s_in, z_in, s_out, z_out, out],
            );
            g.output(out);
            let got = to_ints(&run(&g, vec![i8_host(shape, &a)])[0]);
            let want: Vec<i32> = (0..n)
                .map(|i| requant(((a[i] - za) as f32 * sa as f32).max(0.0), so, zo))
                .collect();
            let distinct: std::collections::BTreeSet<i32> = want.iter().copied().collect();
            if distinct.len() > 3 {
                assert_ints(&got, &want, &format!("q8ta_relu {shape:?}"));
            } else {
                assert_eq!(got, want, "q8ta_relu {shape:?}");
            }
        }
    }
}

#[test]
fn q8ta_pixel_shuffle_matches_cpu() {
    let mut rng = Rng::new(95);
    // (input sizes, r, out scale = in scale?)
    let cases: &[(&[usize], usize, bool)] = &[
        (&[1, 16, 3, 4], 2, true),
        (&[2, 18, 2, 3], 3, false),
        (&[8, 5, 1], 2, false),
    ];
    for &(shape, r, same) in cases {
        let n: usize = shape.iter().product();
        let x = ints(&mut rng, n, -128, 127);
        let (s_in, z_in) = (0.0231, 2);
        let (s_out, z_out) = if same { (s_in, z_in) } else { (0.017, -128) };
        let rank = shape.len();
        let (c, h, w) = (shape[rank - 3] / (r * r), shape[rank - 2], shape[rank - 1]);
        let lead: usize = shape[..rank - 3].iter().product();
        let mut os = shape[..rank - 3].to_vec();
        os.extend([c, h * r, w * r]);
        let mut g = GraphBuilder::new();
        let xi = int8_input(&mut g, shape);
        let a1 = g.double(s_in);
        let a2 = g.int(z_in);
        let a3 = g.double(1.0 / s_out);
        let a4 = g.int(z_out);
        let a5 = g.int(r as i64);
        let out = g.tensor(DType::Int8, &os);
        g.op(
            "et_vk.q8ta_pixel_shuffle.default",
            &[xi, a1, a2, a3, a4, a5, out],
        );
        g.output(out);
        let got = to_ints(&run(&g, vec![i8_host(shape, &x)])[0]);
        let inv = (1.0 / s_out) as f32;
        let mut want = vec![0; n];
        for z in 0..lead * c {
            for oy in 0..h * r {
                for ox in 0..w * r {
                    let ci = z * r * r + (oy % r) * r + ox % r;
                    let q = x[(ci * h + oy / r) * w + ox / r];
                    let f = (q - z_in as i32) as f32 * s_in as f32;
                    want[(z * h * r + oy) * w * r + ox] = quantize(f, inv, z_out as i32, -128, 127);
                }
            }
        }
        if same {
            // Equal qparams: a pure shuffle.
            let mut sorted_got = got.clone();
            let mut sorted_x = x.clone();
            sorted_got.sort();
            sorted_x.sort();
            assert_eq!(sorted_got, sorted_x);
        }
        assert_ints(&got, &want, &format!("q8ta_pixel_shuffle {shape:?} r {r}"));
    }
}

// ------------------------------------------------------------------------------------------
// Quantize, dequantize, choose_qparams

/// Runs one op over a float or int8 input and returns its output as values.
fn run_one(g: &GraphBuilder, inputs: Vec<HostTensor>) -> Vec<f32> {
    run(g, inputs).remove(0).to_f32_vec()
}

#[test]
fn quantize_dequantize_per_tensor_match_cpu() {
    let mut rng = Rng::new(100);
    let shape = [2, 3, 10];
    let n = 60;
    // Ties: with scale 0.5 (reciprocal 2, exact) x = k / 4 lands on halves.
    let ties: Vec<f32> = (0..n).map(|i| (i as f32 - 30.0) * 0.25).collect();
    let random: Vec<f32> = rng.vec(n).iter().map(|v| v * 3.0).collect();
    // (x, scale, zp, qmin, qmax, out dtype)
    let cases = [
        (&ties, 0.5, 0, -128, 127, DType::Int8),
        (&ties, 0.5, 3, -8, 7, DType::Int8),
        (&random, 0.02, 3, -128, 127, DType::Int8),
        (&random, 0.013, -128, -128, 127, DType::Int8),
        (&random, 0.031, 127, 0, 255, DType::Uint8),
    ];
    for (x, s, zp, qmin, qmax, dt) in cases {
        for tensor_qparams in [false, true] {
            let mut g = GraphBuilder::new();
            let xi = g.input(&shape);
            let (si, zi, name, inputs) = if tensor_qparams {
                let si = input(&mut g, DType::Float32, &[1]);
                let zi = input(&mut g, DType::Int32, &[1]);
                let ins = vec![
                    f32_host(&shape, x),
                    f32_host(&[1], &[s as f32]),
                    i32_host(&[1], &[zp]),
                ];
                (
                    si,
                    zi,
                    "quantized_decomposed.quantize_per_tensor.tensor",
                    ins,
                )
            } else {
                let si = g.double(s);
                let zi = g.int(zp as i64);
                let ins = vec![f32_host(&shape, x)];
                (
                    si,
                    zi,
                    "quantized_decomposed.quantize_per_tensor.default",
                    ins,
                )
            };
            let lo = g.int(qmin as i64);
            let hi = g.int(qmax as i64);
            let dtype = g.null();
            let out = g.tensor(dt, &shape);
            g.op(name, &[xi, si, zi, lo, hi, dtype, out]);
            g.output(out);
            let got: Vec<i32> = run_one(&g, inputs).iter().map(|&v| v as i32).collect();
            // .default: 1 / scale in double as f32; .tensor: 1 / f32 scale in f32 (the same
            // here, the eager op's double reciprocal of an f32 rounds alike).
            let inv = if tensor_qparams {
                1.0 / s as f32
            } else {
                (1.0 / s) as f32
            };
            let want: Vec<i32> = x
                .iter()
                .map(|&v| quantize(v, inv, zp, qmin, qmax))
                .collect();
            assert_ints(
                &got,
                &want,
                &format!("{name} s {s} zp {zp} [{qmin}, {qmax}]"),
            );

            // Dequantize the result back.
            let mut g = GraphBuilder::new();
            let qi = input(&mut g, dt, &shape);
            let (si, zi, name, mut inputs) = if tensor_qparams {
                let si = input(&mut g, DType::Float32, &[1]);
                let zi = input(&mut g, DType::Int32, &[1]);
                let ins = vec![f32_host(&[1], &[s as f32]), i32_host(&[1], &[zp])];
                (
                    si,
                    zi,
                    "quantized_decomposed.dequantize_per_tensor.tensor",
                    ins,
                )
            } else {
                let si = g.double(s);
                let zi = g.int(zp as i64);
                (
                    si,
                    zi,
                    "quantized_decomposed.dequantize_per_tensor.default",
                    vec![],
                )
            };
            let lo = g.int(qmin as i64);
            let hi = g.int(qmax as i64);
            let dtype = g.null();
            let out_dtype = g.null();
            let out = g.f32(&shape);
            g.op(name, &[qi, si, zi, lo, hi, dtype, out_dtype, out]);
            g.output(out);
            let q = if dt == DType::Uint8 {
                HostTensor::new(dt, shape.to_vec(), want.iter().map(|&v| v as u8).collect())
                    .unwrap()
            } else {
                i8_host(&shape, &want)
            };
            inputs.insert(0, q);
            let got = run_one(&g, inputs);
            let back: Vec<f32> = want.iter().map(|&q| (q - zp) as f32 * s as f32).collect();
            assert_eq!(got, back, "{name} s {s} zp {zp}");
        }
    }
}

/// `quantize_per_channel` / `dequantize_per_channel` along `axis` of `shape`, with or without
/// zero points.
fn per_channel_case(shape: &[usize], axis: i64, zeros: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let a = if axis < 0 {
        axis + shape.len() as i64
    } else {
        axis
    } as usize;
    let c = shape[a];
    let inner: usize = shape[a + 1..].iter().product();
    let x: Vec<f32> = rng.vec(n).iter().map(|v| v * 2.0).collect();
    let scales = uniform(&mut rng, c, 0.005, 0.03);
    let zps = if zeros {
        ints(&mut rng, c, -128, 127)
    } else {
        vec![0; c]
    };
    let ch = |i: usize| (i / inner) % c;

    let mut g = GraphBuilder::new();
    let xi = g.input(shape);
    let si = g.constant(&[c], &scales);
    let zi = if zeros {
        g.constant_bytes(DType::Int32, &[c], bytes_i32(&zps))
    } else {
        g.null()
    };
    let ax = g.int(axis);
    let lo = g.int(-128);
    let hi = g.int(127);
    let dtype = g.null();
    let out = g.tensor(DType::Int8, shape);
    g.op(
        "quantized_decomposed.quantize_per_channel.default",
        &[xi, si, zi, ax, lo, hi, dtype, out],
    );
    g.output(out);
    let got: Vec<i32> = run_one(&g, vec![f32_host(shape, &x)])
        .iter()
        .map(|&v| v as i32)
        .collect();
    let want: Vec<i32> = (0..n)
        .map(|i| quantize(x[i], 1.0 / scales[ch(i)], zps[ch(i)], -128, 127))
        .collect();
    let what = format!("per channel {shape:?} axis {axis} zero points {zeros}");
    assert_ints(&got, &want, &what);

    let mut g = GraphBuilder::new();
    let qi = int8_input(&mut g, shape);
    let si = g.constant(&[c], &scales);
    let zi = if zeros {
        g.constant_bytes(DType::Int32, &[c], bytes_i32(&zps))
    } else {
        g.null()
    };
    let ax = g.int(axis);
    let lo = g.int(-128);
    let hi = g.int(127);
    let dtype = g.null();
    let out_dtype = g.null();
    let out = g.f32(shape);
    g.op(
        "quantized_decomposed.dequantize_per_channel.default",
        &[qi, si, zi, ax, lo, hi, dtype, out_dtype, out],
    );
    g.output(out);
    let got = run_one(&g, vec![i8_host(shape, &want)]);
    let back: Vec<f32> = (0..n)
        .map(|i| (want[i] - zps[ch(i)]) as f32 * scales[ch(i)])
        .collect();
    assert_eq!(got, back, "de{what}");
}

#[test]
fn quantize_dequantize_per_channel_match_cpu() {
    per_channel_case(&[3, 8, 5], 1, true, 110);
    per_channel_case(&[24, 64], 0, true, 111);
    per_channel_case(&[24, 18], 0, false, 112);
    per_channel_case(&[2, 3, 7], -1, true, 113);
    per_channel_case(&[5, 2, 2, 3], 2, false, 114);
}

/// Per-row qparams through `quantize_per_token` / `dequantize_per_token` and through
/// torchao's `quantize_affine` / `dequantize_affine` with `block`.
fn per_block_case(shape: &[usize], block: Option<&[i64]>, zeros: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let inner: usize = match block {
        Some(b) => {
            let j = b.iter().position(|&v| v != 1).unwrap_or(b.len() - 1);
            b[j..].iter().product::<i64>() as usize
        }
        None => *shape.last().unwrap(),
    };
    let groups = n / inner;
    let x: Vec<f32> = rng.vec(n).iter().map(|v| v * 2.0).collect();
    let scales = uniform(&mut rng, groups, 0.005, 0.03);
    let zps = if zeros {
        ints(&mut rng, groups, -128, 127)
    } else {
        vec![0; groups]
    };
    // The qparams' shape: [..., 1] per token, [..., K / B] per block.
    let qshape: Vec<usize> = match block {
        None => dims(&shape[..shape.len() - 1], 1),
        Some(_) => vec![groups],
    };
    let q_of = |i: usize| i / inner;

    for quantize_op in [true, false] {
        let mut g = GraphBuilder::new();
        let xi = if quantize_op {
            g.input(shape)
        } else {
            int8_input(&mut g, shape)
        };
        let si = input(&mut g, DType::Float32, &qshape);
        let zi = if zeros || block.is_none() {
            // Per token: int32 zero points; torchao: int8 ones.
            input(
                &mut g,
                if block.is_none() {
                    DType::Int32
                } else {
                    DType::Int8
                },
                &qshape,
            )
        } else {
            g.null()
        };
        let lo = g.int(-128);
        let hi = g.int(127);
        let null = g.null();
        let out = if quantize_op {
            g.tensor(DType::Int8, shape)
        } else {
            g.f32(shape)
        };
        let (name, args) = match (block, quantize_op) {
            (None, true) => (
                "quantized_decomposed.quantize_per_token.default",
                vec![xi, si, zi, lo, hi, null, out],
            ),
            (None, false) => (
                "quantized_decomposed.dequantize_per_token.default",
                vec![xi, si, zi, lo, hi, null, null, out],
            ),
            (Some(b), true) => {
                let bl = g.int_list(b);
                (
                    "torchao.quantize_affine.default",
                    vec![xi, bl, si, zi, null, lo, hi, out],
                )
            }
            (Some(b), false) => {
                let bl = g.int_list(b);
                let f32_code = g.int(6);
                (
                    "torchao.dequantize_affine.default",
                    vec![xi, bl, si, zi, null, lo, hi, f32_code, out],
                )
            }
        };
        g.op(name, &args);
        g.output(out);
        let want_q: Vec<i32> = (0..n)
            .map(|i| quantize(x[i], 1.0 / scales[q_of(i)], zps[q_of(i)], -128, 127))
            .collect();
        let mut inputs = vec![if quantize_op {
            f32_host(shape, &x)
        } else {
            i8_host(shape, &want_q)
        }];
        inputs.push(f32_host(&qshape, &scales));
        if zeros || block.is_none() {
            inputs.push(if block.is_none() {
                i32_host(&qshape, &zps)
            } else {
                i8_host(&qshape, &zps)
            });
        }
        let got = run_one(&g, inputs);
        let what = format!("{name} {shape:?} block {block:?} zero points {zeros}");
        if quantize_op {
            let got: Vec<i32> = got.iter().map(|&v| v as i32).collect();
            assert_ints(&got, &want_q, &what);
        } else {
            let back: Vec<f32> = (0..n)
                .map(|i| (want_q[i] - zps[q_of(i)]) as f32 * scales[q_of(i)])
                .collect();
            assert_eq!(got, back, "{what}");
        }
    }
}

#[test]
fn quantize_dequantize_per_token_match_cpu() {
    per_block_case(&[2, 3, 16], None, true, 120);
    per_block_case(&[3, 40], None, true, 121);
    per_block_case(&[5, 7], None, true, 122);
    per_block_case(&[1, 130], None, true, 123);
}

#[test]
fn torchao_quantize_dequantize_affine_match_cpu() {
    per_block_case(&[3, 64], Some(&[1, 16]), true, 130);
    // The unfused 4-bit weight of docs 7: [N, K] int8 with blocks of 6.
    per_block_case(&[8, 18], Some(&[1, 6]), true, 131);
    per_block_case(&[2, 3, 16], Some(&[1, 1, 8]), false, 132);
    // Whole rows, and the whole tensor.
    per_block_case(&[4, 10], Some(&[1, 10]), true, 133);
    per_block_case(&[2, 3, 5], Some(&[2, 3, 5]), true, 134);
}

/// `lo`, `hi` of `x` widened to include 0.
fn range0(x: &[f32]) -> (f32, f32) {
    let lo = x.iter().copied().fold(0.0f32, f32::min);
    let hi = x.iter().copied().fold(0.0f32, f32::max);
    (lo, hi)
}

#[test]
fn choose_qparams_tensor_matches_cpu() {
    let mut rng = Rng::new(140);
    let random: Vec<f32> = rng.vec(192).iter().map(|v| v * 3.0).collect();
    let positive: Vec<f32> = random.iter().map(|v| v.abs() + 0.5).collect();
    let negative: Vec<f32> = random.iter().map(|v| -v.abs() - 0.1).take(5).collect();
    let zeros = vec![0.0f32; 7];
    // (x, qmin, qmax, eps)
    let cases = [
        (&random, -128, 127, 1e-7),
        (&positive, -128, 127, 1e-7),
        (&negative, 0, 255, 1e-5),
        (&zeros, -128, 127, 1e-7),
    ];
    for (x, qmin, qmax, eps) in cases {
        let shape = [x.len()];
        let mut g = GraphBuilder::new();
        let xi = g.input(&shape);
        let lo = g.int(qmin as i64);
        let hi = g.int(qmax as i64);
        let e = g.double(eps);
        let dtype = g.null();
        let s = g.f32(&[1]);
        let z = g.tensor(DType::Int32, &[1]);
        let outs = g.value_list(&[s, z]);
        g.op(
            "quantized_decomposed.choose_qparams.tensor",
            &[xi, lo, hi, e, dtype, outs],
        );
        g.output(s);
        g.output(z);
        let got = run(&g, vec![f32_host(&shape, x)]);
        let (l, h) = range0(x);
        let scale = ((h - l) / (qmax - qmin) as f32).max(eps as f32);
        let zp = (qmin as f32 - (l / scale).round_ties_even()).clamp(qmin as f32, qmax as f32);
        assert_eq!(got[0].to_f32_vec(), vec![scale], "scale of {x:?}");
        assert_eq!(got[1].to_f32_vec(), vec![zp], "zero point of {x:?}");
    }
}

#[test]
fn choose_qparams_per_token_matches_cpu() {
    let mut rng = Rng::new(150);
    // Rows: mixed, positive only, negative only, zeros, one element, longer than a workgroup.
    let shapes: &[&[usize]] = &[&[3, 40], &[2, 3, 16], &[4, 1], &[2, 130]];
    for &shape in shapes {
        let n: usize = shape.iter().product();
        let k = *shape.last().unwrap();
        let rows = n / k;
        let mut x: Vec<f32> = rng.vec(n).iter().map(|v| v * 4.0).collect();
        if rows >= 3 {
            x[k..2 * k].iter_mut().for_each(|v| *v = v.abs() + 0.25);
            x[2 * k..3 * k].iter_mut().for_each(|v| *v = -v.abs());
        }
        if rows >= 4 {
            x[3 * k..4 * k].iter_mut().for_each(|v| *v = 0.0);
        }
        let qshape = dims(&shape[..shape.len() - 1], 1);
        let mut g = GraphBuilder::new();
        let xi = g.input(shape);
        let dtype = g.null();
        let s = g.f32(&qshape);
        let z = g.tensor(DType::Int32, &qshape);
        let outs = g.value_list(&[s, z]);
        g.op(
            "quantized_decomposed.choose_qparams_per_token_asymmetric.default",
            &[xi, dtype, outs],
        );
        g.output(s);
        g.output(z);
        let got = run(&g, vec![f32_host(shape, &x)]);
        let (mut want_s, mut want_z) = (vec![], vec![]);
        for r in 0..rows {
            let (lo, hi) = range0(&x[r * k..(r + 1) * k]);
            let s = ((hi - lo) / 255.0).max(f32::EPSILON);
            let (dmin, dmax) = (lo / s, hi / s);
            let zp = if (-128.0 + dmin) + (127.0 + dmax) > 0.0 {
                -128.0 - dmin
            } else {
                127.0 - dmax
            };
            want_s.push(s);
            want_z.push(zp.clamp(-128.0, 127.0).round_ties_even());
        }
        assert_eq!(got[0].to_f32_vec(), want_s, "scales of {shape:?}");
        assert_eq!(got[1].to_f32_vec(), want_z, "zero points of {shape:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Bad arguments: clear errors, no panics

/// A q8ta_linear graph over x [2, 8] with weights [4, 8], edited by `edit` before the op is
/// added (it gets the argument list).
fn q8ta_linear_graph(edit: impl FnOnce(&mut GraphBuilder, &mut Vec<ValueId>)) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let xi = int8_input(&mut g, &[2, 8]);
    let si = g.double(0.02);
    let zi = g.int(3);
    let wi = g.constant_bytes(DType::Int8, &[4, 8], vec![1; 32]);
    let sumi = g.constant_bytes(DType::Int32, &[4], bytes_i32(&[8; 4]));
    let wsi = g.constant(&[4], &[0.01; 4]);
    let osi = g.double(0.05);
    let ozi = g.int(0);
    let bi = g.null();
    let act = g.string("none");
    let out = g.tensor(DType::Int8, &[2, 4]);
    let mut args = vec![xi, si, zi, wi, sumi, wsi, osi, ozi, bi, act, out];
    edit(&mut g, &mut args);
    g.op("et_vk.q8ta_linear.default", &args);
    g.output(out);
    g
}

#[test]
fn bad_arguments_are_clear_errors() {
    let err = |g: &GraphBuilder| build_err(g);
    // Weights that are not constants of the program.
    let e = err(&q8ta_linear_graph(|g, a| {
        a[3] = input(g, DType::Int8, &[4, 8]);
    }));
    assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
    assert!(e.to_string().contains("constant"), "{e}");
    // An unknown activation.
    let e = err(&q8ta_linear_graph(|g, a| a[9] = g.string("gelu")));
    assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
    assert!(e.to_string().contains("gelu"), "{e}");
    // A zero point outside int8, a non-positive scale, weights of the wrong width.
    let e = err(&q8ta_linear_graph(|g, a| a[2] = g.int(200)));
    assert!(e.to_string().contains("zero point 200"), "{e}");
    let e = err(&q8ta_linear_graph(|g, a| a[6] = g.double(0.0)));
    assert!(e.to_string().contains("scale 0"), "{e}");
    let e = err(&q8ta_linear_graph(|g, a| {
        a[3] = g.constant_bytes(DType::Int8, &[4, 6], vec![1; 24]);
    }));
    assert_eq!(e.kind, ErrorKind::InvalidProgram, "{e}");
    // Too few weight scales.
    let e = err(&q8ta_linear_graph(|g, a| {
        a[5] = g.constant(&[2], &[0.01; 2])
    }));
    assert!(e.to_string().contains("weight scales"), "{e}");
    // Float weights.
    let e = err(&q8ta_linear_graph(|g, a| {
        a[3] = g.constant(&[4, 8], &[0.5; 32])
    }));
    assert!(e.to_string().contains("weights must be Int8"), "{e}");
    // Missing arguments.
    let e = err(&q8ta_linear_graph(|_, a| {
        a.remove(9);
    }));
    assert!(e.to_string().contains("expects 11 arguments"), "{e}");

    // A transposed convolution with dilation (the exporter never emits one).
    let mut g = GraphBuilder::new();
    let xi = int8_input(&mut g, &[1, 4, 5, 5]);
    let s = g.double(0.02);
    let z = g.int(0);
    let wi = g.constant_bytes(DType::Int8, &[4, 36], vec![1; 144]);
    let sums = g.constant_bytes(DType::Int32, &[4], bytes_i32(&[36; 4]));
    let ws = g.constant(&[4], &[0.01; 4]);
    let bias = g.null();
    let k3 = g.int_list(&[3, 3]);
    let one = g.int_list(&[1, 1]);
    let zero = g.int_list(&[0, 0]);
    let two = g.int_list(&[2, 2]);
    let groups = g.int(1);
    let act = g.string("none");
    let out = g.tensor(DType::Int8, &[1, 4, 11, 11]);
    g.op(
        "et_vk.q8ta_conv2d_transposed.default",
        &[
            xi, s, z, wi, sums, ws, s, z, bias, k3, one, zero, zero, two, groups, act, out,
        ],
    );
    g.output(out);
    let e = err(&g);
    assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
    assert!(e.to_string().contains("dilation"), "{e}");

    // A depthwise convolution whose weights are not [KH, KW, C4].
    let mut g = GraphBuilder::new();
    let xi = int8_input(&mut g, &[1, 8, 5, 5]);
    let s = g.double(0.02);
    let z = g.int(0);
    let wi = g.constant_bytes(DType::Int8, &[3, 3, 6], vec![1; 54]);
    let sums = g.constant_bytes(DType::Int32, &[8], bytes_i32(&[9; 8]));
    let ws = g.constant(&[8], &[0.01; 8]);
    let bias = g.null();
    let k3 = g.int_list(&[3, 3]);
    let one = g.int_list(&[1, 1]);
    let groups = g.int(8);
    let act = g.string("none");
    let out = g.tensor(DType::Int8, &[1, 8, 5, 5]);
    g.op(
        "et_vk.q8ta_conv2d_dw.default",
        &[
            xi, s, z, wi, sums, ws, s, z, bias, k3, one, one, one, groups, act, out,
        ],
    );
    g.output(out);
    let e = err(&g);
    assert_eq!(e.kind, ErrorKind::InvalidProgram, "{e}");
    assert!(e.to_string().contains("[KH, KW, C"), "{e}");

    // torchao blocks that are not row blocks, a per-channel axis out of range.
    let mut g = GraphBuilder::new();
    let xi = g.input(&[4, 64]);
    let bl = g.int_list(&[2, 16]);
    let si = g.constant(&[2, 4], &[0.1; 8]);
    let null = g.null();
    let lo = g.int(-128);
    let hi = g.int(127);
    let out = g.tensor(DType::Int8, &[4, 64]);
    g.op(
        "torchao.quantize_affine.default",
        &[xi, bl, si, null, null, lo, hi, out],
    );
    g.output(out);
    let e = err(&g);
    assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
    assert!(e.to_string().contains("block size [2, 16]"), "{e}");

    let mut g = GraphBuilder::new();
    let xi = g.input(&[3, 8, 5]);
    let si = g.constant(&[8], &[0.1; 8]);
    let null = g.null();
    let ax = g.int(3);
    let lo = g.int(-128);
    let hi = g.int(127);
    let out = g.tensor(DType::Int8, &[3, 8, 5]);
    g.op(
        "quantized_decomposed.quantize_per_channel.default",
        &[xi, si, null, ax, lo, hi, null, out],
    );
    g.output(out);
    let e = err(&g);
    assert_eq!(e.kind, ErrorKind::InvalidProgram, "{e}");
    assert!(e.to_string().contains("axis 3"), "{e}");

    // A 4-bit weight-only linear whose weights are too narrow for K.
    let mut g = GraphBuilder::new();
    let xi = g.input(&[2, 36]);
    let wi = g.constant_bytes(DType::Uint8, &[4, 16], vec![0x88; 64]);
    let si = g.constant(&[4], &[0.1; 4]);
    let out = g.f32(&[2, 4]);
    g.op("et_vk.linear_qcs4w.default", &[xi, wi, si, out]);
    g.output(out);
    let e = err(&g);
    assert!(e.to_string().contains("do not hold K = 36"), "{e}");

    // q8ta_add of different shapes.
    let mut g = GraphBuilder::new();
    let a = int8_input(&mut g, &[2, 4]);
    let b = int8_input(&mut g, &[4]);
    let s = g.double(0.02);
    let z = g.int(0);
    let one = g.double(1.0);
    let out = g.tensor(DType::Int8, &[2, 4]);
    g.op(
        "et_vk.q8ta_add.default",
        &[a, b, s, z, s, z, s, z, one, out],
    );
    g.output(out);
    let e = err(&g);
    assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
}
