//! Elementwise unary ops: relu, sigmoid, tanh, abs (float tensors), hardtanh (float) and clamp
//! (float or integer tensors, either bound optional).

use crate::error::Result;
use crate::format::ValueId;
use crate::gpu::shaders;
use crate::runtime::builder::{OpBuilder, TensorInfo};

/// Op codes understood by `shaders/unary.comp`.
#[derive(Clone, Copy)]
enum Kind {
    Relu = 0,
    Sigmoid = 1,
    Tanh = 2,
    Abs = 3,
}

pub const OPS: &[(&str, super::BuildFn)] = &[
    ("aten.relu.default", relu),
    ("aten.sigmoid.default", sigmoid),
    ("aten.tanh.default", tanh),
    ("aten.abs.default", abs),
    ("aten.hardtanh.default", hardtanh),
    ("aten.clamp.default", clamp),
];

pub fn relu(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Relu)
}
pub fn sigmoid(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Sigmoid)
}
pub fn tanh(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Tanh)
}
pub fn abs(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Abs)
}

/// Input and output of a same-shape elementwise op; the output gets the input's sizes.
fn same_shape(b: &mut OpBuilder, input: ValueId, out: ValueId) -> Result<(TensorInfo, TensorInfo)> {
    let x = b.tensor(input)?;
    let out = b.set_output(out, x.sizes.clone())?;
    Ok((x, out))
}

fn build(b: &mut OpBuilder, args: &[ValueId], kind: Kind) -> Result<()> {
    // (self, out)
    b.expect_args(args, 2)?;
    let (x, out) = same_shape(b, args[0], args[1])?;
    if !x.is_float() || !out.is_float() {
        return Err(b.unsupported(format!(
            "{:?} input / {:?} output: only float tensors are supported",
            x.dtype, out.dtype
        )));
    }
    b.dispatch(
        &shaders::UNARY,
        vec![out.numel() as i32, kind as i32],
        &[out.id, x.id],
    );
    Ok(())
}

/// `hardtanh(self, min_val=-1, max_val=1)`: a clamp of float tensors.
pub fn hardtanh(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let lo = b.double(args[1])?;
    let hi = b.double(args[2])?;
    let (x, out) = same_shape(b, args[0], args[3])?;
    if !x.is_float() || !out.is_float() {
        return Err(b.unsupported(format!(
            "{:?} input / {:?} output: only float tensors are supported",
            x.dtype, out.dtype
        )));
    }
    emit_clamp(b, &x, &out, Some(lo), Some(hi))
}

/// `clamp(self, min=None, max=None)`: at least one bound must be given.
pub fn clamp(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let lo = b.opt_double(args[1])?;
    let hi = b.opt_double(args[2])?;
    if lo.is_none() && hi.is_none() {
        return Err(b.err("at least one of min and max must be given"));
    }
    let (x, out) = same_shape(b, args[0], args[3])?;
    if x.is_float() && !out.is_float() {
        return Err(b.err(format!(
            "clamping a {:?} tensor cannot produce a {:?} result",
            x.dtype, out.dtype
        )));
    }
    emit_clamp(b, &x, &out, lo, hi)
}

fn emit_clamp(
    b: &mut OpBuilder,
    x: &TensorInfo,
    out: &TensorInfo,
    lo: Option<f64>,
    hi: Option<f64>,
) -> Result<()> {
    let fbits = |v: Option<f64>, dflt: f32| v.map_or(dflt, |v| v as f32).to_bits() as i32;
    // For integer results, trunc(clamp(x, lo, hi)) == clamp(x, trunc(lo), trunc(hi)).
    let ibound = |v: Option<f64>, dflt: i32| v.map_or(dflt, |v| v.trunc() as i32);
    let params = vec![
        out.numel() as i32,
        x.is_float() as i32,
        out.is_float() as i32,
        fbits(lo, f32::NEG_INFINITY),
        fbits(hi, f32::INFINITY),
        ibound(lo, i32::MIN),
        ibound(hi, i32::MAX),
    ];
    b.dispatch(&shaders::CLAMP, params, &[out.id, x.id]);
    Ok(())
}
