//! etvk: a Vulkan delegate backend for ExecuTorch.
//!
//! Layers, bottom up: [`gpu`] (thin RAII wrappers over `ash` + `vk-mem`; all `unsafe` Vulkan
//! lives there), [`format`] (the `VH00`/`VK00` delegate blob parsed into an owned graph),
//! [`ops`] (one module per operator family: shape checks + shader dispatches), [`runtime`]
//! (building, uploading constants, executing), and [`capi`] (the C ABI the C++ shim calls).

pub mod capi;
pub mod error;
pub mod format;
pub mod graph;
pub mod kernels;
pub mod runtime;

pub use error::{Error, ErrorKind, Result};
pub mod gpu;
pub mod host_heap;
pub mod ops;
