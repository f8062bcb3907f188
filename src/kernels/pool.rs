//! Pooling kernels.

use super::{read, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `pool_avg.comp`: planes [P, H, W] -> [P, OH, OW].
    pub struct PoolAvgParams {
        count: u32,
        h: i32,
        w: i32,
        oh: i32,
        ow: i32,
        kh: i32,
        kw: i32,
        sh: i32,
        sw: i32,
        ph: i32,
        pw: i32,
        count_include_pad: i32,
        divisor_override: i32,
    }
}
pub static POOL_AVG: Kernel<PoolAvgParams> =
    Kernel::new(&shaders::POOL_AVG, &[write("Out"), read("In")]);

kernel_params! {
    /// `pool_max.comp`: planes [P, H, W] -> [P, OH, OW], optionally with indices.
    pub struct PoolMaxParams {
        count: u32,
        h: i32,
        w: i32,
        oh: i32,
        ow: i32,
        kh: i32,
        kw: i32,
        sh: i32,
        sw: i32,
        ph: i32,
        pw: i32,
        dh: i32,
        dw: i32,
        write_indices: i32,
    }
}
pub static POOL_MAX: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX,
    &[write("Out"), write("Idx"), read("In")],
);
