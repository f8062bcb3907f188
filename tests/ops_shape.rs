//! Shape and copy ops (view, squeeze, unsqueeze, alias, clone, permute, t, expand, repeat,
//! select, slice, split, flip, constant_pad_nd, unfold, copy, _to_copy, _to_dim_order_copy,
//! cat, et_vk.prepack) against CPU references, for float and integer tensors.
mod common;
use common::*;

use etvk::format::DType;
use etvk::runtime::HostTensor;
use etvk::ErrorKind;

/// Distinct integers for integer tests.
fn ints(n: usize) -> Vec<i32> {
    (0..n as i32).map(|i| i * 37 % 1001 - 500).collect()
}

// ---------------------------------------------------------------- view_copy

#[test]
fn view_copy_reshapes() {
    let cases: &[(&[usize], &[i64], &[usize])] = &[
        (&[2, 3, 4], &[6, 4], &[6, 4]),
        (&[2, 3, 4], &[-1], &[24]),
        (&[2, 3, 4], &[4, -1, 2], &[4, 3, 2]),
        (&[7], &[1, 7, 1], &[1, 7, 1]),
        (&[3, 5, 7, 2], &[3, -1], &[3, 70]),
        (&[1], &[], &[]),
    ];
    for (k, &(from, size, to)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 1).vec(from.iter().product());
        let mut g = GraphBuilder::new();
        let a = g.input(from);
        let s = g.int_list(size);
        let out = g.f32(to);
        g.op("aten.view_copy.default", &[a, s, out]);
        g.output(out);
        let got = g.run(&[(from, &x)]).unwrap();
        assert_close(&got[0], &x, 0.0, 0.0, &format!("view {from:?} -> {size:?}"));
    }
}

#[test]
fn view_copy_integer_tensor() {
    let x = ints(30);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[5, 6]);
    let s = g.int_list(&[-1, 2, 3]);
    let out = g.tensor(DType::Int32, &[5, 2, 3]);
    g.op("aten.view_copy.default", &[a, s, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[5, 6], &x)]);
    assert_eq!(got[0].data, i32_host(&[5, 2, 3], &x).data);
}

#[test]
fn view_copy_rejects_bad_sizes() {
    for (size, to) in [
        (&[-1i64, -1][..], &[4usize, 6][..]),
        (&[5, 5], &[5, 5]),
        (&[-1, 5], &[5, 5]),
        (&[-2, 12], &[2, 12]),
    ] {
        let mut g = GraphBuilder::new();
        let a = g.input(&[2, 3, 4]);
        let s = g.int_list(size);
        let out = g.f32(to);
        g.op("aten.view_copy.default", &[a, s, out]);
        g.output(out);
        let err = build_err(&g);
        assert_eq!(
            err.kind,
            ErrorKind::InvalidProgram,
            "{size:?}: {}",
            err.message
        );
    }
}

// ---------------------------------------------------------------- permute_copy

#[test]
fn permute_copy_matches_reference() {
    let cases: &[(&[usize], &[i64])] = &[
        (&[5], &[0]),
        (&[3, 7], &[1, 0]),
        (&[2, 3, 5], &[2, 0, 1]),
        (&[2, 3, 5], &[-1, -3, -2]),
        (&[2, 3, 4, 5], &[0, 2, 3, 1]),
        (&[3, 1, 4, 2, 3], &[4, 3, 2, 1, 0]),
        (&[2, 1, 2, 3, 1, 2, 3, 2], &[7, 1, 5, 3, 0, 2, 6, 4]),
    ];
    for (k, &(sizes, dims)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 7).vec(sizes.iter().product());
        let norm: Vec<usize> = dims
            .iter()
            .map(|&d| if d < 0 { d + sizes.len() as i64 } else { d } as usize)
            .collect();
        let (want, out_sizes) = permute_ref(&x, sizes, &norm);
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let d = g.int_list(dims);
        let out = g.f32(&out_sizes);
        g.op("aten.permute_copy.default", &[a, d, out]);
        g.output(out);
        let got = g.run(&[(sizes, &x)]).unwrap();
        assert_close(
            &got[0],
            &want,
            0.0,
            0.0,
            &format!("permute {sizes:?} {dims:?}"),
        );
    }
}

#[test]
fn permute_copy_integer_tensor() {
    let sizes = [4usize, 3, 5];
    let x = ints(60);
    let (want, out_sizes) = permute_ref(&x, &sizes, &[1, 2, 0]);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &sizes);
    let d = g.int_list(&[1, 2, 0]);
    let out = g.tensor(DType::Int32, &out_sizes);
    g.op("aten.permute_copy.default", &[a, d, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&sizes, &x)]);
    assert_eq!(got[0].data, i32_host(&out_sizes, &want).data);
}

#[test]
fn permute_copy_rejects_bad_dims() {
    for dims in [&[0i64, 0, 1][..], &[0, 1], &[0, 1, 3], &[0, 1, -4]] {
        let mut g = GraphBuilder::new();
        let a = g.input(&[2, 3, 4]);
        let d = g.int_list(dims);
        let out = g.f32(&[2, 3, 4]);
        g.op("aten.permute_copy.default", &[a, d, out]);
        g.output(out);
        let err = build_err(&g);
        assert_eq!(
            err.kind,
            ErrorKind::InvalidProgram,
            "{dims:?}: {}",
            err.message
        );
    }
}

// ---------------------------------------------------------------- clone and prepack

#[test]
fn clone_copies() {
    for sizes in [&[1usize][..], &[13], &[2, 3, 9, 9]] {
        let x = Rng::new(3).vec(sizes.iter().product());
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let mf = g.null();
        let out = g.f32(sizes);
        g.op("aten.clone.default", &[a, mf, out]);
        g.output(out);
        let got = g.run(&[(sizes, &x)]).unwrap();
        assert_close(&got[0], &x, 0.0, 0.0, &format!("clone {sizes:?}"));
    }
    // Integer tensors, and a clone feeding another op.
    let x = ints(10);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[2, 5]);
    let mf = g.null();
    let mid = g.tensor(DType::Int32, &[2, 5]);
    g.op("aten.clone.default", &[a, mf, mid]);
    let d = g.int_list(&[1, 0]);
    let out = g.tensor(DType::Int32, &[5, 2]);
    g.op("aten.permute_copy.default", &[mid, d, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[2, 5], &x)]);
    let (want, _) = permute_ref(&x, &[2, 5], &[1, 0]);
    assert_eq!(got[0].data, i32_host(&[5, 2], &want).data);
}

#[test]
fn clone_rejects_memory_format() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let mf = g.int(1);
    let out = g.f32(&[4]);
    g.op("aten.clone.default", &[a, mf, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::NotSupported);

    // Output sizes that differ from the input's.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let mf = g.null();
    let out = g.f32(&[2, 2]);
    g.op("aten.clone.default", &[a, mf, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

#[test]
fn prepack_copies_a_constant() {
    for sizes in [&[3usize][..], &[2, 3, 5]] {
        let n: usize = sizes.iter().product();
        let w = Rng::new(11).vec(n);
        let x = Rng::new(12).vec(n);
        let mut g = GraphBuilder::new();
        let c = g.constant(sizes, &w);
        let packed = g.f32(sizes);
        g.op("et_vk.prepack.default", &[c, packed]);
        // Use the packed copy in a second op as well as returning it.
        let a = g.input(sizes);
        let alpha = g.double(1.0);
        let sum = g.f32(sizes);
        g.op("aten.add.Tensor", &[a, packed, alpha, sum]);
        g.output(packed);
        g.output(sum);
        let got = g.run(&[(sizes, &x)]).unwrap();
        assert_close(&got[0], &w, 0.0, 0.0, "prepacked constant");
        let want: Vec<f32> = x.iter().zip(&w).map(|(a, b)| a + b).collect();
        assert_close(&got[1], &want, 1e-6, 1e-6, "constant + input");
    }
}

// ---------------------------------------------------------------- _to_dim_order_copy

/// CPU conversions of one element to the value the output dtype holds (as f32).
type FromI64 = fn(i64) -> f32;
type FromI32 = fn(i32) -> f32;
type FromF32 = fn(f32) -> f32;

const TO_DIM_ORDER: &str = "dim_order_ops._to_dim_order_copy.default";

/// `_to_dim_order_copy(x)` from `from` to `to` with the given dim_order (None = Null).
fn to_dim_order_graph(
    from: DType,
    to: DType,
    sizes: &[usize],
    dim_order: Option<&[i64]>,
) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let a = input(&mut g, from, sizes);
    let (dtype, layout, device, pin) = (g.null(), g.null(), g.null(), g.null());
    let nb = g.bool(false);
    let order = match dim_order {
        Some(o) => g.int_list(o),
        None => g.null(),
    };
    let out = g.tensor(to, sizes);
    g.op(
        TO_DIM_ORDER,
        &[a, dtype, layout, device, pin, nb, order, out],
    );
    g.output(out);
    g
}

#[test]
fn to_dim_order_copy_same_dtype() {
    let sizes = [2usize, 3, 7];
    let x = Rng::new(5).vec(42);
    for order in [None, Some(&[0i64, 1, 2][..])] {
        let g = to_dim_order_graph(DType::Float32, DType::Float32, &sizes, order);
        let got = run(&g, vec![f32_host(&sizes, &x)]);
        assert_close(&got[0].to_f32_vec(), &x, 0.0, 0.0, "f32 -> f32");
    }
    let xi = ints(42);
    let g = to_dim_order_graph(DType::Int32, DType::Int32, &sizes, None);
    let got = run(&g, vec![i32_host(&sizes, &xi)]);
    assert_eq!(got[0].data, i32_host(&sizes, &xi).data);
}

#[test]
fn to_dim_order_copy_float_to_int_truncates() {
    let sizes = [3usize, 5];
    let x: Vec<f32> = vec![
        -2.7, -2.5, -1.0, -0.99, -0.5, 0.0, 0.4, 0.99, 1.0, 1.5, 2.7, 100.9, -300.2, 127.5, 7.0,
    ];
    let trunc: Vec<i64> = x.iter().map(|v| v.trunc() as i64).collect();
    let cases: &[(DType, FromI64)] = &[
        (DType::Int32, |v| v as f32),
        (DType::Int64, |v| v as f32),
        (DType::Int8, |v| v as i8 as f32),
        (DType::Uint8, |v| v as u8 as f32),
        (DType::Bool, |v| (v != 0) as i32 as f32),
    ];
    for &(to, f) in cases {
        let g = to_dim_order_graph(DType::Float32, to, &sizes, None);
        let got = run(&g, vec![f32_host(&sizes, &x)]);
        assert_eq!(got[0].dtype, to);
        let want: Vec<f32> = if to == DType::Bool {
            // Bool is x != 0 on the float (0.4 is true), not on the truncated value.
            x.iter().map(|&v| (v != 0.0) as i32 as f32).collect()
        } else {
            trunc.iter().map(|&v| f(v)).collect()
        };
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("f32 -> {to:?}"),
        );
    }
}

#[test]
fn to_dim_order_copy_int_conversions() {
    let sizes = [2usize, 2, 4];
    let x: Vec<i32> = vec![
        0, 1, -1, 2, 127, 128, 255, 256, -128, -129, 1000, -1000, 2047, 7, -1793, 3,
    ];
    let cases: &[(DType, FromI32)] = &[
        (DType::Float32, |v| v as f32),
        // Every value is exact in f16 (|v| <= 2048).
        (DType::Float16, |v| v as f32),
        (DType::Int64, |v| v as f32),
        (DType::Int8, |v| v as i8 as f32),
        (DType::Uint8, |v| v as u8 as f32),
        (DType::Bool, |v| (v != 0) as i32 as f32),
    ];
    for &(to, f) in cases {
        let g = to_dim_order_graph(DType::Int32, to, &sizes, None);
        let got = run(&g, vec![i32_host(&sizes, &x)]);
        let want: Vec<f32> = x.iter().map(|&v| f(v)).collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("i32 -> {to:?}"),
        );
    }
    // Bool -> float.
    let g = to_dim_order_graph(DType::Bool, DType::Float32, &[5], None);
    let b = HostTensor::new(DType::Bool, vec![5], vec![1, 0, 0, 1, 1]).unwrap();
    let got = run(&g, vec![b]);
    assert_close(
        &got[0].to_f32_vec(),
        &[1.0, 0.0, 0.0, 1.0, 1.0],
        0.0,
        0.0,
        "bool -> f32",
    );
}

#[test]
fn to_dim_order_copy_rejects_other_dim_orders() {
    let g = to_dim_order_graph(
        DType::Float32,
        DType::Float32,
        &[1, 3, 4, 4],
        Some(&[0, 2, 3, 1]),
    );
    let err = build_err(&g);
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(err.message.contains("dim_order"), "{}", err.message);
    // Wrong length is not contiguous either.
    let g = to_dim_order_graph(DType::Float32, DType::Float32, &[3, 4], Some(&[0]));
    assert_eq!(build_err(&g).kind, ErrorKind::NotSupported);
    // Wrong arity.
    let mut g = GraphBuilder::new();
    let a = g.input(&[3]);
    let out = g.f32(&[3]);
    g.op(TO_DIM_ORDER, &[a, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- cat

/// CPU cat of contiguous tensors along `dim`.
fn cat_ref<T: Copy>(parts: &[(Vec<T>, Vec<usize>)], dim: usize) -> (Vec<T>, Vec<usize>) {
    let mut out_sizes = parts[0].1.clone();
    out_sizes[dim] = parts.iter().map(|(_, s)| s[dim]).sum();
    let outer: usize = out_sizes[..dim].iter().product();
    let inner: usize = out_sizes[dim + 1..].iter().product();
    let mut v = Vec::new();
    for o in 0..outer {
        for (x, s) in parts {
            let chunk = s[dim] * inner;
            v.extend_from_slice(&x[o * chunk..(o + 1) * chunk]);
        }
    }
    (v, out_sizes)
}

#[test]
fn cat_matches_reference() {
    let cases: &[(&[&[usize]], i64)] = &[
        (&[&[3], &[5]], 0),
        (&[&[2, 3], &[4, 3], &[1, 3]], 0),
        (&[&[2, 3], &[2, 5], &[2, 1]], 1),
        (&[&[2, 3], &[2, 5]], -1),
        (&[&[2, 3, 4, 5], &[2, 1, 4, 5], &[2, 6, 4, 5]], 1),
        (&[&[3, 2, 7], &[3, 2, 2]], -1),
        (&[&[3, 2, 7], &[3, 5, 7]], -2),
        (
            &[&[2, 2, 3, 3], &[2, 2, 3, 1], &[2, 2, 3, 4], &[2, 2, 3, 2]],
            3,
        ),
        (&[&[2, 3], &[2, 0], &[2, 2]], 1),
    ];
    for (k, &(shapes, dim)) in cases.iter().enumerate() {
        let rank = shapes[0].len() as i64;
        let d = if dim < 0 { dim + rank } else { dim } as usize;
        let mut rng = Rng::new(k as u64 + 21);
        let parts: Vec<(Vec<f32>, Vec<usize>)> = shapes
            .iter()
            .map(|s| (rng.vec(s.iter().product()), s.to_vec()))
            .collect();
        let (want, out_sizes) = cat_ref(&parts, d);
        let mut g = GraphBuilder::new();
        let ids: Vec<usize> = shapes.iter().map(|s| g.input(s)).collect();
        let list = g.value_list(&ids);
        let dv = g.int(dim);
        let out = g.f32(&out_sizes);
        g.op("aten.cat.default", &[list, dv, out]);
        g.output(out);
        let inputs: Vec<(&[usize], &[f32])> = parts
            .iter()
            .map(|(v, s)| (s.as_slice(), v.as_slice()))
            .collect();
        let got = g.run(&inputs).unwrap();
        assert_close(
            &got[0],
            &want,
            0.0,
            0.0,
            &format!("cat {shapes:?} dim {dim}"),
        );
    }
}

#[test]
fn cat_integer_tensors_and_legacy_empty() {
    // A 1-D [0] input is skipped whatever its rank, as torch does.
    let (sa, sb) = ([2usize, 3], [2usize, 4]);
    let (xa, xb) = (ints(6), ints(8).iter().map(|v| v + 3).collect::<Vec<_>>());
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &sa);
    let e = input(&mut g, DType::Int32, &[0]);
    let b = input(&mut g, DType::Int32, &sb);
    let list = g.value_list(&[a, e, b]);
    let dv = g.int(1);
    let out = g.tensor(DType::Int32, &[2, 7]);
    g.op("aten.cat.default", &[list, dv, out]);
    g.output(out);
    let got = run(
        &g,
        vec![i32_host(&sa, &xa), i32_host(&[0], &[]), i32_host(&sb, &xb)],
    );
    let (want, _) = cat_ref(&[(xa, sa.to_vec()), (xb, sb.to_vec())], 1);
    assert_eq!(got[0].data, i32_host(&[2, 7], &want).data);
}

/// The build error of `cat(inputs of sizes parts, dim) -> out`.
fn cat_err(parts: &[&[usize]], dim: i64, out: &[usize]) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let ins: Vec<_> = parts.iter().map(|p| g.input(p)).collect();
    let list = g.value_list(&ins);
    let dv = g.int(dim);
    let out = g.f32(out);
    g.op("aten.cat.default", &[list, dv, out]);
    g.output(out);
    build_err(&g)
}

#[test]
fn cat_rejects_bad_inputs() {
    // Sizes differ outside the cat dim.
    let err = cat_err(&[&[2, 3], &[3, 3]], 1, &[2, 6]);
    assert_eq!(err.kind, ErrorKind::InvalidProgram);
    assert!(err.message.contains("differ"), "{}", err.message);
    // dim out of range.
    assert_eq!(
        cat_err(&[&[2, 3], &[2, 3]], 2, &[2, 6]).kind,
        ErrorKind::InvalidProgram
    );
    // Wrong output sizes.
    assert_eq!(
        cat_err(&[&[2, 3], &[2, 3]], 0, &[2, 6]).kind,
        ErrorKind::InvalidProgram
    );

    // Not a tensor list.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let dv = g.int(0);
    let out = g.f32(&[2, 3]);
    g.op("aten.cat.default", &[a, dv, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- generic reference

/// Row-major coordinates of flat index `i` in `sizes`.
fn coords(mut i: usize, sizes: &[usize]) -> Vec<usize> {
    let mut c = vec![0; sizes.len()];
    for d in (0..sizes.len()).rev() {
        c[d] = i % sizes[d];
        i /= sizes[d];
    }
    c
}

/// Flat offset of coordinates `c` in a contiguous tensor of `sizes`.
fn flat(c: &[usize], sizes: &[usize]) -> usize {
    c.iter().zip(strides(sizes)).map(|(a, s)| a * s).sum()
}

/// Reference gather: each output element is the input at `map(out coords)` (input coords),
/// or `fill` when `map` gives None.
fn gather_ref<T: Copy>(
    x: &[T],
    in_sizes: &[usize],
    out_sizes: &[usize],
    fill: T,
    map: impl Fn(&[usize]) -> Option<Vec<usize>>,
) -> Vec<T> {
    let n: usize = out_sizes.iter().product();
    (0..n)
        .map(|i| match map(&coords(i, out_sizes)) {
            Some(c) => x[flat(&c, in_sizes)],
            None => fill,
        })
        .collect()
}

/// Runs a single-op float graph: `args` built by `f` from the input id, output `out_sizes`.
fn run_f32_op(
    name: &str,
    in_sizes: &[usize],
    x: &[f32],
    out_sizes: &[usize],
    f: impl FnOnce(&mut GraphBuilder) -> Vec<usize>,
) -> Vec<f32> {
    let mut g = GraphBuilder::new();
    let a = g.input(in_sizes);
    let mut args = vec![a];
    args.extend(f(&mut g));
    let out = g.f32(out_sizes);
    args.push(out);
    g.op(name, &args);
    g.output(out);
    g.run(&[(in_sizes, x)]).unwrap().remove(0)
}

/// Builds a single-op float graph and returns its build error.
fn op_err(
    name: &str,
    in_sizes: &[usize],
    out_sizes: &[usize],
    f: impl FnOnce(&mut GraphBuilder) -> Vec<usize>,
) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let a = g.input(in_sizes);
    let mut args = vec![a];
    args.extend(f(&mut g));
    let out = g.f32(out_sizes);
    args.push(out);
    g.op(name, &args);
    g.output(out);
    build_err(&g)
}

fn norm(d: i64, rank: usize) -> usize {
    if d < 0 {
        (d + rank as i64) as usize
    } else {
        d as usize
    }
}

// ---------------------------------------------------------------- squeeze / unsqueeze / alias

#[test]
fn squeeze_copy_dims_drops_size_one_dims() {
    let cases: &[(&[usize], &[i64], &[usize])] = &[
        (&[1, 3, 1, 5], &[0, 2], &[3, 5]),
        (&[2, 1, 3, 1], &[-1], &[2, 1, 3]),
        // A listed dim that is not of size 1 stays.
        (&[2, 1, 3], &[0, 1], &[2, 3]),
        (&[4, 5], &[], &[4, 5]),
        (&[1], &[0], &[]),
        (&[], &[0], &[]),
    ];
    for (k, &(from, dims, to)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 40).vec(from.iter().product());
        let got = run_f32_op("aten.squeeze_copy.dims", from, &x, to, |g| {
            vec![g.int_list(dims)]
        });
        assert_close(&got, &x, 0.0, 0.0, &format!("squeeze {from:?} {dims:?}"));
    }
    let err = op_err("aten.squeeze_copy.dims", &[1, 3], &[3], |g| {
        vec![g.int_list(&[0, -2])]
    });
    assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    let err = op_err("aten.squeeze_copy.dims", &[1, 3], &[3], |g| {
        vec![g.int_list(&[2])]
    });
    assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
}

#[test]
fn unsqueeze_copy_inserts_a_dim() {
    let cases: &[(&[usize], i64, &[usize])] = &[
        (&[3, 5], 0, &[1, 3, 5]),
        (&[3, 5], 2, &[3, 5, 1]),
        (&[3, 5], -1, &[3, 5, 1]),
        (&[3, 5], -3, &[1, 3, 5]),
        (&[2, 3, 4], 1, &[2, 1, 3, 4]),
        (&[], 0, &[1]),
    ];
    for (k, &(from, dim, to)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 50).vec(from.iter().product());
        let got = run_f32_op("aten.unsqueeze_copy.default", from, &x, to, |g| {
            vec![g.int(dim)]
        });
        assert_close(&got, &x, 0.0, 0.0, &format!("unsqueeze {from:?} {dim}"));
    }
    for dim in [3, -4] {
        let err = op_err("aten.unsqueeze_copy.default", &[3, 5], &[3, 5, 1], |g| {
            vec![g.int(dim)]
        });
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
}

#[test]
fn alias_and_clone_dim_order_copy() {
    let x = Rng::new(60).vec(30);
    let got = run_f32_op("aten.alias_copy.default", &[5, 6], &x, &[5, 6], |_| vec![]);
    assert_close(&got, &x, 0.0, 0.0, "alias_copy");
    for order in [None, Some(&[0i64, 1][..])] {
        let got = run_f32_op(
            "dim_order_ops._clone_dim_order.default",
            &[5, 6],
            &x,
            &[5, 6],
            |g| {
                let nb = g.bool(false);
                let o = match order {
                    Some(o) => g.int_list(o),
                    None => g.null(),
                };
                vec![nb, o]
            },
        );
        assert_close(&got, &x, 0.0, 0.0, "_clone_dim_order");
    }
    let err = op_err(
        "dim_order_ops._clone_dim_order.default",
        &[2, 3, 4, 5],
        &[2, 3, 4, 5],
        |g| vec![g.bool(false), g.int_list(&[0, 2, 3, 1])],
    );
    assert_eq!(err.kind, ErrorKind::NotSupported, "{}", err.message);
    // Integer alias.
    let xi = ints(12);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[3, 4]);
    let out = g.tensor(DType::Int32, &[3, 4]);
    g.op("aten.alias_copy.default", &[a, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[3, 4], &xi)]);
    assert_eq!(got[0].data, i32_host(&[3, 4], &xi).data);
}

// ---------------------------------------------------------------- t / permute

#[test]
fn t_copy_transposes() {
    for (k, sizes) in [&[3usize, 5][..], &[1, 4], &[7], &[]].iter().enumerate() {
        let x = Rng::new(k as u64 + 70).vec(sizes.iter().product());
        let mut out_sizes = sizes.to_vec();
        out_sizes.reverse();
        let want = gather_ref(&x, sizes, &out_sizes, 0.0, |c| {
            Some(c.iter().rev().copied().collect())
        });
        let got = run_f32_op("aten.t_copy.default", sizes, &x, &out_sizes, |_| vec![]);
        assert_close(&got, &want, 0.0, 0.0, &format!("t {sizes:?}"));
    }
    let err = op_err("aten.t_copy.default", &[2, 3, 4], &[4, 3, 2], |_| vec![]);
    assert_eq!(err.kind, ErrorKind::InvalidProgram);
}

#[test]
fn permute_default_is_registered() {
    let sizes = [2usize, 3, 4];
    let x = Rng::new(71).vec(24);
    let (want, out_sizes) = permute_ref(&x, &sizes, &[2, 0, 1]);
    let got = run_f32_op("aten.permute.default", &sizes, &x, &out_sizes, |g| {
        vec![g.int_list(&[2, 0, 1])]
    });
    assert_close(&got, &want, 0.0, 0.0, "permute.default");
}

// ---------------------------------------------------------------- expand / repeat

#[test]
fn expand_copy_broadcasts() {
    let cases: &[(&[usize], &[i64], &[usize])] = &[
        (&[3, 1], &[3, 4], &[3, 4]),
        (&[3, 1], &[2, 3, 5], &[2, 3, 5]),
        (&[1, 4], &[6, -1, -1], &[6, 1, 4]),
        (&[2, 1, 3], &[2, 5, 3], &[2, 5, 3]),
        (&[], &[2, 3], &[2, 3]),
        (&[5], &[1, 5], &[1, 5]),
        (&[1, 1], &[3, 0, 2], &[3, 0, 2]),
    ];
    for (k, &(from, size, to)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 80).vec(from.iter().product());
        let lead = to.len() - from.len();
        let want = gather_ref(&x, from, to, 0.0, |c| {
            Some(
                from.iter()
                    .enumerate()
                    .map(|(i, &n)| if n == 1 { 0 } else { c[i + lead] })
                    .collect(),
            )
        });
        let got = run_f32_op("aten.expand_copy.default", from, &x, to, |g| {
            vec![g.int_list(size), g.bool(false)]
        });
        assert_close(&got, &want, 0.0, 0.0, &format!("expand {from:?} {size:?}"));
    }
    for (from, size, to) in [
        (&[3usize, 2][..], &[3i64, 4][..], &[3usize, 4][..]),
        (&[3, 2], &[2], &[2]),
        (&[3], &[-1, 3], &[3, 3]),
    ] {
        let err = op_err("aten.expand_copy.default", from, to, |g| {
            vec![g.int_list(size), g.bool(false)]
        });
        assert_eq!(
            err.kind,
            ErrorKind::InvalidProgram,
            "{size:?}: {}",
            err.message
        );
    }
}

#[test]
fn repeat_tiles() {
    let cases: &[(&[usize], &[i64])] = &[
        (&[3], &[2]),
        (&[2, 3], &[2, 1]),
        (&[2, 3], &[3, 2, 2]),
        (&[1, 2, 3], &[2, 1, 1]),
        (&[2, 3], &[1, 0]),
        (&[], &[4]),
    ];
    for (k, &(from, reps)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 90).vec(from.iter().product());
        let lead = reps.len() - from.len();
        let to: Vec<usize> = reps
            .iter()
            .enumerate()
            .map(|(i, &r)| r as usize * if i < lead { 1 } else { from[i - lead] })
            .collect();
        let want = gather_ref(&x, from, &to, 0.0, |c| {
            Some(
                from.iter()
                    .enumerate()
                    .map(|(i, &n)| c[i + lead] % n)
                    .collect(),
            )
        });
        let got = run_f32_op("aten.repeat.default", from, &x, &to, |g| {
            vec![g.int_list(reps)]
        });
        assert_close(&got, &want, 0.0, 0.0, &format!("repeat {from:?} {reps:?}"));
    }
    // Integers.
    let xi = ints(6);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[2, 3]);
    let r = g.int_list(&[2, 2]);
    let out = g.tensor(DType::Int32, &[4, 6]);
    g.op("aten.repeat.default", &[a, r, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[2, 3], &xi)]);
    let want = gather_ref(&xi, &[2, 3], &[4, 6], 0, |c| Some(vec![c[0] % 2, c[1] % 3]));
    assert_eq!(got[0].data, i32_host(&[4, 6], &want).data);
    let err = op_err("aten.repeat.default", &[2, 3], &[6], |g| {
        vec![g.int_list(&[3])]
    });
    assert_eq!(err.kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- select / slice / split

#[test]
fn select_copy_picks_an_entry() {
    let cases: &[(&[usize], i64, i64)] = &[
        (&[4, 5], 0, 2),
        (&[4, 5], 1, -1),
        (&[2, 3, 4], -2, 0),
        (&[2, 3, 4], 2, 3),
        (&[6], 0, -6),
    ];
    for (k, &(from, dim, index)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 100).vec(from.iter().product());
        let d = norm(dim, from.len());
        let i = if index < 0 {
            (index + from[d] as i64) as usize
        } else {
            index as usize
        };
        let mut to = from.to_vec();
        to.remove(d);
        let want = gather_ref(&x, from, &to, 0.0, |c| {
            let mut c = c.to_vec();
            c.insert(d, i);
            Some(c)
        });
        let got = run_f32_op("aten.select_copy.int", from, &x, &to, |g| {
            vec![g.int(dim), g.int(index)]
        });
        assert_close(
            &got,
            &want,
            0.0,
            0.0,
            &format!("select {from:?} {dim} {index}"),
        );
    }
    for (dim, index) in [(0, 4), (0, -5), (2, 0)] {
        let err = op_err("aten.select_copy.int", &[4, 5], &[5], |g| {
            vec![g.int(dim), g.int(index)]
        });
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
}

/// Python slice bounds for a dim of size `n`: (start, len).
fn py_slice(n: usize, start: Option<i64>, end: Option<i64>, step: i64) -> (usize, usize) {
    let n = n as i64;
    let c = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n);
    let s = c(start.unwrap_or(0));
    let e = c(end.unwrap_or(n)).max(s);
    (s as usize, ((e - s + step - 1) / step) as usize)
}

#[test]
fn slice_copy_python_semantics() {
    type Case<'a> = (&'a [usize], i64, Option<i64>, Option<i64>, i64);
    let cases: &[Case] = &[
        (&[10], 0, Some(2), Some(7), 1),
        (&[10], 0, None, None, 3),
        (&[10], 0, Some(-3), None, 1),
        (&[10], 0, Some(1), Some(i64::MAX), 2),
        (&[10], 0, Some(-100), Some(-2), 4),
        (&[10], 0, Some(8), Some(3), 1),
        (&[4, 9], 1, Some(1), Some(-1), 2),
        (&[4, 9], -2, Some(1), None, 1),
        (&[2, 5, 3], 1, None, Some(4), 3),
        (&[2, 5, 3], -1, Some(-2), Some(100), 1),
    ];
    for (k, &(from, dim, start, end, step)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 110).vec(from.iter().product());
        let d = norm(dim, from.len());
        let (s, len) = py_slice(from[d], start, end, step);
        let mut to = from.to_vec();
        to[d] = len;
        let want = gather_ref(&x, from, &to, 0.0, |c| {
            let mut c = c.to_vec();
            c[d] = s + c[d] * step as usize;
            Some(c)
        });
        let got = run_f32_op("aten.slice_copy.Tensor", from, &x, &to, |g| {
            let dv = g.int(dim);
            let sv = match start {
                Some(v) => g.int(v),
                None => g.null(),
            };
            let ev = match end {
                Some(v) => g.int(v),
                None => g.null(),
            };
            vec![dv, sv, ev, g.int(step)]
        });
        assert_close(
            &got,
            &want,
            0.0,
            0.0,
            &format!("slice {from:?} {dim} {start:?}:{end:?}:{step}"),
        );
    }
    for step in [0, -1] {
        let err = op_err("aten.slice_copy.Tensor", &[10], &[10], |g| {
            vec![g.int(0), g.null(), g.null(), g.int(step)]
        });
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
    // Integer tensor.
    let xi = ints(20);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[4, 5]);
    let (dv, sv, ev, st) = (g.int(1), g.int(1), g.null(), g.int(2));
    let out = g.tensor(DType::Int32, &[4, 2]);
    g.op("aten.slice_copy.Tensor", &[a, dv, sv, ev, st, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[4, 5], &xi)]);
    let want = gather_ref(&xi, &[4, 5], &[4, 2], 0, |c| Some(vec![c[0], 1 + 2 * c[1]]));
    assert_eq!(got[0].data, i32_host(&[4, 2], &want).data);
}

#[test]
fn split_with_sizes_copy_outputs_a_list() {
    let cases: &[(&[usize], &[i64], i64)] = &[
        (&[5, 4], &[2, 3], 0),
        (&[2, 7], &[3, 1, 3], -1),
        (&[2, 6, 3], &[2, 0, 4], 1),
        (&[4], &[4], 0),
    ];
    for (k, &(from, splits, dim)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 120).vec(from.iter().product());
        let d = norm(dim, from.len());
        let mut g = GraphBuilder::new();
        let a = g.input(from);
        let sv = g.int_list(splits);
        let dv = g.int(dim);
        let mut outs = Vec::new();
        let mut wants = Vec::new();
        let mut start = 0;
        for &len in splits {
            let mut to = from.to_vec();
            to[d] = len as usize;
            outs.push(g.f32(&to));
            wants.push(gather_ref(&x, from, &to, 0.0, |c| {
                let mut c = c.to_vec();
                c[d] += start;
                Some(c)
            }));
            start += len as usize;
        }
        let list = g.value_list(&outs);
        g.op("aten.split_with_sizes_copy.default", &[a, sv, dv, list]);
        for &o in &outs {
            g.output(o);
        }
        let got = g.run(&[(from, &x)]).unwrap();
        for (i, (gv, w)) in got.iter().zip(&wants).enumerate() {
            assert_close(gv, w, 0.0, 0.0, &format!("split {from:?} {splits:?} #{i}"));
        }
    }
    // Sizes that do not sum to the dim.
    let mut g = GraphBuilder::new();
    let a = g.input(&[5, 4]);
    let sv = g.int_list(&[2, 2]);
    let dv = g.int(0);
    let (o1, o2) = (g.f32(&[2, 4]), g.f32(&[2, 4]));
    let list = g.value_list(&[o1, o2]);
    g.op("aten.split_with_sizes_copy.default", &[a, sv, dv, list]);
    g.output(o1);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- flip / pad / unfold

#[test]
fn flip_reverses_dims() {
    let cases: &[(&[usize], &[i64])] = &[
        (&[7], &[0]),
        (&[3, 4], &[1]),
        (&[3, 4], &[0, 1]),
        (&[2, 3, 4], &[-1, 0]),
        (&[2, 3, 4, 5], &[1, 3]),
        (&[3, 4], &[]),
    ];
    for (k, &(sizes, dims)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 130).vec(sizes.iter().product());
        let flipped: Vec<usize> = dims.iter().map(|&d| norm(d, sizes.len())).collect();
        let want = gather_ref(&x, sizes, sizes, 0.0, |c| {
            Some(
                c.iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        if flipped.contains(&i) {
                            sizes[i] - 1 - v
                        } else {
                            v
                        }
                    })
                    .collect(),
            )
        });
        let got = run_f32_op("aten.flip.default", sizes, &x, sizes, |g| {
            vec![g.int_list(dims)]
        });
        assert_close(&got, &want, 0.0, 0.0, &format!("flip {sizes:?} {dims:?}"));
    }
    for dims in [&[0i64, -2][..], &[2]] {
        let err = op_err("aten.flip.default", &[3, 4], &[3, 4], |g| {
            vec![g.int_list(dims)]
        });
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
}

/// Output sizes and the reference of constant_pad_nd.
fn pad_ref<T: Copy>(x: &[T], sizes: &[usize], pad: &[i64], fill: T) -> (Vec<T>, Vec<usize>) {
    let r = sizes.len();
    let mut lo = vec![0i64; r];
    let mut to = sizes.to_vec();
    for (i, p) in pad.chunks(2).enumerate() {
        let d = r - 1 - i;
        lo[d] = p[0];
        to[d] = (sizes[d] as i64 + p[0] + p[1]) as usize;
    }
    let v = gather_ref(x, sizes, &to, fill, |c| {
        let mut out = Vec::with_capacity(r);
        for d in 0..r {
            let i = c[d] as i64 - lo[d];
            if i < 0 || i >= sizes[d] as i64 {
                return None;
            }
            out.push(i as usize);
        }
        Some(out)
    });
    (v, to)
}

#[test]
fn constant_pad_nd_pads_and_crops() {
    let cases: &[(&[usize], &[i64], f64)] = &[
        (&[5], &[2, 3], 0.0),
        (&[3, 4], &[1, 1], 1.5),
        (&[3, 4], &[1, 0, 2, 1], -2.0),
        (&[2, 3, 4], &[0, 0, 1, 1, 1, 0], 0.25),
        (&[2, 3, 6], &[-1, -2], 0.0),
        (&[2, 3, 6], &[-2, 1, 1, -1], 7.0),
        (&[1, 2, 3, 3], &[1, 1, 1, 1], 0.0),
    ];
    for (k, &(sizes, pad, value)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 140).vec(sizes.iter().product());
        let (want, to) = pad_ref(&x, sizes, pad, value as f32);
        let got = run_f32_op("aten.constant_pad_nd.default", sizes, &x, &to, |g| {
            vec![g.int_list(pad), g.double(value)]
        });
        assert_close(&got, &want, 0.0, 0.0, &format!("pad {sizes:?} {pad:?}"));
    }
    // Integer tensor with an int fill.
    let xi = ints(12);
    let (want, to) = pad_ref(&xi, &[3, 4], &[2, -1, 0, 1], -9);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[3, 4]);
    let (pv, vv) = (g.int_list(&[2, -1, 0, 1]), g.int(-9));
    let out = g.tensor(DType::Int32, &to);
    g.op("aten.constant_pad_nd.default", &[a, pv, vv, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[3, 4], &xi)]);
    assert_eq!(got[0].data, i32_host(&to, &want).data);
    // Odd pad length, too many pairs, negative size.
    for (pad, to) in [
        (&[1i64][..], &[3usize, 5][..]),
        (&[1, 1, 1, 1, 1, 1], &[5, 6]),
        (&[-3, -2], &[3, 0]),
    ] {
        let err = op_err("aten.constant_pad_nd.default", &[3, 4], to, |g| {
            vec![g.int_list(pad), g.int(0)]
        });
        assert_eq!(
            err.kind,
            ErrorKind::InvalidProgram,
            "{pad:?}: {}",
            err.message
        );
    }
}

#[test]
fn unfold_copy_windows() {
    let cases: &[(&[usize], i64, usize, usize)] = &[
        (&[7], 0, 3, 2),
        (&[7], 0, 7, 1),
        (&[2, 9], 1, 3, 3),
        (&[2, 9], -1, 4, 2),
        (&[5, 3], 0, 2, 1),
        (&[2, 6, 3], 1, 2, 4),
        (&[], 0, 1, 1),
    ];
    for (k, &(from, dim, size, step)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 150).vec(from.iter().product::<usize>().max(1));
        let (mut to, want) = if from.is_empty() {
            (vec![size], x.clone())
        } else {
            let d = norm(dim, from.len());
            let mut to = from.to_vec();
            to[d] = (from[d] - size) / step + 1;
            to.push(size);
            let want = gather_ref(&x, from, &to, 0.0, |c| {
                let mut i = c[..from.len()].to_vec();
                i[d] = c[d] * step + c[from.len()];
                Some(i)
            });
            (to, want)
        };
        let got = run_f32_op("aten.unfold_copy.default", from, &x, &to, |g| {
            vec![g.int(dim), g.int(size as i64), g.int(step as i64)]
        });
        to.clear();
        assert_close(
            &got,
            &want,
            0.0,
            0.0,
            &format!("unfold {from:?} {dim} {size} {step}"),
        );
    }
    for (size, step) in [(8, 1), (2, 0)] {
        let err = op_err("aten.unfold_copy.default", &[7], &[1, 7], |g| {
            vec![g.int(0), g.int(size), g.int(step)]
        });
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{}", err.message);
    }
}

// ---------------------------------------------------------------- copy / _to_copy

#[test]
fn copy_broadcasts_and_converts_src() {
    // Float src broadcast into a float self.
    let cases: &[(&[usize], &[usize])] =
        &[(&[2, 3], &[3]), (&[2, 3], &[2, 3]), (&[4, 2, 3], &[2, 1])];
    for (k, &(dst, src)) in cases.iter().enumerate() {
        let d = Rng::new(k as u64 + 160).vec(dst.iter().product());
        let s = Rng::new(k as u64 + 161).vec(src.iter().product());
        let mut g = GraphBuilder::new();
        let a = g.input(dst);
        let b = g.input(src);
        let nb = g.bool(false);
        let out = g.f32(dst);
        g.op("aten.copy.default", &[a, b, nb, out]);
        g.output(out);
        let got = g.run(&[(dst, &d), (src, &s)]).unwrap().remove(0);
        let lead = dst.len() - src.len();
        let want = gather_ref(&s, src, dst, 0.0, |c| {
            Some(
                src.iter()
                    .enumerate()
                    .map(|(i, &n)| if n == 1 { 0 } else { c[i + lead] })
                    .collect(),
            )
        });
        assert_close(&got, &want, 0.0, 0.0, &format!("copy {src:?} -> {dst:?}"));
    }
    // Integer src into a float self: converted.
    let xi = ints(4);
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 4]);
    let b = input(&mut g, DType::Int32, &[4]);
    let nb = g.bool(false);
    let out = g.f32(&[3, 4]);
    g.op("aten.copy.default", &[a, b, nb, out]);
    g.output(out);
    let got = run(&g, vec![f32_host(&[3, 4], &[0.0; 12]), i32_host(&[4], &xi)]);
    let want: Vec<f32> = (0..12).map(|i| xi[i % 4] as f32).collect();
    assert_close(&got[0].to_f32_vec(), &want, 0.0, 0.0, "copy i32 -> f32");
    // src that does not broadcast.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let b = g.input(&[2]);
    let nb = g.bool(false);
    let out = g.f32(&[2, 3]);
    g.op("aten.copy.default", &[a, b, nb, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

/// `_to_copy(x)` from `from` to `to`, every option None.
fn to_copy_graph(from: DType, to: DType, sizes: &[usize]) -> GraphBuilder {
    let mut g = GraphBuilder::new();
    let a = input(&mut g, from, sizes);
    let (dtype, layout, device, pin) = (g.null(), g.null(), g.null(), g.null());
    let nb = g.bool(false);
    let mf = g.null();
    let out = g.tensor(to, sizes);
    g.op(
        "aten._to_copy.default",
        &[a, dtype, layout, device, pin, nb, mf, out],
    );
    g.output(out);
    g
}

#[test]
fn to_copy_casts() {
    let x: Vec<f32> = vec![-2.7, -0.5, 0.0, 0.4, 1.0, 2.5, 130.9, -129.2];
    let cases: &[(DType, FromF32)] = &[
        (DType::Float32, |v| v),
        (DType::Int32, |v| v.trunc()),
        (DType::Int64, |v| v.trunc()),
        (DType::Int8, |v| v.trunc() as i64 as i8 as f32),
        (DType::Uint8, |v| v.trunc() as i64 as u8 as f32),
        (DType::Bool, |v| (v != 0.0) as i32 as f32),
    ];
    for &(to, f) in cases {
        let g = to_copy_graph(DType::Float32, to, &[2, 4]);
        let got = run(&g, vec![f32_host(&[2, 4], &x)]);
        let want: Vec<f32> = x.iter().map(|&v| f(v)).collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("f32 -> {to:?}"),
        );
    }
    let xi = ints(8);
    let g = to_copy_graph(DType::Int32, DType::Float32, &[8]);
    let got = run(&g, vec![i32_host(&[8], &xi)]);
    let want: Vec<f32> = xi.iter().map(|&v| v as f32).collect();
    assert_close(&got[0].to_f32_vec(), &want, 0.0, 0.0, "i32 -> f32");
    // Shape change is invalid.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let nulls: Vec<usize> = (0..4).map(|_| g.null()).collect();
    let nb = g.bool(false);
    let mf = g.null();
    let out = g.f32(&[2, 2]);
    g.op(
        "aten._to_copy.default",
        &[a, nulls[0], nulls[1], nulls[2], nulls[3], nb, mf, out],
    );
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- whole-texel gathers

/// Gathers whose innermost dim is a contiguous run of groups of 4 move whole uvec4s
/// (`shape_gather.comp` OP 4): permutes that keep the last dim, flips, repeats, pads, slices,
/// selects and expands of outer dims, each against its CPU reference.
#[test]
fn gathers_of_whole_texels() {
    // permute keeping the innermost dim (and one moving it, the word path, for contrast).
    for (k, &(sizes, dims)) in [
        (&[3usize, 5, 8][..], &[1i64, 0, 2][..]),
        (&[2, 3, 4, 8], &[2, 0, 1, 3]),
        (&[128, 6, 64], &[1, 0, 2]),
        (&[6, 128, 64], &[1, 0, 2]),
        (&[2, 4, 8], &[0, 2, 1]),
    ]
    .iter()
    .enumerate()
    {
        let x = Rng::new(k as u64 + 300).vec(sizes.iter().product());
        let norm: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let (want, to) = permute_ref(&x, sizes, &norm);
        let got = run_f32_op("aten.permute_copy.default", sizes, &x, &to, |g| {
            vec![g.int_list(dims)]
        });
        assert_close(
            &got,
            &want,
            0.0,
            0.0,
            &format!("permute {sizes:?} {dims:?}"),
        );
    }
    // flip of an outer dim (a negative stride).
    let sizes = [3usize, 4, 8];
    let x = Rng::new(310).vec(96);
    let want = gather_ref(&x, &sizes, &sizes, 0.0, |c| {
        Some(vec![2 - c[0], c[1], c[2]])
    });
    let got = run_f32_op("aten.flip.default", &sizes, &x, &sizes, |g| {
        vec![g.int_list(&[0])]
    });
    assert_close(&got, &want, 0.0, 0.0, "flip [3, 4, 8] dim 0");
    // repeat of outer dims (a modulus).
    let to = [4usize, 3, 8];
    let x = Rng::new(311).vec(16);
    let want = gather_ref(&x, &[2, 1, 8], &to, 0.0, |c| Some(vec![c[0] % 2, 0, c[2]]));
    let got = run_f32_op("aten.repeat.default", &[2, 1, 8], &x, &to, |g| {
        vec![g.int_list(&[2, 3, 1])]
    });
    assert_close(&got, &want, 0.0, 0.0, "repeat [2, 1, 8] by [2, 3, 1]");
    // constant_pad_nd of the outer dims (a border, filled with whole texels).
    let x = Rng::new(312).vec(48);
    let (want, to) = pad_ref(&x, &[2, 3, 8], &[0, 0, 2, 1, 1, 0], -1.5f32);
    let got = run_f32_op("aten.constant_pad_nd.default", &[2, 3, 8], &x, &to, |g| {
        vec![g.int_list(&[0, 0, 2, 1, 1, 0]), g.double(-1.5)]
    });
    assert_close(&got, &want, 0.0, 0.0, "pad [2, 3, 8] outer dims");
    // select and a strided slice of outer dims (a base offset, strides of whole rows).
    let x = Rng::new(313).vec(5 * 3 * 12);
    let want = gather_ref(&x, &[5, 3, 12], &[5, 12], 0.0, |c| {
        Some(vec![c[0], 2, c[1]])
    });
    let got = run_f32_op("aten.select_copy.int", &[5, 3, 12], &x, &[5, 12], |g| {
        vec![g.int(1), g.int(2)]
    });
    assert_close(&got, &want, 0.0, 0.0, "select [5, 3, 12] dim 1 index 2");
    let want = gather_ref(&x, &[5, 3, 12], &[2, 3, 12], 0.0, |c| {
        Some(vec![1 + 2 * c[0], c[1], c[2]])
    });
    let got = run_f32_op(
        "aten.slice_copy.Tensor",
        &[5, 3, 12],
        &x,
        &[2, 3, 12],
        |g| vec![g.int(0), g.int(1), g.int(5), g.int(2)],
    );
    assert_close(&got, &want, 0.0, 0.0, "slice [5, 3, 12] dim 0 1:5:2");
    // expand of an outer dim (a zero stride).
    let x = Rng::new(314).vec(3 * 8);
    let want = gather_ref(&x, &[1, 3, 8], &[4, 3, 8], 0.0, |c| {
        Some(vec![0, c[1], c[2]])
    });
    let got = run_f32_op(
        "aten.expand_copy.default",
        &[1, 3, 8],
        &x,
        &[4, 3, 8],
        |g| vec![g.int_list(&[4, 3, 8]), g.bool(false)],
    );
    assert_close(&got, &want, 0.0, 0.0, "expand [1, 3, 8] to [4, 3, 8]");
    // Integers move as words too.
    let xi = ints(2 * 3 * 4);
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[2, 3, 4]);
    let d = g.int_list(&[1, 0, 2]);
    let out = g.tensor(DType::Int32, &[3, 2, 4]);
    g.op("aten.permute_copy.default", &[a, d, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[2, 3, 4], &xi)]);
    let (want, _) = permute_ref(&xi, &[2, 3, 4], &[1, 0, 2]);
    assert_eq!(got[0].data, i32_host(&[3, 2, 4], &want).data);
}
