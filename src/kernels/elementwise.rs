//! Elementwise kernels: broadcasting binary/ternary ops, unary ops, clamp and fills.

use super::{read, read_texels, write, Kernel, Layout, Variants};
use crate::gpu::shaders;

kernel_params! {
    /// `binary.comp` (one build per op, `OP`): out = a (op) b, or where(c, a, b), broadcast
    /// over `sizes` with per-input strides (0 where broadcast), rank <= 8.
    pub struct BinaryParams {
        count: u32,
        rank: i32,
        compute_float: i32,
        a_float: i32,
        b_float: i32,
        c_float: i32,
        out_kind: i32,
        b_tensor: i32,
        scalar_f: f32,
        scalar_i: i32,
        alpha_f: f32,
        alpha_i: i32,
        sizes: [i32; 8],
        a_strides: [i32; 8],
        b_strides: [i32; 8],
        c_strides: [i32; 8],
    }
}
pub static BINARY: Kernel<BinaryParams> = Kernel::new(
    &shaders::BINARY,
    &[write("Out"), read("A"), read("B"), read("C")],
);

kernel_params! {
    /// `unary.comp` (one build per op, `OP`).
    pub struct UnaryParams {
        count: u32,
        in_kind: i32,
        compute_float: i32,
        out_kind: i32,
        param: f32,
    }
}
pub static UNARY: Kernel<UnaryParams> = Kernel::new(&shaders::UNARY, &[write("Out"), read("In")]);

kernel_params! {
    /// `clamp.comp`: bounds as f32 (float outputs) and i32 (int outputs).
    pub struct ClampParams {
        count: u32,
        input_float: i32,
        output_float: i32,
        lo: f32,
        hi: f32,
        lo_i: i32,
        hi_i: i32,
    }
}
pub static CLAMP: Kernel<ClampParams> = Kernel::new(&shaders::CLAMP, &[write("Out"), read("In")]);

kernel_params! {
    /// `create_fill.comp`: out[i] = start + i * step, `start`/`step` as f32 or i32 bits.
    pub struct FillParams {
        count: u32,
        compute_float: i32,
        start: u32,
        step: u32,
        out_kind: i32,
    }
}
pub static CREATE_FILL: Kernel<FillParams> = Kernel::new(&shaders::CREATE_FILL, &[write("Out")]);

kernel_params! {
    /// `elementwise4.comp` (one build per op, `OP`): float ops over whole texels.
    pub struct Elementwise4Params {
        count: u32,
        c: u32,
        hw: u32,
        c4: u32,
        mask_lanes: i32,
        b_mode: i32,
        b_div: u32,
        b_mod: u32,
        scalar: f32,
        alpha: f32,
        param: f32,
        lo: f32,
        hi: f32,
    }
}
/// `elementwise4.comp` and its variants over contiguous tensors (element count a multiple of 4).
pub static ELEMENTWISE4: Variants<Elementwise4Params> = Variants {
    buffer: Kernel::new(
        &shaders::ELEMENTWISE4,
        &[write("Out"), read("A"), read("B")],
    ),
    texel: Kernel::new(
        &shaders::ELEMENTWISE4_TEXEL,
        &[write("Out"), read_texels("A"), read_texels("B")],
    ),
    buffer_f16: Kernel::new(
        &shaders::ELEMENTWISE4_F16,
        &[write("Out").f16(), read("A").f16(), read("B").f16()],
    ),
    texel_f16: Kernel::new(
        &shaders::ELEMENTWISE4_TEXEL_F16,
        &[
            write("Out").f16(),
            read_texels("A").f16(),
            read_texels("B").f16(),
        ],
    ),
};
/// `elementwise4.comp` and its variants over channels-packed tensors.
pub static ELEMENTWISE4_C4: Variants<Elementwise4Params> = Variants {
    buffer: Kernel::new(
        &shaders::ELEMENTWISE4,
        &[
            write("Out").in_layout(Layout::Channels4),
            read("A").in_layout(Layout::Channels4),
            read("B").in_layout(Layout::Channels4),
        ],
    ),
    texel: Kernel::new(
        &shaders::ELEMENTWISE4_TEXEL,
        &[
            write("Out").in_layout(Layout::Channels4),
            read_texels("A").in_layout(Layout::Channels4),
            read_texels("B").in_layout(Layout::Channels4),
        ],
    ),
    buffer_f16: Kernel::new(
        &shaders::ELEMENTWISE4_F16,
        &[
            write("Out").in_layout(Layout::Channels4).f16(),
            read("A").in_layout(Layout::Channels4).f16(),
            read("B").in_layout(Layout::Channels4).f16(),
        ],
    ),
    texel_f16: Kernel::new(
        &shaders::ELEMENTWISE4_TEXEL_F16,
        &[
            write("Out").in_layout(Layout::Channels4).f16(),
            read_texels("A").in_layout(Layout::Channels4).f16(),
            read_texels("B").in_layout(Layout::Channels4).f16(),
        ],
    ),
};
