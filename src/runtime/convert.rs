//! Conversion between ExecuTorch-side bytes and etvk's GPU representation: every float dtype
//! is stored as f32, every integer and bool dtype as i32 (64-bit integers are narrowed, which
//! the exporter's `downcast_64_bit` already assumes).

use crate::error::{Error, Result};
use crate::format::DType;
use crate::kernels::packing::Packing;
use crate::kernels::Elem;
use crate::runtime::host_tensor::{f32_to_half, half_to_f32};

/// Bytes per element on the GPU.
pub const GPU_ELEM_SIZE: usize = 4;

/// Converts `src` (elements of `dtype`) into GPU words written to `dst`.
pub fn to_gpu(dtype: DType, src: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = src.len() / dtype.size();
    if !src.len().is_multiple_of(dtype.size()) || dst.len() < n * GPU_ELEM_SIZE {
        return Err(Error::internal("to_gpu: buffer sizes do not match"));
    }
    let out = &mut dst[..n * GPU_ELEM_SIZE];
    match dtype {
        DType::Float32 | DType::Int32 => out.copy_from_slice(src),
        DType::Float16 => each(src, 2, out, |b| {
            half_to_f32(u16::from_le_bytes([b[0], b[1]])).to_le_bytes()
        }),
        DType::Float64 => each(src, 8, out, |b| {
            (f64::from_le_bytes(b.try_into().unwrap()) as f32).to_le_bytes()
        }),
        DType::Int64 => each(src, 8, out, |b| {
            let v = i64::from_le_bytes(b.try_into().unwrap());
            (v.clamp(i32::MIN as i64, i32::MAX as i64) as i32).to_le_bytes()
        }),
        DType::Int8 => each(src, 1, out, |b| (b[0] as i8 as i32).to_le_bytes()),
        DType::Uint8 => each(src, 1, out, |b| (b[0] as i32).to_le_bytes()),
        DType::Bool => each(src, 1, out, |b| ((b[0] != 0) as i32).to_le_bytes()),
    }
    Ok(())
}

/// Converts GPU words `src` (f32 when `gpu_float`, else i32) into elements of `dtype` in `dst`.
pub fn from_gpu(gpu_float: bool, src: &[u8], dtype: DType, dst: &mut [u8]) -> Result<()> {
    let n = src.len() / GPU_ELEM_SIZE;
    if dst.len() < n * dtype.size() {
        return Err(Error::internal("from_gpu: destination too small"));
    }
    let dst = &mut dst[..n * dtype.size()];
    if (dtype == DType::Float32 && gpu_float) || (dtype == DType::Int32 && !gpu_float) {
        // One wide copy: host transfer buffers may be uncached, where each 4-byte load
        // would be a bus round trip (a 16 KB output took 25 µs on the H200).
        dst.copy_from_slice(&src[..dst.len()]);
        return Ok(());
    }
    let word = |b: &[u8]| -> f64 {
        let bytes: [u8; 4] = b.try_into().unwrap();
        if gpu_float {
            f32::from_le_bytes(bytes) as f64
        } else {
            i32::from_le_bytes(bytes) as f64
        }
    };
    let esz = dtype.size();
    for (w, o) in src
        .chunks_exact(GPU_ELEM_SIZE)
        .zip(dst.chunks_exact_mut(esz))
    {
        match dtype {
            DType::Float32 => o.copy_from_slice(&(word(w) as f32).to_le_bytes()),
            DType::Float16 => o.copy_from_slice(&f32_to_half(word(w) as f32).to_le_bytes()),
            DType::Float64 => o.copy_from_slice(&word(w).to_le_bytes()),
            DType::Int32 => o.copy_from_slice(&(word(w) as i32).to_le_bytes()),
            DType::Int64 => o.copy_from_slice(&(word(w) as i64).to_le_bytes()),
            DType::Int8 => o[0] = word(w) as i8 as u8,
            DType::Uint8 => o[0] = word(w) as u8,
            DType::Bool => o[0] = (word(w) != 0.0) as u8,
        }
    }
    Ok(())
}

fn each<const K: usize>(src: &[u8], step: usize, out: &mut [u8], f: impl Fn(&[u8]) -> [u8; K]) {
    for (s, o) in src
        .chunks_exact(step)
        .zip(out.chunks_exact_mut(GPU_ELEM_SIZE))
    {
        o.copy_from_slice(&f(s));
    }
}

/// Writes device elements (`elem`) `first..first + out.len() / elem.bytes()` of `src`
/// (elements of `dtype`) re-laid out by `packing` (`None`: in source order) into `out`;
/// padding is zero. f16 elements come from float dtypes only.
pub fn pack_to_gpu(
    dtype: DType,
    src: &[u8],
    packing: Option<Packing>,
    elem: Elem,
    first: usize,
    out: &mut [u8],
) -> Result<()> {
    let es = dtype.size();
    let eb = elem.bytes();
    let n = out.len() / eb;
    let len = packing.map_or(src.len() / es, |p| p.packed_len());
    if first + n > len || packing.is_some_and(|p| src.len() < p.source_len() * es) {
        return Err(Error::internal(
            "pack_to_gpu: sizes do not match the weight",
        ));
    }
    if elem == Elem::F16 && !dtype.is_float() {
        return Err(Error::internal(
            "pack_to_gpu: f16 elements of an integer tensor",
        ));
    }
    if elem == Elem::U8 {
        // Raw bytes of an 8-bit constant, as the file has them.
        if es != 1 || packing.is_some() {
            return Err(Error::internal(format!(
                "pack_to_gpu: {dtype:?} constants cannot be kept as raw bytes"
            )));
        }
        out.copy_from_slice(&src[first..first + n]);
        return Ok(());
    }
    if packing.is_none() && elem != Elem::F16 {
        return to_gpu(dtype, &src[first * es..(first + n) * es], out);
    }
    let source = |k: usize| match packing {
        Some(p) => p.source_index(first + k),
        None => Some(first + k),
    };
    for (k, o) in out.chunks_exact_mut(eb).enumerate() {
        match source(k) {
            None => o.fill(0),
            Some(j) if elem == Elem::F16 => {
                let b = &src[j * es..(j + 1) * es];
                let h = match dtype {
                    DType::Float16 => u16::from_le_bytes([b[0], b[1]]),
                    DType::Float64 => f32_to_half(f64::from_le_bytes(b.try_into().unwrap()) as f32),
                    _ => f32_to_half(f32::from_le_bytes(b.try_into().unwrap())),
                };
                o.copy_from_slice(&h.to_le_bytes());
            }
            Some(j) => to_gpu(dtype, &src[j * es..(j + 1) * es], o)?,
        }
    }
    Ok(())
}
