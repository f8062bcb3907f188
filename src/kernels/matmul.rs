//! Matrix-product kernels.

use super::{read, read_texels, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `matmul.comp`: out[b,m,n] = beta * bias(m,n) + alpha * sum_k A[b,m,k] * B(k,n).
    pub struct MatmulParams {
        count: u32,
        m: i32,
        k: i32,
        n: i32,
        a_batch_stride: i32,
        b_batch_stride: i32,
        b_transposed: i32,
        has_bias: i32,
        alpha: f32,
        beta: f32,
        bias_stride_m: i32,
        bias_stride_n: i32,
        split: i32,
    }
}
pub static MATMUL: Kernel<MatmulParams> = Kernel::new(
    &shaders::MATMUL,
    &[write("Out"), read("A"), read("B"), read("Bias")],
);

kernel_params! {
    /// `gemm.comp`: a register-tiled product over vec4s (K and N multiples of 4); sizes in
    /// vec4s where they say so.
    pub struct GemmParams {
        m: u32,
        k4: u32,
        n4: u32,
        a_batch_stride4: u32,
        b_batch_stride4: u32,
        has_bias: i32,
        alpha: f32,
        beta: f32,
        bias_sm: u32,
        bias_sn: u32,
    }
}
kernel_params! {
    /// `gemm.comp` specialization: rows per tile, B's orientation, lanes per tile along K.
    #[allow(non_snake_case)]
    pub struct GemmSpec { TM: i32, B_TRANSPOSED: i32, SPLIT: i32 }
}
pub static GEMM: Kernel<GemmParams, GemmSpec> = Kernel::new(
    &shaders::GEMM,
    &[write("Out"), read("A"), read("B"), read("Bias")],
);
/// `gemm_texel.comp`: as [`GEMM`], reading A and B through texel buffers.
pub static GEMM_TEXEL: Kernel<GemmParams, GemmSpec> = Kernel::new(
    &shaders::GEMM_TEXEL,
    &[
        write("Out"),
        read_texels("A"),
        read_texels("B"),
        read("Bias"),
    ],
);
