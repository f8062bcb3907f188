//! Elementwise binary arithmetic with PyTorch broadcasting: `add/sub/mul/div.Tensor`.
//! `other` may be a tensor or a scalar; `add`/`sub` take `alpha` (out = a op alpha * b).

use crate::error::Result;
use crate::format::ValueId;
use crate::gpu::shaders;
use crate::runtime::builder::{broadcast_shapes, contiguous_strides, OpBuilder};

/// Kind codes understood by `shaders/binary.comp`.
#[derive(Clone, Copy)]
enum Kind {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
}

pub const OPS: &[(&str, super::BuildFn)] = &[
    ("aten.add.Tensor", add),
    ("aten.sub.Tensor", sub),
    ("aten.mul.Tensor", mul),
    ("aten.div.Tensor", div),
];

/// Max rank the shader's index arithmetic handles.
pub const MAX_RANK: usize = 8;

pub fn add(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Add)
}
pub fn sub(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Sub)
}
pub fn mul(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Mul)
}
pub fn div(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    build(b, args, Kind::Div)
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

fn build(b: &mut OpBuilder, args: &[ValueId], kind: Kind) -> Result<()> {
    // add/sub: (self, other, alpha, out); mul/div: (self, other, out).
    let with_alpha = matches!(kind, Kind::Add | Kind::Sub);
    b.expect_args(args, if with_alpha { 4 } else { 3 })?;
    let out_id = *args.last().expect("checked arity");
    let alpha = if with_alpha { b.double(args[2])? } else { 1.0 };
    let a = b.tensor(args[0])?;
    let out_t = b.tensor(out_id)?;
    // `other` may be a tensor or a scalar.
    let other = if matches!(b.value(args[1])?, crate::format::Value::Tensor(_)) {
        Some(b.tensor(args[1])?)
    } else {
        None
    };
    let scalar = match &other {
        Some(_) => 0.0,
        None => b.double(args[1])?,
    };
    let other_sizes = other.as_ref().map(|t| t.sizes.clone()).unwrap_or_default();
    let out_sizes = broadcast_shapes(&a.sizes, &other_sizes).ok_or_else(|| {
        b.err(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.sizes, other_sizes
        ))
    })?;
    if out_sizes.len() > MAX_RANK {
        return Err(b.unsupported(format!("rank {} above {MAX_RANK}", out_sizes.len())));
    }
    let out = b.set_output(out_id, out_sizes.clone())?;
    if !a.is_float() || !out_t.is_float() || other.as_ref().is_some_and(|t| !t.is_float()) {
        return Err(b.unsupported("integer operands are not supported yet"));
    }
    let rank = out_sizes.len();
    let mut p = vec![
        out.numel() as i32,
        kind as i32,
        rank as i32,
        alpha_bits(alpha),
        (scalar as f32).to_bits() as i32,
        other.is_some() as i32,
    ];
    p.extend(pad(&out_sizes));
    p.extend(pad(&broadcast_strides(&a.sizes, rank)));
    p.extend(pad(&broadcast_strides(&other_sizes, rank)));
    // A scalar `other` still needs a binding: bind `a` again (never read).
    let other_id = other.map(|t| t.id).unwrap_or(a.id);
    b.dispatch(&shaders::BINARY, p, &[out_id, a.id, other_id]);
    Ok(())
}

fn alpha_bits(alpha: f64) -> i32 {
    (alpha as f32).to_bits() as i32
}

/// `v` as i32, padded with zeros to MAX_RANK entries.
pub fn pad(v: &[usize]) -> Vec<i32> {
    let mut out: Vec<i32> = v.iter().map(|&x| x as i32).collect();
    out.resize(MAX_RANK, 0);
    out
}
