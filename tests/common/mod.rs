//! Shared helpers for op tests: build single-op graphs programmatically, run them on the
//! default Vulkan device, and compare with CPU references.
#![allow(dead_code)]

pub mod fixtures;
pub mod npy;
pub mod robustness;

use std::collections::HashMap;

use etvk::format::{Constant, ConstantSource, DType, Graph, OpCall, TensorDesc, Value, ValueId};
use etvk::runtime::{CompileSpecs, Delegate, HostTensor, InputValue};

/// Deterministic pseudo-random numbers (xorshift), so tests need no extra crates.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

/// Builds a graph value by value; constants go to an in-memory NamedData map.
#[derive(Default)]
pub struct GraphBuilder {
    pub graph: Graph,
    pub named: HashMap<String, Vec<u8>>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, v: Value) -> ValueId {
        self.graph.values.push(v);
        self.graph.values.len() - 1
    }

    pub fn tensor(&mut self, dtype: DType, dims: &[usize]) -> ValueId {
        self.push(Value::Tensor(TensorDesc {
            dtype,
            dims: dims.to_vec(),
            constant: None,
            mem_obj_id: None,
            staging_dtype: None,
            channels_packed_hint: false,
        }))
    }

    /// A float32 graph input.
    pub fn input(&mut self, dims: &[usize]) -> ValueId {
        let id = self.tensor(DType::Float32, dims);
        self.graph.input_ids.push(id);
        id
    }

    /// A float32 tensor that the test will mark as output via `output`.
    pub fn f32(&mut self, dims: &[usize]) -> ValueId {
        self.tensor(DType::Float32, dims)
    }

    pub fn output(&mut self, id: ValueId) {
        self.graph.output_ids.push(id);
    }

    /// A float32 weight stored as named data.
    pub fn constant(&mut self, dims: &[usize], values: &[f32]) -> ValueId {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let key = format!("const{}", self.graph.constants.len());
        self.graph.constants.push(Constant {
            source: ConstantSource::Named { key: key.clone() },
            length: bytes.len(),
        });
        self.named.insert(key, bytes);
        self.push(Value::Tensor(TensorDesc {
            dtype: DType::Float32,
            dims: dims.to_vec(),
            constant: Some(self.graph.constants.len() - 1),
            mem_obj_id: None,
            staging_dtype: None,
            channels_packed_hint: false,
        }))
    }

    pub fn int(&mut self, v: i64) -> ValueId {
        self.push(Value::Int(v))
    }
    pub fn double(&mut self, v: f64) -> ValueId {
        self.push(Value::Double(v))
    }
    pub fn bool(&mut self, v: bool) -> ValueId {
        self.push(Value::Bool(v))
    }
    pub fn null(&mut self) -> ValueId {
        self.push(Value::Null)
    }
    pub fn string(&mut self, v: &str) -> ValueId {
        self.push(Value::String(v.to_owned()))
    }
    pub fn int_list(&mut self, v: &[i64]) -> ValueId {
        self.push(Value::IntList(v.to_vec()))
    }
    pub fn value_list(&mut self, v: &[ValueId]) -> ValueId {
        self.push(Value::ValueList(v.to_vec()))
    }

    pub fn op(&mut self, name: &str, args: &[ValueId]) {
        let node_id = self.graph.chain.len() as u32;
        self.graph.chain.push(OpCall {
            node_id,
            name: name.to_owned(),
            args: args.to_vec(),
        });
    }

    /// Initializes a delegate for the graph built so far.
    pub fn build(&self) -> etvk::Result<Delegate> {
        self.build_with(&CompileSpecs::default())
    }

    /// Initializes a delegate with the given compile specs.
    pub fn build_with(&self, specs: &CompileSpecs) -> etvk::Result<Delegate> {
        Delegate::from_graph(self.graph.clone(), &[], Some(&self.named), specs)
    }

    /// A float32 weight stored under an explicit named-data key (several constants may share
    /// one key, as the exporter does for identical tensors).
    pub fn constant_with_key(&mut self, key: &str, dims: &[usize], values: &[f32]) -> ValueId {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.constants.push(Constant {
            source: ConstantSource::Named {
                key: key.to_owned(),
            },
            length: bytes.len(),
        });
        self.named.insert(key.to_owned(), bytes);
        self.push(Value::Tensor(TensorDesc {
            dtype: DType::Float32,
            dims: dims.to_vec(),
            constant: Some(self.graph.constants.len() - 1),
            mem_obj_id: None,
            staging_dtype: None,
            channels_packed_hint: false,
        }))
    }

    /// A constant of any dtype from its raw little-endian bytes (int8 / uint8 / int32 weights,
    /// as the exporter stores them).
    pub fn constant_bytes(&mut self, dtype: DType, dims: &[usize], bytes: Vec<u8>) -> ValueId {
        assert_eq!(bytes.len(), dims.iter().product::<usize>() * dtype.size());
        let key = format!("const{}", self.graph.constants.len());
        self.graph.constants.push(Constant {
            source: ConstantSource::Named { key: key.clone() },
            length: bytes.len(),
        });
        self.named.insert(key, bytes);
        self.push(Value::Tensor(TensorDesc {
            dtype,
            dims: dims.to_vec(),
            constant: Some(self.graph.constants.len() - 1),
            mem_obj_id: None,
            staging_dtype: None,
            channels_packed_hint: false,
        }))
    }

    /// Builds, runs on float32 inputs, and returns the outputs as f32 vectors.
    pub fn run(&self, inputs: &[(&[usize], &[f32])]) -> etvk::Result<Vec<Vec<f32>>> {
        self.run_with(&CompileSpecs::default(), inputs)
    }

    /// [`run`](Self::run) with the given compile specs.
    pub fn run_with(
        &self,
        specs: &CompileSpecs,
        inputs: &[(&[usize], &[f32])],
    ) -> etvk::Result<Vec<Vec<f32>>> {
        let mut d = self.build_with(specs)?;
        let inputs: Vec<InputValue> = inputs
            .iter()
            .map(|(s, v)| InputValue::Tensor(HostTensor::from_f32(s.to_vec(), v).unwrap()))
            .collect();
        Ok(d.run(&inputs)?.iter().map(|t| t.to_f32_vec()).collect())
    }
}

/// Asserts |got - want| <= atol + rtol * |want| elementwise, with a useful message.
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs expected {}",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan());
        assert!(ok, "{what}: element {i}: got {g}, expected {w}");
    }
}

/// Row-major strides.
pub fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut s = vec![1; sizes.len()];
    for i in (0..sizes.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * sizes[i + 1];
    }
    s
}

/// CPU reference for a broadcasting binary op.
pub fn broadcast_binary(
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
    f: impl Fn(f32, f32) -> f32,
) -> (Vec<f32>, Vec<usize>) {
    let rank = sa.len().max(sb.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = pa.iter().zip(&pb).map(|(x, y)| *x.max(y)).collect();
    let (ta, tb) = (strides(&pa), strides(&pb));
    let n: usize = out.iter().product();
    let so = strides(&out);
    let v = (0..n)
        .map(|i| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..rank {
                let c = (i / so[d]) % out[d];
                if pa[d] != 1 {
                    ia += c * ta[d];
                }
                if pb[d] != 1 {
                    ib += c * tb[d];
                }
            }
            f(a[ia], b[ib])
        })
        .collect();
    (v, out)
}

/// An int32 host tensor.
pub fn i32_host(sizes: &[usize], v: &[i32]) -> HostTensor {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    HostTensor::new(DType::Int32, sizes.to_vec(), data).unwrap()
}

/// An int64 host tensor.
pub fn i64_host(sizes: &[usize], v: &[i64]) -> HostTensor {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    HostTensor::new(DType::Int64, sizes.to_vec(), data).unwrap()
}

/// A float32 host tensor.
pub fn f32_host(sizes: &[usize], v: &[f32]) -> HostTensor {
    HostTensor::from_f32(sizes.to_vec(), v).unwrap()
}

/// A graph input of any dtype.
pub fn input(g: &mut GraphBuilder, dtype: DType, dims: &[usize]) -> usize {
    let id = g.tensor(dtype, dims);
    g.graph.input_ids.push(id);
    id
}

/// Builds and runs on host tensors of any dtype.
pub fn run(g: &GraphBuilder, inputs: Vec<HostTensor>) -> Vec<HostTensor> {
    let mut d = g.build().unwrap();
    let inputs: Vec<InputValue> = inputs.into_iter().map(InputValue::Tensor).collect();
    d.run(&inputs).unwrap()
}

/// The error a graph's init must fail with.
pub fn build_err(g: &GraphBuilder) -> etvk::Error {
    g.build().err().expect("must fail")
}

/// How many recorded kernels start with `prefix`, after checking the memory plan (no two
/// live activations share bytes, but a tensor in its slot or window).
pub fn count_kernels(g: &GraphBuilder, prefix: &str) -> usize {
    let d = g.build().unwrap();
    let clashes = d.overlapping_live_activations().unwrap();
    assert!(clashes.is_empty(), "{clashes:?}");
    kernels(&d).iter().filter(|k| k.starts_with(prefix)).count()
}

/// `relu(x)` into a new f32 tensor of `sizes`.
pub fn relu_op(g: &mut GraphBuilder, x: usize, sizes: &[usize]) -> usize {
    let out = g.f32(sizes);
    g.op("aten.relu.default", &[x, out]);
    out
}

/// `view(x, sizes)` into a new f32 tensor.
pub fn view_op(g: &mut GraphBuilder, x: usize, sizes: &[usize]) -> usize {
    let s = g.int_list(&sizes.iter().map(|&v| v as i64).collect::<Vec<_>>());
    let out = g.f32(sizes);
    g.op("aten.view_copy.default", &[x, s, out]);
    out
}

/// `bmm(a, b)` into a new f32 tensor of `sizes`.
pub fn bmm_op(g: &mut GraphBuilder, a: usize, b: usize, sizes: &[usize]) -> usize {
    let out = g.f32(sizes);
    g.op("aten.bmm.default", &[a, b, out]);
    out
}

/// `a + b` into a new f32 tensor of `sizes`.
pub fn add_op(g: &mut GraphBuilder, a: usize, b: usize, sizes: &[usize]) -> usize {
    let alpha = g.int(1);
    let out = g.f32(sizes);
    g.op("aten.add.Tensor", &[a, b, alpha, out]);
    out
}

/// out[b,m,n] = sum_k a[b,m,k] * bmat(b,k,n); `bt`: B stored [batch, N, K].
pub fn matmul_ref(
    a: &[f32],
    bm: &[f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    bt: bool,
) -> Vec<f32> {
    let mut out = vec![0f32; batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for kk in 0..k {
                    let av = a[bi * m * k + i * k + kk] as f64;
                    let bv = if bt {
                        bm[bi * n * k + j * k + kk]
                    } else {
                        bm[bi * k * n + kk * n + j]
                    } as f64;
                    acc += av * bv;
                }
                out[bi * m * n + i * n + j] = acc as f32;
            }
        }
    }
    out
}

/// CPU permute of a contiguous tensor.
pub fn permute_ref<T: Copy>(x: &[T], sizes: &[usize], dims: &[usize]) -> (Vec<T>, Vec<usize>) {
    let out_sizes: Vec<usize> = dims.iter().map(|&d| sizes[d]).collect();
    let (si, so) = (strides(sizes), strides(&out_sizes));
    let n: usize = out_sizes.iter().product();
    let v = (0..n)
        .map(|i| {
            let src: usize = (0..dims.len())
                .map(|k| (i / so[k]) % out_sizes[k] * si[dims[k]])
                .sum();
            x[src]
        })
        .collect();
    (v, out_sizes)
}

/// The kernels `d` recorded, in order, without the storage variant suffix (`_texel`: the same
/// kernel reading through texel buffers, chosen per device).
pub fn kernels(d: &Delegate) -> Vec<String> {
    d.recorded_shaders()
        .unwrap()
        .iter()
        .map(|s| s.trim_end_matches("_texel").to_string())
        .collect()
}

/// PyTorch's pooling output length for one spatial dim (`ceil_mode` included).
pub fn pool_out_len(
    input: usize,
    kernel: i64,
    stride: i64,
    pad: i64,
    dilation: i64,
    ceil: bool,
) -> usize {
    let i = input as i64;
    let extra = if ceil { stride - 1 } else { 0 };
    let mut o = (i + 2 * pad - dilation * (kernel - 1) - 1 + extra).div_euclid(stride) + 1;
    if ceil && (o - 1) * stride >= i + pad {
        o -= 1;
    }
    o as usize
}

/// A 2-D pooling window, each as (H, W).
#[derive(Clone, Copy)]
pub struct Window {
    pub kernel: [i64; 2],
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub dilation: [i64; 2],
}

/// Max pooling reference over `planes` planes of `hw` (H, W) into `out_hw`: the maximum over
/// the in-bounds window elements (padding never wins), the first one in row-major order on
/// ties; indices are h * W + w within the plane (as f32).
pub fn max_pool_ref(
    x: &[f32],
    planes: usize,
    hw: [usize; 2],
    out_hw: [usize; 2],
    win: &Window,
) -> (Vec<f32>, Vec<f32>) {
    let [h, w] = hw;
    let Window {
        kernel,
        stride,
        padding,
        dilation,
    } = *win;
    let (mut vals, mut idxs) = (vec![], vec![]);
    for pl in 0..planes {
        for y in 0..out_hw[0] {
            for xo in 0..out_hw[1] {
                let mut best: Option<(f32, usize)> = None;
                for ky in 0..kernel[0] {
                    for kx in 0..kernel[1] {
                        let iy = y as i64 * stride[0] - padding[0] + ky * dilation[0];
                        let ix = xo as i64 * stride[1] - padding[1] + kx * dilation[1];
                        if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                            continue;
                        }
                        let k = iy as usize * w + ix as usize;
                        let v = x[pl * h * w + k];
                        if best.is_none_or(|(b, _)| v > b) {
                            best = Some((v, k));
                        }
                    }
                }
                let (v, k) = best.expect("every window has an in-bounds element");
                vals.push(v);
                idxs.push(k as f32);
            }
        }
    }
    (vals, idxs)
}

/// `x` through an identity 1x1 convolution: the same values, channels-packed.
pub fn packed(g: &mut GraphBuilder, x: usize, sizes: &[usize]) -> usize {
    let c = sizes[1];
    let eye: Vec<f32> = (0..c * c)
        .map(|i| if i / c == i % c { 1.0 } else { 0.0 })
        .collect();
    let w = g.constant(&[c, c, 1, 1], &eye);
    let b = g.null();
    let one = g.int_list(&[1, 1]);
    let zero = g.int_list(&[0, 0]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0]);
    let groups = g.int(1);
    let out = g.f32(sizes);
    g.op(
        "aten.convolution.default",
        &[x, w, b, one, zero, one, t, op, groups, out],
    );
    out
}

/// Direct-loop 2-D convolution (groups = 1) of NCHW `x` (`xs`) with weights `w` (`ws`:
/// [out channels, in channels, kh, kw]) and `bias`, stride / padding / dilation from `win`
/// (its kernel is the weights'). Returns the output and its sizes.
pub fn conv2d_ref(
    x: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    bias: &[f32],
    win: &Window,
) -> (Vec<f32>, [usize; 4]) {
    let ([n, ci, h, wd], [co, _, kh, kw]) = (xs, ws);
    let len = |i: usize, k: usize, d: usize| {
        let span = win.dilation[d] * (k as i64 - 1) + 1;
        ((i as i64 + 2 * win.padding[d] - span) / win.stride[d] + 1) as usize
    };
    let (ho, wo) = (len(h, kh, 0), len(wd, kw, 1));
    let mut out = Vec::with_capacity(n * co * ho * wo);
    for b in 0..n {
        for oc in 0..co {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = bias[oc] as f64;
                    for c in 0..ci {
                        for ky in 0..kh {
                            let iy = oy as i64 * win.stride[0] - win.padding[0]
                                + ky as i64 * win.dilation[0];
                            for kx in 0..kw {
                                let ix = ox as i64 * win.stride[1] - win.padding[1]
                                    + kx as i64 * win.dilation[1];
                                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                    continue;
                                }
                                let xv = x[((b * ci + c) * h + iy as usize) * wd + ix as usize];
                                acc += xv as f64 * w[((oc * ci + c) * kh + ky) * kw + kx] as f64;
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    (out, [n, co, ho, wo])
}

/// `x` [rows, k] times `w` [n, k] transposed, plus `b` [n] (a linear layer).
pub fn linear_ref(x: &[f32], rows: usize, k: usize, w: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * n];
    for r in 0..rows {
        for j in 0..n {
            let dot: f32 = (0..k).map(|i| x[r * k + i] * w[j * k + i]).sum();
            out[r * n + j] = dot + b[j];
        }
    }
    out
}

/// x[4,16] -> linear(W1[32,16], b1[32]) -> relu -> linear(W2[8,32], b2[8]) -> y[4,8]
pub struct Mlp {
    pub g: GraphBuilder,
    pub x: Vec<f32>,
    pub want: Vec<f32>,
}

pub fn mlp() -> Mlp {
    let mut rng = Rng::new(42);
    let (w1, b1, w2, b2, x) = (
        rng.vec(32 * 16),
        rng.vec(32),
        rng.vec(8 * 32),
        rng.vec(8),
        rng.vec(4 * 16),
    );
    let mut g = GraphBuilder::new();
    let xi = g.input(&[4, 16]);
    let (cw1, cb1) = (g.constant(&[32, 16], &w1), g.constant(&[32], &b1));
    let (cw2, cb2) = (g.constant(&[8, 32], &w2), g.constant(&[8], &b2));
    let h1 = g.f32(&[4, 32]);
    let h2 = g.f32(&[4, 32]);
    let y = g.f32(&[4, 8]);
    g.op("aten.linear.default", &[xi, cw1, cb1, h1]);
    g.op("aten.relu.default", &[h1, h2]);
    g.op("aten.linear.default", &[h2, cw2, cb2, y]);
    g.output(y);
    let h: Vec<f32> = linear_ref(&x, 4, 16, &w1, &b1, 32)
        .into_iter()
        .map(|v| v.max(0.0))
        .collect();
    let want = linear_ref(&h, 4, 32, &w2, &b2, 8);
    Mlp { g, x, want }
}

/// erf in f64: Taylor series below 2.5, continued fraction for erfc above.
pub fn erf64(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < 2.5 {
        let (mut term, mut sum, mut n) = (a, a, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
        let mut f = a;
        for k in (1..80).rev() {
            f = a + (k as f64 / 2.0) / f;
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / f
    };
    v.copysign(x)
}

/// GELU (erf form) in f64.
pub fn gelu_ref(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + erf64(x / std::f64::consts::SQRT_2))) as f32
}

/// GELU (tanh form) in f64.
pub fn gelu_tanh_ref(x: f32) -> f32 {
    let x = x as f64;
    let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
    (0.5 * x * (1.0 + inner.tanh())) as f32
}
