//! Whole ops a later op may take over: the pieces of attention that exporters write out as
//! `bmm -> mul -> softmax -> bmm`, which `ops::attention` computes as one dispatch. Each op
//! offers what its dispatch computed ([`OpBuilder::offer_piece`]); the op at the end of the
//! chain takes the pieces it recognises ([`OpBuilder::take_piece`]), and their dispatches are
//! left out of the build.

use crate::format::ValueId;
use crate::kernels::attention::AttnRowsParams;

/// The largest permute a [`Piece::Permute`] describes.
pub const MAX_PERMUTE_RANK: usize = crate::kernels::shape::MAX_RANK;

/// An operand `[batch, rows, cols]` read in place from the contiguous tensor `src` with
/// these strides (elements per batch entry, row and col; 0 for a dim of 1), as a permute
/// would have laid it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StridedRead {
    pub src: ValueId,
    pub strides: [usize; 3],
}

/// What an offered dispatch computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Piece {
    /// `q [batch, lq, d] @ k[batch, lk, d]^T`, k read in place (a taken permute), q as it is
    /// or in place too: each a tensor with its strides per batch entry and row (the d
    /// elements of a row contiguous).
    Scores {
        q: (ValueId, [usize; 2]),
        k: (ValueId, [usize; 2]),
        batch: usize,
        lq: usize,
        lk: usize,
        d: usize,
    },
    /// A matrix product stored contiguously (`gemm.glsl`), which may apply an activation as
    /// it stores.
    Product,
    /// A convolution storing a channels-packed output (`conv2d_tiled.glsl`), which may store
    /// it as tokens `[N, H*W, C]` instead.
    Conv,
    /// `x * scale`.
    Scaled { x: ValueId, scale: Scale },
    /// `softmax(x, -1)`.
    Softmax { x: ValueId },
    /// `permute(src, perm)` of a contiguous `src` (the first `rank` entries of `perm`).
    Permute {
        src: ValueId,
        perm: [usize; MAX_PERMUTE_RANK],
        rank: usize,
    },
    /// `select(x, dim, index)`.
    Select {
        x: ValueId,
        dim: usize,
        index: usize,
    },
    /// A whole attention `[heads, lq, dv]` (`attn_rows.comp` with these parameters), which
    /// may store its rows where a permute would move them.
    Attention {
        params: AttnRowsParams,
        heads: usize,
        lq: usize,
        dv: usize,
    },
}

/// A scale factor known at build time, or the one element of a tensor (a 0-dim constant
/// packed into one texel, read from lane 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Value(f32),
    Tensor(ValueId),
}
