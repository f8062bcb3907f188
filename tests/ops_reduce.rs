//! mean.dim / sum.dim_IntList / amax / amin and _softmax / _log_softmax against CPU references:
//! inner, outer, middle and multiple dims, negative dims, keepdim both ways, None / empty dim
//! lists (all dims), sizes that are not multiples of 4.
mod common;
use common::*;

/// How the `dim` argument is given.
#[derive(Clone, Copy)]
enum Dims<'a> {
    List(&'a [i64]),
    Null,
}

/// CPU reduction: `f` folds the reduced elements (in row-major order) of each output element.
fn reduce_ref(
    x: &[f32],
    sizes: &[usize],
    dims: &[i64],
    keepdim: bool,
    f: impl Fn(&[f32]) -> f32,
) -> (Vec<f32>, Vec<usize>) {
    let rank = sizes.len();
    let mut red = vec![dims.is_empty(); rank];
    for &d in dims {
        red[(if d < 0 { d + rank as i64 } else { d }) as usize] = true;
    }
    let out_full: Vec<usize> = (0..rank)
        .map(|d| if red[d] { 1 } else { sizes[d] })
        .collect();
    let n_out: usize = out_full.iter().product();
    let mut groups = vec![vec![]; n_out];
    let (si, so) = (strides(sizes), strides(&out_full));
    for (i, &v) in x.iter().enumerate() {
        let o: usize = (0..rank)
            .map(|d| {
                if red[d] {
                    0
                } else {
                    (i / si[d]) % sizes[d] * so[d]
                }
            })
            .sum();
        groups[o].push(v);
    }
    let out_sizes = (0..rank)
        .filter(|&d| keepdim || !red[d])
        .map(|d| out_full[d])
        .collect();
    (groups.iter().map(|g| f(g)).collect(), out_sizes)
}

fn mean(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64) as f32
}
fn sum(v: &[f32]) -> f32 {
    v.iter().map(|&x| x as f64).sum::<f64>() as f32
}
fn max(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}
fn min(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}

/// Runs `name` (mean.dim / sum.dim_IntList with a dtype arg; amax / amin without).
fn run_reduce(name: &str, sizes: &[usize], dims: Dims, keepdim: bool, f: fn(&[f32]) -> f32) {
    let mut rng = Rng::new(sizes.iter().sum::<usize>() as u64 * 13 + keepdim as u64);
    let x = rng.vec(sizes.iter().product());
    let dim_vals: &[i64] = match dims {
        Dims::List(d) => d,
        Dims::Null => &[],
    };
    let (want, out_sizes) = reduce_ref(&x, sizes, dim_vals, keepdim, f);
    let mut g = GraphBuilder::new();
    let a = g.input(sizes);
    let d = match dims {
        Dims::List(d) => g.int_list(d),
        Dims::Null => g.null(),
    };
    let k = g.bool(keepdim);
    let out = g.f32(&out_sizes);
    if name.contains("amax") || name.contains("amin") {
        g.op(name, &[a, d, k, out]);
    } else {
        let dtype = g.null();
        g.op(name, &[a, d, k, dtype, out]);
    }
    g.output(out);
    let got = g.run(&[(sizes, &x)]).unwrap();
    assert_close(
        &got[0],
        &want,
        1e-5,
        1e-5,
        &format!("{name} {sizes:?} dims {dim_vals:?} keepdim {keepdim}"),
    );
}

const CASES: &[(&[usize], &[i64])] = &[
    (&[7], &[0]),
    (&[3, 5], &[1]),
    (&[3, 5], &[0]),
    (&[2, 3, 5], &[-1]),
    (&[2, 3, 5], &[1]),
    (&[2, 3, 5], &[0, 2]),
    (&[2, 3, 7, 9], &[-1, -2]),
    (&[2, 3, 7, 9], &[1, 3]),
    (&[2, 3, 7, 9], &[0, 1, 2]),
    (&[4, 1, 6, 3, 5], &[2, -5]),
    (&[3, 33, 17], &[1, 2]),
];

#[test]
fn mean_dim_matches_reference() {
    for keepdim in [false, true] {
        for (s, d) in CASES {
            run_reduce("aten.mean.dim", s, Dims::List(d), keepdim, mean);
        }
    }
}

#[test]
fn mean_over_all_dims_with_none_or_empty_list() {
    for keepdim in [false, true] {
        run_reduce("aten.mean.dim", &[2, 3, 5], Dims::Null, keepdim, mean);
        run_reduce("aten.mean.dim", &[3, 7], Dims::List(&[]), keepdim, mean);
    }
}

#[test]
fn sum_amax_amin_match_reference() {
    for keepdim in [false, true] {
        for (s, d) in CASES {
            run_reduce("aten.sum.dim_IntList", s, Dims::List(d), keepdim, sum);
            run_reduce("aten.amax.default", s, Dims::List(d), keepdim, max);
            run_reduce("aten.amin.default", s, Dims::List(d), keepdim, min);
        }
        run_reduce("aten.amax.default", &[4, 5], Dims::List(&[]), keepdim, max);
    }
}

/// CPU softmax (or log-softmax) along `dim` in f64.
fn softmax_ref(x: &[f32], sizes: &[usize], dim: i64, log: bool) -> Vec<f32> {
    let d = if dim < 0 {
        dim + sizes.len() as i64
    } else {
        dim
    } as usize;
    let inner: usize = sizes[d + 1..].iter().product();
    let len = sizes[d];
    let mut out = vec![0.0; x.len()];
    for outer in 0..x.len() / (len * inner) {
        for i in 0..inner {
            let at = |k: usize| outer * len * inner + k * inner + i;
            let m = (0..len).map(|k| x[at(k)] as f64).fold(f64::MIN, f64::max);
            let s: f64 = (0..len).map(|k| (x[at(k)] as f64 - m).exp()).sum();
            for k in 0..len {
                let v = x[at(k)] as f64 - m;
                out[at(k)] = if log { v - s.ln() } else { v.exp() / s } as f32;
            }
        }
    }
    out
}

fn run_softmax(sizes: &[usize], dim: i64, log: bool, scale: f32) {
    let mut rng = Rng::new(sizes.len() as u64 * 7 + dim.unsigned_abs());
    let x: Vec<f32> = rng
        .vec(sizes.iter().product())
        .iter()
        .map(|v| v * scale)
        .collect();
    let want = softmax_ref(&x, sizes, dim, log);
    let name = if log {
        "aten._log_softmax.default"
    } else {
        "aten._softmax.default"
    };
    let mut g = GraphBuilder::new();
    let a = g.input(sizes);
    let d = g.int(dim);
    let h = g.bool(false);
    let out = g.f32(sizes);
    g.op(name, &[a, d, h, out]);
    g.output(out);
    let got = g.run(&[(sizes, &x)]).unwrap();
    assert_close(
        &got[0],
        &want,
        1e-5,
        1e-4,
        &format!("{name} {sizes:?} dim {dim} scale {scale}"),
    );
}

const SOFTMAX_CASES: &[(&[usize], i64)] = &[
    (&[7], 0),
    (&[3, 5], -1),
    (&[3, 5], 0),
    (&[2, 3, 5], 1),
    (&[2, 3, 5], -3),
    (&[2, 3, 7, 9], 3),
    (&[2, 3, 7, 9], -2),
    (&[2, 3, 7, 9], 1),
    (&[1, 130], -1),
];

#[test]
fn softmax_matches_reference() {
    for (s, d) in SOFTMAX_CASES {
        run_softmax(s, *d, false, 3.0);
    }
}

#[test]
fn softmax_is_stable_for_large_inputs() {
    // exp(±200) overflows/underflows f32 without subtracting the max.
    for (s, d) in SOFTMAX_CASES {
        run_softmax(s, *d, false, 200.0);
        run_softmax(s, *d, true, 200.0);
    }
}

#[test]
fn log_softmax_matches_reference() {
    for (s, d) in SOFTMAX_CASES {
        run_softmax(s, *d, true, 3.0);
    }
}

fn build_err(name: &str, sizes: &[usize], dims: &[i64], out_sizes: &[usize]) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let a = g.input(sizes);
    let out = g.f32(out_sizes);
    if name.contains("softmax") {
        let d = g.int(dims[0]);
        let h = g.bool(false);
        g.op(name, &[a, d, h, out]);
    } else {
        let d = g.int_list(dims);
        let k = g.bool(false);
        let dt = g.null();
        g.op(name, &[a, d, k, dt, out]);
    }
    g.output(out);
    g.build().err().expect("must fail")
}

#[test]
fn invalid_arguments_are_rejected() {
    let err = build_err("aten.mean.dim", &[2, 3], &[2], &[2]);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("out of range"), "{}", err.message);

    let err = build_err("aten.mean.dim", &[2, 3], &[1, -1], &[2]);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("more than once"), "{}", err.message);

    // keepdim=False declared with keepdim=True sizes.
    let err = build_err("aten.mean.dim", &[2, 3], &[1], &[2, 1]);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);

    let err = build_err("aten._softmax.default", &[2, 3], &[-3], &[2, 3]);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("out of range"), "{}", err.message);
}
