//! max_pool2d(_with_indices) and avg_pool2d against direct-loop CPU references: ceil_mode,
//! padding, stride != kernel, default (empty) stride, dilation (max), count_include_pad both
//! ways, divisor_override, rank 3 and 4 inputs, Int32/Int64 indices.
mod common;
use common::*;
use etvk::format::DType;

#[derive(Clone)]
struct Pool {
    input: Vec<usize>,
    kernel: [i64; 2],
    /// Empty = the kernel size (the schema default).
    stride: Vec<i64>,
    padding: [i64; 2],
    dilation: [i64; 2],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
}

impl Pool {
    fn new(input: &[usize], kernel: [i64; 2]) -> Self {
        Pool {
            input: input.to_vec(),
            kernel,
            stride: vec![],
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
    fn stride(mut self, s: &[i64]) -> Self {
        self.stride = s.to_vec();
        self
    }
    fn padding(mut self, p: [i64; 2]) -> Self {
        self.padding = p;
        self
    }
    fn dilation(mut self, d: [i64; 2]) -> Self {
        self.dilation = d;
        self
    }
    fn ceil(mut self) -> Self {
        self.ceil_mode = true;
        self
    }
    fn exclude_pad(mut self) -> Self {
        self.count_include_pad = false;
        self
    }
    fn divisor(mut self, d: i64) -> Self {
        self.divisor_override = Some(d);
        self
    }
    fn stride2(&self) -> [i64; 2] {
        match self.stride.as_slice() {
            [] => self.kernel,
            [s] => [*s, *s],
            [h, w] => [*h, *w],
            _ => panic!("bad stride"),
        }
    }
    /// (planes, H, W).
    fn dims(&self) -> (usize, usize, usize) {
        let r = self.input.len();
        let planes = self.input[..r - 2].iter().product();
        (planes, self.input[r - 2], self.input[r - 1])
    }
    /// PyTorch's pooling output size for spatial dim `d` (0 = H, 1 = W).
    fn out_len(&self, input: usize, d: usize, dilation: i64) -> usize {
        let (k, s, p) = (self.kernel[d], self.stride2()[d], self.padding[d]);
        pool_out_len(input, k, s, p, dilation, self.ceil_mode)
    }
    fn out_sizes(&self, max: bool) -> Vec<usize> {
        let (_, h, w) = self.dims();
        let (dh, dw) = if max {
            (self.dilation[0], self.dilation[1])
        } else {
            (1, 1)
        };
        let mut s = self.input.clone();
        let r = s.len();
        s[r - 2] = self.out_len(h, 0, dh);
        s[r - 1] = self.out_len(w, 1, dw);
        s
    }
}

/// Max pooling reference (`common::max_pool_ref`) for case `c`.
fn max_pool_ref(x: &[f32], c: &Pool) -> (Vec<f32>, Vec<f32>) {
    let (planes, h, w) = c.dims();
    let out = c.out_sizes(true);
    let out_hw = [out[out.len() - 2], out[out.len() - 1]];
    let win = Window {
        kernel: c.kernel,
        stride: c.stride2(),
        padding: c.padding,
        dilation: c.dilation,
    };
    common::max_pool_ref(x, planes, [h, w], out_hw, &win)
}

/// Average pooling reference, from the definition: the window clipped to the padded input
/// counts for count_include_pad; the sum runs over the window clipped to the input.
fn avg_pool_ref(x: &[f32], c: &Pool) -> Vec<f32> {
    let (planes, h, w) = c.dims();
    let out = c.out_sizes(false);
    let (oh, ow) = (out[out.len() - 2], out[out.len() - 1]);
    let s = c.stride2();
    let (ph, pw) = (c.padding[0], c.padding[1]);
    let mut res = vec![];
    for pl in 0..planes {
        for y in 0..oh {
            for xo in 0..ow {
                let (mut sum, mut n_in, mut n_padded) = (0.0f64, 0i64, 0i64);
                for ky in 0..c.kernel[0] {
                    for kx in 0..c.kernel[1] {
                        let iy = y as i64 * s[0] - ph + ky;
                        let ix = xo as i64 * s[1] - pw + kx;
                        if iy < h as i64 + ph && ix < w as i64 + pw {
                            n_padded += 1;
                        }
                        if iy >= 0 && ix >= 0 && iy < h as i64 && ix < w as i64 {
                            n_in += 1;
                            sum += x[pl * h * w + iy as usize * w + ix as usize] as f64;
                        }
                    }
                }
                let div = match c.divisor_override {
                    Some(d) => d,
                    None if c.count_include_pad => n_padded,
                    None => n_in,
                };
                res.push(if n_in == 0 {
                    0.0
                } else {
                    (sum / div as f64) as f32
                });
            }
        }
    }
    res
}

fn input_values(c: &Pool, seed: u64) -> Vec<f32> {
    Rng::new(seed).vec(c.input.iter().product())
}

/// Common args: (self, kernel_size, stride, padding).
fn head_args(g: &mut GraphBuilder, c: &Pool) -> Vec<usize> {
    let x = g.input(&c.input);
    let k = g.int_list(&c.kernel);
    let s = g.int_list(&c.stride);
    let p = g.int_list(&c.padding);
    vec![x, k, s, p]
}

fn run_max(c: &Pool, values: &[f32], index_dtype: Option<DType>) {
    let out_sizes = c.out_sizes(true);
    let mut g = GraphBuilder::new();
    let mut args = head_args(&mut g, c);
    args.push(g.int_list(&c.dilation));
    args.push(g.bool(c.ceil_mode));
    let out = g.f32(&out_sizes);
    let idx = index_dtype.map(|dt| g.tensor(dt, &out_sizes));
    match idx {
        Some(i) => {
            args.push(g.value_list(&[out, i]));
            g.op("aten.max_pool2d_with_indices.default", &args);
        }
        None => {
            args.push(out);
            g.op("aten.max_pool2d.default", &args);
        }
    }
    g.output(out);
    if let Some(i) = idx {
        g.output(i);
    }
    let got = g.run(&[(&c.input, values)]).unwrap();
    let (want, want_idx) = max_pool_ref(values, c);
    let what = format!(
        "max_pool2d in {:?} k {:?} s {:?} p {:?} d {:?} ceil {}",
        c.input, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode
    );
    assert_close(&got[0], &want, 0.0, 0.0, &what);
    if idx.is_some() {
        assert_close(&got[1], &want_idx, 0.0, 0.0, &format!("{what} indices"));
    }
}

fn run_avg(c: &Pool, seed: u64) {
    let values = input_values(c, seed);
    let out_sizes = c.out_sizes(false);
    let mut g = GraphBuilder::new();
    let mut args = head_args(&mut g, c);
    args.push(g.bool(c.ceil_mode));
    args.push(g.bool(c.count_include_pad));
    args.push(match c.divisor_override {
        Some(d) => g.int(d),
        None => g.null(),
    });
    let out = g.f32(&out_sizes);
    args.push(out);
    g.op("aten.avg_pool2d.default", &args);
    g.output(out);
    let got = g.run(&[(&c.input, &values)]).unwrap();
    let want = avg_pool_ref(&values, c);
    let what = format!(
        "avg_pool2d in {:?} k {:?} s {:?} p {:?} ceil {} include_pad {} divisor {:?}",
        c.input,
        c.kernel,
        c.stride,
        c.padding,
        c.ceil_mode,
        c.count_include_pad,
        c.divisor_override
    );
    assert_close(&got[0], &want, 1e-5, 1e-5, &what);
}

fn max_cases() -> Vec<Pool> {
    vec![
        Pool::new(&[1, 1, 5, 5], [3, 3]).stride(&[1, 1]),
        Pool::new(&[2, 3, 7, 9], [3, 3])
            .stride(&[2])
            .padding([1, 1]),
        Pool::new(&[2, 3, 8, 7], [2, 3])
            .stride(&[2, 1])
            .padding([1, 1])
            .ceil(),
        Pool::new(&[3, 10, 11], [3, 3])
            .stride(&[2, 2])
            .padding([1, 1])
            .dilation([2, 2])
            .ceil(),
        Pool::new(&[1, 2, 9, 13], [3, 2])
            .dilation([2, 3])
            .stride(&[1, 2]),
        // Default stride (= kernel), non-divisible sizes, both ceil modes.
        Pool::new(&[2, 5, 7, 7], [2, 2]),
        Pool::new(&[2, 5, 7, 7], [2, 2]).ceil(),
        // ceil_mode drops the window that would start in the right padding.
        Pool::new(&[1, 2, 6, 6], [2, 2])
            .stride(&[4, 4])
            .padding([1, 1])
            .ceil(),
    ]
}

#[test]
fn max_pool2d_matches_reference() {
    for (i, c) in max_cases().iter().enumerate() {
        run_max(c, &input_values(c, i as u64 + 1), None);
    }
}

#[test]
fn max_pool2d_with_indices_matches_reference() {
    for (i, c) in max_cases().iter().enumerate() {
        let dt = if i % 2 == 0 {
            DType::Int64
        } else {
            DType::Int32
        };
        run_max(c, &input_values(c, i as u64 + 100), Some(dt));
    }
}

#[test]
fn ceil_mode_output_sizes_follow_pytorch() {
    // Hand-checked against torch.nn.functional.max_pool2d.
    let c = Pool::new(&[1, 2, 6, 6], [2, 2])
        .stride(&[4, 4])
        .padding([1, 1])
        .ceil();
    assert_eq!(c.out_sizes(true), vec![1, 2, 2, 2]);
    let c = Pool::new(&[2, 5, 7, 7], [2, 2]).ceil();
    assert_eq!(c.out_sizes(true), vec![2, 5, 4, 4]);
    let c = Pool::new(&[2, 5, 7, 7], [2, 2]);
    assert_eq!(c.out_sizes(true), vec![2, 5, 3, 3]);
}

#[test]
fn max_pool_ignores_padding_and_takes_first_of_ties() {
    // All-negative input: padding must not act as zero.
    let c = Pool::new(&[1, 1, 4, 5], [3, 3])
        .stride(&[2, 2])
        .padding([1, 1]);
    let n: usize = c.input.iter().product();
    let neg: Vec<f32> = (0..n).map(|i| -1.0 - i as f32 * 0.01).collect();
    run_max(&c, &neg, Some(DType::Int64));
    // Constant input: every element ties, the first in-bounds one wins.
    run_max(&c, &vec![0.5; n], Some(DType::Int32));
}

#[test]
fn avg_pool2d_matches_reference() {
    let cases = [
        Pool::new(&[1, 1, 5, 5], [3, 3]).stride(&[1, 1]),
        Pool::new(&[2, 3, 7, 9], [3, 3])
            .stride(&[2, 2])
            .padding([1, 1]),
        Pool::new(&[2, 3, 7, 9], [3, 3])
            .stride(&[2, 2])
            .padding([1, 1])
            .exclude_pad(),
        Pool::new(&[2, 3, 8, 7], [2, 3])
            .stride(&[2, 1])
            .padding([1, 1])
            .ceil(),
        Pool::new(&[2, 3, 8, 7], [2, 3])
            .stride(&[2, 1])
            .padding([1, 1])
            .ceil()
            .exclude_pad(),
        Pool::new(&[3, 10, 11], [3, 2])
            .stride(&[2, 3])
            .padding([1, 1])
            .ceil(),
        Pool::new(&[2, 5, 7, 7], [2, 2]).ceil(),
        Pool::new(&[2, 5, 7, 7], [2, 2]).ceil().exclude_pad(),
        Pool::new(&[1, 2, 6, 6], [2, 2])
            .stride(&[4, 4])
            .padding([1, 1])
            .ceil(),
        Pool::new(&[2, 3, 7, 9], [3, 3])
            .stride(&[2, 2])
            .padding([1, 1])
            .divisor(5),
        Pool::new(&[2, 5, 7, 7], [2, 2]).ceil().divisor(3),
        Pool::new(&[4, 6, 6], [6, 6]),
    ];
    for (i, c) in cases.iter().enumerate() {
        run_avg(c, i as u64 + 7);
    }
}

fn build_err(c: &Pool, out_sizes: &[usize], avg: bool) -> etvk::Error {
    let mut g = GraphBuilder::new();
    let mut args = head_args(&mut g, c);
    if avg {
        args.push(g.bool(c.ceil_mode));
        args.push(g.bool(c.count_include_pad));
        args.push(match c.divisor_override {
            Some(d) => g.int(d),
            None => g.null(),
        });
    } else {
        args.push(g.int_list(&c.dilation));
        args.push(g.bool(c.ceil_mode));
    }
    let out = g.f32(out_sizes);
    args.push(out);
    let name = if avg {
        "aten.avg_pool2d.default"
    } else {
        "aten.max_pool2d.default"
    };
    g.op(name, &args);
    g.output(out);
    g.build().err().expect("must fail")
}

#[test]
fn invalid_arguments_are_rejected() {
    // Padding above half the kernel.
    let c = Pool::new(&[1, 1, 8, 8], [3, 3]).padding([2, 2]);
    let err = build_err(&c, &[1, 1, 4, 4], false);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("padding"), "{}", err.message);

    // Rank 2 input.
    let c = Pool::new(&[8, 8], [2, 2]);
    let err = build_err(&c, &[4, 4], true);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("rank"), "{}", err.message);

    // Output sizes that disagree with the ceil_mode rule.
    let c = Pool::new(&[2, 5, 7, 7], [2, 2]);
    let err = build_err(&c, &[2, 5, 4, 4], false);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);

    // Zero divisor.
    let c = Pool::new(&[1, 1, 4, 4], [2, 2]).divisor(0);
    let err = build_err(&c, &[1, 1, 2, 2], true);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("divisor"), "{}", err.message);

    // Kernel larger than the (padded) input.
    let c = Pool::new(&[1, 1, 2, 2], [3, 3]);
    let err = build_err(&c, &[1, 1, 1, 1], false);
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("too small"), "{}", err.message);
}

/// The wheel's test_vulkan_delegate.py pooling tests: programs exported at [5, 13, 55, 68] with
/// only the batch dynamic (bound 8), then run on inputs whose C, H or W exceed their serialized
/// sizes while the element count fits (ExecuTorch accepts those). Each run follows the
/// reference for its own sizes.
#[test]
fn pooling_follows_inputs_whose_dims_exceed_the_bounds() {
    let bound = [8usize, 13, 55, 68];
    let avg = Pool::new(&bound, [4, 4]).stride(&[4, 4]).ceil();
    let max = Pool::new(&bound, [2, 3]).stride(&[1, 1]);
    let mut g = GraphBuilder::new();
    let x = g.input(&bound);
    let mut avg_args = vec![x, g.int_list(&avg.kernel), g.int_list(&avg.stride)];
    avg_args.extend([g.int_list(&[0, 0]), g.bool(true), g.bool(true), g.null()]);
    let avg_out = g.f32(&avg.out_sizes(false));
    avg_args.push(avg_out);
    g.op("aten.avg_pool2d.default", &avg_args);
    let mut max_args = vec![x, g.int_list(&max.kernel), g.int_list(&max.stride)];
    max_args.extend([g.int_list(&[0, 0]), g.int_list(&[1, 1]), g.bool(false)]);
    let max_sizes = max.out_sizes(true);
    let (max_out, max_idx) = (g.f32(&max_sizes), g.tensor(DType::Int64, &max_sizes));
    max_args.push(g.value_list(&[max_out, max_idx]));
    g.op("aten.max_pool2d_with_indices.default", &max_args);
    for o in [avg_out, max_out, max_idx] {
        g.output(o);
    }
    let mut d = g.build().unwrap();
    for (i, sizes) in [
        [3usize, 14, 15, 9],
        [1, 1, 4, 6],
        [5, 10, 50, 40],
        [8, 13, 55, 68],
    ]
    .iter()
    .enumerate()
    {
        let (mut a, mut m) = (avg.clone(), max.clone());
        a.input = sizes.to_vec();
        m.input = sizes.to_vec();
        let values = input_values(&a, i as u64 + 300);
        let got = d
            .run(&[etvk::runtime::InputValue::Tensor(f32_host(sizes, &values))])
            .unwrap();
        let what = format!("input {sizes:?}");
        assert_eq!(got[0].sizes, a.out_sizes(false), "{what}: avg sizes");
        assert_close(
            &got[0].to_f32_vec(),
            &avg_pool_ref(&values, &a),
            1e-5,
            1e-5,
            &what,
        );
        let (want, want_idx) = max_pool_ref(&values, &m);
        assert_eq!(got[1].sizes, m.out_sizes(true), "{what}: max sizes");
        assert_close(&got[1].to_f32_vec(), &want, 0.0, 0.0, &what);
        assert_close(
            &got[2].to_f32_vec(),
            &want_idx,
            0.0,
            0.0,
            &format!("{what} indices"),
        );
    }
}
