//! Broadcasting comparisons (`eq/ne/lt/le/gt/ge`, `.Tensor` and `.Scalar`), bitwise
//! (`bitwise_and/or/xor.Tensor`, integer or bool tensors) and logical (`logical_and/or/xor`,
//! any dtype, nonzero is true) ops, and `where.self(condition, self, other)` with 3-way
//! broadcasting. All run on the generic elementwise engine of `binary.rs`; results are stored
//! in the output's dtype (bool for comparisons and logical ops as PyTorch exports them).

use super::binary::{emit, Op, Operand};
use crate::error::Result;
use crate::format::ValueId;
use crate::graph::OpBuilder;
use crate::graph::OpDef;

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.eq.Tensor", eq),
    OpDef::new("aten.ne.Tensor", ne),
    OpDef::new("aten.lt.Tensor", lt),
    OpDef::new("aten.le.Tensor", le),
    OpDef::new("aten.gt.Tensor", gt),
    OpDef::new("aten.ge.Tensor", ge),
    OpDef::new("aten.eq.Scalar", eq),
    OpDef::new("aten.ne.Scalar", ne),
    OpDef::new("aten.lt.Scalar", lt),
    OpDef::new("aten.le.Scalar", le),
    OpDef::new("aten.gt.Scalar", gt),
    OpDef::new("aten.ge.Scalar", ge),
    OpDef::new("aten.bitwise_and.Tensor", bitwise_and),
    OpDef::new("aten.bitwise_or.Tensor", bitwise_or),
    OpDef::new("aten.bitwise_xor.Tensor", bitwise_xor),
    OpDef::new("aten.logical_and.default", logical_and),
    OpDef::new("aten.logical_or.default", logical_or),
    OpDef::new("aten.logical_xor.default", logical_xor),
    OpDef::new("aten.where.self", where_self),
];

pub fn eq(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Eq)
}
pub fn ne(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Ne)
}
pub fn lt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Lt)
}
pub fn le(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Le)
}
pub fn gt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Gt)
}
pub fn ge(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::Ge)
}
pub fn bitwise_and(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::BitAnd)
}
pub fn bitwise_or(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::BitOr)
}
pub fn bitwise_xor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::BitXor)
}
pub fn logical_and(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::LogicalAnd)
}
pub fn logical_or(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::LogicalOr)
}
pub fn logical_xor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    two(b, args, Op::LogicalXor)
}

/// `(self, other, out)`; `other` a tensor or (for the `.Scalar` overloads) a number.
fn two(b: &mut OpBuilder, args: &[ValueId], op: Op) -> Result<()> {
    b.expect_args(args, 3)?;
    let a = b.tensor(args[0])?;
    let other = Operand::read(b, args[1])?;
    emit(b, op, &a, &other, None, 1.0, args[2])
}

/// `where.self(condition, self, other, out)`: `self` where `condition` is nonzero, else `other`.
pub fn where_self(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let cond = b.tensor(args[0])?;
    let x = b.tensor(args[1])?;
    let y = b.tensor(args[2])?;
    emit(
        b,
        Op::Where,
        &x,
        &Operand::Tensor(y),
        Some(&cond),
        1.0,
        args[3],
    )
}
