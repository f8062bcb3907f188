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
