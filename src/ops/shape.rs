//! Shape and copy ops: view_copy, permute_copy, clone, _to_dim_order_copy, cat, et_vk.prepack.
//!
//! Every tensor is contiguous on the GPU, so view/clone/prepack are plain word copies,
//! permute is a strided gather, cat copies each input into its slot, and `_to_dim_order_copy`
//! copies or converts between the f32 and i32 representations.

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::gpu::shaders;
use crate::runtime::builder::{contiguous_strides, normalize_dim, OpBuilder, TensorInfo};

pub const OPS: &[(&str, super::BuildFn)] = &[
    ("aten.view_copy.default", view_copy),
    ("aten.permute_copy.default", permute_copy),
    ("aten.clone.default", clone),
    (
        "dim_order_ops._to_dim_order_copy.default",
        to_dim_order_copy,
    ),
    ("aten.cat.default", cat),
    ("et_vk.prepack.default", prepack),
];

/// Max rank `shaders/permute.comp` handles.
pub const MAX_RANK: usize = 8;

/// Fails unless `a` and `b` have the same GPU representation (f32 or i32 words).
fn check_same_repr(b: &OpBuilder, input: &TensorInfo, out: &TensorInfo) -> Result<()> {
    if input.is_float() != out.is_float() {
        return Err(b.err(format!(
            "input value {} is {:?} but output value {} is {:?}",
            input.id, input.dtype, out.id, out.dtype
        )));
    }
    Ok(())
}

/// Records a word copy of `input` into `out` (same element count).
fn copy(b: &mut OpBuilder, out: &TensorInfo, input: &TensorInfo) {
    b.dispatch(
        &shaders::COPY,
        vec![out.numel() as i32],
        &[out.id, input.id],
    );
}

/// `view_copy(self, size)`: `size` may hold one -1, inferred from the element count.
pub fn view_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let size = b.int_list(args[1])?;
    let numel = x.numel();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in size.iter().enumerate() {
        match s {
            -1 if infer.is_none() => infer = Some(i),
            -1 => return Err(b.err(format!("size {size:?} has more than one -1"))),
            s if s < 0 => return Err(b.err(format!("size {size:?} has a negative entry"))),
            s => known = known.saturating_mul(s as usize),
        }
    }
    let mut sizes: Vec<usize> = size.iter().map(|&s| s.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || numel % known != 0 {
            return Err(b.err(format!(
                "cannot view {} elements ({:?}) as {size:?}",
                numel, x.sizes
            )));
        }
        sizes[i] = numel / known;
    } else if known != numel {
        return Err(b.err(format!(
            "cannot view {} elements ({:?}) as {size:?}",
            numel, x.sizes
        )));
    }
    let out = b.set_output(args[2], sizes)?;
    check_same_repr(b, &x, &out)?;
    copy(b, &out, &x);
    Ok(())
}

/// `permute_copy(self, dims)`: `dims` is a permutation of the input's dims (negative ok).
pub fn permute_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let dims = b.int_list(args[1])?;
    let rank = x.rank();
    if dims.len() != rank {
        return Err(b.err(format!(
            "dims {dims:?} do not match the input's rank {rank}"
        )));
    }
    let mut seen = vec![false; rank];
    let mut perm = Vec::with_capacity(rank);
    for &d in &dims {
        let n = normalize_dim(d, rank)
            .ok_or_else(|| b.err(format!("dim {d} out of range for rank {rank}")))?;
        if std::mem::replace(&mut seen[n], true) {
            return Err(b.err(format!("dims {dims:?} repeat dim {d}")));
        }
        perm.push(n);
    }
    if rank > MAX_RANK {
        return Err(b.unsupported(format!("rank {rank} above {MAX_RANK}")));
    }
    let out_sizes: Vec<usize> = perm.iter().map(|&d| x.sizes[d]).collect();
    let out = b.set_output(args[2], out_sizes.clone())?;
    check_same_repr(b, &x, &out)?;
    let in_strides = contiguous_strides(&x.sizes);
    let mut p = vec![out.numel() as i32, rank as i32];
    p.extend(pad(out_sizes.iter().copied()));
    p.extend(pad(perm.iter().map(|&d| in_strides[d])));
    b.dispatch(&shaders::PERMUTE, p, &[out.id, x.id]);
    Ok(())
}

/// `v` as i32, padded with zeros to MAX_RANK entries.
fn pad(v: impl Iterator<Item = usize>) -> Vec<i32> {
    let mut out: Vec<i32> = v.map(|x| x as i32).collect();
    out.resize(MAX_RANK, 0);
    out
}

/// `clone(self, *, memory_format=None)`.
pub fn clone(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    if !b.is_null(args[1]) {
        return Err(b.unsupported(format!("memory_format (value {}) must be None", args[1])));
    }
    let x = b.tensor(args[0])?;
    let out = b.set_output(args[2], x.sizes.clone())?;
    check_same_repr(b, &x, &out)?;
    copy(b, &out, &x);
    Ok(())
}

/// `et_vk.prepack(x)`: copies a constant into a GPU tensor; here a plain copy.
pub fn prepack(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 2)?;
    let x = b.tensor(args[0])?;
    let is_constant = b.graph().tensor(x.id).is_some_and(|t| t.constant.is_some());
    if is_constant {
        // The packed weight is the constant itself: share its memory, no copy, no 2x.
        b.alias(args[1], x.id, x.sizes.clone())?;
        return Ok(());
    }
    let out = b.set_output(args[1], x.sizes.clone())?;
    check_same_repr(b, &x, &out)?;
    copy(b, &out, &x);
    Ok(())
}

/// Output kind codes of `shaders/cast.comp`.
fn cast_kind(dtype: DType) -> i32 {
    match dtype {
        DType::Float16 | DType::Float32 | DType::Float64 => 0,
        DType::Int32 | DType::Int64 => 1,
        DType::Int8 => 2,
        DType::Uint8 => 3,
        DType::Bool => 4,
    }
}

/// Whether converting `from` to `to` changes values beyond a word copy.
fn needs_cast(from: DType, to: DType) -> bool {
    if from == to {
        return false;
    }
    match cast_kind(to) {
        0 => !from.is_float(),
        1 => from.is_float(),
        2 => !matches!(from, DType::Int8 | DType::Bool),
        3 => !matches!(from, DType::Uint8 | DType::Bool),
        _ => true,
    }
}

/// `_to_dim_order_copy(self, *, dtype=None, layout=None, device=None, pin_memory=None,
/// non_blocking=False, dim_order=None)`. The exporter writes `dtype` as None: the target
/// dtype is the output tensor's. Only the contiguous dim order is supported.
pub fn to_dim_order_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    // dtype (args[1]) is None or an int ScalarType code; the output's dtype decides either way.
    match b.value(args[1])? {
        Value::Null | Value::Int(_) => {}
        _ => return Err(b.err(format!("dtype (value {}) is not a dtype", args[1]))),
    }
    if let Some(order) = b.opt_int_list(args[6])? {
        let contiguous =
            order.len() == x.rank() && order.iter().enumerate().all(|(i, &d)| d == i as i64);
        if !contiguous {
            return Err(b.unsupported(format!(
                "dim_order {order:?}: only the contiguous order is supported"
            )));
        }
    }
    let out = b.set_output(args[7], x.sizes.clone())?;
    if needs_cast(x.dtype, out.dtype) {
        let p = vec![
            out.numel() as i32,
            x.is_float() as i32,
            cast_kind(out.dtype),
        ];
        b.dispatch(&shaders::CAST, p, &[out.id, x.id]);
    } else {
        copy(b, &out, &x);
    }
    Ok(())
}

/// `cat(tensors, dim=0)`: inputs agree in every size but `dim`. 1-D empty inputs (size [0])
/// are skipped, as torch does.
pub fn cat(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let all = b.tensor_list(args[0])?;
    let dim = b.int(args[1])?;
    let inputs: Vec<TensorInfo> = all.into_iter().filter(|t| t.sizes != [0]).collect();
    let out_t = b.tensor(args[2])?;
    let Some(first) = inputs.first() else {
        // Every input is empty: so is the output.
        b.set_output(args[2], vec![0])?;
        return Ok(());
    };
    let rank = first.rank();
    if rank == 0 {
        return Err(b.err("zero-dimensional tensors cannot be concatenated"));
    }
    let d = normalize_dim(dim, rank)
        .ok_or_else(|| b.err(format!("dim {dim} out of range for rank {rank}")))?;
    let mut out_sizes = first.sizes.clone();
    out_sizes[d] = 0;
    for t in &inputs {
        let same = t.rank() == rank
            && t.sizes
                .iter()
                .zip(&first.sizes)
                .enumerate()
                .all(|(i, (a, f))| i == d || a == f);
        if !same {
            return Err(b.err(format!(
                "input sizes {:?} and {:?} differ outside dim {d}",
                first.sizes, t.sizes
            )));
        }
        if t.is_float() != out_t.is_float() {
            return Err(b.unsupported(format!(
                "input value {} is {:?} but the output is {:?}",
                t.id, t.dtype, out_t.dtype
            )));
        }
        out_sizes[d] += t.sizes[d];
    }
    let out = b.set_output(args[2], out_sizes.clone())?;
    let inner: usize = out_sizes[d + 1..].iter().product();
    let mut offset = 0usize;
    for t in &inputs {
        let chunk = t.sizes[d] * inner;
        if t.numel() > 0 {
            let p = vec![
                t.numel() as i32,
                chunk as i32,
                (out_sizes[d] * inner) as i32,
                offset as i32,
            ];
            b.dispatch(&shaders::CAT, p, &[out.id, t.id]);
        }
        offset += chunk;
    }
    Ok(())
}
