//! FLOAT16 programs (exported with `force_fp16`) keep their weights at 2 bytes on devices with
//! 16-bit storage, and on GPUs their activations too: the same convolution exported in fp32
//! and fp16 packs exactly half the weight bytes, and runs on the f16 kernel builds (CPU
//! devices: the _w16 builds, f32 activations; results: tests/fixtures_rust.rs, at the fp16
//! fixtures' tolerance).
mod common;

use common::fixtures::named_data;
use etvk::runtime::{CompileSpecs, Delegate};
use std::path::Path;

fn load(case: &str) -> Delegate {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/op_fixtures")
        .join(case);
    let blob = std::fs::read(dir.join("delegate0.bin")).unwrap();
    Delegate::init(&blob, Some(&named_data(&dir)), &CompileSpecs::default()).unwrap()
}

#[test]
fn fp16_weights_are_half_the_bytes() {
    let fp32 = load("conv/conv2d_relu6");
    let fp16 = load("fp16/conv/conv2d_relu6");
    let f16_storage = etvk::gpu::Context::shared().unwrap().caps().f16_storage;
    let (w32, w16) = (
        fp32.memory_report().weights_bytes,
        fp16.memory_report().weights_bytes,
    );
    // Conv 3 -> 5, 3x3: 4x4 blocks of [8 out][4 in][9 taps] and a bias padded to 8.
    assert_eq!(w32, (8 * 4 * 9 + 8) * 4);
    if !f16_storage {
        eprintln!("skipped: the device has no 16-bit storage (fp16 programs run in f32)");
        assert_eq!(w16, w32);
        return;
    }
    assert_eq!(w16 * 2, w32);
    // GPUs run the f16 builds (f16 activations too); CPU devices the _w16 builds (f16
    // weights and bias through texel views, f32 activations), unless the tensors are too
    // large for texel views.
    let cpu = etvk::gpu::Context::shared().unwrap().caps().kind == etvk::gpu::DeviceKind::Cpu;
    let build = if cpu { "_texel_w16" } else { "_f16" };
    let kernels = common::kernels(&fp16);
    assert!(
        kernels
            .iter()
            .any(|k| k.starts_with("conv2d_") && k.ends_with(build)),
        "{kernels:?}"
    );
    let fp16_activations = fp16.memory_report().activations_bytes;
    let fp32_activations = fp32.memory_report().activations_bytes;
    if cpu {
        assert_eq!(fp16_activations, fp32_activations);
    } else {
        assert!(fp16_activations < fp32_activations);
    }
}
