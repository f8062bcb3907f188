//! Direct I/O (`ETVK_DIRECT_IO`, on by default on discrete GPUs): graph inputs in device memory
//! the host maps and graph outputs in cached host memory, written and read in place, with no
//! transfer copies around the dispatches. `always` forces it here so that lavapipe checks the
//! path too: every fixture still matches PyTorch with the memory plan holding, the
//! accounting is exact, and outputs that kernels also read keep their copies.
mod common;
use common::fixtures::{fixture_dirs, fixtures, run_all_with};
use common::*;
use etvk::gpu::memory::MemTag;
use etvk::runtime::{CompileSpecs, InputValue};
use std::path::Path;

const F: u64 = 4;

/// The only test of this binary: setting the variable is race-free.
#[test]
fn inputs_and_outputs_in_place() {
    std::env::set_var(etvk::runtime::load_options::DIRECT_IO_ENV, "always");
    every_fixture_matches();
    accounting_is_exact();
    outputs_kernels_read_keep_their_copies();
}

fn every_fixture_matches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = fixtures();
    dirs.extend(fixture_dirs(&root.join("tests/op_fixtures")));
    // Activations in device memory (transfer buffers otherwise) and in mapped memory.
    for direct_upload in [false, true] {
        let specs = CompileSpecs {
            direct_upload: Some(direct_upload),
            ..Default::default()
        };
        let ran = run_all_with(dirs.clone(), &specs);
        assert!(ran.len() >= 20, "ran {ran:?}");
    }
}

/// common::mlp (x [4, 16] -> linear 32 -> relu -> linear 8 -> y): x and y have buffers of
/// their own (the I/O tag, exactly their bytes), the arena holds h2 only (the first linear
/// applies the relu as it stores: h1 is never stored).
fn accounting_is_exact() {
    let m = mlp();
    let specs = CompileSpecs {
        direct_upload: Some(false),
        ..Default::default()
    };
    let mut d = m.g.build_with(&specs).unwrap();
    let xt = etvk::runtime::HostTensor::from_f32(vec![4, 16], &m.x).unwrap();
    let got = d.run(&[InputValue::Tensor(xt)]).unwrap()[0].to_f32_vec();
    assert_close(&got, &m.want, 1e-4, 1e-4, "mlp");
    let s = d.memory_stats();
    assert_eq!(s.peak_of(MemTag::Io), (4 * 16 + 4 * 8) * F);
    assert_eq!(s.peak_of(MemTag::Activation), 4 * 32 * F);
    assert_eq!(d.memory_report().activations_bytes, 4 * 32 * F);
    assert!(d.overlapping_live_activations().unwrap().is_empty());
}

/// y = relu(x) is an output that the add also reads: it stays in device memory and is
/// copied out; z is written in place.
fn outputs_kernels_read_keep_their_copies() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[3, 5]);
    let y = g.f32(&[3, 5]);
    g.op("aten.relu.default", &[x, y]);
    let (alpha, z) = (g.int(1), g.f32(&[3, 5]));
    g.op("aten.add.Tensor", &[y, y, alpha, z]);
    g.output(y);
    g.output(z);
    let xv = Rng::new(9).vec(15);
    let got = g.run(&[(&[3, 5], &xv)]).unwrap();
    let relu: Vec<f32> = xv.iter().map(|v| v.max(0.0)).collect();
    let twice: Vec<f32> = relu.iter().map(|v| 2.0 * v).collect();
    assert_close(&got[0], &relu, 0.0, 0.0, "y");
    assert_close(&got[1], &twice, 0.0, 0.0, "z");
}
