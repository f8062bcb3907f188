//! Everything `init` does before it touches a device, on a given device description ([`Caps`]):
//! parse the blob, resolve the compile specs, run every op's builder, check the device limits,
//! plan the memory, fetch every constant's source, check its size and pack it into host memory
//! as the upload would. No Vulkan call: the fuzz targets (`fuzz/`) run untrusted blobs through
//! it at thousands per second, and a tool can ask whether a program fits a device's limits.

use crate::error::{Error, Result};
use crate::format::Graph;
use crate::gpu::Caps;
use crate::graph;
use crate::runtime::load_options::LoadOptions;
use crate::runtime::loader::{build_and_plan, check_source_len, fetch_constant, MemoryPlan};
use crate::runtime::{CompileSpecs, NamedData};

/// What a dry run planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRun {
    /// Dispatches the build recorded (with work or not).
    pub dispatches: usize,
    /// Weight buffers (after deduplication) and their device bytes.
    pub weights: usize,
    pub weights_bytes: u64,
    /// Activation bytes with the planner that was chosen.
    pub activations_bytes: u64,
    pub used_arena: bool,
}

/// Parses `blob` and runs [`dry_run_graph`] on it.
pub fn dry_run(
    blob: &[u8],
    named: Option<&dyn NamedData>,
    specs: &CompileSpecs,
    caps: &Caps,
) -> Result<DryRun> {
    let graph = crate::format::parse_blob(blob)?;
    dry_run_graph(&graph, blob, named, specs, caps)
}

/// Init up to the first Vulkan call, for `graph` (parsed from `blob`, which backs its inline
/// constants) on a device with `caps`.
pub fn dry_run_graph(
    graph: &Graph,
    blob: &[u8],
    named: Option<&dyn NamedData>,
    specs: &CompileSpecs,
    caps: &Caps,
) -> Result<DryRun> {
    let mut options = LoadOptions::resolve(specs)?;
    let host_read = graph::host_read_values(graph);
    let (built, plan) = build_and_plan(graph, caps, &mut options, &host_read)?;
    pack_on_host(&plan, blob, named)?;
    let report = plan.report(options.legacy_order);
    Ok(DryRun {
        dispatches: built.dispatches.len(),
        weights: plan.weights.len(),
        weights_bytes: report.weights_bytes,
        activations_bytes: report.activations_bytes,
        used_arena: report.used_arena,
    })
}

/// Every weight as the upload packs it (`write_direct`), into host memory of its device size.
fn pack_on_host(plan: &MemoryPlan, blob: &[u8], named: Option<&dyn NamedData>) -> Result<()> {
    for w in &plan.weights {
        let data = fetch_constant(&w.source, blob, named)?;
        check_source_len(w, data.len())?;
        let src = data.bytes();
        let n = w
            .packing
            .map_or(src.len() / w.dtype.size(), |p| p.packed_len());
        let len = n
            .checked_mul(w.elem.bytes())
            .filter(|&len| len as u64 <= w.bytes)
            .ok_or_else(|| Error::internal("weight buffer smaller than its constant"))?;
        let mut out = vec![0u8; len];
        crate::runtime::convert::pack_to_gpu(w.dtype, src, w.packing, w.elem, 0, &mut out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture blob plans on a lavapipe-like description without a device.
    #[test]
    fn fixture_plans_without_a_device() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp");
        let blob = std::fs::read(dir.join("delegate0.bin")).unwrap();
        let mut named = std::collections::HashMap::new();
        for e in std::fs::read_dir(dir.join("named")).unwrap() {
            let p = e.unwrap().path();
            let key = p.file_stem().unwrap().to_string_lossy().into_owned();
            named.insert(key, std::fs::read(&p).unwrap());
        }
        let caps = Caps::typical(crate::gpu::DeviceKind::Cpu);
        let r = dry_run(&blob, Some(&named), &CompileSpecs::default(), &caps).unwrap();
        assert!(
            r.dispatches > 0 && r.weights > 0 && r.weights_bytes > 0,
            "{r:?}"
        );
        let err = dry_run(&blob, None, &CompileSpecs::default(), &caps).unwrap_err();
        assert!(err.message.contains("no NamedDataMap"), "{}", err.message);
    }
}
