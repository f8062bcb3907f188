//! 2-D convolution.

pub const OPS: &[(&str, super::BuildFn)] = &[];
