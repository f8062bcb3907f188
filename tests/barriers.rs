//! Barriers come from hazards between dispatches: independent dispatches run without one, a
//! dispatch reading an earlier one's output gets one (synchronization validation, on in
//! `make test`, checks that nothing is missing).
mod common;
use common::*;

#[test]
fn independent_dispatches_share_no_barrier() {
    // a = relu(x) and b = neg(x) only read x; c = a + b reads both.
    let mut g = GraphBuilder::new();
    let x = g.input(&[64]);
    let a = g.f32(&[64]);
    let b = g.f32(&[64]);
    let c = g.f32(&[64]);
    let alpha = g.double(1.0);
    g.op("aten.relu.default", &[x, a]);
    g.op("aten.neg.default", &[x, b]);
    g.op("aten.add.Tensor", &[a, b, alpha, c]);
    g.output(c);
    let mut d = g.build().unwrap();
    assert_eq!(d.recording_stats(), (3, 1), "one barrier, before the add");

    let xs: Vec<f32> = (0..64).map(|i| i as f32 - 31.5).collect();
    let want: Vec<f32> = xs.iter().map(|&v| v.max(0.0) - v).collect();
    let out = d
        .run(&[etvk::runtime::InputValue::Tensor(f32_host(&[64], &xs))])
        .unwrap();
    assert_close(&out[0].to_f32_vec(), &want, 0.0, 0.0, "relu(x) + neg(x)");
}

#[test]
fn a_chain_gets_a_barrier_per_dependency() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[16]);
    let a = g.f32(&[16]);
    let b = g.f32(&[16]);
    let c = g.f32(&[16]);
    g.op("aten.relu.default", &[x, a]);
    g.op("aten.neg.default", &[a, b]);
    g.op("aten.abs.default", &[b, c]);
    g.output(c);
    let d = g.build().unwrap();
    assert_eq!(d.recording_stats(), (3, 2));
}
