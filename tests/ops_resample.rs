//! upsample_nearest2d.vec, upsample_bilinear2d.vec, grid_sampler_2d, pixel_shuffle and
//! et_vk.grid_priors against CPU references that follow PyTorch's CPU kernels (index rules
//! with f32 ratios, the out == in identity, align_corners both ways, every grid_sample
//! interpolation / padding mode), plus invalid-argument cases.
mod common;
use common::*;
use etvk::format::DType;
use etvk::runtime::{HostTensor, InputValue};

// ---------------------------------------------------------------------------------------------
// upsample

/// How the output size is specified.
#[derive(Clone, Copy, Debug)]
enum Spec {
    Size(usize, usize),
    Scale(f64, f64),
}

impl Spec {
    fn out_hw(self, ih: usize, iw: usize) -> (usize, usize) {
        match self {
            Spec::Size(h, w) => (h, w),
            Spec::Scale(sh, sw) => (
                (ih as f64 * sh).floor() as usize,
                (iw as f64 * sw).floor() as usize,
            ),
        }
    }
    fn scales(self) -> [Option<f64>; 2] {
        match self {
            Spec::Size(..) => [None, None],
            Spec::Scale(h, w) => [Some(h), Some(w)],
        }
    }
}

/// PyTorch's compute_scales_value<float>.
fn scale_value(scale: Option<f64>, i: usize, o: usize) -> f32 {
    match scale {
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        _ => i as f32 / o as f32,
    }
}

/// PyTorch's nearest_idx.
fn nearest_idx(d: usize, i: usize, o: usize, scale: Option<f64>) -> usize {
    if o == i {
        d
    } else if o == 2 * i {
        d >> 1
    } else {
        ((d as f32 * scale_value(scale, i, o)).floor() as usize).min(i - 1)
    }
}

/// PyTorch's compute_source_index_and_lambda: (i0, i1, lambda1).
fn linear_src(d: usize, i: usize, o: usize, ac: bool, scale: Option<f64>) -> (usize, usize, f32) {
    if i == o {
        return (d, d, 0.0);
    }
    let src = if ac {
        let s = if o > 1 {
            (i - 1) as f32 / (o - 1) as f32
        } else {
            0.0
        };
        s * d as f32
    } else {
        let s = scale_value(scale, i, o);
        (s * (d as f32 + 0.5) - 0.5).max(0.0)
    };
    let i0 = (src.floor() as usize).min(i - 1);
    let l = (src - i0 as f32).clamp(0.0, 1.0);
    (i0, if i0 < i - 1 { i0 + 1 } else { i0 }, l)
}

fn upsample_ref(x: &[f32], s: &[usize], spec: Spec, mode: Option<bool>) -> Vec<f32> {
    let (planes, ih, iw) = (s[0] * s[1], s[2], s[3]);
    let (oh, ow) = spec.out_hw(ih, iw);
    let [sh, sw] = spec.scales();
    let mut out = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        let plane = &x[p * ih * iw..(p + 1) * ih * iw];
        for a in 0..oh {
            for c in 0..ow {
                out.push(match mode {
                    None => plane[nearest_idx(a, ih, oh, sh) * iw + nearest_idx(c, iw, ow, sw)],
                    Some(ac) => {
                        let (h0, h1, lh) = linear_src(a, ih, oh, ac, sh);
                        let (w0, w1, lw) = linear_src(c, iw, ow, ac, sw);
                        let at = |h: usize, w: usize| plane[h * iw + w];
                        let top = (1.0 - lw) * at(h0, w0) + lw * at(h0, w1);
                        let bot = (1.0 - lw) * at(h1, w0) + lw * at(h1, w1);
                        (1.0 - lh) * top + lh * bot
                    }
                });
            }
        }
    }
    out
}

/// Adds an upsample op (`mode`: None = nearest, Some(align_corners) = bilinear) on `x`.
fn add_upsample(
    g: &mut GraphBuilder,
    x: usize,
    spec: Spec,
    mode: Option<bool>,
    dtype: DType,
    out_sizes: &[usize],
) -> usize {
    let (size, scales) = match spec {
        Spec::Size(h, w) => (g.int_list(&[h as i64, w as i64]), g.null()),
        Spec::Scale(h, w) => {
            let n = g.null();
            let v = g.graph.values.len();
            g.graph
                .values
                .push(etvk::format::Value::DoubleList(vec![h, w]));
            (n, v)
        }
    };
    let out = g.tensor(dtype, out_sizes);
    match mode {
        None => g.op("aten.upsample_nearest2d.vec", &[x, size, scales, out]),
        Some(ac) => {
            let ac = g.bool(ac);
            g.op("aten.upsample_bilinear2d.vec", &[x, size, ac, scales, out])
        }
    }
    g.output(out);
    out
}

fn check_upsample(s: &[usize], spec: Spec, mode: Option<bool>, seed: u64) {
    let x = Rng::new(seed).vec(s.iter().product());
    let (oh, ow) = spec.out_hw(s[2], s[3]);
    let mut g = GraphBuilder::new();
    let xi = g.input(s);
    add_upsample(
        &mut g,
        xi,
        spec,
        mode,
        DType::Float32,
        &[s[0], s[1], oh, ow],
    );
    let got = g.run(&[(s, &x)]).unwrap();
    let want = upsample_ref(&x, s, spec, mode);
    let what = format!("{s:?} {spec:?} mode {mode:?}");
    if mode.is_none() {
        assert_eq!(got[0], want, "{what}");
    } else {
        assert_close(&got[0], &want, 1e-6, 1e-5, &what);
    }
}

#[test]
fn nearest_with_output_size() {
    for (i, (s, oh, ow)) in [
        (vec![1, 1, 4, 5], 8, 10),
        (vec![2, 3, 5, 7], 8, 11),
        (vec![1, 2, 7, 9], 3, 4),
        (vec![3, 1, 5, 5], 5, 13),
        (vec![1, 1, 1, 1], 3, 2),
        (vec![2, 2, 6, 3], 1, 1),
    ]
    .into_iter()
    .enumerate()
    {
        check_upsample(&s, Spec::Size(oh, ow), None, i as u64);
    }
}

#[test]
fn nearest_with_scale_factors() {
    for (i, (s, sh, sw)) in [
        (vec![2, 3, 5, 7], 1.7, 2.5),
        (vec![1, 2, 5, 5], 1.1, 2.05), // out == in; out == 2 in with a scale != 2
        (vec![1, 1, 9, 8], 0.5, 0.37),
        (vec![2, 1, 3, 4], 3.0, 1.0 / 3.0 * 3.3),
        (vec![1, 4, 6, 7], 2.0, 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        check_upsample(&s, Spec::Scale(sh, sw), None, 10 + i as u64);
    }
}

#[test]
fn nearest_copies_int_tensors() {
    let s = [2, 2, 3, 4];
    let spec = Spec::Scale(1.5, 2.3);
    let (oh, ow) = spec.out_hw(3, 4);
    let vals: Vec<i32> = (0..48).map(|v| v * 7 - 100).collect();
    let mut g = GraphBuilder::new();
    let xi = g.tensor(DType::Int32, &s);
    g.graph.input_ids.push(xi);
    add_upsample(&mut g, xi, spec, None, DType::Int32, &[2, 2, oh, ow]);
    let mut d = g.build().unwrap();
    let data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::new(DType::Int32, s.to_vec(), data).unwrap();
    let got = d.run(&[InputValue::Tensor(t)]).unwrap()[0].to_f32_vec();
    let xf: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
    assert_eq!(got, upsample_ref(&xf, &s, spec, None));
}

#[test]
fn bilinear_with_output_size() {
    let mut seed = 100;
    for ac in [false, true] {
        for (s, oh, ow) in [
            (vec![1, 1, 4, 5], 8, 10),
            (vec![2, 3, 5, 7], 9, 13),
            (vec![1, 2, 7, 9], 3, 4),
            (vec![2, 1, 5, 5], 5, 11), // H unchanged
            (vec![1, 1, 1, 1], 3, 2),
            (vec![1, 2, 6, 3], 1, 1),
        ] {
            seed += 1;
            check_upsample(&s, Spec::Size(oh, ow), Some(ac), seed);
        }
    }
}

#[test]
fn bilinear_with_scale_factors() {
    let mut seed = 200;
    for ac in [false, true] {
        for (s, sh, sw) in [
            (vec![2, 3, 5, 7], 1.5, 1.5),
            (vec![1, 2, 5, 7], 0.6, 2.0),
            (vec![1, 1, 9, 8], 0.3644, 1.18), // W unchanged with a scale != 1
            (vec![2, 2, 4, 3], 2.5, 3.0),
        ] {
            seed += 1;
            check_upsample(&s, Spec::Scale(sh, sw), Some(ac), seed);
        }
    }
}

fn upsample_err(
    s: &[usize],
    size: Option<&[i64]>,
    scales: Option<&[f64]>,
    mode: Option<bool>,
    dtype: DType,
    out: &[usize],
) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let x = g.tensor(dtype, s);
    g.graph.input_ids.push(x);
    let size = match size {
        Some(v) => g.int_list(v),
        None => g.null(),
    };
    let scales = match scales {
        Some(v) => {
            g.graph
                .values
                .push(etvk::format::Value::DoubleList(v.to_vec()));
            g.graph.values.len() - 1
        }
        None => g.null(),
    };
    let o = g.tensor(dtype, out);
    match mode {
        None => g.op("aten.upsample_nearest2d.vec", &[x, size, scales, o]),
        Some(ac) => {
            let ac = g.bool(ac);
            g.op("aten.upsample_bilinear2d.vec", &[x, size, ac, scales, o])
        }
    }
    g.output(o);
    g.build().err().expect("must fail")
}

#[test]
fn upsample_invalid_arguments() {
    use etvk::ErrorKind::{InvalidProgram, NotSupported};
    let f = DType::Float32;
    let s = [1, 2, 4, 4];
    // Both or neither of output_size / scale_factors.
    let e = upsample_err(&s, Some(&[8, 8]), Some(&[2.0, 2.0]), None, f, &[1, 2, 8, 8]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("exactly one"), "{}", e.message);
    let e = upsample_err(&s, None, None, Some(false), f, &[1, 2, 8, 8]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    // Wrong list lengths.
    let e = upsample_err(&s, Some(&[8]), None, None, f, &[1, 2, 8, 8]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    let e = upsample_err(
        &s,
        None,
        Some(&[2.0, 2.0, 2.0]),
        Some(true),
        f,
        &[1, 2, 8, 8],
    );
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    // Rank 3 input.
    let e = upsample_err(&[2, 4, 4], Some(&[8, 8]), None, None, f, &[2, 8, 8]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("4-D"), "{}", e.message);
    // A scale that gives an empty output; a non-positive output size.
    let e = upsample_err(&s, None, Some(&[0.2, 1.0]), None, f, &[1, 2, 0, 4]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("positive"), "{}", e.message);
    let e = upsample_err(&s, Some(&[-2, 3]), None, Some(false), f, &[1, 2, 2, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    // Serialized output disagrees with the scale rule (floor(4 * 1.9) = 7).
    let e = upsample_err(&s, None, Some(&[1.9, 1.9]), None, f, &[1, 2, 8, 8]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    // Bilinear on integers.
    let e = upsample_err(
        &s,
        Some(&[8, 8]),
        None,
        Some(false),
        DType::Int32,
        &[1, 2, 8, 8],
    );
    assert_eq!(e.kind, NotSupported, "{}", e.message);
}

// ---------------------------------------------------------------------------------------------
// grid_sampler_2d: the reference uses PyTorch's scalar formulas (GridSampler.h) while the shader
// uses the vectorized kernel's, so each checks the other.

fn unnormalize(c: f32, size: usize, ac: bool) -> f32 {
    if ac {
        (c + 1.0) * ((size - 1) as f32 / 2.0)
    } else {
        (c + 1.0) * (size as f32 / 2.0) - 0.5
    }
}

fn reflect(x: f32, twice_low: i64, twice_high: i64) -> f32 {
    if twice_low == twice_high {
        return 0.0;
    }
    let min = twice_low as f32 / 2.0;
    let span = (twice_high - twice_low) as f32 / 2.0;
    let x = (x - min).abs();
    let extra = x % span;
    let flips = (x / span).floor() as i64;
    if flips % 2 == 0 {
        extra + min
    } else {
        span - extra + min
    }
}

fn pad_coord(x: f32, size: usize, padding: i64, ac: bool) -> f32 {
    let clip = |v: f32| v.max(0.0).min((size - 1) as f32);
    let s = size as i64;
    match padding {
        1 => clip(x),
        2 if ac => clip(reflect(x, 0, 2 * (s - 1))),
        2 => clip(reflect(x, -1, 2 * s - 1)),
        _ => x,
    }
}

fn cubic_coeffs(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let c1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let c2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [c2(t + 1.0), c1(t), c1(1.0 - t), c2(2.0 - t)]
}

#[allow(clippy::too_many_arguments)]
fn grid_sample_ref(
    x: &[f32],
    s: &[usize],
    grid: &[f32],
    gs: &[usize],
    mode: i64,
    padding: i64,
    ac: bool,
) -> Vec<f32> {
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let (oh, ow) = (gs[1], gs[2]);
    let mut out = vec![0.0; n * c * oh * ow];
    for b in 0..n {
        for p in 0..oh * ow {
            let gi = (b * oh * ow + p) * 2;
            let ix = unnormalize(grid[gi], w, ac);
            let iy = unnormalize(grid[gi + 1], h, ac);
            for ch in 0..c {
                let plane = &x[(b * c + ch) * h * w..][..h * w];
                let at = |yy: f32, xx: f32| {
                    if xx >= 0.0 && xx < w as f32 && yy >= 0.0 && yy < h as f32 {
                        plane[yy as usize * w + xx as usize]
                    } else {
                        0.0
                    }
                };
                let v = match mode {
                    2 => {
                        let (x0, y0) = (ix.floor(), iy.floor());
                        let cx = cubic_coeffs(ix - x0);
                        let cy = cubic_coeffs(iy - y0);
                        let mut acc = 0.0;
                        for (j, wy) in cy.iter().enumerate() {
                            let yy = pad_coord(y0 - 1.0 + j as f32, h, padding, ac);
                            let mut row = 0.0;
                            for (i, wx) in cx.iter().enumerate() {
                                let xx = pad_coord(x0 - 1.0 + i as f32, w, padding, ac);
                                row += wx * at(yy, xx);
                            }
                            acc += wy * row;
                        }
                        acc
                    }
                    1 => {
                        let xx = pad_coord(ix, w, padding, ac).round_ties_even();
                        let yy = pad_coord(iy, h, padding, ac).round_ties_even();
                        at(yy, xx)
                    }
                    _ => {
                        let xx = pad_coord(ix, w, padding, ac);
                        let yy = pad_coord(iy, h, padding, ac);
                        let (x0, y0) = (xx.floor(), yy.floor());
                        let (x1, y1) = (x0 + 1.0, y0 + 1.0);
                        at(y0, x0) * (x1 - xx) * (y1 - yy)
                            + at(y0, x1) * (xx - x0) * (y1 - yy)
                            + at(y1, x0) * (x1 - xx) * (yy - y0)
                            + at(y1, x1) * (xx - x0) * (yy - y0)
                    }
                };
                out[(b * c + ch) * oh * ow + p] = v;
            }
        }
    }
    out
}

fn grid_sample_graph(
    s: &[usize],
    gs: &[usize],
    mode: i64,
    padding: i64,
    ac: bool,
    out: &[usize],
) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let x = g.input(s);
    let grid = g.input(gs);
    let m = g.int(mode);
    let p = g.int(padding);
    let a = g.bool(ac);
    let o = g.f32(out);
    g.op("aten.grid_sampler_2d.default", &[x, grid, m, p, a, o]);
    g.output(o);
    g
}

#[test]
fn grid_sample_every_mode() {
    let mut seed = 300;
    for (s, gs) in [
        (vec![2, 3, 4, 5], vec![2, 3, 6, 2]),
        (vec![1, 2, 1, 4], vec![1, 5, 2, 2]),
        (vec![1, 1, 5, 1], vec![1, 2, 3, 2]),
    ] {
        for mode in 0..3 {
            for padding in 0..3 {
                for ac in [false, true] {
                    seed += 1;
                    let mut r = Rng::new(seed);
                    let x = r.vec(s.iter().product());
                    // Coordinates in [-1.4, 1.4): in range and out of it.
                    let grid: Vec<f32> =
                        r.vec(gs.iter().product()).iter().map(|v| v * 1.4).collect();
                    let out = [s[0], s[1], gs[1], gs[2]];
                    let g = grid_sample_graph(&s, &gs, mode, padding, ac, &out);
                    let got = g.run(&[(&s, &x), (&gs, &grid)]).unwrap();
                    let want = grid_sample_ref(&x, &s, &grid, &gs, mode, padding, ac);
                    let what = format!("{s:?} grid {gs:?} mode {mode} padding {padding} ac {ac}");
                    assert_close(&got[0], &want, 1e-5, 1e-5, &what);
                }
            }
        }
    }
}

#[test]
fn grid_sample_exact_points() {
    // Grid points on pixel centres reproduce the input (align_corners: -1 and 1 are the
    // corner centres); halfway points average two neighbours.
    let s = [1, 1, 3, 3];
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let gs = [1, 1, 4, 2];
    let grid = [-1.0, -1.0, 1.0, 1.0, 0.0, 0.0, -0.5, 0.0];
    let g = grid_sample_graph(&s, &gs, 0, 0, true, &[1, 1, 1, 4]);
    let got = g.run(&[(&s, &x), (&gs, &grid)]).unwrap();
    assert_close(&got[0], &[0.0, 8.0, 4.0, 3.5], 1e-6, 0.0, "exact points");
}

#[test]
fn grid_sample_matches_pytorch_golden_values() {
    // The partitioner delegates only bilinear / border / align_corners, so the other modes
    // have no exported fixture: these outputs were printed by torch.grid_sampler_2d (2.14) for
    // x = sin(0.37 * arange(12)).view(1, 1, 3, 4) and this grid.
    let s = [1, 1, 3, 4];
    let x = [
        0.0, 0.3616154, 0.6742879, 0.8956987, 0.9958808, 0.9612752, 0.7965655, 0.5240442,
        0.1805962, -0.1872946, -0.5298362, -0.8006669,
    ];
    let gs = [1, 2, 3, 2];
    let grid = [
        -1.3, -0.9, 0.25, 0.6, 1.2, 1.45, -0.5, 0.1, 0.71, -1.1, 0.0, 0.0,
    ];
    let cases: [(i64, i64, bool, [f32; 6]); 6] = [
        (
            2,
            2,
            false,
            [
                -0.1373863, -0.4202462, -0.6258944, 0.9392499, 0.9411224, 0.901225,
            ],
        ),
        (
            2,
            0,
            true,
            [
                0.01240617,
                -0.006578201,
                -0.4351758,
                0.979349,
                0.8585516,
                0.901225,
            ],
        ),
        (
            2,
            1,
            false,
            [
                -0.110449, -0.4202462, -0.8024946, 0.9392499, 0.9032057, 0.901225,
            ],
        ),
        (
            1,
            2,
            true,
            [0.0, -0.5298362, -0.8006669, 0.9612752, 0.8956987, 0.7965655],
        ),
        (
            1,
            0,
            false,
            [0.0, -0.5298362, 0.0, 0.9958808, 0.0, 0.7965655],
        ),
        (
            0,
            2,
            false,
            [
                0.03616151, -0.3971961, -0.5688422, 0.8312889, 0.8779858, 0.8789203,
            ],
        ),
    ];
    for (mode, padding, ac, want) in cases {
        let g = grid_sample_graph(&s, &gs, mode, padding, ac, &[1, 1, 2, 3]);
        let got = g.run(&[(&s, &x), (&gs, &grid)]).unwrap();
        let what = format!("golden mode {mode} padding {padding} ac {ac}");
        assert_close(&got[0], &want, 2e-6, 1e-5, &what);
        let reference = grid_sample_ref(&x, &s, &grid, &gs, mode, padding, ac);
        assert_close(
            &reference,
            &want,
            2e-6,
            1e-5,
            &format!("{what} (CPU reference)"),
        );
    }
}

#[test]
fn grid_sample_invalid_arguments() {
    use etvk::ErrorKind::InvalidProgram;
    let err = |s: &[usize], gs: &[usize], mode, padding, out: &[usize]| {
        grid_sample_graph(s, gs, mode, padding, true, out)
            .build()
            .err()
            .expect("must fail")
    };
    let e = err(&[1, 2, 4, 4], &[1, 3, 3, 2], 3, 0, &[1, 2, 3, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("interpolation_mode"), "{}", e.message);
    let e = err(&[1, 2, 4, 4], &[1, 3, 3, 2], 0, 3, &[1, 2, 3, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("padding_mode"), "{}", e.message);
    let e = err(&[1, 2, 4, 4], &[1, 3, 3, 3], 0, 0, &[1, 2, 3, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    let e = err(&[2, 2, 4, 4], &[1, 3, 3, 2], 0, 0, &[2, 2, 3, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("batch"), "{}", e.message);
    let e = err(&[2, 4, 4], &[2, 3, 3, 2], 0, 0, &[2, 3, 3]);
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
}

// ---------------------------------------------------------------------------------------------
// pixel_shuffle

fn pixel_shuffle_ref(x: &[f32], s: &[usize], r: usize) -> Vec<f32> {
    let k = s.len();
    let (ch, h, w) = (s[k - 3], s[k - 2], s[k - 1]);
    let c = ch / (r * r);
    let batch: usize = s[..k - 3].iter().product();
    let mut out = Vec::with_capacity(x.len());
    for b in 0..batch {
        for cc in 0..c {
            for oh in 0..h * r {
                for ow in 0..w * r {
                    let ic = cc * r * r + (oh % r) * r + ow % r;
                    out.push(x[((b * ch + ic) * h + oh / r) * w + ow / r]);
                }
            }
        }
    }
    out
}

fn shuffle_graph(s: &[usize], r: i64, out: &[usize], dtype: DType) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let x = g.tensor(dtype, s);
    g.graph.input_ids.push(x);
    let r = g.int(r);
    let o = g.tensor(dtype, out);
    g.op("aten.pixel_shuffle.default", &[x, r, o]);
    g.output(o);
    g
}

#[test]
fn pixel_shuffle_shapes() {
    for (i, (s, r)) in [
        (vec![2, 12, 3, 5], 2),
        (vec![8, 2, 3], 2),
        (vec![2, 3, 18, 2, 1], 3),
        (vec![1, 5, 4, 4], 1),
    ]
    .into_iter()
    .enumerate()
    {
        let k = s.len();
        let mut out = s[..k - 3].to_vec();
        out.extend([s[k - 3] / (r * r), s[k - 2] * r, s[k - 1] * r]);
        let x = Rng::new(400 + i as u64).vec(s.iter().product());
        let g = shuffle_graph(&s, r as i64, &out, DType::Float32);
        let got = g.run(&[(&s, &x)]).unwrap();
        assert_eq!(got[0], pixel_shuffle_ref(&x, &s, r), "{s:?} r {r}");
    }
}

#[test]
fn pixel_shuffle_int() {
    let s = [1, 8, 2, 3];
    let vals: Vec<i32> = (0..48).map(|v| 1000 - v * 3).collect();
    let g = shuffle_graph(&s, 2, &[1, 2, 4, 6], DType::Int32);
    let mut d = g.build().unwrap();
    let data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = HostTensor::new(DType::Int32, s.to_vec(), data).unwrap();
    let got = d.run(&[InputValue::Tensor(t)]).unwrap()[0].to_f32_vec();
    let xf: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
    assert_eq!(got, pixel_shuffle_ref(&xf, &s, 2));
}

#[test]
fn pixel_shuffle_invalid_arguments() {
    use etvk::ErrorKind::InvalidProgram;
    let f = DType::Float32;
    let e = shuffle_graph(&[1, 6, 2, 2], 2, &[1, 1, 4, 4], f)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    assert!(e.message.contains("divisible"), "{}", e.message);
    let e = shuffle_graph(&[4, 4], 2, &[1, 8, 8], f)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    let e = shuffle_graph(&[1, 4, 2, 2], 0, &[1, 4, 2, 2], f)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
    let e = shuffle_graph(&[1, 4, 2, 2], 2, &[1, 1, 4, 2], f)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, InvalidProgram, "{}", e.message);
}

// ---------------------------------------------------------------------------------------------
// et_vk.grid_priors

fn grid_priors_graph(s: &[usize], stride: i64, offset: f64, out: &[usize]) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let x = g.input(s);
    let st = g.int(stride);
    let off = g.double(offset);
    let o = g.f32(out);
    g.op("et_vk.grid_priors.default", &[x, st, off, o]);
    g.output(o);
    g
}

#[test]
fn grid_priors_shapes() {
    for (s, stride, offset) in [
        (vec![1, 5, 2, 3], 8, 0.5),
        (vec![4, 7], 16, 0.0),
        (vec![2, 1, 3, 9, 1], 3, 0.25),
        (vec![1, 1, 6, 5], 32, 0.3),
    ] {
        let k = s.len();
        let (h, w) = (s[k - 2], s[k - 1]);
        let x = vec![0.0; s.iter().product()];
        let g = grid_priors_graph(&s, stride, offset, &[h * w, 2]);
        let got = g.run(&[(&s, &x)]).unwrap();
        let want: Vec<f32> = (0..h * w)
            .flat_map(|k| {
                let f = |i: usize| (i as f32 + offset as f32) * stride as f32;
                [f(k % w), f(k / w)]
            })
            .collect();
        assert_eq!(got[0], want, "{s:?} stride {stride} offset {offset}");
    }
}

#[test]
fn grid_priors_invalid_arguments() {
    let e = grid_priors_graph(&[5], 8, 0.5, &[5, 2])
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, etvk::ErrorKind::InvalidProgram, "{}", e.message);
    let e = grid_priors_graph(&[1, 2, 3], 8, 0.5, &[5, 2])
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind, etvk::ErrorKind::InvalidProgram, "{}", e.message);
}
