//! Normalization kernels.

use super::{read, read_texels, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `norm_batch.comp`: batch norm with running statistics.
    pub struct NormBatchParams {
        count: u32,
        channels: i32,
        inner: i32,
        eps: f32,
        has_weight: i32,
        has_bias: i32,
    }
}
pub static NORM_BATCH: Kernel<NormBatchParams> = Kernel::new(
    &shaders::NORM_BATCH,
    &[
        write("Out"),
        read("In"),
        read("Mean"),
        read("Var"),
        read("W"),
        read("B"),
    ],
);

kernel_params! {
    /// `norm_rows.comp`: layer / group / RMS norm, one 64-wide workgroup per row.
    pub struct NormRowsParams {
        count: u32,
        d: i32,
        eps: f32,
        has_weight: i32,
        has_bias: i32,
        wrap: i32,
        div: i32,
        mode: i32,
    }
}
kernel_params! {
    /// `norm_rows.comp` specialization: invocations per row (64: a workgroup, or 1), and
    /// whether rows are whole vec4s with the affine index c = k.
    #[allow(non_snake_case)]
    pub struct NormRowsSpec {
        LANES: i32,
        VEC4: i32,
    }
}
pub static NORM_ROWS: Kernel<NormRowsParams, NormRowsSpec> = Kernel::new(
    &shaders::NORM_ROWS,
    &[
        write("Out"),
        write("Mean"),
        write("Rstd"),
        read("In"),
        read("W"),
        read("B"),
    ],
);
/// `norm_rows_texel.comp`: the VEC4 build reading the input through a texel buffer (CPU
/// devices, where a texel fetch is one gather and a storage-buffer load a loop over lanes).
pub static NORM_ROWS_TEXEL: Kernel<NormRowsParams, NormRowsSpec> = Kernel::new(
    &shaders::NORM_ROWS_TEXEL,
    &[
        write("Out"),
        write("Mean"),
        write("Rstd"),
        read_texels("In"),
        read("W"),
        read("B"),
    ],
);
