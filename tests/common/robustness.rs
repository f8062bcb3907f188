//! Shared by the robustness tests: a committed delegate program with its inputs and expected
//! outputs, and the check that nothing etvk created is still alive.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use etvk::gpu::testing::{self, Object};
use etvk::gpu::{Accountant, Context};
use etvk::runtime::{CompileSpecs, Delegate, HostTensor, InputValue};

use super::npy::read_npy;

/// One delegate of a fixture directory: blob, named data, inputs, expected outputs.
#[derive(Clone)]
pub struct Program {
    pub name: String,
    pub blob: Vec<u8>,
    pub named: HashMap<String, Vec<u8>>,
    pub inputs: Vec<InputValue>,
    pub expected: Vec<HostTensor>,
}

fn numbered(dir: &Path, stem: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir.join(format!("{stem}{i}.npy")))
        .take_while(|p| p.exists())
        .collect()
}

impl Program {
    /// Delegate `k` of `tests/<dir>`.
    pub fn load(dir: &str, k: usize) -> Program {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(dir);
        let blob = std::fs::read(path.join(format!("delegate{k}.bin")))
            .unwrap_or_else(|e| panic!("{dir}: delegate{k}.bin: {e}"));
        Program {
            name: format!("{dir}#{k}"),
            blob,
            named: super::fixtures::named_data(&path),
            inputs: numbered(&path, &format!("delegate{k}_input"))
                .iter()
                .map(|p| InputValue::Tensor(read_npy(p)))
                .collect(),
            expected: numbered(&path, &format!("delegate{k}_expected"))
                .iter()
                .map(|p| read_npy(p))
                .collect(),
        }
    }

    pub fn init(&self, specs: &CompileSpecs) -> etvk::Result<Delegate> {
        Delegate::init(&self.blob, Some(&self.named), specs)
    }

    /// Init, one execute, outputs; the delegate is destroyed before returning.
    pub fn run_once(&self, specs: &CompileSpecs) -> etvk::Result<Vec<HostTensor>> {
        let mut d = self.init(specs)?;
        d.run(&self.inputs)
    }

    /// Asserts the outputs match the expected ones (1e-4 absolute and relative).
    pub fn check(&self, outputs: &[HostTensor]) {
        assert_eq!(outputs.len(), self.expected.len(), "{}: outputs", self.name);
        for (i, (got, want)) in outputs.iter().zip(&self.expected).enumerate() {
            assert_eq!(got.sizes, want.sizes, "{}: output {i} sizes", self.name);
            super::assert_close(
                &got.to_f32_vec(),
                &want.to_f32_vec(),
                1e-4,
                1e-4,
                &format!("{}: output {i}", self.name),
            );
        }
    }
}

/// What is alive now: accounted bytes, wrapper objects (cached pipelines apart) and VMA
/// allocations of `ctx`. Empty when nothing leaked.
static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time, for tests whose checks are process-wide (accountant, live objects, the
/// shared context) or that make a Vulkan device each (devices made and destroyed concurrently
/// in one process hung NVIDIA's driver 580 in half of ten runs on the H200; etvk itself makes
/// one device per process).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn live(ctx: &Context) -> Vec<String> {
    let mut found = Vec::new();
    let stats = Accountant::process();
    if stats.total_current != 0 || stats.device_current != 0 {
        found.push(format!(
            "accounted: {} bytes ({} on the device), per tag {:?}",
            stats.total_current, stats.device_current, stats.current
        ));
    }
    for (kind, n) in testing::live_objects() {
        if kind == Object::Pipeline && n == ctx.cached_pipelines() as i64 {
            continue;
        }
        found.push(format!("{n} live {kind:?}"));
    }
    let (allocations, _blocks) = ctx.live_allocations().expect("VMA statistics");
    if allocations != 0 {
        found.push(format!("{allocations} live VMA allocations"));
    }
    found
}

/// Panics when anything of etvk's is still alive.
pub fn assert_nothing_live(ctx: &Context, what: &str) {
    let found = live(ctx);
    assert!(
        found.is_empty(),
        "{what}: still alive: {}",
        found.join("; ")
    );
}

/// Whether `make test`'s validation environment is set (the layer must then be active).
pub fn validation_wanted() -> bool {
    std::env::var("ETVK_VALIDATION").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A delegate loaded through the C ABI (`etvk_init`), destroyed (`etvk_destroy`) on drop. The
/// program it came from must outlive it (its named data is borrowed, not copied).
pub struct CHandle(pub *mut etvk::capi::EtvkDelegate);

// SAFETY: a handle may be used from any thread; calls on one handle are serialized by etvk.
unsafe impl Send for CHandle {}
// SAFETY: see Send.
unsafe impl Sync for CHandle {}

unsafe extern "C" fn named_get(
    ctx: *mut std::ffi::c_void,
    key: *const std::ffi::c_char,
    key_len: usize,
    data: *mut *const std::ffi::c_void,
    size: *mut usize,
    token: *mut *mut std::ffi::c_void,
) -> u32 {
    // SAFETY: `ctx` is the program's map (see `CHandle::init`); etvk passes a valid key.
    let map = unsafe { &*(ctx as *const HashMap<String, Vec<u8>>) };
    let key = unsafe { std::slice::from_raw_parts(key.cast::<u8>(), key_len) };
    let Some(bytes) = std::str::from_utf8(key).ok().and_then(|k| map.get(k)) else {
        return etvk::capi::ETVK_STATUS_NOT_FOUND;
    };
    // SAFETY: etvk passes writable out-pointers.
    unsafe {
        *data = bytes.as_ptr().cast();
        *size = bytes.len();
        *token = std::ptr::null_mut();
    }
    0
}

/// The last error of this thread's etvk calls.
pub fn last_error() -> String {
    // SAFETY: never NULL, NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(etvk::capi::etvk_last_error()) }
        .to_string_lossy()
        .into_owned()
}

impl CHandle {
    pub fn init(p: &Program) -> Result<CHandle, String> {
        let named = etvk::capi::EtvkNamedData {
            ctx: (&p.named as *const HashMap<String, Vec<u8>>)
                .cast_mut()
                .cast(),
            get: Some(named_get),
            release: None,
        };
        let mut out = std::ptr::null_mut();
        // SAFETY: the blob and the named data outlive the call (and the handle: see above).
        let code = unsafe {
            etvk::capi::etvk_init(
                p.blob.as_ptr().cast(),
                p.blob.len(),
                &named,
                std::ptr::null(),
                0,
                &mut out,
            )
        };
        if code != 0 {
            return Err(format!("etvk_init: 0x{code:x}: {}", last_error()));
        }
        Ok(CHandle(out))
    }

    /// `etvk_execute` on `inputs`, every output copied out as float32.
    pub fn execute(&self, inputs: &[InputValue]) -> Result<Vec<Vec<f32>>, String> {
        use etvk::capi::{EtvkTensor, ETVK_DTYPE_FLOAT32, ETVK_KIND_TENSOR, ETVK_MAX_DIMS};
        let descs: Vec<EtvkTensor> = inputs
            .iter()
            .map(|v| {
                let InputValue::Tensor(t) = v else {
                    panic!("tensor inputs only")
                };
                let mut sizes = [0i64; ETVK_MAX_DIMS];
                for (d, &s) in sizes.iter_mut().zip(&t.sizes) {
                    *d = s as i64;
                }
                EtvkTensor {
                    kind: ETVK_KIND_TENSOR,
                    dtype: t.dtype.to_vk() as u32,
                    ndim: t.sizes.len() as u32,
                    sizes,
                    data: t.data.as_ptr().cast_mut().cast(),
                    nbytes: t.data.len(),
                    int_value: 0,
                }
            })
            .collect();
        // SAFETY: a live handle.
        let n_out = unsafe { etvk::capi::etvk_num_outputs(self.0) };
        // Room for outputs as large as the biggest input or 64 K floats, whichever is more.
        let room = inputs
            .iter()
            .map(|v| match v {
                InputValue::Tensor(t) => t.numel(),
                InputValue::Int(_) => 0,
            })
            .max()
            .unwrap_or(0)
            .max(1 << 16);
        let mut buffers: Vec<Vec<f32>> = (0..n_out).map(|_| vec![0f32; room]).collect();
        let mut outs: Vec<EtvkTensor> = buffers
            .iter_mut()
            .map(|b| EtvkTensor {
                kind: ETVK_KIND_TENSOR,
                dtype: ETVK_DTYPE_FLOAT32,
                ndim: 0,
                sizes: [0; ETVK_MAX_DIMS],
                data: b.as_mut_ptr().cast(),
                nbytes: b.len() * 4,
                int_value: 0,
            })
            .collect();
        // SAFETY: the descriptors point at live buffers of the sizes they state.
        let code = unsafe {
            etvk::capi::etvk_execute(
                self.0,
                descs.as_ptr(),
                descs.len(),
                outs.as_mut_ptr(),
                outs.len(),
            )
        };
        if code != 0 {
            return Err(format!("etvk_execute: 0x{code:x}: {}", last_error()));
        }
        Ok(buffers
            .into_iter()
            .zip(&outs)
            .map(|(mut b, o)| {
                b.truncate(o.nbytes / 4);
                b
            })
            .collect())
    }
}

impl Drop for CHandle {
    fn drop(&mut self) {
        // SAFETY: a handle from etvk_init, destroyed once, no call in progress.
        unsafe { etvk::capi::etvk_destroy(self.0) };
    }
}

/// Resident memory of this process, in bytes (Linux: /proc/self/statm).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("resident pages");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}
