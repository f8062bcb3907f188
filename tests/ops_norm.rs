//! native_layer_norm / native_group_norm / _native_batch_norm_legit_no_training /
//! et_vk.rms_norm against f64 CPU references: odd sizes, rows longer than a workgroup, inputs
//! with a large mean (the variance must not cancel), weight/bias present or None, and the
//! mean/rstd outputs; plus invalid arguments.
mod common;
use common::*;

use etvk::format::DType;

/// Input values: uniform in [-scale, scale) + offset.
fn input(n: usize, seed: u64, scale: f32, offset: f32) -> Vec<f32> {
    Rng::new(seed)
        .vec(n)
        .iter()
        .map(|v| v * scale + offset)
        .collect()
}

/// (mean, rstd) of `row` in f64, the biased variance as in PyTorch.
fn stats(row: &[f32], eps: f64) -> (f64, f64) {
    let n = row.len() as f64;
    let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Runs a three-output norm (`outs` = [out, mean, rstd] sizes) and returns the outputs.
fn run_three(
    g: &mut GraphBuilder,
    name: &str,
    mut args: Vec<usize>,
    outs: [&[usize]; 3],
    x: (&[usize], &[f32]),
) -> Vec<Vec<f32>> {
    let ids: Vec<usize> = outs.iter().map(|s| g.f32(s)).collect();
    let list = g.value_list(&ids);
    args.push(list);
    g.op(name, &args);
    for id in ids {
        g.output(id);
    }
    g.run(&[x]).unwrap()
}

fn opt_const(
    g: &mut GraphBuilder,
    on: bool,
    sizes: &[usize],
    seed: u64,
) -> (usize, Option<Vec<f32>>) {
    if on {
        let v = input(sizes.iter().product(), seed, 1.0, 0.5);
        (g.constant(sizes, &v), Some(v))
    } else {
        (g.null(), None)
    }
}

fn run_layer_norm(sizes: &[usize], k: usize, affine: (bool, bool), offset: f32) {
    let eps = 1e-5;
    let lead = sizes.len() - k;
    let norm_sizes = &sizes[lead..];
    let d: usize = norm_sizes.iter().product();
    let n: usize = sizes.iter().product();
    let x = input(n, n as u64 + k as u64, 2.0, offset);
    let mut g = GraphBuilder::new();
    let xi = g.input(sizes);
    let shape: Vec<i64> = norm_sizes.iter().map(|&s| s as i64).collect();
    let s = g.int_list(&shape);
    let (w, wv) = opt_const(&mut g, affine.0, norm_sizes, 1);
    let (bi, bv) = opt_const(&mut g, affine.1, norm_sizes, 2);
    let e = g.double(eps);
    let mut stat_sizes = sizes[..lead].to_vec();
    stat_sizes.resize(sizes.len(), 1);
    let got = run_three(
        &mut g,
        "aten.native_layer_norm.default",
        vec![xi, s, w, bi, e],
        [sizes, &stat_sizes, &stat_sizes],
        (sizes, &x),
    );
    let (mut out, mut means, mut rstds) = (vec![], vec![], vec![]);
    for row in x.chunks(d) {
        let (m, r) = stats(row, eps);
        means.push(m as f32);
        rstds.push(r as f32);
        for (j, &v) in row.iter().enumerate() {
            let mut y = (v as f64 - m) * r;
            if let Some(w) = &wv {
                y *= w[j] as f64;
            }
            if let Some(b) = &bv {
                y += b[j] as f64;
            }
            out.push(y as f32);
        }
    }
    let what = format!("layer_norm {sizes:?} k={k} affine {affine:?} offset {offset}");
    assert_close(&got[0], &out, 1e-4, 1e-4, &what);
    assert_close(&got[1], &means, 1e-5, 1e-5, &format!("{what} mean"));
    assert_close(&got[2], &rstds, 1e-5, 1e-4, &format!("{what} rstd"));
}

#[test]
fn layer_norm_matches_reference() {
    let cases: &[(&[usize], usize)] = &[
        (&[7], 1),
        (&[3, 5], 1),
        (&[2, 3, 37], 1),
        (&[2, 3, 5, 6], 2),
        (&[2, 3, 4], 3),
        (&[4, 130], 1),
        (&[1, 1000], 1),
        (&[3, 1], 1),
        // Rows of whole vec4s (the vec4 build), 65 of them: a ViT block's tokens.
        (&[1, 65, 64], 1),
    ];
    for (s, k) in cases {
        for affine in [(true, true), (false, false), (true, false), (false, true)] {
            run_layer_norm(s, *k, affine, 0.0);
        }
    }
}

#[test]
fn layer_norm_is_accurate_for_large_means() {
    // A naive E[x^2] - E[x]^2 loses every digit of the variance here.
    for (s, k) in [(&[3usize, 200][..], 1), (&[2, 5, 9][..], 2)] {
        run_layer_norm(s, k, (true, true), 300.0);
    }
}

fn run_group_norm(sizes: &[usize], groups: usize, affine: bool, offset: f32) {
    let eps = 1e-5;
    let (n, c) = (sizes[0], sizes[1]);
    let hw: usize = sizes[2..].iter().product();
    let x = input(
        sizes.iter().product(),
        (n * c * hw + groups) as u64,
        1.5,
        offset,
    );
    let mut g = GraphBuilder::new();
    let xi = g.input(sizes);
    let (w, wv) = opt_const(&mut g, affine, &[c], 3);
    let (bi, bv) = opt_const(&mut g, affine, &[c], 4);
    let ints = [n, c, hw, groups].map(|v| g.int(v as i64));
    let e = g.double(eps);
    let got = run_three(
        &mut g,
        "aten.native_group_norm.default",
        vec![xi, w, bi, ints[0], ints[1], ints[2], ints[3], e],
        [sizes, &[n, groups], &[n, groups]],
        (sizes, &x),
    );
    let d = c / groups * hw;
    let (mut out, mut means, mut rstds) = (vec![], vec![], vec![]);
    for (r, row) in x.chunks(d).enumerate() {
        let (m, rs) = stats(row, eps);
        means.push(m as f32);
        rstds.push(rs as f32);
        for (j, &v) in row.iter().enumerate() {
            let ch = (r % groups) * (c / groups) + j / hw;
            let mut y = (v as f64 - m) * rs;
            if let (Some(w), Some(b)) = (&wv, &bv) {
                y = y * w[ch] as f64 + b[ch] as f64;
            }
            out.push(y as f32);
        }
    }
    let what = format!("group_norm {sizes:?} groups {groups} affine {affine}");
    assert_close(&got[0], &out, 1e-4, 1e-4, &what);
    assert_close(&got[1], &means, 1e-5, 1e-5, &format!("{what} mean"));
    assert_close(&got[2], &rstds, 1e-5, 1e-4, &format!("{what} rstd"));
}

#[test]
fn group_norm_matches_reference() {
    let cases: &[(&[usize], usize)] = &[
        (&[2, 6, 5, 7], 3),
        (&[2, 6, 5, 7], 1),
        (&[2, 6, 5, 7], 6),
        (&[1, 4, 3], 2),
        (&[3, 8], 4),
        (&[1, 4, 9, 11], 2),
        // Groups of whole vec4s: the vec4 build without affine, the scalar one with it.
        (&[2, 8, 3, 4], 2),
    ];
    for (s, gr) in cases {
        for affine in [true, false] {
            run_group_norm(s, *gr, affine, 0.0);
        }
    }
    run_group_norm(&[2, 4, 6, 5], 2, true, 100.0);
}

fn run_batch_norm(sizes: &[usize], affine: (bool, bool)) {
    let eps = 1e-3;
    let c = sizes[1];
    let inner: usize = sizes[2..].iter().product();
    let x = input(
        sizes.iter().product(),
        sizes.len() as u64 * 31 + c as u64,
        2.0,
        0.3,
    );
    let rm = input(c, 5, 1.0, 0.0);
    let rv: Vec<f32> = input(c, 6, 0.5, 1.0);
    let mut g = GraphBuilder::new();
    let xi = g.input(sizes);
    let (w, wv) = opt_const(&mut g, affine.0, &[c], 7);
    let (bi, bv) = opt_const(&mut g, affine.1, &[c], 8);
    let rmi = g.constant(&[c], &rm);
    let rvi = g.constant(&[c], &rv);
    let mo = g.double(0.1);
    let e = g.double(eps);
    let out = g.f32(sizes);
    let sm = g.f32(&[0]);
    let si = g.f32(&[0]);
    let list = g.value_list(&[out, sm, si]);
    g.op(
        "aten._native_batch_norm_legit_no_training.default",
        &[xi, w, bi, rmi, rvi, mo, e, list],
    );
    g.output(out);
    let got = g.run(&[(sizes, &x)]).unwrap();
    let want: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / inner) % c;
            let mut y = (v as f64 - rm[ch] as f64) / (rv[ch] as f64 + eps).sqrt();
            if let Some(w) = &wv {
                y *= w[ch] as f64;
            }
            if let Some(b) = &bv {
                y += b[ch] as f64;
            }
            y as f32
        })
        .collect();
    assert_close(
        &got[0],
        &want,
        1e-5,
        1e-5,
        &format!("batch_norm {sizes:?} affine {affine:?}"),
    );
}

#[test]
fn batch_norm_matches_reference() {
    for s in [
        &[2usize, 5, 4, 7][..],
        &[3, 4],
        &[3, 4, 6],
        &[1, 3, 2, 3, 5],
    ] {
        for affine in [(true, true), (false, false), (true, false), (false, true)] {
            run_batch_norm(s, affine);
        }
    }
}

fn run_rms_norm(sizes: &[usize], offset: f32) {
    let eps = 1e-6;
    let d = *sizes.last().unwrap();
    let x = input(sizes.iter().product(), d as u64 + 11, 2.0, offset);
    let w = input(d, 12, 1.0, 0.5);
    let mut g = GraphBuilder::new();
    let xi = g.input(sizes);
    let wi = g.constant(&[d], &w);
    let e = g.double(eps);
    let out = g.f32(sizes);
    g.op("et_vk.rms_norm.default", &[xi, wi, e, out]);
    g.output(out);
    let got = g.run(&[(sizes, &x)]).unwrap();
    let mut want = vec![];
    for row in x.chunks(d) {
        let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / d as f64;
        let r = 1.0 / (ms + eps).sqrt();
        want.extend(
            row.iter()
                .enumerate()
                .map(|(j, &v)| (v as f64 * r * w[j] as f64) as f32),
        );
    }
    assert_close(&got[0], &want, 1e-5, 1e-4, &format!("rms_norm {sizes:?}"));
}

#[test]
fn rms_norm_matches_reference() {
    for s in [
        &[7usize][..],
        &[2, 3, 40],
        &[3, 257],
        &[1, 1, 2048],
        &[5, 1],
    ] {
        run_rms_norm(s, 0.0);
    }
    run_rms_norm(&[4, 100], 50.0);
}

fn layer_norm_err(
    sizes: &[usize],
    shape: &[i64],
    w_sizes: Option<&[usize]>,
    outs: usize,
) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let xi = g.input(sizes);
    let s = g.int_list(shape);
    let w = match w_sizes {
        Some(ws) => g.constant(ws, &vec![1.0; ws.iter().product()]),
        None => g.null(),
    };
    let b = g.null();
    let e = g.double(1e-5);
    let ids: Vec<usize> = (0..outs).map(|_| g.f32(sizes)).collect();
    let list = g.value_list(&ids);
    g.op("aten.native_layer_norm.default", &[xi, s, w, b, e, list]);
    g.output(ids[0]);
    g.build().err().expect("must fail")
}

#[test]
fn invalid_arguments_are_rejected() {
    use etvk::ErrorKind::{InvalidProgram, NotSupported};

    let err = layer_norm_err(&[2, 3], &[4], None, 3);
    assert_eq!(err.kind, InvalidProgram);
    assert!(err.message.contains("normalized_shape"), "{}", err.message);
    let err = layer_norm_err(&[2, 3], &[2, 2, 3], None, 3);
    assert_eq!(err.kind, InvalidProgram);
    let err = layer_norm_err(&[2, 3], &[3], Some(&[2]), 3);
    assert_eq!(err.kind, InvalidProgram);
    assert!(err.message.contains("weight"), "{}", err.message);
    let err = layer_norm_err(&[2, 3], &[3], None, 2);
    assert_eq!(err.kind, InvalidProgram);
    assert!(err.message.contains("3 tensors"), "{}", err.message);

    // group norm: C not divisible by group; N/C/HxW not matching the input.
    for (ints, needle) in [([2, 6, 4, 4], "divisible"), ([2, 5, 4, 1], "do not match")] {
        let mut g = GraphBuilder::new();
        let xi = g.input(&[2, 6, 4]);
        let (w, b) = (g.null(), g.null());
        let iv = ints.map(|v| g.int(v));
        let e = g.double(1e-5);
        let outs = [
            g.f32(&[2, 6, 4]),
            g.f32(&[2, ints[3] as usize]),
            g.f32(&[2, ints[3] as usize]),
        ];
        let list = g.value_list(&outs);
        g.op(
            "aten.native_group_norm.default",
            &[xi, w, b, iv[0], iv[1], iv[2], iv[3], e, list],
        );
        g.output(outs[0]);
        let err = g.build().err().expect("must fail");
        assert_eq!(err.kind, InvalidProgram);
        assert!(err.message.contains(needle), "{}", err.message);
    }

    // batch norm: rank-1 input; running stats of the wrong size.
    for (sizes, c) in [(&[4usize][..], 4usize), (&[2, 4, 3][..], 3)] {
        let mut g = GraphBuilder::new();
        let xi = g.input(sizes);
        let (w, b) = (g.null(), g.null());
        let rm = g.constant(&[c], &vec![0.0; c]);
        let rv = g.constant(&[c], &vec![1.0; c]);
        let (mo, e) = (g.double(0.1), g.double(1e-5));
        let outs = [g.f32(sizes), g.f32(&[0]), g.f32(&[0])];
        let list = g.value_list(&outs);
        g.op(
            "aten._native_batch_norm_legit_no_training.default",
            &[xi, w, b, rm, rv, mo, e, list],
        );
        g.output(outs[0]);
        let err = g.build().err().expect("must fail");
        assert_eq!(err.kind, InvalidProgram, "{}", err.message);
    }

    // rms norm: weight not sized like the last dim; integer input.
    let mut g = GraphBuilder::new();
    let xi = g.input(&[2, 8]);
    let w = g.constant(&[4], &[1.0; 4]);
    let e = g.double(1e-6);
    let out = g.f32(&[2, 8]);
    g.op("et_vk.rms_norm.default", &[xi, w, e, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, InvalidProgram);
    assert!(err.message.contains("weight"), "{}", err.message);

    let mut g = GraphBuilder::new();
    let xi = g.tensor(DType::Int32, &[2, 8]);
    g.graph.input_ids.push(xi);
    let w = g.constant(&[8], &[1.0; 8]);
    let e = g.double(1e-6);
    let out = g.tensor(DType::Int32, &[2, 8]);
    g.op("et_vk.rms_norm.default", &[xi, w, e, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, NotSupported);
}
