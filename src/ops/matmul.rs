//! Matrix products: mm, addmm, linear.

pub const OPS: &[(&str, super::BuildFn)] = &[];
