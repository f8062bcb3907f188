//! Concatenation without copies (graph::slots): a tensor that `cat` would copy whole into a
//! contiguous slice of its output is produced in that slice instead, and the copy is not
//! recorded. Each case checks which copies remain and compares every output with a CPU
//! reference, including tensors read again after the concatenation, the same tensor twice,
//! graph outputs, nested concatenations and contiguous (not channels-packed) tensors.
mod common;
use common::*;

/// The copies the cat recorded (the memory plan checked too).
fn copies(g: &GraphBuilder) -> usize {
    count_kernels(g, "cat")
}

fn cat(g: &mut GraphBuilder, parts: &[usize], dim: i64, out_sizes: &[usize]) -> usize {
    let list = g.value_list(parts);
    let d = g.int(dim);
    let out = g.f32(out_sizes);
    g.op("aten.cat.default", &[list, d, out]);
    out
}

/// Channel-wise concatenation of NCHW planes (batch 1).
fn cat_planes(parts: &[&[f32]]) -> Vec<f32> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// A U-Net skip connection: `a` goes into the concatenation and is read again after it.
#[test]
fn skip_tensor_read_after_the_concatenation() {
    let (s8, s16) = ([1, 8, 5, 6], [1, 16, 5, 6]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s8);
    let a = packed(&mut g, x, &s8);
    let b = packed(&mut g, a, &s8);
    let b = relu_op(&mut g, b, &s8);
    let c = cat(&mut g, &[b, a], 1, &s16);
    let d = packed(&mut g, c, &s16);
    let e = add_op(&mut g, a, a, &s8);
    g.output(d);
    g.output(e);
    assert_eq!(copies(&g), 0);
    let xv = Rng::new(1).vec(8 * 30);
    let got = g.run(&[(&s8, &xv)]).unwrap();
    let r: Vec<f32> = xv.iter().map(|v| v.max(0.0)).collect();
    assert_close(&got[0], &cat_planes(&[&r, &xv]), 0.0, 0.0, "concatenation");
    let twice: Vec<f32> = xv.iter().map(|v| v + v).collect();
    assert_close(&got[1], &twice, 0.0, 0.0, "skip read after it");
}

/// The same tensor twice: it can live in one slice only; the other stays a copy.
#[test]
fn same_tensor_twice() {
    let (s4, s8) = ([1, 4, 3, 3], [1, 8, 3, 3]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s4);
    let a = packed(&mut g, x, &s4);
    let c = cat(&mut g, &[a, a], 1, &s8);
    let d = packed(&mut g, c, &s8);
    g.output(d);
    assert_eq!(copies(&g), 1);
    let xv = Rng::new(2).vec(36);
    let got = g.run(&[(&s4, &xv)]).unwrap();
    assert_close(&got[0], &cat_planes(&[&xv, &xv]), 0.0, 0.0, "cat [a, a]");
}

/// A graph output is read by the host from its own memory: it stays a copy.
#[test]
fn graph_outputs_stay_copies() {
    let (s4, s8) = ([1, 4, 2, 5], [1, 8, 2, 5]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s4);
    let y = g.input(&s4);
    let a = packed(&mut g, x, &s4);
    let b = packed(&mut g, y, &s4);
    let c = cat(&mut g, &[a, b], 1, &s8);
    let d = packed(&mut g, c, &s8);
    g.output(d);
    g.output(a);
    assert_eq!(copies(&g), 1, "a stays a copy, b is in place");
    let (xv, yv) = (Rng::new(3).vec(40), Rng::new(4).vec(40));
    let got = g.run(&[(&s4, &xv), (&s4, &yv)]).unwrap();
    assert_close(&got[0], &cat_planes(&[&xv, &yv]), 0.0, 0.0, "cat");
    assert_close(&got[1], &xv, 0.0, 0.0, "output a");
}

/// A concatenation of a concatenation: the inner one's inputs are in place, the inner
/// output itself is copied (slots do not nest).
#[test]
fn nested_concatenations() {
    let (s4, s8, s12) = ([1, 4, 3, 2], [1, 8, 3, 2], [1, 12, 3, 2]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s4);
    let a = packed(&mut g, x, &s4);
    let b = relu_op(&mut g, a, &s4);
    let b = packed(&mut g, b, &s4);
    let inner = cat(&mut g, &[a, b], 1, &s8);
    let c = packed(&mut g, a, &s4);
    let outer = cat(&mut g, &[inner, c], 1, &s12);
    let d = packed(&mut g, outer, &s12);
    g.output(d);
    assert_eq!(copies(&g), 1);
    let xv = Rng::new(5).vec(24);
    let r: Vec<f32> = xv.iter().map(|v| v.max(0.0)).collect();
    let got = g.run(&[(&s4, &xv)]).unwrap();
    assert_close(&got[0], &cat_planes(&[&xv, &r, &xv]), 0.0, 0.0, "nested");
}

/// Contiguous tensors: along the outermost dim (or after dims of size 1) each input is one
/// slice of the output (in place where the slice is aligned for a binding, 64 bytes at
/// most); along an inner dim of a batch of 2 they are interleaved, so copied.
#[test]
fn contiguous_concatenations() {
    for (dim, sa, sb, so, want_copies) in [
        (0, [4, 4], [3, 4], [7, 4], 0),
        (1, [1, 16], [1, 5], [1, 21], 0),
        // The second slice starts 24 bytes in: not aligned for a binding, so copied.
        (0, [2, 3], [4, 3], [6, 3], 1),
        (1, [2, 16], [2, 5], [2, 21], 2),
    ] {
        let mut g = GraphBuilder::new();
        let x = g.input(&sa);
        let y = g.input(&sb);
        let a = relu_op(&mut g, x, &sa);
        let b = relu_op(&mut g, y, &sb);
        let c = cat(&mut g, &[a, b], dim, &so);
        let out = add_op(&mut g, c, c, &so);
        g.output(out);
        assert_eq!(copies(&g), want_copies, "dim {dim} of {sa:?} and {sb:?}");
        let (xv, yv) = (
            Rng::new(6).vec(sa.iter().product()),
            Rng::new(7).vec(sb.iter().product()),
        );
        let got = g.run(&[(&sa, &xv), (&sb, &yv)]).unwrap();
        // Rows of the inputs (the whole input along dim 0), interleaved.
        let (rows, ca, cb) = if dim == 0 {
            (1, xv.len(), yv.len())
        } else {
            (sa[0], sa[1], sb[1])
        };
        let twice_relu = |v: &f32| 2.0 * v.max(0.0);
        let mut want = vec![];
        for r in 0..rows {
            want.extend(xv[r * ca..(r + 1) * ca].iter().map(twice_relu));
            want.extend(yv[r * cb..(r + 1) * cb].iter().map(twice_relu));
        }
        assert_close(&got[0], &want, 0.0, 0.0, &format!("dim {dim}"));
    }
}

/// The memory plan places tensors in their slices at the program's sizes: other input sizes
/// are refused with a clear error, never run on a plan that no longer holds.
#[test]
fn other_input_sizes_are_refused() {
    let (s4, s8) = ([1, 4, 4, 4], [1, 8, 4, 4]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s4);
    let a = packed(&mut g, x, &s4);
    let b = packed(&mut g, a, &s4);
    let c = cat(&mut g, &[a, b], 1, &s8);
    let d = packed(&mut g, c, &s8);
    g.output(d);
    assert_eq!(copies(&g), 0);
    let small = [1, 4, 2, 4];
    let err = g.run(&[(&small, &Rng::new(8).vec(32))]).unwrap_err();
    assert!(
        err.to_string().contains("serialized input sizes"),
        "unexpected error: {err}"
    );
    let xv = Rng::new(9).vec(64);
    let got = g.run(&[(&s4, &xv)]).unwrap();
    assert_close(&got[0], &cat_planes(&[&xv, &xv]), 0.0, 0.0, "at its sizes");
}

/// A program that asks for dynamic shapes (`require_dynamic_shapes`) keeps its copies, so
/// that it runs at other input sizes.
#[test]
fn dynamic_shape_programs_keep_their_copies() {
    let (s4, s8) = ([1, 4, 4, 4], [1, 8, 4, 4]);
    let mut g = GraphBuilder::new();
    let x = g.input(&s4);
    let a = packed(&mut g, x, &s4);
    let b = packed(&mut g, a, &s4);
    let c = cat(&mut g, &[a, b], 1, &s8);
    let d = packed(&mut g, c, &s8);
    g.output(d);
    let specs = etvk::runtime::CompileSpecs {
        require_dynamic_shapes: true,
        ..Default::default()
    };
    let mut dl = g.build_with(&specs).unwrap();
    let ks = kernels(&dl);
    assert_eq!(
        ks.iter().filter(|k| k.starts_with("cat")).count(),
        2,
        "{ks:?}"
    );
    for sizes in [s4, [1, 4, 2, 4]] {
        let n: usize = sizes.iter().product();
        let xv = Rng::new(n as u64).vec(n);
        let got = dl
            .run(&[etvk::runtime::InputValue::Tensor(f32_host(&sizes, &xv))])
            .unwrap();
        assert_close(
            &got[0].to_f32_vec(),
            &cat_planes(&[&xv, &xv]),
            0.0,
            0.0,
            "dynamic",
        );
    }
}
