//! Reductions: `aten.mean.dim`, `aten.sum.dim_IntList`, `aten.amax.default`,
//! `aten.amin.default` over any set of dims (empty or None = all dims, negative dims, keepdim
//! either way), `aten._softmax.default` / `aten._log_softmax.default` along any dim, and
//! `aten.argmax.default` / `aten.argmin.default` (one dim or all, keepdim either way, float or
//! integer input, first index on ties).
//! Shaders: `shaders/reduce.comp`, `shaders/softmax.comp` (max-subtracted) and
//! `shaders/arg_reduce.comp`: one invocation per output element (softmax: per row), or one
//! 64-wide workgroup per output element for long reductions.

use crate::error::Result;
use crate::format::{Value, ValueId};
use crate::gpu::DeviceKind;
use crate::graph::OpDef;
use crate::graph::{contiguous_strides, normalize_dim, OpBuilder, Piece};
use crate::kernels::reduce::{
    ArgReduceParams, ReduceParams, SoftmaxParams, ARG_REDUCE, REDUCE, SOFTMAX,
};
use crate::kernels::shape::padded;

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.mean.dim", mean_dim),
    OpDef::new("aten.sum.dim_IntList", sum_dim),
    OpDef::new("aten.amax.default", amax),
    OpDef::new("aten.amin.default", amin),
    OpDef::new("aten._softmax.default", softmax),
    OpDef::new("aten._log_softmax.default", log_softmax),
    OpDef::new("aten.argmax.default", argmax),
    OpDef::new("aten.argmin.default", argmin),
];

/// Max rank the reduce shader's index arithmetic handles.
pub const MAX_RANK: usize = 8;

/// Reductions at least this long use one 64-wide workgroup per output element (or softmax
/// row) instead of one invocation: `reduce.comp`, `softmax.comp` and `arg_reduce.comp` take a
/// layout flag. On GPUs a serial row is latency-bound much sooner (H200: a ViT's 260 softmax
/// rows of 65 took 25 us each dispatch one invocation per row); software drivers run a
/// workgroup on one CPU thread, where the merge only adds barriers.
/// `ETVK_SPLIT_REDUCTION=always` / `never` force one layout (tests run the GPU layout on
/// lavapipe).
fn use_group(b: &OpBuilder, len: usize) -> bool {
    let min = match super::split::forced() {
        Some(true) => 2,
        Some(false) => 256,
        None if b.caps().kind == DeviceKind::Cpu => 256,
        None => 32,
    };
    len >= min
}

/// Invocations per output element in the workgroup layout (the shaders' workgroup size).
const GROUP_SIZE: usize = 64;

/// Work items (`params[0]`) for `outputs` output elements in either layout.
fn work_items(b: &OpBuilder, outputs: usize, group: bool) -> Result<i32> {
    let per = if group { GROUP_SIZE } else { 1 };
    outputs
        .checked_mul(per)
        .and_then(|w| i32::try_from(w).ok())
        .ok_or_else(|| b.unsupported(format!("{outputs} outputs are too many for one dispatch")))
}

/// Mode codes understood by `shaders/reduce.comp`.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Sum = 0,
    Mean = 1,
    Max = 2,
    Min = 3,
}

/// `mean.dim(self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor`.
pub fn mean_dim(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    reduce_with_dtype(b, args, Mode::Mean)
}

/// `sum.dim_IntList(self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None)`.
pub fn sum_dim(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    reduce_with_dtype(b, args, Mode::Sum)
}

/// `amax(self, int[1] dim=[], bool keepdim=False) -> Tensor`.
pub fn amax(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    reduce(b, args[0], args[1], args[2], args[3], Mode::Max)
}

/// `amin(self, int[1] dim=[], bool keepdim=False) -> Tensor`.
pub fn amin(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    reduce(b, args[0], args[1], args[2], args[3], Mode::Min)
}

fn reduce_with_dtype(b: &mut OpBuilder, args: &[ValueId], mode: Mode) -> Result<()> {
    b.expect_args(args, 5)?;
    // The dtype argument only names the output dtype, which the output tensor already carries.
    match b.value(args[3])? {
        Value::Null | Value::Int(_) => {}
        other => {
            return Err(b.err(format!(
                "dtype argument should be None or a scalar type, is {}",
                other.kind_name()
            )))
        }
    }
    reduce(b, args[0], args[1], args[2], args[4], mode)
}

fn reduce(
    b: &mut OpBuilder,
    self_id: ValueId,
    dim_id: ValueId,
    keepdim_id: ValueId,
    out_id: ValueId,
    mode: Mode,
) -> Result<()> {
    let x = b.tensor(self_id)?;
    let dims = match b.value(dim_id)? {
        Value::Int(_) | Value::SymInt(_) => Some(vec![b.int(dim_id)?]),
        _ => b.opt_int_list(dim_id)?,
    }
    .unwrap_or_default();
    let keepdim = b.bool(keepdim_id)?;
    let rank = x.rank();
    if rank > MAX_RANK {
        return Err(b.unsupported(format!("rank {rank} above {MAX_RANK}")));
    }
    let mut reduced = vec![false; rank];
    for &d in &dims {
        let n = normalize_dim(d, rank).ok_or_else(|| {
            b.err(format!(
                "dim {d} out of range for input {:?} of rank {rank}",
                x.sizes
            ))
        })?;
        if rank > 0 {
            if reduced[n] {
                return Err(b.err(format!("dim {d} appears more than once in {dims:?}")));
            }
            reduced[n] = true;
        }
    }
    // An empty dim list reduces every dim.
    if dims.is_empty() {
        reduced.iter_mut().for_each(|r| *r = true);
    }
    let strides = contiguous_strides(&x.sizes);
    let (mut kept_sizes, mut kept_strides, mut red_sizes, mut red_strides) =
        (vec![], vec![], vec![], vec![]);
    let mut out_sizes = vec![];
    for d in 0..rank {
        if reduced[d] {
            red_sizes.push(x.sizes[d]);
            red_strides.push(strides[d]);
            if keepdim {
                out_sizes.push(1);
            }
        } else {
            kept_sizes.push(x.sizes[d]);
            kept_strides.push(strides[d]);
            out_sizes.push(x.sizes[d]);
        }
    }
    let r: usize = red_sizes.iter().product();
    if r == 0 && matches!(mode, Mode::Max | Mode::Min) {
        return Err(b.err(format!(
            "cannot take the max/min over zero elements (input {:?}, dims {dims:?})",
            x.sizes
        )));
    }
    let out = b.set_output(out_id, out_sizes)?;
    b.require_float(&[&x, &out])?;
    b.require_i32_indexing(&[&x])?;
    if out.numel() == 0 {
        return Ok(());
    }
    let group = use_group(b, r);
    let work = work_items(b, out.numel(), group)?;
    let ints = |v: &[usize]| -> [i32; 8] { padded(v.iter().map(|&x| x as i64)) };
    let p = ReduceParams {
        count: work as u32,
        mode: mode as i32,
        reduced_count: r as i32,
        group: group as i32,
        kept: kept_sizes.len() as i32,
        reduced: red_sizes.len() as i32,
        kept_sizes: ints(&kept_sizes),
        kept_strides: ints(&kept_strides),
        reduced_sizes: ints(&red_sizes),
        reduced_strides: ints(&red_strides),
    };
    b.dispatch(REDUCE.call(p).linear(work as usize), &[out.id, x.id])
}

/// `_softmax(self, int dim, bool half_to_float) -> Tensor`.
pub fn softmax(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    softmax_impl(b, args, false)
}

/// `_log_softmax(self, int dim, bool half_to_float) -> Tensor`.
pub fn log_softmax(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    softmax_impl(b, args, true)
}

fn softmax_impl(b: &mut OpBuilder, args: &[ValueId], log: bool) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    // half_to_float only changes the output dtype, which the output tensor already carries.
    b.bool(args[2])?;
    let d = normalize_dim(dim, x.rank()).ok_or_else(|| {
        b.err(format!(
            "dim {dim} out of range for input {:?} of rank {}",
            x.sizes,
            x.rank()
        ))
    })?;
    let out = b.set_output(args[3], x.sizes.clone())?;
    b.require_float(&[&x, &out])?;
    b.require_i32_indexing(&[&x])?;
    if x.numel() == 0 {
        return Ok(());
    }
    // Rank 0: a single element, D = inner = 1.
    let (len, inner) = if x.rank() == 0 {
        (1, 1)
    } else {
        (x.sizes[d], x.sizes[d + 1..].iter().product::<usize>())
    };
    let rows = x.numel() / len;
    let group = use_group(b, len);
    let work = work_items(b, rows, group)?;
    let p = SoftmaxParams {
        count: work as u32,
        d: len as i32,
        inner: inner as i32,
        log: log as i32,
        group: group as i32,
    };
    b.dispatch(SOFTMAX.call(p).linear(work as usize), &[out.id, x.id])?;
    if !log && inner == 1 {
        b.offer_piece(out.id, Piece::Softmax { x: x.id });
    }
    Ok(())
}

/// `argmax(self, int? dim=None, bool keepdim=False) -> Tensor`.
pub fn argmax(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arg_reduce(b, args, false)
}

/// `argmin(self, int? dim=None, bool keepdim=False) -> Tensor`.
pub fn argmin(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    arg_reduce(b, args, true)
}

fn arg_reduce(b: &mut OpBuilder, args: &[ValueId], min: bool) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let dim = b.opt_int(args[1])?;
    let keepdim = b.bool(args[2])?;
    // dim=None reduces the flattened input: [1, numel, 1]; otherwise [outer, len, inner].
    let (len, inner, out_sizes) = match dim {
        None => {
            let out = if keepdim { vec![1; x.rank()] } else { vec![] };
            (x.numel(), 1, out)
        }
        Some(dim) => {
            let d = normalize_dim(dim, x.rank()).ok_or_else(|| {
                b.err(format!(
                    "dim {dim} out of range for input {:?} of rank {}",
                    x.sizes,
                    x.rank()
                ))
            })?;
            if x.rank() == 0 {
                (1, 1, vec![])
            } else {
                let mut out = x.sizes.clone();
                if keepdim {
                    out[d] = 1;
                } else {
                    out.remove(d);
                }
                (x.sizes[d], x.sizes[d + 1..].iter().product(), out)
            }
        }
    };
    if len == 0 {
        return Err(b.err(format!(
            "cannot take the argmax/argmin over zero elements (input {:?}, dim {dim:?})",
            x.sizes
        )));
    }
    let out = b.set_output(args[3], out_sizes)?;
    if out.is_float() {
        return Err(b.err(format!(
            "output dtype {:?} should be an integer type",
            out.dtype
        )));
    }
    b.require_i32_indexing(&[&x])?;
    let outputs = out.numel();
    if outputs == 0 {
        return Ok(());
    }
    let group = use_group(b, len);
    let work = work_items(b, outputs, group)?;
    let p = ArgReduceParams {
        count: work as u32,
        l: len as i32,
        inner: inner as i32,
        is_min: min as i32,
        is_float: x.is_float() as i32,
        group: group as i32,
    };
    b.dispatch(ARG_REDUCE.call(p).linear(work as usize), &[out.id, x.id])
}
