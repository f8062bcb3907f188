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

/// Current and peak bytes, per tag and in total, and the peak total of each init phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub current: [u64; 6],
    pub peak: [u64; 6],
    pub total_current: u64,
    pub total_peak: u64,
    /// (phase name, peak total bytes while it ran), in the order the phases ran.
    pub phase_peaks: Vec<(&'static str, u64)>,
}

impl MemoryStats {
    pub fn current_of(&self, tag: MemTag) -> u64 {
        self.current[slot(tag)]
    }
    pub fn peak_of(&self, tag: MemTag) -> u64 {
        self.peak[slot(tag)]
    }
    pub fn phase_peak(&self, name: &str) -> Option<u64> {
        self.phase_peaks.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
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
        let total = s.total_current;
        if let Some((_, peak)) = s.phase_peaks.last_mut() {
            *peak = (*peak).max(total);
        }
    }

    /// Starts a named phase; its peak starts at what is held now.
    pub fn begin_phase(&self, name: &'static str) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let total = s.total_current;
        s.phase_peaks.push((name, total));
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
