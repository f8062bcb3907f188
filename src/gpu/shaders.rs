//! SPIR-V compiled at build time from `shaders/*.comp` (see `build.rs`).

/// One compute shader: a stable name (pipeline cache key) and its SPIR-V bytes.
#[derive(Debug)]
pub struct Shader {
    pub name: &'static str,
    pub spirv: &'static [u8],
}

/// Threads per workgroup along x in every shader (`shaders/common.glsl`).
pub const WORKGROUP_SIZE: u32 = 64;

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));
