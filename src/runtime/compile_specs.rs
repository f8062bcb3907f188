//! Compile specs handed to `init` (key → little-endian bytes). Unknown keys are ignored.

use crate::error::{Error, Result};

/// The compile specs etvk understands, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompileSpecs {
    pub force_fp16: bool,
    pub require_dynamic_shapes: bool,
    pub skip_memory_planning: bool,
    pub downcast_64_bit: Option<bool>,
    pub warmup_execute_after_compile: bool,
    pub storage_type_override: Option<u32>,
    pub memory_layout_override: Option<u32>,
    /// etvk's own: staging ring size in bytes (`etvk_staging_ring_bytes`, u32 or u64).
    pub staging_ring_bytes: Option<u64>,
    /// etvk's own: load in the legacy order (`etvk_legacy_load_order`, bool).
    pub legacy_load_order: Option<bool>,
    /// etvk's own: write weights directly into host-visible device memory when the device has
    /// it (`etvk_direct_upload`, bool; default on).
    pub direct_upload: Option<bool>,
    /// etvk's own: activation planner (`etvk_activation_planner`, u32: 0 auto, 1 the
    /// exporter's shared objects, 2 the lifetime arena).
    pub activation_planner: Option<u32>,
    /// etvk's own: graph inputs and outputs read and written in place where they would be
    /// copied (`etvk_direct_io`, bool; default on, which acts on discrete GPUs).
    pub direct_io: Option<bool>,
}

impl CompileSpecs {
    /// Decodes `(key, value)` pairs; a known key with a value of the wrong size is an error.
    pub fn parse<'a>(specs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Self> {
        let mut out = CompileSpecs::default();
        for (key, value) in specs {
            match key {
                "force_fp16" => out.force_fp16 = read_bool(key, value)?,
                "require_dynamic_shapes" => out.require_dynamic_shapes = read_bool(key, value)?,
                "skip_memory_planning" => out.skip_memory_planning = read_bool(key, value)?,
                "downcast_64_bit" => out.downcast_64_bit = Some(read_bool(key, value)?),
                "warmup_execute_after_compile" => {
                    out.warmup_execute_after_compile = read_bool(key, value)?
                }
                "storage_type_override" => out.storage_type_override = Some(read_u32(key, value)?),
                "memory_layout_override" => {
                    out.memory_layout_override = Some(read_u32(key, value)?)
                }
                "etvk_staging_ring_bytes" => out.staging_ring_bytes = Some(read_u64(key, value)?),
                "etvk_legacy_load_order" => out.legacy_load_order = Some(read_bool(key, value)?),
                "etvk_direct_upload" => out.direct_upload = Some(read_bool(key, value)?),
                "etvk_activation_planner" => out.activation_planner = Some(read_u32(key, value)?),
                "etvk_direct_io" => out.direct_io = Some(read_bool(key, value)?),
                _ => {}
            }
        }
        Ok(out)
    }
}

fn read_bool(key: &str, value: &[u8]) -> Result<bool> {
    match value {
        [b] => Ok(*b != 0),
        _ => Err(Error::invalid_argument(format!(
            "compile spec '{key}' must be 1 byte, got {}",
            value.len()
        ))),
    }
}

fn read_u32(key: &str, value: &[u8]) -> Result<u32> {
    let bytes: [u8; 4] = value.try_into().map_err(|_| {
        Error::invalid_argument(format!(
            "compile spec '{key}' must be 4 bytes, got {}",
            value.len()
        ))
    })?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(key: &str, value: &[u8]) -> Result<u64> {
    match value.len() {
        4 => read_u32(key, value).map(u64::from),
        8 => Ok(u64::from_le_bytes(value.try_into().expect("8 bytes"))),
        n => Err(Error::invalid_argument(format!(
            "compile spec '{key}' must be 4 or 8 bytes, got {n}"
        ))),
    }
}
