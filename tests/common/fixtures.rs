//! Running exported fixtures (`delegate<k>.bin`, `named/`, `delegate<k>_input*.npy`,
//! `delegate<k>_expected*.npy`, optional `tolerance.txt`) through the Rust API and comparing
//! with PyTorch eager. Shared by the fixture tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use etvk::runtime::{CompileSpecs, Delegate, InputValue};

use super::npy;

/// Every directory under `root` (recursively) that holds a `delegate0.bin`.
pub fn fixture_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("delegate0.bin").exists() {
            out.push(dir.clone());
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            stack.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_dir()));
        }
    }
    out.sort();
    out
}

pub fn fixtures() -> Vec<PathBuf> {
    fixture_dirs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

/// `atol rtol` from a fixture's optional `tolerance.txt`, else 1e-4 both.
fn tolerance(dir: &Path) -> (f32, f32) {
    std::fs::read_to_string(dir.join("tolerance.txt"))
        .ok()
        .and_then(|t| {
            let v: Vec<f32> = t
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() == 2).then(|| (v[0], v[1]))
        })
        .unwrap_or((1e-4, 1e-4))
}

fn numbered(dir: &Path, stem: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir.join(format!("{stem}{i}.npy")))
        .take_while(|p| p.exists())
        .collect()
}

pub fn named_data(dir: &Path) -> HashMap<String, Vec<u8>> {
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

/// Runs every delegate blob of every fixture directory; returns the names that ran.
pub fn run_all(dirs: Vec<PathBuf>) -> Vec<String> {
    run_all_with(dirs, &CompileSpecs::default())
}

/// As [`run_all`], with `specs`. After each run it also replays the recording's dispatches
/// against the memory plan: no two live activations may share bytes.
pub fn run_all_with(dirs: Vec<PathBuf>, specs: &CompileSpecs) -> Vec<String> {
    let mut ran = Vec::new();
    for dir in dirs {
        let (atol, rtol) = tolerance(&dir);
        let named = named_data(&dir);
        for k in 0.. {
            let blob_path = dir.join(format!("delegate{k}.bin"));
            if !blob_path.exists() {
                break;
            }
            let what = format!("{} delegate {k}", dir.display());
            let blob = std::fs::read(&blob_path).unwrap();
            let mut delegate = Delegate::init(&blob, Some(&named), specs)
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
            let clashes = delegate
                .overlapping_live_activations()
                .unwrap_or_else(|e| panic!("{what}: replay failed: {e}"));
            assert!(clashes.is_empty(), "{what}: {clashes:?}");
            let mut max_err = 0f32;
            for (i, (got, want)) in outputs.iter().zip(&expected).enumerate() {
                let want = npy::read_npy(want);
                assert_eq!(got.sizes, want.sizes, "{what}: output {i} sizes");
                let (got, want) = (got.to_f32_vec(), want.to_f32_vec());
                super::assert_close(&got, &want, atol, rtol, &format!("{what}: output {i}"));
                for (g, w) in got.iter().zip(&want) {
                    if g.is_finite() && w.is_finite() {
                        max_err = max_err.max((g - w).abs());
                    }
                }
            }
            // The measured error next to the stated tolerance (`--nocapture` shows it).
            eprintln!("{what}: max |etvk - eager| {max_err:.3e} (atol {atol:e}, rtol {rtol:e})");
            ran.push(format!("{}#{k}", dir.display()));
        }
    }
    ran
}
