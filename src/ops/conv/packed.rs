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
use crate::gpu::DeviceKind;
use crate::graph::{OpBuilder, Piece, TensorInfo};
use crate::kernels::conv::{
    ConvDwParams, ConvDwSpec, ConvPwParams, ConvPwSpec, ConvTiledParams, ConvTiledSpec, CONV2D_DW,
    CONV2D_DW_W16, CONV2D_PW, CONV2D_PW_NCHW, CONV2D_PW_W16, CONV2D_TILED, CONV2D_TILED_NCHW,
    CONV2D_TILED_TEXEL_NCHW, CONV2D_TILED_W16,
};
use crate::kernels::packing::Packing;
use crate::kernels::{Elem, Kernel, Layout, Params, Variants};
use crate::ops::split;

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
    // FLOAT16 programs keep weights and bias in f16 where the device can, and activations
    // too on GPUs; CPU devices read f16 weights through texel views with f32 activations
    // (the _w16 builds; Caps::f16_activations).
    let dtype = b.tensor(out_id)?.dtype;
    // A 2x2 max pool whose only reader this is: the tiled kernel takes it while loading.
    let pooled = match path {
        Path::Tiled => b.pooled_source(x.id).map(|s| b.tensor(s)).transpose()?,
        _ => None,
    };
    let texel = texel_reads(b, pooled.as_ref().unwrap_or(x), weight_packing);
    let half = b.stores_f16(dtype);
    let w16 = dtype == DType::Float16 && b.caps().f16_weights_only(texel);
    let elem = if half { Elem::F16 } else { Elem::F32 };
    let weight_elem = if half || w16 { Elem::F16 } else { Elem::F32 };
    let Some(packed_w) = b.packed_constant(w, Some(weight_packing), weight_elem)? else {
        return Ok(false);
    };
    let packed_bias = match bias {
        Some(t) => match b.packed_constant(t, Some(Packing::Pad4 { n: g.cout }), weight_elem)? {
            Some(id) => Some(id),
            None => return Ok(false),
        },
        None => None,
    };
    // A graph output nothing else reads, from a pointwise conv on a device reading storage
    // buffers: written contiguous (conv2d_pw_nchw), with no from_channels4 after it.
    let nchw_out = matches!(path, Path::Pointwise)
        && b.is_graph_output(out_id)
        && b.references(out_id) == 2
        && !(texel || w16);
    let out = if nchw_out {
        b.set_output_as(out_id, out_sizes.to_vec(), Layout::Contiguous, Elem::F32)?
    } else {
        b.set_output_as(out_id, out_sizes.to_vec(), Layout::Channels4, elem)?
    };
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
    let ic_blocks = ic4 as usize;
    match path {
        Path::Pointwise => {
            let hw_out = g.ho * g.wo;
            // 8 positions per invocation on CPU devices: each weight texel fetched serves
            // twice the multiply-adds (lavapipe, mobilenet_v2's 34 pointwise convs: 17.5 ->
            // 14.9 ms; the windowed kernels below got slower with 8).
            let t = tiling(b, hw_out * g.n, oc4 as usize, ic_blocks, 8, false);
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
                c_out: g.cout as u32,
            };
            let tiles = hw_out.div_ceil(t.positions);
            let groups = (oc4 as usize).div_ceil(t.oc4);
            let (global, local) = if t.split > 1 {
                ([tiles, groups * t.split, g.n], split_local(tiles, t.split))
            } else {
                ([tiles, groups, g.n], [64, 1, 1])
            };
            let spec = ConvPwSpec {
                TILE_OC4: t.oc4 as i32,
                TILE_P: t.positions as i32,
                SPLIT: t.split as i32,
            };
            let kernel = if nchw_out {
                CONV2D_PW_NCHW.pick(half)
            } else {
                pick(&CONV2D_PW, &CONV2D_PW_W16, texel, half, w16)
            };
            let call = kernel.call(p).spec(spec).flops(flops).tiles(global, local);
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
            // Each channel block is its own reduction: only the row tile shrinks on GPUs.
            let t = tiling(b, g.ho * g.wo * g.n, oc4 as usize, 1, 4, false);
            let spec = ConvDwSpec {
                KH: i(kh),
                KW: i(kw),
                SH: g.stride[0] as i32,
                SW: g.stride[1] as i32,
                DH: g.dilation[0] as i32,
                DW: g.dilation[1] as i32,
                TILE_W: t.positions as i32,
            };
            let tiles = g.wo.div_ceil(t.positions);
            let global = [tiles, g.ho, g.n * oc4 as usize];
            let kernel = pick(&CONV2D_DW, &CONV2D_DW_W16, texel, half, w16);
            let call = kernel
                .call(p)
                .spec(spec)
                .flops(flops)
                .tiles(global, local_2d(tiles, g.ho));
            b.dispatch(call, &tensors)?;
        }
        Path::Tiled => {
            let (src, pool) = match pooled {
                Some(src) if b.take_pool(x.id).is_some() => (src, 2),
                _ => (x.clone(), 1),
            };
            // Windows that do not overlap (patch embeddings: stride = kernel) read each input
            // element once.
            let read_once = g.stride[0] >= kh as i64
                && g.stride[1] >= kw as i64
                && g.dilation[0] == 1
                && g.dilation[1] == 1;
            // Patches that start on whole texels of 4 pixels along W: a texel holds 4 taps
            // of one channel.
            let patches = read_once
                && kw.is_multiple_of(4)
                && g.stride[1] % 4 == 0
                && g.padding[1] == 0
                && g.w.is_multiple_of(4);
            // A contiguous f32 input (a graph input) is read as it is, with no conversion
            // dispatch first, on devices that read storage buffers, and on those that prefer
            // texel reads when the windows are such patches: converting it would read it
            // twice and write it once, and pad its 3 channels to 4.
            let nchw = pool == 1
                && x.layout == Layout::Contiguous
                && b.elem_of(x.id) == Elem::F32
                && !w16
                && (!texel || (patches && !half));
            // One input block (a first convolution): split lanes may fold kernel rows.
            let fold_rows = ic_blocks == 1 && kh > 1;
            let units = if fold_rows { kh } else { ic_blocks };
            // CPU devices: one position per invocation and 4 output blocks, whose weight
            // texels every lane of a SIMD row gathers at the same address, instead of a span
            // array over 4 positions (lavapipe: patch embeddings 8x8/8 1.0-2.4 ms with 4
            // positions x 2 blocks, 0.26-0.51 ms with 1 x 4; resnet18's 3x3 convs, 3
            // interleaved runs: 1.05 -> 0.61 s per execute; the U-Net and mobilenet_v2's first
            // convolution unchanged within the noise). f16 weights, converted at every fetch,
            // keep the span tile where windows overlap, which fetches each weight texel once
            // per 4 positions (the U-Net fp16 with 1 x 4: 23 % more CPU time than fp32, none
            // with 4 x 2); windows that do not overlap have no span to share.
            let span_shared = g.stride[1] < kw as i64 || g.dilation[1] != 1;
            let span_tile = split::gpu_layout(b) || (w16 && span_shared);
            let mut t = if !span_tile && forced_tiling(oc4 as usize).is_none() {
                Tiling {
                    positions: 1,
                    oc4: (oc4 as usize).min(4),
                    split: 1,
                }
            } else {
                tiling(b, g.ho * g.wo * g.n, oc4 as usize, units, 4, true)
            };
            // Texels of patches (conv2d_tiled_texel_nchw, which does not split). lavapipe,
            // the ViT's 8x8/8 patches at 1 position x 4 blocks: 0.54-1.14 ms reading the
            // input from a storage buffer, 0.43-0.70 ms through texels; tiles of 2 or 4
            // positions sharing the weight texels were slower (0.50-1.8 ms).
            let texel_patches = nchw && texel;
            if texel_patches {
                t.split = 1;
            }
            let groups = (oc4 as usize).div_ceil(t.oc4) as u32;
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
                h_src: if pool == 1 {
                    i(g.h)
                } else {
                    i(src.sizes[src.rank() - 2])
                },
                w_src: if pool == 1 {
                    i(g.w)
                } else {
                    i(src.sizes[src.rank() - 1])
                },
                c_in: g.cin as u32,
            };
            let spec = ConvTiledSpec {
                KH: i(kh),
                KW: i(kw),
                SH: g.stride[0] as i32,
                SW: g.stride[1] as i32,
                DH: g.dilation[0] as i32,
                DW: g.dilation[1] as i32,
                TILE_OC4: t.oc4 as i32,
                TILE_W: t.positions as i32,
                SPLIT: t.split as i32,
                POOL: pool,
                UP: 1,
                FOLD_ROWS: (fold_rows && t.split > 1) as i32,
                OUT_NHWC: 0,
            };
            let tiles = g.wo.div_ceil(t.positions);
            let (global, local) = if t.split > 1 {
                (
                    [tiles, g.ho * t.split, g.n * groups as usize],
                    split_local(tiles, t.split),
                )
            } else {
                ([tiles, g.ho, g.n * groups as usize], local_2d(tiles, g.ho))
            };
            let kernel = if texel_patches {
                &CONV2D_TILED_TEXEL_NCHW
            } else if nchw {
                CONV2D_TILED_NCHW.pick(half)
            } else {
                pick(&CONV2D_TILED, &CONV2D_TILED_W16, texel, half, w16)
            };
            let call = kernel.call(p).spec(spec).flops(flops).tiles(global, local);
            b.dispatch(call, &[out.id, src.id, packed_w, bias_id])?;
            // A nearest 2x upsampling that is this output's only reader may be stored here.
            b.offer_upsampler(out.id);
            // So may a flatten + transpose to tokens (a patch embedding).
            b.offer_piece(out.id, Piece::Conv);
        }
    }
    Ok(true)
}

/// How much of the output one invocation computes, and how many invocations share one
/// tile's reduction.
struct Tiling {
    /// Consecutive output positions (along W for the windowed kernels).
    positions: usize,
    /// Blocks of 4 output channels.
    oc4: usize,
    /// Invocations splitting the input-channel blocks of one tile (1: none).
    split: usize,
}

/// What the GPU tiling aims for: enough invocations to hide memory latency, and the fewest
/// input-channel blocks one lane of a split reduction folds (fewer: more barrier rounds).
struct GpuTarget {
    invocations: usize,
    min_blocks: usize,
}

/// Environment overrides of the [`GpuTarget`] fields (counts), for tuning on a device.
pub const GPU_INVOCATIONS_ENV: &str = "ETVK_GPU_INVOCATIONS";
pub const SPLIT_MIN_BLOCKS_ENV: &str = "ETVK_SPLIT_MIN_BLOCKS";
/// Forces one tiling, `positions,oc4,split` (e.g. `4,1,4`), on every packed convolution,
/// for sweeping tilings on a device (the depthwise kernel takes only the positions).
pub const CONV_TILING_ENV: &str = "ETVK_CONV_TILING";

/// The tiling `ETVK_CONV_TILING` forces, if set and well-formed (else ignored).
fn forced_tiling(oc4: usize) -> Option<Tiling> {
    let v = std::env::var(CONV_TILING_ENV).ok()?;
    let n: Vec<usize> = v
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    match n[..] {
        // At most 16 vec4 accumulators: the split kernels' shared memory stays at 16 KB.
        [positions @ 1..=8, o @ 1..=4, split @ 1..=64]
            if split.is_power_of_two() && positions * o <= 16 =>
        {
            Some(Tiling {
                positions,
                oc4: o.min(oc4),
                split,
            })
        }
        _ => None,
    }
}

/// Phone GPUs keep 16 K invocations in flight; a discrete GPU (the H200: 132 SMs of up to
/// 2,048 threads) wants more, and there a lane folding a single block beats fewer lanes
/// (measured on the H200, 50 executes: small U-Net 0.27-0.29 ms with 16 K or 64 K
/// invocations and 4 blocks per lane, 0.19-0.20 ms with 64 K and 1; mobilenet_v2 0.74 ms
/// with 16 K, 0.55-0.60 with 64 K either way; 128 K no better).
fn gpu_target(kind: DeviceKind) -> GpuTarget {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&v| v > 0)
    };
    let (invocations, min_blocks) = match kind {
        DeviceKind::Discrete => (64 * 1024, 1),
        _ => (16 * 1024, 4),
    };
    GpuTarget {
        invocations: env(GPU_INVOCATIONS_ENV).unwrap_or(invocations),
        min_blocks: env(SPLIT_MIN_BLOCKS_ENV).unwrap_or(min_blocks),
    }
}

/// The tiling for `outputs` output positions (batch included) x `oc4` channel blocks with
/// `ic_blocks` input-channel blocks per output. CPU devices (lavapipe) take the biggest
/// register tiles (`cpu_positions` wide): their lanes are few and barriers costly. GPUs take them too when that
/// leaves enough invocations; else 1 x 1 tiles, and when even those are few and the
/// reduction long, a split of it across a workgroup. `ETVK_SPLIT_REDUCTION=always|never`
/// forces the small tiles and split, or the big tiles (tests run the GPU path on lavapipe).
fn tiling(
    b: &OpBuilder,
    outputs: usize,
    oc4: usize,
    ic_blocks: usize,
    cpu_positions: usize,
    windowed: bool,
) -> Tiling {
    if let Some(t) = forced_tiling(oc4) {
        return t;
    }
    let big = Tiling {
        positions: 4,
        oc4: oc4.min(2),
        split: 1,
    };
    if !split::gpu_layout(b) {
        return Tiling {
            positions: cpu_positions,
            ..big
        };
    }
    let always = split::forced() == Some(true);
    let target = gpu_target(b.caps().kind);
    if !always && outputs.div_ceil(4) * oc4.div_ceil(2) >= target.invocations {
        return big;
    }
    // Windowed kernels on discrete GPUs: two positions per small tile share the weight
    // loads and overlapping input texels (measured on the H200, the small U-Net's 3x3 convs:
    // 89.8 -> 79.5 µs in all, 0.148 -> 0.138 ms per execute; pointwise convs not measured).
    let positions = if windowed && b.caps().kind == DeviceKind::Discrete {
        2
    } else {
        1
    };
    let small = outputs.div_ceil(positions) * oc4;
    let split = if always {
        (ic_blocks / 2).clamp(1, 4).next_power_of_two()
    } else if small >= target.invocations || ic_blocks < 2 * target.min_blocks {
        1
    } else {
        // Enough lanes to reach the target, each folding at least min_blocks input blocks.
        let want = target.invocations.div_ceil(small).next_power_of_two();
        let most = (ic_blocks / target.min_blocks).max(1);
        want.min(64).min(1 << most.ilog2())
    };
    Tiling {
        positions,
        oc4: 1,
        split: split.max(1),
    }
}

/// A workgroup of at most 64 invocations over a `tx` x `ty` grid: as wide as x needs (a
/// power of two), the rest along y.
pub fn local_2d(tx: usize, ty: usize) -> [u32; 3] {
    let lx = tx.next_power_of_two().clamp(1, 64);
    let ly = (64 / lx).min(ty.next_power_of_two()).max(1);
    [lx as u32, ly as u32, 1]
}

/// The workgroup of a split kernel: `split` lanes along y sharing each tile's reduction, as
/// many tiles along x as fit in 64 invocations (a workgroup of `split` alone would leave most
/// of a GPU's SIMD width idle).
fn split_local(tiles: usize, split: usize) -> [u32; 3] {
    let lx = tiles.next_power_of_two().clamp(1, (64 / split).max(1));
    [lx as u32, split as u32, 1]
}

/// The build for texel reads or not, f16 storage or not, or f16 weights with f32
/// activations.
fn pick<P: Params, S: Params>(
    kernels: &'static Variants<P, S>,
    w16_kernel: &'static Kernel<P, S>,
    texel: bool,
    half: bool,
    w16: bool,
) -> &'static Kernel<P, S> {
    if w16 {
        w16_kernel
    } else {
        kernels.pick(texel, half)
    }
}

/// Whether the kernel reads the input and weights through texel views: where the device
/// prefers them and both fit one. Sizes only shrink below the program's bounds, so a resize
/// keeps the choice made at the bounds.
fn texel_reads(b: &OpBuilder, x: &TensorInfo, weights: Packing) -> bool {
    let texels = Layout::Channels4.stored_elements(&x.sizes) / 4;
    let caps = b.caps();
    caps.texel_reads(texels) && caps.texel_reads(weights.packed_len() / 4)
}

/// `permute(x, [0, 2, 1]) -> out` where `x` `[N, C, H*W]` is the flattened output of a tiled
/// convolution (a patch embedding's tokens, transposed), read by nothing else: the
/// convolution stores `out` (`[N, H*W, C]`, `OUT_NHWC`) itself, and neither the unpacking
/// copy of its output nor the permute is recorded. `false` (nothing recorded) otherwise.
pub fn store_tokens(
    b: &mut OpBuilder,
    x: &TensorInfo,
    perm: &[usize],
    out_id: ValueId,
) -> Result<bool> {
    if perm != [0, 2, 1] {
        return Ok(false);
    }
    let Some(conv_out) = b.unpacked_source(x.id) else {
        return Ok(false);
    };
    let c = b.tensor(conv_out)?;
    let fits = c.rank() == 4
        && c.sizes[1].is_multiple_of(4)
        && x.sizes == [c.sizes[0], c.sizes[1], c.sizes[2] * c.sizes[3]]
        && b.tensor(out_id)?.dtype == x.dtype;
    if !fits || b.piece(conv_out) != Some(Piece::Conv) {
        return Ok(false);
    }
    let sizes = vec![x.sizes[0], x.sizes[2], x.sizes[1]];
    let out = b.set_output_as(out_id, sizes, Layout::Contiguous, b.elem_of(x.id))?;
    let stored = b.retarget_piece(conv_out, out.id, |d| {
        match (d.spec_word("OUT_NHWC"), d.spec_word("UP")) {
            (Some(at), Some(up)) if d.spec[up] == 1 => {
                d.spec[at] = 1;
                true
            }
            _ => false,
        }
    });
    Ok(stored && b.take_unpacked(x.id))
}
