//! The packed convolutions' register tiles and split reductions, forced one tiling at a time
//! (`ETVK_CONV_TILING`, see `src/ops/conv/packed.rs`) on every exported fixture that
//! convolves, so that tilings chosen only on some devices (two positions per split tile on
//! discrete GPUs, wide tiles on lavapipe) are checked against PyTorch on lavapipe too.
mod common;

use common::fixtures::{fixture_dirs, run_all};
use common::*;
use std::path::Path;

/// A ViT's patch embedding: an 8x8 kernel at stride 8 over 3 channels (one input block, so
/// split lanes fold kernel rows), with a batch of 2 and a width that leaves a partial tile,
/// against a CPU reference.
fn patch_embedding_matches() {
    let (xs, ws) = ([2, 3, 16, 24], [12, 3, 8, 8]);
    let mut rng = Rng::new(31);
    let (xv, wv, bv) = (rng.vec(2 * 3 * 16 * 24), rng.vec(12 * 3 * 64), rng.vec(12));
    let mut g = GraphBuilder::new();
    let x = g.input(&xs);
    let w = g.constant(&ws, &wv);
    let b = g.constant(&[12], &bv);
    let (s, p, d) = (
        g.int_list(&[8, 8]),
        g.int_list(&[0, 0]),
        g.int_list(&[1, 1]),
    );
    let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
    let out = g.f32(&[2, 12, 2, 3]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, p, d, t, op, groups, out],
    );
    g.output(out);
    let got = g.run(&[(&xs, &xv)]).unwrap();
    let win = Window {
        kernel: [8, 8],
        stride: [8, 8],
        padding: [0, 0],
        dilation: [1, 1],
    };
    let (want, _) = conv2d_ref(&xv, xs, &wv, ws, &bv, &win);
    assert_close(&got[0], &want, 1e-4, 1e-4, "patch embedding");
}

#[test]
fn fixtures_match_pytorch_under_every_tiling() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let dirs: Vec<_> = fixture_dirs(&root)
        .into_iter()
        .filter(|d| {
            let ops = std::fs::read_to_string(d.join("ops.txt")).unwrap_or_default();
            ops.contains("convolution") || ops.contains("conv_with_clamp")
        })
        .collect();
    patch_embedding_matches();
    // positions, output-channel blocks, split lanes.
    for tiling in ["2,1,4", "2,1,16", "4,1,8", "1,2,2", "8,2,1", "4,4,1"] {
        // The only test of this binary: setting the variable is race-free.
        std::env::set_var(etvk::ops::conv::CONV_TILING_ENV, tiling);
        patch_embedding_matches();
        let ran = run_all(dirs.clone());
        assert!(ran.len() >= 10, "expected many conv fixtures, ran {ran:?}");
        eprintln!("tiling {tiling}: {} fixtures", ran.len());
    }
}
