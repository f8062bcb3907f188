//! Synchronization validation is really on under `make test` (ETVK_VALIDATION=1 turns on the
//! Khronos layer with its synchronization checks) and a hazard fails the call during which it
//! was reported: a dispatch that reads what the previous one wrote (and writes what it read)
//! with no barrier between them must be reported as SYNC-HAZARD-READ-AFTER-WRITE and
//! -WRITE-AFTER-READ, and the same pair with etvk's compute barrier must not. Every other test
//! then runs under these checks, which guard the barriers that `runtime::record` derives from
//! hazards. (Layer 1.3.239 does not report two dispatches writing the same range, a
//! write-after-write; etvk's recorder puts a barrier there too.)
mod common;

use std::sync::Arc;

use common::robustness::validation_wanted;
use etvk::gpu::{
    shaders, Accountant, Bound, Buffer, BufferKind, BufferRange, CommandBuffer, Context,
    DescriptorPool, Fence, MemTag, PipelineKey,
};

/// `a` copied into `b`, then `b` into `a`, with or without a barrier between the two
/// dispatches; what validation said.
fn copy_there_and_back(ctx: &Arc<Context>, barrier: bool) -> etvk::Result<()> {
    let acct = Arc::new(Accountant::default());
    let a = Buffer::new(ctx, &acct, 256, BufferKind::Device, MemTag::Activation)?;
    let b = Buffer::new(ctx, &acct, 256, BufferKind::Device, MemTag::Activation)?;
    let key = PipelineKey {
        shader: shaders::COPY.name,
        variant: None,
        tensor_bindings: 2,
        texel_mask: 0,
        push_bytes: 4,
        spec: vec![64, 1, 1],
    };
    let pipeline = ctx.pipeline(&shaders::COPY, key)?;
    let pool = DescriptorPool::new(ctx, 2, 4, 0)?;
    let range = |b: &Buffer| {
        Bound::Buffer(BufferRange {
            buffer: b.handle(),
            offset: 0,
            size: 256,
        })
    };
    // Bindings: Out, then In.
    let there = pool.allocate(&pipeline, &[range(&b), range(&a)])?;
    let back = pool.allocate(&pipeline, &[range(&a), range(&b)])?;
    let mut cmd = CommandBuffer::new(ctx)?;
    let fence = Fence::new(ctx)?;
    ctx.take_validation_errors();
    cmd.begin(true)?;
    cmd.dispatch(&pipeline, there, &[64], [1, 1, 1]);
    if barrier {
        cmd.compute_barrier();
    }
    cmd.dispatch(&pipeline, back, &[64], [1, 1, 1]);
    cmd.end()?;
    cmd.submit_and_wait(&fence)?;
    ctx.check_validation("copies there and back")
}

#[test]
fn a_missing_barrier_is_a_reported_hazard() {
    let ctx = Context::shared().expect("a Vulkan device");
    if !ctx.validation_enabled() {
        assert!(
            !validation_wanted(),
            "ETVK_VALIDATION is set but the validation layer is not active"
        );
        eprintln!("skipped: run with ETVK_VALIDATION=1 (make test does)");
        return;
    }
    let err =
        copy_there_and_back(&ctx, false).expect_err("synchronization validation is not active");
    for hazard in [
        "SYNC-HAZARD-READ-AFTER-WRITE",
        "SYNC-HAZARD-WRITE-AFTER-READ",
    ] {
        assert!(err.message.contains(hazard), "no {hazard} in: {err}");
    }
    copy_there_and_back(&ctx, true).expect("a barrier between the dispatches is clean");
}
