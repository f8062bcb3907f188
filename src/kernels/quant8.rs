//! Kernels of the 8-bit quantized ops: per-channel weight-only linears (4-bit and 8-bit weights
//! kept as raw bytes), the static int8 (`q8ta`) linears, convolutions and elementwise ops, and
//! the quantize / dequantize / choose_qparams ops. Int8 activations are stored as i32 words.

use super::quantized::QUANTIZED_LINEAR_BINDINGS;
use super::{read, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `linear_q8.glsl` (`linear_qcw.comp`, `linear_q8ta.comp`): sizes in elements,
    /// `row_bytes` bytes per weight row, `w_words` 32-bit words of the whole weight buffer,
    /// `chunks` weight words per row the kernel walks (K over 8 for 4-bit weights, over 4 for
    /// 8-bit ones, rounded up). q8ta only: the input / output qparams (`out_inv_scale` is
    /// `1 / output_scale`), `relu`, `quantize_out` (int8 output, else float).
    pub struct LinearQ8Params {
        m: u32,
        k: u32,
        n: u32,
        row_bytes: u32,
        w_words: u32,
        chunks: u32,
        has_bias: i32,
        relu: i32,
        in_zp: i32,
        out_zp: i32,
        in_scale: f32,
        out_inv_scale: f32,
    }
}
kernel_params! {
    /// `linear_q8.glsl` specialization: rows per tile, lanes per tile along K (GEMV), x rows
    /// starting on a vec4 (K a multiple of 4), weight rows starting on a word.
    #[allow(non_snake_case)]
    pub struct LinearQ8Spec { TM: i32, SPLIT: i32, XALIGNED: i32, WALIGNED: i32 }
}
/// `linear_qcw.comp` (`OP` = weight bits, 4 or 8): float x times per-channel symmetric
/// weights, `et_vk.linear_qcs4w` and `aten._weight_int8pack_mm`.
pub static LINEAR_QCW: Kernel<LinearQ8Params, LinearQ8Spec> =
    Kernel::new(&shaders::LINEAR_QCW, QUANTIZED_LINEAR_BINDINGS);
/// `linear_q8ta.comp` (`OP` 0: float output, 1: requantized int8): int8 x times int8
/// per-channel weights, exact integer dot products. `et_vk.linear_q8ta_q8csw`,
/// `et_vk.q8ta_linear`, `et_vk.q8ta_linear_gemv`.
pub static LINEAR_Q8TA: Kernel<LinearQ8Params, LinearQ8Spec> =
    Kernel::new(&shaders::LINEAR_Q8TA, QUANTIZED_LINEAR_BINDINGS);

/// `q8ta_conv2d.comp` variants (`OP`).
pub mod conv_op {
    /// Regular, grouped and pointwise: weights `[OC, Kp]`, K ordered (kh, kw, ic).
    pub const REGULAR: i32 = 0;
    /// Depthwise: weights `[KH, KW, C4]`.
    pub const DEPTHWISE: i32 = 1;
    /// Transposed: weights `[OC, Kp]`, K ordered (kh, kw, ic).
    pub const TRANSPOSED: i32 = 2;
}

kernel_params! {
    /// `q8ta_conv2d.comp`: int8 NCHW input and output (i32 words), int8 weights as bytes.
    /// `blocks`: blocks of 4 output channels per group (`ceil(ocg / 4)`), `row_words`: words
    /// per weight row (regular / transposed) or per (kh, kw) (depthwise), `k`: KH * KW * ICg.
    pub struct Q8taConvParams {
        n: u32,
        ic: u32,
        h: i32,
        w: i32,
        oc: u32,
        oh: u32,
        ow: u32,
        kh: u32,
        kw: u32,
        sh: i32,
        sw: i32,
        ph: i32,
        pw: i32,
        dh: i32,
        dw: i32,
        icg: u32,
        ocg: u32,
        blocks: u32,
        row_words: u32,
        k: u32,
        has_bias: i32,
        relu: i32,
        in_zp: i32,
        out_zp: i32,
        in_scale: f32,
        out_inv_scale: f32,
    }
}
kernel_params! {
    /// `q8ta_conv2d.comp` specialization: output columns per invocation.
    #[allow(non_snake_case)]
    pub struct Q8taConvSpec { TILE_W: i32 }
}
/// `q8ta_conv2d.comp`: `et_vk.q8ta_conv2d`, `_pw`, `_dw`, `_transposed` (see [`conv_op`]).
pub static Q8TA_CONV2D: Kernel<Q8taConvParams, Q8taConvSpec> =
    Kernel::new(&shaders::Q8TA_CONV2D, QUANTIZED_LINEAR_BINDINGS);

/// `q8ta_elementwise.comp` variants (`OP`).
pub mod q8ta_op {
    pub const ADD: i32 = 0;
    pub const RELU: i32 = 1;
    pub const PIXEL_SHUFFLE: i32 = 2;
}

kernel_params! {
    /// `q8ta_elementwise.comp`: `count` output elements (add, relu: 4 per invocation); pixel
    /// shuffle: output `[.., c, h * r, w * r]` over a (w * r, h * r, n * c) grid.
    pub struct Q8taElementwiseParams {
        count: u32,
        r: u32,
        c: u32,
        h: u32,
        w: u32,
        a_zp: i32,
        b_zp: i32,
        out_zp: i32,
        a_scale: f32,
        b_scale: f32,
        alpha: f32,
        out_inv_scale: f32,
    }
}
/// `q8ta_elementwise.comp`: `et_vk.q8ta_add`, `q8ta_relu`, `q8ta_pixel_shuffle` (see
/// [`q8ta_op`]); B is bound (and read) by add only.
pub static Q8TA_ELEMENTWISE: Kernel<Q8taElementwiseParams> = Kernel::new(
    &shaders::Q8TA_ELEMENTWISE,
    &[write("Out"), read("A"), read("B")],
);

/// `qdq.comp` variants (`OP`).
pub mod qdq_op {
    pub const QUANTIZE: i32 = 0;
    pub const DEQUANTIZE: i32 = 1;
}

kernel_params! {
    /// `qdq.comp`: element i uses qparams `(i / inner) % channels` of the Scale / Zero tensors
    /// (`scale_tensor` / `zero_tensor`), else the scalars here (`inv_scale` = 1 / scale, as
    /// the eager op computes it in double and multiplies in f32). 4 elements per invocation.
    pub struct QdqParams {
        count: u32,
        inner: u32,
        channels: u32,
        qmin: i32,
        qmax: i32,
        scale_tensor: i32,
        zero_tensor: i32,
        zp: i32,
        scale: f32,
        inv_scale: f32,
    }
}
/// `qdq.comp`: quantize (float -> int words) and dequantize (int words -> float) per tensor,
/// channel, token or block (see [`qdq_op`]).
pub static QDQ: Kernel<QdqParams> = Kernel::new(
    &shaders::QDQ,
    &[write("Out"), read("X"), read("Scale"), read("Zero")],
);

kernel_params! {
    /// `choose_qparams_token.comp`: `rows` rows of `k`, one 64-wide workgroup each.
    pub struct ChooseQparamsTokenParams { rows: u32, k: u32 }
}
/// `choose_qparams_token.comp`: `quantized_decomposed.choose_qparams_per_token_asymmetric`.
pub static CHOOSE_QPARAMS_TOKEN: Kernel<ChooseQparamsTokenParams> = Kernel::new(
    &shaders::CHOOSE_QPARAMS_TOKEN,
    &[write("Scale"), write("Zero"), read("X")],
);
