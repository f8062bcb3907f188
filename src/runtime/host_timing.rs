//! Where an execute's wall time goes on the host, for tuning (`ETVK_HOST_TIMING=1`): the
//! input copies, the submission, the wait for the fence and the output copies, timed per
//! execute and printed as medians to stderr when the delegate is destroyed. GPU timestamps
//! (`--profile`) say what the dispatches cost; this says what the round trip around them costs.

use std::time::Instant;

/// The phases of one execute, in order.
#[derive(Clone, Copy)]
pub enum Phase {
    Inputs,
    Submit,
    Wait,
    Outputs,
}

const PHASES: [&str; 4] = ["inputs", "submit", "wait", "outputs"];

/// Per-execute phase durations (ns); empty and free when timing is off.
pub struct HostTiming {
    enabled: bool,
    samples: Vec<[u64; 4]>,
    mark: Option<Instant>,
}

impl HostTiming {
    pub fn from_env() -> Self {
        HostTiming {
            enabled: std::env::var("ETVK_HOST_TIMING").is_ok_and(|v| v == "1"),
            samples: Vec::new(),
            mark: None,
        }
    }

    /// Starts an execute's timing.
    pub fn start(&mut self) {
        if self.enabled {
            self.samples.push([0; 4]);
            self.mark = Some(Instant::now());
        }
    }

    /// Ends `phase` of the current execute (the next phase starts now).
    pub fn end(&mut self, phase: Phase) {
        if let (Some(mark), Some(sample)) = (self.mark, self.samples.last_mut()) {
            let now = Instant::now();
            sample[phase as usize] += (now - mark).as_nanos() as u64;
            self.mark = Some(now);
        }
    }

    /// Times an output read, which happens after `execute` returns.
    pub fn begin_outputs(&mut self) {
        if self.enabled {
            self.mark = Some(Instant::now());
        }
    }

    /// "phase median µs" for every phase, over every execute but the first.
    pub fn summary(&self) -> Option<String> {
        let runs = self.samples.get(1..).filter(|s| !s.is_empty())?;
        let parts: Vec<String> = (0..PHASES.len())
            .map(|i| {
                let mut v: Vec<u64> = runs.iter().map(|s| s[i]).collect();
                v.sort_unstable();
                format!("{} {:.1}", PHASES[i], v[v.len() / 2] as f64 / 1e3)
            })
            .collect();
        Some(format!(
            "host time per execute, median of {} (µs): {}",
            runs.len(),
            parts.join(", ")
        ))
    }
}

impl Drop for HostTiming {
    fn drop(&mut self) {
        if let Some(s) = self.summary() {
            eprintln!("etvk: {s}");
        }
    }
}
