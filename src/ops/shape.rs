//! Shape and copy ops: view_copy, squeeze_copy, unsqueeze_copy, alias_copy, clone,
//! _clone_dim_order, permute(_copy), t_copy, expand_copy, repeat, select_copy, slice_copy,
//! split_with_sizes_copy, flip, constant_pad_nd, unfold_copy, copy, _to_copy,
//! _to_dim_order_copy, cat, et_vk.prepack.
//!
//! Every tensor is contiguous on the GPU, so the view-like ops (view, squeeze, unsqueeze,
//! alias, clone, prepack) are plain word copies, cat copies each input into its slot, and
//! `_to_copy`/`_to_dim_order_copy` copy or convert between the f32 and i32 representations.
//! Everything that moves elements around goes through one generic strided gather
//! ([`Gather`], `shaders/shape_gather.comp`): per output dim an input stride (0 to
//! broadcast, negative to flip), an offset and bound (padding), and a modulus (repeat).

use crate::error::Result;
use crate::format::{DType, Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{
    broadcast_shapes, contiguous_strides, normalize_dim, OpBuilder, Piece, TensorInfo,
    MAX_PERMUTE_RANK,
};
use crate::kernels::shape::{
    padded, CastParams, CatParams, CopyParams, ShapeGatherParams, CAST, CAT, CAT_C4, CAT_C4_F16,
    COPY, SHAPE_GATHER,
};
use crate::kernels::{Elem, Layout};

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.view_copy.default", view_copy),
    OpDef::new("aten.permute_copy.default", permute_copy),
    OpDef::new("aten.permute.default", permute_copy),
    OpDef::new("aten.t_copy.default", t_copy),
    OpDef::new("aten.squeeze_copy.dims", squeeze_copy_dims),
    OpDef::new("aten.unsqueeze_copy.default", unsqueeze_copy),
    OpDef::new("aten.alias_copy.default", alias_copy),
    OpDef::new("aten.clone.default", clone),
    OpDef::new("dim_order_ops._clone_dim_order.default", clone_dim_order),
    OpDef::new("aten.copy.default", copy_op),
    OpDef::new("aten.expand_copy.default", expand_copy),
    OpDef::new("aten.repeat.default", repeat),
    OpDef::new("aten.select_copy.int", select_copy),
    OpDef::new("aten.slice_copy.Tensor", slice_copy),
    OpDef::new("aten.split_with_sizes_copy.default", split_with_sizes_copy),
    OpDef::new("aten.flip.default", flip),
    OpDef::new("aten.constant_pad_nd.default", constant_pad_nd),
    OpDef::new("aten.unfold_copy.default", unfold_copy),
    OpDef::new("aten._to_copy.default", to_copy),
    OpDef::new(
        "dim_order_ops._to_dim_order_copy.default",
        to_dim_order_copy,
    ),
    OpDef::new("aten.cat.default", cat),
    OpDef::new("et_vk.prepack.default", prepack),
];

pub use crate::kernels::shape::MAX_RANK;

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

/// The output of an op that reproduces `x`'s elements in order (a view, a clone): shares
/// `x`'s memory when the builder allows it (`OpBuilder::may_alias`), else a copy.
fn view_of(b: &mut OpBuilder, out_id: ValueId, x: &TensorInfo, sizes: Vec<usize>) -> Result<()> {
    if b.may_alias(x) {
        let out = b.alias(out_id, x.id, sizes)?;
        return check_same_repr(b, x, &out);
    }
    let out = b.set_output(out_id, sizes)?;
    check_same_repr(b, x, &out)?;
    copy(b, &out, x)
}

/// Records a word copy of `input` into `out` (same element count).
fn copy(b: &mut OpBuilder, out: &TensorInfo, input: &TensorInfo) -> Result<()> {
    let count = out.numel();
    b.dispatch(
        COPY.call(CopyParams {
            count: count as u32,
        })
        .linear(count),
        &[out.id, input.id],
    )
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
    view_of(b, args[2], &x, sizes)
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
    // An attention's heads moved next to each other, or a convolution's output turned into
    // tokens: stored there by the attention or the convolution itself.
    if super::attention_chain::store_permuted(b, &x, &perm, args[2])?
        || super::conv::store_tokens(b, &x, &perm, args[2])?
    {
        return Ok(());
    }
    let out_sizes: Vec<usize> = perm.iter().map(|&d| x.sizes[d]).collect();
    let out = b.set_output(args[2], out_sizes.clone())?;
    check_same_repr(b, &x, &out)?;
    let in_strides = contiguous_strides(&x.sizes);
    let mut g = Gather::new(out_sizes);
    g.strides = perm.iter().map(|&d| in_strides[d] as i64).collect();
    g.emit(b, &out, &x, false)?;
    // A product may read x as its transposed operand (attention's k^T), and attention may
    // read q, k and v from the source of the permuted projection they were selected from.
    if rank <= MAX_PERMUTE_RANK && out.numel() > 0 && b.last_dispatch_reads(x.id) {
        let mut dims = [0; MAX_PERMUTE_RANK];
        dims[..rank].copy_from_slice(&perm);
        let piece = Piece::Permute {
            src: x.id,
            perm: dims,
            rank,
        };
        b.offer_piece(out.id, piece);
    }
    Ok(())
}

/// `clone(self, *, memory_format=None)`.
pub fn clone(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    if !b.is_null(args[1]) {
        return Err(b.unsupported(format!("memory_format (value {}) must be None", args[1])));
    }
    let x = b.tensor(args[0])?;
    view_of(b, args[2], &x, x.sizes.clone())
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
    copy(b, &out, &x)
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
    check_contiguous_order(b, args[6], x.rank())?;
    let out = b.set_output(args[7], x.sizes.clone())?;
    cast_or_copy(b, &out, &x)
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
    if cat_channels4(b, &inputs, d, args[2], &out_sizes)? {
        return Ok(());
    }
    let out = b.set_output(args[2], out_sizes.clone())?;
    let inner: usize = out_sizes[d + 1..].iter().product();
    // With nothing outside the dim, each input is one contiguous slice of the output.
    let slices = out_sizes[..d].iter().product::<usize>() == 1;
    let word = b.elem_of(out.id).bytes();
    let mut offset = 0usize;
    for t in &inputs {
        let chunk = t.sizes[d] * inner;
        if t.numel() > 0 {
            let p = CatParams {
                count: t.numel() as u32,
                in_chunk: chunk as u32,
                out_chunk: (out_sizes[d] * inner) as u32,
                offset: offset as u32,
            };
            b.dispatch(CAT.call(p).linear(t.numel()), &[out.id, t.id])?;
            if slices && word == 4 {
                b.offer_slot((offset * word) as u64, (chunk * word) as u64);
            }
        }
        offset += chunk;
    }
    Ok(())
}

/// Concatenation along the channels of channels-packed inputs (conv outputs), kept packed:
/// when every input but the last fills whole blocks of 4 channels, each input's blocks are
/// one slot of the output's. `false` (nothing recorded) when that does not apply. Decided at
/// the serialized bounds, so that a resize keeps the layout.
fn cat_channels4(
    b: &mut OpBuilder,
    inputs: &[TensorInfo],
    d: usize,
    out_id: ValueId,
    out_sizes: &[usize],
) -> Result<bool> {
    let rank = out_sizes.len();
    // The channel dim of [N, C, H, W] or [C, H, W].
    if !matches!((rank, d), (4, 1) | (3, 0))
        || !inputs.iter().any(|t| t.layout == Layout::Channels4)
        || !inputs.iter().all(|t| t.is_float())
    {
        return Ok(false);
    }
    let aligned = |sizes: &[usize]| sizes[d].is_multiple_of(4);
    let last = inputs.len() - 1;
    for (i, t) in inputs.iter().enumerate() {
        let Some(bound) = b.meta(t.id).map(|m| m.bound_sizes.clone()) else {
            return Ok(false);
        };
        if i < last && !aligned(&bound) {
            return Ok(false);
        }
        if i < last && !aligned(&t.sizes) {
            return Err(b.unsupported(format!(
                "input {:?} of a channels-packed concatenation has {} channels here, not a \
                 multiple of 4 as at the program's bounds",
                t.sizes, t.sizes[d]
            )));
        }
    }
    // f16 when every input is stored so; otherwise f32 words (f16 inputs converted).
    let half = inputs.iter().all(|t| b.elem_of(t.id) == Elem::F16);
    let (elem, kernel, words) = if half {
        (Elem::F16, &CAT_C4_F16, 2)
    } else {
        (Elem::F32, &CAT_C4, 4)
    };
    let out = b.set_output_as(out_id, out_sizes.to_vec(), Layout::Channels4, elem)?;
    // Both viewed as [N, blocks * H * W * words]; the blocks of input i start where the
    // previous inputs' end.
    let plane: usize = out_sizes[d + 1..].iter().product::<usize>() * words;
    let out_chunk = out_sizes[d].div_ceil(4) * plane;
    // A batch of one: each input's blocks are one contiguous slice of the output's.
    let slices = out_sizes[..d].iter().product::<usize>() == 1;
    let mut offset = 0usize;
    for t in inputs {
        let chunk = t.sizes[d].div_ceil(4) * plane;
        let count = chunk * out_sizes[..d].iter().product::<usize>();
        if count > 0 {
            let p = CatParams {
                count: count as u32,
                in_chunk: chunk as u32,
                out_chunk: out_chunk as u32,
                offset: offset as u32,
            };
            b.dispatch(kernel.call(p).linear(count), &[out.id, t.id])?;
            if slices {
                b.offer_slot(4 * offset as u64, 4 * chunk as u64);
            }
        }
        offset += chunk;
    }
    Ok(true)
}

// ---------------------------------------------------------------- the generic gather

/// One dispatch of `shaders/shape_gather.comp`: for each output element with coordinates
/// `c_d`, `i_d = c_d - lo_d`; when `i_d` falls outside `[0, bound_d)` (bound -1: unbounded)
/// the element is `fill`; otherwise `i_d %= modulo_d` (0: none) and the element is
/// `input[base + sum_d i_d * strides_d]`, converted to the output dtype when asked.
#[derive(Debug, Clone)]
pub struct Gather {
    pub out_sizes: Vec<usize>,
    pub base: i64,
    pub strides: Vec<i64>,
    pub lo: Vec<i64>,
    pub bound: Vec<i64>,
    pub modulo: Vec<i64>,
    /// The border word, already in the output's representation.
    pub fill: u32,
}

impl Gather {
    /// A plain gather over `out_sizes`: zero strides, no border, no modulus.
    pub fn new(out_sizes: Vec<usize>) -> Self {
        let r = out_sizes.len();
        Gather {
            out_sizes,
            base: 0,
            strides: vec![0; r],
            lo: vec![0; r],
            bound: vec![-1; r],
            modulo: vec![0; r],
            fill: 0,
        }
    }

    /// Records the dispatch writing `out` from `input`. With `convert`, words are converted
    /// from the input's dtype to the output's; otherwise both must share a representation.
    pub fn emit(
        &self,
        b: &mut OpBuilder,
        out: &TensorInfo,
        input: &TensorInfo,
        convert: bool,
    ) -> Result<()> {
        let rank = self.out_sizes.len();
        if rank > MAX_RANK {
            return Err(b.unsupported(format!("output rank {rank} above {MAX_RANK}")));
        }
        let numel: usize = self.out_sizes.iter().product();
        if numel == 0 {
            return Ok(());
        }
        let words = |v: &[i64], b: &OpBuilder| -> Result<[i32; MAX_RANK]> {
            if v.iter().any(|&x| i32::try_from(x).is_err()) {
                return Err(b.unsupported("tensor too large for 32-bit indexing"));
            }
            Ok(padded(v.iter().copied()))
        };
        if numel > i32::MAX as usize || input.numel() > i32::MAX as usize {
            return Err(b.unsupported("tensor too large for 32-bit indexing"));
        }
        let conversion = if convert && needs_cast(input.dtype, out.dtype) {
            cast_kind(out.dtype)
        } else if input.is_float() != out.is_float() {
            return Err(b.err(format!(
                "input value {} is {:?} but output value {} is {:?}",
                input.id, input.dtype, out.id, out.dtype
            )));
        } else {
            -1
        };
        let mut sizes: Vec<i64> = self.out_sizes.iter().map(|&s| s as i64).collect();
        let (mut base, mut strides) = (self.base, self.strides.clone());
        // Whole uvec4s when the innermost dim is a plain contiguous run of groups of 4.
        let last = rank.saturating_sub(1);
        let vec4 = rank > 0
            && conversion < 0
            && sizes[last] % 4 == 0
            && strides[last] == 1
            && self.lo[last] == 0
            && (self.bound[last] < 0 || self.bound[last] >= sizes[last])
            && self.modulo[last] == 0
            && base % 4 == 0
            && strides[..last].iter().all(|s| s % 4 == 0);
        let (count, variant) = if vec4 {
            sizes[last] /= 4;
            for s in &mut strides[..last] {
                *s /= 4;
            }
            base /= 4;
            (numel / 4, 4)
        } else {
            (numel, 1)
        };
        let base = i32::try_from(base).map_err(|_| b.unsupported("offset above 32-bit range"))?;
        let p = ShapeGatherParams {
            count: count as u32,
            rank: rank as i32,
            base,
            fill: self.fill,
            input_float: input.is_float() as i32,
            conversion,
            sizes: words(&sizes, b)?,
            strides: words(&strides, b)?,
            lo: words(&self.lo, b)?,
            bound: words(&self.bound, b)?,
            modulo: words(&self.modulo, b)?,
        };
        let call = SHAPE_GATHER.call(p).variant(variant).linear(count);
        b.dispatch(call, &[out.id, input.id])
    }
}

/// Contiguous strides as i64.
fn strides_i64(sizes: &[usize]) -> Vec<i64> {
    contiguous_strides(sizes)
        .iter()
        .map(|&s| s as i64)
        .collect()
}

/// A normalised dim, or an InvalidProgram error.
fn dim_arg(b: &OpBuilder, dim: i64, rank: usize) -> Result<usize> {
    normalize_dim(dim, rank).ok_or_else(|| b.err(format!("dim {dim} out of range for rank {rank}")))
}

/// Fails unless `dim_order` (when given) is the contiguous order for `rank`.
fn check_contiguous_order(b: &OpBuilder, id: ValueId, rank: usize) -> Result<()> {
    if let Some(order) = b.opt_int_list(id)? {
        let contiguous =
            order.len() == rank && order.iter().enumerate().all(|(i, &d)| d == i as i64);
        if !contiguous {
            return Err(b.unsupported(format!(
                "dim_order {order:?}: only the contiguous order is supported"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- view-like copies

/// `squeeze_copy.dims(self, dim)`: drops the listed dims of size 1 (others stay).
pub fn squeeze_copy_dims(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let dims = b.int_list(args[1])?;
    let rank = x.rank();
    let mut drop = vec![false; rank.max(1)];
    for &d in &dims {
        let n = dim_arg(b, d, rank)?;
        if std::mem::replace(&mut drop[n], true) {
            return Err(b.err(format!("dim {d} appears more than once in {dims:?}")));
        }
    }
    let sizes: Vec<usize> = x
        .sizes
        .iter()
        .enumerate()
        .filter(|&(i, &s)| !(drop[i] && s == 1))
        .map(|(_, &s)| s)
        .collect();
    view_of(b, args[2], &x, sizes)
}

/// `unsqueeze_copy(self, dim)`: `dim` in `[-rank-1, rank]`.
pub fn unsqueeze_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    let d = dim_arg(b, dim, x.rank() + 1)?;
    let mut sizes = x.sizes.clone();
    sizes.insert(d, 1);
    view_of(b, args[2], &x, sizes)
}

/// `alias_copy(self)`.
pub fn alias_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 2)?;
    let x = b.tensor(args[0])?;
    view_of(b, args[1], &x, x.sizes.clone())
}

/// `_clone_dim_order(self, *, non_blocking=False, dim_order=None)`: contiguous order only.
pub fn clone_dim_order(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    b.bool(args[1])?;
    check_contiguous_order(b, args[2], x.rank())?;
    view_of(b, args[3], &x, x.sizes.clone())
}

// ---------------------------------------------------------------- gathers

/// `t_copy(self)`: transposes a 2-D tensor; 0-D and 1-D tensors are copied.
pub fn t_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 2)?;
    let x = b.tensor(args[0])?;
    if x.rank() > 2 {
        return Err(b.err(format!(
            "t expects a tensor of rank <= 2, got {:?}",
            x.sizes
        )));
    }
    let mut sizes = x.sizes.clone();
    sizes.reverse();
    let out = b.set_output(args[1], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.strides = strides_i64(&x.sizes);
    g.strides.reverse();
    g.emit(b, &out, &x, false)
}

/// `expand_copy(self, size, *, implicit=False)`: `size` has at least the input's rank; -1
/// keeps a dim; size-1 dims broadcast.
pub fn expand_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let size = b.int_list(args[1])?;
    let (rank, out_rank) = (x.rank(), size.len());
    if out_rank < rank {
        return Err(b.err(format!(
            "expand size {size:?} has fewer dims than the input {:?}",
            x.sizes
        )));
    }
    let in_strides = strides_i64(&x.sizes);
    let lead = out_rank - rank;
    let mut sizes = Vec::with_capacity(out_rank);
    let mut strides = Vec::with_capacity(out_rank);
    for (i, &s) in size.iter().enumerate() {
        if i < lead {
            if s < 0 {
                return Err(b.err(format!("expand size {size:?}: new dim {i} is {s}")));
            }
            sizes.push(s as usize);
            strides.push(0);
            continue;
        }
        let n = x.sizes[i - lead];
        match s {
            -1 => {
                sizes.push(n);
                strides.push(in_strides[i - lead]);
            }
            s if s < 0 => return Err(b.err(format!("expand size {size:?} has {s}"))),
            s if s as usize == n => {
                sizes.push(n);
                strides.push(in_strides[i - lead]);
            }
            s if n == 1 => {
                sizes.push(s as usize);
                strides.push(0);
            }
            s => {
                return Err(b.err(format!(
                    "cannot expand {:?} to {size:?}: dim {} is {n}, not 1 or {s}",
                    x.sizes,
                    i - lead
                )))
            }
        }
    }
    let out = b.set_output(args[3], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.strides = strides;
    g.emit(b, &out, &x, false)
}

/// `repeat(self, repeats)`: tiles the input; `repeats` may add leading dims.
pub fn repeat(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let reps = b.int_list(args[1])?;
    if reps.len() < x.rank() {
        return Err(b.err(format!(
            "repeats {reps:?} have fewer dims than the input {:?}",
            x.sizes
        )));
    }
    if reps.iter().any(|&r| r < 0) {
        return Err(b.err(format!("repeats {reps:?} has a negative entry")));
    }
    let mut padded = vec![1usize; reps.len() - x.rank()];
    padded.extend_from_slice(&x.sizes);
    let sizes: Vec<usize> = padded
        .iter()
        .zip(&reps)
        .map(|(&n, &r)| n * r as usize)
        .collect();
    let out = b.set_output(args[2], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.strides = strides_i64(&padded);
    g.modulo = padded.iter().map(|&n| n as i64).collect();
    g.emit(b, &out, &x, false)
}

/// `select_copy.int(self, dim, index)`: drops `dim`, taking entry `index` (negative ok).
pub fn select_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    if x.rank() == 0 {
        return Err(b.err("select() cannot be applied to a 0-dim tensor"));
    }
    let d = dim_arg(b, b.int(args[1])?, x.rank())?;
    let index = b.int(args[2])?;
    let n = x.sizes[d] as i64;
    let i = if index < 0 { index + n } else { index };
    if !(0..n).contains(&i) {
        return Err(b.err(format!(
            "index {index} out of range for dim {d} of size {n}"
        )));
    }
    let in_strides = strides_i64(&x.sizes);
    let mut sizes = x.sizes.clone();
    sizes.remove(d);
    let out = b.set_output(args[3], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.base = i * in_strides[d];
    g.strides = in_strides;
    g.strides.remove(d);
    g.emit(b, &out, &x, false)?;
    offer_window(b, &x, &out, d, i as usize);
    let piece = Piece::Select {
        x: x.id,
        dim: d,
        index: i as usize,
    };
    b.offer_piece(out.id, piece);
    Ok(())
}

/// After a gather of entries `start..` of dim `d` of `x` (step 1) into `out`: offers `out` as
/// that window of `x` (see [`OpBuilder::offer_window`]) when the window is one contiguous run
/// of `x`: only dims of size 1 before `d`, 32-bit words on both sides.
fn offer_window(b: &mut OpBuilder, x: &TensorInfo, out: &TensorInfo, d: usize, start: usize) {
    let word = b.elem_of(out.id).bytes();
    let runs = x.sizes[..d].iter().product::<usize>() == 1;
    if runs && out.numel() > 0 && word == 4 && b.elem_of(x.id).bytes() == word {
        let inner: usize = x.sizes[d + 1..].iter().product();
        b.offer_window((start * inner * word) as u64, (out.numel() * word) as u64);
    }
}

/// A gather over `x` taking `len` entries of dim `d` from `start` every `step`.
fn slice_gather(x: &TensorInfo, d: usize, start: i64, len: usize, step: i64) -> Gather {
    let in_strides = strides_i64(&x.sizes);
    let mut sizes = x.sizes.clone();
    sizes[d] = len;
    let mut g = Gather::new(sizes);
    g.base = start * in_strides[d];
    g.strides = in_strides;
    g.strides[d] *= step;
    g
}

/// `slice_copy.Tensor(self, dim=0, start=None, end=None, step=1)`: Python slice semantics
/// (negative bounds count from the end, out-of-range bounds clamp); `step` must be > 0.
pub fn slice_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let x = b.tensor(args[0])?;
    if x.rank() == 0 {
        return Err(b.err("slice() cannot be applied to a 0-dim tensor"));
    }
    let d = dim_arg(b, b.int(args[1])?, x.rank())?;
    let n = x.sizes[d] as i64;
    let start = b.opt_int(args[2])?.unwrap_or(0);
    let end = b.opt_int(args[3])?.unwrap_or(n);
    let step = b.int(args[4])?;
    if step <= 0 {
        return Err(b.err(format!("slice step must be positive, got {step}")));
    }
    let clamp = |v: i64| {
        let v = if v < 0 { v.saturating_add(n) } else { v };
        v.clamp(0, n)
    };
    let start = clamp(start);
    let end = clamp(end).max(start);
    let len = ((end - start) + step - 1) / step;
    let g = slice_gather(&x, d, start, len as usize, step);
    let out = b.set_output(args[5], g.out_sizes.clone())?;
    g.emit(b, &out, &x, false)?;
    if step == 1 {
        offer_window(b, &x, &out, d, start as usize);
    }
    Ok(())
}

/// `split_with_sizes_copy(self, split_sizes, dim=0)`: the output is one ValueList.
pub fn split_with_sizes_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let splits = b.int_list(args[1])?;
    if x.rank() == 0 {
        return Err(b.err("split() cannot be applied to a 0-dim tensor"));
    }
    let d = dim_arg(b, b.int(args[2])?, x.rank())?;
    let outs = match b.value(args[3])? {
        Value::ValueList(items) => items.clone(),
        v => {
            return Err(b.err(format!(
                "output value {} should be a ValueList, is {}",
                args[3],
                v.kind_name()
            )))
        }
    };
    if outs.len() != splits.len() {
        return Err(b.err(format!(
            "{} split sizes but {} outputs",
            splits.len(),
            outs.len()
        )));
    }
    if splits.iter().any(|&s| s < 0) || splits.iter().sum::<i64>() != x.sizes[d] as i64 {
        return Err(b.err(format!(
            "split sizes {splits:?} do not sum to dim {d} of {:?}",
            x.sizes
        )));
    }
    let mut start = 0i64;
    for (&len, &id) in splits.iter().zip(&outs) {
        let g = slice_gather(&x, d, start, len as usize, 1);
        let out = b.set_output(id, g.out_sizes.clone())?;
        g.emit(b, &out, &x, false)?;
        offer_window(b, &x, &out, d, start as usize);
        start += len;
    }
    Ok(())
}

/// `flip(self, dims)`: reverses the listed dims (each at most once).
pub fn flip(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let dims = b.int_list(args[1])?;
    let rank = x.rank();
    let mut flipped = vec![false; rank.max(1)];
    for &d in &dims {
        let n = dim_arg(b, d, rank)?;
        if std::mem::replace(&mut flipped[n], true) {
            return Err(b.err(format!("dim {d} appears more than once in {dims:?}")));
        }
    }
    let out = b.set_output(args[2], x.sizes.clone())?;
    let mut g = Gather::new(x.sizes.clone());
    g.strides = strides_i64(&x.sizes);
    for ((&f, &n), s) in flipped.iter().zip(&x.sizes).zip(g.strides.iter_mut()) {
        if f && n > 0 {
            g.base += (n as i64 - 1) * *s;
            *s = -*s;
        }
    }
    g.emit(b, &out, &x, false)
}

/// A scalar argument (Int, Double or Bool) as the word the output dtype stores.
pub fn scalar_word(b: &OpBuilder, id: ValueId, dtype: DType) -> Result<u32> {
    let (int, float) = match b.value(id)? {
        Value::Int(v) => (*v, *v as f64),
        Value::Bool(v) => (*v as i64, *v as i64 as f64),
        Value::Double(v) => (*v as i64, *v),
        Value::SymInt(_) => {
            let v = b.int(id)?;
            (v, v as f64)
        }
        v => {
            return Err(b.err(format!(
                "argument value {id} should be a scalar, is {}",
                v.kind_name()
            )))
        }
    };
    Ok(match dtype {
        DType::Float16 | DType::Float32 | DType::Float64 => (float as f32).to_bits(),
        DType::Bool => (float != 0.0) as u32,
        DType::Int8 => int as i8 as i32 as u32,
        DType::Uint8 => int as u8 as u32,
        DType::Int32 | DType::Int64 => int as i32 as u32,
    })
}

/// `constant_pad_nd(self, pad, value=0)`: `pad` holds (before, after) pairs from the last
/// dim backwards; negative padding crops.
pub fn constant_pad_nd(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let pad = b.int_list(args[1])?;
    let rank = x.rank();
    if pad.len() % 2 != 0 || pad.len() / 2 > rank {
        return Err(b.err(format!(
            "padding {pad:?} must be (before, after) pairs for at most {rank} dims"
        )));
    }
    let mut sizes = x.sizes.clone();
    let mut lo = vec![0i64; rank];
    for (i, pair) in pad.chunks(2).enumerate() {
        let d = rank - 1 - i;
        let n = x.sizes[d] as i64 + pair[0] + pair[1];
        if n < 0 {
            return Err(b.err(format!(
                "padding {pad:?} gives dim {d} of {:?} a negative size {n}",
                x.sizes
            )));
        }
        sizes[d] = n as usize;
        lo[d] = pair[0];
    }
    let out = b.set_output(args[3], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.strides = strides_i64(&x.sizes);
    g.lo = lo;
    g.bound = x.sizes.iter().map(|&n| n as i64).collect();
    g.fill = scalar_word(b, args[2], out.dtype)?;
    g.emit(b, &out, &x, false)
}

/// `unfold_copy(self, dimension, size, step)`: windows of `size` every `step` along
/// `dimension`, as a new last dim.
pub fn unfold_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 5)?;
    let x = b.tensor(args[0])?;
    let dim = b.int(args[1])?;
    let size = b.int(args[2])?;
    let step = b.int(args[3])?;
    // A 0-dim input unfolds as a 1-element vector whose dim is then dropped.
    let scalar = x.rank() == 0;
    let in_sizes = if scalar { vec![1] } else { x.sizes.clone() };
    let d = dim_arg(b, dim, in_sizes.len())?;
    let n = in_sizes[d] as i64;
    if size < 0 || size > n {
        return Err(b.err(format!("unfold size {size} must be in [0, {n}]")));
    }
    if step <= 0 {
        return Err(b.err(format!("unfold step must be positive, got {step}")));
    }
    let in_strides = strides_i64(&in_sizes);
    let mut sizes = in_sizes.clone();
    sizes[d] = ((n - size) / step + 1) as usize;
    let mut strides = in_strides.clone();
    strides[d] *= step;
    sizes.push(size as usize);
    strides.push(in_strides[d]);
    if scalar {
        sizes.remove(0);
        strides.remove(0);
    }
    let out = b.set_output(args[4], sizes.clone())?;
    let mut g = Gather::new(sizes);
    g.strides = strides;
    g.emit(b, &out, &x, false)
}

/// `copy(self, src, non_blocking=False)`: `src` broadcast to `self`'s sizes and converted to
/// its dtype.
pub fn copy_op(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let dst = b.tensor(args[0])?;
    let src = b.tensor(args[1])?;
    b.bool(args[2])?;
    if broadcast_shapes(&dst.sizes, &src.sizes).as_deref() != Some(&dst.sizes[..]) {
        return Err(b.err(format!(
            "source {:?} does not broadcast to {:?}",
            src.sizes, dst.sizes
        )));
    }
    let out = b.set_output(args[3], dst.sizes.clone())?;
    let lead = dst.rank() - src.rank();
    let src_strides = strides_i64(&src.sizes);
    let mut g = Gather::new(dst.sizes.clone());
    for (i, s) in g.strides.iter_mut().enumerate().skip(lead) {
        if src.sizes[i - lead] != 1 {
            *s = src_strides[i - lead];
        }
    }
    g.emit(b, &out, &src, true)
}

/// `_to_copy(self, *, dtype=None, layout=None, device=None, pin_memory=None,
/// non_blocking=False, memory_format=None)`: the exporter writes dtype, layout, device and
/// memory_format as None; the target dtype is the output tensor's.
pub fn to_copy(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = b.tensor(args[0])?;
    match b.value(args[1])? {
        Value::Null | Value::Int(_) => {}
        _ => return Err(b.err(format!("dtype (value {}) is not a dtype", args[1]))),
    }
    let out = b.set_output(args[7], x.sizes.clone())?;
    cast_or_copy(b, &out, &x)
}

/// Records `out = x` converted to the output's dtype (a word copy when nothing changes).
fn cast_or_copy(b: &mut OpBuilder, out: &TensorInfo, x: &TensorInfo) -> Result<()> {
    if needs_cast(x.dtype, out.dtype) {
        let p = CastParams {
            count: out.numel() as u32,
            input_float: x.is_float() as i32,
            out_kind: cast_kind(out.dtype),
        };
        b.dispatch(CAST.call(p).linear(out.numel()), &[out.id, x.id])
    } else {
        copy(b, out, x)
    }
}
