//! Broadcasting elementwise binary arithmetic with PyTorch type promotion:
//! `add/sub/mul/div.Tensor`, `div.Tensor_mode`, `pow.Tensor_Tensor`, `pow.Tensor_Scalar`,
//! `minimum`, `maximum`. `other` may be a tensor or a scalar; `add`/`sub` take `alpha`
//! (out = a op alpha * b).
//!
//! Every op here goes through [`emit`], the generic elementwise engine shared with
//! `compare.rs` (comparisons, bitwise and logical ops, `where`): one shader
//! (`shaders/binary.comp`) that broadcasts up to three inputs of rank <= 8, reads each as f32
//! or i32, computes in the promoted type and stores in the output's dtype.

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{broadcast_shapes, contiguous_strides, OpBuilder, Piece, Scale, TensorInfo};
use crate::kernels::elementwise::{BinaryParams, BINARY};
use crate::kernels::shape::padded;

/// Op codes understood by `shaders/binary.comp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    DivTrunc = 4,
    DivFloor = 5,
    Pow = 6,
    Minimum = 7,
    Maximum = 8,
    Eq = 10,
    Ne = 11,
    Lt = 12,
    Le = 13,
    Gt = 14,
    Ge = 15,
    BitAnd = 20,
    BitOr = 21,
    BitXor = 22,
    LogicalAnd = 30,
    LogicalOr = 31,
    LogicalXor = 32,
    Where = 40,
}

impl Op {
    fn is_comparison(self) -> bool {
        (10..20).contains(&(self as i32))
    }
    fn is_bitwise(self) -> bool {
        (20..30).contains(&(self as i32))
    }
    fn is_logical(self) -> bool {
        (30..40).contains(&(self as i32))
    }
}

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.add.Tensor", add),
    OpDef::new("aten.sub.Tensor", sub),
    OpDef::new("aten.mul.Tensor", mul),
    OpDef::new("aten.div.Tensor", div),
    OpDef::new("aten.div.Tensor_mode", div_mode),
    OpDef::new("aten.pow.Tensor_Tensor", pow),
    OpDef::new("aten.pow.Tensor_Scalar", pow),
    OpDef::new("aten.minimum.default", minimum),
    OpDef::new("aten.maximum.default", maximum),
];

/// Max rank the shader's index arithmetic handles.
pub const MAX_RANK: usize = 8;

/// The second operand of an elementwise op.
#[derive(Clone, Debug)]
pub enum Operand {
    Tensor(TensorInfo),
    Scalar(f64),
}

impl Operand {
    /// A tensor, or a scalar (Int, Double, Bool) value.
    pub fn read(b: &OpBuilder, id: ValueId) -> Result<Operand> {
        if matches!(b.value(id)?, Value::Tensor(_)) {
            Ok(Operand::Tensor(b.tensor(id)?))
        } else {
            Ok(Operand::Scalar(b.double(id)?))
        }
    }
}

/// The GPU representation kind of a dtype, as `shaders/elementwise_common.glsl` names it.
pub fn dtype_kind(d: DType) -> i32 {
    match d {
        DType::Float16 | DType::Float32 | DType::Float64 => 0,
        DType::Int32 | DType::Int64 => 1,
        DType::Int8 => 2,
        DType::Uint8 => 3,
        DType::Bool => 4,
    }
}

pub fn add(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Add)
}
pub fn sub(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Sub)
}
pub fn mul(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Mul)
}
pub fn div(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Div)
}
pub fn pow(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Pow)
}
pub fn minimum(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Minimum)
}
pub fn maximum(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arith(b, args, Op::Maximum)
}

/// `(self, other, [alpha,] out)`.
fn arith(b: &mut OpBuilder, args: &[ValueId], op: Op) -> Result<()> {
    let with_alpha = matches!(op, Op::Add | Op::Sub);
    b.expect_args(args, if with_alpha { 4 } else { 3 })?;
    let alpha = if with_alpha { b.double(args[2])? } else { 1.0 };
    let a = b.tensor(args[0])?;
    let other = Operand::read(b, args[1])?;
    let out_id = *args.last().expect("checked arity");
    // A residual add of a matrix product, added as the product stores.
    if let (Op::Add, Operand::Tensor(t)) = (op, &other) {
        if alpha == 1.0 && a.is_float() {
            for (x, residual) in [(&a, t), (t, &a)] {
                if super::matmul::store_with_residual(b, x, residual, out_id)? {
                    return Ok(());
                }
            }
        }
    }
    emit(
        b,
        op,
        &a,
        &other,
        None,
        alpha,
        *args.last().expect("checked arity"),
    )
}

/// `div.Tensor_mode(self, other, rounding_mode: str?, out)`: None is true division.
pub fn div_mode(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let op = match b.value(args[2])? {
        Value::Null => Op::Div,
        Value::String(s) if s == "trunc" => Op::DivTrunc,
        Value::String(s) if s == "floor" => Op::DivFloor,
        Value::String(s) => {
            return Err(b.err(format!(
                "rounding_mode must be 'trunc', 'floor' or None, got {s:?}"
            )))
        }
        v => {
            return Err(b.err(format!(
                "rounding_mode should be a String or None, is {}",
                v.kind_name()
            )))
        }
    };
    let a = b.tensor(args[0])?;
    let other = Operand::read(b, args[1])?;
    emit(b, op, &a, &other, None, 1.0, args[3])
}

/// Broadcast strides of `sizes` (right-aligned into `rank` dims; 0 where broadcast).
pub fn broadcast_strides(sizes: &[usize], rank: usize) -> Vec<usize> {
    let s = contiguous_strides(sizes);
    (0..rank)
        .map(|i| {
            let off = rank - sizes.len();
            if i < off || sizes[i - off] == 1 {
                0
            } else {
                s[i - off]
            }
        })
        .collect()
}

/// `v` as an i32 when it is integral and in range.
fn as_i32(v: f64) -> Option<i32> {
    (v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64).then_some(v as i32)
}

/// Records `out = a (op) other` (or, for [`Op::Where`], `out = where(cond, a, other)`) with
/// broadcasting over every tensor operand. Picks f32 or i32 compute the way PyTorch promotes:
/// arithmetic, `where` and true division compute in float when any operand (or the output) is
/// float; comparisons when a tensor operand is float or the scalar is not an integer; bitwise
/// ops need integer or bool operands; logical ops test each operand for nonzero.
pub fn emit(
    b: &mut OpBuilder,
    op: Op,
    a: &TensorInfo,
    other: &Operand,
    cond: Option<&TensorInfo>,
    alpha: f64,
    out_id: ValueId,
) -> Result<()> {
    let other_t = match other {
        Operand::Tensor(t) => Some(t),
        Operand::Scalar(_) => None,
    };
    let mut shapes: Vec<&[usize]> = vec![&a.sizes];
    shapes.extend(other_t.map(|t| t.sizes.as_slice()));
    shapes.extend(cond.map(|t| t.sizes.as_slice()));
    let mut out_sizes = a.sizes.clone();
    for s in &shapes[1..] {
        out_sizes = broadcast_shapes(&out_sizes, s)
            .ok_or_else(|| b.err(format!("shapes {shapes:?} do not broadcast together")))?;
    }
    if out_sizes.len() > MAX_RANK {
        return Err(b.unsupported(format!("rank {} above {MAX_RANK}", out_sizes.len())));
    }
    if cond.is_none() && super::elementwise4::binary(b, op, a, other, alpha, out_id, &out_sizes)? {
        return Ok(());
    }
    let out = b.set_output(out_id, out_sizes.clone())?;

    let any_float = a.is_float() || other_t.is_some_and(|t| t.is_float());
    let scalar = match other {
        Operand::Scalar(v) => Some(*v),
        Operand::Tensor(_) => None,
    };
    let compute_float = if op.is_comparison() {
        any_float || scalar.is_some_and(|v| as_i32(v).is_none())
    } else if op.is_bitwise() {
        if any_float || scalar.is_some_and(|v| as_i32(v).is_none()) {
            return Err(b.err(format!(
                "{op:?} needs integer or bool operands, got {:?} and {:?}",
                a.dtype,
                other_t.map_or("a non-integer scalar".to_string(), |t| format!(
                    "{:?}",
                    t.dtype
                ))
            )));
        }
        false
    } else if op.is_logical() {
        false
    } else {
        // Arithmetic and where: the result type is the promoted operand type.
        let float = any_float || out.is_float() || op == Op::Div;
        if float && !out.is_float() {
            return Err(b.err(format!(
                "{op:?} of {:?} and {:?} gives a float result, but the output is {:?}",
                a.dtype,
                other_t.map_or("a scalar".to_string(), |t| format!("{:?}", t.dtype)),
                out.dtype
            )));
        }
        float
    };
    if !compute_float && !op.is_logical() {
        if let Some(v) = scalar {
            if as_i32(v).is_none() {
                return Err(b.err(format!(
                    "scalar {v} is not an int32 value for integer {op:?}"
                )));
            }
        }
        if as_i32(alpha).is_none() {
            return Err(b.err(format!(
                "alpha {alpha} is not an integer for integer {op:?}"
            )));
        }
    }

    let rank = out_sizes.len();
    let sv = scalar.unwrap_or(0.0);
    let ints = |v: &[usize]| -> [i32; MAX_RANK] { padded(v.iter().map(|&x| x as i64)) };
    let strides =
        |s: Option<&[usize]>| ints(&s.map_or(vec![0; rank], |s| broadcast_strides(s, rank)));
    let p = BinaryParams {
        count: out.numel() as u32,
        rank: rank as i32,
        compute_float: compute_float as i32,
        a_float: a.is_float() as i32,
        b_float: other_t.is_some_and(|t| t.is_float()) as i32,
        c_float: cond.is_some_and(|t| t.is_float()) as i32,
        out_kind: dtype_kind(out.dtype),
        b_tensor: other_t.is_some() as i32,
        scalar_f: sv as f32,
        scalar_i: as_i32(sv).unwrap_or(0),
        alpha_f: alpha as f32,
        alpha_i: as_i32(alpha).unwrap_or(1),
        sizes: ints(&out_sizes),
        a_strides: strides(Some(&a.sizes)),
        b_strides: strides(other_t.map(|t| t.sizes.as_slice())),
        c_strides: strides(cond.map(|c| c.sizes.as_slice())),
    };
    // Missing operands still need a binding: bind `a` again (never read).
    let other_id = other_t.map_or(a.id, |t| t.id);
    let cond_id = cond.map_or(a.id, |t| t.id);
    b.dispatch(
        BINARY.call(p).variant(op as i32).linear(out.numel()),
        &[out_id, a.id, other_id, cond_id],
    )?;
    // A float scaling by one value (attention's scores), which a later product may take over.
    let scale = match other {
        Operand::Scalar(v) => Some(Scale::Value(*v as f32)),
        Operand::Tensor(t) if t.numel() == 1 && t.is_float() => Some(Scale::Tensor(t.id)),
        Operand::Tensor(_) => None,
    };
    if let (Op::Mul, true, None, Some(scale)) = (op, a.sizes == out_sizes, cond, scale) {
        if compute_float && alpha == 1.0 {
            b.offer_piece(out_id, Piece::Scaled { x: a.id, scale });
        }
    }
    Ok(())
}

/// `v` as i32, padded with zeros to MAX_RANK entries.
pub fn pad(v: &[usize]) -> Vec<i32> {
    let mut out: Vec<i32> = v.iter().map(|&x| x as i32).collect();
    out.resize(MAX_RANK, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::Op::{self, *};
    use crate::gpu::shaders;

    #[test]
    fn every_op_has_its_own_shader_build() {
        let ops: [Op; 22] = [
            Add, Sub, Mul, Div, DivTrunc, DivFloor, Pow, Minimum, Maximum, Eq, Ne, Lt, Le, Gt, Ge,
            BitAnd, BitOr, BitXor, LogicalAnd, LogicalOr, LogicalXor, Where,
        ];
        for op in ops {
            assert!(shaders::BINARY.build(Some(op as i32)).is_some(), "{op:?}");
        }
        assert_eq!(shaders::BINARY.builds.len(), ops.len());
        assert!(shaders::BINARY.build(None).is_none());
    }
}
