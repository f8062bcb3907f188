//! Kernels that move words: copies, concatenation, strided and indexed gathers, casts.

use super::{read, read_write, write, Kernel, Layout};
use crate::gpu::shaders;

/// Max rank of the gather kernels' index arithmetic.
pub const MAX_RANK: usize = 8;
/// Max index tensors one `index_gather` dispatch reads.
pub const MAX_INDICES: usize = 4;

kernel_params! {
    /// `copy.comp`: `count` words.
    pub struct CopyParams { count: u32 }
}
pub static COPY: Kernel<CopyParams> = Kernel::new(&shaders::COPY, &[write("Out"), read("In")]);

kernel_params! {
    /// `cat.comp`: one input into its slot, both viewed as `[outer, chunk]`.
    pub struct CatParams { count: u32, in_chunk: u32, out_chunk: u32, offset: u32 }
}
pub static CAT: Kernel<CatParams> = Kernel::new(&shaders::CAT, &[read_write("Out"), read("In")]);
/// `cat.comp` over channels-packed tensors joined along channels in whole blocks of 4.
pub static CAT_C4: Kernel<CatParams> = Kernel::new(
    &shaders::CAT,
    &[
        read_write("Out").in_layout(Layout::Channels4),
        read("In").in_layout(Layout::Channels4),
    ],
);
/// The same over f16 tensors.
pub static CAT_C4_F16: Kernel<CatParams> = Kernel::new(
    &shaders::CAT,
    &[
        read_write("Out").in_layout(Layout::Channels4).f16(),
        read("In").in_layout(Layout::Channels4).f16(),
    ],
);

kernel_params! {
    /// `shape_gather.comp`: see the shader for the index arithmetic.
    pub struct ShapeGatherParams {
        count: u32,
        rank: i32,
        base: i32,
        fill: u32,
        input_float: i32,
        conversion: i32,
        sizes: [i32; 8],
        strides: [i32; 8],
        lo: [i32; 8],
        bound: [i32; 8],
        modulo: [i32; 8],
    }
}
pub static SHAPE_GATHER: Kernel<ShapeGatherParams> =
    Kernel::new(&shaders::SHAPE_GATHER, &[write("Out"), read("In")]);

kernel_params! {
    /// `cast.comp`: words converted to the output kind.
    pub struct CastParams { count: u32, input_float: i32, out_kind: i32 }
}
pub static CAST: Kernel<CastParams> = Kernel::new(&shaders::CAST, &[write("Out"), read("In")]);

kernel_params! {
    /// `permute.comp`: a strided gather over `sizes`.
    pub struct PermuteParams { count: u32, rank: i32, sizes: [i32; 8], strides: [i32; 8] }
}
pub static PERMUTE: Kernel<PermuteParams> =
    Kernel::new(&shaders::PERMUTE, &[write("Out"), read("In")]);

kernel_params! {
    /// `index_gather.comp`: up to four index tensors; `index_strides[8 k + d]`.
    pub struct IndexGatherParams {
        count: u32,
        rank: i32,
        indices: i32,
        sizes: [i32; 8],
        strides: [i32; 8],
        index_strides: [i32; 32],
        dim_stride: [i32; 4],
        dim_size: [i32; 4],
    }
}
pub static INDEX_GATHER: Kernel<IndexGatherParams> = Kernel::new(
    &shaders::INDEX_GATHER,
    &[
        write("Out"),
        read("In"),
        read("I0"),
        read("I1"),
        read("I2"),
        read("I3"),
    ],
);

/// `[i32; N]` from the first values of `v` (the rest zero).
pub fn padded<const N: usize>(v: impl IntoIterator<Item = i64>) -> [i32; N] {
    let mut out = [0i32; N];
    for (o, x) in out.iter_mut().zip(v) {
        *o = x as i32;
    }
    out
}
