//! The GPU layer: thin RAII wrappers over `ash` (Vulkan) and `vk-mem` (VMA). Every `unsafe`
//! Vulkan call of the crate lives in this module tree, each with a `// SAFETY:` reason.
//!
//! - [`Context`]: instance, chosen physical device, logical device, compute queue, allocator,
//!   capabilities, pipeline cache and validation-message capture. Shared by delegates.
//! - [`Buffer`]: one VMA buffer, tagged for memory accounting ([`memory`]).
//! - [`Pipeline`]: a compute pipeline for one shader and binding count.
//! - [`DescriptorPool`], [`CommandBuffer`], [`Fence`]: recording and submitting work.

mod buffer;
mod caps;
mod command;
mod context;
mod descriptor;
pub mod memory;
mod pipeline;
pub mod shaders;

pub use buffer::{Buffer, BufferKind};
pub use caps::{Caps, DeviceKind};
pub use command::{CommandBuffer, Fence};
pub use context::Context;
pub use descriptor::{BufferRange, DescriptorPool};
pub use memory::{Accountant, MemTag, MemoryStats};
pub use pipeline::Pipeline;
pub use shaders::Shader;

use crate::error::{Error, ErrorKind};
use ash::vk;

/// Maps a Vulkan result code to the crate error, naming the call that failed.
pub(crate) fn vk_error(what: &str, r: vk::Result) -> Error {
    let kind = match r {
        vk::Result::ERROR_OUT_OF_DEVICE_MEMORY | vk::Result::ERROR_OUT_OF_HOST_MEMORY => {
            ErrorKind::MemoryAllocationFailed
        }
        vk::Result::ERROR_INITIALIZATION_FAILED | vk::Result::ERROR_INCOMPATIBLE_DRIVER => {
            ErrorKind::NotSupported
        }
        vk::Result::ERROR_DEVICE_LOST => ErrorKind::Internal,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("{what} failed: {r:?}"))
}
