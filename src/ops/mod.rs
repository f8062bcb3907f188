//! Operators: one module per family. Each op is a [`BuildFn`]: it reads its arguments through
//! the [`OpBuilder`], checks them, declares its outputs' sizes and records shader dispatches.
//! Argument order is the exporter's: every schema argument (defaults filled in), outputs last.

use crate::error::Result;
use crate::format::ValueId;
use crate::runtime::builder::OpBuilder;

pub mod attention;
pub mod binary;
pub mod compare;
pub mod conv;
pub mod create;
pub mod index;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod resample;
pub mod shape;
pub mod split;
pub mod symint;
pub mod unary;

/// Builds one operator call.
pub type BuildFn = fn(&mut OpBuilder, &[ValueId]) -> Result<()>;

/// Each family's table of (op name as serialized in `OperatorCall.name`, builder).
const FAMILIES: &[&[(&str, BuildFn)]] = &[
    attention::OPS,
    binary::OPS,
    compare::OPS,
    unary::OPS,
    matmul::OPS,
    norm::OPS,
    conv::OPS,
    pool::OPS,
    reduce::OPS,
    resample::OPS,
    shape::OPS,
    index::OPS,
    create::OPS,
    symint::OPS,
];

/// The builder for `name`, accepting names with or without the `aten.` namespace and with or
/// without the `.default` overload suffix.
pub fn lookup(name: &str) -> Option<BuildFn> {
    let find = |n: &str| registry().find(|(k, _)| *k == n).map(|(_, f)| f);
    find(name)
        .or_else(|| find(&format!("aten.{name}")))
        .or_else(|| name.strip_suffix(".default").and_then(find))
        .or_else(|| {
            name.strip_suffix(".default")
                .and_then(|n| find(&format!("aten.{n}")))
        })
}

fn registry() -> impl Iterator<Item = (&'static str, BuildFn)> {
    FAMILIES.iter().flat_map(|f| f.iter().copied())
}

/// Every registered op name.
pub fn supported_ops() -> impl Iterator<Item = &'static str> {
    registry().map(|(k, _)| k)
}
