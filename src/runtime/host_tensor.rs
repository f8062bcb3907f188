//! Tensors as they cross the delegate boundary: host memory in ExecuTorch's dtype.

use crate::error::{Error, Result};
use crate::format::DType;

/// A contiguous host tensor (row-major, dim order 0..n), bytes in `dtype`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub dtype: DType,
    pub sizes: Vec<usize>,
    pub data: Vec<u8>,
}

impl HostTensor {
    /// Checks that `data` holds exactly `prod(sizes) * dtype.size()` bytes.
    pub fn new(dtype: DType, sizes: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let want = sizes.iter().product::<usize>() * dtype.size();
        if data.len() != want {
            return Err(Error::invalid_argument(format!(
                "tensor of sizes {sizes:?} and dtype {dtype:?} needs {want} bytes, got {}",
                data.len()
            )));
        }
        Ok(HostTensor { dtype, sizes, data })
    }

    pub fn from_f32(sizes: Vec<usize>, values: &[f32]) -> Result<Self> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::new(DType::Float32, sizes, data)
    }

    pub fn numel(&self) -> usize {
        self.sizes.iter().product()
    }

    /// The elements as i64: exact for integer dtypes, floats truncated toward zero.
    pub fn to_i64_vec(&self) -> Vec<i64> {
        let b = &self.data;
        match self.dtype {
            DType::Int32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            DType::Int64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            DType::Int8 => b.iter().map(|&v| v as i8 as i64).collect(),
            DType::Uint8 | DType::Bool => b.iter().map(|&v| v as i64).collect(),
            _ => self.to_f32_vec().into_iter().map(|v| v as i64).collect(),
        }
    }

    /// The elements as f32 (converting from any numeric dtype); for tests and comparisons.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        let n = self.numel();
        let b = &self.data;
        (0..n)
            .map(|i| match self.dtype {
                DType::Float32 => f32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()),
                DType::Float64 => {
                    f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()) as f32
                }
                DType::Float16 => half_to_f32(u16::from_le_bytes([b[i * 2], b[i * 2 + 1]])),
                DType::Int32 => i32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()) as f32,
                DType::Int64 => i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()) as f32,
                DType::Int8 => b[i] as i8 as f32,
                DType::Uint8 | DType::Bool => b[i] as f32,
            })
            .collect()
    }
}

/// IEEE binary16 to f32.
pub fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let shift = f.leading_zeros() - 21;
            let f = (f << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (f << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// f32 to IEEE binary16, round to nearest even.
pub fn f32_to_half(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if frac != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = frac | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let mut r = m >> shift;
        let rem = m & ((1 << shift) - 1);
        if rem > half || (rem == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (frac >> 13);
    let rem = frac & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) {
        r += 1;
    }
    sign | r as u16
}

/// One delegate input: a tensor, or a plain int (a SymInt input).
#[derive(Debug, Clone, PartialEq)]
pub enum InputValue {
    Tensor(HostTensor),
    Int(i64),
}
