//! The 30-byte `VH00` header at the start of a Vulkan delegate blob (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | zero bytes |
//! | 4 | 4 | magic `VH00` |
//! | 8 | 2 | header length, u16 (30) |
//! | 10 | 4 | flatbuffer offset, u32 |
//! | 14 | 4 | flatbuffer size, u32 (unpadded) |
//! | 18 | 4 | raw-bytes offset, u32 |
//! | 22 | 8 | raw-bytes size, u64 |

use std::ops::Range;

use crate::error::Result;
use crate::{bail, ensure};

/// Length of the header as written by the exporter (and the minimum accepted).
pub const HEADER_LEN: usize = 30;
/// The header magic at bytes 4..8.
pub const MAGIC: [u8; 4] = *b"VH00";
/// Sections of a blob are aligned to this many bytes by the exporter.
pub const ALIGNMENT: usize = 16;

/// A parsed and validated header: byte ranges of the two sections, both inside the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header length field (>= [`HEADER_LEN`]).
    pub header_len: usize,
    /// Where the `VK00` flatbuffer lies in the blob (non-empty).
    pub flatbuffer: Range<usize>,
    /// Where the raw-bytes section (inline constants) lies in the blob (may be empty).
    pub raw_bytes: Range<usize>,
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// True when the two ranges share at least one byte (empty ranges share nothing).
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < a.end && b.start < b.end && a.start < b.end && b.start < a.end
}

/// Rounds `n` up to a multiple of [`ALIGNMENT`]; `None` on overflow.
pub fn align_up(n: usize) -> Option<usize> {
    n.checked_add(ALIGNMENT - 1)
        .map(|v| v / ALIGNMENT * ALIGNMENT)
}

impl Header {
    /// Parses and validates the header of `blob`. Every failure is `InvalidProgram` with a
    /// message naming the problem.
    pub fn parse(blob: &[u8]) -> Result<Header> {
        let len = blob.len();
        ensure!(
            len >= HEADER_LEN,
            InvalidProgram,
            "delegate blob is {len} bytes, shorter than the {HEADER_LEN}-byte VH00 header"
        );
        let magic = blob.get(4..8).unwrap_or(&[]);
        ensure!(
            magic == MAGIC,
            InvalidProgram,
            "bad delegate blob magic {magic:02x?}, expected \"VH00\""
        );
        let (Some(header_len), Some(fb_off), Some(fb_size), Some(raw_off), Some(raw_size)) = (
            read_u16(blob, 8),
            read_u32(blob, 10),
            read_u32(blob, 14),
            read_u32(blob, 18),
            read_u64(blob, 22),
        ) else {
            bail!(
                InvalidProgram,
                "delegate blob is {len} bytes, shorter than the VH00 header"
            );
        };
        let header_len = usize::from(header_len);
        ensure!(
            header_len >= HEADER_LEN,
            InvalidProgram,
            "VH00 header length {header_len} is less than {HEADER_LEN}"
        );
        ensure!(
            header_len <= len,
            InvalidProgram,
            "VH00 header length {header_len} runs past the end of the {len}-byte blob"
        );
        ensure!(
            fb_size != 0,
            InvalidProgram,
            "zero flatbuffer size in VH00 header"
        );

        let to_usize = |v: u64, what: &str| -> Result<usize> {
            match usize::try_from(v) {
                Ok(v) => Ok(v),
                Err(_) => bail!(InvalidProgram, "{what} {v} overflows usize"),
            }
        };
        let fb_start = to_usize(u64::from(fb_off), "flatbuffer offset")?;
        let fb_size = to_usize(u64::from(fb_size), "flatbuffer size")?;
        let Some(fb_end) = fb_start.checked_add(fb_size) else {
            bail!(
                InvalidProgram,
                "flatbuffer range {fb_start} + {fb_size} overflows"
            );
        };
        ensure!(
            fb_end <= len,
            InvalidProgram,
            "flatbuffer range {fb_start}..{fb_end} runs past the end of the {len}-byte blob"
        );
        ensure!(
            fb_start >= header_len,
            InvalidProgram,
            "flatbuffer range {fb_start}..{fb_end} overlaps the {header_len}-byte header"
        );

        let raw_start = to_usize(u64::from(raw_off), "raw-bytes offset")?;
        let raw_size = to_usize(raw_size, "raw-bytes size")?;
        let Some(raw_end) = raw_start.checked_add(raw_size) else {
            bail!(
                InvalidProgram,
                "raw-bytes range {raw_start} + {raw_size} overflows"
            );
        };
        ensure!(
            raw_end <= len,
            InvalidProgram,
            "raw-bytes range {raw_start}..{raw_end} runs past the end of the {len}-byte blob"
        );
        let flatbuffer = fb_start..fb_end;
        let raw_bytes = raw_start..raw_end;
        ensure!(
            !overlaps(&raw_bytes, &(0..header_len)),
            InvalidProgram,
            "raw-bytes range {raw_start}..{raw_end} overlaps the {header_len}-byte header"
        );
        ensure!(
            !overlaps(&raw_bytes, &flatbuffer),
            InvalidProgram,
            "raw-bytes range {raw_start}..{raw_end} overlaps the flatbuffer range {fb_start}..{fb_end}"
        );
        Ok(Header {
            header_len,
            flatbuffer,
            raw_bytes,
        })
    }

    /// Encodes the header as the exporter writes it: 4 zero bytes, magic, then the fields.
    /// Returns `None` when a field does not fit its wire width (header length u16, flatbuffer
    /// offset/size and raw-bytes offset u32, raw-bytes size u64).
    pub fn encode(&self) -> Option<[u8; HEADER_LEN]> {
        let mut out = [0u8; HEADER_LEN];
        let header_len = u16::try_from(self.header_len).ok()?;
        let fb_off = u32::try_from(self.flatbuffer.start).ok()?;
        let fb_size = u32::try_from(self.flatbuffer.len()).ok()?;
        let raw_off = u32::try_from(self.raw_bytes.start).ok()?;
        let raw_size = u64::try_from(self.raw_bytes.len()).ok()?;
        out[4..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&header_len.to_le_bytes());
        out[10..14].copy_from_slice(&fb_off.to_le_bytes());
        out[14..18].copy_from_slice(&fb_size.to_le_bytes());
        out[18..22].copy_from_slice(&raw_off.to_le_bytes());
        out[22..30].copy_from_slice(&raw_size.to_le_bytes());
        Some(out)
    }
}
