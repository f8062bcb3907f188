//! Indexing ops: embedding, index_select, gather and index.Tensor, all on one shader
//! (`shaders/index_gather.comp`): each output element's input offset is a strided sum over
//! the output coordinates plus, for up to four integer index tensors, the index read at
//! a strided position times the indexed dim's input stride. Negative indices wrap as in
//! PyTorch; an index still out of range yields 0 (PyTorch raises an error).

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{broadcast_shapes, contiguous_strides, normalize_dim, OpBuilder, TensorInfo};
use crate::kernels::shape::{padded, IndexGatherParams, INDEX_GATHER};

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.embedding.default", embedding),
    OpDef::new("aten.index_select.default", index_select),
    OpDef::new("aten.gather.default", gather),
    OpDef::new("aten.index.Tensor", index_tensor),
];

pub use crate::kernels::shape::{MAX_INDICES, MAX_RANK};

/// One index tensor of an [`IndexGather`].
struct Index {
    tensor: TensorInfo,
    /// Element stride of the index tensor per output dim (0: broadcast).
    strides: Vec<usize>,
    /// Input stride of the dim the index selects along, and that dim's size.
    dim_stride: usize,
    dim_size: usize,
}

/// One dispatch of `shaders/index_gather.comp`.
struct IndexGather {
    out_sizes: Vec<usize>,
    /// Input stride per output dim (0 where an index decides).
    strides: Vec<usize>,
    indices: Vec<Index>,
}

impl IndexGather {
    fn emit(&self, b: &mut OpBuilder, out: &TensorInfo, input: &TensorInfo) -> Result<()> {
        let rank = self.out_sizes.len();
        if rank > MAX_RANK {
            return Err(b.unsupported(format!("output rank {rank} above {MAX_RANK}")));
        }
        if self.indices.is_empty() || self.indices.len() > MAX_INDICES {
            return Err(b.unsupported(format!(
                "{} index tensors: 1 to {MAX_INDICES} are supported",
                self.indices.len()
            )));
        }
        if input.is_float() != out.is_float() {
            return Err(b.err(format!(
                "input value {} is {:?} but output value {} is {:?}",
                input.id, input.dtype, out.id, out.dtype
            )));
        }
        let numel: usize = self.out_sizes.iter().product();
        if numel == 0 {
            return Ok(());
        }
        let limit = i32::MAX as usize;
        if numel > limit
            || input.numel() > limit
            || self.indices.iter().any(|i| i.tensor.numel() > limit)
        {
            return Err(b.unsupported("tensor too large for 32-bit indexing"));
        }
        if input.numel() == 0 {
            return Err(b.err(format!(
                "cannot index into the empty input {:?}",
                input.sizes
            )));
        }
        let as_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
        let mut p = IndexGatherParams {
            count: numel as u32,
            rank: rank as i32,
            indices: self.indices.len() as i32,
            sizes: padded(as_i64(&self.out_sizes)),
            strides: padded(as_i64(&self.strides)),
            ..Default::default()
        };
        for (k, ix) in self.indices.iter().enumerate() {
            let s: [i32; MAX_RANK] = padded(as_i64(&ix.strides));
            p.index_strides[k * MAX_RANK..(k + 1) * MAX_RANK].copy_from_slice(&s);
            p.dim_stride[k] = ix.dim_stride as i32;
            p.dim_size[k] = ix.dim_size as i32;
        }
        let mut tensors = vec![out.id, input.id];
        for k in 0..MAX_INDICES {
            tensors.push(self.indices.get(k).unwrap_or(&self.indices[0]).tensor.id);
        }
        b.dispatch(INDEX_GATHER.call(p).linear(numel), &tensors)
    }
}

/// Fails unless `t` holds integer indices (int32 or int64).
fn check_index_dtype(b: &OpBuilder, t: &TensorInfo, what: &str) -> Result<()> {
    match t.dtype {
        DType::Int32 | DType::Int64 => Ok(()),
        DType::Bool | DType::Uint8 => Err(b.unsupported(format!(
            "{what} (value {}) is a {:?} mask: only integer indices are supported",
            t.id, t.dtype
        ))),
        d => Err(b.err(format!(
            "{what} (value {}) must be an int32/int64 tensor, is {d:?}",
            t.id
        ))),
    }
}

/// Strides of an index tensor of `sizes` whose dims line up with output dims
/// `at..at + sizes.len()` of an output of rank `rank`, broadcasting (right-aligned) to
/// `bsizes` there.
fn placed_strides(sizes: &[usize], bsizes: &[usize], at: usize, rank: usize) -> Vec<usize> {
    let mut out = vec![0; rank];
    let own = contiguous_strides(sizes);
    let lead = bsizes.len() - sizes.len();
    for (i, (&n, &s)) in sizes.iter().zip(&own).enumerate() {
        if n != 1 {
            out[at + lead + i] = s;
        }
    }
    out
}

/// `embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)`:
/// rows of the 2-D `weight` picked by `indices` (any shape); `padding_idx` only matters for
/// gradients.
pub fn embedding(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let w = b.tensor(args[0])?;
    let idx = b.tensor(args[1])?;
    b.int(args[2])?;
    if w.rank() != 2 {
        return Err(b.err(format!("embedding weight must be 2-D, is {:?}", w.sizes)));
    }
    check_index_dtype(b, &idx, "indices")?;
    let (rows, dim) = (w.sizes[0], w.sizes[1]);
    let mut sizes = idx.sizes.clone();
    sizes.push(dim);
    let out = b.set_output(args[5], sizes.clone())?;
    let rank = sizes.len();
    let mut strides = vec![0; rank];
    strides[rank - 1] = 1;
    let g = IndexGather {
        strides,
        indices: vec![Index {
            strides: placed_strides(&idx.sizes, &idx.sizes, 0, rank),
            tensor: idx,
            dim_stride: dim,
            dim_size: rows,
        }],
        out_sizes: sizes,
    };
    g.emit(b, &out, &w)
}

/// `index_select(self, dim, index)`: entries of `dim` picked by the 1-D (or 0-D) `index`.
pub fn index_select(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    let idx = b.tensor(args[2])?;
    check_index_dtype(b, &idx, "index")?;
    if idx.rank() > 1 {
        return Err(b.err(format!("index must be 0-D or 1-D, is {:?}", idx.sizes)));
    }
    let scalar = x.rank() == 0;
    let in_sizes = if scalar { vec![1] } else { x.sizes.clone() };
    let d = normalize_dim(dim, in_sizes.len())
        .ok_or_else(|| b.err(format!("dim {dim} out of range for rank {}", x.rank())))?;
    let mut sizes = in_sizes.clone();
    sizes[d] = idx.numel();
    let declared = if scalar {
        if idx.numel() != 1 {
            return Err(b.err("index_select on a 0-D tensor needs exactly one index"));
        }
        vec![]
    } else {
        sizes.clone()
    };
    let out = b.set_output(args[3], declared)?;
    let in_strides = contiguous_strides(&in_sizes);
    let mut strides = in_strides.clone();
    strides[d] = 0;
    let mut istrides = vec![0; sizes.len()];
    istrides[d] = 1;
    let g = IndexGather {
        out_sizes: sizes,
        strides,
        indices: vec![Index {
            tensor: idx,
            strides: istrides,
            dim_stride: in_strides[d],
            dim_size: in_sizes[d],
        }],
    };
    g.emit(b, &out, &x)
}

/// `gather(self, dim, index, *, sparse_grad=False)`: `out[..i..] = self[..index[..i..]..]`
/// along `dim`; `index` has `self`'s rank and no larger sizes outside `dim`.
pub fn gather(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 5)?;
    let x = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    let idx = b.tensor(args[2])?;
    b.bool(args[3])?;
    check_index_dtype(b, &idx, "index")?;
    let in_sizes = if x.rank() == 0 {
        vec![1]
    } else {
        x.sizes.clone()
    };
    let idx_sizes = if idx.rank() == 0 {
        vec![1]
    } else {
        idx.sizes.clone()
    };
    if idx_sizes.len() != in_sizes.len() {
        return Err(b.err(format!(
            "index {:?} and input {:?} differ in rank",
            idx.sizes, x.sizes
        )));
    }
    let d = normalize_dim(dim, in_sizes.len())
        .ok_or_else(|| b.err(format!("dim {dim} out of range for rank {}", x.rank())))?;
    if let Some(i) = (0..in_sizes.len()).find(|&i| i != d && idx_sizes[i] > in_sizes[i]) {
        return Err(b.err(format!(
            "index {:?} is larger than input {:?} in dim {i}",
            idx.sizes, x.sizes
        )));
    }
    let out = b.set_output(args[4], idx.sizes.clone())?;
    let in_strides = contiguous_strides(&in_sizes);
    let mut strides = in_strides.clone();
    strides[d] = 0;
    let g = IndexGather {
        out_sizes: idx_sizes.clone(),
        strides,
        indices: vec![Index {
            strides: contiguous_strides(&idx_sizes),
            tensor: idx,
            dim_stride: in_strides[d],
            dim_size: in_sizes[d],
        }],
    };
    g.emit(b, &out, &x)
}

/// `index.Tensor(self, indices)`: advanced indexing by a list of optional integer index
/// tensors (one per leading dim; missing trailing entries mean ":"). The index tensors
/// broadcast together; their result dims replace the indexed dims in place when the indexed
/// dims are adjacent, and go first otherwise (PyTorch's rule). Boolean masks are not
/// supported (their output size depends on the data).
pub fn index_tensor(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let items = match b.value(args[1])? {
        Value::ValueList(items) => items.clone(),
        v => {
            return Err(b.err(format!(
                "indices (value {}) should be a ValueList, is {}",
                args[1],
                v.kind_name()
            )))
        }
    };
    let rank = x.rank();
    if items.len() > rank {
        return Err(b.err(format!(
            "{} indices for a tensor of rank {rank}",
            items.len()
        )));
    }
    let mut indexed: Vec<(usize, TensorInfo)> = Vec::new();
    for (dim, &id) in items.iter().enumerate() {
        if let Some(t) = b.opt_tensor(id)? {
            check_index_dtype(b, &t, "index")?;
            indexed.push((dim, t));
        }
    }
    if indexed.is_empty() {
        return Err(b.unsupported("index.Tensor without any index tensor"));
    }
    if indexed.len() > MAX_INDICES {
        return Err(b.unsupported(format!(
            "{} index tensors: at most {MAX_INDICES} are supported",
            indexed.len()
        )));
    }
    let mut bsizes: Vec<usize> = Vec::new();
    for (_, t) in &indexed {
        bsizes = broadcast_shapes(&bsizes, &t.sizes).ok_or_else(|| {
            b.err(format!(
                "index shapes do not broadcast: {:?}",
                indexed.iter().map(|(_, t)| &t.sizes).collect::<Vec<_>>()
            ))
        })?;
    }
    let first = indexed[0].0;
    let last = indexed[indexed.len() - 1].0;
    let adjacent = last - first + 1 == indexed.len();
    let is_indexed = |d: usize| indexed.iter().any(|(i, _)| *i == d);
    let in_strides = contiguous_strides(&x.sizes);
    // Output dims: (input dim or None for a broadcast index dim).
    let at = if adjacent { first } else { 0 };
    let mut layout: Vec<Option<usize>> = Vec::new();
    let rest: Vec<usize> = (0..rank).filter(|&d| !is_indexed(d)).collect();
    let before: Vec<usize> = rest.iter().copied().filter(|&d| d < at).collect();
    let after: Vec<usize> = rest.iter().copied().filter(|&d| d >= at).collect();
    layout.extend(before.iter().map(|&d| Some(d)));
    layout.extend(std::iter::repeat_n(None, bsizes.len()));
    layout.extend(after.iter().map(|&d| Some(d)));
    let out_rank = layout.len();
    let mut sizes = Vec::with_capacity(out_rank);
    let mut strides = Vec::with_capacity(out_rank);
    let mut k = 0;
    for l in &layout {
        match l {
            Some(d) => {
                sizes.push(x.sizes[*d]);
                strides.push(in_strides[*d]);
            }
            None => {
                sizes.push(bsizes[k]);
                strides.push(0);
                k += 1;
            }
        }
    }
    let out = b.set_output(args[2], sizes.clone())?;
    let pos = before.len();
    let indices = indexed
        .into_iter()
        .map(|(d, t)| Index {
            strides: placed_strides(&t.sizes, &bsizes, pos, out_rank),
            tensor: t,
            dim_stride: in_strides[d],
            dim_size: x.sizes[d],
        })
        .collect();
    let g = IndexGather {
        out_sizes: sizes,
        strides,
        indices,
    };
    g.emit(b, &out, &x)
}
