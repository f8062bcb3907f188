//! Real programs exported by VulkanPartitioner, run through the Rust API: every Vulkan
//! delegate blob of every fixture (`delegate<k>.bin`, named data in `named/`) runs on the
//! default device and is compared with that delegate's own inputs/outputs in PyTorch eager
//! (`delegate<k>_input*.npy`, `delegate<k>_expected*.npy`, saved by export_fixtures.py).
mod common;
#[path = "common/npy.rs"]
mod npy;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use etvk::runtime::{CompileSpecs, Delegate, InputValue};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.pte").exists())
        .collect();
    dirs.sort();
    dirs
}

fn numbered(dir: &Path, stem: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir.join(format!("{stem}{i}.npy")))
        .take_while(|p| p.exists())
        .collect()
}

fn named_data(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut map = HashMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("named")) {
        for e in entries {
            let p = e.unwrap().path();
            let key = p.file_stem().unwrap().to_string_lossy().into_owned();
            map.insert(key, std::fs::read(&p).unwrap());
        }
    }
    map
}

#[test]
fn every_delegate_matches_pytorch() {
    let mut ran = Vec::new();
    for dir in fixtures() {
        let named = named_data(&dir);
        for k in 0.. {
            let blob_path = dir.join(format!("delegate{k}.bin"));
            if !blob_path.exists() {
                break;
            }
            let what = format!("{} delegate {k}", dir.display());
            let blob = std::fs::read(&blob_path).unwrap();
            let mut delegate = Delegate::init(&blob, Some(&named), &CompileSpecs::default())
                .unwrap_or_else(|e| panic!("{what}: init failed: {e}"));
            let inputs: Vec<InputValue> = numbered(&dir, &format!("delegate{k}_input"))
                .iter()
                .map(|p| InputValue::Tensor(npy::read_npy(p)))
                .collect();
            let expected = numbered(&dir, &format!("delegate{k}_expected"));
            assert_eq!(delegate.num_inputs(), inputs.len(), "{what}: input count");
            assert_eq!(
                delegate.num_outputs(),
                expected.len(),
                "{what}: output count"
            );
            let outputs = delegate
                .run(&inputs)
                .unwrap_or_else(|e| panic!("{what}: execute failed: {e}"));
            for (i, (got, want)) in outputs.iter().zip(&expected).enumerate() {
                let want = npy::read_npy(want);
                assert_eq!(got.sizes, want.sizes, "{what}: output {i} sizes");
                common::assert_close(
                    &got.to_f32_vec(),
                    &want.to_f32_vec(),
                    1e-4,
                    1e-4,
                    &format!("{what}: output {i}"),
                );
            }
            ran.push(format!(
                "{}#{k}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        ran.len() >= 8,
        "expected every fixture's delegates to run, ran {ran:?}"
    );
    eprintln!("delegates run through the Rust API: {ran:?}");
}
