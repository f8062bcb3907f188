//! The split-reduction layout of conv2d and matmul (a workgroup per output, see
//! `src/ops/split.rs`) is chosen only on GPUs by default; this binary forces it on every
//! reduction of length > 1 and runs every exported fixture that convolves or multiplies
//! matrices, so that the layout is checked on lavapipe too.
mod common;

use common::fixtures::{fixture_dirs, run_all};
use std::path::Path;

#[test]
fn fixtures_match_pytorch_with_split_reductions() {
    // Every test of this binary wants the same value, so setting it is race-free.
    std::env::set_var(etvk::ops::split::SPLIT_ENV, "always");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let dirs: Vec<_> = fixture_dirs(&root)
        .into_iter()
        .filter(|d| {
            let ops = std::fs::read_to_string(d.join("ops.txt")).unwrap_or_default();
            [
                "convolution",
                "conv_with_clamp",
                "linear",
                "addmm",
                ".mm.",
                "bmm",
                "matmul",
            ]
            .iter()
            .any(|op| ops.contains(op))
        })
        .collect();
    let ran = run_all(dirs);
    assert!(
        ran.len() >= 20,
        "expected many conv/matmul fixtures, ran {ran:?}"
    );
    eprintln!("fixtures run with split reductions: {}", ran.len());
}
