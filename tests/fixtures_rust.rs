//! Real programs exported by VulkanPartitioner, run through the Rust API: every Vulkan
//! delegate blob of every fixture (`delegate<k>.bin`, named data in `named/`) runs on the
//! default device and is compared with that delegate's own inputs/outputs in PyTorch eager
//! (`delegate<k>_input*.npy`, `delegate<k>_expected*.npy`, saved by export_fixtures.py).
mod common;

use common::fixtures::{fixture_dirs, fixtures, run_all, run_all_with};
use std::path::Path;

#[test]
fn every_model_delegate_matches_pytorch() {
    let ran = run_all(fixtures());
    assert!(
        ran.len() >= 8,
        "expected every fixture's delegates to run, ran {ran:?}"
    );
    eprintln!("delegates run through the Rust API: {ran:?}");
}

/// Single-op programs exported per op family (tests/op_fixtures/<family>/<case>/).
#[test]
fn every_op_fixture_matches_pytorch() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/op_fixtures");
    let ran = run_all(fixture_dirs(&root));
    eprintln!("op fixtures run through the Rust API: {}", ran.len());
}

/// Every program again with the exporter's shared objects (its `mem_obj_id`s, each object
/// sized by its largest user) instead of the lifetime arena that `auto` mostly picks: the
/// results match and the replay finds no two live activations in one object.
#[test]
fn every_program_matches_with_the_exporters_shared_objects() {
    let specs = etvk::runtime::CompileSpecs {
        activation_planner: Some(1),
        ..Default::default()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = fixtures();
    dirs.extend(fixture_dirs(&root.join("tests/op_fixtures")));
    let ran = run_all_with(dirs, &specs);
    assert!(ran.len() >= 150, "ran {}", ran.len());
}
