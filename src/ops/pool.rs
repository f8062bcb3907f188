//! Pooling: max_pool2d(_with_indices), avg_pool2d.

pub const OPS: &[(&str, super::BuildFn)] = &[];
