//! Fault injection (the `test-support` hooks of `etvk::gpu::testing`): every Vulkan object
//! creation, memory allocation, command-buffer begin/end, submission and fence wait that
//! loading and executing a program reaches is made to fail in turn, as the driver would
//! (`VK_ERROR_OUT_OF_DEVICE_MEMORY`); then every submission and wait is made to report a lost
//! device (`VK_ERROR_DEVICE_LOST`). Each time init or execute must return an error (or recover
//! and give the right outputs, where etvk has a fallback), destroy must work, and nothing may be
//! left: no accounted bytes, no Vulkan object of etvk's wrappers, no VMA allocation, and (with
//! validation on) nothing the layer reports, at the time or when the device is torn down.
mod common;

use common::robustness::{assert_nothing_live, serial, validation_wanted, Program};
use etvk::gpu::testing::{self, Fault};
use etvk::gpu::Context;
use etvk::runtime::{CompileSpecs, HostTensor, InputValue};

/// What a case does: init, optionally turn profiling on (timestamp queries, a new recording),
/// execute, and optionally execute again at other sizes (a resize records again).
struct Case {
    program: Program,
    specs: CompileSpecs,
    profile: bool,
    /// Inputs of a second execute (dynamic shapes: recorded again for them).
    again: Option<Vec<InputValue>>,
}

impl Case {
    fn run(&self) -> etvk::Result<Vec<HostTensor>> {
        let mut d = self.program.init(&self.specs)?;
        if self.profile {
            d.set_profiling(true)?;
        }
        let out = d.run(&self.program.inputs)?;
        if let Some(inputs) = &self.again {
            d.run(inputs)?;
            // And back to the first sizes: the outputs checked are of the same inputs.
            return d.run(&self.program.inputs);
        }
        Ok(out)
    }
}

fn cases() -> Vec<Case> {
    let plain = |dir: &str| Case {
        program: Program::load(dir, 0),
        specs: CompileSpecs::default(),
        profile: false,
        again: None,
    };
    let mut cases = vec![plain("fixtures/example"), plain("fixtures/softmax_head")];
    // The legacy load order: a staging buffer, command buffer and fence per weight.
    let mut legacy = plain("fixtures/mlp");
    legacy.specs.legacy_load_order = Some(true);
    legacy.profile = true;
    cases.push(legacy);
    // Dynamic shapes: a batch of 1 row after the bounds, so the graph is recorded again.
    let mut dynamic = plain("op_fixtures/dynamic/mlp_batch");
    let InputValue::Tensor(x) = &dynamic.program.inputs[0] else {
        panic!("mlp_batch takes a tensor")
    };
    let row = x.sizes[1..].iter().product::<usize>();
    let mut sizes = x.sizes.clone();
    sizes[0] = 1;
    let one = HostTensor::from_f32(sizes, &x.to_f32_vec()[..row]).unwrap();
    dynamic.again = Some(vec![InputValue::Tensor(one)]);
    cases.push(dynamic);
    cases
}

/// The process-wide context as the next init gets it.
fn context() -> std::sync::Arc<Context> {
    Context::shared().expect("a Vulkan device")
}

/// Every site of `case` fails in turn with `how`; returns (sites, errors, recoveries).
fn inject_each(case: &Case, how: Fault) -> (u64, usize, usize) {
    let ctx = context();
    ctx.drop_cached_pipelines();
    testing::arm(Some((u64::MAX, how)));
    let clean = case.run();
    let (sites, _) = testing::disarm();
    case.program.check(&clean.expect("the run without faults"));
    assert!(sites > 0, "{}: no {how:?} site reached", case.program.name);
    drop(ctx);

    let (mut errors, mut recovered) = (0, 0);
    for n in 1..=sites {
        let what = format!("{}: {how:?} at site {n} of {sites}", case.program.name);
        let ctx = context();
        // Pipelines are created again, so their creation is among the sites.
        ctx.drop_cached_pipelines();
        ctx.take_validation_errors();
        drop(ctx);
        testing::arm(Some((n, how)));
        let result = case.run();
        let (_, injected) = testing::disarm();
        let site = injected.unwrap_or_else(|| panic!("{what}: the site was not reached"));
        match result {
            Ok(outputs) => {
                // etvk fell back (e.g. device-local memory when unified memory failed).
                case.program.check(&outputs);
                recovered += 1;
            }
            Err(e) => {
                let want = match how {
                    Fault::OutOfMemory => "ERROR_OUT_OF_DEVICE_MEMORY",
                    Fault::DeviceLost => "lost",
                };
                assert!(
                    e.message.contains(want) && !e.message.contains("validation"),
                    "{what} ({site}): unexpected error {e}"
                );
                errors += 1;
            }
        }
        // The delegate (if init got that far) was destroyed by `run`; a lost context is
        // replaced on the next `shared()` and freed with its last delegate.
        let ctx = context();
        assert_nothing_live(&ctx, &format!("{what} ({site})"));
        let reported = ctx.take_validation_errors();
        assert!(
            reported.is_empty(),
            "{what} ({site}): validation: {reported:?}"
        );
    }
    // The process is still healthy.
    case.program
        .check(&case.run().expect("a run after the faults"));
    (sites, errors, recovered)
}

#[test]
fn every_allocation_and_creation_failure_is_an_error_and_leaks_nothing() {
    let _serial = serial();
    for case in cases() {
        let (sites, errors, recovered) = inject_each(&case, Fault::OutOfMemory);
        eprintln!(
            "{}: {sites} sites failed in turn: {errors} errors, {recovered} recovered by a fallback",
            case.program.name
        );
    }
    teardown_is_clean();
}

#[test]
fn device_loss_at_every_submission_is_an_error_and_leaks_nothing() {
    let _serial = serial();
    for case in cases() {
        let (sites, errors, recovered) = inject_each(&case, Fault::DeviceLost);
        assert_eq!(
            recovered, 0,
            "{}: a lost device cannot recover",
            case.program.name
        );
        eprintln!(
            "{}: device lost at each of {sites} submissions and waits: {errors} errors",
            case.program.name
        );
    }
    teardown_is_clean();
}

/// After a device loss in execute, the delegate refuses further work with a clear error, is
/// destroyed cleanly, and the next init gets a new device.
#[test]
fn a_lost_device_refuses_further_work_until_loaded_again() {
    let _serial = serial();
    let program = Program::load("fixtures/mlp", 0);
    let mut d = program.init(&CompileSpecs::default()).unwrap();
    let before = context();
    testing::arm(Some((1, Fault::DeviceLost)));
    let err = d.execute(&program.inputs).unwrap_err();
    testing::disarm();
    assert!(err.message.contains("device was lost"), "{err}");
    assert!(before.is_lost());
    let again = d.execute(&program.inputs).unwrap_err();
    assert!(
        again.message.contains("was lost") && again.message.contains("load the program again"),
        "{again}"
    );
    drop(d);
    let after = context();
    assert!(!std::sync::Arc::ptr_eq(&before, &after), "a new context");
    drop(before);
    program.check(&program.run_once(&CompileSpecs::default()).unwrap());
    assert_nothing_live(&after, "after the loss");
}

/// The validation layer's leak report at device teardown is caught: a fence created behind the
/// wrappers' backs is named.
#[test]
fn a_leak_is_reported_when_the_device_is_torn_down() {
    let _serial = serial();
    let ctx = context();
    if !ctx.validation_enabled() {
        assert!(
            !validation_wanted(),
            "ETVK_VALIDATION is set but the layer is off"
        );
        eprintln!("skipped: run with ETVK_VALIDATION=1 (make test does)");
        return;
    }
    testing::leak_a_fence(&ctx);
    drop(ctx);
    let report = Context::teardown_shared().expect("no other owner of the context");
    assert!(
        report.iter().any(|m| m.contains("VkFence")),
        "the layer did not report the leaked fence: {report:?}"
    );
}

/// Destroys the shared context and asserts the layer reported nothing at teardown.
fn teardown_is_clean() {
    let report = Context::teardown_shared().expect("no other owner of the context");
    assert!(report.is_empty(), "validation at teardown: {report:?}");
}

/// Through the C ABI: an injected failure that fails init is `MemoryAllocationFailed` (0x21) with the
/// call named, a device loss in execute is `Internal` (0x01), and destroy works after both.
#[test]
fn the_c_abi_reports_injected_failures_as_status_codes() {
    use common::robustness::CHandle;
    let _serial = serial();
    let program = Program::load("fixtures/mlp", 0);
    // The first site whose failure fails init (an allocation with a fallback, such as
    // unified memory refused, lets init go on).
    let err = (1..1000)
        .find_map(|n| {
            testing::arm(Some((n, Fault::OutOfMemory)));
            let r = CHandle::init(&program);
            let (reached, _) = testing::disarm();
            assert!(reached >= n, "init reached {reached} sites, none failed it");
            r.err()
        })
        .expect("an injected failure that fails init");
    assert!(
        err.starts_with("etvk_init: 0x21: ") && err.contains("ERROR_OUT_OF_DEVICE_MEMORY"),
        "{err}"
    );
    let h = CHandle::init(&program).unwrap();
    testing::arm(Some((1, Fault::DeviceLost)));
    let err = h.execute(&program.inputs).unwrap_err();
    testing::disarm();
    assert!(
        err.starts_with("etvk_execute: 0x1: ") && err.contains("device was lost"),
        "{err}"
    );
    drop(h);
    assert_nothing_live(&context(), "after the C ABI failures");
}
