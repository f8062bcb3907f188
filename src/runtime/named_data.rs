//! Constant bytes that live outside the blob: ExecuTorch's NamedDataMap, seen from Rust.

use crate::error::Result;

/// Bytes borrowed from a data source; the source's memory is released when this is dropped
/// (the C++ side's `FreeableBuffer::Free()`).
pub struct DataBuffer {
    ptr: *const u8,
    len: usize,
    release: Option<Box<dyn FnOnce()>>,
}

impl DataBuffer {
    /// Wraps foreign bytes; `release` runs exactly once, on drop.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid and unchanged until `release`
    /// has run.
    pub unsafe fn from_raw(ptr: *const u8, len: usize, release: Box<dyn FnOnce()>) -> Self {
        DataBuffer {
            ptr,
            len,
            release: Some(release),
        }
    }

    /// Owned bytes (tests, or copies made by the caller).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *const u8;
        let release = Box::new(move || {
            // SAFETY: `ptr`/`len` came from `Box::into_raw` of a boxed slice above and are
            // reclaimed exactly once, here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr as *mut u8, len)) });
        });
        DataBuffer {
            ptr,
            len,
            release: Some(release),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the constructor's contract keeps `ptr..ptr+len` valid until release, which
        // only runs in `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for DataBuffer {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// A source of named constants (ExecuTorch's NamedDataMap).
pub trait NamedData {
    /// The bytes stored under `key`; `ErrorKind::NotFound` when there are none.
    fn get(&self, key: &str) -> Result<DataBuffer>;
}

/// An in-memory map, for tests and tools.
impl NamedData for std::collections::HashMap<String, Vec<u8>> {
    fn get(&self, key: &str) -> Result<DataBuffer> {
        match std::collections::HashMap::get(self, key) {
            Some(bytes) => Ok(DataBuffer::from_vec(bytes.clone())),
            None => Err(crate::error::Error::new(
                crate::error::ErrorKind::NotFound,
                format!("named data key '{key}' not found"),
            )),
        }
    }
}
