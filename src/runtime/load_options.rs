//! How `init` loads a program: staging ring size, load order, direct uploads and the
//! activation planner. Compile specs set them; environment variables override them (so one
//! program can be measured both ways).

use crate::error::{Error, Result};
use crate::runtime::CompileSpecs;

/// Default staging ring: 16 MiB.
pub const DEFAULT_STAGING_RING_BYTES: u64 = 16 << 20;

pub const RING_ENV: &str = "ETVK_STAGING_RING_BYTES";
pub const ORDER_ENV: &str = "ETVK_LOAD_ORDER";
pub const DIRECT_ENV: &str = "ETVK_DIRECT_UPLOAD";
pub const PLANNER_ENV: &str = "ETVK_PLANNER";
pub const DIRECT_IO_ENV: &str = "ETVK_DIRECT_IO";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planner {
    /// The lifetime arena when it is no larger than the shared objects, else shared objects.
    Auto,
    /// The exporter's `mem_obj_id` shared objects.
    SharedObjects,
    /// The lifetime arena.
    Arena,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    pub staging_ring_bytes: u64,
    /// All weight memory at build, activations before prepack, one staging buffer per weight,
    /// every source held until init ends: the reference delegate's old order, for comparison.
    pub legacy_order: bool,
    pub direct_upload: bool,
    pub planner: Planner,
    /// Graph inputs in host-visible device memory (written in place) and outputs in cached
    /// host memory (written by their kernel, read in place), with no transfer copies around
    /// the dispatches: on discrete GPUs by default (`ETVK_DIRECT_IO=0|1|always`; `always`
    /// on any device, for tests).
    pub direct_io: DirectIo,
    /// The program asked for dynamic shapes (`require_dynamic_shapes`): no plan that holds at
    /// its serialized sizes only.
    pub dynamic_shapes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectIo {
    Off,
    /// Where inputs and outputs would otherwise be copied: discrete GPUs.
    Discrete,
    Always,
}

impl LoadOptions {
    pub fn resolve(specs: &CompileSpecs) -> Result<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let staging_ring_bytes = match env(RING_ENV) {
            Some(v) => v.parse::<u64>().map_err(|_| {
                Error::invalid_argument(format!("{RING_ENV}={v} is not a byte count"))
            })?,
            None => specs
                .staging_ring_bytes
                .unwrap_or(DEFAULT_STAGING_RING_BYTES),
        };
        if staging_ring_bytes < 64 {
            return Err(Error::invalid_argument(format!(
                "staging ring of {staging_ring_bytes} bytes is too small (minimum 64)"
            )));
        }
        let legacy_order = match env(ORDER_ENV).as_deref() {
            Some("legacy") => true,
            Some("lazy") => false,
            Some(v) => {
                return Err(Error::invalid_argument(format!(
                    "{ORDER_ENV}={v}: use lazy or legacy"
                )))
            }
            None => specs.legacy_load_order.unwrap_or(false),
        };
        let direct_upload = match env(DIRECT_ENV).as_deref() {
            Some("0") => false,
            Some("1") => true,
            Some(v) => {
                return Err(Error::invalid_argument(format!(
                    "{DIRECT_ENV}={v}: use 0 or 1"
                )))
            }
            None => specs.direct_upload.unwrap_or(true),
        };
        let planner = match env(PLANNER_ENV).as_deref() {
            Some("auto") => Planner::Auto,
            Some("shared") => Planner::SharedObjects,
            Some("arena") => Planner::Arena,
            Some(v) => {
                return Err(Error::invalid_argument(format!(
                    "{PLANNER_ENV}={v}: use auto, shared or arena"
                )))
            }
            None => match specs.activation_planner.unwrap_or(0) {
                0 => Planner::Auto,
                1 => Planner::SharedObjects,
                2 => Planner::Arena,
                v => {
                    return Err(Error::invalid_argument(format!(
                        "etvk_activation_planner={v}: use 0, 1 or 2"
                    )))
                }
            },
        };
        let direct_io = match env(DIRECT_IO_ENV).as_deref() {
            Some("0") => DirectIo::Off,
            Some("1") => DirectIo::Discrete,
            None if specs.direct_io == Some(false) => DirectIo::Off,
            None => DirectIo::Discrete,
            Some("always") => DirectIo::Always,
            Some(v) => {
                return Err(Error::invalid_argument(format!(
                    "{DIRECT_IO_ENV}={v}: use 0, 1 or always"
                )))
            }
        };
        Ok(LoadOptions {
            staging_ring_bytes,
            legacy_order,
            direct_upload,
            planner,
            direct_io,
            dynamic_shapes: specs.require_dynamic_shapes,
        })
    }
}
