//! Symbolic ints of dynamic-shape programs: `sym_size.int` reads a run-time size, the Python
//! operator nodes (`add`, `mul`, `floordiv`, comparisons...) compute on SymInts, and the
//! assertion nodes are checked at build. `et_vk.select_as_symint` reads an element of an input
//! tensor on the host (llama's `input_pos[-1].item()`). Nothing here dispatches: the values feed other ops'
//! arguments (e.g. the sizes of a `view_copy`) every time the graph is (re)built.

use crate::error::{Error, ErrorKind, Result};
use crate::format::ValueId;
use crate::graph::OpDef;
use crate::graph::{normalize_dim, OpBuilder};

pub const OPS: &[OpDef] = &[
    OpDef::new("sym_size.int", sym_size),
    OpDef::new("et_vk.select_as_symint.default", select_as_symint).reads_host_values(),
    OpDef::new("add", add),
    OpDef::new("sub", sub),
    OpDef::new("mul", mul),
    OpDef::new("floordiv", floordiv),
    OpDef::new("mod", modulo),
    OpDef::new("eq", eq),
    OpDef::new("ne", ne),
    OpDef::new("lt", lt),
    OpDef::new("le", le),
    OpDef::new("gt", gt),
    OpDef::new("ge", ge),
    OpDef::new("aten._assert_scalar.default", assert_scalar),
    OpDef::new("aten.sym_constrain_range_for_size.default", no_op),
];

/// `sym_size.int(self, dim) -> SymInt`
pub fn sym_size(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let t = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    let size = normalize_dim(dim, t.rank())
        .and_then(|d| t.sizes.get(d))
        .ok_or_else(|| b.err(format!("dim {dim} out of range for rank {}", t.rank())))?;
    b.set_int(args[2], *size as i64)
}

/// `et_vk.select_as_symint(x, dim, index) -> SymInt`: `x.select(dim, index).item()`. The value
/// comes from the host copy of input `x` on every execute (the delegate rebuilds when it
/// changes); the build at init, before any input exists, uses 0.
pub fn select_as_symint(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    if !b.is_graph_input(x.id) {
        return Err(Error::new(
            ErrorKind::NotSupported,
            format!(
                "{}: reads value {} computed on the GPU; etvk reads it only from a program input",
                b.op_name(),
                x.id
            ),
        ));
    }
    let (dim, index) = (b.int(args[1])?, b.int(args[2])?);
    let n = normalize_dim(dim, x.rank())
        .and_then(|d| x.sizes.get(d))
        .ok_or_else(|| b.err(format!("dim {dim} out of range for rank {}", x.rank())))?;
    let n = *n as i64;
    let i = if index < 0 { index + n } else { index };
    if !(0..n).contains(&i) {
        return Err(b.err(format!(
            "index {index} out of range for size {n} of dim {dim}"
        )));
    }
    if x.numel() as i64 != n {
        return Err(b.err(format!(
            "selecting one entry of dim {dim} from sizes {:?} leaves more than one element",
            x.sizes
        )));
    }
    // Every other dim has size 1, so the element sits at flat index `i`.
    let v = match b.host_values(x.id) {
        Some(values) => *values
            .get(i as usize)
            .ok_or_else(|| b.err(format!("input {} has no element {i}", x.id)))?,
        None => 0,
    };
    b.set_int(args[3], v)
}

fn binary(b: &mut OpBuilder, args: &[ValueId], f: fn(i64, i64) -> Option<i64>) -> Result<()> {
    b.expect_args(args, 3)?;
    let (x, y) = (b.int(args[0])?, b.int(args[1])?);
    let v = f(x, y).ok_or_else(|| b.err(format!("cannot compute on symbolic ints {x} and {y}")))?;
    b.set_int(args[2], v)
}

pub fn add(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, i64::checked_add)
}
pub fn sub(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, i64::checked_sub)
}
pub fn mul(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, i64::checked_mul)
}
/// Python floor division.
pub fn floordiv(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| {
        let q = x.checked_div(y)?;
        Some(if x % y != 0 && ((x < 0) != (y < 0)) {
            q - 1
        } else {
            q
        })
    })
}
/// Python modulo (sign of the divisor).
pub fn modulo(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| {
        x.checked_rem(y).map(|r| {
            if r != 0 && ((r < 0) != (y < 0)) {
                r + y
            } else {
                r
            }
        })
    })
}
pub fn eq(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x == y) as i64))
}
pub fn ne(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x != y) as i64))
}
pub fn lt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x < y) as i64))
}
pub fn le(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x <= y) as i64))
}
pub fn gt(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x > y) as i64))
}
pub fn ge(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    binary(b, args, |x, y| Some((x >= y) as i64))
}

/// `_assert_scalar(Scalar self, str assert_msg)`: fails the build when the condition is false.
pub fn assert_scalar(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    if args.is_empty() {
        return Err(b.err("expects a condition"));
    }
    if b.int(args[0])? == 0 {
        return Err(b.err("a symbolic shape assertion failed for these input sizes"));
    }
    Ok(())
}

/// Range hints for the exporter; nothing to do at run time.
pub fn no_op(_b: &mut OpBuilder, _args: &[ValueId]) -> Result<()> {
    Ok(())
}
