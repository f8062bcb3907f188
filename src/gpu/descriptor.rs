//! A descriptor pool sized for a known number of sets and storage-buffer bindings.

use std::sync::Arc;

use ash::vk;

use super::pipeline::Pipeline;
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

pub struct DescriptorPool {
    ctx: Arc<Context>,
    pool: vk::DescriptorPool,
}

impl DescriptorPool {
    pub fn new(ctx: &Arc<Context>, max_sets: u32, max_bindings: u32) -> Result<Self> {
        let sizes = [vk::DescriptorPoolSize {
            ty: vk::DescriptorType::STORAGE_BUFFER,
            descriptor_count: max_bindings.max(1),
        }];
        let info = vk::DescriptorPoolCreateInfo::default()
            .max_sets(max_sets.max(1))
            .pool_sizes(&sizes);
        // SAFETY: valid create info on a live device.
        let pool = unsafe { ctx.device().create_descriptor_pool(&info, None) }
            .map_err(|r| vk_error("vkCreateDescriptorPool", r))?;
        Ok(DescriptorPool {
            ctx: ctx.clone(),
            pool,
        })
    }

    /// Allocates a set for `pipeline` and points binding i at `ranges[i]`.
    pub fn allocate(
        &self,
        pipeline: &Pipeline,
        ranges: &[BufferRange],
    ) -> Result<vk::DescriptorSet> {
        let layouts = [pipeline.set_layout];
        let info = vk::DescriptorSetAllocateInfo::default()
            .descriptor_pool(self.pool)
            .set_layouts(&layouts);
        // SAFETY: the layout is alive (owned by the context's cache) and the pool was sized by
        // the caller for every set it allocates.
        let set = unsafe { self.ctx.device().allocate_descriptor_sets(&info) }
            .map_err(|r| vk_error("vkAllocateDescriptorSets", r))?[0];
        let infos: Vec<[vk::DescriptorBufferInfo; 1]> = ranges
            .iter()
            .map(|r| {
                [vk::DescriptorBufferInfo {
                    buffer: r.buffer,
                    offset: r.offset,
                    range: r.size,
                }]
            })
            .collect();
        let writes: Vec<_> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(set)
                    .dst_binding(pipeline.first_binding + i as u32)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(info)
            })
            .collect();
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
    }
}
