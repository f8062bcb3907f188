//! relu/sigmoid/tanh/hardtanh/clamp against CPU references, float and integer clamp.
mod common;
use common::*;

use etvk::format::DType;
use etvk::runtime::{HostTensor, InputValue};

const SHAPES: &[&[usize]] = &[&[1], &[7], &[2, 3, 5], &[3, 1, 17, 9], &[2, 4, 3, 5, 3]];

/// Inputs in [-4, 4) plus a few special values (NaN too) where there is room.
fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut v: Vec<f32> = Rng::new(seed).vec(n).iter().map(|x| x * 4.0).collect();
    for (i, s) in [0.0f32, -0.0, 30.0, -30.0, 1e-4, -95.0, 95.0, f32::NAN]
        .iter()
        .enumerate()
    {
        if i < n && n > 10 {
            v[i * 3] = *s;
        }
    }
    v
}

/// Runs `name(x, extra...)` on each shape and compares with `f`.
fn check(name: &str, extra: &dyn Fn(&mut GraphBuilder) -> Vec<usize>, f: &dyn Fn(f32) -> f32) {
    for (k, s) in SHAPES.iter().enumerate() {
        let x = inputs(s.iter().product(), k as u64 + 1);
        let mut g = GraphBuilder::new();
        let a = g.input(s);
        let mut args = vec![a];
        args.extend(extra(&mut g));
        let out = g.f32(s);
        args.push(out);
        g.op(name, &args);
        g.output(out);
        let got = g.run(&[(s, &x)]).unwrap();
        let want: Vec<f32> = x.iter().map(|&v| f(v)).collect();
        assert_close(&got[0], &want, 1e-5, 1e-5, &format!("{name} {s:?}"));
    }
}

/// torch's clamp: min(max(x, lo), hi), NaN propagating (Rust's f32::min/max drop NaN).
fn clamp_ref(x: f32, lo: f32, hi: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let y = if x < lo { lo } else { x };
    if y > hi {
        hi
    } else {
        y
    }
}

fn none(_: &mut GraphBuilder) -> Vec<usize> {
    vec![]
}

#[test]
fn relu_matches_reference() {
    check("aten.relu.default", &none, &|x| {
        clamp_ref(x, 0.0, f32::INFINITY)
    });
}

#[test]
fn sigmoid_matches_reference() {
    check("aten.sigmoid.default", &none, &|x| 1.0 / (1.0 + (-x).exp()));
}

#[test]
fn tanh_matches_reference() {
    check("aten.tanh.default", &none, &|x| x.tanh());
}

#[test]
fn hardtanh_with_bounds() {
    check(
        "aten.hardtanh.default",
        &|g| vec![g.double(-1.0), g.double(1.0)],
        &|x| clamp_ref(x, -1.0, 1.0),
    );
    // Integer scalars (as the exporter writes `min_val=0, max_val=6`).
    check(
        "aten.hardtanh.default",
        &|g| vec![g.int(0), g.int(6)],
        &|x| clamp_ref(x, 0.0, 6.0),
    );
}

#[test]
fn clamp_with_optional_bounds() {
    check(
        "aten.clamp.default",
        &|g| vec![g.double(-0.5), g.double(2.25)],
        &|x| clamp_ref(x, -0.5, 2.25),
    );
    check(
        "aten.clamp.default",
        &|g| vec![g.null(), g.double(0.75)],
        &|x| clamp_ref(x, f32::NEG_INFINITY, 0.75),
    );
    check("aten.clamp.default", &|g| vec![g.int(-1), g.null()], &|x| {
        clamp_ref(x, -1.0, f32::INFINITY)
    });
    // min > max: torch gives max everywhere.
    check(
        "aten.clamp.default",
        &|g| vec![g.double(1.0), g.double(-1.0)],
        &|x| clamp_ref(x, 1.0, -1.0),
    );
}

fn i32_tensor(sizes: &[usize], v: &[i32]) -> InputValue {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    InputValue::Tensor(HostTensor::new(DType::Int32, sizes.to_vec(), data).unwrap())
}

#[test]
fn clamp_integer_tensors() {
    let s = [3usize, 11];
    let x: Vec<i32> = (0..33).map(|i| (i * 7919 % 101) - 50).collect();
    // int -> int with int bounds; int -> int with a fractional bound (truncated);
    // int -> float with float bounds.
    let cases: &[(Option<f64>, Option<f64>, DType)] = &[
        (Some(-20.0), Some(17.0), DType::Int32),
        (None, Some(-3.0), DType::Int32),
        (Some(-7.5), Some(9.5), DType::Int32),
        (Some(-7.5), Some(9.25), DType::Float32),
    ];
    for &(lo, hi, out_dtype) in cases {
        let mut g = GraphBuilder::new();
        let a = g.tensor(DType::Int32, &s);
        g.graph.input_ids.push(a);
        let lo_v = match lo {
            Some(v) if v.fract() == 0.0 => g.int(v as i64),
            Some(v) => g.double(v),
            None => g.null(),
        };
        let hi_v = match hi {
            Some(v) if v.fract() == 0.0 => g.int(v as i64),
            Some(v) => g.double(v),
            None => g.null(),
        };
        let out = g.tensor(out_dtype, &s);
        g.op("aten.clamp.default", &[a, lo_v, hi_v, out]);
        g.output(out);
        let mut d = g.build().unwrap();
        let got = d.run(&[i32_tensor(&s, &x)]).unwrap();
        assert_eq!(got[0].dtype, out_dtype);
        let want: Vec<f32> = x
            .iter()
            .map(|&v| {
                let mut y = v as f64;
                if let Some(l) = lo {
                    y = y.max(l);
                }
                if let Some(h) = hi {
                    y = y.min(h);
                }
                if out_dtype == DType::Int32 {
                    y = y.trunc();
                }
                y as f32
            })
            .collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("int clamp {lo:?} {hi:?} -> {out_dtype:?}"),
        );
    }
}

#[test]
fn clamp_without_bounds_is_rejected() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let (lo, hi) = (g.null(), g.null());
    let out = g.f32(&[4]);
    g.op("aten.clamp.default", &[a, lo, hi, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("min and max"), "{}", err.message);
}

#[test]
fn invalid_arguments_are_rejected() {
    // Output sizes that differ from the input's.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let out = g.f32(&[3, 2]);
    g.op("aten.relu.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);

    // Wrong arity.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let out = g.f32(&[2, 3]);
    g.op("aten.hardtanh.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);

    // A bound that is not a scalar.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let l = g.int_list(&[1]);
    let n = g.null();
    let out = g.f32(&[2, 3]);
    g.op("aten.clamp.default", &[a, l, n, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);

    // Integer tensors for a float-only op.
    let mut g = GraphBuilder::new();
    let a = g.tensor(DType::Int32, &[5]);
    g.graph.input_ids.push(a);
    let out = g.tensor(DType::Int32, &[5]);
    g.op("aten.sigmoid.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::NotSupported);
}

#[test]
fn abs_matches_reference() {
    check("aten.abs.default", &none, &|x| x.abs());
}
