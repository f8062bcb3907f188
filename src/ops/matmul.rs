//! Matrix products: `mm`, `bmm`, `addmm`, `linear`. All lower to one shader
//! (`shaders/matmul.comp`): out[b,m,n] = beta * bias(m,n) + alpha * sum_k A[b,m,k] * B(k,n),
//! where B is stored either [K,N] or transposed [N,K] (linear's weight) and the bias is
//! optional and broadcast to [M,N].

use crate::error::Result;
use crate::format::ValueId;
use crate::gpu::DeviceKind;
use crate::graph::OpDef;
use crate::graph::{OpBuilder, TensorInfo};
use crate::kernels::matmul::{GemmParams, GemmSpec, MatmulParams, GEMM, GEMM_TEXEL, MATMUL};

use super::binary::broadcast_strides;

pub const OPS: &[OpDef] = &[
    OpDef::new("aten.mm.default", mm),
    OpDef::new("aten.bmm.default", bmm),
    OpDef::new("aten.addmm.default", addmm),
    OpDef::new("aten.linear.default", linear),
];

/// One matmul dispatch, in the shader's terms.
struct Plan {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    /// A's elements per batch entry (0 when A is shared by every batch).
    a_batch_stride: usize,
    b_batch_stride: usize,
    /// B stored [N,K] instead of [K,N].
    b_transposed: bool,
    alpha: f64,
    /// (bias tensor, beta, stride along m, stride along n).
    bias: Option<(TensorInfo, f64, usize, usize)>,
}

fn record(
    b: &mut OpBuilder,
    plan: Plan,
    a: &TensorInfo,
    mat: &TensorInfo,
    out_id: ValueId,
    out_sizes: Vec<usize>,
) -> Result<()> {
    let out = b.set_output(out_id, out_sizes)?;
    b.require_float(&[a, mat, &out])?;
    if let Some((bias, ..)) = &plan.bias {
        b.require_float(&[bias])?;
    }
    let numel = plan.batch * plan.m * plan.n;
    if numel == 0 {
        return Ok(());
    }
    b.require_i32_indexing(&[&out, a, mat])?;
    let (bias_id, has_bias, beta, sm, sn) = match &plan.bias {
        Some((t, beta, sm, sn)) => (t.id, 1, *beta, *sm, *sn),
        // No bias: bind A again (never read).
        None => (a.id, 0, 0.0, 0, 0),
    };
    if plan.k.is_multiple_of(4) && plan.n.is_multiple_of(4) {
        return record_gemm(b, &plan, a, mat, &out, (bias_id, has_bias, beta, sm, sn));
    }
    let split = super::split::use_split(b, numel, plan.k, super::split::Reads::Contiguous);
    let work = if split {
        numel * super::split::SPLIT_LANES
    } else {
        numel
    };
    let p = MatmulParams {
        count: work as u32,
        m: plan.m as i32,
        k: plan.k as i32,
        n: plan.n as i32,
        a_batch_stride: plan.a_batch_stride as i32,
        b_batch_stride: plan.b_batch_stride as i32,
        b_transposed: plan.b_transposed as i32,
        has_bias,
        alpha: plan.alpha as f32,
        beta: beta as f32,
        bias_stride_m: sm as i32,
        bias_stride_n: sn as i32,
        split: split as i32,
    };
    b.dispatch(
        MATMUL.call(p).linear(work),
        &[out_id, a.id, mat.id, bias_id],
    )
}

/// Records `plan` on `gemm.comp` (K and N multiples of 4): tiles of up to 4 rows x 4 columns,
/// and on GPUs, when the tiles are few and K long (single-token decode), one workgroup per
/// tile splitting K.
fn record_gemm(
    b: &mut OpBuilder,
    plan: &Plan,
    a: &TensorInfo,
    mat: &TensorInfo,
    out: &TensorInfo,
    (bias_id, has_bias, beta, sm, sn): (ValueId, i32, f64, usize, usize),
) -> Result<()> {
    let (m, k4, n4) = (plan.m, plan.k / 4, plan.n / 4);
    let tm = m.next_power_of_two().min(4);
    let row_blocks = m.div_ceil(tm);
    let tiles = n4 * row_blocks * plan.batch;
    let split = match std::env::var(super::split::SPLIT_ENV).as_deref() {
        Ok("always") => k4 > 1,
        Ok("never") => false,
        _ => b.caps().kind != DeviceKind::Cpu && tiles < 4096 && k4 >= 32,
    };
    let lanes = if split { GEMM_SPLIT_LANES } else { 1 };
    let p = GemmParams {
        m: m as u32,
        k4: k4 as u32,
        n4: n4 as u32,
        a_batch_stride4: (plan.a_batch_stride / 4) as u32,
        b_batch_stride4: (plan.b_batch_stride / 4) as u32,
        has_bias,
        alpha: plan.alpha as f32,
        beta: beta as f32,
        bias_sm: sm as u32,
        bias_sn: sn as u32,
    };
    let spec = GemmSpec {
        TM: tm as i32,
        B_TRANSPOSED: plan.b_transposed as i32,
        SPLIT: lanes as i32,
    };
    let (global, local) = if split {
        ([n4 * lanes, row_blocks, plan.batch], [lanes as u32, 1, 1])
    } else {
        let local = super::conv::local_2d(n4, row_blocks);
        ([n4, row_blocks, plan.batch], local)
    };
    let texels = (a.numel() / 4).max(mat.numel() / 4);
    let kernel = if b.caps().texel_reads(texels) {
        &GEMM_TEXEL
    } else {
        &GEMM
    };
    let flops = 2 * (plan.batch * m * plan.n * plan.k) as u64;
    let call = kernel.call(p).spec(spec).tiles(global, local).flops(flops);
    b.dispatch(call, &[out.id, a.id, mat.id, bias_id])
}

/// Lanes that split one tile's K in `gemm.comp` (GPUs, few tiles).
const GEMM_SPLIT_LANES: usize = 64;

/// `mm(self [M,K], mat2 [K,N]) -> [M,N]`.
pub fn mm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let a = b.tensor(args[0])?;
    let mat = b.tensor(args[1])?;
    let (m, k, n) = mm_dims(b, &a, &mat)?;
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        b_transposed: false,
        alpha: 1.0,
        bias: None,
    };
    record(b, plan, &a, &mat, args[2], vec![m, n])
}

fn mm_dims(b: &OpBuilder, a: &TensorInfo, mat: &TensorInfo) -> Result<(usize, usize, usize)> {
    if a.rank() != 2 || mat.rank() != 2 {
        return Err(b.err(format!(
            "expects 2-D matrices, got {:?} and {:?}",
            a.sizes, mat.sizes
        )));
    }
    if a.sizes[1] != mat.sizes[0] {
        return Err(b.err(format!(
            "inner dimensions differ: {:?} @ {:?}",
            a.sizes, mat.sizes
        )));
    }
    Ok((a.sizes[0], a.sizes[1], mat.sizes[1]))
}

/// `bmm(self [B,M,K], mat2 [B,K,N]) -> [B,M,N]`.
pub fn bmm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 3)?;
    let a = b.tensor(args[0])?;
    let mat = b.tensor(args[1])?;
    if a.rank() != 3 || mat.rank() != 3 {
        return Err(b.err(format!(
            "expects 3-D batches of matrices, got {:?} and {:?}",
            a.sizes, mat.sizes
        )));
    }
    if a.sizes[0] != mat.sizes[0] || a.sizes[2] != mat.sizes[1] {
        return Err(b.err(format!(
            "batch or inner dimensions differ: {:?} @ {:?}",
            a.sizes, mat.sizes
        )));
    }
    let (batch, m, k, n) = (a.sizes[0], a.sizes[1], a.sizes[2], mat.sizes[2]);
    let plan = Plan {
        batch,
        m,
        k,
        n,
        a_batch_stride: m * k,
        b_batch_stride: k * n,
        b_transposed: false,
        alpha: 1.0,
        bias: None,
    };
    record(b, plan, &a, &mat, args[2], vec![batch, m, n])
}

/// Strides (along m, along n) reading `bias` broadcast to [M,N], or an error naming the shapes.
fn bias_strides(b: &OpBuilder, bias: &TensorInfo, m: usize, n: usize) -> Result<(usize, usize)> {
    let ok = bias.rank() <= 2
        && bias
            .sizes
            .iter()
            .rev()
            .zip([n, m])
            .all(|(&s, want)| s == 1 || s == want);
    if !ok {
        return Err(b.err(format!(
            "bias {:?} does not broadcast to [{m}, {n}]",
            bias.sizes
        )));
    }
    let s = broadcast_strides(&bias.sizes, 2);
    Ok((s[0], s[1]))
}

/// `addmm(self, mat1 [M,K], mat2 [K,N], *, beta=1, alpha=1) -> beta*self + alpha*(mat1 @ mat2)`.
pub fn addmm(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 6)?;
    let bias = b.tensor(args[0])?;
    let a = b.tensor(args[1])?;
    let mat = b.tensor(args[2])?;
    let beta = b.double(args[3])?;
    let alpha = b.double(args[4])?;
    let (m, k, n) = mm_dims(b, &a, &mat)?;
    let (sm, sn) = bias_strides(b, &bias, m, n)?;
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        b_transposed: false,
        alpha,
        // PyTorch ignores `self` entirely (even NaNs) when beta == 0.
        bias: (beta != 0.0).then_some((bias, beta, sm, sn)),
    };
    record(b, plan, &a, &mat, args[5], vec![m, n])
}

/// `linear(input [..., K], weight [N,K], bias? [N]) -> [..., N]`.
pub fn linear(b: &mut OpBuilder, args: &[ValueId]) -> Result<()> {
    b.expect_args(args, 4)?;
    let x = b.tensor(args[0])?;
    let w = b.tensor(args[1])?;
    let bias = b.opt_tensor(args[2])?;
    if x.rank() == 0 {
        return Err(b.err("input must have at least one dimension"));
    }
    if w.rank() != 2 {
        return Err(b.err(format!("weight must be 2-D [N, K], got {:?}", w.sizes)));
    }
    let k = *x.sizes.last().expect("rank checked");
    let n = w.sizes[0];
    if w.sizes[1] != k {
        return Err(b.err(format!(
            "input {:?} has {k} features but weight {:?} expects {}",
            x.sizes, w.sizes, w.sizes[1]
        )));
    }
    let m: usize = x.sizes[..x.rank() - 1].iter().product();
    let bias = match bias {
        Some(t) => {
            if t.rank() > 1 {
                return Err(b.unsupported(format!("bias must be 1-D [N], got {:?}", t.sizes)));
            }
            let (sm, sn) = bias_strides(b, &t, m, n)?;
            Some((t, 1.0, sm, sn))
        }
        None => None,
    };
    let mut out_sizes = x.sizes[..x.rank() - 1].to_vec();
    out_sizes.push(n);
    let plan = Plan {
        batch: 1,
        m,
        k,
        n,
        a_batch_stride: 0,
        b_batch_stride: 0,
        b_transposed: true,
        alpha: 1.0,
        bias,
    };
    record(b, plan, &x, &w, args[3], out_sizes)
}
