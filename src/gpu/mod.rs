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
mod query;
pub mod shaders;
pub mod testing;
mod view;

pub use buffer::{Buffer, BufferKind};
pub use caps::{Caps, DeviceKind, STORAGE_ENV};
pub use command::{CommandBuffer, Fence};
pub use context::{pipelines_created, reserved, Context};
pub use descriptor::{Bound, BufferRange, DescriptorPool};
pub use memory::{Accountant, MemTag, MemoryStats, PhasePeak};
pub use pipeline::{Pipeline, PipelineKey};
pub use query::TimestampPool;
pub use shaders::Shader;
pub use view::BufferView;

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
        _ => ErrorKind::Internal,
    };
    if r == vk::Result::ERROR_DEVICE_LOST {
        return Error::new(
            kind,
            format!("{what} failed: the Vulkan device was lost (ERROR_DEVICE_LOST)"),
        );
    }
    Error::new(kind, format!("{what} failed: {r:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The validation layer is really on under ETVK_VALIDATION and its errors are caught:
    /// a descriptor range past the end of its buffer must be reported.
    #[test]
    fn validation_errors_are_captured() {
        std::env::set_var(context::VALIDATION_ENV, "1");
        let ctx = match Context::shared() {
            Ok(ctx) => ctx,
            // Machines without the layer (e.g. the lent GPU machine) cannot run this check.
            Err(e) if e.message.contains("is not installed") => {
                eprintln!("skipped: {}", e.message);
                return;
            }
            Err(e) => panic!("no Vulkan device: {e}"),
        };
        if !ctx.validation_enabled() {
            // Another test of this binary created the process-wide context first, without
            // validation; `make test` sets ETVK_VALIDATION=1 for the whole run.
            eprintln!("skipped: run with ETVK_VALIDATION=1 to check validation capture");
            return;
        }
        ctx.take_validation_errors();
        let acct = Arc::new(Accountant::default());
        let buf = Buffer::new(&ctx, &acct, 16, BufferKind::Device, MemTag::Activation).unwrap();
        let key = PipelineKey {
            shader: shaders::COPY.name,
            variant: None,
            tensor_bindings: 2,
            texel_mask: 0,
            push_bytes: 0,
            spec: vec![64, 1, 1],
        };
        let pipeline = ctx.pipeline(&shaders::COPY, key).unwrap();
        let pool = DescriptorPool::new(&ctx, 1, 3, 0).unwrap();
        let bad = BufferRange {
            buffer: buf.handle(),
            offset: 0,
            size: 1 << 20,
        };
        let bad = Bound::Buffer(bad);
        let _ = pool.allocate(&pipeline, &[bad, bad, bad]);
        let err = ctx
            .check_validation("test")
            .expect_err("validation must flag the range");
        assert!(err.message.contains("validation"), "{}", err.message);
        assert_eq!(acct.snapshot().current_of(MemTag::Activation), 16);
    }
}
