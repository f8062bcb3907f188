//! `init` in phases, each a function that returns what the next one needs, so that no
//! memory exists before it is needed:
//! 1. [`Loader::build`]: every op checks its arguments and records its dispatches (a
//!    [`BuiltGraph`]; no device memory);
//! 2. [`Loader::plan`]: weights deduplicated by source, activation lifetimes planned (a
//!    [`MemoryPlan`]);
//! 3. [`Loader::pack_weights`]: weight by weight, memory is allocated, the source fetched,
//!    re-laid out into the staging ring (or written directly on unified memory) and released;
//! 4. [`Loader::allocate_activations`]: only after the last weight is packed and staging freed;
//! 5. [`Loader::ready`]: I/O transfer buffers, parameters, descriptors, one recorded command
//!    buffer: the [`Delegate`].
//!
//! The legacy order (weights at build, activations before prepack, one staging buffer per
//! weight, sources held to the end) is [`Loader::load_legacy`], kept to measure the
//! difference on the same program.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{ConstantSource, DType, Graph, Value, ValueId};
use crate::gpu::memory::Accountant;
use crate::gpu::{Buffer, BufferKind, Caps, CommandBuffer, Context, Fence, MemTag};
use crate::graph::{self, BuiltGraph, RuntimeInput, TensorKind};
use crate::kernels::packing::Packing;
use crate::kernels::Elem;
use crate::runtime::convert::{pack_to_gpu, GPU_ELEM_SIZE};
use crate::runtime::delegate::{
    profiling_by_default, record_graph, Delegate, InputSlot, Io, MemoryReport, LIVE_REPORTS,
    NEXT_ID,
};
use crate::runtime::host_timing::HostTiming;
use crate::runtime::limits::check_limits;
use crate::runtime::load_options::{DirectIo, LoadOptions, Planner};
use crate::runtime::plan::{lifetimes, plan_arena, plan_shared_objects, ArenaPlan};
use crate::runtime::prepack::{write_direct, StagingRing};
use crate::runtime::resident::Resident;
use crate::runtime::{DataBuffer, NamedData};

/// A weight buffer shared by every constant tensor with the same source, dtype and packing.
pub(super) struct Weight {
    pub(super) source: ConstantSource,
    pub(super) dtype: DType,
    /// The kernel order it is re-laid out in while it streams (None: as the source), and how
    /// its elements are stored (f16 for f16 kernels).
    pub(super) packing: Option<Packing>,
    pub(super) elem: Elem,
    /// Elements of the source.
    source_elems: usize,
    /// Device bytes (packed size).
    pub(super) bytes: u64,
    /// Root values that use it.
    users: Vec<ValueId>,
    /// Written in place by a dispatch: never shared.
    private: bool,
}

/// What the plan phase decided about memory.
pub(super) struct MemoryPlan {
    /// Every weight buffer, deduplicated by source, dtype, packing and format.
    pub weights: Vec<Weight>,
    /// Every activation (root) with its exporter memory object and its bytes.
    pub activations: Vec<(ValueId, Option<u32>, u64)>,
    /// The lifetime arena over them.
    pub arena: ArenaPlan,
    /// What the exporter's shared objects would need.
    pub shared_bytes: u64,
    /// The arena plans the activations (else the shared objects).
    pub use_arena: bool,
    /// Graph inputs and outputs that get buffers of their own, read and written by the host
    /// in place (see `LoadOptions::direct_io`); not in the arena.
    pub direct_io: BTreeSet<ValueId>,
}

impl MemoryPlan {
    /// The report init starts from (staging figures are filled in while packing).
    pub(super) fn report(&self, legacy_order: bool) -> MemoryReport {
        MemoryReport {
            weights_bytes: self.weights.iter().map(|w| w.bytes).sum(),
            activations_bytes: if self.use_arena {
                self.arena.size
            } else {
                self.shared_bytes
            },
            shared_objects_bytes: self.shared_bytes,
            arena_bytes: self.arena.size,
            used_arena: self.use_arena,
            staging_ring_bytes: 0,
            direct_weights: 0,
            legacy_order,
        }
    }
}

/// The state of one `init`.
pub(super) struct Loader<'a> {
    pub ctx: &'a Arc<Context>,
    pub acct: &'a Arc<Accountant>,
    pub graph: &'a Graph,
    pub blob: &'a [u8],
    pub named: Option<&'a dyn NamedData>,
    pub options: LoadOptions,
}

/// The phases of `init` that need no device (build and plan), on a device's [`Caps`]; see
/// [`build_and_plan`].
struct Planning<'a> {
    pub graph: &'a Graph,
    pub caps: &'a Caps,
    pub options: &'a LoadOptions,
}

impl Loader<'_> {
    /// Runs every phase (the "build" phase of the accounting began in `Delegate::from_graph`).
    pub fn load(&mut self) -> Result<Delegate> {
        note_fp16_fallback(self.ctx, self.graph);
        let host_read = graph::host_read_values(self.graph);
        let (built, plan) =
            build_and_plan(self.graph, self.ctx.caps(), &mut self.options, &host_read)?;
        let mut memory = Resident::new(built.metas.clone());
        let mut report = plan.report(self.options.legacy_order);
        let held = if self.options.legacy_order {
            self.load_legacy(&plan, &mut memory, &mut report)?
        } else {
            self.acct.begin_phase("prepack");
            self.pack_weights(&plan.weights, &mut memory, &mut report)?;
            self.acct.begin_phase("activations");
            self.allocate_activations(&plan, &mut memory)?;
            Vec::new()
        };
        let delegate = self.ready(built, memory, report, &host_read, &plan.direct_io)?;
        drop(held);
        Ok(delegate)
    }
}

/// Phases 1 and 2 (build, memory plan), without a device: run by [`Loader::load`] and by
/// [`dry_run`](super::dry_run). Aliased views are only valid in the arena (see
/// aliases_activations): when the planner picks the shared objects, the graph is built again
/// without them (`options.planner` becomes `SharedObjects`).
pub(super) fn build_and_plan(
    graph: &Graph,
    caps: &Caps,
    options: &mut LoadOptions,
    host_read: &BTreeSet<ValueId>,
) -> Result<(BuiltGraph, MemoryPlan)> {
    loop {
        let planning = Planning {
            graph,
            caps,
            options,
        };
        let built = planning.build(host_read)?;
        match planning.plan(&built, host_read)? {
            Some(plan) => return Ok((built, plan)),
            None if options.planner != Planner::SharedObjects => {
                options.planner = Planner::SharedObjects
            }
            None => return Err(Error::internal("the planner asked for a rebuild twice")),
        }
    }
}

impl Planning<'_> {
    /// Phase 1: every op's builder, at the serialized bounds. Values read from inputs on the
    /// host (select_as_symint) are unknown until the first execute; the build at init uses 0
    /// for them, so outputs may be smaller than the bounds.
    fn build(&self, host_read: &BTreeSet<ValueId>) -> Result<BuiltGraph> {
        let at_bounds: Option<&[(ValueId, RuntimeInput)]> = if host_read.is_empty() {
            None
        } else {
            Some(&[])
        };
        let built = graph::build(
            self.graph,
            self.caps,
            at_bounds,
            aliases_activations(self.options),
            !self.options.dynamic_shapes,
        )?;
        check_limits(self.caps, &built)?;
        Ok(built)
    }

    /// Phase 2: the weights to pack and the activation plan. Step 0 copies inputs in, steps
    /// 1..=n are dispatches, the last copies out. When values read on the host or symbolic
    /// ints decide the sizes, the build (with 0 for the former, at the input bounds for the
    /// latter) may skip dispatches that other sizes record (an op on a tensor empty at the
    /// bounds); the steps are then the chain's ops with all their tensor arguments (and the
    /// tensors their dispatches bind), which hold for every size.
    /// `None`: the build aliased views or relies on the arena otherwise (`arena_only`), but the
    /// arena was not chosen; build again.
    fn plan(
        &self,
        built: &BuiltGraph,
        host_read: &BTreeSet<ValueId>,
    ) -> Result<Option<MemoryPlan>> {
        let graph = self.graph;
        let roots = &built.roots;
        // Views that share an activation's memory (only when the builder may alias).
        let aliased_views: Vec<ValueId> = (0..roots.len())
            .filter(|&v| roots[v] != v && built.meta(roots[v]).is_some_and(|m| !m.is_constant()))
            .collect();
        let mut input_tensors = Vec::new();
        for &id in &graph.input_ids {
            if check_io(graph, id, true)? {
                input_tensors.push(roots[id]);
            }
        }
        for &id in &graph.output_ids {
            check_io(graph, id, false)?;
        }
        let mut steps: Vec<Vec<ValueId>> = vec![input_tensors];
        if host_read.is_empty() && !graph::has_symints(graph) {
            steps.extend(built.dispatches.iter().map(|d| d.tensors.clone()));
        } else {
            steps.extend(chain_tensor_steps(graph, built));
        }
        steps.push(built.outputs.clone());
        let used: BTreeSet<ValueId> = steps.iter().flatten().copied().collect();
        let tensor = |id: ValueId| built.meta(id).expect("used values are tensors");
        let gpu_bytes = |id: ValueId| tensor(id).bytes() as u64;

        let mut weights: Vec<Weight> = Vec::new();
        let mut activations: Vec<ValueId> = Vec::new();
        for &id in &used {
            let t = tensor(id);
            match t.kind {
                TensorKind::Constant { constant, packing } => {
                    let source = graph.constants[constant].source.clone();
                    // Deduplicate by source, except tensors written in place (KV caches).
                    let private = built.written.contains(&id);
                    match weights.iter_mut().find(|w| {
                        !private
                            && !w.private
                            && w.source == source
                            && w.dtype == t.dtype
                            && w.packing == packing
                            && w.elem == t.elem
                    }) {
                        Some(w) => w.users.push(id),
                        None => weights.push(Weight {
                            source,
                            dtype: t.dtype,
                            packing,
                            elem: t.elem,
                            source_elems: packing
                                .map_or_else(|| t.stored_elements(), |p| p.source_len()),
                            bytes: gpu_bytes(id),
                            users: vec![id],
                            private,
                        }),
                    }
                }
                TensorKind::Activation { .. } => activations.push(id),
            }
        }
        let active: BTreeSet<ValueId> = activations.iter().copied().collect();
        // A tensor placed in a concatenation's slot lives as long as the concatenation: its
        // steps are the concatenation's.
        let outer_of: BTreeMap<ValueId, ValueId> =
            built.slots.iter().map(|s| (s.inner, s.outer)).collect();
        let direct_io = self.direct_io_roots(built, &active);
        let act_steps: Vec<Vec<ValueId>> = steps
            .iter()
            .map(|s| {
                let step =
                    (s.iter().copied()).filter(|v| active.contains(v) && !direct_io.contains(v));
                step.map(|v| outer_of.get(&v).copied().unwrap_or(v))
                    .collect()
            })
            .collect();
        let act_lifetimes = lifetimes(&act_steps, gpu_bytes);
        // Aligned for storage-buffer bindings and texel views alike.
        let mut arena = plan_arena(&act_lifetimes, self.caps.tensor_alignment());
        for slot in &built.slots {
            if let Some(&at) = arena.offsets.get(&slot.outer) {
                arena.offsets.insert(slot.inner, at + slot.offset);
            }
        }
        let shared: Vec<(ValueId, Option<u32>, u64)> = activations
            .iter()
            .map(|&v| (v, tensor(v).mem_obj_id(), gpu_bytes(v)))
            .collect();
        // What the exporter's shared objects need. Views that alias an activation have no
        // memory of their own in this build, but under shared objects they are copies with
        // objects of their own, so they count there.
        let mut shared_all = shared.clone();
        shared_all.extend(
            aliased_views
                .iter()
                .filter(|&&v| active.contains(&roots[v]))
                .filter_map(|&v| built.meta(v).map(|t| (v, t.mem_obj_id(), gpu_bytes(v)))),
        );
        let shared_bytes = plan_shared_objects(&shared_all);
        let use_arena = match self.options.planner {
            Planner::Arena => true,
            Planner::SharedObjects => false,
            Planner::Auto => !self.options.legacy_order && arena.size <= shared_bytes,
        };
        let shares_memory = !aliased_views.is_empty() || built.arena_only;
        if shares_memory && !use_arena {
            return Ok(None);
        }
        Ok(Some(MemoryPlan {
            weights,
            activations: shared,
            arena,
            shared_bytes,
            use_arena,
            direct_io: if use_arena {
                direct_io
            } else {
                BTreeSet::new()
            },
        }))
    }

    /// The graph's input and output roots that get memory of their own which the host
    /// writes (inputs: device memory it can map) or reads (outputs: cached host memory) in
    /// place, on discrete GPUs: on the H200 the copies to and from transfer buffers, with
    /// their barriers, took 8-34 µs of every execute. Outputs a dispatch also reads stay in
    /// device memory (the GPU would read them across the bus), as do tensors that are both.
    fn direct_io_roots(&self, built: &BuiltGraph, active: &BTreeSet<ValueId>) -> BTreeSet<ValueId> {
        let discrete = self.caps.kind == crate::gpu::DeviceKind::Discrete;
        let wanted = match self.options.direct_io {
            DirectIo::Off => false,
            DirectIo::Discrete => discrete && !self.caps.unified_memory(),
            DirectIo::Always => true,
        };
        if !wanted {
            return BTreeSet::new();
        }
        let read_by_gpu: BTreeSet<ValueId> = (built.dispatches.iter())
            .flat_map(|d| {
                let reads = (0..d.tensors.len()).filter(|&i| d.access(i).reads());
                reads.map(|i| d.tensors[i])
            })
            .collect();
        let inputs: BTreeSet<ValueId> = (self.graph.input_ids.iter())
            .filter(|&&id| self.graph.tensor(id).is_some())
            .map(|&id| built.roots[id])
            .collect();
        let outputs: BTreeSet<ValueId> = (built.outputs.iter().copied())
            .filter(|v| !read_by_gpu.contains(v))
            .collect();
        (inputs.symmetric_difference(&outputs).copied())
            .filter(|v| active.contains(v) && !built.written.contains(v))
            .collect()
    }
}

impl Loader<'_> {
    /// Legacy order: every source fetched and every weight allocated at build, activations at
    /// prepare, then one staging buffer per weight; the sources are returned to be held until
    /// init ends.
    fn load_legacy(
        &self,
        plan: &MemoryPlan,
        memory: &mut Resident,
        report: &mut MemoryReport,
    ) -> Result<Vec<HeldSource>> {
        let (ctx, acct) = (self.ctx, self.acct);
        let mut sources = Vec::new();
        for w in &plan.weights {
            sources.push(self.fetch(w)?);
        }
        let mut indices = Vec::new();
        for w in &plan.weights {
            let buf = Buffer::new(ctx, acct, w.bytes, BufferKind::Device, MemTag::Weight)?;
            indices.push(memory.place_buffer(buf, &w.users, w.bytes));
        }
        acct.begin_phase("activations");
        self.allocate_activations(plan, memory)?;
        acct.begin_phase("prepack");
        let fence = Fence::new(ctx)?;
        let mut cmd = CommandBuffer::new(ctx)?;
        for ((w, src), &index) in plan.weights.iter().zip(&sources).zip(&indices) {
            let mut staging = Buffer::new(ctx, acct, w.bytes, BufferKind::Host, MemTag::Staging)?;
            report.staging_ring_bytes = report.staging_ring_bytes.max(staging.size());
            pack_to_gpu(
                w.dtype,
                src.bytes(),
                w.packing,
                w.elem,
                0,
                staging.bytes_mut()?,
            )?;
            cmd.begin(true)?;
            let dst = memory.buffers[index].handle();
            cmd.copy(staging.handle(), 0, dst, 0, w.bytes);
            cmd.end()?;
            cmd.submit_and_wait(&fence)?;
        }
        Ok(sources)
    }

    /// Phase 5: I/O transfer buffers, parameters, descriptors, the recorded command buffer.
    fn ready(
        &self,
        built: BuiltGraph,
        mut memory: Resident,
        report: MemoryReport,
        host_read: &BTreeSet<ValueId>,
        direct_io: &BTreeSet<ValueId>,
    ) -> Result<Delegate> {
        let (ctx, acct, graph) = (self.ctx, self.acct, self.graph);
        acct.begin_phase("ready");
        self.place_direct_io(&built, &mut memory, direct_io)?;
        let memory = memory;
        // `value`: the root whose memory holds the tensor (an output's contiguous copy).
        let make_io = |id: ValueId, value: ValueId| -> Result<Io> {
            let t = graph
                .tensor(id)
                .expect("I/O values were checked to be tensors");
            let host = if memory.is_mapped(value) {
                None
            } else {
                Some(Buffer::new(
                    ctx,
                    acct,
                    (t.numel() * GPU_ELEM_SIZE) as u64,
                    BufferKind::Host,
                    MemTag::Io,
                )?)
            };
            Ok(Io {
                value,
                read_on_host: host_read.contains(&id),
                boundary_dtype: t.staging_dtype.unwrap_or(t.dtype),
                gpu_float: t.dtype.is_float(),
                bound_sizes: t.dims.clone(),
                sizes: t.dims.clone(),
                host,
            })
        };
        let mut inputs = Vec::with_capacity(graph.input_ids.len());
        let mut recorded_for = Vec::with_capacity(graph.input_ids.len());
        for &id in &graph.input_ids {
            match graph.tensor(id) {
                Some(t) => {
                    let io = make_io(id, built.roots[id])?;
                    // The build at init reads zeros from inputs read on the host.
                    recorded_for.push(if io.read_on_host {
                        RuntimeInput::Values(t.dims.clone(), vec![0; t.numel()])
                    } else {
                        RuntimeInput::Sizes(t.dims.clone())
                    });
                    inputs.push(InputSlot::Tensor(io));
                }
                None => {
                    recorded_for.push(RuntimeInput::Int(symint_value(graph, id)));
                    inputs.push(InputSlot::Int);
                }
            }
        }
        let mut outputs = graph
            .output_ids
            .iter()
            .zip(&built.outputs)
            .map(|(&id, &value)| make_io(id, value))
            .collect::<Result<Vec<_>>>()?;
        // Equal to the bounds, except in data-dependent graphs built with zeros.
        for (io, sizes) in outputs.iter_mut().zip(&built.output_sizes) {
            io.sizes = sizes.clone();
        }
        let tensor_inputs: Vec<&Io> = inputs.iter().filter_map(InputSlot::io).collect();
        let profiling = profiling_by_default();
        let recording = record_graph(
            ctx,
            acct,
            &built.dispatches,
            &memory,
            (&tensor_inputs, &outputs),
            profiling,
        )?;
        let fence = Fence::new(ctx)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        LIVE_REPORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, report.clone()));
        Ok(Delegate {
            recording,
            fence,
            in_flight: false,
            inputs,
            outputs,
            recorded_for,
            memory,
            graph: graph.clone(),
            roots: built.roots,
            alias_activations: self.aliases_activations(),
            slots: built.slots.clone(),
            fusions: built.fusions.clone(),
            static_sizes: !self.options.dynamic_shapes,
            profiling,
            last_timings: Vec::new(),
            host_timing: std::sync::Mutex::new(HostTiming::from_env()),
            id,
            report,
            accountant: acct.clone(),
            ctx: ctx.clone(),
        })
    }
    fn aliases_activations(&self) -> bool {
        aliases_activations(&self.options)
    }

    /// Fetches a weight's source bytes, checks their size and accounts them while held.
    fn fetch(&self, w: &Weight) -> Result<HeldSource> {
        let data = fetch_constant(&w.source, self.blob, self.named)?;
        check_source_len(w, data.len())?;
        Ok(HeldSource::new(data, self.acct))
    }

    /// Phase 3, lazily: per weight, memory allocated right before it is packed, the source
    /// streamed (re-laid out) and released after its last use.
    fn pack_weights(
        &self,
        weights: &[Weight],
        memory: &mut Resident,
        report: &mut MemoryReport,
    ) -> Result<()> {
        let (ctx, acct) = (self.ctx, self.acct);
        let direct = self.options.direct_upload && ctx.caps().unified_memory();
        // Bytes of the weights not packed yet: a ring created for them (staging, or a direct
        // write that could not get unified memory) need not be larger.
        let mut unpacked: u64 = weights.iter().map(|w| w.bytes).sum();
        let mut ring: Option<StagingRing> = None;
        // Sources can back several weights (the same key read as different dtypes): count
        // their uses so each is fetched once and released after its last use, never early.
        let mut remaining: BTreeMap<&ConstantSource, usize> = BTreeMap::new();
        for w in weights {
            *remaining.entry(&w.source).or_insert(0) += 1;
        }
        let mut held: BTreeMap<&ConstantSource, HeldSource> = BTreeMap::new();
        // Largest first: the big weights are packed while little else is held, so the peak
        // (packed so far + one source + ring) stays near W.
        let mut order: Vec<&Weight> = weights.iter().collect();
        order.sort_by_key(|w| std::cmp::Reverse(w.bytes));
        for w in order {
            if !held.contains_key(&w.source) {
                held.insert(&w.source, self.fetch(w)?);
            }
            let src = held.get(&w.source).expect("inserted above");
            // A source shared by several weights was checked against the first one only.
            check_source_len(w, src.bytes().len())?;
            let mut written = false;
            if direct {
                if let Ok(mut buf) =
                    Buffer::new(ctx, acct, w.bytes, BufferKind::Unified, MemTag::Weight)
                {
                    write_direct(src.bytes(), w.dtype, (w.packing, w.elem), &mut buf)?;
                    memory.place_buffer(buf, &w.users, w.bytes);
                    report.direct_weights += 1;
                    written = true;
                }
            }
            if !written {
                let buf = Buffer::new(ctx, acct, w.bytes, BufferKind::Device, MemTag::Weight)?;
                if ring.is_none() {
                    let size = self.options.staging_ring_bytes.min(unpacked);
                    let r = StagingRing::new(ctx, acct, size)?;
                    report.staging_ring_bytes = r.size();
                    ring = Some(r);
                }
                ring.as_mut().expect("created above").upload(
                    src.bytes(),
                    w.dtype,
                    (w.packing, w.elem),
                    &buf,
                )?;
                memory.place_buffer(buf, &w.users, w.bytes);
            }
            unpacked -= w.bytes;
            let left = remaining.get_mut(&w.source).expect("counted above");
            *left -= 1;
            if *left == 0 {
                held.remove(&w.source);
            }
        }
        if let Some(mut r) = ring {
            r.finish()?;
        }
        Ok(())
    }

    /// Buffers of their own for the graph inputs and outputs the plan left out of the arena
    /// (`MemoryPlan::direct_io`): inputs in device memory the host maps (a resizable BAR),
    /// outputs in cached host memory the kernel writes across the bus. Where the device has
    /// no such memory the tensor gets device memory and a transfer buffer, as others.
    fn place_direct_io(
        &self,
        built: &BuiltGraph,
        memory: &mut Resident,
        direct_io: &BTreeSet<ValueId>,
    ) -> Result<()> {
        let (ctx, acct) = (self.ctx, self.acct);
        let inputs: BTreeSet<ValueId> = self
            .graph
            .input_ids
            .iter()
            .map(|&id| built.roots[id])
            .collect();
        for &v in direct_io {
            let bytes = built.meta(v).map_or(4, |m| m.bytes() as u64);
            let kind = if inputs.contains(&v) {
                BufferKind::Unified
            } else {
                BufferKind::Host
            };
            let buf = match Buffer::new(ctx, acct, bytes, kind, MemTag::Io) {
                Ok(b) => b,
                Err(_) => Buffer::new(ctx, acct, bytes, BufferKind::Device, MemTag::Activation)?,
            };
            memory.place_buffer(buf, &[v], bytes);
        }
        Ok(())
    }

    /// Activation memory: host-visible device memory on unified-memory devices (inputs and
    /// outputs are then written and read in place, with no transfer buffers), else device-local.
    fn activation_buffer(&self, bytes: u64) -> Result<Buffer> {
        let (ctx, acct) = (self.ctx, self.acct);
        if self.options.direct_upload && ctx.caps().unified_memory() {
            if let Ok(b) = Buffer::new(ctx, acct, bytes, BufferKind::Unified, MemTag::Activation) {
                return Ok(b);
            }
        }
        Buffer::new(ctx, acct, bytes, BufferKind::Device, MemTag::Activation)
    }

    /// Phase 4: activation memory, in the arena or the exporter's shared objects.
    fn allocate_activations(&self, plan: &MemoryPlan, memory: &mut Resident) -> Result<()> {
        let shared = &plan.activations;
        if shared.is_empty() {
            return Ok(());
        }
        if plan.use_arena {
            if shared.iter().all(|(v, ..)| plan.direct_io.contains(v)) {
                // Every activation is a graph input or output with memory of its own.
                return Ok(());
            }
            let buf = self.activation_buffer(plan.arena.size)?;
            let index = memory.place_buffer(buf, &[], 0);
            for &(v, _, bytes) in shared {
                if !plan.direct_io.contains(&v) {
                    memory.place(v, index, plan.arena.offsets[&v], bytes);
                }
            }
            return Ok(());
        }
        let mut objects: BTreeMap<u32, u64> = BTreeMap::new();
        for &(_, obj, bytes) in shared {
            if let Some(o) = obj {
                let e = objects.entry(o).or_insert(0);
                *e = (*e).max(bytes);
            }
        }
        let mut object_buffer: BTreeMap<u32, usize> = BTreeMap::new();
        for (&o, &bytes) in &objects {
            let buf = self.activation_buffer(bytes)?;
            object_buffer.insert(o, memory.place_buffer(buf, &[], 0));
        }
        for &(v, obj, bytes) in shared {
            let index = match obj {
                Some(o) => object_buffer[&o],
                None => {
                    let buf = self.activation_buffer(bytes)?;
                    memory.place_buffer(buf, &[], 0)
                }
            };
            memory.place(v, index, 0, bytes);
        }
        Ok(())
    }
}

/// Whether view-like ops may share their input's memory: only when the lifetime arena plans
/// the activations (the exporter's shared objects give every output memory of its own, and
/// the legacy order always uses them).
pub(super) fn aliases_activations(options: &LoadOptions) -> bool {
    match options.planner {
        Planner::Arena => true,
        Planner::SharedObjects => false,
        Planner::Auto => !options.legacy_order,
    }
}

/// Source bytes held from the NamedDataMap or the blob, accounted under `MemTag::Source`.
struct HeldSource {
    data: Option<DataBuffer>,
    acct: Arc<Accountant>,
}

/// Sources at least this large are followed by `malloc_trim`: glibc otherwise keeps the
/// freed pages of a released weight copy resident.
const TRIM_AFTER_BYTES: usize = 1 << 20;

impl HeldSource {
    fn new(data: DataBuffer, acct: &Arc<Accountant>) -> Self {
        acct.add(MemTag::Source, data.len() as u64);
        HeldSource {
            data: Some(data),
            acct: acct.clone(),
        }
    }
    fn bytes(&self) -> &[u8] {
        self.data.as_ref().map(DataBuffer::bytes).unwrap_or(&[])
    }
}

impl Drop for HeldSource {
    fn drop(&mut self) {
        let len = self.data.as_ref().map_or(0, DataBuffer::len);
        drop(self.data.take());
        self.acct.sub(MemTag::Source, len as u64);
        if len >= TRIM_AFTER_BYTES {
            trim_heap();
        }
    }
}

/// Returns freed heap pages to the OS (glibc); elsewhere a no-op.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn describe(source: &ConstantSource) -> String {
    match source {
        ConstantSource::Inline { offset, .. } => format!("at blob offset {offset}"),
        ConstantSource::Named { key } => format!("'{key}'"),
    }
}

/// A constant's source must hold exactly the weight's elements in its dtype.
pub(super) fn check_source_len(w: &Weight, len: usize) -> Result<()> {
    let want = w.source_elems * w.dtype.size();
    if len != want {
        return Err(Error::invalid_program(format!(
            "constant {} has {len} bytes, expected {want} ({:?}, value {})",
            describe(&w.source),
            w.dtype,
            w.users[0]
        )));
    }
    Ok(())
}

/// Per chain op, the memory (alias roots) of every tensor among its arguments, lists included,
/// and of the tensors its dispatches bind (layout copies, packed constants), and the
/// contiguous copies of graph outputs at the end.
/// A constant argument that no dispatch binds while a re-laid-out copy of it is bound (packed
/// conv weights, 4-bit weights kept as bytes) is left out: the op reads the copy at every size,
/// and the raw constant would cost device memory for nothing.
fn chain_tensor_steps(graph: &Graph, built: &BuiltGraph) -> Vec<Vec<ValueId>> {
    let roots = &built.roots;
    let bound: BTreeSet<ValueId> = built
        .dispatches
        .iter()
        .flat_map(|d| d.tensors.iter().copied())
        .collect();
    let constant_of = |id: ValueId| match built.meta(id).map(|m| &m.kind) {
        Some(TensorKind::Constant { constant, .. }) => Some(*constant),
        _ => None,
    };
    // Copies are tensors the builder added (ids past the serialized graph's values).
    let copied: BTreeSet<usize> = bound
        .iter()
        .filter(|&&t| t >= graph.values.len())
        .filter_map(|&t| constant_of(t))
        .collect();
    let tensor_root = |id: ValueId| {
        graph
            .tensor(id)
            .map(|_| roots[id])
            .filter(|&r| bound.contains(&r) || !constant_of(r).is_some_and(|c| copied.contains(&c)))
    };
    graph
        .chain
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let mut step: Vec<ValueId> = built
                .dispatches
                .iter()
                .filter(|d| d.op_index == index)
                .flat_map(|d| d.tensors.iter().copied())
                .collect();
            for &arg in &call.args {
                match &graph.values[arg] {
                    Value::ValueList(ids) => {
                        step.extend(ids.iter().filter_map(|&i| tensor_root(i)))
                    }
                    _ => step.extend(tensor_root(arg)),
                }
            }
            step
        })
        .collect()
}

/// Checks a graph input/output value; returns whether it is a tensor (inputs may also be
/// symbolic ints).
fn check_io(graph: &Graph, id: ValueId, input: bool) -> Result<bool> {
    match graph.values.get(id) {
        Some(Value::Tensor(_)) => Ok(true),
        Some(Value::SymInt(_) | Value::Int(_)) if input => Ok(false),
        Some(other) => Err(Error::not_supported(format!(
            "delegate {} value {id} is a {}; only tensors{} are supported",
            if input { "input" } else { "output" },
            other.kind_name(),
            if input { " and symbolic ints" } else { "" }
        ))),
        None => Err(Error::invalid_program(format!(
            "I/O value id {id} out of range"
        ))),
    }
}

/// The export-time value of a SymInt/Int input.
fn symint_value(graph: &Graph, id: ValueId) -> i64 {
    match graph.values.get(id) {
        Some(Value::SymInt(v)) => *v as i64,
        Some(Value::Int(v)) => *v,
        _ => 0,
    }
}

/// Fetches a constant's bytes: from the blob, or from the NamedDataMap.
pub(super) fn fetch_constant(
    source: &ConstantSource,
    blob: &[u8],
    named: Option<&dyn NamedData>,
) -> Result<DataBuffer> {
    match source {
        ConstantSource::Inline { offset, length } => {
            let bytes = offset
                .checked_add(*length)
                .and_then(|end| blob.get(*offset..end))
                .ok_or_else(|| {
                    Error::invalid_program(format!(
                        "inline constant at {offset}+{length} is outside the blob"
                    ))
                })?;
            // SAFETY: the blob outlives init, and the buffer is dropped before init returns.
            Ok(unsafe { DataBuffer::from_raw(bytes.as_ptr(), bytes.len(), Box::new(|| {})) })
        }
        ConstantSource::Named { key } => {
            let map = named.ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("constant '{key}' is named data but no NamedDataMap was given"),
                )
            })?;
            map.get(key)
                .map_err(|e| e.context(format!("named constant '{key}'")))
        }
    }
}

/// Says once per process that FLOAT16 tensors run in f32 (no 16-bit storage on the device, or
/// `ETVK_FP16=0`): the program still runs, with twice the memory of f16 storage.
fn note_fp16_fallback(ctx: &Context, graph: &Graph) {
    static NOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let has_f16 = graph
        .values
        .iter()
        .any(|v| matches!(v, Value::Tensor(t) if t.dtype == DType::Float16));
    if has_f16 && !ctx.caps().f16_storage && !NOTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "etvk: note: '{}' stores FLOAT16 tensors as f32 (no 16-bit storage, or ETVK_FP16=0)",
            ctx.caps().device_name
        );
    }
}
