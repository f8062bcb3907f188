//! The graph layer between the parsed program ([`crate::format`]) and the runtime: what every
//! op sees while the graph is built ([`OpBuilder`]), the dispatches it records, shape helpers,
//! and the op registry with its per-op facts. `ops/` builds on this layer; `runtime/` consumes
//! what [`build`] returns and never looks at op names.

mod build;
mod builder;
mod chain;
pub mod registry;
mod shape;
mod slots;
mod tensors;

pub use build::{build, host_read_values, BuiltGraph};
pub use builder::{fits_bound, has_symints, Dispatch, OpBuilder, RuntimeInput, TensorInfo};
pub use chain::{Piece, Scale, StridedRead, MAX_PERMUTE_RANK};
pub use registry::{BuildFn, OpDef};
pub use shape::{broadcast_shapes, contiguous_strides, normalize_dim};
pub use slots::Slot;
pub use tensors::{TensorKind, TensorMeta};
