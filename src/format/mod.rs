//! The delegate blob: `VH00` header, `VK00` flatbuffer, inline constants, and the owned
//! [`Graph`] they parse into.

pub mod graph;
pub mod header;
pub mod lenient;
pub mod parse;
#[allow(clippy::all, unused_imports, dead_code, non_snake_case, missing_docs)]
#[rustfmt::skip]
pub mod schema_generated;
#[cfg(feature = "test-support")]
pub mod write;

pub use graph::{Constant, ConstantSource, DType, Graph, OpCall, TensorDesc, Value, ValueId};
pub use parse::parse_blob;
#[cfg(feature = "test-support")]
pub use write::write_blob;
