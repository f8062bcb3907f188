//! Max pooling, nearest upsampling and channel concatenation of channels-packed tensors (conv
//! outputs) stay packed: no layout conversion between them and the next convolution. Each
//! case packs its inputs with an identity 1x1 convolution (exact in f32), runs the op, and
//! compares with a CPU reference on the unpacked values; channel counts that are not a
//! multiple of 4, batch 2, padding, dilation, ceil_mode, indices, non-integer scales.
mod common;
use common::*;
use etvk::format::DType;

/// Builds, checks which kernels ran, and returns the outputs.
fn run_checked(g: &GraphBuilder, inputs: &[(&[usize], &[f32])], kernel: &str) -> Vec<Vec<f32>> {
    let d = g.build().unwrap();
    let ks = kernels(&d);
    assert!(ks.iter().any(|k| k == kernel), "{kernel} not in {ks:?}");
    // Only the graph inputs are packed (to_channels4, when the device reads them through
    // storage buffers) and the output unpacked after the last conv; nothing in between.
    let packs = ks.iter().filter(|k| *k == "to_channels4").count();
    let last_conv = ks.iter().rposition(|k| k.starts_with("conv2d")).unwrap();
    assert!(
        packs <= inputs.len() && !ks[..last_conv].iter().any(|k| k == "from_channels4"),
        "layout conversions between packed ops: {ks:?}"
    );
    g.run(inputs).unwrap()
}

struct Pool {
    x: [usize; 4],
    k: [i64; 2],
    s: [i64; 2],
    p: [i64; 2],
    d: [i64; 2],
    ceil: bool,
}

impl Pool {
    fn out(&self) -> [usize; 4] {
        let [n, c, h, w] = self.x;
        let len =
            |i, d: usize| pool_out_len(i, self.k[d], self.s[d], self.p[d], self.d[d], self.ceil);
        [n, c, len(h, 0), len(w, 1)]
    }

    /// Values and indices (h * W + w within the plane; first maximum wins).
    fn reference(&self, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let [n, c, h, w] = self.x;
        let [_, _, oh, ow] = self.out();
        let win = Window {
            kernel: self.k,
            stride: self.s,
            padding: self.p,
            dilation: self.d,
        };
        max_pool_ref(x, n * c, [h, w], [oh, ow], &win)
    }

    fn check(&self, indices: bool) {
        let mut g = GraphBuilder::new();
        let x = g.input(&self.x);
        let px = packed(&mut g, x, &self.x);
        let k = g.int_list(&self.k);
        let s = g.int_list(&self.s);
        let p = g.int_list(&self.p);
        let d = g.int_list(&self.d);
        let ceil = g.bool(self.ceil);
        let out = g.f32(&self.out());
        let idx = g.tensor(DType::Int64, &self.out());
        if indices {
            let list = g.value_list(&[out, idx]);
            g.op(
                "aten.max_pool2d_with_indices.default",
                &[px, k, s, p, d, ceil, list],
            );
        } else {
            g.op("aten.max_pool2d.default", &[px, k, s, p, d, ceil, out]);
        }
        // A conv after the pool reads it packed.
        let pooled = packed(&mut g, out, &self.out());
        g.output(pooled);
        if indices {
            g.output(idx);
        }
        let values = Rng::new(self.x.iter().sum::<usize>() as u64).vec(self.x.iter().product());
        let got = run_checked(&g, &[(&self.x, &values)], "pool_max_c4");
        let (want, want_idx) = self.reference(&values);
        let what = format!(
            "max pool {:?} k {:?} s {:?} p {:?}",
            self.x, self.k, self.s, self.p
        );
        assert_close(&got[0], &want, 0.0, 0.0, &what);
        if indices {
            assert_close(&got[1], &want_idx, 0.0, 0.0, &format!("{what} indices"));
        }
    }
}

#[test]
fn max_pool_of_packed_tensors() {
    let cases = [
        Pool {
            x: [1, 16, 8, 8],
            k: [2, 2],
            s: [2, 2],
            p: [0, 0],
            d: [1, 1],
            ceil: false,
        },
        Pool {
            x: [2, 6, 9, 8],
            k: [3, 3],
            s: [2, 2],
            p: [1, 1],
            d: [1, 1],
            ceil: true,
        },
        Pool {
            x: [1, 5, 9, 10],
            k: [2, 3],
            s: [1, 2],
            p: [0, 1],
            d: [2, 1],
            ceil: false,
        },
    ];
    for c in &cases {
        c.check(true);
        c.check(false);
    }
}

/// PyTorch's nearest source index (f32 ratio), for output size `o` from input size `i`.
fn nearest(d: usize, i: usize, o: usize, scale: Option<f64>) -> usize {
    if o == i {
        d
    } else if o == 2 * i {
        d >> 1
    } else {
        let s = match scale {
            Some(s) => (1.0 / s) as f32,
            None => i as f32 / o as f32,
        };
        ((d as f32 * s).floor() as usize).min(i - 1)
    }
}

fn check_nearest(x_sizes: [usize; 4], out_hw: [usize; 2], scales: Option<[f64; 2]>) {
    let [n, c, h, w] = x_sizes;
    let out_sizes = [n, c, out_hw[0], out_hw[1]];
    let mut g = GraphBuilder::new();
    let x = g.input(&x_sizes);
    let px = packed(&mut g, x, &x_sizes);
    let (size, sf) = match scales {
        Some(s) => {
            let n = g.null();
            let v = g.graph.values.len();
            g.graph
                .values
                .push(etvk::format::Value::DoubleList(s.to_vec()));
            (n, v)
        }
        None => (g.int_list(&out_hw.map(|v| v as i64)), g.null()),
    };
    let out = g.f32(&out_sizes);
    g.op("aten.upsample_nearest2d.vec", &[px, size, sf, out]);
    let up = packed(&mut g, out, &out_sizes);
    g.output(up);
    let values = Rng::new(7).vec(x_sizes.iter().product());
    let got = run_checked(&g, &[(&x_sizes, &values)], "resample_nearest");
    let mut want = vec![];
    for plane in 0..n * c {
        for y in 0..out_hw[0] {
            for xo in 0..out_hw[1] {
                let iy = nearest(y, h, out_hw[0], scales.map(|s| s[0]));
                let ix = nearest(xo, w, out_hw[1], scales.map(|s| s[1]));
                want.push(values[plane * h * w + iy * w + ix]);
            }
        }
    }
    assert_close(
        &got[0],
        &want,
        0.0,
        0.0,
        &format!("nearest {x_sizes:?} -> {out_hw:?}"),
    );
}

#[test]
fn nearest_upsample_of_packed_tensors() {
    check_nearest([1, 8, 4, 4], [8, 8], Some([2.0, 2.0]));
    check_nearest([2, 6, 5, 7], [10, 14], Some([2.0, 2.0]));
    check_nearest([1, 3, 5, 7], [7, 10], None);
    check_nearest([1, 5, 6, 4], [9, 10], Some([1.5, 2.5]));
}

/// `cat` along channels of `parts` ([N, C_i, H, W]); `pack[i]`: whether part i comes from a
/// conv (packed) or straight from the graph input (contiguous). Checks that nothing was
/// converted between the convolutions when `expect_packed`, and that the cat recorded
/// `copies` copy dispatches (the other inputs were produced in place, in their slice of the
/// output: graph::slots).
fn check_cat(
    n: usize,
    channels: &[usize],
    hw: [usize; 2],
    pack: &[bool],
    expect_packed: bool,
    copies: usize,
) {
    let [h, w] = hw;
    let mut g = GraphBuilder::new();
    let mut ids = vec![];
    let mut inputs = vec![];
    for (i, (&c, &p)) in channels.iter().zip(pack).enumerate() {
        let sizes = vec![n, c, h, w];
        let x = g.input(&sizes);
        ids.push(if p { packed(&mut g, x, &sizes) } else { x });
        inputs.push((sizes, Rng::new(i as u64 + 1).vec(n * c * h * w)));
    }
    let list = g.value_list(&ids);
    let dim = g.int(1);
    let total: usize = channels.iter().sum();
    let out_sizes = [n, total, h, w];
    let out = g.f32(&out_sizes);
    g.op("aten.cat.default", &[list, dim, out]);
    let after = packed(&mut g, out, &out_sizes);
    g.output(after);
    let feed: Vec<(&[usize], &[f32])> = inputs
        .iter()
        .map(|(s, v)| (s.as_slice(), v.as_slice()))
        .collect();
    let ks = kernels(&g.build().unwrap());
    let cats = ks.iter().filter(|k| k.starts_with("cat")).count();
    assert_eq!(cats, copies, "cat {channels:?} n {n}: copies in {ks:?}");
    let got = if expect_packed {
        run_checked(&g, &feed, "conv2d_pw")
    } else {
        g.run(&feed).unwrap()
    };
    let mut want = vec![];
    for b in 0..n {
        for (i, &c) in channels.iter().enumerate() {
            let plane = c * h * w;
            want.extend_from_slice(&inputs[i].1[b * plane..(b + 1) * plane]);
        }
    }
    assert_close(
        &got[0],
        &want,
        0.0,
        0.0,
        &format!("cat {channels:?} packed {pack:?}"),
    );
}

#[test]
fn cat_of_packed_tensors() {
    // A batch of one: every input is produced in its slice of the output, no copies.
    check_cat(1, &[8, 6], [5, 7], &[true, true], true, 0);
    check_cat(2, &[4, 8, 3], [3, 4], &[true, true, true], true, 3);
    // A contiguous input is packed to join the others (the packed copy goes in its slice).
    check_cat(1, &[8, 5], [4, 4], &[true, false], true, 0);
    // The first input ends mid-block: the contiguous concatenation.
    check_cat(2, &[6, 8], [3, 5], &[true, true], false, 2);
}

/// A 2x2 max pool followed by a 3x3 convolution: the convolution takes the pool while
/// loading (conv2d_tiled's POOL) when it is the pool's only reader, and the pool dispatch is
/// not recorded. `also_read`: another op reads the pool's output too (no fusion); `ceil`:
/// ceil mode (no fusion); `indices`: max_pool2d_with_indices whose indices nothing reads
/// (fused all the same).
struct PoolConv {
    x: [usize; 4],
    cout: usize,
    ceil: bool,
    conv: Window,
    also_read: bool,
    indices: bool,
}

impl PoolConv {
    fn check(&self) {
        let [n, c, h, w] = self.x;
        let pool = Pool {
            x: self.x,
            k: [2, 2],
            s: [2, 2],
            p: [0, 0],
            d: [1, 1],
            ceil: self.ceil,
        };
        let pooled = pool.out();
        let ws = [self.cout, c, 3, 3];
        let mut rng = Rng::new((n * c * h * w + self.cout) as u64);
        let (xv, wv, bv) = (
            rng.vec(n * c * h * w),
            rng.vec(ws.iter().product()),
            rng.vec(self.cout),
        );
        let (pv, _) = pool.reference(&xv);
        let (want, out_sizes) = conv2d_ref(&pv, pooled, &wv, ws, &bv, &self.conv);

        let mut g = GraphBuilder::new();
        let x = g.input(&self.x);
        let px = packed(&mut g, x, &self.x);
        let (k, s, p, d) = (
            g.int_list(&[2, 2]),
            g.int_list(&[2, 2]),
            g.int_list(&[0, 0]),
            g.int_list(&[1, 1]),
        );
        let ceil = g.bool(self.ceil);
        let pout = g.f32(&pooled);
        if self.indices {
            let idx = g.tensor(DType::Int64, &pooled);
            let list = g.value_list(&[pout, idx]);
            g.op(
                "aten.max_pool2d_with_indices.default",
                &[px, k, s, p, d, ceil, list],
            );
        } else {
            g.op("aten.max_pool2d.default", &[px, k, s, p, d, ceil, pout]);
        }
        let wt = g.constant(&ws, &wv);
        let bt = g.constant(&[self.cout], &bv);
        let (cs, cp, cd) = (
            g.int_list(&self.conv.stride),
            g.int_list(&self.conv.padding),
            g.int_list(&self.conv.dilation),
        );
        let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
        let out = g.f32(&out_sizes);
        g.op(
            "aten.convolution.default",
            &[pout, wt, bt, cs, cp, cd, t, op, groups, out],
        );
        g.output(out);
        if self.also_read {
            let alpha = g.int(1);
            let sum = g.f32(&pooled);
            g.op("aten.add.Tensor", &[pout, pout, alpha, sum]);
            g.output(sum);
        }
        let ks = kernels(&g.build().unwrap());
        // Floor mode only: a ceil-mode window may run past an odd edge at some sizes.
        let fused = !self.also_read && !self.ceil;
        assert_eq!(
            !ks.iter().any(|k| k.starts_with("pool_max")),
            fused,
            "{:?} ceil {} also read {}: {ks:?}",
            self.x,
            self.ceil,
            self.also_read
        );
        let got = g.run(&[(&self.x, &xv)]).unwrap();
        let what = format!("pool+conv {:?} ceil {}", self.x, self.ceil);
        assert_close(&got[0], &want, 1e-4, 1e-4, &what);
        if self.also_read {
            let twice: Vec<f32> = pv.iter().map(|v| v + v).collect();
            assert_close(&got[1], &twice, 0.0, 0.0, &what);
        }
    }
}

#[test]
fn convolution_takes_the_pool_before_it() {
    let same = Window {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
    };
    let strided = Window {
        stride: [2, 1],
        padding: [2, 0],
        dilation: [2, 1],
        ..same
    };
    let case = |x, cout, ceil, conv, also_read, indices| PoolConv {
        x,
        cout,
        ceil,
        conv,
        also_read,
        indices,
    };
    for c in [
        case([1, 8, 10, 12], 12, false, same, false, false),
        case([2, 5, 9, 7], 6, false, same, false, true),
        case([1, 16, 12, 14], 8, false, strided, false, false),
        // Not fused: another reader; ceil mode (odd edges, and even ones alike).
        case([1, 8, 6, 6], 4, false, same, true, false),
        case([1, 4, 7, 9], 4, true, same, false, false),
        case([1, 4, 8, 6], 8, true, same, false, true),
    ] {
        c.check();
    }
}

/// A 3x3 convolution whose output only a nearest 2x upsampling reads stores its outputs
/// upsampled (conv2d_tiled's UP): no upsampling dispatch. Not taken: another reader of the
/// convolution's output, a scale other than 2.
fn check_conv_upsample(x_sizes: [usize; 4], cout: usize, scale: usize, also_read: bool) {
    let [n, c, h, w] = x_sizes;
    let ws = [cout, c, 3, 3];
    let mut rng = Rng::new((n * c * h * w * cout) as u64);
    let (xv, wv, bv) = (
        rng.vec(n * c * h * w),
        rng.vec(ws.iter().product()),
        rng.vec(cout),
    );
    let same = Window {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
    };
    let (yv, ys) = conv2d_ref(&xv, x_sizes, &wv, ws, &bv, &same);
    let up_sizes = [n, cout, h * scale, w * scale];
    let mut g = GraphBuilder::new();
    let x = g.input(&x_sizes);
    let (wt, bt) = (g.constant(&ws, &wv), g.constant(&[cout], &bv));
    let (s, p, d) = (
        g.int_list(&[1, 1]),
        g.int_list(&[1, 1]),
        g.int_list(&[1, 1]),
    );
    let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
    let y = g.f32(&ys);
    g.op(
        "aten.convolution.default",
        &[x, wt, bt, s, p, d, t, op, groups, y],
    );
    let size = g.int_list(&[(h * scale) as i64, (w * scale) as i64]);
    let sf = g.null();
    let up = g.f32(&up_sizes);
    g.op("aten.upsample_nearest2d.vec", &[y, size, sf, up]);
    let out = packed(&mut g, up, &up_sizes);
    g.output(out);
    if also_read {
        let (alpha, sum) = (g.int(1), g.f32(&ys));
        g.op("aten.add.Tensor", &[y, y, alpha, sum]);
        g.output(sum);
    }
    let ks = kernels(&g.build().unwrap());
    let fused = scale == 2 && !also_read;
    assert_eq!(
        !ks.iter().any(|k| k.starts_with("resample")),
        fused,
        "{x_sizes:?} x{scale} also read {also_read}: {ks:?}"
    );
    let got = g.run(&[(&x_sizes, &xv)]).unwrap();
    let mut want = vec![];
    for plane in 0..n * cout {
        for oy in 0..h * scale {
            for ox in 0..w * scale {
                want.push(yv[plane * h * w + (oy / scale) * w + ox / scale]);
            }
        }
    }
    let what = format!("conv + nearest x{scale} {x_sizes:?}");
    assert_close(&got[0], &want, 1e-4, 1e-4, &what);
    if also_read {
        let twice: Vec<f32> = yv.iter().map(|v| v + v).collect();
        assert_close(&got[1], &twice, 1e-4, 1e-4, &what);
    }
}

#[test]
fn convolution_stores_the_upsampling_after_it() {
    check_conv_upsample([1, 8, 5, 7], 12, 2, false);
    check_conv_upsample([2, 5, 6, 4], 6, 2, false);
    check_conv_upsample([1, 4, 4, 6], 8, 2, true);
    check_conv_upsample([1, 4, 3, 5], 4, 3, false);
}

/// A fused pool and convolution run at smaller input sizes too (a resize makes the same
/// fusion); an upsampling to a fixed output size, fused at the program's sizes, is not 2x at
/// others, and the resize says so instead of running on a memory plan made for the fusion.
#[test]
fn fusions_hold_across_input_sizes() {
    let same = Window {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
    };
    let (xs, small) = ([1, 4, 8, 10], [1, 4, 6, 6]);
    let ws = [4, 4, 3, 3];
    let mut rng = Rng::new(21);
    let (wv, bv) = (rng.vec(ws.iter().product()), rng.vec(4));
    let conv = |g: &mut GraphBuilder, x, out: &[usize]| {
        let (wt, bt) = (g.constant(&ws, &wv), g.constant(&[4], &bv));
        let (s, p, d) = (
            g.int_list(&[1, 1]),
            g.int_list(&[1, 1]),
            g.int_list(&[1, 1]),
        );
        let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
        let y = g.f32(out);
        g.op(
            "aten.convolution.default",
            &[x, wt, bt, s, p, d, t, op, groups, y],
        );
        y
    };
    // x -> pack -> max_pool 2x2 -> conv.
    let mut g = GraphBuilder::new();
    let x = g.input(&xs);
    let px = packed(&mut g, x, &xs);
    let (k, st, p, d, ceil) = (
        g.int_list(&[2, 2]),
        g.int_list(&[2, 2]),
        g.int_list(&[0, 0]),
        g.int_list(&[1, 1]),
        g.bool(false),
    );
    let pout = g.f32(&[1, 4, 4, 5]);
    g.op("aten.max_pool2d.default", &[px, k, st, p, d, ceil, pout]);
    let y = conv(&mut g, pout, &[1, 4, 4, 5]);
    g.output(y);
    let mut dl = g.build().unwrap();
    assert!(!kernels(&dl).iter().any(|k| k.starts_with("pool_max")));
    let pool = |sizes: [usize; 4]| Pool {
        x: sizes,
        k: [2, 2],
        s: [2, 2],
        p: [0, 0],
        d: [1, 1],
        ceil: false,
    };
    for sizes in [xs, small] {
        let xv = rng.vec(sizes.iter().product());
        let (pv, _) = pool(sizes).reference(&xv);
        let (want, _) = conv2d_ref(&pv, pool(sizes).out(), &wv, ws, &bv, &same);
        let got = dl
            .run(&[etvk::runtime::InputValue::Tensor(f32_host(&sizes, &xv))])
            .unwrap();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-4,
            1e-4,
            &format!("{sizes:?}"),
        );
    }
    // x -> conv -> upsample to a fixed [8, 10] -> pack: 2x only at the program's sizes.
    let (xs, up) = ([1, 4, 4, 5], [1, 4, 8, 10]);
    let mut g = GraphBuilder::new();
    let x = g.input(&xs);
    let y = conv(&mut g, x, &xs);
    let (size, sf) = (g.int_list(&[8, 10]), g.null());
    let u = g.f32(&up);
    g.op("aten.upsample_nearest2d.vec", &[y, size, sf, u]);
    let out = packed(&mut g, u, &up);
    g.output(out);
    let mut dl = g.build().unwrap();
    assert!(!kernels(&dl).iter().any(|k| k.starts_with("resample")));
    let smaller = [1, 4, 3, 5];
    let err = dl
        .run(&[etvk::runtime::InputValue::Tensor(f32_host(
            &smaller,
            &rng.vec(60),
        ))])
        .unwrap_err();
    assert!(err.to_string().contains("fuses"), "unexpected error: {err}");
}
