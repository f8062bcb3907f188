//! Operators: one module per family. Each op is an [`OpDef`]: its builder reads its arguments
//! through the [`OpBuilder`](crate::graph::OpBuilder), checks them, declares its outputs' sizes
//! and records shader dispatches. Argument order is the exporter's: every schema argument
//! (defaults filled in), outputs last.

use crate::graph::OpDef;

pub mod attention;
pub mod attention_chain;
pub mod binary;
pub mod compare;
pub mod conv;
pub mod create;
pub mod elementwise4;
pub mod index;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod qdq;
pub mod quant4;
pub mod quant8;
pub mod reduce;
pub mod resample;
pub mod shape;
pub mod split;
pub mod symint;
pub mod unary;

/// Every family's table.
pub const FAMILIES: &[&[OpDef]] = &[
    attention::OPS,
    binary::OPS,
    compare::OPS,
    unary::OPS,
    matmul::OPS,
    norm::OPS,
    conv::OPS,
    pool::OPS,
    quant4::OPS,
    quant8::OPS,
    qdq::OPS,
    reduce::OPS,
    resample::OPS,
    shape::OPS,
    index::OPS,
    create::OPS,
    symint::OPS,
];

/// The op registered as `name` (with or without the `aten.` namespace and the `.default`
/// overload suffix).
pub fn lookup(name: &str) -> Option<OpDef> {
    crate::graph::registry::find(FAMILIES, name)
}

/// Every registered op name.
pub fn supported_ops() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().flat_map(|f| f.iter().map(|d| d.name))
}
