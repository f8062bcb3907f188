//! Memory accounting: every allocation carries a tag; current and peak bytes are kept per tag
//! and in total, so the peak is measured rather than guessed.

use std::sync::Mutex;

/// What an allocation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemTag {
    /// Packed weights on the device.
    Weight,
    /// Host-visible staging used to upload constants.
    Staging,
    /// Intermediate tensors.
    Activation,
    /// Delegate inputs/outputs and their host transfer buffers.
    Io,
    /// Per-dispatch shader parameters.
    Params,
    /// Constant source bytes held from the NamedDataMap or blob.
    Source,
}

pub const ALL_TAGS: [MemTag; 6] = [
    MemTag::Weight,
    MemTag::Staging,
    MemTag::Activation,
    MemTag::Io,
    MemTag::Params,
    MemTag::Source,
];

fn slot(tag: MemTag) -> usize {
    ALL_TAGS.iter().position(|t| *t == tag).unwrap_or(0)
}

/// Current and peak bytes, per tag and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub current: [u64; 6],
    pub peak: [u64; 6],
    pub total_current: u64,
    pub total_peak: u64,
}

impl MemoryStats {
    pub fn current_of(&self, tag: MemTag) -> u64 {
        self.current[slot(tag)]
    }
    pub fn peak_of(&self, tag: MemTag) -> u64 {
        self.peak[slot(tag)]
    }
}

/// Thread-safe accountant; one per delegate (and one per context for shared objects).
#[derive(Debug, Default)]
pub struct Accountant {
    stats: Mutex<MemoryStats>,
}

impl Accountant {
    pub fn add(&self, tag: MemTag, bytes: u64) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let i = slot(tag);
        s.current[i] += bytes;
        s.peak[i] = s.peak[i].max(s.current[i]);
        s.total_current += bytes;
        s.total_peak = s.total_peak.max(s.total_current);
    }

    pub fn sub(&self, tag: MemTag, bytes: u64) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let i = slot(tag);
        s.current[i] = s.current[i].saturating_sub(bytes);
        s.total_current = s.total_current.saturating_sub(bytes);
    }

    pub fn snapshot(&self) -> MemoryStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
