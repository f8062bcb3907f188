//! The packed convolutions' register tiles and split reductions, forced one tiling at a time
//! (`ETVK_CONV_TILING`, see `src/ops/conv/packed.rs`) on every exported fixture that
//! convolves, so that tilings chosen only on some devices (two positions per split tile on
//! discrete GPUs, wide tiles on lavapipe) are checked against PyTorch on lavapipe too.
mod common;

use common::fixtures::{fixture_dirs, run_all};
use std::path::Path;

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
    // positions, output-channel blocks, split lanes.
    for tiling in ["2,1,4", "2,1,16", "4,1,8", "1,2,2", "8,2,1", "4,4,1"] {
        // The only test of this binary: setting the variable is race-free.
        std::env::set_var(etvk::ops::conv::CONV_TILING_ENV, tiling);
        let ran = run_all(dirs.clone());
        assert!(ran.len() >= 10, "expected many conv fixtures, ran {ran:?}");
        eprintln!("tiling {tiling}: {} fixtures", ran.len());
    }
}
