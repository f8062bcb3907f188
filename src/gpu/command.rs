//! Command buffers (each with its own pool) and fences.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ash::vk;

use super::pipeline::Pipeline;
use super::testing::{self, Object};
use super::vk_error;
use super::{Context, DeviceKind};
use crate::error::{Error, Result};

/// How long a wait may take before etvk reports the device as hung instead of blocking forever.
const FENCE_TIMEOUT_NS: u64 = 120_000_000_000;

/// A primary command buffer. Recording methods assume the buffer is between `begin` and `end`.
pub struct CommandBuffer {
    pub(super) ctx: Arc<Context>,
    pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
}

impl CommandBuffer {
    pub fn new(ctx: &Arc<Context>) -> Result<Self> {
        let info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(ctx.queue_family())
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        let pool = testing::fault("vkCreateCommandPool", false)
            // SAFETY: valid create info on a live device.
            .and_then(|()| unsafe { ctx.device().create_command_pool(&info, None) })
            .map_err(|r| vk_error("vkCreateCommandPool", r))?;
        let alloc = vk::CommandBufferAllocateInfo::default()
            .command_pool(pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        let allocated = testing::fault("vkAllocateCommandBuffers", false)
            // SAFETY: the pool was just created from this device.
            .and_then(|()| unsafe { ctx.device().allocate_command_buffers(&alloc) });
        let cmd = match allocated {
            Ok(v) => v[0],
            Err(r) => {
                // SAFETY: nothing was allocated from the pool.
                unsafe { ctx.device().destroy_command_pool(pool, None) };
                return Err(vk_error("vkAllocateCommandBuffers", r));
            }
        };
        testing::created(Object::CommandPool);
        Ok(CommandBuffer {
            ctx: ctx.clone(),
            pool,
            cmd,
        })
    }

    pub fn handle(&self) -> vk::CommandBuffer {
        self.cmd
    }

    pub fn begin(&mut self, one_time: bool) -> Result<()> {
        let flags = if one_time {
            vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT
        } else {
            vk::CommandBufferUsageFlags::empty()
        };
        testing::fault("vkBeginCommandBuffer", false)
            .map_err(|r| vk_error("vkBeginCommandBuffer", r))?;
        // SAFETY: the buffer is not pending (callers wait on the fence of its last submission).
        unsafe {
            self.ctx
                .device()
                .reset_command_buffer(self.cmd, vk::CommandBufferResetFlags::empty())
                .map_err(|r| vk_error("vkResetCommandBuffer", r))?;
            self.ctx
                .device()
                .begin_command_buffer(
                    self.cmd,
                    &vk::CommandBufferBeginInfo::default().flags(flags),
                )
                .map_err(|r| vk_error("vkBeginCommandBuffer", r))
        }
    }

    pub fn end(&mut self) -> Result<()> {
        testing::fault("vkEndCommandBuffer", false)
            // SAFETY: the buffer is in the recording state.
            .and_then(|()| unsafe { self.ctx.device().end_command_buffer(self.cmd) })
            .map_err(|r| vk_error("vkEndCommandBuffer", r))
    }

    /// Binds `pipeline` with `set`, pushes `push_params` (for a push-constant pipeline: the
    /// whole params struct; empty otherwise) and dispatches `groups` workgroups.
    pub fn dispatch(
        &mut self,
        pipeline: &Pipeline,
        set: vk::DescriptorSet,
        push_params: &[u32],
        groups: [u32; 3],
    ) {
        let d = self.ctx.device();
        let block: Vec<u8> = push_params.iter().flat_map(|w| w.to_le_bytes()).collect();
        // SAFETY: recording state; pipeline, layout and set are alive for as long as this
        // command buffer can be submitted (owned by the same delegate / context). The push
        // range is the layout's: the pipeline was created with exactly this struct's size.
        unsafe {
            d.cmd_bind_pipeline(self.cmd, vk::PipelineBindPoint::COMPUTE, pipeline.pipeline);
            d.cmd_bind_descriptor_sets(
                self.cmd,
                vk::PipelineBindPoint::COMPUTE,
                pipeline.layout,
                0,
                &[set],
                &[],
            );
            if !block.is_empty() {
                d.cmd_push_constants(
                    self.cmd,
                    pipeline.layout,
                    vk::ShaderStageFlags::COMPUTE,
                    0,
                    &block,
                );
            }
            d.cmd_dispatch(self.cmd, groups[0], groups[1], groups[2]);
        }
    }

    /// Makes earlier compute-shader writes visible to later compute-shader reads and orders
    /// later writes after earlier reads: the barrier between two dependent dispatches.
    pub fn compute_barrier(&mut self) {
        let barrier = [vk::MemoryBarrier::default()
            .src_access_mask(vk::AccessFlags::SHADER_WRITE)
            .dst_access_mask(vk::AccessFlags::SHADER_READ | vk::AccessFlags::SHADER_WRITE)];
        let stage = vk::PipelineStageFlags::COMPUTE_SHADER;
        // SAFETY: recording state; a global memory barrier has no resource references.
        unsafe {
            self.ctx.device().cmd_pipeline_barrier(
                self.cmd,
                stage,
                stage,
                vk::DependencyFlags::empty(),
                &barrier,
                &[],
                &[],
            )
        };
    }

    /// Copies `size` bytes between buffers.
    pub fn copy(
        &mut self,
        src: vk::Buffer,
        src_offset: u64,
        dst: vk::Buffer,
        dst_offset: u64,
        size: u64,
    ) {
        let region = [vk::BufferCopy {
            src_offset,
            dst_offset,
            size,
        }];
        // SAFETY: recording state; the caller passes live buffers with TRANSFER usage and
        // in-range regions.
        unsafe {
            self.ctx
                .device()
                .cmd_copy_buffer(self.cmd, src, dst, &region)
        };
    }

    /// Makes all earlier writes (shader or transfer, and host writes before submission)
    /// visible to all later reads and writes (shader, transfer or host).
    pub fn full_barrier(&mut self) {
        let barrier = [vk::MemoryBarrier::default()
            .src_access_mask(
                vk::AccessFlags::SHADER_WRITE
                    | vk::AccessFlags::TRANSFER_WRITE
                    | vk::AccessFlags::HOST_WRITE,
            )
            .dst_access_mask(
                vk::AccessFlags::SHADER_READ
                    | vk::AccessFlags::SHADER_WRITE
                    | vk::AccessFlags::TRANSFER_READ
                    | vk::AccessFlags::TRANSFER_WRITE
                    | vk::AccessFlags::HOST_READ,
            )];
        let stages = vk::PipelineStageFlags::COMPUTE_SHADER
            | vk::PipelineStageFlags::TRANSFER
            | vk::PipelineStageFlags::HOST;
        // SAFETY: recording state; a global memory barrier has no resource references.
        unsafe {
            self.ctx.device().cmd_pipeline_barrier(
                self.cmd,
                stages,
                stages,
                vk::DependencyFlags::empty(),
                &barrier,
                &[],
                &[],
            )
        };
    }

    /// Submits; `fence` signals when the work is done. The caller must wait on it before
    /// re-recording this buffer or dropping anything it uses.
    pub fn submit(&self, fence: &Fence) -> Result<()> {
        fence.reset()?;
        self.ctx.submit(self.cmd, fence.fence)
    }

    /// Submits and waits for completion.
    pub fn submit_and_wait(&self, fence: &Fence) -> Result<()> {
        self.submit(fence)?;
        fence.wait()
    }
}

impl Drop for CommandBuffer {
    fn drop(&mut self) {
        // SAFETY: owners wait for submitted work before dropping; destroying the pool frees
        // the command buffer.
        unsafe { self.ctx.device().destroy_command_pool(self.pool, None) };
        testing::destroyed(Object::CommandPool);
    }
}

pub struct Fence {
    ctx: Arc<Context>,
    fence: vk::Fence,
}

impl Fence {
    pub fn new(ctx: &Arc<Context>) -> Result<Self> {
        let fence = testing::fault("vkCreateFence", false)
            // SAFETY: valid create info on a live device.
            .and_then(|()| unsafe {
                ctx.device()
                    .create_fence(&vk::FenceCreateInfo::default(), None)
            })
            .map_err(|r| vk_error("vkCreateFence", r))?;
        testing::created(Object::Fence);
        Ok(Fence {
            ctx: ctx.clone(),
            fence,
        })
    }

    pub fn reset(&self) -> Result<()> {
        // SAFETY: the fence is not part of a pending submission (callers wait first).
        unsafe { self.ctx.device().reset_fences(&[self.fence]) }
            .map_err(|r| vk_error("vkResetFences", r))
    }

    pub fn wait(&self) -> Result<()> {
        self.spin_until_signaled();
        // SAFETY: waiting on a fence of this device.
        let waited = unsafe {
            self.ctx
                .device()
                .wait_for_fences(&[self.fence], true, FENCE_TIMEOUT_NS)
        };
        // An injected failure comes after the real wait: nothing is pending when it returns.
        let waited = waited.and_then(|()| testing::fault("vkWaitForFences", true));
        match self.ctx.note_result(waited) {
            Ok(()) => Ok(()),
            Err(vk::Result::TIMEOUT) => Err(Error::internal(format!(
                "GPU work did not finish within {} s",
                FENCE_TIMEOUT_NS / 1_000_000_000
            ))),
            Err(r) => Err(vk_error("vkWaitForFences", r)),
        }
    }

    /// On GPUs, polls the fence for up to [`fence_spin`] before the blocking wait: a thread
    /// woken from vkWaitForFences comes back tens of microseconds after the GPU finished,
    /// which is a large share of a sub-millisecond execute (a decode step, a small CNN). CPU
    /// devices never spin: their work runs on the cores the spinning thread would take.
    fn spin_until_signaled(&self) {
        let budget = fence_spin(self.ctx.caps().kind);
        if budget.is_zero() {
            return;
        }
        let start = Instant::now();
        while start.elapsed() < budget {
            // SAFETY: querying a fence of this device.
            match unsafe { self.ctx.device().get_fence_status(self.fence) } {
                Ok(false) => std::hint::spin_loop(),
                // Signaled, or an error the blocking wait reports.
                _ => return,
            }
        }
    }
}

/// Environment override of the fence spin, in microseconds (0: never spin).
pub const FENCE_SPIN_ENV: &str = "ETVK_FENCE_SPIN_US";

/// How long a wait polls before blocking on a device of `kind`.
fn fence_spin(kind: DeviceKind) -> Duration {
    let default_us = match kind {
        DeviceKind::Cpu => 0,
        _ => DEFAULT_FENCE_SPIN_US,
    };
    static OVERRIDE: OnceLock<Option<u64>> = OnceLock::new();
    let forced = OVERRIDE.get_or_init(|| {
        std::env::var(FENCE_SPIN_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    });
    Duration::from_micros(forced.unwrap_or(default_us))
}

/// The GPU default: long enough to cover a decode step or a small CNN, short enough not to
/// keep a core busy through a long inference.
const DEFAULT_FENCE_SPIN_US: u64 = 1000;

impl Drop for Fence {
    fn drop(&mut self) {
        // SAFETY: a fence in a pending submission is always waited on before its owner drops.
        unsafe { self.ctx.device().destroy_fence(self.fence, None) };
        testing::destroyed(Object::Fence);
    }
}
