//! Convolution: `aten.convolution.default` (1-D and 2-D, regular and transposed, grouped incl.
//! depthwise, strided, padded, dilated, optional bias) and `et_vk.conv_with_clamp.default`
//! (the same followed by clamp(output_min, output_max)). 1-D convolutions run as 2-D ones with
//! H = 1.
//!
//! Regular and depthwise convolutions with constant weights run on channels-packed tensors
//! with tiled kernels ([`packed`]); the rest (transposed, other groupings, weights computed at
//! run time) on contiguous ones (`shaders/conv2d.comp`, `shaders/conv_transpose2d.comp`).

mod packed;
pub use packed::store_tokens;

pub use packed::{local_2d, CONV_TILING_ENV};

use crate::error::Result;
use crate::format::ValueId;
use crate::graph::OpBuilder;
use crate::graph::OpDef;
use crate::kernels::conv::{Conv2dParams, CONV2D, CONV_TRANSPOSE2D};

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.convolution.default", convolution),
    OpDef::new("et_vk.conv_with_clamp.default", conv_with_clamp),
];

/// `convolution(input, weight, bias?, stride, padding, dilation, transposed, output_padding,
/// groups) -> Tensor`.
pub fn convolution(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 10)?;
    build(b, &args[..9], None, None, args[9])
}

/// `conv_with_clamp(<convolution's arguments>, output_min?, output_max?) -> Tensor`.
pub fn conv_with_clamp(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 12)?;
    let min = b.opt_double(args[9])?;
    let max = b.opt_double(args[10])?;
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(b.err(format!("output_min {lo} is above output_max {hi}")));
        }
    }
    build(b, &args[..9], min, max, args[11])
}

/// A per-spatial-dim parameter list as (H, W), expanding a single entry to both dims of a 2-D
/// convolution; for 1-D (`spatial == 1`) the H entry is `h_default`.
fn spatial_pair(
    b: &OpBuilder,
    id: ValueId,
    what: &str,
    spatial: usize,
    h_default: i64,
) -> Result<[i64; 2]> {
    let v = b.int_list(id)?;
    match (spatial, v.as_slice()) {
        (1, [x]) => Ok([h_default, *x]),
        (2, [x]) => Ok([*x, *x]),
        (2, [h, w]) => Ok([*h, *w]),
        _ => Err(b.err(format!(
            "{what} {v:?} should have 1{} entries for a {spatial}-D convolution",
            if spatial == 2 { " or 2" } else { "" }
        ))),
    }
}

/// A convolution's shapes and arguments, as 2-D (H = 1 for 1-D).
pub struct Geometry {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub ho: usize,
    pub wo: usize,
    pub kernel: [usize; 2],
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub dilation: [i64; 2],
    pub groups: usize,
    /// Output clamp bounds (infinite when absent).
    pub clamp: [f32; 2],
}

impl Geometry {
    /// Floating-point operations: two per multiply-add.
    pub fn flops(&self) -> u64 {
        let macs = self.n
            * self.cout
            * self.ho
            * self.wo
            * (self.cin / self.groups.max(1))
            * self.kernel[0]
            * self.kernel[1];
        2 * macs as u64
    }
}

/// An f64 bound as f32, saturating instead of overflowing to infinity.
fn f32_bound(v: f64) -> f32 {
    v.clamp(-f32::MAX as f64, f32::MAX as f64) as f32
}

fn build(
    b: &mut OpBuilder,
    args: &[ValueId],
    min: Option<f64>,
    max: Option<f64>,
    out_id: ValueId,
) -> Result<()> {
    let x = b.tensor(args[0])?;
    let w = b.tensor(args[1])?;
    let bias = b.opt_tensor(args[2])?;
    let transposed = b.bool(args[6])?;
    let groups = b.int(args[8])?;

    let spatial = match x.rank() {
        4 => 2,
        3 => 1,
        r => {
            return Err(b.unsupported(format!(
                "input {:?} has rank {r}; only 1-D (rank 3) and 2-D (rank 4) convolution are \
                 supported",
                x.sizes
            )))
        }
    };
    if w.rank() != x.rank() {
        return Err(b.err(format!(
            "weight {:?} should have rank {} like input {:?}",
            w.sizes,
            x.rank(),
            x.sizes
        )));
    }
    let stride = spatial_pair(b, args[3], "stride", spatial, 1)?;
    let padding = spatial_pair(b, args[4], "padding", spatial, 0)?;
    let dilation = spatial_pair(b, args[5], "dilation", spatial, 1)?;
    let output_padding = spatial_pair(b, args[7], "output_padding", spatial, 0)?;
    if stride.iter().any(|&s| s <= 0) || dilation.iter().any(|&d| d <= 0) {
        return Err(b.err(format!(
            "stride {stride:?} and dilation {dilation:?} must be positive"
        )));
    }
    if padding.iter().any(|&p| p < 0) || output_padding.iter().any(|&p| p < 0) {
        return Err(b.err(format!(
            "padding {padding:?} and output_padding {output_padding:?} must not be negative"
        )));
    }
    if groups <= 0 {
        return Err(b.err(format!("groups {groups} must be positive")));
    }
    let g = groups as usize;

    // Everything as 2-D: [N, C, H, W] with H = 1 for 1-D.
    let as4 = |s: &[usize]| -> [usize; 4] {
        if s.len() == 4 {
            [s[0], s[1], s[2], s[3]]
        } else {
            [s[0], s[1], 1, s[2]]
        }
    };
    let [n, cin, h, wd] = as4(&x.sizes);
    let [w0, w1, kh, kw] = as4(&w.sizes);
    if cin % g != 0 {
        return Err(b.err(format!("input channels {cin} not divisible by groups {g}")));
    }
    let cin_g = cin / g;
    // Regular: weight [Cout, Cin/g, kH, kW]. Transposed: weight [Cin, Cout/g, kH, kW].
    let cout = if transposed {
        if w0 != cin {
            return Err(b.err(format!(
                "transposed weight {:?} should have {cin} input channels (input {:?})",
                w.sizes, x.sizes
            )));
        }
        w1 * g
    } else {
        if w1 != cin_g || w0 % g != 0 {
            return Err(b.err(format!(
                "weight {:?} does not match input {:?} with groups {g} (expects [Cout, {cin_g}, \
                 ...] with Cout divisible by {g})",
                w.sizes, x.sizes
            )));
        }
        w0
    };
    if kh == 0 || kw == 0 {
        return Err(b.err(format!("weight {:?} has an empty kernel", w.sizes)));
    }
    if let Some(t) = &bias {
        if t.sizes != [cout] {
            return Err(b.err(format!(
                "bias {:?} should be [{cout}] (output channels)",
                t.sizes
            )));
        }
    }

    // Output spatial sizes, per PyTorch.
    let ins = [h as i64, wd as i64];
    let ks = [kh as i64, kw as i64];
    let mut outs = [0i64; 2];
    for d in 0..2 {
        let eff = dilation[d] * (ks[d] - 1);
        outs[d] = if transposed {
            if output_padding[d] >= stride[d] && output_padding[d] >= dilation[d] {
                return Err(b.err(format!(
                    "output_padding {output_padding:?} must be smaller than stride {stride:?} \
                     or dilation {dilation:?}"
                )));
            }
            (ins[d] - 1) * stride[d] - 2 * padding[d] + eff + output_padding[d] + 1
        } else {
            let span = ins[d] + 2 * padding[d] - eff - 1;
            if span < 0 {
                -1
            } else {
                span / stride[d] + 1
            }
        };
    }
    if outs.iter().any(|&o| o <= 0) {
        return Err(b.err(format!(
            "input {:?} with kernel {:?}, stride {stride:?}, padding {padding:?}, dilation \
             {dilation:?} gives an empty output",
            x.sizes, w.sizes
        )));
    }
    let (ho, wo) = (outs[0] as usize, outs[1] as usize);
    let out_sizes = if spatial == 2 {
        vec![n, cout, ho, wo]
    } else {
        vec![n, cout, wo]
    };
    let geometry = Geometry {
        n,
        cin,
        h,
        w: wd,
        cout,
        ho,
        wo,
        kernel: [kh, kw],
        stride,
        padding,
        dilation,
        groups: g,
        clamp: [
            min.map_or(f32::NEG_INFINITY, f32_bound),
            max.map_or(f32::INFINITY, f32_bound),
        ],
    };
    if !transposed && packed::build(b, &geometry, &x, &w, bias.as_ref(), out_id, &out_sizes)? {
        return Ok(());
    }
    let out = b.set_output(out_id, out_sizes)?;
    for t in [&x, &w, &out].into_iter().chain(bias.as_ref()) {
        if !t.is_float() {
            return Err(b.unsupported(format!(
                "value {} has dtype {:?}; only floating point is supported",
                t.id, t.dtype
            )));
        }
    }
    let numel = out.numel();
    if numel == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out, &x, &w])?;
    let split = !transposed
        && super::split::use_split(
            b,
            numel,
            (cin / g) * kh * kw,
            super::split::Reads::Scattered,
        );
    let work = if split {
        numel * super::split::SPLIT_LANES
    } else {
        numel
    };
    let p = Conv2dParams {
        count: work as u32,
        n: n as i32,
        cin: cin as i32,
        h: h as i32,
        w: wd as i32,
        cout: cout as i32,
        ho: ho as i32,
        wo: wo as i32,
        kh: kh as i32,
        kw: kw as i32,
        sh: stride[0] as i32,
        sw: stride[1] as i32,
        ph: padding[0] as i32,
        pw: padding[1] as i32,
        dh: dilation[0] as i32,
        dw: dilation[1] as i32,
        groups: g as i32,
        has_bias: bias.is_some() as i32,
        clamp_min: geometry.clamp[0],
        clamp_max: geometry.clamp[1],
        split: split as i32,
    };
    // No bias: bind the input again (never read).
    let bias_id = bias.map(|t| t.id).unwrap_or(x.id);
    let kernel = if transposed {
        &CONV_TRANSPOSE2D
    } else {
        &CONV2D
    };
    let call = kernel.call(p).linear(work).flops(geometry.flops());
    b.dispatch(call, &[out_id, x.id, w.id, bias_id])
}
