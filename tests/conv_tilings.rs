//! The packed convolutions' register tiles and split reductions, forced one tiling at a time
//! (`ETVK_CONV_TILING`, see `src/ops/conv/packed.rs`) on every exported fixture that
//! convolves, so that tilings chosen only on some devices (two positions per split tile on
//! discrete GPUs, wide tiles on lavapipe) are checked against PyTorch on lavapipe too.
mod common;

use common::fixtures::{fixture_dirs, run_all};
use common::*;
use std::path::Path;

/// A ViT's patch embedding of `co` channels: an 8x8 kernel at stride 8 over 3 channels (one
/// input block, so split lanes fold kernel rows) on x [2, 3, 16, 24] (a width that leaves a
/// partial tile): (graph, its output [2, co, 2, 3], x, and the CPU reference's output).
fn patch_embedding(co: usize, seed: u64) -> (GraphBuilder, usize, Vec<f32>, Vec<f32>) {
    let (xs, ws) = ([2, 3, 16, 24], [co, 3, 8, 8]);
    let mut rng = Rng::new(seed);
    let (xv, wv, bv) = (rng.vec(2 * 3 * 16 * 24), rng.vec(co * 3 * 64), rng.vec(co));
    let mut g = GraphBuilder::new();
    let x = g.input(&xs);
    let w = g.constant(&ws, &wv);
    let b = g.constant(&[co], &bv);
    let (s, p, d) = (
        g.int_list(&[8, 8]),
        g.int_list(&[0, 0]),
        g.int_list(&[1, 1]),
    );
    let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
    let out = g.f32(&[2, co, 2, 3]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, p, d, t, op, groups, out],
    );
    let win = Window {
        kernel: [8, 8],
        stride: [8, 8],
        padding: [0, 0],
        dilation: [1, 1],
    };
    let (want, _) = conv2d_ref(&xv, xs, &wv, ws, &bv, &win);
    (g, out, xv, want)
}

/// The patch embedding alone against the CPU reference. Its windows do not overlap, so every
/// device reads the contiguous graph input as it is: no conversion dispatch first.
fn patch_embedding_matches() {
    let (mut g, out, xv, want) = patch_embedding(12, 31);
    g.output(out);
    let ks = kernels(&g.build().unwrap());
    assert!(!ks.iter().any(|k| k == "to_channels4"), "{ks:?}");
    let got = g.run(&[(&[2, 3, 16, 24], &xv)]).unwrap();
    assert_close(&got[0], &want, 1e-4, 1e-4, "patch embedding");
}

/// The patch embedding's tokens: conv [2, C, 2, 3] -> view [2, C, 6] -> permute [0, 2, 1]
/// -> [2, 6, C]. With C a multiple of 4 and nothing else reading the convolution, it stores
/// the tokens itself (no unpacking copy, no gather); with C = 6, or the convolution's output
/// also a graph output, the copies stay. Against conv2d_ref + permute_ref.
fn patch_tokens_match() {
    for (co, conv_out_too) in [(12, false), (6, false), (12, true)] {
        let what = format!("{co} channels, convolution an output {conv_out_too}");
        let (mut g, out, xv, want) = patch_embedding(co, 32);
        let flat = view_op(&mut g, out, &[2, co, 6]);
        let dims = g.int_list(&[0, 2, 1]);
        let tokens = g.f32(&[2, 6, co]);
        g.op("aten.permute_copy.default", &[flat, dims, tokens]);
        g.output(tokens);
        if conv_out_too {
            g.output(out);
        }
        let ks = kernels(&g.build().unwrap());
        let stored = co % 4 == 0 && !conv_out_too;
        let copies = ks
            .iter()
            .any(|k| k == "from_channels4" || k == "shape_gather");
        assert_eq!(copies, !stored, "{what}: {ks:?}");
        let got = g.run(&[(&[2, 3, 16, 24], &xv)]).unwrap();
        let (want_tokens, _) = permute_ref(&want, &[2, co, 6], &[0, 2, 1]);
        assert_close(&got[0], &want_tokens, 1e-4, 1e-4, &what);
        if conv_out_too {
            assert_close(&got[1], &want, 1e-4, 1e-4, &what);
        }
    }
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
    patch_tokens_match();
    // positions, output-channel blocks, split lanes.
    // (4,2,1: the GPUs' tile for convolutions with many outputs.)
    for tiling in [
        "2,1,4", "2,1,16", "4,1,8", "1,2,2", "8,2,1", "4,4,1", "4,2,1",
    ] {
        // The only test of this binary: setting the variable is race-free.
        std::env::set_var(etvk::ops::conv::CONV_TILING_ENV, tiling);
        patch_embedding_matches();
        patch_tokens_match();
        let ran = run_all(dirs.clone());
        assert!(ran.len() >= 10, "expected many conv fixtures, ran {ran:?}");
        eprintln!("tiling {tiling}: {} fixtures", ran.len());
    }
}
