//! Unary ops against CPU references: relu/sigmoid/tanh/abs/neg/exp/sqrt/rsqrt/sin/cos/log10/
//! round/gelu/hardswish/hardshrink/leaky_relu on floats (with NaN and edge values), integer
//! abs/neg/relu/round, bitwise_not/logical_not on ints and bools, hardtanh/clamp.
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
        assert_close_inf(&got[0], &want, 1e-5, 1e-5, &format!("{name} {s:?}"));
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

    // Integer output for a float-valued op (torch's sigmoid of ints is float).
    let mut g = GraphBuilder::new();
    let a = g.tensor(DType::Int32, &[5]);
    g.graph.input_ids.push(a);
    let out = g.tensor(DType::Int32, &[5]);
    g.op("aten.sigmoid.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
}

#[test]
fn abs_matches_reference() {
    check("aten.abs.default", &none, &|x| x.abs());
}

/// `assert_close`, also accepting equal infinities.
fn assert_close_inf(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    let same = |v: &[f32], o: &[f32]| -> Vec<f32> {
        v.iter()
            .zip(o)
            .map(|(a, b)| if a == b { 0.0 } else { *a })
            .collect()
    };
    assert_close(&same(got, want), &same(want, got), atol, rtol, what);
}

fn string_value(g: &mut GraphBuilder, s: &str) -> usize {
    g.graph
        .values
        .push(etvk::format::Value::String(s.to_owned()));
    g.graph.values.len() - 1
}

#[test]
fn neg_exp_and_roots_match_reference() {
    check("aten.neg.default", &none, &|x| -x);
    check("aten.exp.default", &none, &|x| (x as f64).exp() as f32);
    check("aten.sqrt.default", &none, &|x| (x as f64).sqrt() as f32);
    check("aten.rsqrt.default", &none, &|x| {
        (1.0 / (x as f64).sqrt()) as f32
    });
    check("aten.log10.default", &none, &|x| (x as f64).log10() as f32);
}

#[test]
fn exp_over_its_whole_range() {
    // Relative accuracy across the f32 range (overflow to inf, underflow to 0).
    let x: Vec<f32> = (0..401).map(|i| -100.0 + i as f32 * 0.47).collect();
    let x: Vec<f32> = x.into_iter().chain([88.7, 89.0, -104.0, 0.0]).collect();
    let s = [x.len()];
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let out = g.f32(&s);
    g.op("aten.exp.default", &[a, out]);
    g.output(out);
    let got = g.run(&[(&s, &x)]).unwrap();
    let want: Vec<f32> = x.iter().map(|&v| (v as f64).exp() as f32).collect();
    assert_close_inf(&got[0], &want, 1e-30, 1e-6, "exp range");
}

#[test]
fn sin_cos_match_reference() {
    check("aten.sin.default", &none, &|x| (x as f64).sin() as f32);
    check("aten.cos.default", &none, &|x| (x as f64).cos() as f32);
    // Larger arguments: the range reduction must stay accurate.
    let x: Vec<f32> = (0..301).map(|i| -1500.0 + i as f32 * 10.013).collect();
    for (name, f) in [
        ("aten.sin.default", f64::sin as fn(f64) -> f64),
        ("aten.cos.default", f64::cos),
    ] {
        let s = [x.len()];
        let mut g = GraphBuilder::new();
        let a = g.input(&s);
        let out = g.f32(&s);
        g.op(name, &[a, out]);
        g.output(out);
        let got = g.run(&[(&s, &x)]).unwrap();
        let want: Vec<f32> = x.iter().map(|&v| f(v as f64) as f32).collect();
        assert_close(&got[0], &want, 2e-6, 0.0, &format!("{name} large args"));
    }
}

#[test]
fn round_is_half_to_even() {
    let x = [
        0.5f32,
        1.5,
        2.5,
        -0.5,
        -1.5,
        -2.5,
        2.4999998,
        0.49999997,
        3.7,
        -3.7,
        1e7 + 1.0,
        0.0,
    ];
    let s = [x.len()];
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let out = g.f32(&s);
    g.op("aten.round.default", &[a, out]);
    g.output(out);
    let got = g.run(&[(&s, &x)]).unwrap();
    let want: Vec<f32> = x.iter().map(|v| v.round_ties_even()).collect();
    assert_close(&got[0], &want, 0.0, 0.0, "round");
    check("aten.round.default", &none, &|x| x.round_ties_even());
}

#[test]
fn gelu_erf_and_tanh_forms() {
    check(
        "aten.gelu.default",
        &|g| vec![string_value(g, "none")],
        &gelu_ref,
    );
    check(
        "aten.gelu.default",
        &|g| vec![string_value(g, "tanh")],
        &gelu_tanh_ref,
    );
    // Dense sweep of the erf form, where approximations are usually off.
    let x: Vec<f32> = (0..2001).map(|i| -10.0 + i as f32 * 0.01).collect();
    let s = [x.len()];
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let ap = string_value(&mut g, "none");
    let out = g.f32(&s);
    g.op("aten.gelu.default", &[a, ap, out]);
    g.output(out);
    let got = g.run(&[(&s, &x)]).unwrap();
    let want: Vec<f32> = x.iter().map(|&v| gelu_ref(v)).collect();
    assert_close(&got[0], &want, 1e-6, 1e-6, "gelu sweep");
}

#[test]
fn hardswish_hardshrink_leaky_relu() {
    check("aten.hardswish.default", &none, &|x| {
        if x.is_nan() {
            return x;
        }
        x * (x + 3.0).clamp(0.0, 6.0) / 6.0
    });
    check("aten.hardshrink.default", &|g| vec![g.double(0.75)], &|x| {
        if (-0.75..=0.75).contains(&x) {
            0.0
        } else {
            x
        }
    });
    check("aten.leaky_relu.default", &|g| vec![g.double(0.2)], &|x| {
        if x > 0.0 {
            x
        } else {
            x * 0.2
        }
    });
}

/// Runs a one-input op on `x` of `in_dtype` into an output of `out_dtype`.
fn run_typed(name: &str, x: &[i64], in_dtype: DType, out_dtype: DType) -> Vec<f32> {
    let s = [x.len()];
    let mut g = GraphBuilder::new();
    let a = g.tensor(in_dtype, &s);
    g.graph.input_ids.push(a);
    let out = g.tensor(out_dtype, &s);
    g.op(name, &[a, out]);
    g.output(out);
    let data: Vec<u8> = match in_dtype {
        DType::Int32 => x.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect(),
        DType::Int64 => x.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        DType::Bool | DType::Uint8 => x.iter().map(|&v| v as u8).collect(),
        DType::Float32 => x.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
        d => panic!("{d:?}"),
    };
    let mut d = g.build().unwrap();
    let got = d
        .run(&[InputValue::Tensor(
            HostTensor::new(in_dtype, s.to_vec(), data).unwrap(),
        )])
        .unwrap();
    assert_eq!(got[0].dtype, out_dtype);
    got[0].to_f32_vec()
}

#[test]
fn integer_relu_abs_neg_round() {
    let x: Vec<i64> = vec![-7, -1, 0, 1, 5, 123456, -98765, i32::MAX as i64];
    let f = |v: &[i64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    type IntOp = fn(i64) -> i64;
    let cases: [(&str, IntOp); 4] = [
        ("aten.relu.default", |x| x.max(0)),
        ("aten.abs.default", |x| x.abs()),
        ("aten.neg.default", |x| -x),
        ("aten.round.default", |x| x),
    ];
    for (name, r) in cases {
        for dt in [DType::Int32, DType::Int64] {
            let got = run_typed(name, &x, dt, dt);
            let want: Vec<i64> = x.iter().map(|&v| r(v)).collect();
            assert_close(&got, &f(&want), 0.0, 0.0, &format!("{name} {dt:?}"));
        }
    }
    // exp of an integer tensor is float.
    let got = run_typed(
        "aten.exp.default",
        &[0, 1, -2, 3],
        DType::Int64,
        DType::Float32,
    );
    let want: Vec<f32> = [0f64, 1.0, -2.0, 3.0]
        .iter()
        .map(|v| v.exp() as f32)
        .collect();
    assert_close(&got, &want, 1e-6, 1e-6, "exp of int");
}

#[test]
fn bitwise_not_and_logical_not() {
    let ints: Vec<i64> = vec![0, 1, -1, 5, -6, 1 << 20];
    let got = run_typed(
        "aten.bitwise_not.default",
        &ints,
        DType::Int32,
        DType::Int32,
    );
    let want: Vec<f32> = ints.iter().map(|&v| !(v as i32) as f32).collect();
    assert_close(&got, &want, 0.0, 0.0, "bitwise_not int");
    let bools: Vec<i64> = vec![0, 1, 1, 0, 1];
    let got = run_typed("aten.bitwise_not.default", &bools, DType::Bool, DType::Bool);
    assert_eq!(got, vec![1.0, 0.0, 0.0, 1.0, 0.0], "bitwise_not bool");

    let got = run_typed("aten.logical_not.default", &bools, DType::Bool, DType::Bool);
    assert_eq!(got, vec![1.0, 0.0, 0.0, 1.0, 0.0], "logical_not bool");
    let got = run_typed("aten.logical_not.default", &ints, DType::Int64, DType::Bool);
    assert_eq!(got, vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0], "logical_not int");
    // Floats: -0.0 is false, NaN is true.
    let s = [5usize];
    let x = [0.0f32, -0.0, f32::NAN, 2.5, -1e-30];
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let out = g.tensor(DType::Bool, &s);
    g.op("aten.logical_not.default", &[a, out]);
    g.output(out);
    let got = g.run(&[(&s, &x)]).unwrap();
    assert_eq!(got[0], vec![1.0, 1.0, 0.0, 0.0, 0.0], "logical_not float");
}

#[test]
fn elementwise_unary_invalid_arguments() {
    let expect_invalid = |g: GraphBuilder, what: &str| {
        let err = g
            .build()
            .err()
            .unwrap_or_else(|| panic!("{what}: must fail"));
        assert_eq!(
            err.kind,
            etvk::ErrorKind::InvalidProgram,
            "{what}: {}",
            err.message
        );
    };
    // Unknown gelu approximation.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let ap = string_value(&mut g, "erf");
    let out = g.f32(&[4]);
    g.op("aten.gelu.default", &[a, ap, out]);
    g.output(out);
    expect_invalid(g, "gelu approximate");
    // approximate given as a number.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let ap = g.int(0);
    let out = g.f32(&[4]);
    g.op("aten.gelu.default", &[a, ap, out]);
    g.output(out);
    expect_invalid(g, "gelu approximate type");
    // bitwise_not of floats.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let out = g.f32(&[4]);
    g.op("aten.bitwise_not.default", &[a, out]);
    g.output(out);
    expect_invalid(g, "bitwise_not float");
    // neg of a float into an int output.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let out = g.tensor(DType::Int32, &[4]);
    g.op("aten.neg.default", &[a, out]);
    g.output(out);
    expect_invalid(g, "neg float -> int");
    // leaky_relu without its slope.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let out = g.f32(&[4]);
    g.op("aten.leaky_relu.default", &[a, out]);
    g.output(out);
    expect_invalid(g, "leaky_relu arity");
    // hardshrink with a list for lambd.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let l = g.int_list(&[1]);
    let out = g.f32(&[4]);
    g.op("aten.hardshrink.default", &[a, l, out]);
    g.output(out);
    expect_invalid(g, "hardshrink lambd");
}
