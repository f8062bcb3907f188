//! Conversions between layouts, inserted by the graph builder where a producer and a consumer
//! disagree (see `OpBuilder::dispatch`).

use super::{read, write, Kernel, Layout};
use crate::gpu::shaders;

kernel_params! {
    /// `to_channels4.comp` / `from_channels4.comp`: `count` texels of a tensor with `c`
    /// channels and `hw` positions per channel.
    pub struct Channels4Params { count: u32, c: u32, hw: u32 }
}
pub static TO_CHANNELS4: Kernel<Channels4Params> = Kernel::new(
    &shaders::TO_CHANNELS4,
    &[write("Out").in_layout(Layout::Channels4), read("In")],
);
pub static FROM_CHANNELS4: Kernel<Channels4Params> = Kernel::new(
    &shaders::FROM_CHANNELS4,
    &[write("Out"), read("In").in_layout(Layout::Channels4)],
);

kernel_params! {
    /// `convert.comp` (one build per element conversion, `OP`): `count` output elements of a
    /// float tensor [N, c, h, w]; `in_c4` / `out_c4`: channels-packed (1) or contiguous (0).
    pub struct ConvertParams { count: u32, c: u32, h: u32, w: u32, in_c4: u32, out_c4: u32 }
}
/// `convert.comp`; its bindings' layouts and formats vary per dispatch (see `OpBuilder`), so
/// the builder records it directly, never through a layout check.
pub static CONVERT: Kernel<ConvertParams> =
    Kernel::new(&shaders::CONVERT, &[write("Out"), read("In")]);

/// The `OP` of `convert.comp` for an f16 input and/or output.
pub fn convert_op(in_f16: bool, out_f16: bool) -> i32 {
    2 * in_f16 as i32 + out_f16 as i32
}
