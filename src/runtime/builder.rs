//! What an operator sees while the graph is built: typed access to its arguments, output
//! shape declaration, and the dispatches it records. Ops never touch Vulkan directly.

use crate::error::{Error, ErrorKind, Result};
use crate::format::{DType, Graph, Value, ValueId};
use crate::gpu::{Caps, Shader};

/// A tensor argument as an op sees it at build time.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub id: ValueId,
    pub dtype: DType,
    pub sizes: Vec<usize>,
}

impl TensorInfo {
    pub fn numel(&self) -> usize {
        self.sizes.iter().product()
    }
    pub fn rank(&self) -> usize {
        self.sizes.len()
    }
    /// True when the tensor is stored as f32 on the GPU (every float dtype); otherwise i32.
    pub fn is_float(&self) -> bool {
        self.dtype.is_float()
    }
}

/// The run-time value of one delegate input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeInput {
    Sizes(Vec<usize>),
    Int(i64),
    /// A tensor whose values the graph reads on the host (`et_vk.select_as_symint`): its
    /// sizes and its elements as integers.
    Values(Vec<usize>, Vec<i64>),
}

impl RuntimeInput {
    /// The run-time sizes of a tensor input.
    pub fn sizes(&self) -> Option<&[usize]> {
        match self {
            RuntimeInput::Sizes(s) | RuntimeInput::Values(s, _) => Some(s),
            RuntimeInput::Int(_) => None,
        }
    }
}

/// One recorded shader dispatch: `params[0]` is the number of work items.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub shader: &'static Shader,
    /// Which build of a shader that holds several ops (its `OP`, see `build.rs`): each op's
    /// pipeline then carries only that op's code.
    pub variant: Option<i32>,
    pub params: Vec<i32>,
    /// Tensors bound at bindings 1.. in this order.
    pub tensors: Vec<ValueId>,
    /// Index of the chain entry that recorded it (for error messages).
    pub op_index: usize,
}

impl Dispatch {
    /// Work items (threads) it covers: `params[0]`; a dispatch with none is not recorded.
    pub fn work_items(&self) -> u64 {
        self.params.first().copied().unwrap_or(0).max(0) as u64
    }
}

pub struct OpBuilder<'g> {
    graph: &'g Graph,
    caps: &'g Caps,
    /// Sizes of every tensor value as the graph runs (starts at the serialized dims).
    sizes: Vec<Option<Vec<usize>>>,
    dispatches: Vec<Dispatch>,
    /// For each value, the value whose memory it shares (itself when not an alias).
    alias_root: Vec<ValueId>,
    /// Values written in place by some dispatch (alias roots), e.g. KV caches.
    written: std::collections::BTreeSet<ValueId>,
    /// Run-time values of symbolic ints (SymInt inputs, `sym_size` and arithmetic on them).
    ints: Vec<Option<i64>>,
    /// Element values of input tensors read on the host (see `RuntimeInput::Values`).
    host_values: Vec<Option<Vec<i64>>>,
    /// View-like ops may share their input's memory (see `may_alias`).
    alias_activations: bool,
    /// Outputs must equal the serialized dims (the build at the bounds of a graph without
    /// symbolic ints); otherwise they may be anything that fits them (see `fits_bound`).
    exact_outputs: bool,
    op_index: usize,
    op_name: String,
}

impl<'g> OpBuilder<'g> {
    pub fn new(graph: &'g Graph, caps: &'g Caps) -> Self {
        let sizes = graph
            .values
            .iter()
            .map(|v| match v {
                Value::Tensor(t) => Some(t.dims.clone()),
                _ => None,
            })
            .collect();
        OpBuilder {
            graph,
            caps,
            sizes,
            dispatches: Vec::new(),
            alias_root: (0..graph.values.len()).collect(),
            written: Default::default(),
            ints: vec![None; graph.values.len()],
            host_values: vec![None; graph.values.len()],
            alias_activations: false,
            // Sizes computed from symbolic ints need not peak at the input bounds
            // (arange(x.shape[0], 32) is longest for the smallest x), so such graphs only
            // check that outputs fit their bounds.
            exact_outputs: !has_symints(graph),
            op_index: 0,
            op_name: String::new(),
        }
    }

    /// A build for inputs smaller than the serialized bounds: `inputs` gives each input value's
    /// run-time sizes (tensors) or value (SymInts); outputs may be anything within the bounds.
    pub fn resized(graph: &'g Graph, caps: &'g Caps, inputs: &[(ValueId, RuntimeInput)]) -> Self {
        let mut b = Self::new(graph, caps);
        b.exact_outputs = false;
        for (id, input) in inputs {
            match input {
                RuntimeInput::Sizes(s) => b.sizes[*id] = Some(s.clone()),
                RuntimeInput::Int(v) => b.ints[*id] = Some(*v),
                RuntimeInput::Values(s, v) => {
                    b.sizes[*id] = Some(s.clone());
                    b.host_values[*id] = Some(v.clone());
                }
            }
        }
        b
    }

    /// The elements of input tensor `id` as read on the host for this build, if it has any.
    pub fn host_values(&self, id: ValueId) -> Option<&[i64]> {
        self.host_values.get(id).and_then(|v| v.as_deref())
    }

    /// True when `id` is one of the graph's inputs.
    pub fn is_graph_input(&self, id: ValueId) -> bool {
        self.graph.input_ids.contains(&id)
    }

    /// Sizes of tensor `id` as built (run-time sizes after a resize).
    pub fn sizes_of(&self, id: ValueId) -> Option<&[usize]> {
        self.sizes.get(id).and_then(|s| s.as_deref())
    }

    /// Marks a tensor (a constant, typically) as written in place by this op, so it gets
    /// memory of its own instead of sharing a deduplicated weight buffer.
    pub fn mark_written(&mut self, id: ValueId) {
        self.written.insert(self.alias_root[id]);
    }

    /// Roots of every tensor marked written.
    pub fn written(&self) -> &std::collections::BTreeSet<ValueId> {
        &self.written
    }

    /// Sets the run-time value of a symbolic int (or bool) value.
    pub fn set_int(&mut self, id: ValueId, v: i64) -> Result<()> {
        match self.value(id)? {
            Value::SymInt(_) | Value::Int(_) | Value::Bool(_) | Value::Null => {
                self.ints[id] = Some(v);
                Ok(())
            }
            _ => Err(self.type_err(id, "a symbolic int output")),
        }
    }

    /// Marks the start of chain entry `index` named `name` (for error messages).
    pub fn begin_op(&mut self, index: usize, name: &str) {
        self.op_index = index;
        self.op_name = name.to_owned();
    }

    pub fn into_dispatches(self) -> Vec<Dispatch> {
        self.into_parts().0
    }

    /// The recorded dispatches (tensor ids resolved to the memory they use) and, per value,
    /// the value whose memory it uses.
    pub fn into_parts(self) -> (Vec<Dispatch>, Vec<ValueId>) {
        let roots = self.alias_root;
        let dispatches = self
            .dispatches
            .into_iter()
            .map(|mut d| {
                d.tensors.iter_mut().for_each(|t| *t = roots[*t]);
                d
            })
            .collect();
        (dispatches, roots)
    }

    /// Makes output `out` share the memory of `src` (same element count and GPU
    /// representation) instead of copying: views of contiguous tensors, prepacked constants.
    pub fn alias(&mut self, out: ValueId, src: ValueId, sizes: Vec<usize>) -> Result<TensorInfo> {
        let s = self.tensor(src)?;
        let info = self.set_output(out, sizes)?;
        if info.numel() != s.numel() || info.is_float() != s.is_float() {
            return Err(self.err(format!(
                "value {out} ({:?} {:?}) cannot alias value {src} ({:?} {:?})",
                info.dtype, info.sizes, s.dtype, s.sizes
            )));
        }
        self.alias_root[out] = self.alias_root[src];
        Ok(info)
    }

    /// Lets view-like ops alias activations. Only valid with the lifetime arena: the
    /// exporter's shared objects assume every output has memory of its own.
    pub fn set_alias_activations(&mut self, on: bool) {
        self.alias_activations = on;
    }

    /// Whether an op that reproduces `x` unchanged (a view, a clone) may share its memory
    /// instead of copying: activations only, since a constant may be written in place later
    /// (a KV cache), which would change a copy taken before.
    pub fn may_alias(&self, x: &TensorInfo) -> bool {
        let root = self.alias_root[x.id];
        self.alias_activations
            && self
                .graph
                .tensor(root)
                .is_some_and(|t| t.constant.is_none())
            && !self.written.contains(&root)
    }

    pub fn caps(&self) -> &Caps {
        self.caps
    }

    pub fn graph(&self) -> &Graph {
        self.graph
    }

    pub fn op_name(&self) -> &str {
        &self.op_name
    }

    /// An `InvalidProgram` error prefixed with the op's name and chain index.
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::invalid_program(format!("op #{} {}: {msg}", self.op_index, self.op_name))
    }

    /// A `NotSupported` error prefixed with the op's name and chain index.
    pub fn unsupported(&self, msg: impl std::fmt::Display) -> Error {
        Error::not_supported(format!("op #{} {}: {msg}", self.op_index, self.op_name))
    }

    /// `NotSupported` naming the first tensor that is not stored as float on the GPU.
    pub fn require_float(&self, tensors: &[&TensorInfo]) -> Result<()> {
        match tensors.iter().find(|t| !t.is_float()) {
            Some(t) => Err(self.unsupported(format!(
                "value {} is {:?}: only float tensors are supported",
                t.id, t.dtype
            ))),
            None => Ok(()),
        }
    }

    /// Fails with NotSupported when any of `tensors` has more elements than the shaders' 32-bit
    /// indices reach.
    pub fn require_i32_indexing(&self, tensors: &[&TensorInfo]) -> Result<()> {
        match tensors.iter().find(|t| t.numel() > i32::MAX as usize) {
            Some(t) => Err(self.unsupported(format!(
                "value {} has {} elements, too many for 32-bit indexing",
                t.id,
                t.numel()
            ))),
            None => Ok(()),
        }
    }

    /// Fails unless the op has exactly `n` arguments (inputs and outputs).
    pub fn expect_args(&self, args: &[ValueId], n: usize) -> Result<()> {
        if args.len() != n {
            return Err(self.err(format!("expects {n} arguments, got {}", args.len())));
        }
        Ok(())
    }

    /// Fails unless the op has between `min` and `max` arguments.
    pub fn expect_args_between(&self, args: &[ValueId], min: usize, max: usize) -> Result<()> {
        if args.len() < min || args.len() > max {
            return Err(self.err(format!(
                "expects {min} to {max} arguments, got {}",
                args.len()
            )));
        }
        Ok(())
    }

    pub fn value(&self, id: ValueId) -> Result<&'g Value> {
        self.graph
            .values
            .get(id)
            .ok_or_else(|| self.err(format!("value id {id} out of range")))
    }

    fn type_err(&self, id: ValueId, want: &str) -> Error {
        let got = self
            .graph
            .values
            .get(id)
            .map(|v| v.kind_name())
            .unwrap_or("nothing");
        Error::new(
            ErrorKind::InvalidProgram,
            format!(
                "op #{} {}: argument value {id} should be {want}, is {got}",
                self.op_index, self.op_name
            ),
        )
    }

    pub fn is_null(&self, id: ValueId) -> bool {
        matches!(self.graph.values.get(id), Some(Value::Null))
    }

    pub fn tensor(&self, id: ValueId) -> Result<TensorInfo> {
        match self.value(id)? {
            Value::Tensor(t) => Ok(TensorInfo {
                id,
                dtype: t.dtype,
                sizes: self.sizes[id].clone().unwrap_or_else(|| t.dims.clone()),
            }),
            _ => Err(self.type_err(id, "a tensor")),
        }
    }

    pub fn opt_tensor(&self, id: ValueId) -> Result<Option<TensorInfo>> {
        if self.is_null(id) {
            return Ok(None);
        }
        self.tensor(id).map(Some)
    }

    /// An Int (or SymInt, at its export-time value).
    pub fn int(&self, id: ValueId) -> Result<i64> {
        match self.value(id)? {
            Value::Int(v) => Ok(self.ints[id].unwrap_or(*v)),
            Value::SymInt(v) => Ok(self.ints[id].unwrap_or(*v as i64)),
            Value::Bool(v) => Ok(self.ints[id].unwrap_or(*v as i64)),
            _ => Err(self.type_err(id, "an int")),
        }
    }

    pub fn opt_int(&self, id: ValueId) -> Result<Option<i64>> {
        if self.is_null(id) {
            return Ok(None);
        }
        self.int(id).map(Some)
    }

    /// A Double, or an Int/Bool promoted to f64.
    pub fn double(&self, id: ValueId) -> Result<f64> {
        match self.value(id)? {
            Value::Double(v) => Ok(*v),
            // Ints take their run-time value, as in `int` (a SymInt bound: clamp(x, max=n)).
            Value::Int(_) | Value::SymInt(_) | Value::Bool(_) => Ok(self.int(id)? as f64),
            _ => Err(self.type_err(id, "a number")),
        }
    }

    pub fn opt_double(&self, id: ValueId) -> Result<Option<f64>> {
        if self.is_null(id) {
            return Ok(None);
        }
        self.double(id).map(Some)
    }

    pub fn bool(&self, id: ValueId) -> Result<bool> {
        match self.value(id)? {
            Value::Bool(b) => Ok(self.ints[id].map(|v| v != 0).unwrap_or(*b)),
            Value::Int(v) => Ok(*v != 0),
            _ => Err(self.type_err(id, "a bool")),
        }
    }

    /// An IntList, or a ValueList whose items are Ints/SymInts.
    pub fn int_list(&self, id: ValueId) -> Result<Vec<i64>> {
        match self.value(id)? {
            Value::IntList(v) => Ok(v.clone()),
            Value::ValueList(items) => items.iter().map(|&i| self.int(i)).collect(),
            _ => Err(self.type_err(id, "an int list")),
        }
    }

    pub fn opt_int_list(&self, id: ValueId) -> Result<Option<Vec<i64>>> {
        if self.is_null(id) {
            return Ok(None);
        }
        self.int_list(id).map(Some)
    }

    /// A ValueList of tensors.
    pub fn tensor_list(&self, id: ValueId) -> Result<Vec<TensorInfo>> {
        match self.value(id)? {
            Value::ValueList(items) => items.iter().map(|&i| self.tensor(i)).collect(),
            _ => Err(self.type_err(id, "a tensor list")),
        }
    }

    /// Declares the sizes output tensor `id` gets. At the bounds they must match the
    /// serialized dims; after a resize they must fit the memory planned for them.
    pub fn set_output(&mut self, id: ValueId, sizes: Vec<usize>) -> Result<TensorInfo> {
        let t = match self.value(id)? {
            Value::Tensor(t) => t,
            _ => return Err(self.type_err(id, "an output tensor")),
        };
        if (self.exact_outputs && t.dims != sizes) || !fits_bound(&sizes, &t.dims) {
            return Err(self.err(format!(
                "computed output sizes {sizes:?} for value {id}, but the program says {:?}",
                t.dims
            )));
        }
        self.sizes[id] = Some(sizes.clone());
        Ok(TensorInfo {
            id,
            dtype: t.dtype,
            sizes,
        })
    }

    /// Records a dispatch of `shader` over `params[0]` work items with `tensors` bound at 1...
    pub fn dispatch(&mut self, shader: &'static Shader, params: Vec<i32>, tensors: &[ValueId]) {
        self.record(shader, None, params, tensors);
    }

    /// As [`dispatch`](Self::dispatch), for a shader built once per op (`// variants: OP`).
    pub fn dispatch_variant(
        &mut self,
        shader: &'static Shader,
        variant: i32,
        params: Vec<i32>,
        tensors: &[ValueId],
    ) {
        self.record(shader, Some(variant), params, tensors);
    }

    fn record(
        &mut self,
        shader: &'static Shader,
        variant: Option<i32>,
        params: Vec<i32>,
        tensors: &[ValueId],
    ) {
        self.dispatches.push(Dispatch {
            shader,
            variant,
            params,
            tensors: tensors.to_vec(),
            op_index: self.op_index,
        });
    }
}

/// Whether the graph has symbolic ints (sizes computed at run time).
pub fn has_symints(graph: &Graph) -> bool {
    graph.values.iter().any(|v| matches!(v, Value::SymInt(_)))
}

/// Whether a tensor of `sizes` fits the memory planned for serialized sizes `bound`: the same
/// rank and at most as many elements. ExecuTorch bounds a dynamic tensor by its element count
/// only, so a single dim may exceed its serialized size.
pub fn fits_bound(sizes: &[usize], bound: &[usize]) -> bool {
    sizes.len() == bound.len()
        && sizes
            .iter()
            .try_fold(1usize, |n, &s| n.checked_mul(s))
            .is_some_and(|n| n <= bound.iter().product())
}

/// Row-major strides of `sizes` (elements).
pub fn contiguous_strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for i in (0..sizes.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * sizes[i + 1];
    }
    strides
}

/// Normalises a possibly negative `dim` for a tensor of `rank`.
pub fn normalize_dim(dim: i64, rank: usize) -> Option<usize> {
    let r = rank.max(1) as i64;
    let d = if dim < 0 { dim + r } else { dim };
    (0..r).contains(&d).then_some(d as usize)
}

/// The PyTorch broadcast of two shapes, or `None` when they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}
