//! Elementwise unary ops: relu, sigmoid, tanh, hardtanh, clamp.

pub const OPS: &[(&str, super::BuildFn)] = &[];
