//! Test hooks of the GPU layer, compiled only with the `test-support` feature (the tests get it
//! through the crate's dev-dependency on itself; release builds never have it):
//!
//! - **fault injection**: every fallible Vulkan call that creates an object, allocates memory or
//!   submits work is a *site* that first asks [`fault`]; once [`arm`]ed on a thread, the
//!   N-th site that thread reaches fails as the driver would (`VK_ERROR_OUT_OF_DEVICE_MEMORY`,
//!   or `VK_ERROR_DEVICE_LOST` at a submission or a wait when armed with [`Fault::DeviceLost`]);
//! - **live objects**: every object the RAII wrappers create is counted until destroyed
//!   ([`live_objects`]);
//! - **scoped contexts**: [`with_context`] makes `Context::shared()` return another context on
//!   this thread, e.g. one with lowered limits ([`Context::with_caps`]).
//!
//! Without the feature, [`fault`] and the counting calls are empty inline functions.

use ash::vk;

/// Kinds of Vulkan objects the wrappers create, for the live counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Buffer,
    BufferView,
    CommandPool,
    Fence,
    DescriptorPool,
    QueryPool,
    Pipeline,
}

#[cfg(not(feature = "test-support"))]
mod imp {
    use super::*;

    #[inline(always)]
    pub(crate) fn fault(_site: &'static str, _submission: bool) -> Result<(), vk::Result> {
        Ok(())
    }
    #[inline(always)]
    pub(crate) fn created(_kind: Object) {}
    #[inline(always)]
    pub(crate) fn destroyed(_kind: Object) {}
}

#[cfg(feature = "test-support")]
mod imp {
    use super::*;
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use crate::gpu::Context;

    /// What an armed site does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// The N-th site (of any kind) fails with `VK_ERROR_OUT_OF_DEVICE_MEMORY`.
        OutOfMemory,
        /// The N-th submission or fence wait fails with `VK_ERROR_DEVICE_LOST`; creation sites
        /// are not counted.
        DeviceLost,
    }

    #[derive(Default)]
    struct State {
        /// Counting (armed) on this thread.
        armed: bool,
        /// Sites reached since [`arm`].
        reached: u64,
        /// The 1-based site that fails, and how.
        fail_at: Option<(u64, Fault)>,
        /// The site that was made to fail.
        injected: Option<&'static str>,
    }

    thread_local! {
        static STATE: RefCell<State> = RefCell::new(State::default());
        static SCOPED: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
    }

    /// Starts counting sites on this thread from 0; `fail_at = Some((n, how))` makes the n-th
    /// (1-based) fail. `None` only counts.
    pub fn arm(fail_at: Option<(u64, Fault)>) {
        STATE.with(|s| {
            *s.borrow_mut() = State {
                armed: true,
                fail_at,
                ..State::default()
            }
        });
    }

    /// Stops counting; returns the sites reached since [`arm`] and the site made to fail.
    pub fn disarm() -> (u64, Option<&'static str>) {
        STATE.with(|s| {
            let s = std::mem::take(&mut *s.borrow_mut());
            (s.reached, s.injected)
        })
    }

    /// Sites reached on this thread since [`arm`].
    pub fn reached() -> u64 {
        STATE.with(|s| s.borrow().reached)
    }

    pub(crate) fn fault(site: &'static str, submission: bool) -> Result<(), vk::Result> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if !s.armed {
                return Ok(());
            }
            let how = s.fail_at.map(|(_, how)| how);
            if how == Some(Fault::DeviceLost) && !submission {
                return Ok(());
            }
            s.reached += 1;
            match s.fail_at {
                Some((n, how)) if n == s.reached => {
                    s.injected = Some(site);
                    Err(match how {
                        Fault::OutOfMemory => vk::Result::ERROR_OUT_OF_DEVICE_MEMORY,
                        Fault::DeviceLost => vk::Result::ERROR_DEVICE_LOST,
                    })
                }
                _ => Ok(()),
            }
        })
    }

    const KINDS: [Object; 7] = [
        Object::Buffer,
        Object::BufferView,
        Object::CommandPool,
        Object::Fence,
        Object::DescriptorPool,
        Object::QueryPool,
        Object::Pipeline,
    ];

    static LIVE: [AtomicI64; 7] = [const { AtomicI64::new(0) }; 7];

    fn slot(kind: Object) -> usize {
        KINDS.iter().position(|k| *k == kind).unwrap_or(0)
    }

    pub(crate) fn created(kind: Object) {
        LIVE[slot(kind)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn destroyed(kind: Object) {
        LIVE[slot(kind)].fetch_sub(1, Ordering::Relaxed);
    }

    /// Objects of each kind created by the wrappers and not destroyed yet, process-wide (the
    /// context's cached pipelines included), for the kinds with any.
    pub fn live_objects() -> Vec<(Object, i64)> {
        KINDS
            .iter()
            .map(|&k| (k, LIVE[slot(k)].load(Ordering::Relaxed)))
            .filter(|&(_, n)| n != 0)
            .collect()
    }

    /// Runs `f` with `Context::shared()` returning `ctx` on this thread.
    pub fn with_context<R>(ctx: Arc<Context>, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Arc<Context>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let old = self.0.take();
                SCOPED.with(|s| *s.borrow_mut() = old);
            }
        }
        let old = SCOPED.with(|s| s.borrow_mut().replace(ctx));
        let _restore = Restore(old);
        f()
    }

    /// The context [`with_context`] set on this thread.
    pub(crate) fn scoped_context() -> Option<Arc<Context>> {
        SCOPED.with(|s| s.borrow().clone())
    }

    /// Leaks a fence created straight from the device, behind the wrappers' backs: proves that
    /// the validation layer reports an object left at teardown.
    pub fn leak_a_fence(ctx: &Context) {
        // SAFETY: a plain fence on a live device, never used; it is left for vkDestroyDevice's
        // leak report on purpose.
        let _ = unsafe {
            ctx.device()
                .create_fence(&vk::FenceCreateInfo::default(), None)
        };
    }
}

#[cfg(feature = "test-support")]
pub(crate) use imp::scoped_context;
#[cfg(feature = "test-support")]
pub use imp::{arm, disarm, leak_a_fence, live_objects, reached, with_context, Fault};
pub(crate) use imp::{created, destroyed, fault};
