//! Attention kernels: SDPA, rotary embeddings, KV-cache updates.

use super::{read, read_texels, read_write, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `attn_sdpa.comp`: strides per outer dim (rank <= 6) for each tensor.
    pub struct SdpaParams {
        count: u32,
        outer_rank: i32,
        lq: i32,
        lk: i32,
        d: i32,
        dv: i32,
        scale: f32,
        has_mask: i32,
        causal: i32,
        causal_offset: i32,
        q_i: i32,
        k_j: i32,
        v_j: i32,
        o_i: i32,
        m_i: i32,
        m_j: i32,
        outer_sizes: [i32; 6],
        q_strides: [i32; 6],
        k_strides: [i32; 6],
        v_strides: [i32; 6],
        o_strides: [i32; 6],
        m_strides: [i32; 6],
    }
}
pub static ATTN_SDPA: Kernel<SdpaParams> = Kernel::new(
    &shaders::ATTN_SDPA,
    &[write("Out"), read("Q"), read("K"), read("V"), read("M")],
);

kernel_params! {
    /// `attn_rows.comp`: offsets and strides in vec4s, per outer index, head and row.
    pub struct AttnRowsParams {
        lq: u32,
        lk: u32,
        heads: u32,
        scale: f32,
        q_off: u32,
        q_outer: u32,
        q_head: u32,
        q_row: u32,
        k_off: u32,
        k_outer: u32,
        k_head: u32,
        k_row: u32,
        v_off: u32,
        v_outer: u32,
        v_head: u32,
        v_row: u32,
        o_off: u32,
        o_outer: u32,
        o_head: u32,
        o_row: u32,
    }
}
kernel_params! {
    /// `attn_rows.comp` specialization: head dims of q/k and of v in vec4s, whether the
    /// scale is (also) read from a one-element tensor, invocations per query row, and query
    /// rows per invocation (with one invocation per row).
    #[allow(non_snake_case)]
    pub struct AttnRowsSpec { D4: i32, DV4: i32, SCALE_TENSOR: i32, LANES: i32, ROWS: i32 }
}
pub static ATTN_ROWS: Kernel<AttnRowsParams, AttnRowsSpec> = Kernel::new(
    &shaders::ATTN_ROWS,
    &[write("Out"), read("Q"), read("K"), read("V"), read("Scale")],
);
/// `attn_rows_texel.comp`: q, k and v read through texel buffers (CPU devices).
pub static ATTN_ROWS_TEXEL: Kernel<AttnRowsParams, AttnRowsSpec> = Kernel::new(
    &shaders::ATTN_ROWS_TEXEL,
    &[
        write("Out"),
        read_texels("Q"),
        read_texels("K"),
        read_texels("V"),
        read("Scale"),
    ],
);

kernel_params! {
    /// `attn_rotary.comp`.
    pub struct RotaryParams {
        count: u32,
        kind: i32,
        head_dim: i32,
        heads: i32,
        seq: i32,
        freq_s: i32,
        freq_h: i32,
        start: i32,
        rot_dims: i32,
    }
}
pub static ATTN_ROTARY: Kernel<RotaryParams> = Kernel::new(
    &shaders::ATTN_ROTARY,
    &[write("Out"), read("X"), read("Cos"), read("Sin")],
);

kernel_params! {
    /// `attn_update_cache.comp`: cache rows written in place.
    pub struct UpdateCacheParams {
        count: u32,
        value_batch: i32,
        cache_batch: i32,
        start_offset: i32,
    }
}
pub static ATTN_UPDATE_CACHE: Kernel<UpdateCacheParams> = Kernel::new(
    &shaders::ATTN_UPDATE_CACHE,
    &[read_write("Cache"), read("Value")],
);
/// `attn_update_caches.comp`: the key and the value cache rows of one step, in one dispatch
/// (`count` is the element count of one of them).
pub static ATTN_UPDATE_CACHES: Kernel<UpdateCacheParams> = Kernel::new(
    &shaders::ATTN_UPDATE_CACHES,
    &[
        read_write("KCache"),
        read_write("VCache"),
        read("Key"),
        read("Value"),
    ],
);
