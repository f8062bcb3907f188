//! The blob parser on arbitrary bytes: `VH00` header, `VK00` flatbuffer verifier, conversion
//! into the owned graph. Any input must give a graph or an `Error`, never a panic, a hang or
//! an allocation out of proportion to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = etvk::format::parse_blob(data);
});
