//! Memory accounting: every allocation carries a tag; current and peak bytes are kept per tag,
//! for device memory, and in total (device + source bytes held), per delegate and for the
//! whole process, so the peak is measured rather than guessed.

use std::sync::{Arc, LazyLock, Mutex};

/// What an allocation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemTag {
    /// Packed weights on the device.
    Weight,
    /// Host-visible staging used to upload constants.
    Staging,
    /// Intermediate tensors (and the device copies of inputs and outputs).
    Activation,
    /// Host transfer buffers of the delegate's inputs and outputs.
    Io,
    /// Per-dispatch shader parameters.
    Params,
    /// Constant source bytes held from the NamedDataMap or the blob (host memory).
    Source,
}

/// Every tag, in the order of [`MemoryStats::current`] / [`MemoryStats::peak`].
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

/// Current and peak bytes per tag, of device memory (every tag but `Source`) and in total,
/// and the peaks of each init phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub current: [u64; 6],
    pub peak: [u64; 6],
    pub device_current: u64,
    pub device_peak: u64,
    pub total_current: u64,
    pub total_peak: u64,
    /// Per init phase, in the order they ran.
    pub phase_peaks: Vec<PhasePeak>,
}

/// The peaks reached during one phase of `init`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhasePeak {
    pub name: &'static str,
    pub total: u64,
    pub by_tag: [u64; 6],
}

impl PhasePeak {
    pub fn of(&self, tag: MemTag) -> u64 {
        self.by_tag[slot(tag)]
    }
}

impl MemoryStats {
    pub fn current_of(&self, tag: MemTag) -> u64 {
        self.current[slot(tag)]
    }
    pub fn peak_of(&self, tag: MemTag) -> u64 {
        self.peak[slot(tag)]
    }
    pub fn phase(&self, name: &str) -> Option<&PhasePeak> {
        self.phase_peaks.iter().find(|p| p.name == name)
    }
}

/// Thread-safe accountant: one per delegate, each feeding the process-wide one.
#[derive(Debug, Default)]
pub struct Accountant {
    stats: Mutex<MemoryStats>,
    parent: Option<Arc<Accountant>>,
}

static PROCESS: LazyLock<Arc<Accountant>> = LazyLock::new(|| Arc::new(Accountant::default()));

impl Accountant {
    /// A delegate's accountant; what it records also counts for the whole process.
    pub fn for_delegate() -> Self {
        Accountant {
            stats: Mutex::default(),
            parent: Some(PROCESS.clone()),
        }
    }

    /// Every delegate of the process together.
    pub fn process() -> MemoryStats {
        PROCESS.snapshot()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, tag: MemTag, bytes: u64) {
        {
            let mut s = self.lock();
            let i = slot(tag);
            s.current[i] += bytes;
            s.peak[i] = s.peak[i].max(s.current[i]);
            if tag != MemTag::Source {
                s.device_current += bytes;
                s.device_peak = s.device_peak.max(s.device_current);
            }
            s.total_current += bytes;
            s.total_peak = s.total_peak.max(s.total_current);
            let (total, now) = (s.total_current, s.current[i]);
            if let Some(phase) = s.phase_peaks.last_mut() {
                phase.total = phase.total.max(total);
                phase.by_tag[i] = phase.by_tag[i].max(now);
            }
        }
        if let Some(p) = &self.parent {
            p.add(tag, bytes);
        }
    }

    pub fn sub(&self, tag: MemTag, bytes: u64) {
        {
            let mut s = self.lock();
            let i = slot(tag);
            s.current[i] = s.current[i].saturating_sub(bytes);
            if tag != MemTag::Source {
                s.device_current = s.device_current.saturating_sub(bytes);
            }
            s.total_current = s.total_current.saturating_sub(bytes);
        }
        if let Some(p) = &self.parent {
            p.sub(tag, bytes);
        }
    }

    /// Starts a named phase; its peaks start at what is held now. The process-wide accountant
    /// keeps one entry per name: the highest over every delegate's phase of that name (of all
    /// the process holds, so earlier delegates' memory counts too).
    pub fn begin_phase(&self, name: &'static str) {
        {
            let mut s = self.lock();
            let mut phase = PhasePeak {
                name,
                total: s.total_current,
                by_tag: s.current,
            };
            if self.parent.is_none() {
                if let Some(i) = s.phase_peaks.iter().position(|p| p.name == name) {
                    let earlier = s.phase_peaks.remove(i);
                    phase.total = phase.total.max(earlier.total);
                    for (now, was) in phase.by_tag.iter_mut().zip(earlier.by_tag) {
                        *now = (*now).max(was);
                    }
                }
            }
            s.phase_peaks.push(phase);
        }
        if let Some(p) = &self.parent {
            p.begin_phase(name);
        }
    }

    pub fn snapshot(&self) -> MemoryStats {
        self.lock().clone()
    }
}
