//! Resampling kernels: nearest / bilinear upsampling, grid sampling, grid priors.

use super::{read, write, Kernel, Layout};
use crate::gpu::shaders;

kernel_params! {
    /// `resample_nearest.comp`: planes [P, IH, IW] -> [P, OH, OW] of `words`-word elements.
    pub struct NearestParams {
        count: u32,
        ih: i32,
        iw: i32,
        oh: i32,
        ow: i32,
        scale_h: f32,
        scale_w: f32,
        words: u32,
    }
}
pub static RESAMPLE_NEAREST: Kernel<NearestParams> =
    Kernel::new(&shaders::RESAMPLE_NEAREST, &[write("Out"), read("In")]);
/// The same over channels-packed tensors: planes of texels (4 words each).
pub static RESAMPLE_NEAREST_C4: Kernel<NearestParams> = Kernel::new(
    &shaders::RESAMPLE_NEAREST,
    &[
        write("Out").in_layout(Layout::Channels4),
        read("In").in_layout(Layout::Channels4),
    ],
);
/// The same over channels-packed f16 tensors (texels of 2 words).
pub static RESAMPLE_NEAREST_C4_F16: Kernel<NearestParams> = Kernel::new(
    &shaders::RESAMPLE_NEAREST,
    &[
        write("Out").in_layout(Layout::Channels4).f16(),
        read("In").in_layout(Layout::Channels4).f16(),
    ],
);

kernel_params! {
    /// `resample_bilinear.comp`: planes [P, IH, IW] -> [P, OH, OW].
    pub struct BilinearParams {
        count: u32,
        ih: i32,
        iw: i32,
        oh: i32,
        ow: i32,
        align_corners: i32,
        scale_h: f32,
        scale_w: f32,
    }
}
pub static RESAMPLE_BILINEAR: Kernel<BilinearParams> =
    Kernel::new(&shaders::RESAMPLE_BILINEAR, &[write("Out"), read("In")]);

kernel_params! {
    /// `resample_grid_sample.comp`: one invocation per (n, oh, ow).
    pub struct GridSampleParams {
        count: u32,
        channels: i32,
        h: i32,
        w: i32,
        oh: i32,
        ow: i32,
        interpolation: i32,
        padding: i32,
        align_corners: i32,
    }
}
pub static RESAMPLE_GRID_SAMPLE: Kernel<GridSampleParams> = Kernel::new(
    &shaders::RESAMPLE_GRID_SAMPLE,
    &[write("Out"), read("In"), read("Grid")],
);

kernel_params! {
    /// `resample_grid_priors.comp`: out [H * W, 2].
    pub struct GridPriorsParams { count: u32, width: i32, stride: f32, offset: f32 }
}
pub static RESAMPLE_GRID_PRIORS: Kernel<GridPriorsParams> =
    Kernel::new(&shaders::RESAMPLE_GRID_PRIORS, &[write("Out")]);
