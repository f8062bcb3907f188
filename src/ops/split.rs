//! When a dot product is long and there are few of them, one invocation per output leaves a GPU
//! mostly idle while each invocation walks its whole reduction serially. In the split layout
//! a 64-wide workgroup computes one output: each lane folds a strided slice of the reduction
//! and the lanes merge in shared memory (conv2d and matmul). Software drivers run workgroups
//! on a few CPU threads, where the split only adds barriers, so they keep the plain layout.

use crate::gpu::DeviceKind;
use crate::graph::OpBuilder;

/// Environment override: `always`, `never` or `auto` (the default heuristic).
pub const SPLIT_ENV: &str = "ETVK_SPLIT_REDUCTION";

/// Lanes per output in the split layout (the shaders' workgroup size).
pub const SPLIT_LANES: usize = 64;

/// Reductions shorter than this stay in one invocation.
const MIN_LEN: usize = 128;
/// Up to this many outputs, a reduction of MIN_LEN or more is split...
const FEW_OUTPUTS: usize = 32 * 1024;
/// ...and up to this many, a reduction of LONG_LEN or more (measured on an H200: mobilenet_v2
/// 3.4 -> 1.8 ms, a 4-block transformer encoder with 49K- and 147K-output matmuls 5.0 ->
/// 2.6 ms; splitting everything made mobilenet_v2 7.0 ms).
const MAX_OUTPUTS: usize = 256 * 1024;
const LONG_LEN: usize = 384;

/// Which ops may split reductions with many outputs: matmul reads A's rows and (transposed)
/// weights contiguously, so 64 lanes coalesce; conv2d's lanes walk (channel, kh, kw) and read
/// scattered input, which made resnet18 slower (H200: 4.8 -> 8.3 ms) once its 100K-200K
/// output 3x3 convolutions split.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    Contiguous,
    Scattered,
}

/// What `ETVK_SPLIT_REDUCTION` forces: `Some(true)` for `always` (every op that has a GPU
/// layout takes it, so tests run it on lavapipe), `Some(false)` for `never`, `None` otherwise
/// (each op's own rule for the device).
pub fn forced() -> Option<bool> {
    match std::env::var(SPLIT_ENV).as_deref() {
        Ok("always") => Some(true),
        Ok("never") => Some(false),
        _ => None,
    }
}

/// Whether ops take their GPU layout (workgroups sharing a reduction, small tiles): on GPUs,
/// unless `ETVK_SPLIT_REDUCTION` forces either.
pub fn gpu_layout(b: &OpBuilder) -> bool {
    forced().unwrap_or(b.caps().kind != DeviceKind::Cpu)
}

/// Whether `outputs` dot products of length `len` use the split layout on this device.
pub fn use_split(b: &OpBuilder, outputs: usize, len: usize, reads: Reads) -> bool {
    let fits = outputs
        .checked_mul(SPLIT_LANES)
        .is_some_and(|w| w <= i32::MAX as usize);
    let wanted = match forced() {
        Some(always) => always && len > 1,
        None => {
            b.caps().kind != DeviceKind::Cpu
                && ((len >= MIN_LEN && outputs <= FEW_OUTPUTS)
                    || (reads == Reads::Contiguous && len >= LONG_LEN && outputs <= MAX_OUTPUTS))
        }
    };
    wanted && fits
}
