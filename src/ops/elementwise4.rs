//! Float elementwise ops over whole texels (`shaders/elementwise4.comp`): one invocation per
//! vec4, in the layout the operands share. Channels-packed operands (conv outputs) stay
//! packed, so residual adds and activations between convolutions need no conversion;
//! contiguous tensors take this path when their element count is a multiple of 4. Everything
//! else (integers, general broadcasting) uses `binary.comp` / `unary.comp`.

use super::binary::{Op, Operand};
use crate::error::Result;
use crate::format::ValueId;
use crate::graph::{OpBuilder, Piece, Scale, TensorInfo};
use crate::kernels::elementwise::{Elementwise4Params, ELEMENTWISE4, ELEMENTWISE4_C4};
use crate::kernels::layout::nchw;
use crate::kernels::packing::Packing;
use crate::kernels::{Elem, Layout};

/// The op code of `elementwise4.comp` for a unary op code of `unary.comp`.
pub const UNARY_BASE: i32 = 100;
/// The op code of `elementwise4.comp` for clamp.
pub const CLAMP: i32 = 200;

/// How the second operand is read.
enum B {
    Same(TensorInfo),
    Scalar(f32),
    /// Per-channel `[N or 1, C, 1, 1]` broadcast over a channels-packed output.
    PerChannel(TensorInfo),
    /// A one-element constant (attention's scale as a 0-dim tensor), packed into one texel
    /// whose first lane every lane reads.
    ScalarTensor(ValueId),
}

/// The layout the output gets: channels-packed when an operand is (and the shape allows it),
/// else contiguous when whole texels cover it; `None` when this path does not apply. Only
/// the operands' layouts decide (never run-time sizes alone), so a resize picks the same
/// layouts as the build at the bounds.
fn texel_layout(sizes: &[usize], layouts: &[Layout]) -> Option<Layout> {
    let packable = matches!(sizes.len(), 3 | 4);
    if packable && layouts.contains(&Layout::Channels4) {
        return Some(Layout::Channels4);
    }
    let numel: usize = sizes.iter().product();
    (numel.is_multiple_of(4) && numel > 0).then_some(Layout::Contiguous)
}

/// `out = a (op) other` over texels; `false` (nothing recorded) when the path does not apply.
pub fn binary(
    b: &mut OpBuilder,
    op: Op,
    a: &TensorInfo,
    other: &Operand,
    alpha: f64,
    out_id: ValueId,
    out_sizes: &[usize],
) -> Result<bool> {
    if !matches!(
        op,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Minimum | Op::Maximum
    ) {
        return Ok(false);
    }
    let out_t = b.tensor(out_id)?;
    if !a.is_float() || !out_t.is_float() {
        return Ok(false);
    }
    let commutes = !matches!(op, Op::Sub | Op::Div);
    let other_t = match other {
        Operand::Tensor(t) if !t.is_float() => return Ok(false),
        Operand::Tensor(t) => Some(t),
        Operand::Scalar(_) => None,
    };
    // Decided at the serialized bounds, so that a resize picks the same kernel and formats;
    // the run-time sizes must then follow the same pattern.
    let bound = |b: &OpBuilder, id: ValueId| b.meta(id).map(|m| m.bound_sizes.clone());
    let (Some(a_bound), Some(out_bound)) = (bound(b, a.id), bound(b, out_id)) else {
        return Ok(false);
    };
    let other_bound = other_t.and_then(|t| bound(b, t.id));
    let Some(at_bound) = pattern(&a_bound, other_bound.as_deref(), &out_bound, commutes) else {
        return Ok(false);
    };
    let now = pattern(
        &a.sizes,
        other_t.map(|t| t.sizes.as_slice()),
        out_sizes,
        commutes,
    );
    if now != Some(at_bound) {
        return Err(b.unsupported(format!(
            "operands {:?} and {:?} broadcast differently at these sizes than at the \
             program's bounds",
            a.sizes,
            other_t.map(|t| &t.sizes)
        )));
    }
    let (a, operand) = match (at_bound, other) {
        (Pattern::Scalar, Operand::Scalar(v)) => (a.clone(), B::Scalar(*v as f32)),
        (Pattern::Same, _) => (a.clone(), B::Same(other_t.expect("tensor").clone())),
        (Pattern::PerChannel { swapped: false }, _) => {
            (a.clone(), B::PerChannel(other_t.expect("tensor").clone()))
        }
        (Pattern::PerChannel { swapped: true }, _) => {
            (other_t.expect("tensor").clone(), B::PerChannel(a.clone()))
        }
        (Pattern::ScalarTensor { swapped }, Operand::Tensor(t)) => {
            let (big, one) = if swapped { (t, a) } else { (a, t) };
            // Contiguous outputs only: the packed texel has no channels-packed form.
            if !b.is_constant(one.id)
                || texel_layout(&out_bound, &[big.layout]) != Some(Layout::Contiguous)
            {
                return Ok(false);
            }
            let elem = if b.stores_f16(out_t.dtype) {
                Elem::F16
            } else {
                Elem::F32
            };
            let Some(id) = b.packed_constant(one, Some(Packing::Pad4 { n: 1 }), elem)? else {
                return Ok(false);
            };
            (big.clone(), B::ScalarTensor(id))
        }
        _ => return Ok(false),
    };
    let mut layouts = vec![a.layout];
    if let B::Same(t) | B::PerChannel(t) = &operand {
        layouts.push(t.layout);
    }
    let layout = match (&operand, texel_layout(&out_bound, &layouts)) {
        (B::PerChannel(_), Some(Layout::Channels4)) => Layout::Channels4,
        (B::PerChannel(_), _) | (_, None) => return Ok(false),
        (_, Some(l)) => l,
    };
    let (b_mode, b_id, b_div, b_mod, scalar) = match &operand {
        B::Same(t) => (0, t.id, 1, 0, 0.0),
        B::Scalar(v) => (1, a.id, 1, 0, *v),
        B::ScalarTensor(id) => (3, *id, 1, 0, 0.0),
        B::PerChannel(t) => {
            let [n, c, h, w] = nchw(out_sizes);
            let wrap = if t.sizes[0] == 1 && n > 1 {
                c.div_ceil(4) as u32
            } else {
                0
            };
            (2, t.id, (h * w) as u32, wrap, 0.0)
        }
    };
    record(
        b,
        op as i32,
        &a,
        b_id,
        out_id,
        out_sizes,
        layout,
        Elementwise4Params {
            b_mode,
            b_div,
            b_mod,
            scalar,
            alpha: alpha as f32,
            ..Default::default()
        },
    )?;
    // Attention's scaling of its scores, which a later product may take over.
    let scale = match operand {
        B::Scalar(v) => Some(Scale::Value(v)),
        B::ScalarTensor(id) => Some(Scale::Tensor(id)),
        _ => None,
    };
    if let (Op::Mul, Layout::Contiguous, Some(scale)) = (op, layout, scale) {
        b.offer_piece(out_id, Piece::Scaled { x: a.id, scale });
    }
    Ok(true)
}

/// How the second operand of a binary op is read, for the given sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Same,
    Scalar,
    /// A one-element tensor operand; `swapped`: it is the first one (the op commutes).
    ScalarTensor {
        swapped: bool,
    },
    /// One operand per channel; `swapped`: it is the first one (the op commutes).
    PerChannel {
        swapped: bool,
    },
}

fn pattern(a: &[usize], other: Option<&[usize]>, out: &[usize], commutes: bool) -> Option<Pattern> {
    match other {
        None if a == out => Some(Pattern::Scalar),
        Some(t) if t == out && a == out => Some(Pattern::Same),
        Some(t) if a == out && per_channel(t, out) => Some(Pattern::PerChannel { swapped: false }),
        Some(t) if commutes && t == out && per_channel(a, out) => {
            Some(Pattern::PerChannel { swapped: true })
        }
        Some(t) if a == out && one_element(t, out) => {
            Some(Pattern::ScalarTensor { swapped: false })
        }
        Some(t) if commutes && t == out && one_element(a, out) => {
            Some(Pattern::ScalarTensor { swapped: true })
        }
        _ => None,
    }
}

/// Whether `sizes` is a one-element operand that broadcasts over `out` (no more dims).
fn one_element(sizes: &[usize], out: &[usize]) -> bool {
    sizes.len() <= out.len() && sizes.iter().all(|&s| s == 1) && out.iter().product::<usize>() > 1
}

/// Whether `sizes` is a per-channel operand `[N or 1, C, 1, 1]` (or `[N or 1, C, 1]`) of a
/// channels-packed `out` (rank 3 or 4).
fn per_channel(sizes: &[usize], out: &[usize]) -> bool {
    matches!(out.len(), 3 | 4)
        && sizes.len() == out.len()
        && (sizes[0] == out[0] || sizes[0] == 1)
        && sizes[1] == out[1]
        && sizes[2..].iter().all(|&s| s == 1)
}

/// `out = f(x)` for a float unary op of `unary.comp` (`code`) or clamp; `false` when the
/// path does not apply.
pub fn unary(
    b: &mut OpBuilder,
    code: i32,
    x: &TensorInfo,
    out_id: ValueId,
    param: f32,
    bounds: [f32; 2],
) -> Result<bool> {
    if !x.is_float() || !b.tensor(out_id)?.is_float() {
        return Ok(false);
    }
    // Decided at the serialized bounds (see `binary`).
    let Some(out_bound) = b.meta(out_id).map(|m| m.bound_sizes.clone()) else {
        return Ok(false);
    };
    let Some(layout) = texel_layout(&out_bound, &[x.layout]) else {
        return Ok(false);
    };
    record(
        b,
        code,
        x,
        x.id,
        out_id,
        &x.sizes.clone(),
        layout,
        Elementwise4Params {
            param,
            lo: bounds[0],
            hi: bounds[1],
            ..Default::default()
        },
    )?;
    Ok(true)
}

/// Declares the output in `layout` and records the texel dispatch.
#[allow(clippy::too_many_arguments)]
fn record(
    b: &mut OpBuilder,
    op: i32,
    a: &TensorInfo,
    b_id: ValueId,
    out_id: ValueId,
    sizes: &[usize],
    layout: Layout,
    mut p: Elementwise4Params,
) -> Result<()> {
    // FLOAT16 outputs stay f16 where the device keeps f16 activations.
    let half = b.stores_f16(b.tensor(out_id)?.dtype);
    let elem = if half { Elem::F16 } else { Elem::F32 };
    let out = b.set_output_as(out_id, sizes.to_vec(), layout, elem)?;
    // Whole texels: a contiguous run-time size below the bound (a multiple of 4) may end
    // inside one, whose extra lanes stay inside the bound-sized allocation.
    let texels = layout.stored_elements(sizes).div_ceil(4);
    if texels == 0 {
        return Ok(());
    }
    let [_, c, h, w] = nchw(sizes);
    p.count = texels as u32;
    p.c = c as u32;
    p.hw = (h * w) as u32;
    p.c4 = c.div_ceil(4) as u32;
    p.mask_lanes = (layout == Layout::Channels4 && c % 4 != 0) as i32;
    // Texel fetches where the device prefers them; a and b (same or fewer texels) fit when
    // the output does.
    let variants = match layout {
        Layout::Channels4 => &ELEMENTWISE4_C4,
        Layout::Contiguous => &ELEMENTWISE4,
    };
    let kernel = variants.pick(b.caps().texel_reads(texels), half);
    b.dispatch(
        kernel.call(p).variant(op).linear(texels),
        &[out.id, a.id, b_id],
    )
}
