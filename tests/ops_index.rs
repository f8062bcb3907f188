//! Indexing ops (embedding, index_select, gather, index.Tensor) against CPU references, with
//! int32 and int64 indices, negative indices, float and integer data, and invalid arguments.
mod common;
use common::*;

use etvk::format::DType;
use etvk::runtime::HostTensor;
use etvk::ErrorKind;

/// An index tensor host value of `dtype` (Int32 or Int64).
fn idx_host(dtype: DType, sizes: &[usize], v: &[i64]) -> HostTensor {
    match dtype {
        DType::Int64 => i64_host(sizes, v),
        _ => i32_host(sizes, &v.iter().map(|&x| x as i32).collect::<Vec<_>>()),
    }
}

fn coords(mut i: usize, sizes: &[usize]) -> Vec<usize> {
    let mut c = vec![0; sizes.len()];
    for d in (0..sizes.len()).rev() {
        c[d] = i % sizes[d];
        i /= sizes[d];
    }
    c
}

fn flat(c: &[usize], sizes: &[usize]) -> usize {
    c.iter().zip(strides(sizes)).map(|(a, s)| a * s).sum()
}

/// Indices in [-n, n) from a seed.
fn rand_indices(count: usize, n: usize, seed: u64) -> Vec<i64> {
    let mut r = Rng::new(seed);
    (0..count)
        .map(|_| (r.next_u64() % (2 * n as u64)) as i64 - n as i64)
        .collect()
}

fn wrap(v: i64, n: usize) -> usize {
    if v < 0 {
        (v + n as i64) as usize
    } else {
        v as usize
    }
}

// ---------------------------------------------------------------- embedding

#[test]
fn embedding_picks_rows() {
    let cases: &[(usize, usize, &[usize], DType)] = &[
        (10, 4, &[5], DType::Int64),
        (7, 3, &[2, 3], DType::Int32),
        (5, 1, &[], DType::Int64),
        (16, 9, &[2, 1, 4], DType::Int64),
    ];
    for (k, &(rows, dim, isz, idt)) in cases.iter().enumerate() {
        let w = Rng::new(k as u64 + 1).vec(rows * dim);
        let n: usize = isz.iter().product();
        let idx: Vec<i64> = rand_indices(n, rows, k as u64 + 5)
            .iter()
            .map(|&v| wrap(v, rows) as i64)
            .collect();
        let mut g = GraphBuilder::new();
        let wt = g.constant(&[rows, dim], &w);
        let ix = input(&mut g, idt, isz);
        let (pad, sg, sp) = (g.int(-1), g.bool(false), g.bool(false));
        let mut osz = isz.to_vec();
        osz.push(dim);
        let out = g.f32(&osz);
        g.op("aten.embedding.default", &[wt, ix, pad, sg, sp, out]);
        g.output(out);
        let got = run(&g, vec![idx_host(idt, isz, &idx)]);
        let want: Vec<f32> = idx
            .iter()
            .flat_map(|&i| w[i as usize * dim..(i as usize + 1) * dim].to_vec())
            .collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("embedding {isz:?}"),
        );
    }
}

#[test]
fn embedding_rejects_bad_arguments() {
    // Float indices.
    let mut g = GraphBuilder::new();
    let wt = g.constant(&[4, 2], &[0.0; 8]);
    let ix = g.input(&[3]);
    let (pad, sg, sp) = (g.int(-1), g.bool(false), g.bool(false));
    let out = g.f32(&[3, 2]);
    g.op("aten.embedding.default", &[wt, ix, pad, sg, sp, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    // 1-D weight.
    let mut g = GraphBuilder::new();
    let wt = g.constant(&[4], &[0.0; 4]);
    let ix = input(&mut g, DType::Int64, &[3]);
    let (pad, sg, sp) = (g.int(-1), g.bool(false), g.bool(false));
    let out = g.f32(&[3, 4]);
    g.op("aten.embedding.default", &[wt, ix, pad, sg, sp, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
}

// ---------------------------------------------------------------- index_select

#[test]
fn index_select_matches_reference() {
    let cases: &[(&[usize], i64, usize, DType)] = &[
        (&[6], 0, 4, DType::Int64),
        (&[5, 7], 0, 3, DType::Int64),
        (&[5, 7], 1, 9, DType::Int32),
        (&[2, 3, 4], -1, 2, DType::Int64),
        (&[2, 3, 4], 1, 1, DType::Int32),
        (&[2, 3, 4, 3], 2, 5, DType::Int64),
    ];
    for (k, &(sizes, dim, count, idt)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 10).vec(sizes.iter().product());
        let d = wrap(dim, sizes.len());
        let idx = rand_indices(count, sizes[d], k as u64 + 20);
        let mut osz = sizes.to_vec();
        osz[d] = count;
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let dv = g.int(dim);
        let ix = input(&mut g, idt, &[count]);
        let out = g.f32(&osz);
        g.op("aten.index_select.default", &[a, dv, ix, out]);
        g.output(out);
        let got = run(&g, vec![f32_host(sizes, &x), idx_host(idt, &[count], &idx)]);
        let n: usize = osz.iter().product();
        let want: Vec<f32> = (0..n)
            .map(|i| {
                let mut c = coords(i, &osz);
                c[d] = wrap(idx[c[d]], sizes[d]);
                x[flat(&c, sizes)]
            })
            .collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("index_select {sizes:?} {dim}"),
        );
    }
}

#[test]
fn index_select_integer_data_and_errors() {
    let x: Vec<i32> = (0..12).map(|v| v * 7 - 30).collect();
    let mut g = GraphBuilder::new();
    let a = input(&mut g, DType::Int32, &[3, 4]);
    let dv = g.int(1);
    let ix = input(&mut g, DType::Int64, &[3]);
    let out = g.tensor(DType::Int32, &[3, 3]);
    g.op("aten.index_select.default", &[a, dv, ix, out]);
    g.output(out);
    let got = run(&g, vec![i32_host(&[3, 4], &x), i64_host(&[3], &[3, 0, -1])]);
    let want: Vec<i32> = (0..3)
        .flat_map(|r| [x[r * 4 + 3], x[r * 4], x[r * 4 + 3]])
        .collect();
    assert_eq!(got[0].data, i32_host(&[3, 3], &want).data);

    // 2-D index, dim out of range, bool mask.
    for (isz, dim, dt, kind) in [
        (
            &[2usize, 2][..],
            0i64,
            DType::Int64,
            ErrorKind::InvalidProgram,
        ),
        (&[2], 2, DType::Int64, ErrorKind::InvalidProgram),
        (&[2], 0, DType::Bool, ErrorKind::NotSupported),
    ] {
        let mut g = GraphBuilder::new();
        let a = g.input(&[3, 4]);
        let dv = g.int(dim);
        let ix = input(&mut g, dt, isz);
        let out = g.f32(&[2, 4]);
        g.op("aten.index_select.default", &[a, dv, ix, out]);
        g.output(out);
        let err = build_err(&g);
        assert_eq!(err.kind, kind, "{isz:?} {dim}: {}", err.message);
    }
}

// ---------------------------------------------------------------- gather

#[test]
fn gather_matches_reference() {
    let cases: &[(&[usize], i64, &[usize])] = &[
        (&[7], 0, &[5]),
        (&[4, 5], 0, &[3, 5]),
        (&[4, 5], 1, &[4, 8]),
        (&[4, 5], -1, &[2, 3]),
        (&[2, 3, 4], 1, &[2, 5, 4]),
        (&[2, 3, 4], 2, &[1, 2, 2]),
    ];
    for (k, &(sizes, dim, isz)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 30).vec(sizes.iter().product());
        let d = wrap(dim, sizes.len());
        let n: usize = isz.iter().product();
        let idx = rand_indices(n, sizes[d], k as u64 + 40);
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let dv = g.int(dim);
        let ix = input(&mut g, DType::Int64, isz);
        let sg = g.bool(false);
        let out = g.f32(isz);
        g.op("aten.gather.default", &[a, dv, ix, sg, out]);
        g.output(out);
        let got = run(&g, vec![f32_host(sizes, &x), i64_host(isz, &idx)]);
        let want: Vec<f32> = (0..n)
            .map(|i| {
                let mut c = coords(i, isz);
                c[d] = wrap(idx[i], sizes[d]);
                x[flat(&c, sizes)]
            })
            .collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("gather {sizes:?} {dim} {isz:?}"),
        );
    }
    // Index larger than the input outside dim; rank mismatch.
    for (isz, dim) in [(&[5usize, 5][..], 1i64), (&[2], 0)] {
        let mut g = GraphBuilder::new();
        let a = g.input(&[4, 5]);
        let dv = g.int(dim);
        let ix = input(&mut g, DType::Int64, isz);
        let sg = g.bool(false);
        let out = g.f32(isz);
        g.op("aten.gather.default", &[a, dv, ix, sg, out]);
        g.output(out);
        assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    }
}

// ---------------------------------------------------------------- index.Tensor

/// Reference advanced indexing with integer index tensors (None: ":") on a tensor of `sizes`.
fn index_ref(
    x: &[f32],
    sizes: &[usize],
    indices: &[Option<(Vec<usize>, Vec<i64>)>],
) -> (Vec<f32>, Vec<usize>) {
    let rank = sizes.len();
    let present: Vec<usize> = (0..indices.len())
        .filter(|&d| indices[d].is_some())
        .collect();
    // Broadcast shape of the index tensors.
    let mut b: Vec<usize> = Vec::new();
    for d in &present {
        let s = &indices[*d].as_ref().unwrap().0;
        let r = b.len().max(s.len());
        let pad = |v: &[usize]| {
            let mut p = vec![1; r - v.len()];
            p.extend_from_slice(v);
            p
        };
        let (pb, ps) = (pad(&b), pad(s));
        b = pb
            .iter()
            .zip(&ps)
            .map(|(&x, &y)| if x == 1 { y } else { x })
            .collect();
    }
    let adjacent = present.last().unwrap() - present[0] + 1 == present.len();
    let rest: Vec<usize> = (0..rank).filter(|d| !present.contains(d)).collect();
    let at = if adjacent { present[0] } else { 0 };
    let before: Vec<usize> = rest.iter().copied().filter(|&d| d < at).collect();
    let after: Vec<usize> = rest.iter().copied().filter(|&d| d >= at).collect();
    let mut osz: Vec<usize> = before.iter().map(|&d| sizes[d]).collect();
    osz.extend(&b);
    osz.extend(after.iter().map(|&d| sizes[d]));
    let n: usize = osz.iter().product();
    let v = (0..n)
        .map(|i| {
            let c = coords(i, &osz);
            let bc = &c[before.len()..before.len() + b.len()];
            let mut ic = vec![0; rank];
            for (k, &d) in before.iter().enumerate() {
                ic[d] = c[k];
            }
            for (k, &d) in after.iter().enumerate() {
                ic[d] = c[before.len() + b.len() + k];
            }
            for &d in &present {
                let (s, v) = indices[d].as_ref().unwrap();
                let lead = b.len() - s.len();
                let cc: Vec<usize> = s
                    .iter()
                    .enumerate()
                    .map(|(j, &n)| if n == 1 { 0 } else { bc[lead + j] })
                    .collect();
                ic[d] = wrap(v[flat(&cc, s)], sizes[d]);
            }
            x[flat(&ic, sizes)]
        })
        .collect();
    (v, osz)
}

#[test]
fn index_tensor_matches_reference() {
    type Ix<'a> = Option<&'a [usize]>;
    let cases: &[(&[usize], &[Ix])] = &[
        (&[6], &[Some(&[4])]),
        (&[5, 4], &[Some(&[3])]),
        (&[5, 4], &[None, Some(&[6])]),
        (&[3, 5, 4], &[None, Some(&[2, 3])]),
        (&[3, 5, 4], &[Some(&[2]), Some(&[2])]),
        (&[3, 5, 4], &[Some(&[2, 1]), Some(&[3])]),
        (&[3, 5, 4], &[None, Some(&[4]), Some(&[1])]),
        // Separated index tensors: the broadcast dims go first.
        (&[3, 5, 4], &[Some(&[2]), None, Some(&[2])]),
        (
            &[2, 3, 4, 5],
            &[Some(&[3]), Some(&[3]), Some(&[1]), Some(&[3])],
        ),
        (&[4, 3], &[Some(&[])]),
    ];
    for (k, &(sizes, ix)) in cases.iter().enumerate() {
        let x = Rng::new(k as u64 + 60).vec(sizes.iter().product());
        let indices: Vec<Option<(Vec<usize>, Vec<i64>)>> = ix
            .iter()
            .enumerate()
            .map(|(d, s)| {
                s.map(|s| {
                    let n = s.iter().product();
                    (s.to_vec(), rand_indices(n, sizes[d], (k * 10 + d) as u64))
                })
            })
            .collect();
        let (want, osz) = index_ref(&x, sizes, &indices);
        let mut g = GraphBuilder::new();
        let a = g.input(sizes);
        let mut items = Vec::new();
        let mut hosts = vec![f32_host(sizes, &x)];
        for (d, i) in indices.iter().enumerate() {
            match i {
                Some((s, v)) => {
                    let dt = if d % 2 == 0 {
                        DType::Int64
                    } else {
                        DType::Int32
                    };
                    items.push(input(&mut g, dt, s));
                    hosts.push(idx_host(dt, s, v));
                }
                None => items.push(g.null()),
            }
        }
        let list = g.value_list(&items);
        let out = g.f32(&osz);
        g.op("aten.index.Tensor", &[a, list, out]);
        g.output(out);
        let got = run(&g, hosts);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("index {sizes:?} {ix:?}"),
        );
    }
}

#[test]
fn index_tensor_rejects_unsupported() {
    // Bool mask: NotSupported.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4, 3]);
    let m = input(&mut g, DType::Bool, &[4]);
    let list = g.value_list(&[m]);
    let out = g.f32(&[2, 3]);
    g.op("aten.index.Tensor", &[a, list, out]);
    g.output(out);
    let err = build_err(&g);
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(err.message.contains("mask"), "{}", err.message);
    // More index tensors than dims.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4]);
    let i0 = input(&mut g, DType::Int64, &[2]);
    let i1 = input(&mut g, DType::Int64, &[2]);
    let list = g.value_list(&[i0, i1]);
    let out = g.f32(&[2]);
    g.op("aten.index.Tensor", &[a, list, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    // Index shapes that do not broadcast.
    let mut g = GraphBuilder::new();
    let a = g.input(&[4, 5]);
    let i0 = input(&mut g, DType::Int64, &[2]);
    let i1 = input(&mut g, DType::Int64, &[3]);
    let list = g.value_list(&[i0, i1]);
    let out = g.f32(&[3]);
    g.op("aten.index.Tensor", &[a, list, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::InvalidProgram);
    // Five index tensors: NotSupported.
    let mut g = GraphBuilder::new();
    let a = g.input(&[2, 2, 2, 2, 2]);
    let items: Vec<usize> = (0..5).map(|_| input(&mut g, DType::Int64, &[1])).collect();
    let list = g.value_list(&items);
    let out = g.f32(&[1]);
    g.op("aten.index.Tensor", &[a, list, out]);
    g.output(out);
    assert_eq!(build_err(&g).kind, ErrorKind::NotSupported);
}
