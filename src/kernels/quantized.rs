//! Quantized-weight kernels: 4-bit linears and embeddings over weights kept packed as the
//! exporter wrote them, and the per-row activation qparams of 8da4w.

use super::{read, write, Binding, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `linear_q4gsw.glsl` (both builds): sizes in elements, `row_words` 32-bit words per
    /// weight row (K rounded up to 8, over 8), `scale_stride` / `sums_stride` elements per
    /// row of the scales / weight sums.
    pub struct LinearQ4Params {
        m: u32,
        k: u32,
        n: u32,
        group: u32,
        groups: u32,
        row_words: u32,
        scale_stride: u32,
        sums_stride: u32,
        has_bias: i32,
    }
}
kernel_params! {
    /// `linear_q4gsw.glsl` specialization: rows per tile, lanes per tile along K, x rows
    /// starting on a vec4 (K a multiple of 4), one scale per weight word (G a multiple of 8).
    #[allow(non_snake_case)]
    pub struct LinearQ4Spec { TM: i32, SPLIT: i32, ALIGNED: i32, GROUP8: i32 }
}
/// The bindings of the quantized linears with raw weight bytes (`linear_q4gsw`, `linear_qcw`,
/// `linear_q8ta`, `q8ta_conv2d`): output, x, weights, per-channel or per-group scales, bias.
pub(super) const QUANTIZED_LINEAR_BINDINGS: &[Binding] = &[
    write("Out"),
    read("X"),
    read("W").bytes(),
    read("Scales"),
    read("Bias"),
];
/// `linear_q4gsw.comp`: `et_vk.linear_q4gsw`.
pub static LINEAR_Q4GSW: Kernel<LinearQ4Params, LinearQ4Spec> =
    Kernel::new(&shaders::LINEAR_Q4GSW, QUANTIZED_LINEAR_BINDINGS);
/// `linear_dq8ca_q4gsw.comp`: `et_vk.linear_dq8ca_q4gsw` (x quantized per row in the kernel).
pub static LINEAR_DQ8CA_Q4GSW: Kernel<LinearQ4Params, LinearQ4Spec> = Kernel::new(
    &shaders::LINEAR_DQ8CA_Q4GSW,
    &[
        write("Out"),
        read("X"),
        read("XScale"),
        read("XZero"),
        read("W").bytes(),
        read("Sums"),
        read("Scales"),
        read("Bias"),
    ],
);

kernel_params! {
    /// `choose_qparams.comp`: `rows` rows of `k`, one 64-wide workgroup each.
    pub struct ChooseQparamsParams {
        rows: u32,
        k: u32,
        qmin: i32,
        qmax: i32,
        eps: f32,
    }
}
/// `choose_qparams.comp`: `torchao.choose_qparams_affine` per row (asymmetric).
pub static CHOOSE_QPARAMS: Kernel<ChooseQparamsParams> = Kernel::new(
    &shaders::CHOOSE_QPARAMS,
    &[write("Scale"), write("Zero"), read("X")],
);

kernel_params! {
    /// `embedding_q4.comp`: `count` = indices * dim / 2 (one byte each).
    pub struct EmbeddingQ4Params {
        count: u32,
        vocab: u32,
        dim: u32,
        group: u32,
        groups: u32,
    }
}
kernel_params! {
    /// `embedding_q4.comp` specialization: which nibble holds the even column.
    #[allow(non_snake_case)]
    pub struct EmbeddingQ4Spec { HIGH_FIRST: i32 }
}
/// `embedding_q4.comp`: `et_vk.embedding_q4gsw`, `quantized_decomposed.embedding_4bit`.
pub static EMBEDDING_Q4: Kernel<EmbeddingQ4Params, EmbeddingQ4Spec> = Kernel::new(
    &shaders::EMBEDDING_Q4,
    &[write("Out"), read("W").bytes(), read("Scales"), read("Idx")],
);
