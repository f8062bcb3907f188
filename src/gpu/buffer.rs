//! A VMA-backed `VkBuffer`, freed (and un-accounted) on drop.

use std::sync::Arc;

use ash::vk;
use vk_mem::Alloc;

use super::memory::{Accountant, MemTag};
use super::testing::{self, Object};
use super::vk_error;
use super::Context;
use crate::error::{Error, Result};

/// Where a buffer lives and how it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferKind {
    /// Device-local storage buffer (tensors); also a transfer source/destination.
    Device,
    /// Host-visible, mapped, for uploads and readbacks (staging, I/O transfer, params).
    Host,
    /// Device-local *and* host-visible, mapped for sequential writes: weights written by the
    /// CPU with no staging copy, on devices with unified memory.
    Unified,
}

pub struct Buffer {
    ctx: Arc<Context>,
    accountant: Arc<Accountant>,
    buffer: vk::Buffer,
    allocation: vk_mem::Allocation,
    size: u64,
    tag: MemTag,
    mapped: *mut u8,
}

// SAFETY: the raw mapped pointer refers to memory owned by this buffer; access to the
// contents is governed by &/&mut self like any owned byte array.
unsafe impl Send for Buffer {}
// SAFETY: see Send; shared references only read.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `size` bytes (at least 4: Vulkan forbids empty buffers) and accounts them.
    pub fn new(
        ctx: &Arc<Context>,
        accountant: &Arc<Accountant>,
        size: u64,
        kind: BufferKind,
        tag: MemTag,
    ) -> Result<Buffer> {
        let size = size.max(4);
        // Tensors may also be read through uniform texel buffer views by kernels that prefer
        // texel fetches (see `Caps::texel_reads`); host memory too, which may hold a graph
        // output (direct I/O on discrete GPUs).
        let texel = vk::BufferUsageFlags::UNIFORM_TEXEL_BUFFER;
        let usage = vk::BufferUsageFlags::STORAGE_BUFFER
            | vk::BufferUsageFlags::TRANSFER_SRC
            | vk::BufferUsageFlags::TRANSFER_DST
            | texel;
        let info = vk::BufferCreateInfo::default()
            .size(size)
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        let alloc_info = match kind {
            BufferKind::Device => vk_mem::AllocationCreateInfo {
                usage: vk_mem::MemoryUsage::AutoPreferDevice,
                ..Default::default()
            },
            BufferKind::Unified => vk_mem::AllocationCreateInfo {
                usage: vk_mem::MemoryUsage::AutoPreferDevice,
                flags: vk_mem::AllocationCreateFlags::HOST_ACCESS_SEQUENTIAL_WRITE
                    | vk_mem::AllocationCreateFlags::MAPPED,
                required_flags: vk::MemoryPropertyFlags::DEVICE_LOCAL
                    | vk::MemoryPropertyFlags::HOST_VISIBLE
                    | vk::MemoryPropertyFlags::HOST_COHERENT,
                ..Default::default()
            },
            BufferKind::Host => vk_mem::AllocationCreateInfo {
                usage: vk_mem::MemoryUsage::AutoPreferHost,
                flags: vk_mem::AllocationCreateFlags::HOST_ACCESS_RANDOM
                    | vk_mem::AllocationCreateFlags::MAPPED,
                required_flags: vk::MemoryPropertyFlags::HOST_VISIBLE
                    | vk::MemoryPropertyFlags::HOST_COHERENT,
                ..Default::default()
            },
        };
        if size > ctx.caps().max_memory_allocation_size {
            return Err(Error::new(
                crate::error::ErrorKind::OutOfResources,
                format!(
                    "a {size}-byte {tag:?} buffer exceeds the device's maxMemoryAllocationSize {}",
                    ctx.caps().max_memory_allocation_size
                ),
            ));
        }
        let (buffer, allocation) = testing::fault("vmaCreateBuffer", false)
            // SAFETY: valid create infos; the allocator outlives the buffer (we hold an Arc).
            .and_then(|()| unsafe { ctx.allocator().create_buffer(&info, &alloc_info) })
            .map_err(|r| vk_error(&format!("allocating a {size}-byte {tag:?} buffer"), r))?;
        testing::created(Object::Buffer);
        let mapped = match kind {
            BufferKind::Host | BufferKind::Unified => {
                ctx.allocator().get_allocation_info(&allocation).mapped_data as *mut u8
            }
            BufferKind::Device => std::ptr::null_mut(),
        };
        accountant.add(tag, size);
        ctx.note_reserved();
        let buf = Buffer {
            ctx: ctx.clone(),
            accountant: accountant.clone(),
            buffer,
            allocation,
            size,
            tag,
            mapped,
        };
        if kind != BufferKind::Device && mapped.is_null() {
            return Err(Error::internal("host buffer was not mapped"));
        }
        Ok(buf)
    }

    pub fn handle(&self) -> vk::Buffer {
        self.buffer
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the CPU can read and write the contents (host or unified memory).
    pub fn is_mapped(&self) -> bool {
        !self.mapped.is_null()
    }

    pub fn tag(&self) -> MemTag {
        self.tag
    }

    /// The mapped bytes of a host buffer.
    pub fn bytes_mut(&mut self) -> Result<&mut [u8]> {
        if self.mapped.is_null() {
            return Err(Error::internal("buffer is not host-visible"));
        }
        // SAFETY: `mapped` points to `size` bytes of persistently mapped, host-coherent memory
        // owned by this buffer; &mut self gives exclusive access on the host side.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.mapped, self.size as usize) })
    }

    /// The mapped bytes of a host buffer.
    pub fn bytes(&self) -> Result<&[u8]> {
        if self.mapped.is_null() {
            return Err(Error::internal("buffer is not host-visible"));
        }
        // SAFETY: as in `bytes_mut`; shared access only reads.
        Ok(unsafe { std::slice::from_raw_parts(self.mapped, self.size as usize) })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the buffer and allocation were created together by this allocator; the
        // owner guarantees no pending GPU work uses it (delegates wait on their fences).
        unsafe {
            self.ctx
                .allocator()
                .destroy_buffer(self.buffer, &mut self.allocation)
        };
        testing::destroyed(Object::Buffer);
        self.accountant.sub(self.tag, self.size);
        self.ctx.note_reserved();
    }
}
