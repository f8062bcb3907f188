//! Pooling kernels.

use super::{read, write, Kernel, Layout};
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
    /// `pool_max.comp`: planes [P, H, W] -> [P, OH, OW], optionally with indices. Also
    /// `pool_max_c4.comp`: channels-packed planes [N * C/4, H, W] of texels (`count` texels),
    /// indices contiguous [N, C, OH, OW] (`c` channels).
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
        c: u32,
    }
}
pub static POOL_MAX: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX,
    &[write("Out"), write("Idx"), read("In")],
);

/// With indices (contiguous i32).
pub static POOL_MAX_C4: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX_C4,
    &[
        write("Out").in_layout(Layout::Channels4),
        write("Idx"),
        read("In").in_layout(Layout::Channels4),
    ],
);
pub static POOL_MAX_C4_F16: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX_C4_F16,
    &[
        write("Out").in_layout(Layout::Channels4).f16(),
        write("Idx"),
        read("In").in_layout(Layout::Channels4).f16(),
    ],
);
/// Without indices: the output stands in for the (never written) indices binding.
pub static POOL_MAX_C4_NO_INDICES: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX_C4,
    &[
        write("Out").in_layout(Layout::Channels4),
        write("Idx").in_layout(Layout::Channels4),
        read("In").in_layout(Layout::Channels4),
    ],
);
pub static POOL_MAX_C4_F16_NO_INDICES: Kernel<PoolMaxParams> = Kernel::new(
    &shaders::POOL_MAX_C4_F16,
    &[
        write("Out").in_layout(Layout::Channels4).f16(),
        write("Idx").in_layout(Layout::Channels4).f16(),
        read("In").in_layout(Layout::Channels4).f16(),
    ],
);
