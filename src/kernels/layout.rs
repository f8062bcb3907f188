//! How a tensor's elements are laid out in its buffer.

/// The memory layout of a tensor on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// Row-major over the sizes (PyTorch's contiguous layout).
    Contiguous,
    /// Channels packed by 4, for `[N, C, H, W]` (or `[N, C, L]`, read as H = 1): element
    /// `(n, c, h, w)` is lane `c % 4` of texel `((n * C4 + c / 4) * H + h) * W + w`, with
    /// `C4 = ceil(C / 4)`. Lanes past C hold zeros, so a kernel may read whole texels.
    Channels4,
}

impl Layout {
    /// Elements the buffer stores for a tensor of `sizes` (padding included).
    pub fn stored_elements(self, sizes: &[usize]) -> usize {
        match self {
            Layout::Contiguous => sizes.iter().product(),
            Layout::Channels4 => {
                let [n, c, h, w] = nchw(sizes);
                n * c.div_ceil(4) * 4 * h * w
            }
        }
    }
}

/// `sizes` of a rank-4 `[N, C, H, W]` or rank-3 `[N, C, L]` tensor as `[N, C, H, W]` (H = 1
/// for rank 3). Other ranks are read as `[1, 1, 1, numel]`.
pub fn nchw(sizes: &[usize]) -> [usize; 4] {
    match *sizes {
        [n, c, h, w] => [n, c, h, w],
        [n, c, l] => [n, c, 1, l],
        _ => [1, 1, 1, sizes.iter().product()],
    }
}

/// How a tensor's elements are stored on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    /// 32-bit floats (every float dtype unless stored as f16).
    F32,
    /// 16-bit floats: FLOAT16 tensors of kernels with f16 variants, on devices with 16-bit
    /// storage.
    F16,
    /// 32-bit integers (every integer and bool dtype).
    I32,
    /// Raw bytes, four to a 32-bit word: 8-bit constants a kernel reads packed (quantized
    /// weights, 4-bit ones two to a byte), so they stay their file size on the device.
    U8,
}

impl Elem {
    pub fn bytes(self) -> usize {
        match self {
            Elem::U8 => 1,
            Elem::F16 => 2,
            Elem::F32 | Elem::I32 => 4,
        }
    }

    /// The element format etvk stores a dtype in by default (before any f16 kernel).
    pub fn default_for(float: bool) -> Elem {
        if float {
            Elem::F32
        } else {
            Elem::I32
        }
    }
}

/// What element format a binding accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemReq {
    /// 32-bit words: f32 or i32 (every storage binding of the 32-bit kernels).
    Words32,
    /// f16 (bindings of f16 kernel variants). A texel binding could read either format, but
    /// it takes the same as the variant's storage-buffer twin, so that the conversions a graph
    /// gets do not depend on which twin the run-time sizes pick.
    F16,
    /// Raw bytes ([`Elem::U8`]), read as packed 32-bit words.
    Bytes,
}

impl ElemReq {
    /// Whether a tensor stored as `e` can be bound as is.
    pub fn accepts(self, e: Elem) -> bool {
        match self {
            ElemReq::Words32 => e == Elem::F32 || e == Elem::I32,
            ElemReq::F16 => e == Elem::F16,
            ElemReq::Bytes => e == Elem::U8,
        }
    }

    /// The format a tensor stored as `have` is converted to for this binding.
    pub fn target(self, have: Elem) -> Elem {
        match self {
            ElemReq::Words32 if have == Elem::F16 => Elem::F32,
            ElemReq::F16 => Elem::F16,
            ElemReq::Bytes => Elem::U8,
            _ => have,
        }
    }
}
