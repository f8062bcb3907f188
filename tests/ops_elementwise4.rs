//! Elementwise ops over whole texels (`elementwise4.comp`) between channels-packed
//! convolutions and on contiguous tensors, against CPU references: same-shape, scalar and
//! per-channel operands, activations, channel counts that leave padding lanes, batch > 1.
mod common;
use common::*;

use etvk::runtime::{Delegate, InputValue};

/// A 1x1 convolution with bias on [N, C, H, W] (CPU reference).
fn pw_ref(x: &[f32], n: usize, cin: usize, hw: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    let cout = b.len();
    let mut out = vec![0.0; n * cout * hw];
    for i in 0..n {
        for o in 0..cout {
            for p in 0..hw {
                let mut acc = b[o];
                for c in 0..cin {
                    acc += w[o * cin + c] * x[(i * cin + c) * hw + p];
                }
                out[(i * cout + o) * hw + p] = acc;
            }
        }
    }
    out
}

/// Adds a constant 1x1 convolution `x -> y [n, cout, h, w]` to the graph.
fn add_pw(
    g: &mut GraphBuilder,
    x: usize,
    w: &[f32],
    b: &[f32],
    cin: usize,
    dims: [usize; 4],
) -> usize {
    let cout = b.len();
    let cw = g.constant(&[cout, cin, 1, 1], w);
    let cb = g.constant(&[cout], b);
    let s = g.int_list(&[1, 1]);
    let p = g.int_list(&[0, 0]);
    let d = g.int_list(&[1, 1]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0]);
    let gr = g.int(1);
    let y = g.f32(&[dims[0], cout, dims[2], dims[3]]);
    g.op(
        "aten.convolution.default",
        &[x, cw, cb, s, p, d, t, op, gr, y],
    );
    y
}

fn run_one(d: &mut Delegate, dims: &[usize], x: &[f32]) -> Vec<f32> {
    d.run(&[InputValue::Tensor(f32_host(dims, x))]).unwrap()[0].to_f32_vec()
}

/// conv -> abs -> log10 -> conv with 5 channels: log10(0) is -inf, so padding lanes that were
/// not kept zero would turn the second convolution's outputs into NaN.
#[test]
fn activations_keep_padding_lanes_zero() {
    let (n, cin, c, h, w) = (2, 3, 5, 3, 5);
    let hw = h * w;
    let mut rng = Rng::new(5);
    let (w1, b1, w2, b2) = (rng.vec(c * cin), rng.vec(c), rng.vec(4 * c), rng.vec(4));
    let x = rng.vec(n * cin * hw);
    let mut g = GraphBuilder::new();
    let xi = g.input(&[n, cin, h, w]);
    let a = add_pw(&mut g, xi, &w1, &b1, cin, [n, c, h, w]);
    let ab = g.f32(&[n, c, h, w]);
    let lg = g.f32(&[n, c, h, w]);
    g.op("aten.abs.default", &[a, ab]);
    g.op("aten.log10.default", &[ab, lg]);
    let y = add_pw(&mut g, lg, &w2, &b2, c, [n, 4, h, w]);
    g.output(y);
    let mut d = g.build().unwrap();
    let shaders = kernels(&d);
    let packed = ["to_channels4", "conv2d_pw", "elementwise4", "elementwise4"];
    // Devices that read storage buffers write the graph output contiguous from the conv.
    let last: &[&str] = match shaders.last().map(String::as_str) {
        Some("conv2d_pw_nchw") => &["conv2d_pw_nchw"],
        _ => &["conv2d_pw", "from_channels4"],
    };
    assert_eq!(shaders, [&packed[..], last].concat());
    let mid: Vec<f32> = pw_ref(&x, n, cin, hw, &w1, &b1)
        .iter()
        .map(|v| v.abs().log10())
        .collect();
    let want = pw_ref(&mid, n, c, hw, &w2, &b2);
    assert_close(
        &run_one(&mut d, &[n, cin, h, w], &x),
        &want,
        1e-4,
        1e-4,
        "conv abs log10 conv",
    );
}

/// Residual add of two packed tensors, a per-channel multiply ([N, C, 1, 1] and [1, C, 1, 1]
/// operands), a scalar op and clamp, all staying packed.
#[test]
fn binary_ops_on_packed_tensors() {
    let (n, cin, c, h, w) = (2, 4, 6, 3, 3);
    let hw = h * w;
    let mut rng = Rng::new(9);
    let (w1, b1, w2, b2) = (rng.vec(c * cin), rng.vec(c), rng.vec(c * c), rng.vec(c));
    let scale = rng.vec(c);
    let x = rng.vec(n * cin * hw);
    let mut g = GraphBuilder::new();
    let xi = g.input(&[n, cin, h, w]);
    let a = add_pw(&mut g, xi, &w1, &b1, cin, [n, c, h, w]);
    let bb = add_pw(&mut g, a, &w2, &b2, c, [n, c, h, w]);
    let one = g.double(1.0);
    let two = g.double(2.0);
    let sum = g.f32(&[n, c, h, w]);
    g.op("aten.add.Tensor", &[a, bb, two, sum]); // a + 2 * b
    let s = g.constant(&[1, c, 1, 1], &scale);
    let scaled = g.f32(&[n, c, h, w]);
    g.op("aten.mul.Tensor", &[s, sum, scaled]); // per-channel, operands swapped
    let shifted = g.f32(&[n, c, h, w]);
    let three = g.double(3.0);
    g.op("aten.sub.Tensor", &[scaled, three, one, shifted]);
    let lo = g.double(-1.0);
    let hi = g.double(0.5);
    let clamped = g.f32(&[n, c, h, w]);
    g.op("aten.hardtanh.default", &[shifted, lo, hi, clamped]);
    g.output(clamped);
    let mut d = g.build().unwrap();
    let shaders = kernels(&d);
    assert_eq!(
        shaders.iter().filter(|s| s.ends_with("channels4")).count(),
        3,
        "one conversion in, one for the [1, C, 1, 1] scale, one out: {shaders:?}"
    );
    let ra = pw_ref(&x, n, cin, hw, &w1, &b1);
    let rb = pw_ref(&ra, n, c, hw, &w2, &b2);
    let want: Vec<f32> = (0..n * c * hw)
        .map(|i| {
            let ch = (i / hw) % c;
            ((ra[i] + 2.0 * rb[i]) * scale[ch] - 3.0).clamp(-1.0, 0.5)
        })
        .collect();
    assert_close(
        &run_one(&mut d, &[n, cin, h, w], &x),
        &want,
        1e-5,
        1e-5,
        "packed binary ops",
    );
}

/// Contiguous tensors whose element count is a multiple of 4 take the texel kernel too.
#[test]
fn contiguous_texels() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 8]);
    let bi = g.input(&[3, 8]);
    let m = g.f32(&[3, 8]);
    let r = g.f32(&[3, 8]);
    let y = g.f32(&[3, 8]);
    g.op("aten.maximum.default", &[a, bi, m]);
    g.op("aten.sigmoid.default", &[m, r]);
    let alpha = g.double(1.0);
    g.op("aten.div.Tensor", &[r, bi, y]);
    let _ = alpha;
    g.output(y);
    let mut d = g.build().unwrap();
    assert_eq!(kernels(&d), ["elementwise4"; 3]);
    let mut rng = Rng::new(2);
    let (va, vb) = (rng.vec(24), rng.vec(24));
    let want: Vec<f32> = va
        .iter()
        .zip(&vb)
        .map(|(&x, &y)| (1.0 / (1.0 + (-x.max(y)).exp())) / y)
        .collect();
    let out = d
        .run(&[
            InputValue::Tensor(f32_host(&[3, 8], &va)),
            InputValue::Tensor(f32_host(&[3, 8], &vb)),
        ])
        .unwrap();
    assert_close(&out[0].to_f32_vec(), &want, 1e-5, 1e-5, "max sigmoid div");
}

/// A one-element constant operand (attention's scale, exported as a 0-dim tensor through
/// et_vk.prepack) is read as one packed texel: mul by a [] constant, its swapped form, sub by
/// a [1, 1] constant; a one-element graph input (not a constant) takes the general kernel.
#[test]
fn one_element_constant_operands() {
    let dims = [2usize, 3, 8];
    let mut g = GraphBuilder::new();
    let x = g.input(&dims);
    let scale = g.constant(&[], &[0.125]);
    let scale_packed = g.f32(&[]);
    g.op("et_vk.prepack.default", &[scale, scale_packed]);
    let shift = g.constant(&[1, 1], &[-2.5]);
    let (m1, m2, s) = (g.f32(&dims), g.f32(&dims), g.f32(&dims));
    g.op("aten.mul.Tensor", &[x, scale_packed, m1]);
    g.op("aten.mul.Tensor", &[scale_packed, m1, m2]);
    let alpha = g.double(2.0);
    g.op("aten.sub.Tensor", &[m2, shift, alpha, s]);
    g.output(s);
    let mut d = g.build().unwrap();
    assert_eq!(kernels(&d), ["elementwise4"; 3]);
    let v = Rng::new(9).vec(48);
    let want: Vec<f32> = v
        .iter()
        .map(|&a| 0.125 * (a * 0.125) - 2.0 * -2.5)
        .collect();
    let out = run_one(&mut d, &dims, &v);
    assert_close(&out, &want, 0.0, 0.0, "x * [] * x, - 2 * [1, 1]");

    let mut g = GraphBuilder::new();
    let x = g.input(&dims);
    let k = g.input(&[]);
    let y = g.f32(&dims);
    g.op("aten.mul.Tensor", &[x, k, y]);
    g.output(y);
    let mut d = g.build().unwrap();
    assert_eq!(kernels(&d), ["binary"]);
    let out = d
        .run(&[
            InputValue::Tensor(f32_host(&dims, &v)),
            InputValue::Tensor(f32_host(&[], &[3.0])),
        ])
        .unwrap();
    let want: Vec<f32> = v.iter().map(|&a| a * 3.0).collect();
    assert_close(&out[0].to_f32_vec(), &want, 0.0, 0.0, "x * input []");
}
