//! Matrix-product kernels.

use super::{read, write, Kernel};
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
