//! Creation ops (full, full_like, zeros, zeros_like, ones, ones_like, scalar_tensor,
//! arange.start_step) for float, integer and bool outputs, including graphs whose only op
//! has no tensor input.
mod common;
use common::*;

use etvk::format::DType;
use etvk::runtime::HostTensor;
use etvk::ErrorKind;

/// `n` Null values (dtype, layout, device, pin_memory, memory_format...).
fn nulls(g: &mut GraphBuilder, n: usize) -> Vec<usize> {
    (0..n).map(|_| g.null()).collect()
}

/// A value for a Python scalar: Int for whole numbers given as ints, Double otherwise.
#[derive(Clone, Copy, Debug)]
enum S {
    I(i64),
    F(f64),
    B(bool),
}

fn scalar(g: &mut GraphBuilder, s: S) -> usize {
    match s {
        S::I(v) => g.int(v),
        S::F(v) => g.double(v),
        S::B(v) => g.bool(v),
    }
}

/// What a tensor of `dtype` holds for the scalar `v` (as f32, as HostTensor::to_f32_vec
/// reports it).
fn stored(dtype: DType, v: f64) -> f32 {
    match dtype {
        DType::Bool => (v != 0.0) as i32 as f32,
        DType::Int8 => v as i64 as i8 as f32,
        DType::Uint8 => v as i64 as u8 as f32,
        DType::Int32 | DType::Int64 => v as i64 as f32,
        _ => v as f32,
    }
}

fn value_of(s: S) -> f64 {
    match s {
        S::I(v) => v as f64,
        S::F(v) => v,
        S::B(v) => v as i32 as f64,
    }
}

#[test]
fn full_fills_every_dtype() {
    let cases: &[(&[usize], S, DType)] = &[
        (&[2, 3], S::F(1.5), DType::Float32),
        (&[7], S::I(-4), DType::Float32),
        (&[3, 1, 2], S::I(42), DType::Int64),
        (&[5], S::I(-3), DType::Int32),
        (&[4], S::F(2.7), DType::Int32),
        (&[2, 2], S::B(true), DType::Bool),
        (&[3], S::I(300), DType::Uint8),
        (&[3], S::I(-129), DType::Int8),
        (&[], S::F(-0.25), DType::Float32),
        (&[2, 0], S::F(1.0), DType::Float32),
    ];
    for &(sizes, v, dtype) in cases {
        let mut g = GraphBuilder::new();
        let sz = g.int_list(&sizes.iter().map(|&s| s as i64).collect::<Vec<_>>());
        let fv = scalar(&mut g, v);
        let opts = nulls(&mut g, 4);
        let out = g.tensor(dtype, sizes);
        let mut args = vec![sz, fv];
        args.extend(opts);
        args.push(out);
        g.op("aten.full.default", &args);
        g.output(out);
        let got = run(&g, vec![]);
        assert_eq!(got[0].dtype, dtype);
        let n: usize = sizes.iter().product();
        let want = vec![stored(dtype, value_of(v)); n];
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("full {sizes:?} {v:?} {dtype:?}"),
        );
    }
}

#[test]
fn zeros_ones_and_likes() {
    for (name, v) in [("aten.zeros.default", 0.0), ("aten.ones.default", 1.0)] {
        for dtype in [DType::Float32, DType::Int64, DType::Bool] {
            let mut g = GraphBuilder::new();
            let sz = g.int_list(&[2, 5]);
            let opts = nulls(&mut g, 4);
            let out = g.tensor(dtype, &[2, 5]);
            let mut args = vec![sz];
            args.extend(opts);
            args.push(out);
            g.op(name, &args);
            g.output(out);
            let got = run(&g, vec![]);
            assert_close(
                &got[0].to_f32_vec(),
                &[v; 10],
                0.0,
                0.0,
                &format!("{name} {dtype:?}"),
            );
        }
    }
    // The *_like ops take only the shape of their input.
    let x = Rng::new(1).vec(12);
    for (name, v) in [
        ("aten.zeros_like.default", 0.0),
        ("aten.ones_like.default", 1.0),
    ] {
        for dtype in [DType::Float32, DType::Int32] {
            let mut g = GraphBuilder::new();
            let a = g.input(&[3, 4]);
            let opts = nulls(&mut g, 5);
            let out = g.tensor(dtype, &[3, 4]);
            let mut args = vec![a];
            args.extend(opts);
            args.push(out);
            g.op(name, &args);
            g.output(out);
            let got = run(&g, vec![HostTensor::from_f32(vec![3, 4], &x).unwrap()]);
            assert_close(
                &got[0].to_f32_vec(),
                &[v; 12],
                0.0,
                0.0,
                &format!("{name} {dtype:?}"),
            );
        }
    }
    // full_like, then used by another op.
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 4]);
    let fv = g.double(0.5);
    let opts = nulls(&mut g, 5);
    let filled = g.f32(&[3, 4]);
    let mut args = vec![a, fv];
    args.extend(opts);
    args.push(filled);
    g.op("aten.full_like.default", &args);
    let alpha = g.int(1);
    let sum = g.f32(&[3, 4]);
    g.op("aten.add.Tensor", &[a, filled, alpha, sum]);
    g.output(sum);
    let got = g.run(&[(&[3, 4], &x)]).unwrap();
    let want: Vec<f32> = x.iter().map(|v| v + 0.5).collect();
    assert_close(&got[0], &want, 1e-6, 0.0, "x + full_like(x, 0.5)");
}

#[test]
fn scalar_tensor_is_zero_dim() {
    for (v, dtype) in [
        (S::F(3.25), DType::Float32),
        (S::I(-7), DType::Int64),
        (S::I(2), DType::Float32),
        (S::B(true), DType::Bool),
    ] {
        let mut g = GraphBuilder::new();
        let sv = scalar(&mut g, v);
        let opts = nulls(&mut g, 4);
        let out = g.tensor(dtype, &[]);
        let mut args = vec![sv];
        args.extend(opts);
        args.push(out);
        g.op("aten.scalar_tensor.default", &args);
        g.output(out);
        let got = run(&g, vec![]);
        assert_eq!(got[0].sizes, Vec::<usize>::new());
        assert_close(
            &got[0].to_f32_vec(),
            &[stored(dtype, value_of(v))],
            0.0,
            0.0,
            &format!("{v:?}"),
        );
    }
}

#[test]
fn arange_start_step() {
    let cases: &[(S, S, S, DType)] = &[
        (S::I(0), S::I(10), S::I(1), DType::Int64),
        (S::I(2), S::I(11), S::I(3), DType::Int64),
        (S::I(5), S::I(-4), S::I(-2), DType::Int32),
        (S::I(0), S::I(7), S::I(1), DType::Float32),
        (S::F(-1.0), S::F(1.0), S::F(0.1), DType::Float32),
        (S::F(0.5), S::F(3.0), S::F(0.75), DType::Float32),
        (S::F(2.0), S::F(-1.0), S::F(-0.5), DType::Float32),
        (S::I(3), S::I(3), S::I(1), DType::Int64),
    ];
    for &(start, end, step, dtype) in cases {
        let (a, e, s) = (value_of(start), value_of(end), value_of(step));
        let n = ((e - a) / s).ceil().max(0.0) as usize;
        let want: Vec<f32> = (0..n).map(|i| stored(dtype, a + i as f64 * s)).collect();
        let mut g = GraphBuilder::new();
        let (sv, ev, tv) = (
            scalar(&mut g, start),
            scalar(&mut g, end),
            scalar(&mut g, step),
        );
        let opts = nulls(&mut g, 4);
        let out = g.tensor(dtype, &[n]);
        let mut args = vec![sv, ev, tv];
        args.extend(opts);
        args.push(out);
        g.op("aten.arange.start_step", &args);
        g.output(out);
        let got = run(&g, vec![]);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-6,
            1e-6,
            &format!("arange({a}, {e}, {s}) {dtype:?}"),
        );
    }
}

#[test]
fn creation_rejects_bad_arguments() {
    // arange: zero step, wrong sign, wrong length.
    for (start, end, step, n) in [(0, 5, 0, 5usize), (0, 5, -1, 0), (0, 5, 1, 4)] {
        let mut g = GraphBuilder::new();
        let (sv, ev, tv) = (g.int(start), g.int(end), g.int(step));
        let opts = nulls(&mut g, 4);
        let out = g.tensor(DType::Int64, &[n]);
        let mut args = vec![sv, ev, tv];
        args.extend(opts);
        args.push(out);
        g.op("aten.arange.start_step", &args);
        g.output(out);
        let err = build_err(&g);
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
    // full: negative size; sizes that differ from the output's.
    for (size, out_sizes) in [(&[-1i64, 2][..], &[1usize, 2][..]), (&[2, 3], &[3, 2])] {
        let mut g = GraphBuilder::new();
        let sz = g.int_list(size);
        let fv = g.double(1.0);
        let opts = nulls(&mut g, 4);
        let out = g.f32(out_sizes);
        let mut args = vec![sz, fv];
        args.extend(opts);
        args.push(out);
        g.op("aten.full.default", &args);
        g.output(out);
        assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    }
    // Fill value that is not a scalar; wrong arity.
    let mut g = GraphBuilder::new();
    let sz = g.int_list(&[2]);
    let fv = g.int_list(&[1]);
    let opts = nulls(&mut g, 4);
    let out = g.f32(&[2]);
    let mut args = vec![sz, fv];
    args.extend(opts);
    args.push(out);
    g.op("aten.full.default", &args);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    let mut g = GraphBuilder::new();
    let sz = g.int_list(&[2]);
    let out = g.f32(&[2]);
    g.op("aten.zeros.default", &[sz, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}
