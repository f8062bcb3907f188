//! Shared by the fuzz targets: the committed fixtures (delegate blobs and their named data) and
//! the device descriptions the dry runs plan for.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use etvk::gpu::{Caps, DeviceKind};
use etvk::runtime::CompileSpecs;

/// `tests/` of the repository (`ETVK_FUZZ_TESTS` when the binaries run elsewhere). This file
/// is also part of `tests/robustness_fuzz.rs`, whose manifest is the repository's.
pub fn tests_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ETVK_FUZZ_TESTS") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("fuzz").is_dir() {
        manifest.join("tests")
    } else {
        manifest.join("../tests")
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every file under tests/fixtures, tests/op_fixtures and tests/op_fixtures_pending, in a fixed
/// order (walked once for the blobs and the named data).
fn fixture_files() -> &'static [PathBuf] {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut files = Vec::new();
        for sub in ["fixtures", "op_fixtures", "op_fixtures_pending"] {
            walk(&tests_dir().join(sub), &mut files);
        }
        files
    })
}

/// Every committed delegate blob (`delegate<k>.bin` under tests/fixtures, tests/op_fixtures,
/// tests/op_fixtures_pending), in a fixed order.
pub fn fixture_blobs() -> &'static [(PathBuf, Vec<u8>)] {
    static BLOBS: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    BLOBS.get_or_init(|| {
        fixture_files()
            .iter()
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                name.is_some_and(|n| n.starts_with("delegate") && n.ends_with(".bin"))
            })
            .filter_map(|p| std::fs::read(p).ok().map(|b| (p.clone(), b)))
            .collect()
    })
}

/// The named data of every fixture in one map (the exporter's keys are content hashes, so
/// fixtures never disagree on one).
pub fn named_data() -> &'static HashMap<String, Vec<u8>> {
    static NAMED: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    NAMED.get_or_init(|| {
        fixture_files()
            .iter()
            .filter(|p| {
                p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "named")
            })
            .filter_map(|p| {
                let key = p.file_stem()?.to_string_lossy().into_owned();
                Some((key, std::fs::read(p).ok()?))
            })
            .collect()
    })
}

/// One of a few device descriptions and load settings, picked by `selector`: a CPU device
/// (texel reads, unified memory), a discrete GPU (storage-buffer reads), a phone-like GPU
/// without 16-bit storage; each planner.
pub fn config(selector: u8) -> (Caps, CompileSpecs) {
    let mut caps = match selector % 3 {
        0 => Caps::typical(DeviceKind::Cpu),
        1 => Caps::typical(DeviceKind::Discrete),
        _ => {
            let mut c = Caps::typical(DeviceKind::Integrated);
            c.f16_storage = false;
            c.max_compute_work_group_invocations = 256;
            c.max_compute_work_group_size = [256, 256, 64];
            c
        }
    };
    if selector & 0x80 != 0 {
        caps.max_push_constants_size = 64;
    }
    let specs = CompileSpecs {
        activation_planner: Some(u32::from(selector / 3 % 3)),
        force_fp16: selector & 0x40 != 0,
        ..CompileSpecs::default()
    };
    (caps, specs)
}
