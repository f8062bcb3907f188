//! Pooling: `aten.max_pool2d_with_indices.default`, `aten.max_pool2d.default` and
//! `aten.avg_pool2d.default` on rank-3 ([C, H, W]) or rank-4 ([N, C, H, W]) float inputs, with
//! PyTorch's output-size rules (incl. `ceil_mode`) and argument checks. Shaders:
//! `shaders/pool_max.comp`, `shaders/pool_avg.comp` (one invocation per output element).

use crate::error::Result;
use crate::format::{Value, ValueId};
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::layout::nchw;
use crate::kernels::pool::{
    PoolAvgParams, PoolMaxParams, POOL_AVG, POOL_MAX, POOL_MAX_C4, POOL_MAX_C4_F16,
    POOL_MAX_C4_F16_NO_INDICES, POOL_MAX_C4_NO_INDICES,
};
use crate::kernels::{Elem, Layout};

pub const OPS: &[OpDef] = &[
    OpDef::new(
        "aten.max_pool2d_with_indices.default",
        max_pool2d_with_indices,
    ),
    OpDef::new("aten.max_pool2d.default", max_pool2d),
    OpDef::new("aten.avg_pool2d.default", avg_pool2d),
];

/// `max_pool2d_with_indices(self, kernel_size, stride=[], padding=0, dilation=1,
/// ceil_mode=False) -> (Tensor, Tensor)`; the output is one ValueList of [values, indices].
pub fn max_pool2d_with_indices(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    let outs = match b.value(args[6])? {
        Value::ValueList(items) => items.clone(),
        other => {
            return Err(b.err(format!(
                "output value {} should be a list of 2 tensors, is {}",
                args[6],
                other.kind_name()
            )))
        }
    };
    if outs.len() != 2 {
        return Err(b.err(format!(
            "output list should hold 2 tensors (values, indices), holds {}",
            outs.len()
        )));
    }
    max_pool(b, args, outs[0], Some(outs[1]))
}

/// `max_pool2d(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False) -> Tensor`.
pub fn max_pool2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 7)?;
    max_pool(b, args, args[6], None)
}

/// `avg_pool2d(self, kernel_size, stride=[], padding=0, ceil_mode=False,
/// count_include_pad=True, divisor_override=None) -> Tensor`.
pub fn avg_pool2d(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 8)?;
    let x = input(b, args[0])?;
    let kernel = pair(b, args[1], "kernel_size", None)?;
    let stride = pair(b, args[2], "stride", Some(kernel))?;
    let padding = pair(b, args[3], "padding", None)?;
    let ceil_mode = b.bool(args[4])?;
    let count_include_pad = b.bool(args[5])?;
    let divisor = b.opt_int(args[6])?;
    if divisor == Some(0) {
        return Err(b.err("divisor_override must not be zero"));
    }
    let divisor = match divisor {
        None => 0,
        Some(d) => i32::try_from(d)
            .map_err(|_| b.unsupported(format!("divisor_override {d} does not fit in i32")))?,
    };
    let g = Geometry::new(b, &x, kernel, stride, padding, [1, 1], ceil_mode)?;
    let out = b.set_output(args[7], g.out_sizes(&x))?;
    if !out.is_float() {
        return Err(b.unsupported(format!("output dtype {:?} is not a float", out.dtype)));
    }
    let p = PoolAvgParams {
        count: out.numel() as u32,
        h: g.h as i32,
        w: g.w as i32,
        oh: g.oh as i32,
        ow: g.ow as i32,
        kh: g.kernel[0] as i32,
        kw: g.kernel[1] as i32,
        sh: g.stride[0] as i32,
        sw: g.stride[1] as i32,
        ph: g.padding[0] as i32,
        pw: g.padding[1] as i32,
        count_include_pad: count_include_pad as i32,
        divisor_override: divisor,
    };
    b.dispatch(POOL_AVG.call(p).linear(out.numel()), &[out.id, x.id])
}

fn max_pool(
    b: &mut OpBuilder,
    args: &[ValueId],
    out_id: ValueId,
    indices_id: Option<ValueId>,
) -> Result<()> {
    let x = input(b, args[0])?;
    let kernel = pair(b, args[1], "kernel_size", None)?;
    let stride = pair(b, args[2], "stride", Some(kernel))?;
    let padding = pair(b, args[3], "padding", None)?;
    let dilation = pair(b, args[4], "dilation", None)?;
    let ceil_mode = b.bool(args[5])?;
    let g = Geometry::new(b, &x, kernel, stride, padding, dilation, ceil_mode)?;
    let sizes = g.out_sizes(&x);
    let out = b.set_output(out_id, sizes.clone())?;
    if !out.is_float() {
        return Err(b.unsupported(format!("output dtype {:?} is not a float", out.dtype)));
    }
    let mut p = PoolMaxParams {
        count: out.numel() as u32,
        h: g.h as i32,
        w: g.w as i32,
        oh: g.oh as i32,
        ow: g.ow as i32,
        kh: g.kernel[0] as i32,
        kw: g.kernel[1] as i32,
        sh: g.stride[0] as i32,
        sw: g.stride[1] as i32,
        ph: g.padding[0] as i32,
        pw: g.padding[1] as i32,
        dh: dilation[0] as i32,
        dw: dilation[1] as i32,
        write_indices: 0,
        c: 0,
    };
    // Indices nothing reads (the exporter keeps the op's second output) are not written.
    let indices_id = indices_id.filter(|&id| b.references(id) > 1);
    let idx = match indices_id {
        Some(id) => {
            let t = b.set_output(id, sizes)?;
            if t.is_float() {
                return Err(b.unsupported(format!(
                    "indices dtype {:?} should be an integer type",
                    t.dtype
                )));
            }
            p.write_indices = 1;
            id
        }
        // Never written when the flag is 0; the binding only has to exist.
        None => out.id,
    };
    // A channels-packed input (a conv's output) stays packed: a texel per invocation.
    if x.layout == Layout::Channels4 {
        let elem = b.elem_of(x.id);
        let out = b.set_output_as(out.id, out.sizes.clone(), Layout::Channels4, elem)?;
        let texels = Layout::Channels4.stored_elements(&out.sizes) / 4;
        let [_, c, _, _] = nchw(&x.sizes);
        let kernel = match (elem, indices_id.is_some()) {
            (Elem::F16, true) => &POOL_MAX_C4_F16,
            (Elem::F16, false) => &POOL_MAX_C4_F16_NO_INDICES,
            (_, true) => &POOL_MAX_C4,
            (_, false) => &POOL_MAX_C4_NO_INDICES,
        };
        p.count = texels as u32;
        p.c = c as u32;
        b.dispatch(kernel.call(p).linear(texels), &[out.id, idx, x.id])?;
        // 2x2, stride 2, floor mode (every window inside, whatever the sizes): a convolution
        // reading only this output may take the pool while loading (conv2d_tiled's POOL).
        let two_by_two = g.kernel == [2, 2] && g.stride == [2, 2] && g.padding == [0, 0];
        if indices_id.is_none() && two_by_two && dilation == [1, 1] && !ceil_mode {
            b.offer_pool(out.id);
        }
        return Ok(());
    }
    b.dispatch(POOL_MAX.call(p).linear(out.numel()), &[out.id, idx, x.id])
}

/// The pooled input: a float tensor of rank 3 or 4 with non-empty C, H, W.
fn input(b: &OpBuilder, id: ValueId) -> Result<TensorInfo> {
    let x = b.tensor(id)?;
    if x.rank() != 3 && x.rank() != 4 {
        return Err(b.err(format!(
            "input {:?} should have rank 3 or 4, has rank {}",
            x.sizes,
            x.rank()
        )));
    }
    if x.sizes[x.rank() - 3..].contains(&0) {
        return Err(b.err(format!(
            "input {:?} should have non-zero channel and spatial sizes",
            x.sizes
        )));
    }
    if !x.is_float() {
        return Err(b.unsupported(format!("input dtype {:?} is not a float", x.dtype)));
    }
    Ok(x)
}

/// An `int[2]` argument as (H, W): an Int or a list of 1 entry means both dims. An empty list
/// means `empty` (stride's default: the kernel size) when given.
fn pair(b: &OpBuilder, id: ValueId, what: &str, empty: Option<[i64; 2]>) -> Result<[i64; 2]> {
    let v = match b.value(id)? {
        Value::Int(_) | Value::SymInt(_) => vec![b.int(id)?],
        _ => b.int_list(id)?,
    };
    match (v.as_slice(), empty) {
        ([], Some(e)) => Ok(e),
        ([x], _) => Ok([*x, *x]),
        ([h, w], _) => Ok([*h, *w]),
        _ => Err(b.err(format!(
            "{what} {v:?} should have 1 or 2 entries{}",
            if empty.is_some() { " (or none)" } else { "" }
        ))),
    }
}

/// Window geometry shared by max and average pooling.
struct Geometry {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kernel: [i64; 2],
    stride: [i64; 2],
    padding: [i64; 2],
}

impl Geometry {
    fn new(
        b: &OpBuilder,
        x: &TensorInfo,
        kernel: [i64; 2],
        stride: [i64; 2],
        padding: [i64; 2],
        dilation: [i64; 2],
        ceil_mode: bool,
    ) -> Result<Self> {
        let r = x.rank();
        let (h, w) = (x.sizes[r - 2], x.sizes[r - 1]);
        if kernel.iter().any(|&k| k <= 0) {
            return Err(b.err(format!("kernel_size {kernel:?} must be positive")));
        }
        if stride.iter().any(|&s| s <= 0) {
            return Err(b.err(format!("stride {stride:?} must be positive")));
        }
        if dilation.iter().any(|&d| d <= 0) {
            return Err(b.err(format!("dilation {dilation:?} must be positive")));
        }
        if padding.iter().any(|&p| p < 0) {
            return Err(b.err(format!("padding {padding:?} must not be negative")));
        }
        for d in 0..2 {
            let effective = (kernel[d] - 1) * dilation[d] + 1;
            if padding[d] > kernel[d] / 2 || padding[d] > effective / 2 {
                return Err(b.err(format!(
                    "padding {padding:?} should be at most half of kernel_size {kernel:?}"
                )));
            }
        }
        let big = |v: &[i64; 2]| v.iter().any(|&x| x > i32::MAX as i64 / 4);
        if big(&kernel) || big(&stride) || big(&dilation) || h.max(w) > i32::MAX as usize / 4 {
            return Err(b.unsupported("pooling parameters too large for 32-bit indexing"));
        }
        let size = |input: usize, d: usize| -> i64 {
            let (k, s, p, dl) = (kernel[d], stride[d], padding[d], dilation[d]);
            let input = input as i64;
            let num = input + 2 * p - dl * (k - 1) - 1 + if ceil_mode { s - 1 } else { 0 };
            let mut out = num.div_euclid(s) + 1;
            // In ceil mode the last window must start inside the input or the left padding.
            if ceil_mode && (out - 1) * s >= input + p {
                out -= 1;
            }
            out
        };
        let (oh, ow) = (size(h, 0), size(w, 1));
        if oh < 1 || ow < 1 {
            return Err(b.err(format!(
                "input {:?} is too small for kernel_size {kernel:?}, dilation {dilation:?} and \
                 padding {padding:?}: output size would be {oh}x{ow}",
                x.sizes
            )));
        }
        Ok(Geometry {
            h,
            w,
            oh: oh as usize,
            ow: ow as usize,
            kernel,
            stride,
            padding,
        })
    }

    fn out_sizes(&self, x: &TensorInfo) -> Vec<usize> {
        let mut s = x.sizes.clone();
        let r = s.len();
        s[r - 2] = self.oh;
        s[r - 1] = self.ow;
        s
    }
}
