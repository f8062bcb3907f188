//! Weight re-layouts: how a constant's elements are re-ordered into a kernel's tile order while
//! they stream to the device (see `runtime/prepack.rs`). Every packing maps each element of the
//! packed tensor to one element of the source tensor, or to zero (padding).

/// A constant re-laid out for a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Packing {
    /// A regular (groups = 1) convolution weight `[cout, cin, kh, kw]` as 4x4 blocks:
    /// `[ceil(cout/4)][ceil(cin/4)][kh][kw][4 input channels][4 output channels]`, so one vec4
    /// holds the weights of 4 output channels for one input channel and tap.
    ConvBlocks {
        cout: usize,
        cin: usize,
        kh: usize,
        kw: usize,
    },
    /// A depthwise weight `[c, 1, kh, kw]` as `[ceil(c/4)][kh][kw][4 channels]`.
    Depthwise { c: usize, kh: usize, kw: usize },
    /// A vector of `n` padded with zeros to a multiple of 4 (per-channel bias).
    Pad4 { n: usize },
    /// A matrix `[rows, cols]` with `cols` padded with zeros to a multiple of 4, so that every
    /// row starts on a vec4 (linear weights `[N, K]` read along K).
    PadCols4 { rows: usize, cols: usize },
}

impl Packing {
    /// Elements of the source tensor.
    pub fn source_len(&self) -> usize {
        match *self {
            Packing::ConvBlocks { cout, cin, kh, kw } => cout * cin * kh * kw,
            Packing::Depthwise { c, kh, kw } => c * kh * kw,
            Packing::Pad4 { n } => n,
            Packing::PadCols4 { rows, cols } => rows * cols,
        }
    }

    /// Elements of the packed tensor.
    pub fn packed_len(&self) -> usize {
        let up4 = |v: usize| v.div_ceil(4) * 4;
        match *self {
            Packing::ConvBlocks { cout, cin, kh, kw } => up4(cout) * up4(cin) * kh * kw,
            Packing::Depthwise { c, kh, kw } => up4(c) * kh * kw,
            Packing::Pad4 { n } => up4(n),
            Packing::PadCols4 { rows, cols } => rows * up4(cols),
        }
    }

    /// The source element that packed element `i` holds, or `None` for padding.
    pub fn source_index(&self, i: usize) -> Option<usize> {
        match *self {
            Packing::ConvBlocks { cout, cin, kh, kw } => {
                let oc_lane = i % 4;
                let ic_lane = (i / 4) % 4;
                let tap = (i / 16) % (kh * kw);
                let block = i / (16 * kh * kw);
                let ic4 = block % cin.div_ceil(4);
                let oc4 = block / cin.div_ceil(4);
                let (oc, ic) = (oc4 * 4 + oc_lane, ic4 * 4 + ic_lane);
                (oc < cout && ic < cin).then(|| (oc * cin + ic) * kh * kw + tap)
            }
            Packing::Depthwise { c, kh, kw } => {
                let lane = i % 4;
                let tap = (i / 4) % (kh * kw);
                let ch = (i / (4 * kh * kw)) * 4 + lane;
                (ch < c).then(|| ch * kh * kw + tap)
            }
            Packing::Pad4 { n } => (i < n).then_some(i),
            Packing::PadCols4 { rows: _, cols } => {
                let stride = cols.div_ceil(4) * 4;
                let (r, c) = (i / stride, i % stride);
                (c < cols).then(|| r * cols + c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Packing;

    /// Every source element lands exactly once, and padding is exactly the rest.
    fn check_bijection(p: Packing) {
        let mut seen = vec![0u32; p.source_len()];
        let mut padding = 0;
        for i in 0..p.packed_len() {
            match p.source_index(i) {
                Some(j) => seen[j] += 1,
                None => padding += 1,
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{p:?}");
        assert_eq!(padding, p.packed_len() - p.source_len(), "{p:?}");
    }

    #[test]
    fn packings_are_bijections_onto_the_source() {
        for (cout, cin, kh, kw) in [(1, 1, 1, 1), (5, 3, 3, 3), (8, 8, 1, 1), (6, 10, 2, 5)] {
            check_bijection(Packing::ConvBlocks { cout, cin, kh, kw });
        }
        for (c, kh, kw) in [(1, 3, 3), (7, 5, 5), (32, 3, 3)] {
            check_bijection(Packing::Depthwise { c, kh, kw });
        }
        for n in [1, 4, 7] {
            check_bijection(Packing::Pad4 { n });
        }
        for (rows, cols) in [(3, 5), (4, 8), (1, 1)] {
            check_bijection(Packing::PadCols4 { rows, cols });
        }
    }

    #[test]
    fn conv_blocks_put_four_output_channels_in_a_vec4() {
        let p = Packing::ConvBlocks {
            cout: 8,
            cin: 4,
            kh: 1,
            kw: 1,
        };
        // Packed [oc4=1][ic4=0][tap 0][ic lane 2][oc lane 3] is W[7, 2].
        assert_eq!(p.source_index(16 + 2 * 4 + 3), Some(7 * 4 + 2));
    }
}
