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
