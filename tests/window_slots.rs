//! Selects, slices and splits without copies (graph::slots, `window` offers): an output that
//! is one contiguous run of its input (along the outermost dim, or after dims of size 1)
//! lives in that run, and the gather is not recorded. Each case checks which gathers remain
//! and compares every output with a CPU reference, including inputs read again after the
//! windows are taken, windows read long after, graph outputs and unaligned windows.
mod common;
use common::*;

/// The gathers left in the recording (the memory plan checked too).
fn gathers(g: &GraphBuilder) -> usize {
    count_kernels(g, "shape_gather")
}

fn select(g: &mut GraphBuilder, x: usize, dim: i64, index: i64, sizes: &[usize]) -> usize {
    let (d, i) = (g.int(dim), g.int(index));
    let out = g.f32(sizes);
    g.op("aten.select_copy.int", &[x, d, i, out]);
    out
}

fn slice(
    g: &mut GraphBuilder,
    x: usize,
    dim: i64,
    range: (i64, i64, i64),
    sizes: &[usize],
) -> usize {
    let (d, s, e, st) = (g.int(dim), g.int(range.0), g.int(range.1), g.int(range.2));
    let out = g.f32(sizes);
    g.op("aten.slice_copy.Tensor", &[x, d, s, e, st, out]);
    out
}

fn relu_ref(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.max(0.0)).collect()
}

/// Attention's q, k and v out of one projection: three selects of the outermost dim, each
/// read by an op of its own, none copied.
#[test]
fn q_k_v_from_one_projection() {
    let (s, part) = ([3, 2, 5, 8], [2, 5, 8]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s);
    let a = relu_op(&mut g, x, &s);
    let parts: Vec<usize> = (0..3).map(|i| select(&mut g, a, 0, i, &part)).collect();
    let qk = add_op(&mut g, parts[0], parts[1], &part);
    let out = add_op(&mut g, qk, parts[2], &part);
    g.output(out);
    assert_eq!(gathers(&g), 0);
    let xv = Rng::new(11).vec(240);
    let got = g.run(&[(&s, &xv)]).unwrap();
    let r = relu_ref(&xv);
    let want: Vec<f32> = (0..80).map(|j| r[j] + r[80 + j] + r[160 + j]).collect();
    assert_close(&got[0], &want, 0.0, 0.0, "q + k + v");
}

/// Dims of size 1 before the selected dim keep the window contiguous; a batch of 2 does not
/// (its entries are interleaved), so that select stays a gather.
#[test]
fn only_contiguous_runs_are_windows() {
    for (s, part, want_gathers) in [([1, 3, 4, 8], [1, 4, 8], 0), ([2, 3, 4, 8], [2, 4, 8], 1)] {
        let mut g = GraphBuilder::new();
        let x = g.input(&s);
        let a = relu_op(&mut g, x, &s);
        let b = select(&mut g, a, 1, 2, &part);
        let out = add_op(&mut g, b, b, &part);
        g.output(out);
        assert_eq!(gathers(&g), want_gathers, "select dim 1 of {s:?}");
        let n: usize = s.iter().product();
        let xv = Rng::new(n as u64).vec(n);
        let got = g.run(&[(&s, &xv)]).unwrap();
        let r = relu_ref(&xv);
        let mut want = vec![];
        for batch in 0..s[0] {
            let at = (batch * 3 + 2) * 32;
            want.extend(r[at..at + 32].iter().map(|v| 2.0 * v));
        }
        assert_close(&got[0], &want, 0.0, 0.0, &format!("{s:?}"));
    }
}

/// Slices with step 1 are windows where they start aligned for a binding (64 bytes at most);
/// a slice with step 2 and an unaligned start stay gathers.
#[test]
fn slices_with_step_one() {
    for (range, rows, want_gathers) in [((2, 6, 1), 4, 0), ((0, 6, 2), 3, 1), ((1, 3, 1), 2, 1)] {
        // Rows of 16 floats (64 bytes) except in the last case: rows of 3 (12 bytes).
        let cols = if want_gathers == 1 && range.2 == 1 {
            3
        } else {
            16
        };
        let (s, part) = ([6, cols], [rows, cols]);
        let mut g = GraphBuilder::new();
        let x = g.input(&s);
        let a = relu_op(&mut g, x, &s);
        let b = slice(&mut g, a, 0, range, &part);
        let out = add_op(&mut g, b, b, &part);
        g.output(out);
        assert_eq!(gathers(&g), want_gathers, "slice {range:?} of {s:?}");
        let xv = Rng::new(12).vec(6 * cols);
        let got = g.run(&[(&s, &xv)]).unwrap();
        let r = relu_ref(&xv);
        let want: Vec<f32> = (0..rows)
            .flat_map(|i| {
                let row = (range.0 + i as i64 * range.2) as usize;
                r[row * cols..(row + 1) * cols].to_vec()
            })
            .map(|v| 2.0 * v)
            .collect();
        assert_close(&got[0], &want, 0.0, 0.0, &format!("slice {range:?}"));
    }
}

/// A split along the outermost dim: each part is a window.
#[test]
fn split_parts_are_windows() {
    let (s, a_s, b_s) = ([5, 16], [2, 16], [3, 16]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s);
    let a = relu_op(&mut g, x, &s);
    let (pa, pb) = (g.f32(&a_s), g.f32(&b_s));
    let (sizes, dim, list) = (g.int_list(&[2, 3]), g.int(0), g.value_list(&[pa, pb]));
    g.op("aten.split_with_sizes_copy.default", &[a, sizes, dim, list]);
    let oa = add_op(&mut g, pa, pa, &a_s);
    let ob = add_op(&mut g, pb, pb, &b_s);
    g.output(oa);
    g.output(ob);
    assert_eq!(gathers(&g), 0);
    let xv = Rng::new(13).vec(80);
    let got = g.run(&[(&s, &xv)]).unwrap();
    let twice: Vec<f32> = relu_ref(&xv).iter().map(|v| 2.0 * v).collect();
    assert_close(&got[0], &twice[..32], 0.0, 0.0, "first part");
    assert_close(&got[1], &twice[32..], 0.0, 0.0, "second part");
}

/// The input is read again after its windows are taken, and a window is read only at the
/// end, after tensors that could reuse the input's memory were made: the input lives until
/// then.
#[test]
fn input_lives_as_long_as_its_windows() {
    let (s, part) = ([2, 4, 8], [4, 8]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s);
    let a = relu_op(&mut g, x, &s);
    let first = select(&mut g, a, 0, 0, &part);
    let second = select(&mut g, a, 0, 1, &part);
    let doubled = add_op(&mut g, a, a, &s);
    // A chain of temporaries, each the size of `a`, that would take its memory if it died.
    let mut t = doubled;
    for _ in 0..4 {
        t = add_op(&mut g, t, doubled, &s);
    }
    let late = add_op(&mut g, first, second, &part);
    g.output(t);
    g.output(late);
    assert_eq!(gathers(&g), 0);
    let xv = Rng::new(14).vec(64);
    let got = g.run(&[(&s, &xv)]).unwrap();
    let r = relu_ref(&xv);
    let chain: Vec<f32> = r.iter().map(|v| 10.0 * v).collect();
    assert_close(&got[0], &chain, 1e-5, 1e-6, "chain");
    let want: Vec<f32> = (0..32).map(|j| r[j] + r[32 + j]).collect();
    assert_close(&got[1], &want, 0.0, 0.0, "late window");
}

/// Graph inputs and outputs have memory of their own that the host reads or writes: a
/// window of a graph input, and a window that is a graph output, stay gathers.
#[test]
fn graph_inputs_and_outputs_stay_gathers() {
    let (s, part) = ([3, 16], [16]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s);
    let from_input = select(&mut g, x, 0, 1, &part);
    let a = relu_op(&mut g, x, &s);
    let as_output = select(&mut g, a, 0, 2, &part);
    let read = add_op(&mut g, from_input, from_input, &part);
    g.output(read);
    g.output(as_output);
    assert_eq!(gathers(&g), 2);
    let xv = Rng::new(15).vec(48);
    let got = g.run(&[(&s, &xv)]).unwrap();
    let twice: Vec<f32> = xv[16..32].iter().map(|v| 2.0 * v).collect();
    assert_close(&got[0], &twice, 0.0, 0.0, "window of the input");
    assert_close(&got[1], &relu_ref(&xv[32..]), 0.0, 0.0, "window as output");
}
