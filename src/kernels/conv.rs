//! Convolution kernels.

use super::{read, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `conv2d.comp` and `conv_transpose2d.comp`: NCHW, grouped, strided, padded, dilated,
    /// optional bias, then clamp. `split`: one 64-wide workgroup per output (conv2d only).
    pub struct Conv2dParams {
        count: u32,
        n: i32,
        cin: i32,
        h: i32,
        w: i32,
        cout: i32,
        ho: i32,
        wo: i32,
        kh: i32,
        kw: i32,
        sh: i32,
        sw: i32,
        ph: i32,
        pw: i32,
        dh: i32,
        dw: i32,
        groups: i32,
        has_bias: i32,
        clamp_min: f32,
        clamp_max: f32,
        split: i32,
    }
}
pub static CONV2D: Kernel<Conv2dParams> = Kernel::new(
    &shaders::CONV2D,
    &[write("Out"), read("In"), read("W"), read("Bias")],
);
pub static CONV_TRANSPOSE2D: Kernel<Conv2dParams> = Kernel::new(
    &shaders::CONV_TRANSPOSE2D,
    &[write("Out"), read("In"), read("W"), read("Bias")],
);
