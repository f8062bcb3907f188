//! Verification of `[long]` / `[double]` vectors without the 8-byte alignment check.
//!
//! flatc 24.3.25 (the exporter's) can place an empty `IntList` at a 4-aligned offset; the Rust
//! flatbuffers verifier rejects that while the C++ one accepts it. The crate reads scalars
//! without assuming alignment, so only the bounds matter: they are still checked here.

use flatbuffers::{InvalidFlatbuffer, Verifiable, Verifier, SIZE_UOFFSET};

/// Stands for a vector of 8-byte scalars in the generated verifier.
pub struct LenientVector8;

impl Verifiable for LenientVector8 {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        let len = v.get_uoffset(pos)? as usize;
        let start = pos.saturating_add(SIZE_UOFFSET);
        v.range_in_buffer(start, len.saturating_mul(8))
    }
}
