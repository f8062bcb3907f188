//! An activation whose only input is a matrix product (`linear -> gelu` in a transformer's
//! feed-forward block, `linear -> relu` in an MLP) is applied by the product as it stores:
//! one `gemm` dispatch, no elementwise one. Each case checks the dispatches and compares with
//! a CPU reference (`linear_ref`, then the activation in f64); a product with another reader
//! keeps its activation separate, with the same results.
mod common;
use common::*;

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
            let ks = kernels(&g.build().unwrap());
            assert_eq!(ks, ["gemm"], "{what}");
            let x = Rng::new(7).vec(rows * k);
            let got = g.run(&[(&[rows, k], &x)]).unwrap();
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
    let ks = kernels(&g.build().unwrap());
    assert_eq!(ks.len(), 2, "{ks:?}");
    let x = Rng::new(8).vec(rows * k);
    let got = g.run(&[(&[rows, k], &x)]).unwrap();
    let y = linear_ref(&x, rows, k, &w, &bias, n);
    let want: Vec<f32> = y.iter().map(|&v| gelu_ref(v)).collect();
    assert_close(&got[0], &want, 1e-5, 1e-4, "gelu");
    assert_close(&got[1], &y, 1e-5, 1e-5, "product");
}
