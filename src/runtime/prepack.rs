//! Streaming constants to the device. Each weight's source bytes are fetched right before it
//! is packed and released as soon as they are in staging (or written directly, on unified
//! memory). Staging is one bounded ring split in two slots, each with its own command buffer
//! and fence, so converting the next piece on the CPU overlaps the GPU copy of the previous
//! one; a weight larger than a slot goes through in pieces.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::DType;
use crate::gpu::memory::Accountant;
use crate::gpu::{Buffer, BufferKind, CommandBuffer, Context, Fence, MemTag};
use crate::kernels::packing::Packing;
use crate::kernels::Elem;
use crate::runtime::convert::{pack_to_gpu, GPU_ELEM_SIZE};

struct Slot {
    cmd: CommandBuffer,
    fence: Fence,
    pending: bool,
}

/// Uploads weights through a bounded, reusable staging ring.
pub struct StagingRing {
    ring: Buffer,
    slots: Vec<Slot>,
    slot_bytes: u64,
    next: usize,
}

impl StagingRing {
    /// A ring of `bytes` (rounded down to whole elements per slot, at least one element).
    pub fn new(ctx: &Arc<Context>, acct: &Arc<Accountant>, bytes: u64) -> Result<Self> {
        let slot_count = 2u64;
        let slot_bytes = (bytes / slot_count / GPU_ELEM_SIZE as u64).max(1) * GPU_ELEM_SIZE as u64;
        let ring = Buffer::new(
            ctx,
            acct,
            slot_bytes * slot_count,
            BufferKind::Host,
            MemTag::Staging,
        )?;
        let slots = (0..slot_count)
            .map(|_| {
                Ok(Slot {
                    cmd: CommandBuffer::new(ctx)?,
                    fence: Fence::new(ctx)?,
                    pending: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StagingRing {
            ring,
            slots,
            slot_bytes,
            next: 0,
        })
    }

    pub fn size(&self) -> u64 {
        self.ring.size()
    }

    /// Converts `src` (elements of `dtype`) into GPU words, re-laid out by `packing`, and
    /// copies them into `dst` from byte 0, slot by slot. Returns once every piece is in
    /// staging (the GPU copies may still be running: `finish` waits for them). On an error
    /// it waits for the pieces already submitted, so the caller may free `dst` at once.
    pub fn upload(
        &mut self,
        src: &[u8],
        dtype: DType,
        packing: (Option<Packing>, Elem),
        dst: &Buffer,
    ) -> Result<()> {
        let result = self.upload_pieces(src, dtype, packing, dst);
        if result.is_err() {
            let _ = self.finish();
        }
        result
    }

    fn upload_pieces(
        &mut self,
        src: &[u8],
        dtype: DType,
        (packing, elem): (Option<Packing>, Elem),
        dst: &Buffer,
    ) -> Result<()> {
        let eb = elem.bytes();
        let elems_per_slot = (self.slot_bytes as usize) / eb;
        let n = packing.map_or(src.len() / dtype.size(), |p| p.packed_len());
        if (n * eb) as u64 > dst.size() {
            return Err(Error::internal("weight buffer smaller than its constant"));
        }
        let mut start = 0usize;
        while start < n {
            let count = elems_per_slot.min(n - start);
            let index = self.next;
            self.next = (self.next + 1) % self.slots.len();
            let slot = &mut self.slots[index];
            if slot.pending {
                slot.fence.wait()?;
                slot.pending = false;
            }
            let offset = index as u64 * self.slot_bytes;
            let bytes = (count * eb) as u64;
            let staging = &mut self.ring.bytes_mut()?[offset as usize..(offset + bytes) as usize];
            pack_to_gpu(dtype, src, packing, elem, start, staging)?;
            slot.cmd.begin(true)?;
            slot.cmd.copy(
                self.ring.handle(),
                offset,
                dst.handle(),
                (start * eb) as u64,
                bytes,
            );
            slot.cmd.end()?;
            slot.cmd.submit(&slot.fence)?;
            slot.pending = true;
            start += count;
        }
        Ok(())
    }

    /// Waits for every pending copy; the ring is released when dropped.
    pub fn finish(&mut self) -> Result<()> {
        for slot in &mut self.slots {
            if slot.pending {
                slot.fence.wait()?;
                slot.pending = false;
            }
        }
        Ok(())
    }
}

impl Drop for StagingRing {
    fn drop(&mut self) {
        // Never free staging memory the GPU may still read (error paths included).
        let _ = self.finish();
    }
}

/// Writes `src` converted to GPU words (re-laid out by `packing`) straight into a mapped device
/// buffer (unified memory).
pub fn write_direct(
    src: &[u8],
    dtype: DType,
    (packing, elem): (Option<Packing>, Elem),
    dst: &mut Buffer,
) -> Result<()> {
    let n = packing.map_or(src.len() / dtype.size(), |p| p.packed_len());
    let bytes = dst.bytes_mut()?;
    let len = n * elem.bytes();
    if bytes.len() < len {
        return Err(Error::internal("weight buffer smaller than its constant"));
    }
    pack_to_gpu(dtype, src, packing, elem, 0, &mut bytes[..len])
}
