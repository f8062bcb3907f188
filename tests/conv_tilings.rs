//! The packed convolutions' register tiles and split reductions, forced one tiling at a time
//! (`ETVK_CONV_TILING`, see `src/ops/conv/packed.rs`) on every exported fixture that
//! convolves, so that tilings chosen only on some devices (two positions per split tile on
//! discrete GPUs, wide tiles on lavapipe) are checked against PyTorch on lavapipe too.
mod common;

use common::fixtures::{fixture_dirs, run_all};
use common::*;
use std::path::Path;

/// A convolution whose windows do not overlap: `cin` channels of `[2, cin, h, 24]`, a
/// square kernel `k` at stride `stride`, padding `pad_h` along H only (none along W, so
/// texel devices read the input in whole texels of 4 pixels).
struct Patches {
    cin: usize,
    h: usize,
    k: usize,
    stride: usize,
    pad_h: usize,
}

impl Patches {
    /// A ViT's patch embedding: an 8x8 kernel at stride 8 over 3 channels (one input block,
    /// so split lanes fold kernel rows) on x [2, 3, 16, 24] (a width that leaves a partial
    /// tile): output [2, co, 2, 3].
    const VIT: Patches = Patches {
        cin: 3,
        h: 16,
        k: 8,
        stride: 8,
        pad_h: 0,
    };
    /// Two input blocks, gaps between windows and padded rows: output [2, co, 2, 3].
    const SPARSE: Patches = Patches {
        cin: 8,
        h: 17,
        k: 4,
        stride: 8,
        pad_h: 1,
    };

    fn x_sizes(&self) -> [usize; 4] {
        [2, self.cin, self.h, 24]
    }
}

/// The convolution of `p` with `co` output channels: (graph, its output [2, co, 2, 3], x,
/// and the CPU reference's output).
fn patch_conv(p: &Patches, co: usize, seed: u64) -> (GraphBuilder, usize, Vec<f32>, Vec<f32>) {
    let (xs, ws) = (p.x_sizes(), [co, p.cin, p.k, p.k]);
    let mut rng = Rng::new(seed);
    let (xv, wv, bv) = (
        rng.vec(xs.iter().product()),
        rng.vec(ws.iter().product()),
        rng.vec(co),
    );
    let mut g = GraphBuilder::new();
    let x = g.input(&xs);
    let w = g.constant(&ws, &wv);
    let b = g.constant(&[co], &bv);
    let st = p.stride as i64;
    let (s, pd, d) = (
        g.int_list(&[st, st]),
        g.int_list(&[p.pad_h as i64, 0]),
        g.int_list(&[1, 1]),
    );
    let (t, op, groups) = (g.bool(false), g.int_list(&[0, 0]), g.int(1));
    let out = g.f32(&[2, co, 2, 3]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, pd, d, t, op, groups, out],
    );
    let win = Window {
        kernel: [p.k as i64; 2],
        stride: [st; 2],
        padding: [p.pad_h as i64, 0],
        dilation: [1, 1],
    };
    let (want, _) = conv2d_ref(&xv, xs, &wv, ws, &bv, &win);
    (g, out, xv, want)
}

/// A ViT's patch embedding of `co` channels ([`Patches::VIT`]).
fn patch_embedding(co: usize, seed: u64) -> (GraphBuilder, usize, Vec<f32>, Vec<f32>) {
    patch_conv(&Patches::VIT, co, seed)
}

/// Convolutions whose windows do not overlap, alone against the CPU reference: every device
/// reads the contiguous graph input as it is, no conversion dispatch first.
fn patch_embedding_matches() {
    for (what, p) in [("ViT", Patches::VIT), ("sparse", Patches::SPARSE)] {
        let (mut g, out, xv, want) = patch_conv(&p, 12, 31);
        g.output(out);
        let ks = kernels(&g.build().unwrap());
        assert!(!ks.iter().any(|k| k == "to_channels4"), "{what}: {ks:?}");
        let got = g.run(&[(&p.x_sizes(), &xv)]).unwrap();
        assert_close(&got[0], &want, 1e-4, 1e-4, what);
    }
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
    // (4,2,1: the GPUs' tile for convolutions with many outputs, and CPU devices' for f16
    // weights.)
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
