//! The C ABI that the C++ ExecuTorch shim (`cpp_shim/etvk_backend.cpp`) calls.
//!
//! Every function is `extern "C"`, never unwinds (a Rust panic is caught and reported as
//! `ETVK_STATUS_INTERNAL` with the message `internal panic: ...`), and returns an ExecuTorch
//! `Error` code (`0` = Ok) unless documented otherwise. `include/etvk.h` is generated from this
//! file by cbindgen (`make header`); `tests/header.rs` checks that it is up to date.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::error::{Error, ErrorKind, Result};
use crate::format::DType;
use crate::runtime::{CompileSpecs, DataBuffer, Delegate, HostTensor, InputValue, NamedData};

/// Most dimensions an `EtvkTensor` can describe.
pub const ETVK_MAX_DIMS: usize = 16;

/// `EtvkTensor.kind`: a tensor (`dtype`, `ndim`, `sizes`, `data`, `nbytes` are used).
pub const ETVK_KIND_TENSOR: u32 = 0;
/// `EtvkTensor.kind`: a plain integer (a SymInt input); only `int_value` is used.
pub const ETVK_KIND_INT: u32 = 1;

/// dtype tags follow the exporter's `VkDataType` numbering.
pub const ETVK_DTYPE_BOOL: u32 = 0;
pub const ETVK_DTYPE_UINT8: u32 = 1;
pub const ETVK_DTYPE_INT8: u32 = 2;
pub const ETVK_DTYPE_INT32: u32 = 3;
pub const ETVK_DTYPE_FLOAT16: u32 = 4;
pub const ETVK_DTYPE_FLOAT32: u32 = 5;
pub const ETVK_DTYPE_FLOAT64: u32 = 6;
pub const ETVK_DTYPE_INT64: u32 = 7;
/// As an output dtype: "whatever the delegate produces" (its boundary dtype).
pub const ETVK_DTYPE_ANY: u32 = u32::MAX;

/// Status codes (ExecuTorch `executorch::runtime::Error` values) that this API returns.
pub const ETVK_STATUS_OK: u32 = 0x00;
pub const ETVK_STATUS_INTERNAL: u32 = 0x01;
pub const ETVK_STATUS_INVALID_STATE: u32 = 0x02;
pub const ETVK_STATUS_NOT_SUPPORTED: u32 = 0x10;
pub const ETVK_STATUS_INVALID_ARGUMENT: u32 = 0x12;
pub const ETVK_STATUS_INVALID_TYPE: u32 = 0x13;
pub const ETVK_STATUS_NOT_FOUND: u32 = 0x20;
pub const ETVK_STATUS_INVALID_PROGRAM: u32 = 0x23;
pub const ETVK_STATUS_DELEGATE_INVALID_HANDLE: u32 = 0x32;

/// Fetches the bytes stored under `key` (`key_len` bytes, not NUL-terminated) from a named data
/// store. On success returns 0 and sets `*data`, `*size` and `*token`; the bytes must stay valid
/// and unchanged until `release(ctx, token)` is called. On failure returns an ExecuTorch error
/// code (`0x20` NotFound for a missing key).
pub type EtvkNamedDataGetFn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const c_char,
        key_len: usize,
        data: *mut *const c_void,
        size: *mut usize,
        token: *mut *mut c_void,
    ) -> u32,
>;

/// Releases one buffer obtained from `get` (ExecuTorch's `FreeableBuffer::Free()`).
pub type EtvkNamedDataReleaseFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, token: *mut c_void)>;

/// ExecuTorch's NamedDataMap as seen by etvk. `get` is called only inside `etvk_init`;
/// `release` is called exactly once per successful `get`, at the latest inside `etvk_destroy`
/// (etvk may keep buffers for the life of the delegate), so `release` must not rely on
/// anything that dies when `etvk_init` returns unless it ignores `ctx`. `release` may be NULL
/// when nothing needs freeing.
#[repr(C)]
pub struct EtvkNamedData {
    pub ctx: *mut c_void,
    pub get: EtvkNamedDataGetFn,
    pub release: EtvkNamedDataReleaseFn,
}

/// One compile spec: a NUL-terminated key and its value bytes (little-endian; `value` may be
/// NULL when `value_len` is 0). Unknown keys are ignored.
#[repr(C)]
pub struct EtvkCompileSpec {
    pub key: *const c_char,
    pub value: *const c_void,
    pub value_len: usize,
}

/// A delegate input or output at the boundary.
///
/// Inputs: `kind` is `ETVK_KIND_TENSOR` (contiguous row-major bytes in `dtype`, `nbytes` at
/// least `prod(sizes) * elem_size`; `data` may be NULL only when that product is 0) or
/// `ETVK_KIND_INT` (`int_value`; the other fields are ignored).
///
/// Outputs: the caller sets `dtype` (or `ETVK_DTYPE_ANY`), `data` and `nbytes` (capacity);
/// `etvk_execute` writes `kind`, `ndim`, `sizes`, the dtype when it was `ETVK_DTYPE_ANY`, and
/// sets `nbytes` to the bytes the output needs in that dtype.
#[repr(C)]
pub struct EtvkTensor {
    pub kind: u32,
    pub dtype: u32,
    pub ndim: u32,
    pub sizes: [i64; ETVK_MAX_DIMS],
    pub data: *mut c_void,
    pub nbytes: usize,
    pub int_value: i64,
}

/// An initialized delegate (opaque). Handles are independent: threads may each use their own
/// concurrently. Calls on one handle from several threads are serialized (each waits for the
/// call in progress), so every `etvk_execute` that copies its outputs out gets its own
/// results; outputs left for `etvk_read_output` are those of the handle's latest execute.
/// `etvk_destroy` must not run while another call on the same handle is in progress.
pub struct EtvkDelegate {
    num_inputs: usize,
    num_outputs: usize,
    /// One call at a time on the handle.
    state: std::sync::Mutex<HandleState>,
}

/// What the calls on a handle use, under its lock.
struct HandleState {
    delegate: Delegate,
    num_inputs: usize,
    num_outputs: usize,
    /// Set when a call on this handle panicked; later calls fail with InvalidState.
    poisoned: bool,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // Interior NULs would truncate the C string; replace them.
    let clean = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = clean);
}

fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Runs `f`, turning an `Err` or a panic into a status code plus the thread's last error.
fn guard(f: impl FnOnce() -> Result<()>) -> u32 {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ETVK_STATUS_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.kind.et_code()
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal panic: {}",
                panic_message(payload.as_ref())
            ));
            ETVK_STATUS_INTERNAL
        }
    }
}

/// Like [`guard`] for calls on a handle: runs `f` under the handle's lock; a panic poisons
/// the handle.
fn guard_handle(
    handle: *const EtvkDelegate,
    f: impl FnOnce(&mut HandleState) -> Result<()>,
) -> u32 {
    guard(|| {
        // SAFETY: the caller passes NULL or a live handle from `etvk_init` (shared access only:
        // the state is behind the lock).
        let h = unsafe { handle.as_ref() }.ok_or_else(null_handle)?;
        // A panic inside `f` is caught below, so the lock is never poisoned by one.
        let mut h = h.state.lock().unwrap_or_else(|e| e.into_inner());
        let h = &mut *h;
        if h.poisoned {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "delegate is unusable after an internal panic in an earlier call",
            ));
        }
        match catch_unwind(AssertUnwindSafe(|| f(h))) {
            Ok(r) => r,
            Err(payload) => {
                h.poisoned = true;
                std::panic::resume_unwind(payload)
            }
        }
    })
}

fn null_handle() -> Error {
    Error::new(ErrorKind::DelegateInvalidHandle, "delegate handle is NULL")
}

fn null_arg(name: &str) -> Error {
    Error::invalid_argument(format!("'{name}' is NULL"))
}

/// The `ErrorKind` for an ExecuTorch error code coming back from a callback.
fn kind_from_et_code(code: u32) -> ErrorKind {
    use ErrorKind::*;
    [
        Internal,
        InvalidState,
        NotSupported,
        NotImplemented,
        InvalidArgument,
        InvalidType,
        OperatorMissing,
        NotFound,
        MemoryAllocationFailed,
        InvalidProgram,
        OutOfResources,
        DelegateInvalidCompatibility,
        DelegateMemoryAllocationFailed,
        DelegateInvalidHandle,
    ]
    .into_iter()
    .find(|k| k.et_code() == code)
    .unwrap_or(Internal)
}

fn dtype_from_tag(tag: u32) -> Result<DType> {
    i8::try_from(tag)
        .ok()
        .and_then(DType::from_vk)
        .ok_or_else(|| Error::new(ErrorKind::InvalidType, format!("unknown dtype tag {tag}")))
}

fn dtype_tag(dtype: DType) -> u32 {
    match dtype {
        DType::Bool => ETVK_DTYPE_BOOL,
        DType::Uint8 => ETVK_DTYPE_UINT8,
        DType::Int8 => ETVK_DTYPE_INT8,
        DType::Int32 => ETVK_DTYPE_INT32,
        DType::Float16 => ETVK_DTYPE_FLOAT16,
        DType::Float32 => ETVK_DTYPE_FLOAT32,
        DType::Float64 => ETVK_DTYPE_FLOAT64,
        DType::Int64 => ETVK_DTYPE_INT64,
    }
}

/// `prod(sizes) * elem`, or an error on overflow.
fn byte_size(sizes: &[usize], elem: usize, what: &str) -> Result<usize> {
    sizes
        .iter()
        .try_fold(elem, |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| Error::invalid_argument(format!("{what}: byte size of {sizes:?} overflows")))
}

/// Borrows `len` elements at `ptr`; NULL is fine when `len` is 0.
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` readable, initialized elements.
unsafe fn slice_arg<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if len == 0 {
        Ok(&[])
    } else if ptr.is_null() {
        Err(null_arg(name))
    } else {
        check_len::<T>(len, name)?;
        Ok(std::slice::from_raw_parts(ptr, len))
    }
}

/// Rejects lengths no Rust slice can have (`len * size_of::<T>() > isize::MAX`).
fn check_len<T>(len: usize, name: &str) -> Result<()> {
    match len.checked_mul(std::mem::size_of::<T>().max(1)) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(Error::invalid_argument(format!(
            "'{name}' length {len} is too large"
        ))),
    }
}

/// The C-side named data store, seen from Rust.
struct CNamedData {
    ctx: *mut c_void,
    get: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        usize,
        *mut *const c_void,
        *mut usize,
        *mut *mut c_void,
    ) -> u32,
    release: EtvkNamedDataReleaseFn,
}

impl NamedData for CNamedData {
    fn get(&self, key: &str) -> Result<DataBuffer> {
        let mut data: *const c_void = ptr::null();
        let mut size: usize = 0;
        let mut token: *mut c_void = ptr::null_mut();
        // SAFETY: the `etvk_init` caller guarantees `get` and `ctx` are valid during init; the
        // key pointer/length describe a live `&str`.
        let code = unsafe {
            (self.get)(
                self.ctx,
                key.as_ptr().cast(),
                key.len(),
                &mut data,
                &mut size,
                &mut token,
            )
        };
        if code != ETVK_STATUS_OK {
            return Err(Error::new(
                kind_from_et_code(code),
                format!("named data '{key}': get_data failed with ExecuTorch error 0x{code:x}"),
            ));
        }
        let (ctx, release) = (self.ctx, self.release);
        let release_fn = move || {
            if let Some(release) = release {
                // SAFETY: `token` came from a successful `get` on this `ctx` and is released
                // exactly once (DataBuffer runs this closure once, on drop).
                unsafe { release(ctx, token) }
            }
        };
        if data.is_null() && size > 0 {
            release_fn();
            return Err(Error::invalid_argument(format!(
                "named data '{key}': get_data returned NULL for {size} bytes"
            )));
        }
        // SAFETY: the callback contract keeps `data..data+size` valid until `release` runs.
        Ok(unsafe { DataBuffer::from_raw(data.cast(), size, Box::new(release_fn)) })
    }
}

/// Reads one input descriptor into an owned [`InputValue`].
///
/// # Safety
/// `t.data` must point to `t.nbytes` readable bytes when non-NULL.
unsafe fn input_value(i: usize, t: &EtvkTensor) -> Result<InputValue> {
    match t.kind {
        ETVK_KIND_INT => Ok(InputValue::Int(t.int_value)),
        ETVK_KIND_TENSOR => {
            let what = format!("input {i}");
            let dtype = dtype_from_tag(t.dtype).map_err(|e| e.context(&what))?;
            let sizes = tensor_sizes(t).map_err(|e| e.context(&what))?;
            let need = byte_size(&sizes, dtype.size(), &what)?;
            if t.nbytes < need {
                return Err(Error::invalid_argument(format!(
                    "{what}: sizes {sizes:?} of {dtype:?} need {need} bytes, nbytes is {}",
                    t.nbytes
                )));
            }
            let bytes = slice_arg(t.data.cast_const().cast::<u8>(), need, "data")
                .map_err(|e| e.context(&what))?;
            HostTensor::new(dtype, sizes, bytes.to_vec()).map(InputValue::Tensor)
        }
        k => Err(Error::invalid_argument(format!(
            "input {i}: unknown kind {k}"
        ))),
    }
}

fn tensor_sizes(t: &EtvkTensor) -> Result<Vec<usize>> {
    let ndim = t.ndim as usize;
    if ndim > ETVK_MAX_DIMS {
        return Err(Error::invalid_argument(format!(
            "ndim {ndim} exceeds ETVK_MAX_DIMS ({ETVK_MAX_DIMS})"
        )));
    }
    t.sizes[..ndim]
        .iter()
        .map(|&s| {
            usize::try_from(s).map_err(|_| Error::invalid_argument(format!("negative size {s}")))
        })
        .collect()
}

/// True when a Vulkan device with compute support can be opened. Never fails.
#[no_mangle]
pub extern "C" fn etvk_is_available() -> bool {
    clear_last_error();
    match catch_unwind(crate::runtime::availability) {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            // Kept for the caller's log: ExecuTorch itself only says "not available".
            set_last_error(&e.message);
            false
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal panic: {}",
                panic_message(payload.as_ref())
            ));
            false
        }
    }
}

/// Parses and prepares a delegate blob (`processed` of ExecuTorch's `init`).
///
/// `blob`/`blob_len`: the `VH00` blob; it is not referenced after return (free it).
/// `named`: the named data store, or NULL when there is none.
/// `specs`/`n_specs`: compile specs (`specs` may be NULL when `n_specs` is 0).
/// `out`: receives the new handle on success (NULL on failure); free it with `etvk_destroy`.
///
/// # Safety
/// All pointers must be valid for the lengths given; see `EtvkNamedData` for its lifetime.
#[no_mangle]
pub unsafe extern "C" fn etvk_init(
    blob: *const c_void,
    blob_len: usize,
    named: *const EtvkNamedData,
    specs: *const EtvkCompileSpec,
    n_specs: usize,
    out: *mut *mut EtvkDelegate,
) -> u32 {
    guard(|| {
        if out.is_null() {
            return Err(null_arg("out"));
        }
        // SAFETY: checked non-NULL above.
        unsafe { *out = ptr::null_mut() };
        if blob.is_null() {
            return Err(null_arg("blob"));
        }
        // SAFETY: the caller guarantees `blob_len` readable bytes at `blob`.
        let blob = unsafe { slice_arg(blob.cast::<u8>(), blob_len, "blob") }?;

        // SAFETY: the caller guarantees `n_specs` entries at `specs`.
        let raw_specs = unsafe { slice_arg(specs, n_specs, "specs") }?;
        let mut pairs = Vec::with_capacity(raw_specs.len());
        for (i, s) in raw_specs.iter().enumerate() {
            if s.key.is_null() {
                return Err(null_arg(&format!("specs[{i}].key")));
            }
            // SAFETY: the caller guarantees a NUL-terminated key.
            let key = unsafe { CStr::from_ptr(s.key) };
            // A key that is not UTF-8 cannot be one etvk knows; unknown keys are ignored.
            let Ok(key) = key.to_str() else { continue };
            // SAFETY: the caller guarantees `value_len` readable bytes at `value`.
            let value = unsafe { slice_arg(s.value.cast::<u8>(), s.value_len, "value") }
                .map_err(|e| e.context(format!("compile spec '{key}'")))?;
            pairs.push((key, value));
        }
        let specs = CompileSpecs::parse(pairs)?;

        // SAFETY: NULL or a valid `EtvkNamedData` per the contract.
        let named = match unsafe { named.as_ref() } {
            None => None,
            Some(n) => Some(CNamedData {
                ctx: n.ctx,
                get: n.get.ok_or_else(|| null_arg("named->get"))?,
                release: n.release,
            }),
        };
        let delegate = Delegate::init(blob, named.as_ref().map(|n| n as &dyn NamedData), &specs)?;
        let num_inputs = delegate.num_inputs();
        let num_outputs = delegate.num_outputs();
        let handle = Box::new(EtvkDelegate {
            num_inputs,
            num_outputs,
            state: std::sync::Mutex::new(HandleState {
                delegate,
                num_inputs,
                num_outputs,
                poisoned: false,
            }),
        });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Number of delegate inputs (0 for a NULL handle).
///
/// # Safety
/// `handle` is NULL or a live handle from `etvk_init`.
#[no_mangle]
pub unsafe extern "C" fn etvk_num_inputs(handle: *const EtvkDelegate) -> usize {
    clear_last_error();
    // SAFETY: per the contract.
    match unsafe { handle.as_ref() } {
        Some(h) => h.num_inputs,
        None => {
            set_last_error("delegate handle is NULL");
            0
        }
    }
}

/// Number of delegate outputs (0 for a NULL handle).
///
/// # Safety
/// `handle` is NULL or a live handle from `etvk_init`.
#[no_mangle]
pub unsafe extern "C" fn etvk_num_outputs(handle: *const EtvkDelegate) -> usize {
    clear_last_error();
    // SAFETY: per the contract.
    match unsafe { handle.as_ref() } {
        Some(h) => h.num_outputs,
        None => {
            set_last_error("delegate handle is NULL");
            0
        }
    }
}

/// Runs the delegate.
///
/// `inputs`: `n_inputs` (= `etvk_num_inputs`) descriptors, in the delegate's input order.
/// `outputs`: `n_outputs` (= `etvk_num_outputs`) descriptors. For each, etvk writes `kind`,
/// `ndim`, `sizes`, `dtype` (only when it was `ETVK_DTYPE_ANY`) and `nbytes` (bytes needed in
/// that dtype); then, where `data` is non-NULL, copies the output there converted to `dtype`.
/// A non-NULL `data` whose capacity (`nbytes` on entry) is too small fails with
/// InvalidArgument after every output's shape is written; outputs with NULL `data` can be
/// fetched with `etvk_read_output` (valid until the next `etvk_execute`).
///
/// # Safety
/// `handle` is NULL or a live handle; the arrays hold the given number of entries; every
/// non-NULL `data` is valid for its `nbytes`.
#[no_mangle]
pub unsafe extern "C" fn etvk_execute(
    handle: *mut EtvkDelegate,
    inputs: *const EtvkTensor,
    n_inputs: usize,
    outputs: *mut EtvkTensor,
    n_outputs: usize,
) -> u32 {
    guard_handle(handle, |h| {
        if n_inputs != h.num_inputs {
            return Err(Error::invalid_argument(format!(
                "got {n_inputs} inputs, the delegate takes {}",
                h.num_inputs
            )));
        }
        if n_outputs != h.num_outputs {
            return Err(Error::invalid_argument(format!(
                "got {n_outputs} outputs, the delegate produces {}",
                h.num_outputs
            )));
        }
        // SAFETY: the caller guarantees the array lengths.
        let in_desc = unsafe { slice_arg(inputs, n_inputs, "inputs") }?;
        if n_outputs > 0 && outputs.is_null() {
            return Err(null_arg("outputs"));
        }
        // Validate the requested output dtypes before doing any work.
        for i in 0..n_outputs {
            // SAFETY: `i < n_outputs`, within the caller's array.
            let tag = unsafe { (*outputs.add(i)).dtype };
            if tag != ETVK_DTYPE_ANY {
                dtype_from_tag(tag).map_err(|e| e.context(format!("output {i}")))?;
            }
        }
        let values = in_desc
            .iter()
            .enumerate()
            // SAFETY: the caller guarantees each input's data is valid for its nbytes.
            .map(|(i, t)| unsafe { input_value(i, t) })
            .collect::<Result<Vec<_>>>()?;
        h.delegate.execute(&values)?;
        drop(values);

        // Pass 1: report every output's shape and dtype.
        let mut plans = Vec::with_capacity(n_outputs);
        for i in 0..n_outputs {
            let what = format!("output {i}");
            // SAFETY: `i < n_outputs`, within the caller's array; no other reference to it.
            let o = unsafe { &mut *outputs.add(i) };
            let sizes = h.delegate.output_sizes(i)?;
            if sizes.len() > ETVK_MAX_DIMS {
                return Err(Error::not_supported(format!(
                    "{what} has {} dims, more than ETVK_MAX_DIMS ({ETVK_MAX_DIMS})",
                    sizes.len()
                )));
            }
            let dtype = if o.dtype == ETVK_DTYPE_ANY {
                h.delegate.output_dtype(i)?
            } else {
                dtype_from_tag(o.dtype)?
            };
            let need = byte_size(&sizes, dtype.size(), &what)?;
            let capacity = o.nbytes;
            o.kind = ETVK_KIND_TENSOR;
            o.dtype = dtype_tag(dtype);
            o.ndim = sizes.len() as u32;
            o.sizes = [0; ETVK_MAX_DIMS];
            for (d, &s) in o.sizes.iter_mut().zip(&sizes) {
                *d = s as i64;
            }
            o.nbytes = need;
            plans.push((dtype, need, capacity, o.data));
        }
        // Pass 2: copy out where the caller gave a buffer.
        for (i, (dtype, need, capacity, data)) in plans.into_iter().enumerate() {
            if data.is_null() {
                continue;
            }
            if capacity < need {
                return Err(Error::invalid_argument(format!(
                    "output {i} needs {need} bytes, the buffer holds {capacity}"
                )));
            }
            check_len::<u8>(need, "data")?;
            // SAFETY: the caller guarantees `data` is writable for `capacity >= need` bytes.
            let dst = unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), need) };
            h.delegate.read_output_into(i, dtype, dst)?;
        }
        Ok(())
    })
}

/// Copies output `index` of the last `etvk_execute` into `dst` (`dst_len` bytes), converted to
/// `dtype` (`ETVK_DTYPE_ANY`: the delegate's own output dtype). `dst_len` must be at least
/// `prod(sizes) * elem_size`; `dst` may be NULL only when that is 0.
///
/// # Safety
/// `handle` is NULL or a live handle; `dst` is writable for `dst_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn etvk_read_output(
    handle: *mut EtvkDelegate,
    index: usize,
    dtype: u32,
    dst: *mut c_void,
    dst_len: usize,
) -> u32 {
    guard_handle(handle, |h| {
        if index >= h.num_outputs {
            return Err(Error::invalid_argument(format!(
                "output index {index} out of range (the delegate has {} outputs)",
                h.num_outputs
            )));
        }
        let what = format!("output {index}");
        let dtype = if dtype == ETVK_DTYPE_ANY {
            h.delegate.output_dtype(index)?
        } else {
            dtype_from_tag(dtype).map_err(|e| e.context(&what))?
        };
        let sizes = h.delegate.output_sizes(index)?;
        let need = byte_size(&sizes, dtype.size(), &what)?;
        if dst_len < need {
            return Err(Error::invalid_argument(format!(
                "{what} needs {need} bytes, dst_len is {dst_len}"
            )));
        }
        let dst: &mut [u8] = if need == 0 {
            &mut []
        } else if dst.is_null() {
            return Err(null_arg("dst"));
        } else {
            check_len::<u8>(need, "dst")?;
            // SAFETY: the caller guarantees `dst_len >= need` writable bytes.
            unsafe { std::slice::from_raw_parts_mut(dst.cast::<u8>(), need) }
        };
        h.delegate.read_output_into(index, dtype, dst)
    })
}

/// Memory tags, the index into `EtvkMemoryStats::current` / `peak`.
pub const ETVK_TAG_WEIGHT: usize = 0;
pub const ETVK_TAG_STAGING: usize = 1;
pub const ETVK_TAG_ACTIVATION: usize = 2;
pub const ETVK_TAG_IO: usize = 3;
pub const ETVK_TAG_PARAMS: usize = 4;
/// Constant source bytes held from the NamedDataMap or the blob (host memory).
pub const ETVK_TAG_SOURCE: usize = 5;
pub const ETVK_NUM_TAGS: usize = 6;

/// Init phases, the index into `EtvkMemoryStats::phase_peak`.
pub const ETVK_PHASE_BUILD: usize = 0;
pub const ETVK_PHASE_PREPACK: usize = 1;
pub const ETVK_PHASE_ACTIVATIONS: usize = 2;
pub const ETVK_PHASE_READY: usize = 3;
pub const ETVK_NUM_PHASES: usize = 4;

/// Memory figures of one delegate, or of every live delegate of the process together.
/// All sizes in bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct EtvkMemoryStats {
    /// Live delegates these figures cover.
    pub delegates: u32,
    /// 1 when the lifetime arena planned the activations (else the exporter's shared objects).
    pub used_arena: u32,
    /// 1 when loaded in the legacy order.
    pub legacy_order: u32,
    /// Weights written directly into host-visible device memory (no staging).
    pub direct_weights: u32,
    /// Compute pipelines compiled by this process so far (shared by all delegates). Their
    /// driver memory is not in these figures.
    pub pipelines: u32,
    /// Bytes etvk's own code holds on the host heap (graphs, plans, recordings), now and at
    /// the process's peak; not part of the tagged figures below. Process-wide in both cases.
    pub host_heap_current: u64,
    pub host_heap_peak: u64,
    /// W: packed weight bytes on the device.
    pub weights_bytes: u64,
    /// A: activation bytes with the planner used.
    pub activations_bytes: u64,
    /// Activation bytes under the exporter's mem_obj_id shared objects.
    pub shared_objects_bytes: u64,
    /// Activation bytes under the lifetime arena.
    pub arena_bytes: u64,
    /// Staging ring size (legacy: the largest per-weight staging buffer).
    pub staging_ring_bytes: u64,
    /// Bytes held now / at the peak, per tag (`ETVK_TAG_*`).
    pub current: [u64; ETVK_NUM_TAGS],
    pub peak: [u64; ETVK_NUM_TAGS],
    /// Device memory (every tag but source) now / at the peak.
    pub device_current: u64,
    pub device_peak: u64,
    /// Everything accounted (device + source) now / at the peak.
    pub total_current: u64,
    pub total_peak: u64,
    /// Peak of everything accounted during each init phase (`ETVK_PHASE_*`). Process-wide
    /// (NULL handle): the highest over every delegate's phase of that name, of all the process
    /// held then.
    pub phase_peak: [u64; ETVK_NUM_PHASES],
    /// Vulkan memory the process's allocator holds now / held at its peak: the blocks buffers
    /// are sub-allocated from and dedicated allocations (always for every delegate together).
    /// It exceeds `device_*` by what the blocks have free.
    pub reserved_current: u64,
    pub reserved_peak: u64,
}

/// Fills `out` with the memory figures of `handle`, or, when `handle` is NULL, of every live
/// delegate of the process together (peaks then span everything loaded so far).
///
/// # Safety
/// `handle` is NULL or a live handle; `out` points to a writable `EtvkMemoryStats`.
#[no_mangle]
pub unsafe extern "C" fn etvk_memory_stats(
    handle: *const EtvkDelegate,
    out: *mut EtvkMemoryStats,
) -> u32 {
    guard(|| {
        // SAFETY: the caller passes NULL or a writable struct.
        let out = unsafe { out.as_mut() }.ok_or_else(|| null_arg("out"))?;
        // SAFETY: the caller passes NULL or a live handle.
        let (count, report, stats) = match unsafe { handle.as_ref() } {
            Some(h) => {
                let h = h.state.lock().unwrap_or_else(|e| e.into_inner());
                (
                    1,
                    h.delegate.memory_report().clone(),
                    h.delegate.memory_stats(),
                )
            }
            None => {
                let (n, r) = crate::runtime::process_memory_report();
                (n, r, crate::gpu::memory::Accountant::process())
            }
        };
        let (reserved_current, reserved_peak) = crate::gpu::reserved();
        let (host_heap_current, host_heap_peak) = crate::host_heap::host_heap_bytes();
        let mut s = EtvkMemoryStats {
            delegates: count as u32,
            used_arena: report.used_arena as u32,
            legacy_order: report.legacy_order as u32,
            direct_weights: report.direct_weights as u32,
            pipelines: crate::gpu::pipelines_created().min(u32::MAX as usize) as u32,
            host_heap_current: host_heap_current as u64,
            host_heap_peak: host_heap_peak as u64,
            weights_bytes: report.weights_bytes,
            activations_bytes: report.activations_bytes,
            shared_objects_bytes: report.shared_objects_bytes,
            arena_bytes: report.arena_bytes,
            staging_ring_bytes: report.staging_ring_bytes,
            current: stats.current,
            peak: stats.peak,
            device_current: stats.device_current,
            device_peak: stats.device_peak,
            total_current: stats.total_current,
            total_peak: stats.total_peak,
            phase_peak: [0; ETVK_NUM_PHASES],
            reserved_current,
            reserved_peak,
        };
        for (i, name) in ["build", "prepack", "activations", "ready"]
            .iter()
            .enumerate()
        {
            s.phase_peak[i] = stats.phase(name).map(|p| p.total).unwrap_or(0);
        }
        *out = s;
        Ok(())
    })
}

/// One dispatch of a delegate's last execute (see `etvk_profile`). Strings are NUL-terminated
/// and cut to fit.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EtvkProfileEntry {
    /// The operator call (chain index and the exporter's node id) that recorded the dispatch.
    pub op_index: u32,
    pub node_id: i64,
    /// The operator's name, e.g. "aten.convolution.default".
    pub op_name: [c_char; 64],
    /// The shader, e.g. "conv2d_pw".
    pub kernel: [c_char; 32],
    /// Sizes of the tensors the dispatch binds, e.g. "[1,32,112,112] [1,16,112,112]".
    pub shapes: [c_char; 128],
    /// GPU timestamps around the dispatch, in ns on the device's clock.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Its own time: from the later of its start and the previous dispatch's end to its end.
    pub busy_ns: u64,
    /// Floating-point operations (0 where not counted) and bytes of the tensors it binds.
    pub flops: u64,
    pub bytes: u64,
}

fn c_text<const N: usize>(text: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (o, b) in out.iter_mut().zip(text.bytes().take(N - 1)) {
        *o = b as c_char;
    }
    out
}

impl From<&crate::runtime::ProfileEntry> for EtvkProfileEntry {
    fn from(e: &crate::runtime::ProfileEntry) -> Self {
        let shapes: Vec<String> = e
            .shapes
            .iter()
            .map(|s| {
                let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
                format!("[{}]", dims.join(","))
            })
            .collect();
        EtvkProfileEntry {
            op_index: e.op_index.min(u32::MAX as usize) as u32,
            node_id: e.node_id,
            op_name: c_text(&e.op_name),
            kernel: c_text(e.kernel),
            shapes: c_text(&shapes.join(" ")),
            start_ns: e.start_ns,
            end_ns: e.end_ns,
            busy_ns: e.busy_ns,
            flops: e.flops,
            bytes: e.bytes,
        }
    }
}

/// Turns per-dispatch GPU timing on or off for `handle` (the graph is recorded again); the
/// timings of each later execute are then read with `etvk_profile`.
///
/// # Safety
/// `handle` is a live handle from `etvk_init`.
#[no_mangle]
pub unsafe extern "C" fn etvk_set_profiling(handle: *mut EtvkDelegate, on: bool) -> u32 {
    guard_handle(handle, |h| h.delegate.set_profiling(on))
}

/// Makes delegates initialized from now on time every dispatch (as `ETVK_PROFILE=1` does).
#[no_mangle]
pub extern "C" fn etvk_set_profiling_default(on: bool) {
    clear_last_error();
    crate::runtime::set_profiling_by_default(on);
}

/// Copies up to `capacity` entries of the last execute's profile of `handle` (or, when `handle`
/// is NULL, of every live profiling delegate, oldest first) into `out` and sets `*count` to the
/// number of entries there are (which may exceed `capacity`: call again with more room).
///
/// # Safety
/// `handle` is NULL or a live handle; `out` has room for `capacity` entries (may be NULL when
/// `capacity` is 0); `count` is writable.
#[no_mangle]
pub unsafe extern "C" fn etvk_profile(
    handle: *const EtvkDelegate,
    out: *mut EtvkProfileEntry,
    capacity: usize,
    count: *mut usize,
) -> u32 {
    guard(|| {
        // SAFETY: the caller passes a writable count.
        let count = unsafe { count.as_mut() }.ok_or_else(|| null_arg("count"))?;
        // SAFETY: the caller passes NULL or a live handle.
        let entries = match unsafe { handle.as_ref() } {
            Some(h) => h
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .delegate
                .profile(),
            None => crate::runtime::process_profile(),
        };
        *count = entries.len();
        if capacity > 0 {
            if out.is_null() {
                return Err(null_arg("out"));
            }
            // SAFETY: the caller gives room for `capacity` entries at `out`.
            let dst = unsafe { std::slice::from_raw_parts_mut(out, capacity) };
            for (d, e) in dst.iter_mut().zip(&entries) {
                *d = e.into();
            }
        }
        Ok(())
    })
}

/// Destroys a delegate and releases every resource (and named data buffer) it holds.
/// NULL is a no-op.
///
/// # Safety
/// `handle` is NULL or a live handle from `etvk_init`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn etvk_destroy(handle: *mut EtvkDelegate) {
    clear_last_error();
    if handle.is_null() {
        return;
    }
    // SAFETY: `handle` came from `Box::into_raw` in `etvk_init` and is destroyed once.
    let boxed = unsafe { Box::from_raw(handle) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(boxed))) {
        set_last_error(&format!(
            "internal panic: {}",
            panic_message(payload.as_ref())
        ));
    }
}

/// The message of the most recent failing etvk call on this thread, or "" when the most recent
/// call succeeded (every other etvk function clears it on entry). The pointer stays valid until
/// the next etvk call on this thread. Never NULL.
#[no_mangle]
pub extern "C" fn etvk_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: `etvk_last_error` never returns NULL and the string is NUL-terminated.
        unsafe { CStr::from_ptr(etvk_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    fn blank() -> EtvkTensor {
        EtvkTensor {
            kind: ETVK_KIND_TENSOR,
            dtype: ETVK_DTYPE_FLOAT32,
            ndim: 0,
            sizes: [0; ETVK_MAX_DIMS],
            data: ptr::null_mut(),
            nbytes: 0,
            int_value: 0,
        }
    }

    #[test]
    fn status_codes_match_error_kinds() {
        assert_eq!(ETVK_STATUS_INTERNAL, ErrorKind::Internal.et_code());
        assert_eq!(ETVK_STATUS_INVALID_STATE, ErrorKind::InvalidState.et_code());
        assert_eq!(ETVK_STATUS_NOT_SUPPORTED, ErrorKind::NotSupported.et_code());
        assert_eq!(
            ETVK_STATUS_INVALID_ARGUMENT,
            ErrorKind::InvalidArgument.et_code()
        );
        assert_eq!(ETVK_STATUS_INVALID_TYPE, ErrorKind::InvalidType.et_code());
        assert_eq!(ETVK_STATUS_NOT_FOUND, ErrorKind::NotFound.et_code());
        assert_eq!(
            ETVK_STATUS_INVALID_PROGRAM,
            ErrorKind::InvalidProgram.et_code()
        );
        assert_eq!(
            ETVK_STATUS_DELEGATE_INVALID_HANDLE,
            ErrorKind::DelegateInvalidHandle.et_code()
        );
        for code in [0x10, 0x14, 0x25, 0x31] {
            assert_eq!(kind_from_et_code(code).et_code(), code);
        }
        assert_eq!(kind_from_et_code(0x9999), ErrorKind::Internal);
    }

    #[test]
    fn dtype_tags_round_trip() {
        for tag in 0..8 {
            assert_eq!(dtype_tag(dtype_from_tag(tag).unwrap()), tag);
        }
        assert_eq!(dtype_from_tag(8).unwrap_err().kind, ErrorKind::InvalidType);
        assert_eq!(
            dtype_from_tag(127).unwrap_err().kind,
            ErrorKind::InvalidType
        );
        assert_eq!(
            dtype_from_tag(ETVK_DTYPE_ANY).unwrap_err().kind,
            ErrorKind::InvalidType
        );
    }

    #[test]
    fn null_arguments_are_rejected() {
        let mut out: *mut EtvkDelegate = ptr::null_mut();
        let blob = [0u8; 4];
        unsafe {
            assert_eq!(
                etvk_init(ptr::null(), 0, ptr::null(), ptr::null(), 0, &mut out),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert!(last_error().contains("blob"), "{}", last_error());
            assert_eq!(
                etvk_init(
                    blob.as_ptr().cast(),
                    usize::MAX,
                    ptr::null(),
                    ptr::null(),
                    0,
                    &mut out
                ),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert!(last_error().contains("too large"), "{}", last_error());
            assert_eq!(
                etvk_init(
                    blob.as_ptr().cast(),
                    4,
                    ptr::null(),
                    ptr::null(),
                    0,
                    ptr::null_mut()
                ),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert_eq!(
                etvk_init(
                    blob.as_ptr().cast(),
                    4,
                    ptr::null(),
                    ptr::null(),
                    2,
                    &mut out
                ),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert!(last_error().contains("specs"), "{}", last_error());
            let spec = EtvkCompileSpec {
                key: ptr::null(),
                value: ptr::null(),
                value_len: 0,
            };
            assert_eq!(
                etvk_init(blob.as_ptr().cast(), 4, ptr::null(), &spec, 1, &mut out),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            let named = EtvkNamedData {
                ctx: ptr::null_mut(),
                get: None,
                release: None,
            };
            assert_eq!(
                etvk_init(blob.as_ptr().cast(), 4, &named, ptr::null(), 0, &mut out),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert!(last_error().contains("named->get"), "{}", last_error());
            assert!(out.is_null());
            // A malformed spec value for a known key is rejected before the blob is parsed.
            let one = 1u32;
            let spec = EtvkCompileSpec {
                key: c"force_fp16".as_ptr(),
                value: (&one as *const u32).cast(),
                value_len: 4,
            };
            assert_eq!(
                etvk_init(blob.as_ptr().cast(), 4, ptr::null(), &spec, 1, &mut out),
                ETVK_STATUS_INVALID_ARGUMENT
            );
            assert!(last_error().contains("force_fp16"), "{}", last_error());
        }
    }

    #[test]
    fn null_handle_is_invalid_handle() {
        let mut t = blank();
        unsafe {
            assert_eq!(
                etvk_execute(ptr::null_mut(), ptr::null(), 0, ptr::null_mut(), 0),
                ETVK_STATUS_DELEGATE_INVALID_HANDLE
            );
            assert_eq!(last_error(), "delegate handle is NULL");
            assert_eq!(
                etvk_read_output(ptr::null_mut(), 0, ETVK_DTYPE_ANY, ptr::null_mut(), 0),
                ETVK_STATUS_DELEGATE_INVALID_HANDLE
            );
            assert_eq!(
                etvk_execute(ptr::null_mut(), &t, 1, &mut t, 1),
                ETVK_STATUS_DELEGATE_INVALID_HANDLE
            );
            assert_eq!(etvk_num_inputs(ptr::null()), 0);
            assert_eq!(etvk_num_outputs(ptr::null()), 0);
            assert_eq!(last_error(), "delegate handle is NULL");
            etvk_destroy(ptr::null_mut());
            assert_eq!(last_error(), "");
        }
    }

    #[test]
    fn input_descriptors_are_validated() {
        let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut t = blank();
        t.ndim = 2;
        t.sizes[0] = 2;
        t.sizes[1] = 3;
        t.data = data.as_ptr() as *mut c_void;
        t.nbytes = 24;
        let v = unsafe { input_value(0, &t) }.unwrap();
        assert_eq!(
            v,
            InputValue::Tensor(HostTensor::from_f32(vec![2, 3], &data).unwrap())
        );

        t.nbytes = 20;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        t.nbytes = 24;
        t.ndim = 17;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        t.ndim = 2;
        t.sizes[1] = -3;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        t.sizes[1] = 3;
        t.dtype = 9;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidType
        );
        t.dtype = ETVK_DTYPE_FLOAT32;
        t.data = ptr::null_mut();
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        t.sizes[0] = 0;
        t.nbytes = 0;
        let v = unsafe { input_value(0, &t) }.unwrap();
        assert_eq!(
            v,
            InputValue::Tensor(HostTensor::new(DType::Float32, vec![0, 3], vec![]).unwrap())
        );
        t.sizes[0] = i64::MAX;
        t.sizes[1] = i64::MAX;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );

        t.kind = ETVK_KIND_INT;
        t.int_value = -7;
        assert_eq!(unsafe { input_value(0, &t) }.unwrap(), InputValue::Int(-7));
        t.kind = 5;
        assert_eq!(
            unsafe { input_value(0, &t) }.unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    unsafe extern "C" fn test_get(
        ctx: *mut c_void,
        key: *const c_char,
        key_len: usize,
        data: *mut *const c_void,
        size: *mut usize,
        token: *mut *mut c_void,
    ) -> u32 {
        let key =
            std::str::from_utf8(std::slice::from_raw_parts(key.cast::<u8>(), key_len)).unwrap();
        if key != "w" {
            return ETVK_STATUS_NOT_FOUND;
        }
        let bytes: Box<[u8]> = vec![1u8, 2, 3].into_boxed_slice();
        *size = bytes.len();
        let raw = Box::into_raw(bytes);
        *data = raw as *const u8 as *const c_void;
        *token = raw as *mut u8 as *mut c_void;
        *(ctx as *mut i32) += 1;
        0
    }

    unsafe extern "C" fn test_release(ctx: *mut c_void, token: *mut c_void) {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            token as *mut u8,
            3,
        )));
        *(ctx as *mut i32) -= 1;
    }

    #[test]
    fn named_data_adapter_fetches_and_releases() {
        let mut live = 0i32;
        let n = CNamedData {
            ctx: (&mut live as *mut i32).cast(),
            get: test_get,
            release: Some(test_release),
        };
        let buf = n.get("w").unwrap();
        assert_eq!(buf.bytes(), &[1, 2, 3]);
        assert_eq!(unsafe { *(n.ctx as *const i32) }, 1);
        drop(buf);
        assert_eq!(unsafe { *(n.ctx as *const i32) }, 0);
        let err = n.get("missing").err().unwrap();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(err.message.contains("missing"));
    }

    #[test]
    fn panics_become_internal_errors() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, ETVK_STATUS_INTERNAL);
        assert_eq!(last_error(), "internal panic: boom");
        assert_eq!(guard(|| Ok(())), ETVK_STATUS_OK);
        assert_eq!(last_error(), "");
    }
}
