//! Every input a fuzz target ever crashed on (`tests/fuzz_regressions/<target>/`), replayed the
//! way that target runs it (`fuzz/fuzz_targets/`): each must now give a result or an `Error`,
//! never a panic. Plus each crash as a readable case. `docs/robustness.md` lists them.
// The test helpers under another name: `common` is the fuzz targets' here (mutate.rs uses it).
#[path = "common/mod.rs"]
mod helpers;

// The fuzz targets' own modules, compiled into this test.
#[path = "../fuzz/fuzz_targets/common.rs"]
mod common;
#[path = "../fuzz/fuzz_targets/mutate.rs"]
mod mutate;

use std::path::Path;

use etvk::ErrorKind;
use helpers::GraphBuilder;

/// What the target named `target` does with `data`.
fn replay(target: &str, data: &[u8]) {
    let named = common::named_data();
    match target {
        "parse_blob" => {
            let _ = etvk::format::parse_blob(data);
        }
        "dry_run" => {
            let (caps, specs) = common::config((data.len() % 251) as u8);
            let _ = etvk::runtime::dry_run::dry_run(data, Some(named), &specs, &caps);
        }
        "mutate_graph" => {
            if let Some((blob, config)) = mutate::mutated_blob(data) {
                let (caps, specs) = common::config(config);
                let _ = etvk::runtime::dry_run::dry_run(&blob, Some(named), &specs, &caps);
            }
        }
        other => panic!("tests/fuzz_regressions/{other}: no such fuzz target"),
    }
}

#[test]
fn inputs_that_crashed_a_fuzz_target_are_errors_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        for input in std::fs::read_dir(&target).unwrap() {
            let input = input.unwrap().path();
            eprintln!("{name}: {}", input.display());
            replay(&name, &std::fs::read(&input).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {}", root.display());
}

/// dry_run, `pixel_shuffle_upscale_factor_2e32.bin`: an upscale factor of 2^32 made
/// `factor * factor` wrap to 0, and `channels % 0` panicked.
#[test]
fn pixel_shuffle_with_a_huge_factor_is_refused() {
    for factor in [1i64 << 32, 1 << 62, i64::MAX] {
        let mut g = GraphBuilder::new();
        let x = g.input(&[1, 4, 2, 2]);
        let r = g.int(factor);
        let out = g.f32(&[1, 1, 4, 4]);
        g.op("aten.pixel_shuffle.default", &[x, r, out]);
        g.output(out);
        let err = g.build().err().expect("a factor of 2^32 or more");
        assert_eq!(err.kind, ErrorKind::InvalidProgram, "{err}");
        assert!(err.message.contains("too large"), "{err}");
    }
}

/// Found while fixing the above: with a zero dim, the element count said nothing about the
/// other dims, whose partial products could wrap. Such tensors are refused when parsed, and
/// such inputs at execute.
#[test]
fn zero_sized_tensors_with_huge_dims_are_refused() {
    let big = u32::MAX as usize;
    let mut g = GraphBuilder::new();
    let x = g.input(&[0, big, big, big]);
    let out = g.f32(&[0, big, big, big]);
    g.op("aten.relu.default", &[x, out]);
    g.output(out);
    let blob = etvk::format::write_blob(&g.graph, &[]);
    let err = etvk::format::parse_blob(&blob).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidProgram, "{err}");
    assert!(err.message.contains("overflows"), "{err}");
    assert!(!etvk::graph::fits_bound(&[0, big, big, big], &[4, 8, 8, 8]));
    assert!(etvk::graph::fits_bound(&[0, 8, 8, 8], &[4, 8, 8, 8]));
}
