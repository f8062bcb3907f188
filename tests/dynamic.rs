//! Dynamic shapes: serialized dims are upper bounds; executing with smaller inputs re-records
//! the graph for those sizes and reports the produced output sizes, on every execute.
mod common;
use common::*;

use etvk::format::{DType, Value};
use etvk::runtime::{HostTensor, InputValue};

fn input(sizes: &[usize], values: &[f32]) -> InputValue {
    InputValue::Tensor(HostTensor::from_f32(sizes.to_vec(), values).unwrap())
}

#[test]
fn broadcast_add_follows_every_new_size() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[8, 5]);
    let b = g.input(&[5]);
    let alpha = g.double(1.0);
    let out = g.f32(&[8, 5]);
    g.op("aten.add.Tensor", &[a, b, alpha, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let mut rng = Rng::new(3);
    for rows in [3usize, 8, 1, 5, 5] {
        let (va, vb) = (rng.vec(rows * 5), rng.vec(5));
        let got = d.run(&[input(&[rows, 5], &va), input(&[5], &vb)]).unwrap();
        assert_eq!(got[0].sizes, vec![rows, 5]);
        let (want, _) = broadcast_binary(&va, &[rows, 5], &vb, &[5], |x, y| x + y);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-6,
            1e-6,
            &format!("rows {rows}"),
        );
    }
}

#[test]
fn sym_size_drives_a_view() {
    // x[b<=8, 6] -> s = sym_size(x, 0) -> view_copy(relu(x), [s, 2, 3])
    let mut g = GraphBuilder::new();
    let x = g.input(&[8, 6]);
    let zero = g.int(0);
    let s = g.graph.values.len();
    g.graph.values.push(Value::SymInt(8));
    g.op("sym_size.int", &[x, zero, s]);
    let r = g.f32(&[8, 6]);
    g.op("aten.relu.default", &[x, r]);
    let (two, three) = (g.int(2), g.int(3));
    let shape = g.value_list(&[s, two, three]);
    let out = g.f32(&[8, 2, 3]);
    g.op("aten.view_copy.default", &[r, shape, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let mut rng = Rng::new(9);
    for rows in [2usize, 8, 7] {
        let v = rng.vec(rows * 6);
        let got = d.run(&[input(&[rows, 6], &v)]).unwrap();
        assert_eq!(got[0].sizes, vec![rows, 2, 3]);
        let want: Vec<f32> = v.iter().map(|x| x.max(0.0)).collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            0.0,
            0.0,
            &format!("rows {rows}"),
        );
    }
}

/// Inputs with more elements than the serialized sizes, or another rank, are rejected (a dim
/// alone may exceed its bound: see `a_dim_may_exceed_its_bound_when_the_elements_fit`).
#[test]
fn inputs_above_the_bounds_are_rejected() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[4, 3]);
    let out = g.f32(&[4, 3]);
    g.op("aten.relu.default", &[a, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    for sizes in [vec![5usize, 3], vec![4, 4], vec![12]] {
        let n = sizes.iter().product();
        let err = d
            .run(&[input(&sizes, &vec![0.0; n])])
            .expect_err("above the bound");
        assert_eq!(
            err.kind,
            etvk::ErrorKind::InvalidArgument,
            "{}",
            err.message
        );
    }
    // The delegate still works afterwards.
    let got = d
        .run(&[input(&[2, 3], &[-1.0, 2.0, -3.0, 4.0, -5.0, 6.0])])
        .unwrap();
    assert_eq!(got[0].to_f32_vec(), vec![0.0, 2.0, 0.0, 4.0, 0.0, 6.0]);
}

/// `et_vk.select_as_symint` (`input_pos[-1].item()` in llama's rope, exported by the real
/// partitioner): the position is read from the input on every execute and re-slices the table.
#[test]
fn select_as_symint_follows_the_input_value() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/op_fixtures/symint/narrow_at_pos");
    let blob = std::fs::read(dir.join("delegate0.bin")).unwrap();
    let mut named = std::collections::HashMap::new();
    let mut table = Vec::new();
    for e in std::fs::read_dir(dir.join("named")).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        table = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        named.insert(p.file_stem().unwrap().to_string_lossy().into_owned(), bytes);
    }
    assert_eq!(table.len(), 16 * 6, "the fixture's table is freqs[16, 6]");
    let specs = etvk::runtime::CompileSpecs::default();
    let mut d = etvk::runtime::Delegate::init(&blob, Some(&named), &specs).unwrap();
    let mut rng = Rng::new(11);
    for pos in [9i64, 0, 14, 14, 3] {
        let x = rng.vec(2 * 6);
        let got = d
            .run(&[
                input(&[2, 6], &x),
                InputValue::Tensor(i64_host(&[1], &[pos])),
            ])
            .unwrap();
        let p = pos as usize;
        let want: Vec<f32> = (0..12).map(|i| table[p * 6 + i] * x[i]).collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-6,
            1e-6,
            &format!("pos {pos}"),
        );
    }
}

/// An output whose size depends on a value read from an input: `table[:pos + 1]` with
/// `pos = select_as_symint(p, 0, 0)`. Init knows no value yet (it builds with 0); every execute
/// reads `p` and resizes.
#[test]
fn select_as_symint_sizes_an_output() {
    let mut g = GraphBuilder::new();
    let table = g.input(&[8, 3]);
    let p = common::input(&mut g, DType::Int32, &[1]);
    let (zero, one) = (g.int(0), g.int(1));
    let pos = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("et_vk.select_as_symint.default", &[p, zero, zero, pos]);
    let end = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("add", &[pos, one, end]);
    let out = g.f32(&[8, 3]);
    g.op(
        "aten.slice_copy.Tensor",
        &[table, zero, zero, end, one, out],
    );
    g.output(out);
    let mut d = g.build().unwrap();
    let t: Vec<f32> = (0..24).map(|i| i as f32).collect();
    for pos in [2i32, 7, 0, 4] {
        let got = d
            .run(&[
                input(&[8, 3], &t),
                InputValue::Tensor(i32_host(&[1], &[pos])),
            ])
            .unwrap();
        let rows = pos as usize + 1;
        assert_eq!(got[0].sizes, vec![rows, 3], "pos {pos}");
        assert_eq!(got[0].to_f32_vec(), t[..rows * 3].to_vec(), "pos {pos}");
    }
}

/// An intermediate whose size depends on a value read on the host: `(table[:pos] @ w1) @ w2`.
/// The build at init (pos = 0) records no dispatch for the empty matmuls, yet the plan must give
/// the intermediate memory and a lifetime for every later value: lifetimes come from the chain.
#[test]
fn select_as_symint_sizes_an_intermediate() {
    let mut g = GraphBuilder::new();
    let table = g.input(&[8, 3]);
    let p = common::input(&mut g, DType::Int32, &[1]);
    let w1 = g.input(&[3, 4]);
    let w2 = g.input(&[4, 2]);
    let (zero, one) = (g.int(0), g.int(1));
    let pos = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("et_vk.select_as_symint.default", &[p, zero, zero, pos]);
    let rows = g.f32(&[8, 3]);
    g.op(
        "aten.slice_copy.Tensor",
        &[table, zero, zero, pos, one, rows],
    );
    let mid = g.f32(&[8, 4]);
    g.op("aten.mm.default", &[rows, w1, mid]);
    let out = g.f32(&[8, 2]);
    g.op("aten.mm.default", &[mid, w2, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let mut rng = Rng::new(21);
    let (t, a, b) = (rng.vec(24), rng.vec(12), rng.vec(8));
    for pos in [5usize, 0, 8, 2] {
        let got = d
            .run(&[
                input(&[8, 3], &t),
                InputValue::Tensor(i32_host(&[1], &[pos as i32])),
                input(&[3, 4], &a),
                input(&[4, 2], &b),
            ])
            .unwrap_or_else(|e| panic!("pos {pos}: {e}"));
        assert_eq!(got[0].sizes, vec![pos, 2], "pos {pos}");
        let clashes = d.overlapping_live_activations().unwrap();
        assert!(clashes.is_empty(), "pos {pos}: {clashes:?}");
        let m = matmul_ref(&t[..pos * 3], &a, pos, 3, 4);
        let want = matmul_ref(&m, &b, pos, 4, 2);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-5,
            1e-5,
            &format!("pos {pos}"),
        );
    }
}

fn matmul_ref(x: &[f32], y: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|t| x[i * k + t] * y[t * n + j]).sum();
        }
    }
    out
}

/// Malformed programs fail init with an error naming the problem, never a panic.
#[test]
fn select_as_symint_on_a_scalar_is_an_error() {
    let mut g = GraphBuilder::new();
    let p = common::input(&mut g, DType::Int32, &[]);
    let zero = g.int(0);
    let pos = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("et_vk.select_as_symint.default", &[p, zero, zero, pos]);
    let out = g.f32(&[1]);
    g.op("aten.relu.default", &[p, out]);
    g.output(out);
    let err = build_err(&g);
    assert!(err.message.contains("out of range"), "{}", err.message);
}

/// ExecuTorch bounds a dynamic tensor by its element count, not per dim, and hands such inputs
/// to the delegate (the wheel's test_vulkan_delegate.py max_pool2d/avg_pool2d feed
/// [3, 14, 15, 9] to a program exported at [8, 13, 55, 68]): they must run.
#[test]
fn a_dim_may_exceed_its_bound_when_the_elements_fit() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[4, 3]);
    let out = g.f32(&[4, 3]);
    g.op("aten.relu.default", &[a, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let mut rng = Rng::new(5);
    for sizes in [vec![2usize, 6], vec![1, 12], vec![6, 2], vec![4, 3]] {
        let v = rng.vec(12);
        let got = d.run(&[input(&sizes, &v)]).unwrap();
        assert_eq!(got[0].sizes, sizes);
        let want: Vec<f32> = v.iter().map(|x| x.max(0.0)).collect();
        assert_close(&got[0].to_f32_vec(), &want, 0.0, 0.0, &format!("{sizes:?}"));
    }
}

/// Pushes a SymInt value `s = sym_size(x, dim)` (serialized as 0, like the exporter's).
fn sym_size(g: &mut GraphBuilder, x: usize, dim: i64) -> usize {
    let d = g.int(dim);
    let s = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("sym_size.int", &[x, d, s]);
    s
}

/// A SymInt used as a scalar operand takes its run-time value, not the serialized one:
/// `clamp(x, max=x.shape[0])` and `x + x.shape[0]` (test_vulkan_backend_dynamic_float_clamp;
/// replicate padding decomposes into the same clamp of an index by `x.shape[1] - 1`).
#[test]
fn a_symint_scalar_operand_takes_its_runtime_value() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[8, 4]);
    let s = sym_size(&mut g, x, 0);
    let none = g.null();
    let clamped = g.f32(&[8, 4]);
    g.op("aten.clamp.default", &[x, none, s, clamped]);
    let alpha = g.int(1);
    let shifted = g.f32(&[8, 4]);
    g.op("aten.add.Tensor", &[x, s, alpha, shifted]);
    g.output(clamped);
    g.output(shifted);
    let mut d = g.build().unwrap();
    for rows in [8usize, 3, 4] {
        let v: Vec<f32> = (0..rows * 4).map(|i| i as f32).collect();
        let got = d.run(&[input(&[rows, 4], &v)]).unwrap();
        let n = rows as f32;
        let want_clamp: Vec<f32> = v.iter().map(|x| x.min(n)).collect();
        let want_add: Vec<f32> = v.iter().map(|x| x + n).collect();
        assert_close(
            &got[0].to_f32_vec(),
            &want_clamp,
            0.0,
            0.0,
            &format!("clamp, {rows} rows"),
        );
        assert_close(
            &got[1].to_f32_vec(),
            &want_add,
            0.0,
            0.0,
            &format!("add, {rows} rows"),
        );
    }
}

/// `arange(x.shape[0], 32, 2)` with 2 <= x.shape[0] <= 16: the exporter bounds the output by
/// its longest case, [15] (start 2), while the input's bound (start 16) gives [8]; init must
/// accept sizes within the bounds in graphs with symbolic ints
/// (test_vulkan_backend_dynamic_arange_start).
#[test]
fn arange_from_a_symint_start_is_longest_for_the_smallest_input() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[16]);
    let start = sym_size(&mut g, x, 0);
    let (end, step) = (g.int(32), g.int(2));
    let mut args = vec![start, end, step];
    args.extend((0..4).map(|_| g.null()));
    let out = g.tensor(DType::Int64, &[15]);
    args.push(out);
    g.op("aten.arange.start_step", &args);
    g.output(out);
    let mut d = g.build().unwrap();
    for len in [16usize, 3, 15, 2] {
        let got = d.run(&[input(&[len], &vec![0.0; len])]).unwrap();
        let want: Vec<f32> = (len..32).step_by(2).map(|v| v as f32).collect();
        assert_eq!(got[0].sizes, vec![want.len()], "len {len}");
        assert_close(&got[0].to_f32_vec(), &want, 0.0, 0.0, &format!("len {len}"));
    }
}

/// An intermediate that is empty at the input bounds but not below them: `table[:8 - n]` with
/// n = x.shape[0] (bound 8), then two matmuls. The build at init (n = 8) records no dispatch
/// for the empty matmuls, yet the plan must give the intermediate memory and a lifetime for
/// every later size.
#[test]
fn a_symint_intermediate_empty_at_the_bounds_gets_memory() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[8]);
    let table = g.input(&[8, 3]);
    let w1 = g.input(&[3, 4]);
    let w2 = g.input(&[4, 2]);
    let n = sym_size(&mut g, x, 0);
    let (zero, one, eight) = (g.int(0), g.int(1), g.int(8));
    let k = g.graph.values.len();
    g.graph.values.push(Value::SymInt(0));
    g.op("sub", &[eight, n, k]);
    let rows = g.f32(&[6, 3]);
    g.op("aten.slice_copy.Tensor", &[table, zero, zero, k, one, rows]);
    let mid = g.f32(&[6, 4]);
    g.op("aten.mm.default", &[rows, w1, mid]);
    let out = g.f32(&[6, 2]);
    g.op("aten.mm.default", &[mid, w2, out]);
    g.output(out);
    let mut d = g.build().unwrap();
    let mut rng = Rng::new(31);
    let (t, a, b) = (rng.vec(24), rng.vec(12), rng.vec(8));
    for len in [8usize, 3, 2, 8, 5] {
        let k = 8 - len;
        let got = d
            .run(&[
                input(&[len], &vec![0.0; len]),
                input(&[8, 3], &t),
                input(&[3, 4], &a),
                input(&[4, 2], &b),
            ])
            .unwrap_or_else(|e| panic!("len {len}: {e}"));
        assert_eq!(got[0].sizes, vec![k, 2], "len {len}");
        let clashes = d.overlapping_live_activations().unwrap();
        assert!(clashes.is_empty(), "len {len}: {clashes:?}");
        let m = matmul_ref(&t[..k * 3], &a, k, 3, 4);
        let want = matmul_ref(&m, &b, k, 4, 2);
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-5,
            1e-5,
            &format!("len {len}"),
        );
    }
}
