//! view_copy, permute_copy, clone, _to_dim_order_copy, cat and et_vk.prepack against CPU
//! references, for float and integer tensors.
mod common;
use common::*;

use etvk::format::DType;
use etvk::runtime::{HostTensor, InputValue};
use etvk::ErrorKind;

fn i32_host(sizes: &[usize], v: &[i32]) -> HostTensor {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    HostTensor::new(DType::Int32, sizes.to_vec(), data).unwrap()
}

fn f32_host(sizes: &[usize], v: &[f32]) -> HostTensor {
    HostTensor::from_f32(sizes.to_vec(), v).unwrap()
}

/// A graph input of any dtype.
fn input(g: &mut GraphBuilder, dtype: DType, dims: &[usize]) -> usize {
    let id = g.tensor(dtype, dims);
    g.graph.input_ids.push(id);
    id
}

fn run(g: &GraphBuilder, inputs: Vec<HostTensor>) -> Vec<HostTensor> {
    let mut d = g.build().unwrap();
    let inputs: Vec<InputValue> = inputs.into_iter().map(InputValue::Tensor).collect();
    d.run(&inputs).unwrap()
}

fn build_err(g: &GraphBuilder) -> etvk::Error {
    g.build().err().expect("must fail")
}

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

/// CPU permute of a contiguous tensor.
fn permute_ref<T: Copy>(x: &[T], sizes: &[usize], dims: &[usize]) -> (Vec<T>, Vec<usize>) {
    let out_sizes: Vec<usize> = dims.iter().map(|&d| sizes[d]).collect();
    let (si, so) = (strides(sizes), strides(&out_sizes));
    let n: usize = out_sizes.iter().product();
    let v = (0..n)
        .map(|i| {
            let src: usize = (0..dims.len())
                .map(|k| (i / so[k]) % out_sizes[k] * si[dims[k]])
                .sum();
            x[src]
        })
        .collect();
    (v, out_sizes)
}

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

#[test]
fn cat_rejects_bad_inputs() {
    // Sizes differ outside the cat dim.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let b = g.input(&[3, 3]);
    let list = g.value_list(&[a, b]);
    let dv = g.int(1);
    let out = g.f32(&[2, 6]);
    g.op("aten.cat.default", &[list, dv, out]);
    g.output(out);
    let err = build_err(&g);
    assert_eq!(err.kind, ErrorKind::InvalidProgram);
    assert!(err.message.contains("differ"), "{}", err.message);

    // dim out of range.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let b = g.input(&[2, 3]);
    let list = g.value_list(&[a, b]);
    let dv = g.int(2);
    let out = g.f32(&[2, 6]);
    g.op("aten.cat.default", &[list, dv, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);

    // Wrong output sizes.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let b = g.input(&[2, 3]);
    let list = g.value_list(&[a, b]);
    let dv = g.int(0);
    let out = g.f32(&[2, 6]);
    g.op("aten.cat.default", &[list, dv, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);

    // Not a tensor list.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 3]);
    let dv = g.int(0);
    let out = g.f32(&[2, 3]);
    g.op("aten.cat.default", &[a, dv, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}
