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
