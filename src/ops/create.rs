//! Creation ops: full, full_like, zeros, zeros_like, ones, ones_like, scalar_tensor and
//! arange.start_step, all on `shaders/create_fill.comp` (`out[i] = start + i * step`).
//! They read no tensor data: sizes come from an int list or a shape source tensor, the
//! dtype from the output tensor (the exporter writes dtype/layout/device as None).

use super::shape::scalar_word;
use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::elementwise::{FillParams, CREATE_FILL};

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.full.default", full),
    OpDef::new("aten.full_like.default", full_like),
    OpDef::new("aten.zeros.default", zeros),
    OpDef::new("aten.zeros_like.default", zeros_like),
    OpDef::new("aten.ones.default", ones),
    OpDef::new("aten.ones_like.default", ones_like),
    OpDef::new("aten.scalar_tensor.default", scalar_tensor),
    OpDef::new("aten.arange.start_step", arange),
];

/// Output kind of `shaders/cast_common.glsl`.
fn out_kind(dtype: DType) -> i32 {
    match dtype {
        DType::Float16 | DType::Float32 | DType::Float64 => 0,
        DType::Int32 | DType::Int64 => 1,
        DType::Int8 => 2,
        DType::Uint8 => 3,
        DType::Bool => 4,
    }
}

/// Records `out[i] = start + i * step`, computed in f32 (`float`) or i32.
fn fill(b: &mut OpBuilder, out: &TensorInfo, float: bool, start: u32, step: u32) -> Result<()> {
    b.require_i32_indexing(&[out])?;
    let n = out.numel();
    let p = FillParams {
        count: n as u32,
        compute_float: float as i32,
        start,
        step,
        out_kind: out_kind(out.dtype),
    };
    b.dispatch(CREATE_FILL.call(p).linear(n), &[out.id])
}

/// Fills `out` with the word `w` (already in the output's representation).
fn fill_word(b: &mut OpBuilder, out: &TensorInfo, w: u32) -> Result<()> {
    // The shader stores start + 0 * step converted from its compute type: compute in the
    // output's own representation so the word passes through unchanged.
    let float = out.is_float();
    let kind_noop = if float { 0 } else { 1 };
    b.require_i32_indexing(&[out])?;
    let n = out.numel();
    let p = FillParams {
        count: n as u32,
        compute_float: float as i32,
        start: w,
        step: 0,
        out_kind: kind_noop,
    };
    b.dispatch(CREATE_FILL.call(p).linear(n), &[out.id])
}

/// Sizes from an int list argument (entries >= 0).
fn sizes_arg(b: &OpBuilder, id: ValueId) -> Result<Vec<usize>> {
    let size = b.int_list(id)?;
    if size.iter().any(|&s| s < 0) {
        return Err(b.err(format!("size {size:?} has a negative entry")));
    }
    Ok(size.iter().map(|&s| s as usize).collect())
}

/// Checks the trailing dtype/layout/device/pin_memory(/memory_format) arguments: each is
/// None, or an int code for dtype/layout/memory_format, or a bool for pin_memory.
fn check_options(b: &OpBuilder, ids: &[ValueId]) -> Result<()> {
    for &id in ids {
        match b.value(id)? {
            Value::Null | Value::Int(_) | Value::Bool(_) => {}
            v => {
                return Err(b.err(format!(
                    "option argument value {id} should be None, is {}",
                    v.kind_name()
                )))
            }
        }
    }
    Ok(())
}

/// `full(size, fill_value, *, dtype=None, layout=None, device=None, pin_memory=None)`.
pub fn full(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let sizes = sizes_arg(b, args[0])?;
    check_options(b, &args[2..6])?;
    let out = b.set_output(args[6], sizes)?;
    let w = scalar_word(b, args[1], out.dtype)?;
    fill_word(b, &out, w)
}

/// `full_like(self, fill_value, *, dtype=None, layout=None, device=None, pin_memory=None,
/// memory_format=None)`.
pub fn full_like(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    check_options(b, &args[2..7])?;
    let out = b.set_output(args[7], x.sizes.clone())?;
    let w = scalar_word(b, args[1], out.dtype)?;
    fill_word(b, &out, w)
}

/// The word for the constant `v` in `dtype`'s representation.
fn const_word(dtype: DType, v: i32) -> u32 {
    if dtype.is_float() {
        (v as f32).to_bits()
    } else {
        v as u32
    }
}

/// `zeros`/`ones(size, *, dtype=None, layout=None, device=None, pin_memory=None)`.
fn constant(b: &mut OpBuilder, args: &[ValueId], v: i32) -> Result<()> {
    b.expect_args(args, 6)?;
    let sizes = sizes_arg(b, args[0])?;
    check_options(b, &args[1..5])?;
    let out = b.set_output(args[5], sizes)?;
    fill_word(b, &out, const_word(out.dtype, v))
}

/// `zeros_like`/`ones_like(self, *, dtype=None, layout=None, device=None, pin_memory=None,
/// memory_format=None)`.
fn constant_like(b: &mut OpBuilder, args: &[ValueId], v: i32) -> Result<()> {
    b.expect_args(args, 7)?;
    let x = b.tensor(args[0])?;
    check_options(b, &args[1..6])?;
    let out = b.set_output(args[6], x.sizes.clone())?;
    fill_word(b, &out, const_word(out.dtype, v))
}

pub fn zeros(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    constant(b, args, 0)
}
pub fn ones(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    constant(b, args, 1)
}
pub fn zeros_like(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    constant_like(b, args, 0)
}
pub fn ones_like(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    constant_like(b, args, 1)
}

/// `scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None)`: a 0-D
/// tensor holding `s`.
pub fn scalar_tensor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    check_options(b, &args[1..5])?;
    let out = b.set_output(args[5], vec![])?;
    let w = scalar_word(b, args[0], out.dtype)?;
    fill_word(b, &out, w)
}

/// A scalar argument as f64, and as i64 when it is an integer.
fn number(b: &OpBuilder, id: ValueId) -> Result<(f64, Option<i64>)> {
    match b.value(id)? {
        Value::Double(v) => Ok((*v, None)),
        Value::Int(_) | Value::SymInt(_) | Value::Bool(_) => {
            let v = b.int(id)?;
            Ok((v as f64, Some(v)))
        }
        v => Err(b.err(format!(
            "argument value {id} should be a number, is {}",
            v.kind_name()
        ))),
    }
}

/// `arange.start_step(start, end, step=1, *, dtype=None, layout=None, device=None,
/// pin_memory=None)`: `ceil((end - start) / step)` values `start + i * step`.
pub fn arange(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let (start, start_i) = number(b, args[0])?;
    let (end, end_i) = number(b, args[1])?;
    let (step, step_i) = number(b, args[2])?;
    check_options(b, &args[3..7])?;
    if step == 0.0 || !start.is_finite() || !end.is_finite() || !step.is_finite() {
        return Err(b.err(format!(
            "arange({start}, {end}, {step}): step must be nonzero and bounds finite"
        )));
    }
    if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
        return Err(b.err(format!(
            "arange({start}, {end}, {step}): bounds inconsistent with the step's sign"
        )));
    }
    // Integer arguments: exact integer count, as torch computes it.
    let n = match (start_i, end_i, step_i) {
        (Some(a), Some(e), Some(s)) => {
            let span = e - a;
            (span / s + (span % s != 0) as i64).max(0) as usize
        }
        _ => ((end - start) / step).ceil().max(0.0) as usize,
    };
    let out = b.set_output(args[7], vec![n])?;
    if out.is_float() {
        fill(
            b,
            &out,
            true,
            (start as f32).to_bits(),
            (step as f32).to_bits(),
        )
    } else {
        // Integer outputs: torch converts start and step to the integer type first.
        fill(
            b,
            &out,
            false,
            (start as i64) as i32 as u32,
            (step as i64) as i32 as u32,
        )
    }
}
