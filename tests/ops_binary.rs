//! Broadcasting arithmetic against CPU references: add/sub/mul/div (alpha, scalar operands,
//! integer tensors, type promotion), div.Tensor_mode, pow, minimum/maximum, rank 8.
mod common;
use common::*;

use etvk::format::{DType, Value};

fn run_binary(
    name: &str,
    sa: &[usize],
    sb: &[usize],
    alpha: Option<f64>,
    f: impl Fn(f32, f32) -> f32,
) {
    let mut rng = Rng::new(sa.len() as u64 * 31 + sb.len() as u64);
    let (va, mut vb) = (rng.vec(sa.iter().product()), rng.vec(sb.iter().product()));
    if name.contains("div") {
        vb.iter_mut()
            .for_each(|x| *x = x.signum() * (x.abs() + 0.5));
    }
    let (want, out_sizes) = broadcast_binary(&va, sa, &vb, sb, f);
    let mut g = GraphBuilder::new();
    let a = g.input(sa);
    let b = g.input(sb);
    let out = g.f32(&out_sizes);
    match alpha {
        Some(al) => {
            let al = g.double(al);
            g.op(name, &[a, b, al, out]);
        }
        None => g.op(name, &[a, b, out]),
    }
    g.output(out);
    let got = g.run(&[(sa, &va), (sb, &vb)]).unwrap();
    assert_close(&got[0], &want, 1e-5, 1e-5, &format!("{name} {sa:?} {sb:?}"));
}

const SHAPES: &[(&[usize], &[usize])] = &[
    (&[7], &[7]),
    (&[2, 3, 5], &[2, 3, 5]),
    (&[2, 3, 5], &[5]),
    (&[4, 1, 3], &[1, 5, 1]),
    (&[2, 3, 9, 9], &[3, 1, 1]),
    (&[1], &[3, 17]),
];

#[test]
fn add_with_alpha_broadcasts() {
    for (sa, sb) in SHAPES {
        run_binary("aten.add.Tensor", sa, sb, Some(0.5), |x, y| x + 0.5 * y);
    }
}

#[test]
fn sub_broadcasts() {
    for (sa, sb) in SHAPES {
        run_binary("aten.sub.Tensor", sa, sb, Some(1.0), |x, y| x - y);
    }
}

#[test]
fn mul_and_div_broadcast() {
    for (sa, sb) in SHAPES {
        run_binary("aten.mul.Tensor", sa, sb, None, |x, y| x * y);
        run_binary("aten.div.Tensor", sa, sb, None, |x, y| x / y);
    }
}

#[test]
fn scalar_other_operand() {
    let s = [3usize, 4];
    let mut rng = Rng::new(5);
    let va = rng.vec(12);
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let k = g.double(2.5);
    let out = g.f32(&s);
    g.op("aten.mul.Tensor", &[a, k, out]);
    g.output(out);
    let got = g.run(&[(&s, &va)]).unwrap();
    let want: Vec<f32> = va.iter().map(|x| x * 2.5).collect();
    assert_close(&got[0], &want, 1e-6, 1e-6, "mul by scalar");
}

#[test]
fn mismatched_shapes_are_rejected() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 4]);
    let b = g.input(&[5]);
    let out = g.f32(&[3, 4]);
    g.op("aten.mul.Tensor", &[a, b, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("broadcast"), "{}", err.message);
}

#[test]
fn unknown_op_is_operator_missing() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3]);
    let out = g.f32(&[3]);
    g.op("aten.frobnicate.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::OperatorMissing);
    assert!(
        err.message.contains("aten.frobnicate.default"),
        "{}",
        err.message
    );
}

#[path = "common/typed.rs"]
mod typed;
use typed::*;

fn string_value(g: &mut GraphBuilder, s: &str) -> usize {
    g.graph.values.push(Value::String(s.to_owned()));
    g.graph.values.len() - 1
}

fn expect_err(g: &GraphBuilder, kind: etvk::ErrorKind, what: &str) {
    let err = g
        .build()
        .err()
        .unwrap_or_else(|| panic!("{what}: must fail"));
    assert_eq!(err.kind, kind, "{what}: {}", err.message);
}

/// Runs `name(a, b, extra...)` into an `out_dtype` output and compares with `f`.
fn check2(
    name: &str,
    a: &Typed,
    b: &Typed,
    extra: &dyn Fn(&mut GraphBuilder) -> Vec<usize>,
    out_dtype: DType,
    f: &dyn Fn(f64, f64) -> f64,
    tol: f32,
) {
    let (want, out_sizes) = reference(&[a, b], |v| f(v[0], v[1]));
    let mut g = GraphBuilder::new();
    let ia = a.input(&mut g);
    let ib = b.input(&mut g);
    let mut args = vec![ia, ib];
    args.extend(extra(&mut g));
    let out = g.tensor(out_dtype, &out_sizes);
    args.push(out);
    g.op(name, &args);
    g.output(out);
    let got = run_typed(&g, &[a, b]).unwrap();
    let what = format!(
        "{name} {:?}{:?} {:?}{:?}",
        a.dtype, a.sizes, b.dtype, b.sizes
    );
    assert_eq!(got[0].0, out_dtype, "{what}");
    assert_close_inf(&got[0].1, &want, tol, tol, &what);
}

/// Runs `name(a, scalar, extra...)` into an `out_dtype` output and compares with `f`.
fn check_scalar(
    name: &str,
    a: &Typed,
    scalar: Value,
    out_dtype: DType,
    f: &dyn Fn(f64) -> f64,
    tol: f32,
) {
    let (want, out_sizes) = reference(&[a], |v| f(v[0]));
    let mut g = GraphBuilder::new();
    let ia = a.input(&mut g);
    g.graph.values.push(scalar.clone());
    let k = g.graph.values.len() - 1;
    let out = g.tensor(out_dtype, &out_sizes);
    g.op(name, &[ia, k, out]);
    g.output(out);
    let got = run_typed(&g, &[a]).unwrap();
    let what = format!("{name} {:?}{:?} {scalar:?}", a.dtype, a.sizes);
    assert_eq!(got[0].0, out_dtype, "{what}");
    assert_close_inf(&got[0].1, &want, tol, tol, &what);
}

fn no_extra(_: &mut GraphBuilder) -> Vec<usize> {
    vec![]
}

/// Wraps like the GPU's 32-bit integers.
fn wrap(v: i64) -> f64 {
    v as i32 as f64
}

#[test]
fn integer_add_sub_mul_broadcast() {
    for (k, (sa, sb)) in SHAPES.iter().enumerate() {
        for (da, db) in [
            (DType::Int32, DType::Int32),
            (DType::Int64, DType::Int64),
            (DType::Int64, DType::Int32),
        ] {
            let a = Typed::random(da, sa, 50.0, k as u64 + 1);
            let b = Typed::random(db, sb, 50.0, k as u64 + 100);
            let out = if da == DType::Int64 || db == DType::Int64 {
                DType::Int64
            } else {
                DType::Int32
            };
            check2(
                "aten.add.Tensor",
                &a,
                &b,
                &|g| vec![g.int(3)],
                out,
                &|x, y| x + 3.0 * y,
                0.0,
            );
            check2(
                "aten.sub.Tensor",
                &a,
                &b,
                &|g| vec![g.int(1)],
                out,
                &|x, y| x - y,
                0.0,
            );
            check2(
                "aten.mul.Tensor",
                &a,
                &b,
                &no_extra,
                out,
                &|x, y| x * y,
                0.0,
            );
        }
    }
    // 32-bit wraparound.
    let a = Typed::new(
        DType::Int32,
        &[3],
        vec![2147483647.0, -2147483648.0, 65536.0],
    );
    let b = Typed::new(DType::Int32, &[3], vec![1.0, -1.0, 65536.0]);
    check2(
        "aten.add.Tensor",
        &a,
        &b,
        &|g| vec![g.int(1)],
        DType::Int32,
        &|x, y| wrap(x as i64 + y as i64),
        0.0,
    );
    check2(
        "aten.mul.Tensor",
        &a,
        &b,
        &no_extra,
        DType::Int32,
        &|x, y| wrap(x as i64 * y as i64),
        0.0,
    );
    // Bool + bool is a logical or; bool * bool a logical and.
    let a = Typed::new(DType::Bool, &[4], vec![0.0, 0.0, 1.0, 1.0]);
    let b = Typed::new(DType::Bool, &[4], vec![0.0, 1.0, 0.0, 1.0]);
    check2(
        "aten.add.Tensor",
        &a,
        &b,
        &|g| vec![g.int(1)],
        DType::Bool,
        &|x, y| ((x + y) != 0.0) as i32 as f64,
        0.0,
    );
    check2(
        "aten.mul.Tensor",
        &a,
        &b,
        &no_extra,
        DType::Bool,
        &|x, y| x * y,
        0.0,
    );
}

#[test]
fn integer_scalar_operands() {
    let a = Typed::random(DType::Int64, &[3, 5], 40.0, 7);
    check_scalar(
        "aten.mul.Tensor",
        &a,
        Value::Int(-3),
        DType::Int64,
        &|x| x * -3.0,
        0.0,
    );
    // The exporter writes integral scalars as Double too.
    check_scalar(
        "aten.mul.Tensor",
        &a,
        Value::Double(4.0),
        DType::Int64,
        &|x| x * 4.0,
        0.0,
    );
    // A fractional scalar promotes the integer tensor to float.
    check_scalar(
        "aten.mul.Tensor",
        &a,
        Value::Double(2.5),
        DType::Float32,
        &|x| x * 2.5,
        0.0,
    );
    check_scalar(
        "aten.div.Tensor",
        &a,
        Value::Int(4),
        DType::Float32,
        &|x| x / 4.0,
        1e-6,
    );
}

#[test]
fn integer_true_division_gives_float() {
    let a = Typed::random(DType::Int64, &[4, 6], 30.0, 3);
    let mut b = Typed::random(DType::Int64, &[6], 9.0, 4);
    b.v.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = 7.0);
    check2(
        "aten.div.Tensor",
        &a,
        &b,
        &no_extra,
        DType::Float32,
        &|x, y| ((x as f32) / (y as f32)) as f64,
        1e-6,
    );
    let n = string_value_fn("");
    check2(
        "aten.div.Tensor_mode",
        &a,
        &b,
        &n,
        DType::Float32,
        &|x, y| ((x as f32) / (y as f32)) as f64,
        1e-6,
    );
}

/// An extra-args closure giving `rounding_mode`: "" is None.
fn string_value_fn(mode: &'static str) -> impl Fn(&mut GraphBuilder) -> Vec<usize> {
    move |g: &mut GraphBuilder| {
        if mode.is_empty() {
            vec![g.null()]
        } else {
            vec![string_value(g, mode)]
        }
    }
}

/// torch's floor division of floats (c10 div_floor_floating), in f32.
fn div_floor_ref(a: f64, b: f64) -> f64 {
    let (a, b) = (a as f32, b as f32);
    if b == 0.0 {
        return (a / b) as f64;
    }
    let m = a % b;
    let mut d = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        d -= 1.0;
    }
    if d == 0.0 {
        return 0f32.copysign(a / b) as f64;
    }
    let mut f = d.floor();
    if d - f > 0.5 {
        f += 1.0;
    }
    f as f64
}

#[test]
fn div_rounding_modes() {
    // Floats: random values plus exact multiples and sign mixes.
    let mut a = Typed::random(DType::Float32, &[2, 3, 8], 10.0, 11);
    let mut b = Typed::random(DType::Float32, &[3, 8], 3.0, 12);
    b.v.iter_mut()
        .for_each(|x| *x = x.signum() * (x.abs() + 0.25));
    a.v[..8].copy_from_slice(&[7.0, -7.0, 7.0, -7.0, 6.0, -6.0, 0.0, -0.0]);
    b.v[..8].copy_from_slice(&[2.0, 2.0, -2.0, -2.0, 3.0, 3.0, 3.0, 3.0]);
    check2(
        "aten.div.Tensor_mode",
        &a,
        &b,
        &string_value_fn("trunc"),
        DType::Float32,
        &|x, y| ((x as f32) / (y as f32)).trunc() as f64,
        0.0,
    );
    check2(
        "aten.div.Tensor_mode",
        &a,
        &b,
        &string_value_fn("floor"),
        DType::Float32,
        &div_floor_ref,
        0.0,
    );
    // Integers.
    for dt in [DType::Int32, DType::Int64] {
        let a = Typed::new(
            dt,
            &[2, 6],
            vec![7., -7., 7., -7., 6., -6., 0., 1., -1., 100., -100., 13.],
        );
        let b = Typed::new(dt, &[6], vec![2., 2., -2., -2., 3., 3.]);
        check2(
            "aten.div.Tensor_mode",
            &a,
            &b,
            &string_value_fn("trunc"),
            dt,
            &|x, y| (x / y).trunc(),
            0.0,
        );
        check2(
            "aten.div.Tensor_mode",
            &a,
            &b,
            &string_value_fn("floor"),
            dt,
            &|x, y| (x / y).floor(),
            0.0,
        );
    }
    // Scalar divisor.
    let a = Typed::random(DType::Float32, &[9], 10.0, 5);
    check_scalar_mode(&a, -1.5, "floor", &|x| div_floor_ref(x, -1.5));
}

fn check_scalar_mode(a: &Typed, k: f64, mode: &str, f: &dyn Fn(f64) -> f64) {
    let (want, s) = reference(&[a], |v| f(v[0]));
    let mut g = GraphBuilder::new();
    let ia = a.input(&mut g);
    let kv = g.double(k);
    let m = string_value(&mut g, mode);
    let out = g.f32(&s);
    g.op("aten.div.Tensor_mode", &[ia, kv, m, out]);
    g.output(out);
    let got = run_typed(&g, &[a]).unwrap();
    assert_close(&got[0].1, &want, 0.0, 0.0, "div scalar mode");
}

fn powf_ref(x: f64, y: f64) -> f64 {
    (x as f32 as f64).powf(y as f32 as f64)
}

#[test]
fn pow_tensor_tensor() {
    // Positive bases, any exponent.
    let mut a = Typed::random(DType::Float32, &[3, 7], 1.0, 21);
    a.v.iter_mut().for_each(|x| *x = x.abs() * 4.0 + 0.05);
    let b = Typed::random(DType::Float32, &[7], 3.0, 22);
    check2(
        "aten.pow.Tensor_Tensor",
        &a,
        &b,
        &no_extra,
        DType::Float32,
        &powf_ref,
        1e-5,
    );
    // Negative bases with integral exponents; special values.
    let a = Typed::new(
        DType::Float32,
        &[10],
        vec![-2.0, -1.5, -3.0, 0.0, -0.0, -0.0, 2.0, -2.0, -1.0, f64::NAN],
    );
    let b = Typed::new(
        DType::Float32,
        &[10],
        vec![3.0, 2.0, -1.0, -1.0, -1.0, 0.5, 0.5, 0.5, 1e10, 0.0],
    );
    check2(
        "aten.pow.Tensor_Tensor",
        &a,
        &b,
        &no_extra,
        DType::Float32,
        &powf_ref,
        1e-6,
    );
    // Integers, including negative exponents (1, -1 and 0 results).
    let a = Typed::new(DType::Int64, &[8], vec![2., -3., 5., 1., -1., -1., 7., 0.]);
    let b = Typed::new(
        DType::Int64,
        &[8],
        vec![10., 3., 0., -4., -3., -2., -1., 0.],
    );
    let ipow = |x: f64, y: f64| {
        if y < 0.0 {
            if x == 1.0 {
                1.0
            } else if x == -1.0 {
                if (y as i64) % 2 != 0 {
                    -1.0
                } else {
                    1.0
                }
            } else {
                0.0
            }
        } else {
            x.powi(y as i32)
        }
    };
    check2(
        "aten.pow.Tensor_Tensor",
        &a,
        &b,
        &no_extra,
        DType::Int64,
        &ipow,
        0.0,
    );
}

#[test]
fn pow_tensor_scalar() {
    let a = Typed::random(DType::Float32, &[2, 3, 5], 3.0, 31);
    for e in [2.0, 3.0, -1.0, -2.0, 0.0, 1.0, 7.0] {
        check_scalar(
            "aten.pow.Tensor_Scalar",
            &a,
            Value::Double(e),
            DType::Float32,
            &|x| powf_ref(x, e),
            1e-5,
        );
    }
    check_scalar(
        "aten.pow.Tensor_Scalar",
        &a,
        Value::Int(2),
        DType::Float32,
        &|x| powf_ref(x, 2.0),
        1e-6,
    );
    let mut pos = a.clone();
    pos.v.iter_mut().for_each(|x| *x = x.abs() + 0.01);
    for e in [0.5, -0.5, 2.5, -1.75, 1.0 / 3.0] {
        check_scalar(
            "aten.pow.Tensor_Scalar",
            &pos,
            Value::Double(e),
            DType::Float32,
            &|x| powf_ref(x, e),
            1e-5,
        );
    }
    // Fractional powers of negative numbers are NaN.
    check_scalar(
        "aten.pow.Tensor_Scalar",
        &a,
        Value::Double(0.5),
        DType::Float32,
        &|x| powf_ref(x, 0.5),
        1e-5,
    );
    let i = Typed::random(DType::Int32, &[11], 9.0, 32);
    check_scalar(
        "aten.pow.Tensor_Scalar",
        &i,
        Value::Int(3),
        DType::Int32,
        &|x| x * x * x,
        0.0,
    );
}

#[test]
fn minimum_and_maximum() {
    let mut a = Typed::random(DType::Float32, &[4, 1, 6], 2.0, 41);
    let b = Typed::random(DType::Float32, &[3, 1], 2.0, 42);
    a.v[2] = f64::NAN;
    let nan_min = |x: f64, y: f64| {
        if x.is_nan() || y.is_nan() {
            f64::NAN
        } else {
            x.min(y)
        }
    };
    let nan_max = |x: f64, y: f64| {
        if x.is_nan() || y.is_nan() {
            f64::NAN
        } else {
            x.max(y)
        }
    };
    check2(
        "aten.minimum.default",
        &a,
        &b,
        &no_extra,
        DType::Float32,
        &nan_min,
        0.0,
    );
    check2(
        "aten.maximum.default",
        &a,
        &b,
        &no_extra,
        DType::Float32,
        &nan_max,
        0.0,
    );
    let a = Typed::random(DType::Int64, &[5, 4], 100.0, 43);
    let b = Typed::random(DType::Int64, &[4], 100.0, 44);
    check2(
        "aten.minimum.default",
        &a,
        &b,
        &no_extra,
        DType::Int64,
        &nan_min,
        0.0,
    );
    // Mixed int and float promote to float.
    let f = Typed::random(DType::Float32, &[4], 100.0, 45);
    check2(
        "aten.minimum.default",
        &a,
        &f,
        &no_extra,
        DType::Float32,
        &nan_min,
        0.0,
    );
}

#[test]
fn mixed_dtypes_promote() {
    let i = Typed::random(DType::Int64, &[3, 4], 20.0, 51);
    let f = Typed::random(DType::Float32, &[4], 5.0, 52);
    let one = |g: &mut GraphBuilder| vec![g.int(1)];
    check2(
        "aten.add.Tensor",
        &i,
        &f,
        &one,
        DType::Float32,
        &|x, y| x + y,
        1e-6,
    );
    check2(
        "aten.sub.Tensor",
        &f,
        &i,
        &|g| vec![g.double(0.5)],
        DType::Float32,
        &|x, y| x - 0.5 * y,
        1e-6,
    );
    check2(
        "aten.mul.Tensor",
        &i,
        &f,
        &no_extra,
        DType::Float32,
        &|x, y| x * y,
        1e-6,
    );
    // A 0-dim float tensor promotes an integer tensor (the exporter lifts scalars so).
    let z = Typed::new(DType::Float32, &[], vec![0.25]);
    check2(
        "aten.mul.Tensor",
        &i,
        &z,
        &no_extra,
        DType::Float32,
        &|x, y| x * y,
        0.0,
    );
    let zi = Typed::new(DType::Int32, &[], vec![3.0]);
    check2(
        "aten.add.Tensor",
        &i,
        &zi,
        &one,
        DType::Int64,
        &|x, y| x + y,
        0.0,
    );
    check2(
        "aten.add.Tensor",
        &f,
        &zi,
        &one,
        DType::Float32,
        &|x, y| x + y,
        1e-6,
    );
    // Bool with int.
    let b = Typed::random(DType::Bool, &[3, 4], 1.0, 53);
    check2(
        "aten.mul.Tensor",
        &i,
        &b,
        &no_extra,
        DType::Int64,
        &|x, y| x * y,
        0.0,
    );
}

#[test]
fn rank_eight_broadcast_and_rank_nine_rejected() {
    let a = Typed::random(DType::Float32, &[2, 1, 2, 1, 3, 1, 2, 2], 1.0, 61);
    let b = Typed::random(DType::Float32, &[1, 2, 1, 2, 1, 2, 1, 2], 1.0, 62);
    check2(
        "aten.add.Tensor",
        &a,
        &b,
        &|g| vec![g.int(1)],
        DType::Float32,
        &|x, y| x + y,
        1e-6,
    );
    let c = Typed::random(DType::Int32, &[3, 1, 2, 1, 2], 9.0, 63);
    check2(
        "aten.mul.Tensor",
        &a,
        &c,
        &no_extra,
        DType::Float32,
        &|x, y| x * y,
        1e-6,
    );

    let mut g = GraphBuilder::new();
    let s = [1usize, 2, 1, 2, 1, 2, 1, 2, 1];
    let x = g.input(&s);
    let y = g.input(&s);
    let out = g.f32(&s);
    g.op("aten.mul.Tensor", &[x, y, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::NotSupported, "rank 9");
}

#[test]
fn arithmetic_invalid_arguments() {
    let base = |g: &mut GraphBuilder, da: DType, db: DType| {
        let a = g.tensor(da, &[2, 3]);
        let b = g.tensor(db, &[2, 3]);
        g.graph.input_ids.extend([a, b]);
        (a, b)
    };
    // Float operands into an integer output.
    let mut g = GraphBuilder::new();
    let (a, b) = base(&mut g, DType::Float32, DType::Float32);
    let al = g.int(1);
    let out = g.tensor(DType::Int32, &[2, 3]);
    g.op("aten.add.Tensor", &[a, b, al, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "float add -> int");
    // True division of integers into an integer output.
    let mut g = GraphBuilder::new();
    let (a, b) = base(&mut g, DType::Int32, DType::Int32);
    let out = g.tensor(DType::Int32, &[2, 3]);
    g.op("aten.div.Tensor", &[a, b, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "int div -> int");
    // Unknown rounding mode, and one of the wrong type.
    for mode in [Value::String("round".into()), Value::Int(1)] {
        let mut g = GraphBuilder::new();
        let (a, b) = base(&mut g, DType::Float32, DType::Float32);
        g.graph.values.push(mode.clone());
        let m = g.graph.values.len() - 1;
        let out = g.f32(&[2, 3]);
        g.op("aten.div.Tensor_mode", &[a, b, m, out]);
        g.output(out);
        expect_err(
            &g,
            etvk::ErrorKind::InvalidProgram,
            &format!("rounding_mode {mode:?}"),
        );
    }
    // Fractional alpha for integer tensors.
    let mut g = GraphBuilder::new();
    let (a, b) = base(&mut g, DType::Int64, DType::Int64);
    let al = g.double(0.5);
    let out = g.tensor(DType::Int64, &[2, 3]);
    g.op("aten.add.Tensor", &[a, b, al, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "int add alpha 0.5");
    // A fractional scalar with an integer output.
    let mut g = GraphBuilder::new();
    let a = g.tensor(DType::Int32, &[4]);
    g.graph.input_ids.push(a);
    let k = g.double(2.5);
    let out = g.tensor(DType::Int32, &[4]);
    g.op("aten.mul.Tensor", &[a, k, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "int * 2.5 -> int");
    // Output sizes that disagree with the broadcast.
    let mut g = GraphBuilder::new();
    let (a, b) = base(&mut g, DType::Float32, DType::Float32);
    let out = g.f32(&[3, 2]);
    g.op("aten.pow.Tensor_Tensor", &[a, b, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "pow output sizes");
    // Wrong arity.
    let mut g = GraphBuilder::new();
    let (a, b) = base(&mut g, DType::Float32, DType::Float32);
    let out = g.f32(&[2, 3]);
    g.op("aten.div.Tensor_mode", &[a, b, out]);
    g.output(out);
    expect_err(&g, etvk::ErrorKind::InvalidProgram, "div mode arity");
}
