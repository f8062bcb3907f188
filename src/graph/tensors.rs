//! What the runtime plans for each tensor value: the serialized graph's tensors, and the ones
//! the builder adds (layout conversions, re-laid-out constants).

use crate::format::DType;
use crate::kernels::packing::Packing;
use crate::kernels::{Elem, Layout};

/// Where a tensor's contents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorKind {
    /// Computed while the graph runs (graph activations, I/O, tensors the builder adds).
    Activation {
        /// The exporter's shared memory object, when it planned one.
        mem_obj_id: Option<u32>,
    },
    /// A constant of the graph (`Graph::constants[constant]`), stored as the source says or
    /// re-laid out by `packing`.
    Constant {
        constant: usize,
        packing: Option<Packing>,
    },
}

/// One tensor as the memory planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    pub dtype: DType,
    /// Sizes at the serialized bounds: what memory is planned for.
    pub bound_sizes: Vec<usize>,
    pub layout: Layout,
    /// How its elements are stored (f16 only where an f16 kernel wrote or packed it).
    pub elem: Elem,
    pub kind: TensorKind,
}

impl TensorMeta {
    /// Elements the device buffer holds (padding of packed layouts included).
    pub fn stored_elements(&self) -> usize {
        match &self.kind {
            TensorKind::Constant {
                packing: Some(p), ..
            } => p.packed_len(),
            _ => self.layout.stored_elements(&self.bound_sizes),
        }
    }

    /// Device bytes (whole 32-bit words: shaders address memory by word).
    pub fn bytes(&self) -> usize {
        (self.stored_elements() * self.elem.bytes()).next_multiple_of(4)
    }

    pub fn is_constant(&self) -> bool {
        matches!(self.kind, TensorKind::Constant { .. })
    }

    pub fn mem_obj_id(&self) -> Option<u32> {
        match self.kind {
            TensorKind::Activation { mem_obj_id } => mem_obj_id,
            TensorKind::Constant { .. } => None,
        }
    }
}
