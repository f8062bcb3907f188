//! Comparisons (.Tensor and .Scalar), bitwise and logical ops, and where.self against CPU
//! references: broadcasting, float/int/bool operands, NaN, type promotion, invalid programs.
mod common;
use common::*;

use etvk::format::{DType, Value};

#[path = "common/typed.rs"]
mod typed;
use typed::*;

fn expect_err(g: &GraphBuilder, kind: etvk::ErrorKind, what: &str) {
    let err = g
        .build()
        .err()
        .unwrap_or_else(|| panic!("{what}: must fail"));
    assert_eq!(err.kind, kind, "{what}: {}", err.message);
}

/// Runs `name(a, b)` into an `out_dtype` output and compares exactly with `f`.
fn check2(name: &str, a: &Typed, b: &Typed, out_dtype: DType, f: &dyn Fn(f64, f64) -> f64) {
    let (want, out_sizes) = reference(&[a, b], |v| f(v[0], v[1]));
    let mut g = GraphBuilder::new();
    let ia = a.input(&mut g);
    let ib = b.input(&mut g);
    let out = g.tensor(out_dtype, &out_sizes);
    g.op(name, &[ia, ib, out]);
    g.output(out);
    let got = run_typed(&g, &[a, b]).unwrap();
    let what = format!(
        "{name} {:?}{:?} {:?}{:?}",
        a.dtype, a.sizes, b.dtype, b.sizes
    );
    assert_eq!(got[0].0, out_dtype, "{what}");
    assert_close_inf(&got[0].1, &want, 0.0, 0.0, &what);
}

/// Runs `name(a, scalar)` into a bool output and compares with `f`.
fn check_scalar(name: &str, a: &Typed, scalar: Value, f: &dyn Fn(f64) -> bool) {
    let (want, out_sizes) = reference(&[a], |v| f(v[0]) as i32 as f64);
    let mut g = GraphBuilder::new();
    let ia = a.input(&mut g);
    g.graph.values.push(scalar.clone());
    let k = g.graph.values.len() - 1;
    let out = g.tensor(DType::Bool, &out_sizes);
    g.op(name, &[ia, k, out]);
    g.output(out);
    let got = run_typed(&g, &[a]).unwrap();
    let what = format!("{name} {:?}{:?} {scalar:?}", a.dtype, a.sizes);
    assert_eq!(got[0].0, DType::Bool, "{what}");
    assert_close(&got[0].1, &want, 0.0, 0.0, &what);
}

type Cmp = fn(f64, f64) -> bool;
const COMPARISONS: [(&str, Cmp); 6] = [
    ("eq", |x, y| x == y),
    ("ne", |x, y| x != y),
    ("lt", |x, y| x < y),
    ("le", |x, y| x <= y),
    ("gt", |x, y| x > y),
    ("ge", |x, y| x >= y),
];

const SHAPES: &[(&[usize], &[usize])] = &[
    (&[7], &[7]),
    (&[2, 3, 5], &[5]),
    (&[4, 1, 3], &[1, 5, 1]),
    (&[], &[3, 4]),
    (&[2, 1, 2, 1, 2, 1, 2, 3], &[2, 1, 3]),
];

/// Values drawn from a small set so that ties (eq/le/ge) happen often.
fn coarse(dtype: DType, sizes: &[usize], seed: u64) -> Typed {
    let mut t = Typed::random(dtype, sizes, 3.0, seed);
    if dtype.is_float() {
        t.v.iter_mut().for_each(|x| *x = (*x * 2.0).round() / 2.0);
    }
    t
}

#[test]
fn comparisons_of_tensors() {
    for (k, (sa, sb)) in SHAPES.iter().enumerate() {
        for (da, db) in [
            (DType::Float32, DType::Float32),
            (DType::Int64, DType::Int64),
            (DType::Int32, DType::Int64),
            (DType::Int64, DType::Float32),
            (DType::Bool, DType::Bool),
        ] {
            let mut a = coarse(da, sa, k as u64 + 1);
            let b = coarse(db, sb, k as u64 + 50);
            if da.is_float() && a.v.len() > 3 {
                a.v[3] = f64::NAN;
            }
            for (name, f) in COMPARISONS {
                let op = format!("aten.{name}.Tensor");
                check2(&op, &a, &b, DType::Bool, &|x, y| f(x, y) as i32 as f64);
            }
        }
    }
    // int vs float compares in float: 2 != 2.5.
    let a = Typed::new(DType::Int64, &[3], vec![1.0, 2.0, 3.0]);
    let b = Typed::new(DType::Float32, &[3], vec![1.0, 2.5, 2.75]);
    check2("aten.eq.Tensor", &a, &b, DType::Bool, &|x, y| {
        (x == y) as i32 as f64
    });
    check2("aten.gt.Tensor", &a, &b, DType::Bool, &|x, y| {
        (x > y) as i32 as f64
    });
}

#[test]
fn comparisons_with_scalars() {
    let mut f = coarse(DType::Float32, &[3, 7], 5);
    f.v[4] = f64::NAN;
    let i = coarse(DType::Int64, &[2, 9], 6);
    for (name, cmp) in COMPARISONS {
        let op = format!("aten.{name}.Scalar");
        check_scalar(&op, &f, Value::Double(0.5), &|x| cmp(x, 0.5));
        check_scalar(&op, &f, Value::Int(1), &|x| cmp(x, 1.0));
        check_scalar(&op, &i, Value::Int(-1), &|x| cmp(x, -1.0));
        // The exporter writes integer scalars as Double; a fractional one compares in float.
        check_scalar(&op, &i, Value::Double(2.0), &|x| cmp(x, 2.0));
        check_scalar(&op, &i, Value::Double(1.5), &|x| cmp(x, 1.5));
    }
    // Integers beyond f32's exact range still compare exactly with an integral scalar.
    let big = Typed::new(DType::Int32, &[3], vec![16777216.0, 16777217.0, 16777218.0]);
    check_scalar("aten.eq.Scalar", &big, Value::Int(16777217), &|x| {
        x == 16777217.0
    });
}

#[test]
fn bitwise_ops() {
    type Bit = fn(i64, i64) -> i64;
    let ops: [(&str, Bit); 3] = [
        ("aten.bitwise_and.Tensor", |x, y| x & y),
        ("aten.bitwise_or.Tensor", |x, y| x | y),
        ("aten.bitwise_xor.Tensor", |x, y| x ^ y),
    ];
    for (k, (sa, sb)) in SHAPES.iter().enumerate() {
        for (name, f) in ops {
            let a = Typed::random(DType::Int64, sa, 1000.0, k as u64 + 10);
            let b = Typed::random(DType::Int64, sb, 1000.0, k as u64 + 20);
            check2(name, &a, &b, DType::Int64, &|x, y| {
                f(x as i64, y as i64) as f64
            });
            let a = Typed::random(DType::Bool, sa, 1.0, k as u64 + 30);
            let b = Typed::random(DType::Bool, sb, 1.0, k as u64 + 40);
            check2(name, &a, &b, DType::Bool, &|x, y| {
                f(x as i64, y as i64) as f64
            });
            let c = Typed::random(DType::Int32, sb, 7.0, k as u64 + 50);
            check2(name, &a, &c, DType::Int32, &|x, y| {
                f(x as i64, y as i64) as f64
            });
        }
    }
}

#[test]
fn logical_ops() {
    type Logic = fn(bool, bool) -> bool;
    let ops: [(&str, Logic); 3] = [
        ("aten.logical_and.default", |x, y| x && y),
        ("aten.logical_or.default", |x, y| x || y),
        ("aten.logical_xor.default", |x, y| x != y),
    ];
    let nz = |v: f64| v != 0.0; // NaN is true, -0.0 false
    for (k, (sa, sb)) in SHAPES.iter().enumerate() {
        for (da, db) in [
            (DType::Bool, DType::Bool),
            (DType::Float32, DType::Int64),
            (DType::Int32, DType::Bool),
        ] {
            let mut a = coarse(da, sa, k as u64 + 60);
            let b = coarse(db, sb, k as u64 + 70);
            if da.is_float() && a.v.len() > 2 {
                a.v[0] = f64::NAN;
                a.v[1] = -0.0;
            }
            for (name, f) in ops {
                check2(name, &a, &b, DType::Bool, &|x, y| {
                    f(nz(x), nz(y)) as i32 as f64
                });
            }
        }
    }
}

/// Runs where(cond, x, y) into an `out_dtype` output and compares exactly.
fn check_where(c: &Typed, x: &Typed, y: &Typed, out_dtype: DType) {
    let (want, out_sizes) = reference(&[c, x, y], |v| if v[0] != 0.0 { v[1] } else { v[2] });
    let mut g = GraphBuilder::new();
    let ic = c.input(&mut g);
    let ix = x.input(&mut g);
    let iy = y.input(&mut g);
    let out = g.tensor(out_dtype, &out_sizes);
    g.op("aten.where.self", &[ic, ix, iy, out]);
    g.output(out);
    let got = run_typed(&g, &[c, x, y]).unwrap();
    let what = format!(
        "where {:?}{:?} {:?}{:?} {:?}{:?}",
        c.dtype, c.sizes, x.dtype, x.sizes, y.dtype, y.sizes
    );
    assert_eq!(got[0].0, out_dtype, "{what}");
    assert_close_inf(&got[0].1, &want, 0.0, 0.0, &what);
}

#[test]
fn where_broadcasts_three_ways() {
    let shapes: &[(&[usize], &[usize], &[usize])] = &[
        (&[2, 3], &[2, 3], &[2, 3]),
        (&[2, 1, 5], &[3, 1], &[4, 1, 1, 1]),
        (&[7], &[], &[3, 7]),
        (&[1, 2, 1, 2, 1, 2, 1, 2], &[2, 1], &[2, 1, 1, 2]),
    ];
    for (k, (sc, sx, sy)) in shapes.iter().enumerate() {
        let c = Typed::random(DType::Bool, sc, 1.0, k as u64 + 1);
        let mut x = Typed::random(DType::Float32, sx, 5.0, k as u64 + 2);
        let y = Typed::random(DType::Float32, sy, 5.0, k as u64 + 3);
        x.v[0] = f64::INFINITY;
        check_where(&c, &x, &y, DType::Float32);
        // Integer values stay integer; int with float promotes.
        let xi = Typed::random(DType::Int64, sx, 100.0, k as u64 + 4);
        let yi = Typed::random(DType::Int64, sy, 100.0, k as u64 + 5);
        check_where(&c, &xi, &yi, DType::Int64);
        check_where(&c, &xi, &y, DType::Float32);
        // A non-bool condition counts nonzero as true.
        let cu = Typed::random(DType::Uint8, sc, 1.0, k as u64 + 6);
        check_where(&cu, &x, &y, DType::Float32);
    }
}

#[test]
fn elementwise_invalid_arguments() {
    let two = |name: &str, da: DType, db: DType, sb: &[usize], out_dtype: DType| {
        let mut g = GraphBuilder::new();
        let a = g.tensor(da, &[2, 3]);
        let b = g.tensor(db, sb);
        g.graph.input_ids.extend([a, b]);
        let out = g.tensor(out_dtype, &[2, 3]);
        g.op(name, &[a, b, out]);
        g.output(out);
        g
    };
    use etvk::ErrorKind::InvalidProgram;
    let g = two(
        "aten.bitwise_and.Tensor",
        DType::Float32,
        DType::Int32,
        &[2, 3],
        DType::Float32,
    );
    expect_err(&g, InvalidProgram, "bitwise_and of floats");
    let g = two(
        "aten.lt.Tensor",
        DType::Float32,
        DType::Float32,
        &[4],
        DType::Bool,
    );
    expect_err(&g, InvalidProgram, "lt shapes");
    let g = two(
        "aten.logical_or.default",
        DType::Bool,
        DType::Bool,
        &[3, 3],
        DType::Bool,
    );
    expect_err(&g, InvalidProgram, "logical_or shapes");
    // A fractional scalar for a bitwise op.
    let mut g = GraphBuilder::new();
    let a = g.tensor(DType::Int32, &[4]);
    g.graph.input_ids.push(a);
    let k = g.double(1.5);
    let out = g.tensor(DType::Int32, &[4]);
    g.op("aten.bitwise_or.Tensor", &[a, k, out]);
    g.output(out);
    expect_err(&g, InvalidProgram, "bitwise_or 1.5");
    // where: shapes that do not broadcast; float values into an int output; arity.
    let wh = |sc: &[usize], dx: DType, out_dtype: DType, extra: bool| {
        let mut g = GraphBuilder::new();
        let c = g.tensor(DType::Bool, sc);
        let x = g.tensor(dx, &[2, 3]);
        let y = g.tensor(DType::Float32, &[3]);
        g.graph.input_ids.extend([c, x, y]);
        let out = g.tensor(out_dtype, &[2, 3]);
        let mut args = vec![c, x, y];
        if extra {
            args.push(g.null());
        }
        args.push(out);
        g.op("aten.where.self", &args);
        g.output(out);
        g
    };
    expect_err(
        &wh(&[4], DType::Float32, DType::Float32, false),
        InvalidProgram,
        "where shapes",
    );
    expect_err(
        &wh(&[2, 3], DType::Float32, DType::Int32, false),
        InvalidProgram,
        "where float -> int",
    );
    expect_err(
        &wh(&[2, 3], DType::Float32, DType::Float32, true),
        InvalidProgram,
        "where arity",
    );
    // A non-tensor condition.
    let mut g = GraphBuilder::new();
    let c = g.bool(true);
    let x = g.input(&[3]);
    let y = g.input(&[3]);
    let out = g.f32(&[3]);
    g.op("aten.where.self", &[c, x, y, out]);
    g.output(out);
    expect_err(&g, InvalidProgram, "where scalar condition");
}
