//! Elementwise unary ops (`shaders/unary.comp`): relu, sigmoid, tanh, abs, neg, exp, sqrt,
//! rsqrt, sin, cos, log10, round (half to even), gelu (erf or tanh form), hardswish,
//! hardshrink, leaky_relu, bitwise_not, logical_not; plus hardtanh (float) and clamp (float or
//! integer tensors, either bound optional) on `shaders/clamp.comp`.
//!
//! Types follow PyTorch: relu/abs/neg/round keep integer tensors integer; the float math ops
//! take integer inputs only into a float output; bitwise_not needs integer or bool tensors
//! (bool: logical not); logical_not takes any dtype and stores 0/1 in the output's dtype.

use super::binary::dtype_kind;
use super::elementwise4;
use crate::error::Result;
use crate::format::{Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::elementwise::{ClampParams, UnaryParams, CLAMP, UNARY};

/// Op codes understood by `shaders/unary.comp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Relu = 0,
    Sigmoid = 1,
    Tanh = 2,
    Abs = 3,
    Neg = 4,
    Exp = 5,
    Sqrt = 6,
    Rsqrt = 7,
    Sin = 8,
    Cos = 9,
    Log10 = 10,
    Round = 11,
    GeluErf = 12,
    GeluTanh = 13,
    Hardswish = 14,
    Hardshrink = 15,
    LeakyRelu = 16,
    BitwiseNot = 17,
    LogicalNot = 18,
}

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.relu.default", relu),
    OpDef::new("aten.sigmoid.default", sigmoid),
    OpDef::new("aten.tanh.default", tanh),
    OpDef::new("aten.abs.default", abs),
    OpDef::new("aten.neg.default", neg),
    OpDef::new("aten.exp.default", exp),
    OpDef::new("aten.sqrt.default", sqrt),
    OpDef::new("aten.rsqrt.default", rsqrt),
    OpDef::new("aten.sin.default", sin),
    OpDef::new("aten.cos.default", cos),
    OpDef::new("aten.log10.default", log10),
    OpDef::new("aten.round.default", round),
    OpDef::new("aten.gelu.default", gelu),
    OpDef::new("aten.hardswish.default", hardswish),
    OpDef::new("aten.hardshrink.default", hardshrink),
    OpDef::new("aten.leaky_relu.default", leaky_relu),
    OpDef::new("aten.bitwise_not.default", bitwise_not),
    OpDef::new("aten.logical_not.default", logical_not),
    OpDef::new("aten.hardtanh.default", hardtanh),
    OpDef::new("aten.clamp.default", clamp),
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
pub fn neg(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Neg)
}
pub fn exp(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Exp)
}
pub fn sqrt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Sqrt)
}
pub fn rsqrt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Rsqrt)
}
pub fn sin(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Sin)
}
pub fn cos(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Cos)
}
pub fn log10(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Log10)
}
pub fn round(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Round)
}
pub fn hardswish(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Hardswish)
}
pub fn bitwise_not(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::BitwiseNot)
}
pub fn logical_not(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::LogicalNot)
}

/// `gelu(self, approximate: str = "none", out)`.
pub fn gelu(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let kind = match b.value(args[1])? {
        Value::String(s) if s == "none" => Kind::GeluErf,
        Value::String(s) if s == "tanh" => Kind::GeluTanh,
        Value::String(s) => {
            return Err(b.err(format!("approximate must be 'none' or 'tanh', got {s:?}")))
        }
        v => {
            return Err(b.err(format!(
                "approximate should be a String, is {}",
                v.kind_name()
            )))
        }
    };
    emit(b, args[0], args[2], kind, 0.0)
}

/// `hardshrink(self, lambd = 0.5, out)`: 0 where |x| <= lambd.
pub fn hardshrink(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let lambd = b.double(args[1])?;
    emit(b, args[0], args[2], Kind::Hardshrink, lambd)
}

/// `leaky_relu(self, negative_slope = 0.01, out)`.
pub fn leaky_relu(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let slope = b.double(args[1])?;
    emit(b, args[0], args[2], Kind::LeakyRelu, slope)
}

/// Input and output of a same-shape elementwise op; the output gets the input's sizes.
fn same_shape(b: &mut OpBuilder, input: ValueId, out: ValueId) -> Result<(TensorInfo, TensorInfo)> {
    let x = b.tensor(input)?;
    let out = b.set_output(out, x.sizes.clone())?;
    Ok((x, out))
}

/// `(self, out)`.
fn build(b: &mut OpBuilder, args: &[ValueId], kind: Kind) -> Result<()> {
    b.expect_args(args, 2)?;
    emit(b, args[0], args[1], kind, 0.0)
}

fn emit(b: &mut OpBuilder, input: ValueId, out: ValueId, kind: Kind, param: f64) -> Result<()> {
    let x = b.tensor(input)?;
    let float_op = (kind as i32) <= Kind::LeakyRelu as i32;
    // An activation of a matrix product, applied as the product stores.
    let activation = matches!(
        kind,
        Kind::Relu | Kind::Sigmoid | Kind::Tanh | Kind::GeluErf | Kind::GeluTanh | Kind::Hardswish
    );
    if activation && x.is_float() && super::matmul::store_activated(b, &x, out, kind as i32)? {
        return Ok(());
    }
    if float_op
        && elementwise4::unary(
            b,
            elementwise4::UNARY_BASE + kind as i32,
            &x,
            out,
            param as f32,
            [0.0, 0.0],
        )?
    {
        return Ok(());
    }
    let (x, out) = same_shape(b, input, out)?;
    let compute_float = match kind {
        Kind::LogicalNot => false,
        Kind::BitwiseNot => {
            if x.is_float() {
                return Err(b.err(format!(
                    "bitwise_not needs an integer or bool tensor, got {:?}",
                    x.dtype
                )));
            }
            false
        }
        // Integer in, integer out.
        Kind::Relu | Kind::Abs | Kind::Neg | Kind::Round => x.is_float() || out.is_float(),
        _ => true,
    };
    if compute_float && !out.is_float() {
        return Err(b.err(format!(
            "{kind:?} of a {:?} tensor gives a float result, but the output is {:?}",
            x.dtype, out.dtype
        )));
    }
    let params = UnaryParams {
        count: out.numel() as u32,
        in_kind: dtype_kind(x.dtype),
        compute_float: compute_float as i32,
        out_kind: dtype_kind(out.dtype),
        param: param as f32,
    };
    b.dispatch(
        UNARY.call(params).variant(kind as i32).linear(out.numel()),
        &[out.id, x.id],
    )
}

/// `hardtanh(self, min_val=-1, max_val=1)`: a clamp of float tensors.
pub fn hardtanh(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let lo = b.double(args[1])?;
    let hi = b.double(args[2])?;
    clamp_float_or_any(b, args[0], args[3], Some(lo), Some(hi), true)
}

/// `clamp(self, min=None, max=None)`: at least one bound must be given.
pub fn clamp(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let lo = b.opt_double(args[1])?;
    let hi = b.opt_double(args[2])?;
    if lo.is_none() && hi.is_none() {
        return Err(b.err("at least one of min and max must be given"));
    }
    clamp_float_or_any(b, args[0], args[3], lo, hi, false)
}

/// `out = clamp(x, lo, hi)`: over texels for float tensors (`elementwise4.comp`), else
/// `clamp.comp`. `float_only`: the op (hardtanh) takes float tensors only.
fn clamp_float_or_any(
    b: &mut OpBuilder,
    input: ValueId,
    out_id: ValueId,
    lo: Option<f64>,
    hi: Option<f64>,
    float_only: bool,
) -> Result<()> {
    let x = b.tensor(input)?;
    let bounds = [
        lo.map_or(f32::NEG_INFINITY, |v| v as f32),
        hi.map_or(f32::INFINITY, |v| v as f32),
    ];
    if elementwise4::unary(b, elementwise4::CLAMP, &x, out_id, 0.0, bounds)? {
        return Ok(());
    }
    let (x, out) = same_shape(b, input, out_id)?;
    if float_only {
        b.require_float(&[&x, &out])?;
    }
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
    let fbound = |v: Option<f64>, dflt: f32| v.map_or(dflt, |v| v as f32);
    // For integer results, trunc(clamp(x, lo, hi)) == clamp(x, trunc(lo), trunc(hi)).
    let ibound = |v: Option<f64>, dflt: i32| v.map_or(dflt, |v| v.trunc() as i32);
    let params = ClampParams {
        count: out.numel() as u32,
        input_float: x.is_float() as i32,
        output_float: out.is_float() as i32,
        lo: fbound(lo, f32::NEG_INFINITY),
        hi: fbound(hi, f32::INFINITY),
        lo_i: ibound(lo, i32::MIN),
        hi_i: ibound(hi, i32::MAX),
    };
    b.dispatch(CLAMP.call(params).linear(out.numel()), &[out.id, x.id])
}

#[cfg(test)]
mod tests {
    use crate::gpu::shaders;

    #[test]
    fn every_op_has_its_own_shader_build() {
        // Kind's codes are 0..=LogicalNot, without gaps.
        let last = super::Kind::LogicalNot as i32;
        for code in 0..=last {
            assert!(shaders::UNARY.build(Some(code)).is_some(), "op {code}");
        }
        assert_eq!(shaders::UNARY.builds.len(), last as usize + 1);
        assert!(shaders::UNARY.build(None).is_none());
        assert!(shaders::CLAMP.build(None).is_some());
    }
}
