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
    // Long reductions: one workgroup per output element.
    (&[2, 1000], &[-1]),
    (&[2, 300, 3], &[1]),
    (&[1, 64, 65], &[]),
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
    // Long rows: one workgroup per row.
    (&[2, 700], -1),
    (&[3, 300, 2], 1),
    (&[1, 4099], 0),
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

/// CPU argmax / argmin: first index of the extreme, NaN counting as the extreme (first NaN).
fn arg_ref(
    x: &[f64],
    sizes: &[usize],
    dim: Option<i64>,
    keepdim: bool,
    min: bool,
) -> (Vec<f32>, Vec<usize>) {
    let (outer, len, inner, out_sizes) = match dim {
        None => (
            1,
            x.len(),
            1,
            if keepdim {
                vec![1; sizes.len()]
            } else {
                vec![]
            },
        ),
        // Rank 0: dim 0 / -1 names the single element.
        Some(_) if sizes.is_empty() => (1, 1, 1, vec![]),
        Some(d) => {
            let d = (if d < 0 { d + sizes.len() as i64 } else { d }) as usize;
            let mut out = sizes.to_vec();
            if keepdim {
                out[d] = 1;
            } else {
                out.remove(d);
            }
            let inner: usize = sizes[d + 1..].iter().product();
            (x.len() / (sizes[d] * inner), sizes[d], inner, out)
        }
    };
    let mut res = vec![];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| x[o * len * inner + k * inner + i];
            let mut best = 0;
            for k in 1..len {
                let (v, b) = (at(k), at(best));
                if b.is_nan() {
                    break;
                }
                if v.is_nan() || (if min { v < b } else { v > b }) {
                    best = k;
                }
            }
            res.push(best as f32);
        }
    }
    (res, out_sizes)
}

/// Runs argmax/argmin on `x` (float32, or int32 when `int`) and compares with `arg_ref`.
fn run_arg(sizes: &[usize], x: &[f64], dim: Option<i64>, keepdim: bool, min: bool, int: bool) {
    use etvk::format::DType;
    use etvk::runtime::{HostTensor, InputValue};
    let name = if min {
        "aten.argmin.default"
    } else {
        "aten.argmax.default"
    };
    let (want, out_sizes) = arg_ref(x, sizes, dim, keepdim, min);
    let mut g = GraphBuilder::new();
    let (dtype, bytes): (DType, Vec<u8>) = if int {
        let b = x.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect();
        (DType::Int32, b)
    } else {
        let b = x.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
        (DType::Float32, b)
    };
    let a = g.tensor(dtype, sizes);
    g.graph.input_ids.push(a);
    let d = match dim {
        Some(d) => g.int(d),
        None => g.null(),
    };
    let k = g.bool(keepdim);
    let out = g.tensor(DType::Int64, &out_sizes);
    g.op(name, &[a, d, k, out]);
    g.output(out);
    let mut del = g.build().unwrap();
    let input = InputValue::Tensor(HostTensor::new(dtype, sizes.to_vec(), bytes).unwrap());
    let got = del.run(&[input]).unwrap();
    assert_eq!(got[0].sizes, out_sizes);
    assert_eq!(
        got[0].to_f32_vec(),
        want,
        "{name} {sizes:?} dim {dim:?} keepdim {keepdim} int {int}"
    );
}

const ARG_CASES: &[(&[usize], Option<i64>)] = &[
    (&[7], Some(0)),
    (&[7], None),
    (&[3, 5], Some(1)),
    (&[3, 5], Some(-2)),
    (&[2, 3, 5], Some(-1)),
    (&[2, 3, 5], Some(1)),
    (&[2, 3, 5], None),
    (&[2, 3, 7, 9], Some(0)),
    (&[2, 3, 7, 9], Some(2)),
    // Rows long enough for the one-workgroup-per-output layout.
    (&[3, 1000], Some(-1)),
    (&[2, 300, 3], Some(1)),
    (&[1, 5000], None),
];

#[test]
fn argmax_argmin_match_reference() {
    for keepdim in [false, true] {
        for (i, (s, d)) in ARG_CASES.iter().enumerate() {
            let n: usize = s.iter().product();
            let mut rng = Rng::new(i as u64 + 100);
            let float: Vec<f64> = rng.vec(n).iter().map(|&v| v as f64).collect();
            // Small integers: many ties, the first index must win.
            let ties: Vec<f64> = float.iter().map(|v| (v * 3.5).round()).collect();
            for min in [false, true] {
                run_arg(s, &float, *d, keepdim, min, false);
                run_arg(s, &ties, *d, keepdim, min, false);
                run_arg(s, &ties, *d, keepdim, min, true);
            }
        }
    }
}

#[test]
fn argmax_argmin_rank0_and_nan() {
    for min in [false, true] {
        run_arg(&[], &[2.5], None, false, min, false);
        run_arg(&[], &[2.5], Some(0), true, min, false);
        run_arg(&[], &[-1.0], Some(-1), false, min, false);
        // The first NaN wins for both argmax and argmin, short and long rows.
        let mut x = vec![1.0, -3.0, f64::NAN, 5.0, f64::NAN, -7.0];
        run_arg(&[2, 3], &x, Some(1), false, min, false);
        run_arg(&[6], &x, None, false, min, false);
        x.resize(700, 0.5);
        x[650] = 9.0;
        x[660] = -9.0;
        run_arg(&[700], &x, Some(0), true, min, false);
        x[2] = 0.0;
        x[4] = 0.0;
        x[690] = f64::NAN;
        run_arg(&[700], &x, Some(0), true, min, false);
        // Infinities.
        let y = [
            f64::NEG_INFINITY,
            1.0,
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        run_arg(&[5], &y, Some(0), false, min, false);
    }
}

#[test]
fn invalid_arg_reduce_arguments_are_rejected() {
    use etvk::format::DType;
    let err_of = |sizes: &[usize], dim: Option<i64>, out_sizes: &[usize], out_dtype: DType| {
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let d = match dim {
            Some(d) => g.int(d),
            None => g.null(),
        };
        let k = g.bool(false);
        let out = g.tensor(out_dtype, out_sizes);
        g.op("aten.argmax.default", &[a, d, k, out]);
        g.output(out);
        g.build().err().expect("must fail")
    };
    let err = err_of(&[2, 3], Some(2), &[2], DType::Int64);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("out of range"), "{}", err.message);
    let err = err_of(&[2, 3], Some(1), &[2], DType::Float32);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("integer"), "{}", err.message);
    let err = err_of(&[2, 0], Some(1), &[2], DType::Int64);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("zero elements"), "{}", err.message);
    // keepdim=False declared with keepdim=True sizes.
    let err = err_of(&[2, 3], Some(1), &[2, 1], DType::Int64);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
}

#[test]
fn amax_amin_propagate_nan() {
    for len in [7usize, 1000] {
        let mut x: Vec<f32> = Rng::new(len as u64).vec(2 * len);
        x[len / 2] = f32::NAN;
        for name in ["aten.amax.default", "aten.amin.default"] {
            let mut g = GraphBuilder::new();
            let a = g.input(&[2, len]);
            let d = g.int_list(&[-1]);
            let k = g.bool(false);
            let out = g.f32(&[2]);
            g.op(name, &[a, d, k, out]);
            g.output(out);
            let got = g.run(&[(&[2, len], &x)]).unwrap();
            assert!(got[0][0].is_nan(), "{name} len {len}: {:?}", got[0]);
            let f = if name.contains("max") { max } else { min };
            assert_eq!(got[0][1], f(&x[len..]), "{name} len {len}");
        }
    }
}
