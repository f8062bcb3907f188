//! Uniform texel buffer views: a buffer range read as RGBA32F texels (`texelFetch`).

use std::sync::Arc;

use ash::vk;

use super::testing::{self, Object};
use super::vk_error;
use super::Context;
use crate::error::Result;

/// A view of `range` bytes of a buffer from `offset`, as RGBA texels of 32-bit or 16-bit
/// floats.
pub struct BufferView {
    ctx: Arc<Context>,
    view: vk::BufferView,
}

impl BufferView {
    /// The caller keeps offset aligned to `minTexelBufferOffsetAlignment` and range within
    /// `maxTexelBufferElements` texels (see `Caps::texel_reads`).
    pub fn new(
        ctx: &Arc<Context>,
        buffer: vk::Buffer,
        offset: u64,
        range: u64,
        half: bool,
    ) -> Result<Self> {
        let format = if half {
            vk::Format::R16G16B16A16_SFLOAT
        } else {
            vk::Format::R32G32B32A32_SFLOAT
        };
        let info = vk::BufferViewCreateInfo::default()
            .buffer(buffer)
            .format(format)
            .offset(offset)
            .range(range);
        let view = testing::fault("vkCreateBufferView", false)
            // SAFETY: valid create info on a live device; the buffer has UNIFORM_TEXEL_BUFFER
            // usage.
            .and_then(|()| unsafe { ctx.device().create_buffer_view(&info, None) })
            .map_err(|r| vk_error("vkCreateBufferView", r))?;
        testing::created(Object::BufferView);
        Ok(BufferView {
            ctx: ctx.clone(),
            view,
        })
    }

    pub fn handle(&self) -> vk::BufferView {
        self.view
    }
}

impl Drop for BufferView {
    fn drop(&mut self) {
        // SAFETY: owners wait for submissions using the view before dropping it.
        unsafe { self.ctx.device().destroy_buffer_view(self.view, None) };
        testing::destroyed(Object::BufferView);
    }
}
