//! A descriptor pool sized for a known number of sets, storage-buffer and texel-buffer
//! bindings.

use std::sync::Arc;

use ash::vk;

use super::pipeline::{descriptor_type, Pipeline};
use super::testing::{self, Object};
use super::vk_error;
use super::Context;
use crate::error::Result;

/// One bound range of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct BufferRange {
    pub buffer: vk::Buffer,
    pub offset: u64,
    pub size: u64,
}

/// What one binding of a set points at: a buffer range (storage buffer) or a texel view.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    Buffer(BufferRange),
    Texels(vk::BufferView),
}

pub struct DescriptorPool {
    ctx: Arc<Context>,
    pool: vk::DescriptorPool,
}

impl DescriptorPool {
    pub fn new(ctx: &Arc<Context>, max_sets: u32, buffers: u32, texel_views: u32) -> Result<Self> {
        let sizes = [
            vk::DescriptorPoolSize {
                ty: vk::DescriptorType::STORAGE_BUFFER,
                descriptor_count: buffers.max(1),
            },
            vk::DescriptorPoolSize {
                ty: vk::DescriptorType::UNIFORM_TEXEL_BUFFER,
                descriptor_count: texel_views.max(1),
            },
        ];
        let info = vk::DescriptorPoolCreateInfo::default()
            .max_sets(max_sets.max(1))
            .pool_sizes(&sizes);
        let pool = testing::fault("vkCreateDescriptorPool", false)
            // SAFETY: valid create info on a live device.
            .and_then(|()| unsafe { ctx.device().create_descriptor_pool(&info, None) })
            .map_err(|r| vk_error("vkCreateDescriptorPool", r))?;
        testing::created(Object::DescriptorPool);
        Ok(DescriptorPool {
            ctx: ctx.clone(),
            pool,
        })
    }

    /// Allocates a set for `pipeline` and points its binding i (from the pipeline's first) at
    /// `bound[i]`, which must be a texel view exactly where the pipeline has texel bindings.
    pub fn allocate(&self, pipeline: &Pipeline, bound: &[Bound]) -> Result<vk::DescriptorSet> {
        let layouts = [pipeline.set_layout];
        let info = vk::DescriptorSetAllocateInfo::default()
            .descriptor_pool(self.pool)
            .set_layouts(&layouts);
        let set = testing::fault("vkAllocateDescriptorSets", false)
            // SAFETY: the layout is alive (owned by the context's cache) and the pool was sized
            // by the caller for every set it allocates.
            .and_then(|()| unsafe { self.ctx.device().allocate_descriptor_sets(&info) })
            .map_err(|r| vk_error("vkAllocateDescriptorSets", r))?[0];
        let infos: Vec<[vk::DescriptorBufferInfo; 1]> = bound
            .iter()
            .map(|b| match b {
                Bound::Buffer(r) => [vk::DescriptorBufferInfo {
                    buffer: r.buffer,
                    offset: r.offset,
                    range: r.size,
                }],
                Bound::Texels(_) => [vk::DescriptorBufferInfo::default()],
            })
            .collect();
        let views: Vec<[vk::BufferView; 1]> = bound
            .iter()
            .map(|b| match b {
                Bound::Texels(v) => [*v],
                Bound::Buffer(_) => [vk::BufferView::null()],
            })
            .collect();
        let mut writes = Vec::with_capacity(bound.len());
        for (i, b) in bound.iter().enumerate() {
            let binding = pipeline.first_binding + i as u32;
            let ty = descriptor_type(binding, pipeline.texel_mask);
            let write = vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(binding)
                .descriptor_type(ty);
            let matches = matches!(
                (b, ty),
                (Bound::Texels(_), vk::DescriptorType::UNIFORM_TEXEL_BUFFER)
                    | (Bound::Buffer(_), vk::DescriptorType::STORAGE_BUFFER)
            );
            if !matches {
                return Err(crate::error::Error::internal(format!(
                    "binding {binding}: {b:?} does not fit a {ty:?} descriptor"
                )));
            }
            writes.push(match b {
                Bound::Buffer(_) => write.buffer_info(&infos[i]),
                Bound::Texels(_) => write.texel_buffer_view(&views[i]),
            });
        }
        // SAFETY: the set is not in use by any pending command buffer (just allocated) and the
        // buffers are alive.
        unsafe { self.ctx.device().update_descriptor_sets(&writes, &[]) };
        Ok(set)
    }
}

impl Drop for DescriptorPool {
    fn drop(&mut self) {
        // SAFETY: the owner waits for its work to finish before dropping the pool.
        unsafe { self.ctx.device().destroy_descriptor_pool(self.pool, None) };
        testing::destroyed(Object::DescriptorPool);
    }
}
