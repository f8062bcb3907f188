//! The delegate runtime: turns a parsed [`Graph`](crate::format::Graph) into GPU work and runs it.
//!
//! Public surface used by the C ABI and by Rust tests: [`Delegate::init`], [`Delegate::execute`],
//! [`NamedData`] (the NamedDataMap seen from Rust), [`CompileSpecs`] and [`HostTensor`].

pub mod compile_specs;
pub mod host_tensor;
pub mod named_data;

pub use compile_specs::CompileSpecs;
pub use host_tensor::{HostTensor, InputValue};
pub use named_data::{DataBuffer, NamedData};
pub mod delegate;
pub mod dry_run;
mod host_timing;
pub mod limits;
mod loader;
mod resident;
pub use delegate::{
    availability, is_available, process_memory_report, process_profile, set_profiling_by_default,
    Delegate, MemoryReport, ProfileEntry,
};

pub mod convert;
pub mod load_options;
pub mod plan;
pub mod prepack;
pub mod record;
