//! Structure-aware: the input is a script of mutations applied to one of the committed
//! delegate graphs (value ids of op arguments and I/O, tensor dims and dtypes, scalar and list
//! arguments, op names, named-data keys, inline constant offsets and lengths, the chain
//! itself), written back as a valid `VH00`/`VK00` blob (`etvk::format::write_blob`) and run
//! through init up to the first Vulkan call (`etvk::runtime::dry_run`). Byte-level mutations
//! mostly die in the flatbuffer verifier; these reach every op's builder and the planner with
//! well-formed but wrong programs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
mod mutate;

fuzz_target!(|data: &[u8]| {
    if let Some((blob, config)) = mutate::mutated_blob(data) {
        let (caps, specs) = common::config(config);
        let named = common::named_data();
        let _ = etvk::runtime::dry_run::dry_run(&blob, Some(named), &specs, &caps);
    }
});
