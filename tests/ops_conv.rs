//! convolution (1-D/2-D, regular and transposed) and et_vk.conv_with_clamp against direct-loop
//! CPU references: groups incl. depthwise, stride, padding, dilation, bias, batches, odd sizes.
mod common;
use common::*;

#[derive(Clone)]
struct Conv {
    /// Input [N, C, H, W] or [N, C, L] (1-D).
    input: Vec<usize>,
    /// Regular: [Cout, Cin/groups, kH, kW]; transposed: [Cin, Cout/groups, kH, kW] (or 3-D).
    weight: Vec<usize>,
    bias: bool,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    transposed: bool,
    output_padding: Vec<i64>,
    groups: usize,
    /// Weights (and bias) as constants rather than graph inputs.
    constant: bool,
}

impl Conv {
    fn new(input: &[usize], weight: &[usize]) -> Self {
        let one = if input.len() == 4 {
            vec![1, 1]
        } else {
            vec![1]
        };
        let zero = if input.len() == 4 {
            vec![0, 0]
        } else {
            vec![0]
        };
        Conv {
            input: input.to_vec(),
            weight: weight.to_vec(),
            bias: true,
            stride: one.clone(),
            padding: zero.clone(),
            dilation: one,
            transposed: false,
            output_padding: zero,
            groups: 1,
            constant: true,
        }
    }
    fn stride(mut self, s: &[i64]) -> Self {
        self.stride = s.to_vec();
        self
    }
    fn padding(mut self, p: &[i64]) -> Self {
        self.padding = p.to_vec();
        self
    }
    fn dilation(mut self, d: &[i64]) -> Self {
        self.dilation = d.to_vec();
        self
    }
    fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }
    fn inputs(mut self) -> Self {
        self.constant = false;
        self
    }
    fn transposed(mut self, output_padding: &[i64]) -> Self {
        self.transposed = true;
        self.output_padding = output_padding.to_vec();
        self
    }
    /// Per-dim (H, W) value of a list: one entry means both dims for 2-D, and W (with H = `h`)
    /// for 1-D.
    fn hw2(&self, v: &[i64], h: i64) -> [i64; 2] {
        match v {
            [x] if self.input.len() == 4 => [*x, *x],
            [x] => [h, *x],
            [a, b] => [*a, *b],
            _ => unreachable!(),
        }
    }
    fn as4(s: &[usize]) -> [usize; 4] {
        if s.len() == 4 {
            [s[0], s[1], s[2], s[3]]
        } else {
            [s[0], s[1], 1, s[2]]
        }
    }
    fn cout(&self) -> usize {
        if self.transposed {
            self.weight[1] * self.groups
        } else {
            self.weight[0]
        }
    }
    fn out_shape(&self) -> Vec<usize> {
        let [n, _, h, w] = Self::as4(&self.input);
        let [_, _, kh, kw] = Self::as4(&self.weight);
        let (s, p, d, op) = (
            self.hw2(&self.stride, 1),
            self.hw2(&self.padding, 0),
            self.hw2(&self.dilation, 1),
            self.hw2(&self.output_padding, 0),
        );
        let ins = [h as i64, w as i64];
        let ks = [kh as i64, kw as i64];
        let o: Vec<usize> = (0..2)
            .map(|i| {
                if self.transposed {
                    ((ins[i] - 1) * s[i] - 2 * p[i] + d[i] * (ks[i] - 1) + op[i] + 1) as usize
                } else {
                    ((ins[i] + 2 * p[i] - d[i] * (ks[i] - 1) - 1) / s[i] + 1) as usize
                }
            })
            .collect();
        if self.input.len() == 4 {
            vec![n, self.cout(), o[0], o[1]]
        } else {
            vec![n, self.cout(), o[1]]
        }
    }

    /// Direct-loop reference (transposed conv in scatter form).
    fn reference(&self, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
        let [n, cin, h, wd] = Self::as4(&self.input);
        let [_, _, kh, kw] = Self::as4(&self.weight);
        let out_shape = Self::as4(&self.out_shape());
        let [_, cout, ho, wo] = out_shape;
        let (s, p, d) = (
            self.hw2(&self.stride, 1),
            self.hw2(&self.padding, 0),
            self.hw2(&self.dilation, 1),
        );
        let g = self.groups;
        let (cin_g, cout_g) = (cin / g, cout / g);
        let mut out = vec![0f64; n * cout * ho * wo];
        let oi = |b: usize, c: usize, y: usize, xx: usize| ((b * cout + c) * ho + y) * wo + xx;
        let xi = |b: usize, c: usize, y: usize, xx: usize| ((b * cin + c) * h + y) * wd + xx;
        if !self.transposed {
            for b in 0..n {
                for oc in 0..cout {
                    let grp = oc / cout_g;
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = if self.bias { bias[oc] as f64 } else { 0.0 };
                            for c in 0..cin_g {
                                let ic = grp * cin_g + c;
                                for ky in 0..kh {
                                    let iy = (oy as i64) * s[0] - p[0] + (ky as i64) * d[0];
                                    if iy < 0 || iy >= h as i64 {
                                        continue;
                                    }
                                    for kx in 0..kw {
                                        let ix = (ox as i64) * s[1] - p[1] + (kx as i64) * d[1];
                                        if ix < 0 || ix >= wd as i64 {
                                            continue;
                                        }
                                        let wv = w[((oc * cin_g + c) * kh + ky) * kw + kx];
                                        acc += x[xi(b, ic, iy as usize, ix as usize)] as f64
                                            * wv as f64;
                                    }
                                }
                            }
                            out[oi(b, oc, oy, ox)] = acc;
                        }
                    }
                }
            }
        } else {
            for b in 0..n {
                for oc in 0..cout {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            if self.bias {
                                out[oi(b, oc, oy, ox)] = bias[oc] as f64;
                            }
                        }
                    }
                }
                for ic in 0..cin {
                    let grp = ic / cin_g;
                    for iy in 0..h {
                        for ix in 0..wd {
                            let xv = x[xi(b, ic, iy, ix)] as f64;
                            for ocg in 0..cout_g {
                                let oc = grp * cout_g + ocg;
                                for ky in 0..kh {
                                    let oy = (iy as i64) * s[0] - p[0] + (ky as i64) * d[0];
                                    if oy < 0 || oy >= ho as i64 {
                                        continue;
                                    }
                                    for kx in 0..kw {
                                        let ox = (ix as i64) * s[1] - p[1] + (kx as i64) * d[1];
                                        if ox < 0 || ox >= wo as i64 {
                                            continue;
                                        }
                                        let wv = w[((ic * cout_g + ocg) * kh + ky) * kw + kx];
                                        out[oi(b, oc, oy as usize, ox as usize)] += xv * wv as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out.iter().map(|&v| v as f32).collect()
    }

    /// Builds the single-op graph; `clamp` = Some((min, max)) uses et_vk.conv_with_clamp.
    fn graph(
        &self,
        vw: &[f32],
        vb: &[f32],
        clamp: Option<(Option<f64>, Option<f64>)>,
    ) -> GraphBuilder {
        let mut g = GraphBuilder::new();
        let x = g.input(&self.input);
        let cout = self.cout();
        let (w, b) = if self.constant {
            let w = g.constant(&self.weight, vw);
            let b = if self.bias {
                g.constant(&[cout], vb)
            } else {
                g.null()
            };
            (w, b)
        } else {
            let w = g.input(&self.weight);
            let b = if self.bias {
                g.input(&[cout])
            } else {
                g.null()
            };
            (w, b)
        };
        let s = g.int_list(&self.stride);
        let p = g.int_list(&self.padding);
        let d = g.int_list(&self.dilation);
        let t = g.bool(self.transposed);
        let op = g.int_list(&self.output_padding);
        let gr = g.int(self.groups as i64);
        let out = g.f32(&self.out_shape());
        match clamp {
            None => g.op(
                "aten.convolution.default",
                &[x, w, b, s, p, d, t, op, gr, out],
            ),
            Some((lo, hi)) => {
                let lo = match lo {
                    Some(v) => g.double(v),
                    None => g.null(),
                };
                let hi = match hi {
                    Some(v) => g.double(v),
                    None => g.null(),
                };
                g.op(
                    "et_vk.conv_with_clamp.default",
                    &[x, w, b, s, p, d, t, op, gr, lo, hi, out],
                )
            }
        }
        g.output(out);
        g
    }

    fn check_with(&self, clamp: Option<(Option<f64>, Option<f64>)>) {
        let seed = self.input.iter().chain(&self.weight).sum::<usize>() as u64;
        let mut rng = Rng::new(seed);
        let vx = rng.vec(self.input.iter().product());
        let vw = rng.vec(self.weight.iter().product());
        let vb = rng.vec(self.cout());
        let mut want = self.reference(&vx, &vw, &vb);
        if let Some((lo, hi)) = clamp {
            let (lo, hi) = (lo.unwrap_or(f64::MIN) as f32, hi.unwrap_or(f64::MAX) as f32);
            want.iter_mut().for_each(|v| *v = v.max(lo).min(hi));
        }
        let g = self.graph(&vw, &vb, clamp);
        let bias_shape = [self.cout()];
        let mut inputs: Vec<(&[usize], &[f32])> = vec![(&self.input, &vx)];
        if !self.constant {
            inputs.push((&self.weight, &vw));
            if self.bias {
                inputs.push((&bias_shape, &vb));
            }
        }
        let got = g.run(&inputs).unwrap();
        let what = format!(
            "conv in {:?} w {:?} s {:?} p {:?} d {:?} g {} t {} bias {} clamp {clamp:?}",
            self.input,
            self.weight,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.transposed,
            self.bias
        );
        assert_close(&got[0], &want, 1e-4, 1e-4, &what);
    }

    fn check(&self) {
        self.check_with(None);
    }

    /// As `check`, and the convolution must run on `shader` (with constant weights).
    fn check_on(&self, shader: &str) {
        let mut rng = Rng::new(7);
        let vx = rng.vec(self.input.iter().product());
        let vw = rng.vec(self.weight.iter().product());
        let vb = rng.vec(self.cout());
        let want = self.reference(&vx, &vw, &vb);
        let mut d = self.graph(&vw, &vb, None).build().unwrap();
        let x = etvk::runtime::InputValue::Tensor(f32_host(&self.input, &vx));
        let got = d.run(&[x]).unwrap()[0].to_f32_vec();
        let shaders = kernels(&d);
        let what = format!(
            "conv in {:?} w {:?} s {:?} p {:?} d {:?} g {} bias {} on {shaders:?}",
            self.input,
            self.weight,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.bias
        );
        // conv2d_tiled_nchw: the tiled kernel reading the contiguous input where the device
        // reads storage buffers.
        let nchw = format!("{shader}_nchw");
        assert!(
            shaders.iter().any(|s| s == shader || *s == nchw),
            "{what}: expected {shader}"
        );
        assert_close(&got, &want, 1e-4, 1e-4, &what);
    }
}

#[test]
fn conv2d_basic_padding_bias() {
    Conv::new(&[1, 3, 8, 8], &[4, 3, 3, 3])
        .padding(&[1, 1])
        .check();
    Conv::new(&[1, 3, 21, 19], &[8, 3, 3, 3])
        .padding(&[1, 1])
        .check();
    Conv::new(&[1, 1, 1, 1], &[1, 1, 1, 1]).check();
}

#[test]
fn conv2d_stride_dilation_nonsquare() {
    Conv::new(&[2, 3, 7, 9], &[5, 3, 2, 3])
        .stride(&[2, 1])
        .padding(&[0, 2])
        .dilation(&[1, 2])
        .no_bias()
        .check();
    Conv::new(&[1, 5, 13, 11], &[3, 5, 5, 5])
        .stride(&[3, 3])
        .padding(&[2, 2])
        .check();
    Conv::new(&[3, 2, 10, 10], &[4, 2, 3, 3])
        .dilation(&[2, 2])
        .padding(&[2, 2])
        .check();
    Conv::new(&[1, 8, 10, 9], &[16, 8, 3, 3])
        .stride(&[2, 2])
        .check();
    // Single-entry lists expand to both dims.
    Conv::new(&[1, 2, 9, 7], &[3, 2, 3, 1])
        .stride(&[2])
        .padding(&[1])
        .dilation(&[1])
        .check();
}

#[test]
fn conv2d_groups_and_depthwise() {
    Conv::new(&[1, 4, 9, 9], &[6, 2, 3, 3])
        .groups(2)
        .stride(&[2, 2])
        .padding(&[1, 1])
        .check();
    Conv::new(&[1, 8, 15, 15], &[8, 1, 3, 3])
        .groups(8)
        .padding(&[1, 1])
        .check();
    // Depthwise with channel multiplier 2, batch 2, dilation.
    Conv::new(&[2, 3, 11, 8], &[6, 1, 3, 3])
        .groups(3)
        .dilation(&[2, 1])
        .padding(&[1, 0])
        .no_bias()
        .check();
    // Pointwise.
    Conv::new(&[1, 8, 15, 15], &[16, 8, 1, 1]).check();
}

#[test]
fn conv2d_weights_as_inputs() {
    Conv::new(&[2, 4, 6, 7], &[6, 2, 3, 2])
        .groups(2)
        .padding(&[1, 1])
        .inputs()
        .check();
    Conv::new(&[1, 3, 5, 5], &[2, 3, 3, 3])
        .no_bias()
        .inputs()
        .check();
}

#[test]
fn conv1d() {
    Conv::new(&[2, 4, 20], &[6, 2, 3])
        .groups(2)
        .stride(&[2])
        .padding(&[1])
        .dilation(&[2])
        .check();
    Conv::new(&[1, 3, 7], &[5, 3, 7]).no_bias().check();
    Conv::new(&[1, 6, 17], &[6, 1, 4])
        .groups(6)
        .padding(&[2])
        .inputs()
        .check();
}

#[test]
fn conv_transpose2d() {
    Conv::new(&[1, 4, 5, 6], &[4, 3, 3, 3])
        .stride(&[2, 2])
        .padding(&[1, 1])
        .transposed(&[1, 1])
        .check();
    Conv::new(&[2, 4, 4, 3], &[4, 2, 2, 3])
        .groups(2)
        .stride(&[1, 2])
        .dilation(&[2, 1])
        .transposed(&[0, 1])
        .no_bias()
        .check();
    Conv::new(&[1, 3, 7, 7], &[3, 5, 3, 3])
        .padding(&[1, 1])
        .transposed(&[0, 0])
        .inputs()
        .check();
    Conv::new(&[1, 4, 9], &[4, 2, 3])
        .stride(&[3])
        .transposed(&[2])
        .check();
}

#[test]
fn conv_with_clamp_variants() {
    let c = Conv::new(&[1, 3, 12, 10], &[8, 3, 3, 3])
        .stride(&[2, 2])
        .padding(&[1, 1]);
    c.check_with(Some((Some(0.0), Some(0.3))));
    c.check_with(Some((Some(0.0), Some(f64::MAX))));
    c.check_with(Some((None, Some(-0.1))));
    c.check_with(Some((Some(-0.2), None)));
    c.check_with(Some((None, None)));
    Conv::new(&[1, 8, 15, 15], &[8, 1, 3, 3])
        .groups(8)
        .padding(&[1, 1])
        .check_with(Some((Some(0.0), Some(6.0))));
}

#[test]
fn conv_with_clamp_int_bounds() {
    // Scalar bounds may arrive as Ints.
    let c = Conv::new(&[1, 2, 5, 5], &[3, 2, 3, 3]);
    let mut rng = Rng::new(3);
    let vx: Vec<f32> = rng.vec(50).iter().map(|v| v * 4.0).collect();
    let vw = rng.vec(54);
    let vb = rng.vec(3);
    let want: Vec<f32> = c
        .reference(&vx, &vw, &vb)
        .iter()
        .map(|v| v.clamp(-1.0, 1.0))
        .collect();
    let mut g = c.graph(&vw, &vb, Some((Some(0.0), Some(0.0))));
    // Replace the two Double bounds (the op's args 9 and 10) with Ints.
    let lo = g.int(-1);
    let hi = g.int(1);
    g.graph.chain[0].args[9] = lo;
    g.graph.chain[0].args[10] = hi;
    let got = g.run(&[(&c.input, &vx)]).unwrap();
    assert_close(&got[0], &want, 1e-4, 1e-4, "conv_with_clamp int bounds");
}

fn build_err(c: &Conv) -> etvk::Error {
    let vw = vec![0.0; c.weight.iter().product()];
    let vb = vec![0.0; c.cout()];
    c.graph(&vw, &vb, None).build().err().expect("must fail")
}

#[test]
fn invalid_convolutions_are_rejected() {
    // Weight's Cin/groups mismatch.
    let mut g = GraphBuilder::new();
    let x = g.input(&[1, 4, 5, 5]);
    let w = g.constant(&[2, 3, 3, 3], &[0.0; 54]);
    let b = g.null();
    let s = g.int_list(&[1, 1]);
    let p = g.int_list(&[0, 0]);
    let d = g.int_list(&[1, 1]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0]);
    let gr = g.int(1);
    let out = g.f32(&[1, 2, 3, 3]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, p, d, t, op, gr, out],
    );
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("groups"), "{}", err.message);

    // Groups not dividing the input channels.
    let err = build_err(&Conv::new(&[1, 3, 5, 5], &[2, 1, 3, 3]).groups(2));
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("divisible"), "{}", err.message);

    // Kernel larger than the padded input.
    let mut g = GraphBuilder::new();
    let x = g.input(&[1, 1, 2, 2]);
    let w = g.constant(&[1, 1, 3, 3], &[0.0; 9]);
    let b = g.null();
    let s = g.int_list(&[1, 1]);
    let p = g.int_list(&[0, 0]);
    let d = g.int_list(&[1, 1]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0]);
    let gr = g.int(1);
    let out = g.f32(&[1, 1, 1, 1]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, p, d, t, op, gr, out],
    );
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("empty output"), "{}", err.message);

    // 3-D convolution (rank-5 input) is not supported.
    let mut g = GraphBuilder::new();
    let x = g.input(&[1, 1, 3, 3, 3]);
    let w = g.constant(&[1, 1, 1, 1, 1], &[0.0]);
    let b = g.null();
    let s = g.int_list(&[1, 1, 1]);
    let p = g.int_list(&[0, 0, 0]);
    let d = g.int_list(&[1, 1, 1]);
    let t = g.bool(false);
    let op = g.int_list(&[0, 0, 0]);
    let gr = g.int(1);
    let out = g.f32(&[1, 1, 3, 3, 3]);
    g.op(
        "aten.convolution.default",
        &[x, w, b, s, p, d, t, op, gr, out],
    );
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::NotSupported);
}

/// The channels-packed kernels over edge shapes: channels not a multiple of 4, odd sizes,
/// padding, stride, dilation, batch > 1, 1-D.
#[test]
fn packed_pointwise_edges() {
    for (input, cout) in [
        (vec![1, 5, 7, 7], 7),
        (vec![3, 8, 5, 3], 12),
        (vec![2, 1, 1, 1], 1),
        (vec![1, 13, 9, 11], 9),
        (vec![2, 6, 17], 10),
    ] {
        let cin = input[1];
        let w = if input.len() == 4 {
            vec![cout, cin, 1, 1]
        } else {
            vec![cout, cin, 1]
        };
        Conv::new(&input, &w).check_on("conv2d_pw");
        Conv::new(&input, &w).no_bias().check_on("conv2d_pw");
    }
    Conv::new(&[2, 6, 9, 8], &[10, 6, 1, 1])
        .stride(&[2, 2])
        .check_on("conv2d_pw");
    Conv::new(&[1, 3, 5, 6], &[5, 3, 1, 1])
        .padding(&[1, 1])
        .stride(&[2, 2])
        .check_on("conv2d_pw");
}

#[test]
fn packed_depthwise_edges() {
    for (k, s, p, d) in [
        (3, 1, 1, 1),
        (3, 2, 1, 1),
        (5, 1, 2, 1),
        (5, 2, 2, 1),
        (3, 1, 2, 2),
        (3, 2, 0, 1),
    ] {
        for (n, c, h, w) in [(1, 6, 9, 11), (2, 9, 5, 4), (1, 4, 1, 7)] {
            if (h + 2 * p) < d * (k - 1) + 1 || (w + 2 * p) < d * (k - 1) + 1 {
                continue;
            }
            Conv::new(&[n, c, h, w], &[c, 1, k, k])
                .groups(c)
                .stride(&[s as i64, s as i64])
                .padding(&[p as i64, p as i64])
                .dilation(&[d as i64, d as i64])
                .check_on("conv2d_dw");
        }
    }
    Conv::new(&[2, 5, 16], &[5, 1, 3])
        .groups(5)
        .padding(&[1])
        .no_bias()
        .check_on("conv2d_dw");
}

#[test]
fn packed_tiled_edges() {
    Conv::new(&[1, 3, 16, 16], &[13, 3, 3, 3])
        .stride(&[2, 2])
        .padding(&[1, 1])
        .check_on("conv2d_tiled");
    Conv::new(&[2, 9, 7, 10], &[8, 9, 3, 3])
        .padding(&[1, 1])
        .check_on("conv2d_tiled");
    Conv::new(&[1, 4, 12, 9], &[5, 4, 5, 3])
        .stride(&[1, 2])
        .padding(&[2, 0])
        .dilation(&[1, 2])
        .no_bias()
        .check_on("conv2d_tiled");
    Conv::new(&[1, 16, 8, 8], &[32, 16, 3, 3])
        .padding(&[1, 1])
        .check_on("conv2d_tiled");
    Conv::new(&[1, 6, 9, 9], &[4, 6, 7, 7])
        .stride(&[2, 2])
        .padding(&[3, 3])
        .check_on("conv2d_tiled");
    Conv::new(&[3, 2, 25], &[6, 2, 5])
        .stride(&[2])
        .padding(&[2])
        .check_on("conv2d_tiled");
}

/// A chain of packed convolutions stays channels-packed: at most one conversion in, one out.
#[test]
fn packed_chain_converts_only_at_the_ends() {
    let mut rng = Rng::new(11);
    let (w1, b1) = (rng.vec(8 * 3 * 3 * 3), rng.vec(8));
    let (w2, b2) = (rng.vec(8 * 9), rng.vec(8));
    let (w3, b3) = (rng.vec(5 * 8), rng.vec(5));
    let mut g = GraphBuilder::new();
    let x = g.input(&[1, 3, 10, 10]);
    let conv = |g: &mut GraphBuilder,
                x,
                wv: &[f32],
                bv: &[f32],
                w: &[usize],
                groups,
                pad,
                out: &[usize]| {
        let cw = g.constant(w, wv);
        let cb = g.constant(&[w[0]], bv);
        let s = g.int_list(&[1, 1]);
        let p = g.int_list(&[pad, pad]);
        let d = g.int_list(&[1, 1]);
        let t = g.bool(false);
        let op = g.int_list(&[0, 0]);
        let gr = g.int(groups);
        let y = g.f32(out);
        g.op(
            "aten.convolution.default",
            &[x, cw, cb, s, p, d, t, op, gr, y],
        );
        y
    };
    let a = conv(&mut g, x, &w1, &b1, &[8, 3, 3, 3], 1, 1, &[1, 8, 10, 10]);
    let bb = conv(&mut g, a, &w2, &b2, &[8, 1, 3, 3], 8, 1, &[1, 8, 10, 10]);
    let c = conv(&mut g, bb, &w3, &b3, &[5, 8, 1, 1], 1, 0, &[1, 5, 10, 10]);
    g.output(c);
    let d = g.build().unwrap();
    let ks = kernels(&d);
    // Where the device reads storage buffers the first conv reads the contiguous input itself
    // (conv2d_tiled_nchw) and the last writes the contiguous output (conv2d_pw_nchw); through
    // texel views the graph's edges are converted.
    let want: &[&str] = match ks[0].as_str() {
        "conv2d_tiled_nchw" => &["conv2d_tiled_nchw", "conv2d_dw", "conv2d_pw_nchw"],
        _ => &[
            "to_channels4",
            "conv2d_tiled",
            "conv2d_dw",
            "conv2d_pw",
            "from_channels4",
        ],
    };
    assert_eq!(ks, want);
    let mut d = d;
    let xv = rng.vec(300);
    let got = d.run(&[etvk::runtime::InputValue::Tensor(f32_host(
        &[1, 3, 10, 10],
        &xv,
    ))]);
    let win = |pad| Window {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [pad, pad],
        dilation: [1, 1],
    };
    let (a, sa) = conv2d_ref(&xv, [1, 3, 10, 10], &w1, [8, 3, 3, 3], &b1, &win(1));
    let depthwise: Vec<f32> = (0..8)
        .flat_map(|c| {
            let plane = &a[c * 100..(c + 1) * 100];
            let w = &w2[c * 9..(c + 1) * 9];
            conv2d_ref(plane, [1, 1, 10, 10], w, [1, 1, 3, 3], &b2[c..=c], &win(1)).0
        })
        .collect();
    let (want_out, _) = conv2d_ref(&depthwise, sa, &w3, [5, 8, 1, 1], &b3, &win(0));
    let got = got.unwrap()[0].to_f32_vec();
    assert_close(&got, &want_out, 1e-4, 1e-4, "conv chain");
}
