//! Reductions: mean.dim, _softmax.

pub const OPS: &[(&str, super::BuildFn)] = &[];
