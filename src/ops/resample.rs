//! Resampling: `upsample_nearest2d.vec`, `upsample_bilinear2d.vec` (output size or scale
//! factors, align_corners both ways), `grid_sampler_2d` (bilinear / nearest / bicubic with
//! zeros / border / reflection padding), `pixel_shuffle` and `et_vk.grid_priors`. Index math
//! follows PyTorch's CPU kernels, with the per-dim f32 ratios computed here exactly as PyTorch
//! computes them. Shaders: `shaders/resample_*.comp`; pixel_shuffle is a 6-D permutation run by
//! `shaders/permute.comp`.

use crate::error::Result;
use crate::format::{Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::resample::{
    BilinearParams, GridPriorsParams, GridSampleParams, NearestParams, RESAMPLE_BILINEAR,
    RESAMPLE_GRID_PRIORS, RESAMPLE_GRID_SAMPLE, RESAMPLE_NEAREST, RESAMPLE_NEAREST_C4,
    RESAMPLE_NEAREST_C4_F16,
};
use crate::kernels::shape::{padded, PermuteParams, PERMUTE};
use crate::kernels::{Elem, Layout};

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.upsample_nearest2d.vec", upsample_nearest2d),
    OpDef::new("aten.upsample_bilinear2d.vec", upsample_bilinear2d),
    OpDef::new("aten.grid_sampler_2d.default", grid_sampler_2d),
    OpDef::new("aten.pixel_shuffle.default", pixel_shuffle),
    OpDef::new("et_vk.grid_priors.default", grid_priors),
];

/// An optional `float[]` argument: a DoubleList (or a list of Ints), or Null.
fn opt_double_list(b: &OpBuilder, id: ValueId) -> Result<Option<Vec<f64>>> {
    match b.value(id)? {
        Value::Null => Ok(None),
        Value::DoubleList(v) => Ok(Some(v.clone())),
        Value::IntList(v) => Ok(Some(v.iter().map(|&x| x as f64).collect())),
        Value::ValueList(items) => items
            .iter()
            .map(|&i| b.double(i))
            .collect::<Result<Vec<_>>>()
            .map(Some),
        other => Err(b.err(format!(
            "argument value {id} should be a float list or None, is {}",
            other.kind_name()
        ))),
    }
}

/// The checked 4-D input of an upsample, its output [N, C, OH, OW] and the scale factors given
/// (per spatial dim, `None` when the output size was given instead).
struct Upsample {
    x: TensorInfo,
    out: TensorInfo,
    scales: [Option<f64>; 2],
}

fn upsample_common(
    b: &mut OpBuilder,
    input: ValueId,
    output_size: ValueId,
    scale_factors: ValueId,
    out: ValueId,
) -> Result<Upsample> {
    let x = b.tensor(input)?;
    if x.rank() != 4 || x.numel() == 0 {
        return Err(b.err(format!(
            "expects a non-empty 4-D input, got sizes {:?}",
            x.sizes
        )));
    }
    let size = b.opt_int_list(output_size)?;
    let scales = opt_double_list(b, scale_factors)?;
    let (oh, ow, scales) = match (size, scales) {
        (Some(s), None) => {
            if s.len() != 2 {
                return Err(b.err(format!("output_size {s:?} should have 2 entries")));
            }
            (s[0], s[1], [None, None])
        }
        (None, Some(f)) => {
            if f.len() != 2 {
                return Err(b.err(format!("scale_factors {f:?} should have 2 entries")));
            }
            // PyTorch: floor(input_size * scale) in double.
            let o = |i: usize, s: f64| (x.sizes[i + 2] as f64 * s).floor() as i64;
            (o(0, f[0]), o(1, f[1]), [Some(f[0]), Some(f[1])])
        }
        _ => {
            return Err(
                b.err("exactly one of output_size and scale_factors must be given".to_string())
            )
        }
    };
    if oh <= 0 || ow <= 0 {
        return Err(b.err(format!(
            "output size ({oh}, {ow}) for input {:?} must be positive",
            x.sizes
        )));
    }
    let out = b.set_output(out, vec![x.sizes[0], x.sizes[1], oh as usize, ow as usize])?;
    Ok(Upsample { x, out, scales })
}

/// PyTorch's `compute_scales_value<float>`: float(1 / scale) for a given positive scale,
/// else float(in) / out.
fn scale_value(scale: Option<f64>, input: usize, output: usize) -> f32 {
    match scale {
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        _ => input as f32 / output as f32,
    }
}

/// `upsample_nearest2d.vec(input, output_size?, scale_factors?)`.
pub fn upsample_nearest2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let u = upsample_common(b, args[0], args[1], args[2], args[3])?;
    let (x, out) = (&u.x, &u.out);
    if x.is_float() != out.is_float() {
        return Err(b.err(format!(
            "{:?} input cannot give a {:?} output",
            x.dtype, out.dtype
        )));
    }
    let (ih, iw, oh, ow) = (x.sizes[2], x.sizes[3], out.sizes[2], out.sizes[3]);
    let mut params = NearestParams {
        count: out.numel() as u32,
        ih: ih as i32,
        iw: iw as i32,
        oh: oh as i32,
        ow: ow as i32,
        scale_h: scale_value(u.scales[0], ih, oh),
        scale_w: scale_value(u.scales[1], iw, ow),
        words: 1,
    };
    // A channels-packed input (a conv's output) stays packed: its planes are the channel
    // blocks, its elements whole texels.
    if x.layout == Layout::Channels4 {
        let elem = b.elem_of(x.id);
        let out = b.set_output_as(out.id, out.sizes.clone(), Layout::Channels4, elem)?;
        // Exactly 2x: the convolution that wrote x may store its outputs upsampled instead.
        // Scale factors of 2 are 2x at every size; an output size only where sizes are fixed.
        let twice = oh == 2 * ih && ow == 2 * iw;
        let halves = params.scale_h == 0.5 && params.scale_w == 0.5;
        let always = u.scales == [Some(2.0), Some(2.0)] || b.fixed_sizes();
        if twice && halves && always && b.take_upsampler(x.id, out.id) {
            return Ok(());
        }
        let texels = Layout::Channels4.stored_elements(&out.sizes) / 4;
        let (kernel, words) = match elem {
            Elem::F16 => (&RESAMPLE_NEAREST_C4_F16, 2),
            _ => (&RESAMPLE_NEAREST_C4, 4),
        };
        params.count = texels as u32;
        params.words = words;
        return b.dispatch(kernel.call(params).linear(texels), &[out.id, x.id]);
    }
    b.dispatch(
        RESAMPLE_NEAREST.call(params).linear(out.numel()),
        &[out.id, x.id],
    )
}

/// `upsample_bilinear2d.vec(input, output_size?, align_corners, scale_factors?)`.
pub fn upsample_bilinear2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 5)?;
    let align_corners = b.bool(args[2])?;
    let u = upsample_common(b, args[0], args[1], args[3], args[4])?;
    let (x, out) = (&u.x, &u.out);
    b.require_float(&[x, out])?;
    // PyTorch's area_pixel_compute_scale<float>.
    let ratio = |scale: Option<f64>, i: usize, o: usize| {
        if align_corners {
            if o > 1 {
                (i - 1) as f32 / (o - 1) as f32
            } else {
                0.0
            }
        } else {
            scale_value(scale, i, o)
        }
    };
    let (ih, iw, oh, ow) = (x.sizes[2], x.sizes[3], out.sizes[2], out.sizes[3]);
    let params = BilinearParams {
        count: out.numel() as u32,
        ih: ih as i32,
        iw: iw as i32,
        oh: oh as i32,
        ow: ow as i32,
        align_corners: align_corners as i32,
        scale_h: ratio(u.scales[0], ih, oh),
        scale_w: ratio(u.scales[1], iw, ow),
    };
    b.dispatch(
        RESAMPLE_BILINEAR.call(params).linear(out.numel()),
        &[out.id, x.id],
    )
}

/// `grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners)`.
pub fn grid_sampler_2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let x = b.tensor(args[0])?;
    let grid = b.tensor(args[1])?;
    let mode = b.int(args[2])?;
    let padding = b.int(args[3])?;
    let align_corners = b.bool(args[4])?;
    if x.rank() != 4 || grid.rank() != 4 || grid.sizes[3] != 2 {
        return Err(b.err(format!(
            "expects a 4-D input and a [N, H, W, 2] grid, got {:?} and {:?}",
            x.sizes, grid.sizes
        )));
    }
    if x.sizes[0] != grid.sizes[0] {
        return Err(b.err(format!(
            "input {:?} and grid {:?} differ in batch size",
            x.sizes, grid.sizes
        )));
    }
    if x.sizes[2] == 0 || x.sizes[3] == 0 {
        return Err(b.err(format!("input {:?} has empty spatial dimensions", x.sizes)));
    }
    if !(0..=2).contains(&mode) {
        return Err(b.err(format!(
            "interpolation_mode {mode} is not 0 (bilinear), 1 (nearest) or 2 (bicubic)"
        )));
    }
    if !(0..=2).contains(&padding) {
        return Err(b.err(format!(
            "padding_mode {padding} is not 0 (zeros), 1 (border) or 2 (reflection)"
        )));
    }
    let (n, c) = (x.sizes[0], x.sizes[1]);
    let (oh, ow) = (grid.sizes[1], grid.sizes[2]);
    let out = b.set_output(args[5], vec![n, c, oh, ow])?;
    b.require_float(&[&x, &grid, &out])?;
    let params = GridSampleParams {
        count: (n * oh * ow) as u32,
        channels: c as i32,
        h: x.sizes[2] as i32,
        w: x.sizes[3] as i32,
        oh: oh as i32,
        ow: ow as i32,
        interpolation: mode as i32,
        padding: padding as i32,
        align_corners: align_corners as i32,
    };
    b.dispatch(
        RESAMPLE_GRID_SAMPLE.call(params).linear(n * oh * ow),
        &[out.id, x.id, grid.id],
    )
}

/// `pixel_shuffle(self, upscale_factor)`: [*, C r², H, W] -> [*, C, H r, W r], as the
/// permutation [B, C, r, r, H, W] -> [B, C, H, r, W, r].
pub fn pixel_shuffle(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let x = b.tensor(args[0])?;
    let r = b.int(args[1])?;
    if x.rank() < 3 {
        return Err(b.err(format!(
            "expects an input of rank >= 3, got sizes {:?}",
            x.sizes
        )));
    }
    if r <= 0 {
        return Err(b.err(format!("upscale_factor {r} must be positive")));
    }
    let rank = x.rank();
    let (ch, h, w) = (x.sizes[rank - 3], x.sizes[rank - 2], x.sizes[rank - 1]);
    // Checked: a huge factor must not wrap to a divisor of 0 or to small sizes.
    let sizes_of = |r: usize| Some((r.checked_mul(r)?, h.checked_mul(r)?, w.checked_mul(r)?));
    let Some((r, (rr, hr, wr))) = usize::try_from(r)
        .ok()
        .and_then(|r| Some((r, sizes_of(r)?)))
    else {
        return Err(b.err(format!(
            "upscale_factor {r} is too large for sizes {:?}",
            x.sizes
        )));
    };
    if ch % rr != 0 {
        return Err(b.err(format!(
            "{ch} channels are not divisible by upscale_factor² = {rr}"
        )));
    }
    let c = ch / rr;
    let mut out_sizes = x.sizes[..rank - 3].to_vec();
    out_sizes.extend([c, hr, wr]);
    let out = b.set_output(args[2], out_sizes)?;
    if x.is_float() != out.is_float() {
        return Err(b.err(format!(
            "{:?} input cannot give a {:?} output",
            x.dtype, out.dtype
        )));
    }
    let batch: usize = x.sizes[..rank - 3].iter().product();
    // Output viewed as [B, C, H, r, W, r]; strides of the input element each dim steps.
    let sizes = [batch, c, h, r, w, r];
    let strides = [ch * h * w, r * r * h * w, w, r * h * w, 1, h * w];
    let p = PermuteParams {
        count: out.numel() as u32,
        rank: 6,
        sizes: padded(sizes.iter().map(|&s| s as i64)),
        strides: padded(strides.iter().map(|&s| s as i64)),
    };
    b.dispatch(PERMUTE.call(p).linear(out.numel()), &[out.id, x.id])
}

/// `et_vk.grid_priors(self, stride, offset)`: out [H W, 2] with row i W + j equal to
/// ((j + offset) stride, (i + offset) stride) for the input's last two dims H, W.
pub fn grid_priors(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let stride = b.int(args[1])?;
    let offset = b.double(args[2])?;
    if x.rank() < 2 {
        return Err(b.err(format!(
            "expects an input of rank >= 2, got sizes {:?}",
            x.sizes
        )));
    }
    let (h, w) = (x.sizes[x.rank() - 2], x.sizes[x.rank() - 1]);
    let out = b.set_output(args[3], vec![h * w, 2])?;
    if !out.is_float() {
        return Err(b.unsupported(format!(
            "{:?} output: only float outputs are supported",
            out.dtype
        )));
    }
    let params = GridPriorsParams {
        count: out.numel() as u32,
        width: w as i32,
        stride: stride as f32,
        offset: offset as f32,
    };
    b.dispatch(
        RESAMPLE_GRID_PRIORS.call(params).linear(out.numel()),
        &[out.id],
    )
}
