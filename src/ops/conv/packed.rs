//! Convolutions on channels-packed tensors (`Layout::Channels4`) with weights re-laid out
//! into the kernels' 4x4 blocks during prepack:
//! - pointwise (1x1, groups = 1, same stride and padding in H and W): `conv2d_pw.comp`, a
//!   GEMM tile of 4 positions x 8 output channels;
//! - depthwise (groups = input = output channels): `conv2d_dw.comp`, 4 outputs along W with
//!   a sliding window;
//! - any other groups = 1 convolution: `conv2d_tiled.comp`, 4 outputs along W x 8 output
//!   channels with a sliding window.
//!
//! Inputs in another layout are converted by the builder; outputs are channels-packed.

use super::Geometry;
use crate::error::Result;
use crate::format::DType;
use crate::format::ValueId;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::conv::{
    ConvDwParams, ConvDwSpec, ConvPwParams, ConvPwSpec, ConvTiledParams, ConvTiledSpec, CONV2D_DW,
    CONV2D_PW, CONV2D_TILED,
};
use crate::kernels::packing::Packing;
use crate::kernels::{Elem, Layout, Variants};
use crate::kernels::{Kernel, Params};

/// Input texels one row of 4 outputs spans at most: more would spill registers.
const MAX_SPAN: i64 = 32;

/// Which kernel a convolution gets.
enum Path {
    Pointwise,
    Depthwise,
    Tiled,
}

/// Records `g` with a packed kernel when one fits; `false` (nothing recorded) otherwise.
pub fn build(
    b: &mut OpBuilder,
    g: &Geometry,
    x: &TensorInfo,
    w: &TensorInfo,
    bias: Option<&TensorInfo>,
    out_id: ValueId,
    out_sizes: &[usize],
) -> Result<bool> {
    if !x.is_float() || !w.is_float() || bias.is_some_and(|t| !t.is_float()) {
        return Ok(false);
    }
    let [kh, kw] = g.kernel;
    let path = if g.groups == 1
        && kh == 1
        && kw == 1
        && g.stride[0] == g.stride[1]
        && g.padding[0] == g.padding[1]
    {
        Path::Pointwise
    } else if g.groups == g.cin && g.cout == g.cin {
        Path::Depthwise
    } else if g.groups == 1 {
        Path::Tiled
    } else {
        return Ok(false);
    };
    let span = 3 * g.stride[1] + (kw as i64 - 1) * g.dilation[1] + 1;
    if !matches!(path, Path::Pointwise) && span > MAX_SPAN {
        return Ok(false);
    }
    let weight_packing = match path {
        Path::Depthwise => Packing::Depthwise { c: g.cout, kh, kw },
        _ => Packing::ConvBlocks {
            cout: g.cout,
            cin: g.cin,
            kh,
            kw,
        },
    };
    // FLOAT16 programs keep activations, weights and bias in f16 where the device can.
    let half = b.tensor(out_id)?.dtype == DType::Float16 && b.caps().f16_storage;
    let elem = if half { Elem::F16 } else { Elem::F32 };
    let Some(packed_w) = b.packed_constant(w, Some(weight_packing), elem)? else {
        return Ok(false);
    };
    let packed_bias = match bias {
        Some(t) => match b.packed_constant(t, Some(Packing::Pad4 { n: g.cout }), elem)? {
            Some(id) => Some(id),
            None => return Ok(false),
        },
        None => None,
    };
    let out = b.set_output_as(out_id, out_sizes.to_vec(), Layout::Channels4, elem)?;
    b.require_float(&[&out])?;
    if out.numel() == 0 {
        return Ok(true);
    }
    let (ic4, oc4) = (g.cin.div_ceil(4) as u32, g.cout.div_ceil(4) as u32);
    let has_bias = packed_bias.is_some() as i32;
    // No bias: the weights stand in for the binding (never read).
    let bias_id = packed_bias.unwrap_or(packed_w);
    let tensors = [out.id, x.id, packed_w, bias_id];
    let [lo, hi] = g.clamp;
    let flops = g.flops();
    let i = |v: usize| v as i32;
    match path {
        Path::Pointwise => {
            let tile = if oc4 >= 2 { 2 } else { 1 };
            let hw_out = g.ho * g.wo;
            let p = ConvPwParams {
                hw_out: hw_out as u32,
                w_out: g.wo as u32,
                h_in: i(g.h),
                w_in: i(g.w),
                ic4,
                oc4,
                stride: g.stride[0] as i32,
                pad: g.padding[0] as i32,
                has_bias,
                clamp_min: lo,
                clamp_max: hi,
            };
            let global = [
                hw_out.div_ceil(4),
                (oc4 as usize).div_ceil(tile as usize),
                g.n,
            ];
            let kernel = pick(b, x, weight_packing, &CONV2D_PW, half);
            let call = kernel
                .call(p)
                .spec(ConvPwSpec { TILE_OC4: tile })
                .flops(flops)
                .tiles(global, [64, 1, 1]);
            b.dispatch(call, &tensors)?;
        }
        Path::Depthwise => {
            let p = ConvDwParams {
                h_in: i(g.h),
                w_in: i(g.w),
                h_out: i(g.ho),
                w_out: i(g.wo),
                c4: oc4,
                pad_h: g.padding[0] as i32,
                pad_w: g.padding[1] as i32,
                has_bias,
                clamp_min: lo,
                clamp_max: hi,
            };
            let spec = ConvDwSpec {
                KH: i(kh),
                KW: i(kw),
                SH: g.stride[0] as i32,
                SW: g.stride[1] as i32,
                DH: g.dilation[0] as i32,
                DW: g.dilation[1] as i32,
            };
            let tiles = g.wo.div_ceil(4);
            let global = [tiles, g.ho, g.n * oc4 as usize];
            let kernel = pick(b, x, weight_packing, &CONV2D_DW, half);
            let call = kernel
                .call(p)
                .spec(spec)
                .flops(flops)
                .tiles(global, local_2d(tiles, g.ho));
            b.dispatch(call, &tensors)?;
        }
        Path::Tiled => {
            let tile: u32 = if oc4 >= 2 { 2 } else { 1 };
            let groups = oc4.div_ceil(tile);
            let p = ConvTiledParams {
                h_in: i(g.h),
                w_in: i(g.w),
                h_out: i(g.ho),
                w_out: i(g.wo),
                ic4,
                oc4,
                oc_groups: groups,
                pad_h: g.padding[0] as i32,
                pad_w: g.padding[1] as i32,
                has_bias,
                clamp_min: lo,
                clamp_max: hi,
            };
            let spec = ConvTiledSpec {
                KH: i(kh),
                KW: i(kw),
                SH: g.stride[0] as i32,
                SW: g.stride[1] as i32,
                DH: g.dilation[0] as i32,
                DW: g.dilation[1] as i32,
                TILE_OC4: tile as i32,
            };
            let tiles = g.wo.div_ceil(4);
            let global = [tiles, g.ho, g.n * groups as usize];
            let kernel = pick(b, x, weight_packing, &CONV2D_TILED, half);
            let call = kernel
                .call(p)
                .spec(spec)
                .flops(flops)
                .tiles(global, local_2d(tiles, g.ho));
            b.dispatch(call, &tensors)?;
        }
    }
    Ok(true)
}

/// A workgroup of at most 64 invocations over a `tx` x `ty` grid: as wide as x needs (a
/// power of two), the rest along y.
pub fn local_2d(tx: usize, ty: usize) -> [u32; 3] {
    let lx = tx.next_power_of_two().clamp(1, 64);
    let ly = (64 / lx).min(ty.next_power_of_two()).max(1);
    [lx as u32, ly as u32, 1]
}

/// The build of `kernels` for this device and format: texel reads where the device prefers
/// them and the input and weights fit texel views, f16 storage for `half`.
fn pick<P: Params, S: Params>(
    b: &OpBuilder,
    x: &TensorInfo,
    weights: Packing,
    kernels: &'static Variants<P, S>,
    half: bool,
) -> &'static Kernel<P, S> {
    let texels = Layout::Channels4.stored_elements(&x.sizes) / 4;
    let caps = b.caps();
    let texel = caps.texel_reads(texels) && caps.texel_reads(weights.packed_len() / 4);
    kernels.pick(texel, half)
}
