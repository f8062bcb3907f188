//! What an operator sees while the graph is built: typed access to its arguments, output
//! shape declaration, and the dispatches it records. Ops never touch Vulkan directly.

use std::collections::{BTreeSet, HashMap};

use super::chain::{Piece, StridedRead};
use super::shape::contiguous_strides;
use crate::error::{Error, ErrorKind, Result};
use crate::format::{DType, Graph, Value, ValueId};
use crate::gpu::Caps;
use crate::kernels::layout::nchw;
use crate::kernels::layout_convert::{
    convert_op, Channels4Params, ConvertParams, CONVERT, FROM_CHANNELS4, TO_CHANNELS4,
};
use crate::kernels::packing::Packing;
use crate::kernels::{Access, Call, Elem, Grid, KernelInfo, Layout, Params};

use super::slots::{self, Slot, SlotContext, SlotOffer};
use super::tensors::{TensorKind, TensorMeta};

/// A tensor argument as an op sees it at build time.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub id: ValueId,
    pub dtype: DType,
    pub sizes: Vec<usize>,
    /// The layout its producer wrote it in.
    pub layout: Layout,
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

/// One recorded shader dispatch: a kernel, its parameters, specialization constants and
/// grid, and the tensors bound at bindings 1.. (accesses and layouts from the kernel).
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub kernel: &'static KernelInfo,
    /// Which build of a shader compiled once per op (its `OP`, see `build.rs`).
    pub variant: Option<i32>,
    /// The kernel's own specialization constants (ids 3, 4, ...).
    pub spec: Vec<u32>,
    pub grid: Grid,
    /// The parameter struct as words.
    pub params: Vec<u32>,
    pub tensors: Vec<ValueId>,
    /// Index of the chain entry that recorded it (for error messages).
    pub op_index: usize,
    /// Floating-point operations (0: unknown) and the sizes of the bound tensors, for the
    /// profile.
    pub flops: u64,
    pub shapes: Vec<Vec<usize>>,
}

impl Dispatch {
    /// Invocations that do work; a dispatch with none is not recorded.
    pub fn work_items(&self) -> u64 {
        self.grid.items()
    }

    /// How binding `i` (0-based, the i-th tensor) is accessed.
    pub fn access(&self, i: usize) -> Access {
        self.kernel.bindings[i].access
    }

    /// Where the kernel's specialization constant `name` is in [`spec`](Self::spec).
    pub fn spec_word(&self, name: &str) -> Option<usize> {
        spec_word(self.kernel, name)
    }
}

pub struct OpBuilder<'g> {
    graph: &'g Graph,
    caps: &'g Caps,
    /// Per value (the graph's, then those the builder adds): what the runtime plans for it.
    metas: Vec<Option<TensorMeta>>,
    /// Sizes of every tensor value as the graph runs (starts at the serialized dims).
    sizes: Vec<Option<Vec<usize>>>,
    /// Copies of a value (alias root) in another layout or element format, recorded once each.
    /// Converted copies by (memory root, layout, element format, the `[N, C, H, W]` the copy
    /// reads the root as): views of one root with other ranks need copies of their own.
    converted: HashMap<(ValueId, Layout, Elem, [usize; 4]), ValueId>,
    /// Constants re-laid out (or stored in another format) for a kernel, recorded once each.
    packed: HashMap<(ValueId, Option<Packing>, Elem), ValueId>,
    dispatches: Vec<Dispatch>,
    /// For each value, the value whose memory it shares (itself when not an alias).
    alias_root: Vec<ValueId>,
    /// Values written in place by some dispatch (alias roots), e.g. KV caches.
    written: BTreeSet<ValueId>,
    /// Copies into a slice of a concatenation that the copied tensor may occupy instead.
    slot_offers: Vec<SlotOffer>,
    /// Per value, how many op arguments (lists included) and graph outputs name it.
    references: Vec<u32>,
    /// 2x2 stride-2 max pools a consumer may take while loading: output -> (dispatch, input).
    pools: HashMap<ValueId, (usize, ValueId)>,
    /// Dispatches a consumer took over (fused pools and transposes), left out of the build.
    fused: BTreeSet<usize>,
    /// Dispatches whose outputs a nearest 2x upsampling may take over: output -> dispatch.
    upsamplers: HashMap<ValueId, usize>,
    /// Chain ops whose dispatch writes another op's output (an upsampling taken over).
    retargeted: Vec<usize>,
    /// Dispatches a later op may take over whole: output root -> (dispatch, what it computed).
    pieces: HashMap<ValueId, (usize, Piece)>,
    /// Contiguous copies of channels-packed tensors: copy -> (dispatch, source root).
    unpacked: HashMap<ValueId, (usize, ValueId)>,
    /// The graph runs at its serialized sizes only (no dynamic shapes asked for): a plan may
    /// depend on them (concatenation slots).
    static_sizes: bool,
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
        let metas = graph
            .values
            .iter()
            .map(|v| match v {
                Value::Tensor(t) => Some(TensorMeta {
                    dtype: t.dtype,
                    bound_sizes: t.dims.clone(),
                    layout: Layout::Contiguous,
                    elem: Elem::default_for(t.dtype.is_float()),
                    kind: match t.constant {
                        Some(constant) => TensorKind::Constant {
                            constant,
                            packing: None,
                        },
                        None => TensorKind::Activation {
                            mem_obj_id: t.mem_obj_id,
                        },
                    },
                }),
                _ => None,
            })
            .collect();
        OpBuilder {
            graph,
            caps,
            metas,
            sizes,
            converted: HashMap::new(),
            packed: HashMap::new(),
            dispatches: Vec::new(),
            alias_root: (0..graph.values.len()).collect(),
            written: Default::default(),
            slot_offers: Vec::new(),
            references: references(graph),
            pools: HashMap::new(),
            fused: BTreeSet::new(),
            upsamplers: HashMap::new(),
            retargeted: Vec::new(),
            pieces: HashMap::new(),
            unpacked: HashMap::new(),
            static_sizes: true,
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

    /// True when `id` is one of the graph's outputs.
    pub fn is_graph_output(&self, id: ValueId) -> bool {
        self.graph.output_ids.contains(&id)
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
    pub fn written(&self) -> &BTreeSet<ValueId> {
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

    /// Ends the build: graph outputs written in another layout get a contiguous copy.
    /// Returns the dispatches (tensor ids resolved to the memory they use), per value the value
    /// whose memory it uses, every tensor's meta, and per graph output the value to read it from.
    pub(super) fn finish(mut self) -> Result<Finished> {
        let mut outputs = Vec::with_capacity(self.graph.output_ids.len());
        for &id in &self.graph.output_ids {
            let is_tensor = self.meta(id).is_some();
            outputs.push(if is_tensor {
                // The host reads 32-bit words in row-major order.
                let words = crate::kernels::ElemReq::Words32.target(self.elem_of(id));
                self.in_format(id, Layout::Contiguous, words)?
            } else {
                id
            });
        }
        let roots = self.alias_root;
        let outputs: Vec<ValueId> = outputs.into_iter().map(|o| roots[o]).collect();
        let io_roots: BTreeSet<ValueId> = (self.graph.input_ids.iter())
            .chain(&self.graph.output_ids)
            .map(|&id| roots[id])
            .chain(outputs.iter().copied())
            .collect();
        let sizes = &self.sizes;
        // A dispatch left out offers nothing.
        let offers: Vec<SlotOffer> = (self.slot_offers.iter())
            .filter(|o| !self.fused.contains(&o.dispatch))
            .copied()
            .collect();
        let (slots, mut dropped) = slots::resolve(
            &offers,
            &SlotContext {
                dispatches: &self.dispatches,
                roots: &roots,
                metas: &self.metas,
                sizes: &|id| sizes.get(id).cloned().flatten(),
                io_roots: &io_roots,
                written: &self.written,
                alignment: self.caps.tensor_alignment(),
            },
        );
        let mut fusions: Vec<usize> = (self.fused.iter())
            .map(|&i| self.dispatches[i].op_index)
            .chain(self.retargeted.iter().copied())
            .collect();
        fusions.sort_unstable();
        dropped.extend(&self.fused);
        let dispatches = (self.dispatches.into_iter().enumerate())
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, mut d)| {
                d.tensors.iter_mut().for_each(|t| *t = roots[*t]);
                d
            })
            .collect();
        Ok(Finished {
            dispatches,
            roots,
            metas: self.metas,
            outputs,
            written: self.written,
            arena_only: !slots.is_empty() || !self.fused.is_empty() || !self.retargeted.is_empty(),
            slots,
            fusions,
        })
    }

    /// Makes output `out` share the memory of `src` (same element count and GPU
    /// representation) instead of copying: views of contiguous tensors, prepacked constants.
    /// A source in another layout is converted first (a view indexes contiguous memory).
    pub fn alias(&mut self, out: ValueId, src: ValueId, sizes: Vec<usize>) -> Result<TensorInfo> {
        let src = self.in_layout(src, Layout::Contiguous)?;
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

    /// The value whose memory tensor `id` uses: itself, or the source it aliases.
    pub fn memory_root(&self, id: ValueId) -> ValueId {
        self.alias_root[id]
    }

    /// The planner's view of tensor `id` (graph or builder-made), `None` for other values.
    pub fn meta(&self, id: ValueId) -> Option<&TensorMeta> {
        self.metas.get(id).and_then(Option::as_ref)
    }

    /// The layout tensor `id`'s memory is in.
    pub fn layout_of(&self, id: ValueId) -> Layout {
        self.meta(self.alias_root[id])
            .map_or(Layout::Contiguous, |m| m.layout)
    }

    /// Adds a tensor that the serialized graph does not have (a layout conversion, a packed
    /// constant): its memory is planned like any other.
    fn new_tensor(&mut self, meta: TensorMeta, sizes: Vec<usize>) -> ValueId {
        let id = self.metas.len();
        self.metas.push(Some(meta));
        self.sizes.push(Some(sizes));
        self.alias_root.push(id);
        self.ints.push(None);
        self.host_values.push(None);
        id
    }

    /// Tensor `id` in `layout`, keeping its element format (see [`in_format`](Self::in_format)).
    pub fn in_layout(&mut self, id: ValueId, layout: Layout) -> Result<ValueId> {
        let elem = self.elem_of(id);
        self.in_format(id, layout, elem)
    }

    /// How tensor `id`'s elements are stored.
    pub fn elem_of(&self, id: ValueId) -> Elem {
        self.meta(self.alias_root[id]).map_or(Elem::F32, |m| m.elem)
    }

    /// Tensor `id` in `layout` with `elem` elements: itself, or a converted copy, recorded once
    /// per value and format (so several consumers share it).
    pub fn in_format(&mut self, id: ValueId, layout: Layout, elem: Elem) -> Result<ValueId> {
        let root = self.alias_root[id];
        let (have, have_elem) = (self.layout_of(root), self.elem_of(root));
        if have == layout && have_elem == elem {
            return Ok(id);
        }
        let sizes = self.sizes_of(id).map(<[usize]>::to_vec).unwrap_or_default();
        let key = (root, layout, elem, nchw(&sizes));
        if let Some(&c) = self.converted.get(&key) {
            return Ok(c);
        }
        // The view's own bounds: a rank-3 root read through a rank-4 view packs differently.
        let meta = self
            .meta(id)
            .or_else(|| self.meta(root))
            .cloned()
            .ok_or_else(|| self.err(format!("value {id} is not a tensor")))?;
        let packed = have == Layout::Channels4 || layout == Layout::Channels4;
        let float = |e: Elem| matches!(e, Elem::F32 | Elem::F16);
        if (packed && !matches!(sizes.len(), 3 | 4))
            || (have_elem != elem && !(float(have_elem) && float(elem)))
        {
            return Err(Error::internal(format!(
                "op #{} {}: value {id} ({sizes:?}, {have:?}, {have_elem:?}) cannot be converted \
                 to {layout:?} {elem:?}",
                self.op_index, self.op_name
            )));
        }
        let converted = self.new_tensor(
            TensorMeta {
                dtype: meta.dtype,
                bound_sizes: meta.bound_sizes,
                layout,
                elem,
                kind: TensorKind::Activation { mem_obj_id: None },
            },
            sizes.clone(),
        );
        let [n, c, h, w] = key.3;
        let tensors = vec![converted, root];
        if have_elem == elem {
            // Words move unchanged: vectorized layout conversions.
            let texels = n * c.div_ceil(4) * h * w;
            let p = Channels4Params {
                count: texels as u32,
                c: c as u32,
                hw: (h * w) as u32,
            };
            let kernel = match (have, layout) {
                (Layout::Contiguous, Layout::Channels4) => &TO_CHANNELS4,
                _ => &FROM_CHANNELS4,
            };
            self.push_dispatch(kernel.call(p).linear(texels), tensors)?;
            if layout == Layout::Contiguous {
                let dispatch = self.dispatches.len() - 1;
                self.unpacked.insert(converted, (dispatch, root));
            }
        } else {
            let count = layout.stored_elements(&sizes);
            let p = ConvertParams {
                count: count as u32,
                c: c as u32,
                h: h as u32,
                w: w as u32,
                in_c4: (have == Layout::Channels4) as u32,
                out_c4: (layout == Layout::Channels4) as u32,
            };
            let op = convert_op(have_elem == Elem::F16, elem == Elem::F16);
            self.push_dispatch(CONVERT.call(p).variant(op).linear(count), tensors)?;
        }
        self.converted.insert(key, converted);
        Ok(converted)
    }

    /// Whether a kernel writing a tensor of `dtype` stores it as f16: FLOAT16 on devices that
    /// keep f16 activations (`Caps::f16_activations`).
    pub fn stores_f16(&self, dtype: DType) -> bool {
        dtype == DType::Float16 && self.caps().f16_activations()
    }

    /// Whether `id` is a constant of the graph that no op writes in place (what
    /// [`packed_constant`](Self::packed_constant) can re-lay out).
    pub fn is_constant(&self, id: ValueId) -> bool {
        let root = self.alias_root[id];
        !self.written.contains(&root)
            && matches!(
                self.meta(root).map(|m| &m.kind),
                Some(TensorKind::Constant { packing: None, .. })
            )
    }

    /// Constant `w` re-laid out by `packing` (`None`: as it is) with `elem` elements, for a
    /// kernel (recorded once per constant, packing and format; streamed in its packed order
    /// during prepack). `None` when `w` is not a constant of the graph, or is written in
    /// place: the caller then needs another kernel.
    pub fn packed_constant(
        &mut self,
        w: &TensorInfo,
        packing: Option<Packing>,
        elem: Elem,
    ) -> Result<Option<ValueId>> {
        let root = self.alias_root[w.id];
        if self.written.contains(&root) {
            return Ok(None);
        }
        let Some(TensorMeta {
            kind:
                TensorKind::Constant {
                    constant,
                    packing: None,
                },
            dtype,
            ..
        }) = self.meta(root).cloned()
        else {
            return Ok(None);
        };
        if packing.is_some_and(|p| p.source_len() != w.numel()) {
            return Err(Error::internal(format!(
                "op #{} {}: packing {packing:?} does not fit value {} of {} elements",
                self.op_index,
                self.op_name,
                w.id,
                w.numel()
            )));
        }
        if packing.is_none() && elem == self.elem_of(root) {
            return Ok(Some(root));
        }
        if let Some(&p) = self.packed.get(&(root, packing, elem)) {
            return Ok(Some(p));
        }
        let len = packing.map_or(w.numel(), |p| p.packed_len());
        let sizes = if packing.is_some() {
            vec![len]
        } else {
            w.sizes.clone()
        };
        let id = self.new_tensor(
            TensorMeta {
                dtype,
                bound_sizes: sizes.clone(),
                layout: Layout::Contiguous,
                elem,
                kind: TensorKind::Constant { constant, packing },
            },
            sizes,
        );
        self.packed.insert((root, packing, elem), id);
        Ok(Some(id))
    }

    /// Whether every size is the serialized one whenever the graph runs: no symbolic sizes,
    /// no dynamic shapes asked for. Decisions that depend on sizes are then made once.
    pub fn fixed_sizes(&self) -> bool {
        self.static_sizes && !has_symints(self.graph)
    }

    /// Whether the program runs at its serialized sizes only (`require_dynamic_shapes` not
    /// set); see [`offer_slot`](Self::offer_slot).
    pub fn set_static_sizes(&mut self, on: bool) {
        self.static_sizes = on;
    }

    /// Lets view-like ops alias activations. Only valid with the lifetime arena: the
    /// exporter's shared objects assume every output has memory of its own.
    pub fn set_alias_activations(&mut self, on: bool) {
        self.alias_activations = on;
    }

    /// Offers that the tensor the last dispatch copied (its binding 2, moved verbatim, `bytes`
    /// long, into its binding 1 at byte `offset`) live in that slice instead, so the copy can
    /// go (see [`slots`](super::slots)). Only in a graph without symbolic sizes whose program
    /// asked for no dynamic shapes (a slot is kept where every size is its bound), with the
    /// lifetime arena (as view aliasing).
    pub fn offer_slot(&mut self, offset: u64, bytes: u64) {
        self.offer(offset, bytes, false);
    }

    /// Offers that the output of the last dispatch (binding 1, a verbatim copy of the `bytes`
    /// at byte `offset` of its binding 2) be that window of its input instead, so the copy
    /// can go; as [`offer_slot`](Self::offer_slot), the other way round.
    pub fn offer_window(&mut self, offset: u64, bytes: u64) {
        self.offer(offset, bytes, true);
    }

    fn offer(&mut self, offset: u64, bytes: u64, window: bool) {
        if self.alias_activations && self.fixed_sizes() && !self.dispatches.is_empty() {
            self.slot_offers.push(SlotOffer {
                dispatch: self.dispatches.len() - 1,
                offset,
                bytes,
                window,
            });
        }
    }

    /// How many op arguments (lists included) and graph outputs name value `id`: 1 for an
    /// op's output nothing reads.
    pub fn references(&self, id: ValueId) -> usize {
        self.references.get(id).copied().unwrap_or(0) as usize
    }

    /// Offers the last dispatch, a 2x2 stride-2 max pool of its binding 3 into `out`, to be
    /// taken by the op that reads `out` (see [`take_pool`](Self::take_pool)).
    pub fn offer_pool(&mut self, out: ValueId) {
        if let Some(d) = self.dispatches.last() {
            let src = d.tensors[2];
            self.pools.insert(out, (self.dispatches.len() - 1, src));
        }
    }

    /// The tensor `x` is the 2x2 max pool of, when an op reading `x` may take the pool over
    /// while loading: `x` has no other reader and is no graph output (nothing recorded).
    /// Only with the lifetime arena: the source then lives until this op, which the
    /// exporter's shared objects do not plan for.
    pub fn pooled_source(&self, x: ValueId) -> Option<ValueId> {
        let &(_, src) = self.pools.get(&x)?;
        // The pool's output argument and this op's input.
        let only_reader = self.references(x) == 2;
        // The convolution reads the source when it runs: not if something writes it in
        // place in between.
        let settled = !self.written.contains(&self.alias_root[x])
            && !self.written.contains(&self.alias_root[src]);
        (self.alias_activations && only_reader && settled).then_some(src)
    }

    /// Takes over the pool behind `x` (see [`pooled_source`](Self::pooled_source)): its
    /// dispatch is left out, and `x` is never written.
    pub fn take_pool(&mut self, x: ValueId) -> Option<ValueId> {
        let src = self.pooled_source(x)?;
        let (dispatch, _) = self.pools.remove(&x)?;
        self.fused.insert(dispatch);
        Some(src)
    }

    /// Whether the last dispatch bound `id` itself as its first input (no layout or format
    /// conversion before it).
    pub fn last_dispatch_reads(&self, id: ValueId) -> bool {
        self.dispatches.last().and_then(|d| d.tensors.get(1)) == Some(&id)
    }

    /// How a matrix product may read `x`, a `[batch, rows, cols]` operand that a permute (a
    /// [`Piece::Permute`]) copied from a contiguous source, in place: that source and, in its
    /// elements, the strides of x's batch, rows and cols (0 for a dim of 1). The dims of 1 on
    /// either side are left out of the match (a view of the permute that adds or drops them);
    /// None when `x` is no such piece. The product reads the source when it runs, not when
    /// the permute would have: the same condition as sharing a view's memory (a constant could
    /// be packed to f16 before a later op writes it in place). See
    /// [`take_piece`](Self::take_piece) to leave the permute out.
    pub fn permuted_read(&self, x: ValueId, sizes: [usize; 3]) -> Option<StridedRead> {
        let Piece::Permute { src, perm, rank } = self.piece(x)? else {
            return None;
        };
        let s = self.tensor(src).ok()?;
        if s.rank() != rank || !self.aliasable(src) {
            return None;
        }
        let src_strides = contiguous_strides(&s.sizes);
        let have: Vec<(usize, usize)> = perm[..rank]
            .iter()
            .map(|&d| (s.sizes[d], src_strides[d]))
            .filter(|&(n, _)| n != 1)
            .collect();
        let want: Vec<usize> = (0..3).filter(|&i| sizes[i] != 1).collect();
        if have.len() != want.len() || want.iter().zip(&have).any(|(&i, h)| sizes[i] != h.0) {
            return None;
        }
        let mut strides = [0; 3];
        for (&i, h) in want.iter().zip(&have) {
            strides[i] = h.1;
        }
        Some(StridedRead { src, strides })
    }

    /// Offers the last dispatch, which wrote `out` and computed it as `piece`, to a later op
    /// that computes the whole chain itself (see [`take_piece`](Self::take_piece)).
    pub fn offer_piece(&mut self, out: ValueId, piece: Piece) {
        if let Some(d) = self.dispatches.last() {
            let root = self.alias_root[out];
            if d.tensors.first() == Some(&root) {
                self.pieces.insert(root, (self.dispatches.len() - 1, piece));
            }
        }
    }

    /// What the offered dispatch behind `x` computed, when the op being built may take it
    /// over: `x` (through views) has that op as its only reader, is no graph output and is
    /// never written in place. Only with the lifetime arena: the taker reads the piece's
    /// inputs later than the piece would have, which the exporter's plan does not allow.
    pub fn piece(&self, x: ValueId) -> Option<Piece> {
        self.piece_read_by(x, 1)
    }

    /// [`piece`](Self::piece) for a piece that `readers` op arguments read, all of which
    /// the op being built takes over (a tensor split three ways into q, k and v).
    pub fn piece_read_by(&self, x: ValueId, readers: usize) -> Option<Piece> {
        let root = *self.alias_root.get(x)?;
        let &(_, piece) = self.pieces.get(&root)?;
        let settled = !self.written.contains(&root);
        (self.alias_activations && settled && self.readers(root) == Some(readers)).then_some(piece)
    }

    /// Takes over the dispatch behind `x` (see [`piece`](Self::piece)): it is left out of
    /// the build, and `x` is never written.
    pub fn take_piece(&mut self, x: ValueId) -> Option<Piece> {
        self.take_piece_read_by(x, 1)
    }

    /// [`take_piece`](Self::take_piece) with [`piece_read_by`](Self::piece_read_by)'s
    /// readers.
    pub fn take_piece_read_by(&mut self, x: ValueId, readers: usize) -> Option<Piece> {
        let piece = self.piece_read_by(x, readers)?;
        let (dispatch, _) = self.pieces.remove(&self.alias_root[x])?;
        self.fused.insert(dispatch);
        Some(piece)
    }

    /// Makes the offered dispatch behind `x` (see [`piece`](Self::piece)) write `out` instead,
    /// changed by `edit` (which says how the results go there, and may refuse): an op that
    /// would only move or map `x` into `out` (a permute, an activation) records nothing.
    /// `false` (nothing changed) when `x` may not be taken or `edit` refuses.
    pub fn retarget_piece(
        &mut self,
        x: ValueId,
        out: ValueId,
        edit: impl FnOnce(&mut Dispatch) -> bool,
    ) -> bool {
        if self.piece(x).is_none() {
            return false;
        }
        let root = self.alias_root[x];
        let Some(&(index, _)) = self.pieces.get(&root) else {
            return false;
        };
        let mut d = self.dispatches[index].clone();
        if d.tensors.first() != Some(&root) || !edit(&mut d) {
            return false;
        }
        d.tensors[0] = self.alias_root[out];
        d.shapes[0] = self
            .sizes_of(out)
            .map(<[usize]>::to_vec)
            .unwrap_or_default();
        self.retargeted.push(d.op_index);
        self.dispatches[index] = d;
        self.pieces.remove(&root);
        true
    }

    /// When `x` is (a view of) the contiguous copy of a channels-packed tensor and the op
    /// being built is the copy's only reader (through views, no graph output): the tensor it
    /// copies. See [`take_unpacked`](Self::take_unpacked).
    pub fn unpacked_source(&self, x: ValueId) -> Option<ValueId> {
        let root = *self.alias_root.get(x)?;
        let &(_, src) = self.unpacked.get(&root)?;
        // The copy is the builder's; the views of it are the graph's, each named once as an
        // output and read once (by a view of it or the one reader).
        let views: Vec<ValueId> = self.sharing(root).filter(|&id| id != root).collect();
        let references: usize = views.iter().map(|&id| self.references(id)).sum();
        let outputs = views.iter().any(|&id| self.is_graph_output(id));
        (self.alias_activations && !views.is_empty() && references == 2 * views.len() && !outputs)
            .then_some(src)
    }

    /// Leaves out the copy behind `x` (see [`unpacked_source`](Self::unpacked_source)): the
    /// op being built has its source stored where it wants it.
    pub fn take_unpacked(&mut self, x: ValueId) -> bool {
        if self.unpacked_source(x).is_none() {
            return false;
        }
        let root = self.alias_root[x];
        let Some((dispatch, _)) = self.unpacked.remove(&root) else {
            return false;
        };
        self.fused.insert(dispatch);
        self.converted.retain(|_, c| *c != root);
        true
    }

    /// The index of the offered dispatch behind `x`, if any.
    pub fn piece_dispatch(&self, x: ValueId) -> Option<usize> {
        let root = *self.alias_root.get(x)?;
        self.pieces.get(&root).map(|&(index, _)| index)
    }

    /// Whether a dispatch after `index` (or one yet to come: written in place by some op)
    /// writes the memory of `id`.
    pub fn written_since(&self, id: ValueId, index: usize) -> bool {
        let root = self.alias_root[id];
        self.written.contains(&root)
            || (self.dispatches.iter().skip(index + 1)).any(|d| {
                (d.tensors.iter().enumerate())
                    .any(|(i, &t)| self.alias_root[t] == root && d.access(i).writes())
            })
    }

    /// The values whose memory is `root`'s (`root` included).
    fn sharing(&self, root: ValueId) -> impl Iterator<Item = ValueId> + '_ {
        (self.alias_root.iter().enumerate())
            .filter(move |&(_, &r)| r == root)
            .map(|(id, _)| id)
    }

    /// How many op arguments read the memory of `root`, besides the views that name it
    /// (each value sharing it is named once as an output, and a view reads one of them);
    /// `None` when one of them is a graph output.
    fn readers(&self, root: ValueId) -> Option<usize> {
        let class: Vec<ValueId> = self.sharing(root).collect();
        if class.iter().any(|&id| self.is_graph_output(id)) {
            return None;
        }
        let references: usize = class.iter().map(|&id| self.references(id)).sum();
        (references + 1).checked_sub(2 * class.len())
    }

    /// Offers the last dispatch, whose spec constant `UP` (1) stores its output `out`, to
    /// store it nearest-upsampled 2x instead (see [`take_upsampler`](Self::take_upsampler)).
    pub fn offer_upsampler(&mut self, out: ValueId) {
        if !self.dispatches.is_empty() {
            self.upsamplers.insert(out, self.dispatches.len() - 1);
        }
    }

    /// Makes the dispatch that wrote `x` write `up`, the nearest 2x upsampling of `x`,
    /// directly (its `UP` becomes 2), when it offered to and `x` has no other reader and is
    /// no graph output; `false` (nothing changed) otherwise. Only with the lifetime arena:
    /// `up` is then written before the exporter's plan expects it.
    pub fn take_upsampler(&mut self, x: ValueId, up: ValueId) -> bool {
        let Some(&index) = self.upsamplers.get(&x) else {
            return false;
        };
        let root = self.alias_root[x];
        if !self.alias_activations || self.references(x) != 2 || self.written.contains(&root) {
            return false;
        }
        let up_sizes = self.sizes_of(up).map(<[usize]>::to_vec).unwrap_or_default();
        let d = &mut self.dispatches[index];
        let Some(at) = spec_word(d.kernel, "UP") else {
            return false;
        };
        if d.tensors[0] != x {
            return false;
        }
        d.spec[at] = 2;
        d.tensors[0] = up;
        d.shapes[0] = up_sizes;
        let op = d.op_index;
        self.upsamplers.remove(&x);
        self.retargeted.push(op);
        true
    }

    /// Whether an op that reproduces `x` unchanged (a view, a clone) may share its memory
    /// instead of copying: activations only, since a constant may be written in place later
    /// (a KV cache), which would change a copy taken before.
    pub fn may_alias(&self, x: &TensorInfo) -> bool {
        self.aliasable(x.id)
    }

    /// [`may_alias`](Self::may_alias) by value id.
    fn aliasable(&self, id: ValueId) -> bool {
        let root = self.alias_root[id];
        self.alias_activations
            && self.meta(root).is_some_and(|m| !m.is_constant())
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

    /// Tensor argument `id` as it is now: sizes of this build, dtype, and the layout its
    /// producer wrote (a dispatch binding it converts it where the kernel needs another).
    pub fn tensor(&self, id: ValueId) -> Result<TensorInfo> {
        match self.meta(id) {
            Some(m) => Ok(TensorInfo {
                id,
                dtype: m.dtype,
                sizes: self.sizes[id]
                    .clone()
                    .unwrap_or_else(|| m.bound_sizes.clone()),
                layout: self.layout_of(id),
            }),
            None => {
                self.value(id)?;
                Err(self.type_err(id, "a tensor"))
            }
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
    /// serialized dims; after a resize each dim must be within its bound.
    pub fn set_output(&mut self, id: ValueId, sizes: Vec<usize>) -> Result<TensorInfo> {
        self.set_output_in(id, sizes, Layout::Contiguous)
    }

    /// As [`set_output`](Self::set_output), for an op that writes the output in `layout`.
    pub fn set_output_in(
        &mut self,
        id: ValueId,
        sizes: Vec<usize>,
        layout: Layout,
    ) -> Result<TensorInfo> {
        let elem = match self.value(id)? {
            Value::Tensor(t) => Elem::default_for(t.dtype.is_float()),
            _ => Elem::F32,
        };
        self.set_output_as(id, sizes, layout, elem)
    }

    /// As [`set_output_in`](Self::set_output_in), for an op that stores the output's elements
    /// as `elem` (an f16 kernel writing a FLOAT16 value).
    pub fn set_output_as(
        &mut self,
        id: ValueId,
        sizes: Vec<usize>,
        layout: Layout,
        elem: Elem,
    ) -> Result<TensorInfo> {
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
        if layout != Layout::Contiguous && !matches!(sizes.len(), 3 | 4) {
            return Err(Error::internal(format!(
                "op #{} {}: output {id} with sizes {sizes:?} cannot be in layout {layout:?}",
                self.op_index, self.op_name
            )));
        }
        if elem == Elem::F16 && t.dtype != DType::Float16 {
            return Err(Error::internal(format!(
                "op #{} {}: output {id} is {:?}, it cannot be stored as f16",
                self.op_index, self.op_name, t.dtype
            )));
        }
        self.sizes[id] = Some(sizes.clone());
        if let Some(Some(m)) = self.metas.get_mut(id) {
            m.layout = layout;
            m.elem = elem;
        }
        Ok(TensorInfo {
            id,
            dtype: t.dtype,
            sizes,
            layout,
        })
    }

    /// Records `call` with `tensors` bound at bindings 1, 2, ... in the kernel's order. A tensor
    /// read in another layout than the kernel's binding says is converted first (once per
    /// value and layout); one written in another layout is an error.
    pub fn dispatch<S: Params>(&mut self, call: Call<S>, tensors: &[ValueId]) -> Result<()> {
        let k = call.kernel;
        if tensors.len() != k.bindings.len() {
            return Err(Error::internal(format!(
                "op #{} {}: shader {} binds {} tensors, the op passed {}",
                self.op_index,
                self.op_name,
                k.shader.name,
                k.bindings.len(),
                tensors.len()
            )));
        }
        let mut bound = Vec::with_capacity(tensors.len());
        for (&t, binding) in tensors.iter().zip(k.bindings) {
            let (have, elem) = (self.layout_of(t), self.elem_of(t));
            if have == binding.layout && binding.elem.accepts(elem) {
                bound.push(t);
            } else if binding.access == Access::Read {
                bound.push(self.in_format(t, binding.layout, binding.elem.target(elem))?);
            } else {
                return Err(Error::internal(format!(
                    "op #{} {}: shader {} writes value {t} as {:?} {:?}, but it is {have:?} \
                     {elem:?}",
                    self.op_index, self.op_name, k.shader.name, binding.layout, binding.elem
                )));
            }
        }
        self.push_dispatch(call, bound)
    }

    /// Records `call` over `tensors` whose layouts already match.
    fn push_dispatch<S: Params>(&mut self, call: Call<S>, tensors: Vec<ValueId>) -> Result<()> {
        let k = call.kernel;
        let spec_words: usize = k.spec.iter().map(|f| f.len).sum();
        if call.spec.len() != spec_words {
            return Err(Error::internal(format!(
                "op #{} {}: shader {} has {spec_words} specialization words, the op gave {}",
                self.op_index,
                self.op_name,
                k.shader.name,
                call.spec.len()
            )));
        }
        // A value written here invalidates its copies in other layouts.
        for (&t, binding) in tensors.iter().zip(k.bindings) {
            if binding.access.writes() {
                let root = self.alias_root[t];
                self.converted.retain(|(r, ..), _| *r != root);
            }
        }
        let shapes = tensors
            .iter()
            .map(|&t| self.sizes_of(t).map(<[usize]>::to_vec).unwrap_or_default())
            .collect();
        self.dispatches.push(Dispatch {
            kernel: k,
            variant: call.variant,
            spec: call.spec,
            grid: call.grid,
            params: call.params,
            tensors,
            op_index: self.op_index,
            flops: call.flops,
            shapes,
        });
        Ok(())
    }
}

/// What a finished build hands to the runtime (see [`OpBuilder::finish`]).
pub(super) struct Finished {
    pub dispatches: Vec<Dispatch>,
    pub roots: Vec<ValueId>,
    pub metas: Vec<Option<TensorMeta>>,
    pub outputs: Vec<ValueId>,
    pub written: BTreeSet<ValueId>,
    pub slots: Vec<Slot>,
    pub arena_only: bool,
    pub fusions: Vec<usize>,
}

/// The index of specialization constant `name` among a dispatch's spec words.
fn spec_word(kernel: &KernelInfo, name: &str) -> Option<usize> {
    let mut at = 0;
    for f in kernel.spec {
        if f.name == name {
            return Some(at);
        }
        at += f.len;
    }
    None
}

/// Per value, how many op arguments (the items of list arguments too) and graph outputs
/// name it.
fn references(graph: &Graph) -> Vec<u32> {
    let mut n = vec![0u32; graph.values.len()];
    let mut count = |id: ValueId| {
        if let Some(c) = n.get_mut(id) {
            *c += 1;
        }
    };
    for call in &graph.chain {
        for &arg in &call.args {
            match graph.values.get(arg) {
                Some(Value::ValueList(items)) => items.iter().copied().for_each(&mut count),
                _ => count(arg),
            }
        }
    }
    graph.output_ids.iter().copied().for_each(count);
    n
}

/// Whether the graph has symbolic ints (sizes computed at run time).
pub fn has_symints(graph: &Graph) -> bool {
    graph.values.iter().any(|v| matches!(v, Value::SymInt(_)))
}

/// Whether a tensor of `sizes` fits the memory planned for serialized sizes `bound`: the same
/// rank and at most as many elements. ExecuTorch bounds a dynamic tensor by its element count
/// only, so a single dim may exceed its serialized size.
pub fn fits_bound(sizes: &[usize], bound: &[usize]) -> bool {
    // The nonzero dims' product must fit too (8 bytes each): with a zero dim the element
    // count says nothing about the others, and ops compute partial products of them.
    sizes.len() == bound.len()
        && sizes
            .iter()
            .try_fold(8usize, |n, &s| n.checked_mul(s.max(1)))
            .is_some()
        && sizes.iter().product::<usize>() <= bound.iter().product()
}
