//! Device limits, lowered in a context of the test's own (`Context::with_caps`, used through
//! `gpu::testing::with_context`): a program whose tensors, dispatches or allocations exceed a
//! limit is refused at init with `OutOfResources` and the limit's Vulkan name; where etvk has
//! another way (params in a buffer instead of push constants, storage-buffer reads instead of
//! texel views) the program runs that way, with the same outputs.
mod common;

use common::robustness::{serial, Program};
use etvk::gpu::testing::with_context;
use etvk::gpu::{Caps, Context, MemTag};
use etvk::runtime::CompileSpecs;
use etvk::ErrorKind;

/// Init of `program` on the device with `adjust`ed limits.
fn init_with(
    program: &Program,
    adjust: impl FnOnce(&mut Caps),
) -> etvk::Result<etvk::runtime::Delegate> {
    let ctx = Context::with_caps(adjust).expect("a Vulkan device");
    with_context(ctx, || program.init(&CompileSpecs::default()))
}

fn refused(program: &Program, limit: &str, adjust: impl FnOnce(&mut Caps)) {
    let err = match init_with(program, adjust) {
        Ok(_) => panic!("{}: init succeeded past a lowered {limit}", program.name),
        Err(e) => e,
    };
    assert_eq!(err.kind, ErrorKind::OutOfResources, "{err}");
    assert!(err.message.contains(limit), "{limit} not named: {err}");
    eprintln!("{}: {}", program.name, err.message);
}

#[test]
fn tensors_over_max_storage_buffer_range_are_refused() {
    let _serial = serial();
    refused(
        &Program::load("fixtures/example", 0),
        "maxStorageBufferRange",
        |c| c.max_storage_buffer_range = 64,
    );
}

#[test]
fn dispatches_over_max_work_group_count_are_refused() {
    let _serial = serial();
    refused(
        &Program::load("fixtures/example", 0),
        "maxComputeWorkGroupCount",
        |c| c.max_compute_work_group_count = [1, 1, 1],
    );
}

#[test]
fn workgroups_over_max_size_or_invocations_are_refused() {
    let _serial = serial();
    let program = Program::load("fixtures/example", 0);
    refused(&program, "maxComputeWorkGroupSize", |c| {
        c.max_compute_work_group_size = [2, 2, 1]
    });
    refused(&program, "maxComputeWorkGroupInvocations", |c| {
        c.max_compute_work_group_invocations = 2
    });
}

#[test]
fn dispatches_over_max_storage_buffers_are_refused() {
    let _serial = serial();
    refused(
        &Program::load("fixtures/example", 0),
        "maxPerStageDescriptorStorageBuffers",
        |c| c.max_per_stage_storage_buffers = 1,
    );
}

#[test]
fn allocations_over_max_memory_allocation_size_are_refused() {
    let _serial = serial();
    refused(
        &Program::load("fixtures/mlp", 0),
        "maxMemoryAllocationSize",
        |c| c.max_memory_allocation_size = 256,
    );
}

/// Params structs that do not fit maxPushConstantsSize travel in a storage buffer instead.
#[test]
fn params_over_max_push_constants_size_go_to_a_buffer() {
    let _serial = serial();
    let program = Program::load("fixtures/example", 0);
    let mut d = init_with(&program, |c| c.max_push_constants_size = 4).unwrap();
    program.check(&d.run(&program.inputs).unwrap());
    let params = d.memory_stats().current_of(MemTag::Params);
    let mut plain = init_with(&program, |_| {}).unwrap();
    program.check(&plain.run(&program.inputs).unwrap());
    let plain_params = plain.memory_stats().current_of(MemTag::Params);
    assert!(
        params > plain_params,
        "params in buffers: {params} bytes with a 4-byte push limit, {plain_params} without"
    );
}

/// Tensors too large for one texel view are read as storage buffers.
#[test]
fn tensors_over_max_texel_buffer_elements_are_read_as_storage_buffers() {
    let _serial = serial();
    let program = Program::load("fixtures/example", 0);
    let texel_shaders = |mut d: etvk::runtime::Delegate| {
        program.check(&d.run(&program.inputs).unwrap());
        let shaders = d.recorded_shaders().unwrap();
        shaders.into_iter().filter(|s| s.contains("texel")).count()
    };
    let with_texels = texel_shaders(init_with(&program, |c| c.prefer_texel_reads = true).unwrap());
    assert!(with_texels > 0, "no texel kernel on a texel-reading device");
    let lowered = texel_shaders(
        init_with(&program, |c| {
            c.prefer_texel_reads = true;
            c.max_texel_buffer_elements = 1;
        })
        .unwrap(),
    );
    assert_eq!(lowered, 0, "texel kernels used past maxTexelBufferElements");
}
