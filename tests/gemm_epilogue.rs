//! What a matrix product's only reader does to it, done as the product stores: an
//! activation (`linear -> gelu` in a transformer's feed-forward block, `linear -> relu` in an
//! MLP) or a residual add (`x + linear(..)`): one `gemm` dispatch, no elementwise one. Each
//! case checks the dispatches and compares with a CPU reference (`linear_ref`, then the
//! activation in f64 or the add); where the product has another reader, the residual is
//! written after the product, or both epilogues follow each other, the ops stay separate
//! (one epilogue per product), with the same results.
mod common;
use common::*;

/// The lifetime arena, which fusions need (the default picks the exporter's plan where it is
/// as small, as in graphs this small).
fn arena() -> etvk::runtime::CompileSpecs {
    etvk::runtime::CompileSpecs {
        activation_planner: Some(2),
        ..Default::default()
    }
}

/// An activation op, its `approximate` argument (GELU) and its reference.
type Activation = (&'static str, Option<&'static str>, fn(f32) -> f32);

/// The activations the product takes over.
fn activations() -> Vec<Activation> {
    vec![
        ("aten.gelu.default", Some("none"), gelu_ref),
        ("aten.gelu.default", Some("tanh"), gelu_tanh_ref),
        ("aten.relu.default", None, |x| x.max(0.0)),
        ("aten.sigmoid.default", None, |x| {
            (1.0 / (1.0 + (-(x as f64)).exp())) as f32
        }),
        ("aten.tanh.default", None, |x| (x as f64).tanh() as f32),
        ("aten.hardswish.default", None, |x| {
            x * (x + 3.0).clamp(0.0, 6.0) / 6.0
        }),
    ]
}

/// x [rows, k] -> linear(w [n, k], bias [n]) -> act -> output (and the product itself when
/// `product_out`).
fn linear_act(
    rows: usize,
    k: usize,
    n: usize,
    op: &str,
    approximate: Option<&str>,
    product_out: bool,
) -> (GraphBuilder, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new((rows * k * n) as u64);
    let (w, bias) = (rng.vec(n * k), rng.vec(n));
    let mut g = GraphBuilder::new();
    let x = g.input(&[rows, k]);
    let wt = g.constant(&[n, k], &w);
    let bt = g.constant(&[n], &bias);
    let y = g.f32(&[rows, n]);
    g.op("aten.linear.default", &[x, wt, bt, y]);
    let out = g.f32(&[rows, n]);
    match approximate {
        Some(a) => {
            let a = g.string(a);
            g.op(op, &[y, a, out]);
        }
        None => g.op(op, &[y, out]),
    }
    g.output(out);
    if product_out {
        g.output(y);
    }
    (g, w, bias)
}

#[test]
fn activation_is_applied_as_the_product_stores() {
    // Aligned and odd sizes (N not a multiple of 4: scalar stores).
    for (rows, k, n) in [(65, 64, 128), (5, 12, 7), (1, 8, 4)] {
        for (op, approximate, f) in activations() {
            let what = format!("{op} {approximate:?} rows {rows} k {k} n {n}");
            let (g, w, bias) = linear_act(rows, k, n, op, approximate, false);
            let ks = kernels(&g.build_with(&arena()).unwrap());
            assert_eq!(ks, ["gemm"], "{what}");
            let x = Rng::new(7).vec(rows * k);
            let got = g.run_with(&arena(), &[(&[rows, k], &x)]).unwrap();
            let want: Vec<f32> = linear_ref(&x, rows, k, &w, &bias, n)
                .into_iter()
                .map(f)
                .collect();
            assert_close(&got[0], &want, 1e-5, 1e-4, &what);
        }
    }
}

#[test]
fn product_with_another_reader_keeps_its_activation() {
    let (rows, k, n) = (6, 8, 12);
    let (g, w, bias) = linear_act(rows, k, n, "aten.gelu.default", Some("none"), true);
    let ks = kernels(&g.build_with(&arena()).unwrap());
    assert_eq!(ks.len(), 2, "{ks:?}");
    let x = Rng::new(8).vec(rows * k);
    let got = g.run_with(&arena(), &[(&[rows, k], &x)]).unwrap();
    let y = linear_ref(&x, rows, k, &w, &bias, n);
    let want: Vec<f32> = y.iter().map(|&v| gelu_ref(v)).collect();
    assert_close(&got[0], &want, 1e-5, 1e-4, "gelu");
    assert_close(&got[1], &y, 1e-5, 1e-5, "product");
}

/// A graph with inputs x [rows, k] and a second input [rows, n], and y = linear(x, w, bias)
/// with random w [n, k] and bias [n] from `rng`: (graph, second input, y, w, bias).
fn linear_with_second_input(
    rows: usize,
    k: usize,
    n: usize,
    rng: &mut Rng,
) -> (GraphBuilder, usize, usize, Vec<f32>, Vec<f32>) {
    let (w, bias) = (rng.vec(n * k), rng.vec(n));
    let mut g = GraphBuilder::new();
    let x = g.input(&[rows, k]);
    let second = g.input(&[rows, n]);
    let wt = g.constant(&[n, k], &w);
    let bt = g.constant(&[n], &bias);
    let y = g.f32(&[rows, n]);
    g.op("aten.linear.default", &[x, wt, bt, y]);
    (g, second, y, w, bias)
}

/// x [rows, k] -> linear(w, bias) -> y; then `y + r` (`r + y` when `swapped`) with r an
/// input, `alpha` on the second operand.
fn linear_plus(
    rows: usize,
    k: usize,
    n: usize,
    swapped: bool,
    alpha: i64,
) -> (GraphBuilder, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new((rows + k + n) as u64);
    let (mut g, r, y, w, bias) = linear_with_second_input(rows, k, n, &mut rng);
    let (al, out) = (g.int(alpha), g.f32(&[rows, n]));
    let (p, q) = if swapped { (r, y) } else { (y, r) };
    g.op("aten.add.Tensor", &[p, q, al, out]);
    g.output(out);
    (g, w, bias)
}

#[test]
fn residual_add_is_applied_as_the_product_stores() {
    for (rows, k, n, swapped, alpha) in [
        (65, 64, 64, false, 1),
        (5, 12, 7, true, 1),
        (5, 12, 7, false, 1),
        (4, 12, 8, true, 1),
        (3, 8, 8, false, 2),
    ] {
        let what = format!("rows {rows} k {k} n {n} swapped {swapped} alpha {alpha}");
        let (g, w, bias) = linear_plus(rows, k, n, swapped, alpha);
        let ks = kernels(&g.build_with(&arena()).unwrap());
        let fused = alpha == 1;
        assert_eq!(ks.len() == 1, fused, "{what}: {ks:?}");
        let mut rng = Rng::new(9);
        let (x, r) = (rng.vec(rows * k), rng.vec(rows * n));
        let got = g
            .run_with(&arena(), &[(&[rows, k], &x), (&[rows, n], &r)])
            .unwrap();
        let y = linear_ref(&x, rows, k, &w, &bias, n);
        let a = alpha as f32;
        let want: Vec<f32> = (y.iter().zip(&r))
            .map(|(&y, &r)| if swapped { r + a * y } else { y + a * r })
            .collect();
        assert_close(&got[0], &want, 1e-5, 1e-5, &what);
    }
}

/// A residual written after the product (here computed by a later op) is not read early.
#[test]
fn residual_written_after_the_product_stays_separate() {
    let (rows, k, n) = (4, 8, 8);
    let mut rng = Rng::new(10);
    let (mut g, z, y, w, bias) = linear_with_second_input(rows, k, n, &mut rng);
    let r = relu_op(&mut g, z, &[rows, n]);
    let out = add_op(&mut g, y, r, &[rows, n]);
    g.output(out);
    let ks = kernels(&g.build_with(&arena()).unwrap());
    assert_eq!(ks.len(), 3, "{ks:?}");
    let (xv, zv) = (rng.vec(rows * k), rng.vec(rows * n));
    let got = g
        .run_with(&arena(), &[(&[rows, k], &xv), (&[rows, n], &zv)])
        .unwrap();
    let yv = linear_ref(&xv, rows, k, &w, &bias, n);
    let want: Vec<f32> = (yv.iter().zip(&zv)).map(|(y, z)| y + z.max(0.0)).collect();
    assert_close(&got[0], &want, 1e-5, 1e-5, "y + relu(z)");
}

/// linear -> add -> relu takes the add (relu separate); linear -> gelu -> add takes the gelu
/// (add separate): one epilogue per product, in the graph's order.
#[test]
fn one_epilogue_per_product() {
    let (rows, k, n) = (6, 8, 12);
    for add_first in [true, false] {
        let mut rng = Rng::new(11);
        let (mut g, r, y, w, bias) = linear_with_second_input(rows, k, n, &mut rng);
        let out = if add_first {
            let s = add_op(&mut g, y, r, &[rows, n]);
            relu_op(&mut g, s, &[rows, n])
        } else {
            let a = g.string("none");
            let h = g.f32(&[rows, n]);
            g.op("aten.gelu.default", &[y, a, h]);
            add_op(&mut g, h, r, &[rows, n])
        };
        g.output(out);
        let ks = kernels(&g.build_with(&arena()).unwrap());
        assert_eq!(ks.len(), 2, "add first {add_first}: {ks:?}");
        let (xv, rv) = (rng.vec(rows * k), rng.vec(rows * n));
        let got = g
            .run_with(&arena(), &[(&[rows, k], &xv), (&[rows, n], &rv)])
            .unwrap();
        let yv = linear_ref(&xv, rows, k, &w, &bias, n);
        let want: Vec<f32> = (yv.iter().zip(&rv))
            .map(|(&y, &r)| {
                if add_first {
                    (y + r).max(0.0)
                } else {
                    gelu_ref(y) + r
                }
            })
            .collect();
        assert_close(
            &got[0],
            &want,
            1e-5,
            1e-4,
            &format!("add first {add_first}"),
        );
    }
}
