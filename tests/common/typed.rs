//! Typed host tensors for elementwise tests: values as f64 encoded in any dtype, a
//! broadcasting CPU reference, and comparison that treats infinities exactly.
#![allow(dead_code)]

use crate::common::*;
use etvk::format::DType;
use etvk::runtime::{HostTensor, InputValue};

#[derive(Clone)]
/// A typed host tensor for tests: values as f64, encoded in `dtype` when run.
pub struct Typed {
    pub dtype: DType,
    pub sizes: Vec<usize>,
    pub v: Vec<f64>,
}

impl Typed {
    pub fn new(dtype: DType, sizes: &[usize], v: Vec<f64>) -> Self {
        assert_eq!(v.len(), sizes.iter().product::<usize>());
        Typed {
            dtype,
            sizes: sizes.to_vec(),
            v,
        }
    }
    /// Deterministic values: integers in [-lim, lim] for integer dtypes ([0, lim] for uint8), 0/1 for bool,
    /// uniform in [-lim, lim) for floats.
    pub fn random(dtype: DType, sizes: &[usize], lim: f64, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let n = sizes.iter().product();
        let v = (0..n)
            .map(|_| {
                let u = rng.f32() as f64;
                match dtype {
                    DType::Bool => (u > 0.0) as i32 as f64,
                    DType::Uint8 => (u.abs() * (lim + 0.5)).round(),
                    d if d.is_float() => u * lim,
                    _ => (u * (lim + 0.5)).round(),
                }
            })
            .collect();
        Typed::new(dtype, sizes, v)
    }
    pub fn host(&self) -> InputValue {
        let data: Vec<u8> = match self.dtype {
            DType::Float32 => self
                .v
                .iter()
                .flat_map(|&x| (x as f32).to_le_bytes())
                .collect(),
            DType::Int32 => self
                .v
                .iter()
                .flat_map(|&x| (x as i32).to_le_bytes())
                .collect(),
            DType::Int64 => self
                .v
                .iter()
                .flat_map(|&x| (x as i64).to_le_bytes())
                .collect(),
            DType::Bool | DType::Uint8 => self.v.iter().map(|&x| x as u8).collect(),
            DType::Int8 => self.v.iter().map(|&x| x as i8 as u8).collect(),
            d => panic!("unsupported test dtype {d:?}"),
        };
        InputValue::Tensor(HostTensor::new(self.dtype, self.sizes.clone(), data).unwrap())
    }
    /// Adds this tensor to `g` as a graph input.
    pub fn input(&self, g: &mut GraphBuilder) -> usize {
        let id = g.tensor(self.dtype, &self.sizes);
        g.graph.input_ids.push(id);
        id
    }
}

/// Builds and runs `g` on `inputs`; returns each output's dtype and values.
pub fn run_typed(g: &GraphBuilder, inputs: &[&Typed]) -> etvk::Result<Vec<(DType, Vec<f32>)>> {
    let mut d = g.build()?;
    let inputs: Vec<InputValue> = inputs.iter().map(|t| t.host()).collect();
    Ok(d.run(&inputs)?
        .iter()
        .map(|t| (t.dtype, t.to_f32_vec()))
        .collect())
}

/// PyTorch broadcast of any number of shapes.
pub fn broadcast_all(shapes: &[&[usize]]) -> Vec<usize> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..rank)
        .map(|i| {
            shapes
                .iter()
                .map(|s| {
                    let off = rank - s.len();
                    if i < off {
                        1
                    } else {
                        s[i - off]
                    }
                })
                .max()
                .unwrap()
        })
        .collect()
}

/// Element `i` (row-major index into `out`) of `t` broadcast to `out`.
pub fn at(t: &Typed, out: &[usize], i: usize) -> f64 {
    let off = out.len() - t.sizes.len();
    let (mut rem, mut idx, mut stride) = (i, 0, 1);
    for d in (0..out.len()).rev() {
        let c = rem % out[d];
        rem /= out[d];
        if d >= off {
            let s = t.sizes[d - off];
            if s != 1 {
                idx += c * stride;
            }
            stride *= s;
        }
    }
    t.v[idx]
}

/// `f` over the broadcast of `ts`, with the output sizes.
pub fn reference(ts: &[&Typed], f: impl Fn(&[f64]) -> f64) -> (Vec<f32>, Vec<usize>) {
    let shapes: Vec<&[usize]> = ts.iter().map(|t| t.sizes.as_slice()).collect();
    let out = broadcast_all(&shapes);
    let n: usize = out.iter().product();
    let v = (0..n)
        .map(|i| {
            let args: Vec<f64> = ts.iter().map(|t| at(t, &out, i)).collect();
            f(&args) as f32
        })
        .collect();
    (v, out)
}

/// `assert_close`, also accepting equal infinities.
pub fn assert_close_inf(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    let same = |v: &[f32], o: &[f32]| -> Vec<f32> {
        v.iter()
            .zip(o)
            .map(|(a, b)| if a == b { 0.0 } else { *a })
            .collect()
    };
    assert_close(&same(got, want), &same(want, got), atol, rtol, what);
}
