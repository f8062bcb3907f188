//! Device limits a built graph must respect, checked at init (and after a resize) before
//! anything is allocated or recorded. Every refusal is `OutOfResources` and names the Vulkan
//! limit, so a program too large for a device says which limit it hit.

use crate::error::{Error, ErrorKind, Result};
use crate::gpu::shaders::PUSH_PARAMS_MAX_BYTES;
use crate::gpu::Caps;
use crate::graph::{BuiltGraph, Dispatch};
use crate::kernels::{BindingKind, Elem, Grid, LINEAR_GROUP};

fn refuse(d: &Dispatch, what: String) -> Error {
    Error::new(
        ErrorKind::OutOfResources,
        format!("op #{} ({}): {what}", d.op_index, d.kernel.shader.name),
    )
}

/// Whether `d`'s params travel as push constants (else in a storage buffer): they fit both
/// etvk's push block and the device's `maxPushConstantsSize`.
pub(crate) fn pushes_params(caps: &Caps, d: &Dispatch) -> bool {
    let bytes = d.params.len() * 4;
    bytes <= PUSH_PARAMS_MAX_BYTES.min(caps.max_push_constants_size as usize)
}

/// Workgroups for `d`, checked against `maxComputeWorkGroupCount`.
pub fn workgroups(caps: &Caps, d: &Dispatch) -> Result<[u32; 3]> {
    let max = caps.max_compute_work_group_count;
    let too_big = |what: String| {
        refuse(
            d,
            format!("{what} exceed the device's maxComputeWorkGroupCount {max:?}"),
        )
    };
    match d.grid {
        Grid::Linear(work) => {
            let groups = work.div_ceil(LINEAR_GROUP as u64);
            let gx = groups.min(max[0] as u64);
            let gy = groups.div_ceil(gx.max(1));
            if gy > max[1] as u64 {
                return Err(too_big(format!("{work} work items")));
            }
            Ok([gx as u32, gy as u32, 1])
        }
        Grid::Tiles { global, local } => {
            let groups: Vec<u64> = (0..3)
                .map(|i| (global[i] as u64).div_ceil(local[i].max(1) as u64))
                .collect();
            if (0..3).any(|i| groups[i] > max[i] as u64) {
                return Err(too_big(format!("{groups:?} workgroups")));
            }
            Ok([groups[0] as u32, groups[1] as u32, groups[2] as u32])
        }
    }
}

/// Every dispatch of `built` against the device's limits: workgroup size and invocations,
/// workgroup counts, storage buffers per stage, the range of every bound tensor (storage
/// buffers: `maxStorageBufferRange`; texel views: `maxTexelBufferElements`), and params (push
/// constants within `maxPushConstantsSize`, else a storage buffer within its range).
pub fn check_limits(caps: &Caps, built: &BuiltGraph) -> Result<()> {
    for d in &built.dispatches {
        let local = d.grid.local();
        if (0..3).any(|i| local[i] > caps.max_compute_work_group_size[i]) {
            return Err(refuse(
                d,
                format!(
                    "workgroup {local:?} exceeds the device's maxComputeWorkGroupSize {:?}",
                    caps.max_compute_work_group_size
                ),
            ));
        }
        let invocations: u64 = local.iter().map(|&l| l as u64).product();
        if invocations > caps.max_compute_work_group_invocations as u64 {
            return Err(refuse(
                d,
                format!(
                    "workgroup {local:?} ({invocations} invocations) exceeds the device's \
                     maxComputeWorkGroupInvocations {}",
                    caps.max_compute_work_group_invocations
                ),
            ));
        }
        if d.work_items() > 0 {
            workgroups(caps, d)?;
        }
        let buffers = d
            .kernel
            .bindings
            .iter()
            .take(d.tensors.len())
            .filter(|b| b.kind == BindingKind::Storage)
            .count()
            + 1;
        if buffers as u64 > caps.max_per_stage_storage_buffers as u64 {
            return Err(refuse(
                d,
                format!(
                    "{buffers} storage buffers exceed the device's \
                     maxPerStageDescriptorStorageBuffers {}",
                    caps.max_per_stage_storage_buffers
                ),
            ));
        }
        for (i, &t) in d.tensors.iter().enumerate() {
            let Some(meta) = built.meta(t) else { continue };
            let bytes = meta.bytes() as u64;
            let texels = d
                .kernel
                .bindings
                .get(i)
                .is_some_and(|b| b.kind == BindingKind::Texels);
            if texels {
                let texel_bytes = if meta.elem == Elem::F16 { 8 } else { 16 };
                let count = bytes.div_ceil(texel_bytes);
                if count > caps.max_texel_buffer_elements as u64 {
                    return Err(refuse(
                        d,
                        format!(
                            "tensor value {t} spans {count} texels, above the device's \
                             maxTexelBufferElements {}",
                            caps.max_texel_buffer_elements
                        ),
                    ));
                }
            } else if bytes > caps.max_storage_buffer_range as u64 {
                return Err(refuse(
                    d,
                    format!(
                        "tensor value {t} needs {bytes} bytes, above the device's \
                         maxStorageBufferRange {}",
                        caps.max_storage_buffer_range
                    ),
                ));
            }
        }
        // Params over maxPushConstantsSize (or etvk's 128-byte block) go to a storage buffer.
        let params = (d.params.len() * 4) as u64;
        if !pushes_params(caps, d) && params > caps.max_storage_buffer_range as u64 {
            return Err(refuse(
                d,
                format!(
                    "{params} bytes of params exceed the device's maxStorageBufferRange {}",
                    caps.max_storage_buffer_range
                ),
            ));
        }
    }
    Ok(())
}
