//! Matrix-product kernels.

use super::{read, read_texels, write, Kernel, Variants};
use crate::gpu::shaders;

kernel_params! {
    /// `gemm.comp`: a register-tiled product, sizes and strides in elements.
    pub struct GemmParams {
        m: u32,
        k: u32,
        n: u32,
        a_batch_stride: u32,
        b_batch_stride: u32,
        a_row_stride: u32,
        b_row_stride: u32,
        has_bias: i32,
        alpha: f32,
        beta: f32,
        bias_sm: u32,
        bias_sn: u32,
    }
}
kernel_params! {
    /// `gemm.comp` specialization: rows per tile, B's orientation, lanes per tile along K,
    /// whole-vec4 loads and stores (K, N and batch strides multiples of 4; any device) or
    /// gathered scalars (storage-buffer builds only), and an activation or a residual add
    /// taken over (`ACT`: 0 none, else `unary_f`'s op + 1; `RESIDUAL`: 1 adds binding 5).
    #[allow(non_snake_case)]
    pub struct GemmSpec {
        TM: i32,
        B_TRANSPOSED: i32,
        SPLIT: i32,
        ALIGNED: i32,
        ACT: i32,
        RESIDUAL: i32,
        TN: i32,
    }
}
/// `gemm.comp` and its variants.
pub static GEMM: Variants<GemmParams, GemmSpec> = Variants {
    buffer: Kernel::new(
        &shaders::GEMM,
        &[
            write("Out"),
            read("A"),
            read("B"),
            read("Bias"),
            read("Residual"),
        ],
    ),
    texel: Kernel::new(
        &shaders::GEMM_TEXEL,
        &[
            write("Out"),
            read_texels("A"),
            read_texels("B"),
            read("Bias"),
            read("Residual"),
        ],
    ),
    buffer_f16: Kernel::new(
        &shaders::GEMM_F16,
        &[
            write("Out").f16(),
            read("A").f16(),
            read("B").f16(),
            read("Bias").f16(),
            read("Residual").f16(),
        ],
    ),
    texel_f16: Kernel::new(
        &shaders::GEMM_TEXEL_F16,
        &[
            write("Out").f16(),
            read_texels("A").f16(),
            read_texels("B").f16(),
            read("Bias").f16(),
            read("Residual").f16(),
        ],
    ),
};
/// f32 activations read through texel views with f16 constant weights and bias (FLOAT16
/// programs on CPU devices, `Caps::f16_activations`).
pub static GEMM_TEXEL_W16: Kernel<GemmParams, GemmSpec> = Kernel::new(
    &shaders::GEMM_TEXEL_W16,
    &[
        write("Out"),
        read_texels("A"),
        read_texels("B").f16(),
        read("Bias").f16(),
        read("Residual"),
    ],
);
