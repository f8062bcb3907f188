//! The device memory a loaded delegate holds: its buffers, where each tensor lives in them,
//! and how each tensor is laid out and stored.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::format::ValueId;
use crate::gpu::{Buffer, BufferRange};
use crate::graph::TensorMeta;
use crate::kernels::Elem;
use crate::runtime::record::TensorMemory;

/// Where a root tensor's memory is: a buffer, offset and size.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub buffer: usize,
    pub offset: u64,
    pub size: u64,
}

/// Buffers, placements and tensor metas of one delegate.
pub struct Resident {
    pub buffers: Vec<Buffer>,
    pub placements: BTreeMap<ValueId, Placement>,
    pub metas: Vec<Option<TensorMeta>>,
}

impl Resident {
    pub fn new(metas: Vec<Option<TensorMeta>>) -> Self {
        Resident {
            buffers: Vec::new(),
            placements: BTreeMap::new(),
            metas,
        }
    }

    /// Adds `buffer` and places each of `users` at its start (`size` bytes each).
    pub fn place_buffer(&mut self, buffer: Buffer, users: &[ValueId], size: u64) -> usize {
        self.buffers.push(buffer);
        let index = self.buffers.len() - 1;
        for &u in users {
            self.place(u, index, 0, size);
        }
        index
    }

    /// Places `value` at `offset` in buffer `index`.
    pub fn place(&mut self, value: ValueId, index: usize, offset: u64, size: u64) {
        self.placements.insert(
            value,
            Placement {
                buffer: index,
                offset,
                size: size.max(4),
            },
        );
    }

    pub fn placement(&self, id: ValueId) -> Result<Placement> {
        self.placements
            .get(&id)
            .copied()
            .ok_or_else(|| Error::internal(format!("value {id} has no memory")))
    }

    /// Whether the CPU can read and write `id` in place (unified memory).
    pub fn is_mapped(&self, id: ValueId) -> bool {
        self.placements
            .get(&id)
            .is_some_and(|p| self.buffers[p.buffer].is_mapped())
    }

    /// The mapped bytes of `id` (unified memory).
    pub fn bytes(&self, id: ValueId) -> Result<&[u8]> {
        let p = self.placement(id)?;
        Ok(&self.buffers[p.buffer].bytes()?[p.offset as usize..(p.offset + p.size) as usize])
    }

    /// The mapped bytes of `id` (unified memory), writable.
    pub fn bytes_mut(&mut self, id: ValueId) -> Result<&mut [u8]> {
        let p = self.placement(id)?;
        let all = self.buffers[p.buffer].bytes_mut()?;
        Ok(&mut all[p.offset as usize..(p.offset + p.size) as usize])
    }
}

impl TensorMemory for Resident {
    fn range(&self, id: ValueId) -> Result<BufferRange> {
        let p = self.placement(id)?;
        Ok(BufferRange {
            buffer: self.buffers[p.buffer].handle(),
            offset: p.offset,
            size: p.size,
        })
    }

    fn elem(&self, id: ValueId) -> Elem {
        self.metas
            .get(id)
            .and_then(Option::as_ref)
            .map_or(Elem::F32, |m| m.elem)
    }
}
