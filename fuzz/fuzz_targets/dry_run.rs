//! Init up to the first Vulkan call on arbitrary bytes: parse, compile specs, every op's
//! builder, device limits, memory plan, constant fetch and host packing
//! (`etvk::runtime::dry_run`), on a device description and planner picked by the input's
//! length (so the committed blobs stay valid seeds as they are). Named data: every fixture's.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (caps, specs) = common::config((data.len() % 251) as u8);
    let named = common::named_data();
    let _ = etvk::runtime::dry_run::dry_run(data, Some(named), &specs, &caps);
});
