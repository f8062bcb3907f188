//! Reduction kernels: sums/means/extrema over dims, softmax, argmax/argmin.

use super::{read, write, Kernel};
use crate::gpu::shaders;

kernel_params! {
    /// `reduce.comp`: kept and reduced dims (rank <= 8 each) with their input strides.
    pub struct ReduceParams {
        count: u32,
        mode: i32,
        reduced_count: i32,
        group: i32,
        kept: i32,
        reduced: i32,
        kept_sizes: [i32; 8],
        kept_strides: [i32; 8],
        reduced_sizes: [i32; 8],
        reduced_strides: [i32; 8],
    }
}
pub static REDUCE: Kernel<ReduceParams> =
    Kernel::new(&shaders::REDUCE, &[write("Out"), read("In")]);

kernel_params! {
    /// `softmax.comp`: rows of an input viewed as [outer, D, inner].
    pub struct SoftmaxParams { count: u32, d: i32, inner: i32, log: i32, group: i32 }
}
pub static SOFTMAX: Kernel<SoftmaxParams> =
    Kernel::new(&shaders::SOFTMAX, &[write("Out"), read("In")]);

kernel_params! {
    /// `arg_reduce.comp`: argmax / argmin along one dim of [outer, L, inner].
    pub struct ArgReduceParams {
        count: u32,
        l: i32,
        inner: i32,
        is_min: i32,
        is_float: i32,
        group: i32,
    }
}
pub static ARG_REDUCE: Kernel<ArgReduceParams> =
    Kernel::new(&shaders::ARG_REDUCE, &[write("Out"), read("In")]);
