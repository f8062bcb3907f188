//! Convolution kernels.

use super::{read, read_texels, write, Kernel, Layout, Params, Variants};
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

kernel_params! {
    /// `conv2d_pw.comp`: 1x1 convolution on channels-packed tensors.
    pub struct ConvPwParams {
        hw_out: u32,
        w_out: u32,
        h_in: i32,
        w_in: i32,
        ic4: u32,
        oc4: u32,
        stride: i32,
        pad: i32,
        has_bias: i32,
        clamp_min: f32,
        clamp_max: f32,
        /// Output channels (read by `conv2d_pw_nchw` only).
        c_out: u32,
    }
}
kernel_params! {
    /// `conv2d_pw.comp` specialization: output-channel blocks of 4 per invocation.
    #[allow(non_snake_case)]
    pub struct ConvPwSpec { TILE_OC4: i32, TILE_P: i32, SPLIT: i32 }
}

kernel_params! {
    /// `conv2d_dw.comp`: depthwise convolution on channels-packed tensors.
    pub struct ConvDwParams {
        h_in: i32,
        w_in: i32,
        h_out: i32,
        w_out: i32,
        c4: u32,
        pad_h: i32,
        pad_w: i32,
        has_bias: i32,
        clamp_min: f32,
        clamp_max: f32,
    }
}
kernel_params! {
    /// `conv2d_dw.comp` specialization: kernel size, stride and dilation.
    #[allow(non_snake_case)]
    pub struct ConvDwSpec { KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, TILE_W: i32 }
}

kernel_params! {
    /// `conv2d_tiled.comp`: KxK convolution (groups = 1) on channels-packed tensors.
    pub struct ConvTiledParams {
        h_in: i32,
        w_in: i32,
        h_out: i32,
        w_out: i32,
        ic4: u32,
        oc4: u32,
        oc_groups: u32,
        pad_h: i32,
        pad_w: i32,
        has_bias: i32,
        clamp_min: f32,
        clamp_max: f32,
        /// The bound input's H and W: h_in and w_in, or the pooled tensor's when POOL is 2.
        h_src: i32,
        w_src: i32,
        /// Input channels (read by `conv2d_tiled_nchw` only).
        c_in: u32,
    }
}
kernel_params! {
    /// `conv2d_tiled.comp` specialization: kernel size, stride, dilation, output-channel
    /// blocks per invocation, the max pool taken while loading (1: none, 2: 2x2), the
    /// nearest upsampling of the stored outputs (1: none, 2: 2x) and whether split lanes fold
    /// (input block, kernel row) pairs instead of whole input blocks (1: a single block), and
    /// whether the output is stored contiguous `[N, H*W, C]` (1) instead of channels-packed.
    #[allow(non_snake_case)]
    pub struct ConvTiledSpec {
        KH: i32,
        KW: i32,
        SH: i32,
        SW: i32,
        DH: i32,
        DW: i32,
        TILE_OC4: i32,
        TILE_W: i32,
        SPLIT: i32,
        POOL: i32,
        UP: i32,
        FOLD_ROWS: i32,
        OUT_NHWC: i32,
    }
}

macro_rules! conv_kernels {
    (
        $name:ident,
        $w16_name:ident,
        $p:ty,
        $s:ty,
        $buffer:ident,
        $texel:ident,
        $buffer_f16:ident,
        $texel_f16:ident,
        $texel_w16:ident
    ) => {
        /// f32 activations read through texel views with f16 weights and bias (FLOAT16
        /// programs on CPU devices, `Caps::f16_activations`).
        pub static $w16_name: Kernel<$p, $s> = Kernel::new(
            &shaders::$texel_w16,
            &[
                write("Out").in_layout(Layout::Channels4),
                read_texels("In").in_layout(Layout::Channels4),
                read_texels("W").f16(),
                read("Bias").f16(),
            ],
        );
        pub static $name: Variants<$p, $s> = Variants {
            buffer: Kernel::new(
                &shaders::$buffer,
                &[
                    write("Out").in_layout(Layout::Channels4),
                    read("In").in_layout(Layout::Channels4),
                    read("W"),
                    read("Bias"),
                ],
            ),
            texel: Kernel::new(
                &shaders::$texel,
                &[
                    write("Out").in_layout(Layout::Channels4),
                    read_texels("In").in_layout(Layout::Channels4),
                    read_texels("W"),
                    read("Bias"),
                ],
            ),
            buffer_f16: Kernel::new(
                &shaders::$buffer_f16,
                &[
                    write("Out").in_layout(Layout::Channels4).f16(),
                    read("In").in_layout(Layout::Channels4).f16(),
                    read("W").f16(),
                    read("Bias").f16(),
                ],
            ),
            texel_f16: Kernel::new(
                &shaders::$texel_f16,
                &[
                    write("Out").in_layout(Layout::Channels4).f16(),
                    read_texels("In").in_layout(Layout::Channels4).f16(),
                    read_texels("W").f16(),
                    read("Bias").f16(),
                ],
            ),
        };
    };
}

conv_kernels!(
    CONV2D_PW,
    CONV2D_PW_W16,
    ConvPwParams,
    ConvPwSpec,
    CONV2D_PW,
    CONV2D_PW_TEXEL,
    CONV2D_PW_F16,
    CONV2D_PW_TEXEL_F16,
    CONV2D_PW_TEXEL_W16
);
conv_kernels!(
    CONV2D_DW,
    CONV2D_DW_W16,
    ConvDwParams,
    ConvDwSpec,
    CONV2D_DW,
    CONV2D_DW_TEXEL,
    CONV2D_DW_F16,
    CONV2D_DW_TEXEL_F16,
    CONV2D_DW_TEXEL_W16
);
conv_kernels!(
    CONV2D_TILED,
    CONV2D_TILED_W16,
    ConvTiledParams,
    ConvTiledSpec,
    CONV2D_TILED,
    CONV2D_TILED_TEXEL,
    CONV2D_TILED_F16,
    CONV2D_TILED_TEXEL_F16,
    CONV2D_TILED_TEXEL_W16
);

/// The builds that read or write a contiguous NCHW f32 tensor at a graph's edge instead of a
/// channels-packed one, so that no layout conversion runs there: `conv2d_tiled_nchw` reads a
/// contiguous input (a graph input), `conv2d_pw_nchw` writes a contiguous output (a graph
/// output); `_f16` with f16 weights, bias and packed side. Storage buffers only: on devices
/// that prefer texel reads the conversion and texel kernel win, except for patches that start
/// on whole texels of 4 pixels ([`CONV2D_TILED_TEXEL_NCHW`]).
pub struct EdgeVariants<P: Params, S: Params> {
    pub f32: Kernel<P, S>,
    pub f16: Kernel<P, S>,
}

impl<P: Params, S: Params> EdgeVariants<P, S> {
    /// The build with f16 weights and packed side, or not.
    pub fn pick(&self, half: bool) -> &Kernel<P, S> {
        if half {
            &self.f16
        } else {
            &self.f32
        }
    }
}

pub static CONV2D_TILED_NCHW: EdgeVariants<ConvTiledParams, ConvTiledSpec> = EdgeVariants {
    f32: Kernel::new(
        &shaders::CONV2D_TILED_NCHW,
        &[
            write("Out").in_layout(Layout::Channels4),
            read("In"),
            read("W"),
            read("Bias"),
        ],
    ),
    f16: Kernel::new(
        &shaders::CONV2D_TILED_NCHW_F16,
        &[
            write("Out").in_layout(Layout::Channels4).f16(),
            read("In"),
            read("W").f16(),
            read("Bias").f16(),
        ],
    ),
};

/// `conv2d_tiled` reading a contiguous f32 graph input and the weights through texel views
/// (f32, `INPUT_PATCHES`): devices that prefer texel reads take patch embeddings without a
/// conversion dispatch first.
pub static CONV2D_TILED_TEXEL_NCHW: Kernel<ConvTiledParams, ConvTiledSpec> = Kernel::new(
    &shaders::CONV2D_TILED_TEXEL_NCHW,
    &[
        write("Out").in_layout(Layout::Channels4),
        read_texels("In"),
        read_texels("W"),
        read("Bias"),
    ],
);

pub static CONV2D_PW_NCHW: EdgeVariants<ConvPwParams, ConvPwSpec> = EdgeVariants {
    f32: Kernel::new(
        &shaders::CONV2D_PW_NCHW,
        &[
            write("Out"),
            read("In").in_layout(Layout::Channels4),
            read("W"),
            read("Bias"),
        ],
    ),
    f16: Kernel::new(
        &shaders::CONV2D_PW_NCHW_F16,
        &[
            write("Out"),
            read("In").in_layout(Layout::Channels4).f16(),
            read("W").f16(),
            read("Bias").f16(),
        ],
    ),
};
