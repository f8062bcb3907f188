//! Per-dispatch GPU timings: every recorded dispatch gets one entry per execute, in order,
//! with its op, kernel, bound shapes, ordered timestamps and (for convolutions) its flops.
mod common;
use common::*;

use etvk::runtime::InputValue;

#[test]
fn profile_has_one_timed_entry_per_dispatch() {
    let (cin, cout, h, w) = (3, 8, 6, 6);
    let mut rng = Rng::new(4);
    let mut g = GraphBuilder::new();
    let x = g.input(&[1, cin, h, w]);
    let cw = g.constant(&[cout, cin, 3, 3], &rng.vec(cout * cin * 9));
    let cb = g.constant(&[cout], &rng.vec(cout));
    let s = g.int_list(&[1, 1]);
    let p = g.int_list(&[1, 1]);
    let d = g.int_list(&[1, 1]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0]);
    let gr = g.int(1);
    let y = g.f32(&[1, cout, h, w]);
    g.op(
        "aten.convolution.default",
        &[x, cw, cb, s, p, d, t, op, gr, y],
    );
    let r = g.f32(&[1, cout, h, w]);
    g.op("aten.relu.default", &[y, r]);
    g.output(r);
    let mut dl = g.build().unwrap();
    assert!(dl.profile().is_empty(), "no profile before profiling is on");
    dl.set_profiling(true).unwrap();
    let input = InputValue::Tensor(f32_host(&[1, cin, h, w], &rng.vec(cin * h * w)));
    dl.execute(std::slice::from_ref(&input)).unwrap();
    let entries = dl.profile();
    let kernels: Vec<&str> = entries.iter().map(|e| e.kernel).collect();
    assert_eq!(kernels, dl.recorded_shaders().unwrap());
    // Devices that read storage buffers convolve the contiguous input as it is.
    let nchw = kernels[0] == "conv2d_tiled_nchw";
    let want: &[&str] = if nchw {
        &["conv2d_tiled_nchw", "elementwise4", "from_channels4"]
    } else {
        &[
            "to_channels4",
            "conv2d_tiled",
            "elementwise4",
            "from_channels4",
        ]
    };
    assert_eq!(common::kernels(&dl), want);
    let at = |i: usize| &entries[i - nchw as usize];
    let conv = at(1);
    assert_eq!(conv.op_name, "aten.convolution.default");
    assert_eq!(conv.flops, 2 * (cout * h * w * cin * 9) as u64);
    assert_eq!(conv.shapes[0], vec![1, cout, h, w]);
    assert_eq!(at(2).op_name, "aten.relu.default");
    assert_eq!(at(2).op_index, 1);
    for e in &entries {
        assert!(e.start_ns <= e.end_ns, "{e:?}");
        assert!(e.busy_ns <= e.end_ns - e.start_ns, "{e:?}");
    }
    // Every execute replaces the profile; turning it off clears it.
    dl.execute(&[input]).unwrap();
    assert_eq!(dl.profile().len(), want.len());
    dl.set_profiling(false).unwrap();
    assert!(dl.profile().is_empty());
}
