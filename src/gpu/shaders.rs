//! SPIR-V compiled at build time from `shaders/*.comp` (see `build.rs`).

/// One compute shader: a stable name (pipeline cache key) and its builds.
#[derive(Debug)]
pub struct Shader {
    pub name: &'static str,
    /// One build, or one per variant for a shader that holds several ops (`// variants: OP`).
    pub builds: &'static [ShaderBuild],
}

/// SPIR-V of one shader (variant), built twice: params in a storage buffer at binding 0
/// (`spirv`), and params in push constants (`spirv_push`).
#[derive(Debug)]
pub struct ShaderBuild {
    /// `None` for a shader without variants, else the `OP` it was compiled with.
    pub variant: Option<i32>,
    pub spirv: &'static [u8],
    pub spirv_push: &'static [u8],
}

impl Shader {
    /// The build for `variant`, if the shader has it.
    pub fn build(&self, variant: Option<i32>) -> Option<&'static ShaderBuild> {
        self.builds.iter().find(|b| b.variant == variant)
    }
}

/// Params structs up to this size travel as push constants: 128 bytes, which every Vulkan
/// device offers (`maxPushConstantsSize` >= 128). Larger ones go to a storage buffer.
pub const PUSH_PARAMS_MAX_BYTES: usize = 128;

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));
