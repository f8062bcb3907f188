//! One loaded delegate. `init` runs in phases, so that no device memory exists before it is
//! needed:
//! 1. **build**: every op checks its arguments and records dispatches (no device memory);
//! 2. **plan**: weights are deduplicated by source, activation lifetimes computed and planned;
//! 3. **prepack**: weight by weight, memory is allocated, the source fetched, converted into
//!    the staging ring (or written directly on unified memory) and released;
//! 4. **activations**: allocated only after the last weight is packed and staging is freed;
//! 5. **ready**: I/O transfer buffers, parameters, descriptors, one recorded command buffer.
//!
//! The legacy order (weights at build, activations before prepack, one staging buffer per
//! weight, sources held to the end) is kept behind [`LoadOptions::legacy_order`] to measure
//! the difference on the same program.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::format::{ConstantSource, DType, Graph, Value, ValueId};
use crate::gpu::memory::Accountant;
use crate::gpu::shaders::{PUSH_PARAM_INTS, WORKGROUP_SIZE};
use crate::gpu::{
    Buffer, BufferKind, BufferRange, CommandBuffer, Context, DescriptorPool, Fence, MemTag,
    MemoryStats,
};
use crate::runtime::builder::{fits_bound, has_symints, Dispatch, OpBuilder, RuntimeInput};
use crate::runtime::convert::{from_gpu, to_gpu, GPU_ELEM_SIZE};
use crate::runtime::load_options::{LoadOptions, Planner};
use crate::runtime::plan::{lifetimes, plan_arena, plan_shared_objects, ArenaPlan};
use crate::runtime::prepack::{write_direct, StagingRing};
use crate::runtime::{CompileSpecs, DataBuffer, HostTensor, InputValue, NamedData};

/// A tensor input or output of the graph together with its host transfer buffer.
struct Io {
    /// The root value whose device memory holds it.
    value: ValueId,
    /// The dtype at the delegate boundary.
    boundary_dtype: DType,
    gpu_float: bool,
    /// The serialized sizes (upper bounds for dynamic shapes).
    bound_sizes: Vec<usize>,
    /// The sizes of the current recording.
    sizes: Vec<usize>,
    /// The graph reads this input's elements on the host (`et_vk.select_as_symint`), so a
    /// change of its values re-records the graph.
    read_on_host: bool,
    /// Host transfer buffer; `None` when the tensor's device memory is host-visible (unified
    /// memory), where inputs are written and outputs read in place.
    host: Option<Buffer>,
}

/// One delegate input: a tensor with its transfer buffer, or a symbolic int.
enum InputSlot {
    Tensor(Io),
    Int,
}

/// The recorded work for one set of input sizes: parameters, descriptors, command buffer.
struct Recording {
    command: CommandBuffer,
    _descriptors: DescriptorPool,
    _params: Option<Buffer>,
}

/// What `init` measured and decided about memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryReport {
    /// W: device bytes of packed weights (after deduplication).
    pub weights_bytes: u64,
    /// A: activation bytes with the planner that was used.
    pub activations_bytes: u64,
    /// Activation bytes under the exporter's `mem_obj_id` shared objects.
    pub shared_objects_bytes: u64,
    /// Activation bytes under the lifetime arena.
    pub arena_bytes: u64,
    /// Whether the lifetime arena was used (else the shared objects).
    pub used_arena: bool,
    /// Size of the staging ring (or, in legacy order, of the largest per-weight staging buffer).
    pub staging_ring_bytes: u64,
    /// Weights written straight into host-visible device memory, with no staging copy.
    pub direct_weights: usize,
    pub legacy_order: bool,
}

/// Reports of every live delegate, for the process-wide figures.
static LIVE_REPORTS: Mutex<Vec<(u64, MemoryReport)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The reports of every live delegate added up (`legacy_order`/`used_arena` when any has it).
pub fn process_memory_report() -> (usize, MemoryReport) {
    let live = LIVE_REPORTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut sum = MemoryReport::default();
    for (_, r) in live.iter() {
        sum.weights_bytes += r.weights_bytes;
        sum.activations_bytes += r.activations_bytes;
        sum.shared_objects_bytes += r.shared_objects_bytes;
        sum.arena_bytes += r.arena_bytes;
        sum.used_arena |= r.used_arena;
        sum.staging_ring_bytes = sum.staging_ring_bytes.max(r.staging_ring_bytes);
        sum.direct_weights += r.direct_weights;
        sum.legacy_order |= r.legacy_order;
    }
    (live.len(), sum)
}

/// A weight buffer shared by every constant tensor with the same source and dtype.
struct Weight {
    source: ConstantSource,
    dtype: DType,
    bytes: u64,
    /// Root values that use it.
    users: Vec<ValueId>,
    /// Written in place by a dispatch: never shared.
    private: bool,
}

/// Where a root tensor's memory is: a buffer, offset and size.
#[derive(Clone, Copy)]
struct Placement {
    buffer: usize,
    offset: u64,
    size: u64,
}

/// A delegate ready to execute. Dropping it releases every GPU resource it holds.
pub struct Delegate {
    // Field order is drop order: GPU objects go before the context they came from.
    recording: Recording,
    fence: Fence,
    inputs: Vec<InputSlot>,
    outputs: Vec<Io>,
    /// What the current recording was built for, per input.
    recorded_for: Vec<RuntimeInput>,
    placements: BTreeMap<ValueId, Placement>,
    buffers: Vec<Buffer>,
    graph: Graph,
    roots: Vec<ValueId>,
    /// The builder setting init used; a resize must alias the same values.
    alias_activations: bool,
    id: u64,
    report: MemoryReport,
    accountant: Arc<Accountant>,
    ctx: Arc<Context>,
}

impl Delegate {
    /// Parses `blob` (`VH00` header + `VK00` flatbuffer + inline constants) and prepares it.
    pub fn init(blob: &[u8], named: Option<&dyn NamedData>, specs: &CompileSpecs) -> Result<Self> {
        let graph = crate::format::parse_blob(blob)?;
        Self::from_graph(graph, blob, named, specs)
    }

    /// Prepares an already parsed graph; `blob` backs its inline constants.
    pub fn from_graph(
        graph: Graph,
        blob: &[u8],
        named: Option<&dyn NamedData>,
        specs: &CompileSpecs,
    ) -> Result<Self> {
        let options = LoadOptions::resolve(specs)?;
        let ctx = Context::shared()?;
        ctx.take_validation_errors();
        let acct = Arc::new(Accountant::for_delegate());
        let mut loader = Loader {
            ctx: &ctx,
            acct: &acct,
            graph: &graph,
            blob,
            named,
            options,
        };
        acct.begin_phase("build");
        let delegate = loader.load();
        ctx.check_validation("init")?;
        delegate
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Bytes this delegate holds now and held at its peak, per tag and per init phase.
    pub fn memory_stats(&self) -> MemoryStats {
        self.accountant.snapshot()
    }

    /// What init measured and decided about memory.
    pub fn memory_report(&self) -> &MemoryReport {
        &self.report
    }

    /// The device this delegate runs on.
    pub fn device_name(&self) -> &str {
        &self.ctx.caps().device_name
    }

    /// Runs the graph on `inputs` (in `input_ids` order). Outputs stay on the device until read.
    /// Tensors of other sizes than the serialized bounds (dynamic shapes; ExecuTorch bounds
    /// them by element count) re-record the graph for their sizes; memory stays as planned.
    pub fn execute(&mut self, inputs: &[InputValue]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::invalid_argument(format!(
                "delegate expects {} inputs, got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut runtime = Vec::with_capacity(inputs.len());
        for (i, (slot, input)) in self.inputs.iter().zip(inputs).enumerate() {
            runtime.push(match (slot, input) {
                (InputSlot::Tensor(io), InputValue::Tensor(t)) => {
                    if !fits_bound(&t.sizes, &io.bound_sizes) {
                        return Err(Error::invalid_argument(format!(
                            "input {i} has sizes {:?}, the program allows rank {} and at most \
                             the {} elements of {:?}",
                            t.sizes,
                            io.bound_sizes.len(),
                            io.bound_sizes.iter().product::<usize>(),
                            io.bound_sizes
                        )));
                    }
                    if t.dtype.is_float() != io.gpu_float {
                        return Err(Error::new(
                            ErrorKind::InvalidType,
                            format!(
                                "input {i} has dtype {:?}, the program expects {:?}",
                                t.dtype, io.boundary_dtype
                            ),
                        ));
                    }
                    if io.read_on_host {
                        RuntimeInput::Values(t.sizes.clone(), t.to_i64_vec())
                    } else {
                        RuntimeInput::Sizes(t.sizes.clone())
                    }
                }
                (InputSlot::Int, InputValue::Int(v)) => RuntimeInput::Int(*v),
                (InputSlot::Int, InputValue::Tensor(t)) if t.numel() == 1 => {
                    // A SymInt may arrive as a one-element tensor.
                    RuntimeInput::Int(t.to_i64_vec()[0])
                }
                (InputSlot::Tensor(_), InputValue::Int(_)) => {
                    return Err(Error::new(
                        ErrorKind::InvalidType,
                        format!("input {i} must be a tensor, got an int"),
                    ))
                }
                (InputSlot::Int, InputValue::Tensor(_)) => {
                    return Err(Error::new(
                        ErrorKind::InvalidType,
                        format!("input {i} must be an int (a symbolic size)"),
                    ))
                }
            });
        }
        if runtime != self.recorded_for {
            self.resize(runtime)?;
        }
        for (slot, input) in self.inputs.iter_mut().zip(inputs) {
            if let (InputSlot::Tensor(io), InputValue::Tensor(t)) = (slot, input) {
                let dst = match io.host.as_mut() {
                    Some(host) => host.bytes_mut()?,
                    None => {
                        let p = self.placements[&io.value];
                        let bytes = self.buffers[p.buffer].bytes_mut()?;
                        &mut bytes[p.offset as usize..(p.offset + p.size) as usize]
                    }
                };
                to_gpu(t.dtype, &t.data, dst)?;
            }
        }
        self.recording.command.submit_and_wait(&self.fence)?;
        self.ctx.check_validation("execute")
    }

    /// Runs every op's builder for `runtime` (one entry per graph input).
    fn rebuild(&self, runtime: &[RuntimeInput]) -> Result<Built> {
        let pairs: Vec<(ValueId, RuntimeInput)> = self
            .graph
            .input_ids
            .iter()
            .copied()
            .zip(runtime.iter().cloned())
            .collect();
        let mut builder = OpBuilder::resized(&self.graph, self.ctx.caps(), &pairs);
        builder.set_alias_activations(self.alias_activations);
        run_ops(&self.graph, builder)
    }

    /// Re-runs every op's builder for new input sizes and records the graph again.
    fn resize(&mut self, runtime: Vec<RuntimeInput>) -> Result<()> {
        let ctx = self.ctx.clone();
        let built = self.rebuild(&runtime)?;
        if built.roots != self.roots {
            return Err(Error::internal(
                "a resize changed which values share memory",
            ));
        }
        check_limits(&ctx, &self.graph, &built.dispatches)?;
        // Sizes feed the recording (transfer lengths); put the old ones back if it fails.
        let old_inputs: Vec<Option<Vec<usize>>> = self
            .inputs
            .iter()
            .map(|s| s.io().map(|io| io.sizes.clone()))
            .collect();
        let old_outputs: Vec<Vec<usize>> = self.outputs.iter().map(|io| io.sizes.clone()).collect();
        for (slot, r) in self.inputs.iter_mut().zip(&runtime) {
            if let (InputSlot::Tensor(io), Some(s)) = (slot, r.sizes()) {
                io.sizes = s.to_vec();
            }
        }
        for (io, sizes) in self.outputs.iter_mut().zip(built.output_sizes) {
            io.sizes = sizes;
        }
        let tensor_inputs: Vec<&Io> = self.inputs.iter().filter_map(InputSlot::io).collect();
        let recording = record(
            &ctx,
            &self.accountant,
            &built.dispatches,
            &self.placements,
            &self.buffers,
            &tensor_inputs,
            &self.outputs,
        );
        self.recording = match recording {
            Ok(r) => r,
            Err(e) => {
                for (slot, old) in self.inputs.iter_mut().zip(old_inputs) {
                    if let (InputSlot::Tensor(io), Some(old)) = (slot, old) {
                        io.sizes = old;
                    }
                }
                for (io, old) in self.outputs.iter_mut().zip(old_outputs) {
                    io.sizes = old;
                }
                return Err(e);
            }
        };
        self.recorded_for = runtime;
        Ok(())
    }

    /// Test support: replays what the current recording runs (input copies, every dispatch
    /// with work, output copies) and names each pair of activations that share bytes of one
    /// buffer while both are live in that order. Empty when the memory plan holds for it.
    #[doc(hidden)]
    pub fn overlapping_live_activations(&self) -> Result<Vec<String>> {
        let built = self.rebuild(&self.recorded_for)?;
        let mut steps: Vec<Vec<ValueId>> = vec![self
            .inputs
            .iter()
            .filter_map(|s| s.io().map(|io| io.value))
            .collect()];
        steps.extend(
            built
                .dispatches
                .iter()
                .filter(|d| d.work_items() > 0)
                .map(|d| d.tensors.clone()),
        );
        steps.push(self.outputs.iter().map(|io| io.value).collect());
        let live: Vec<_> = crate::runtime::plan::lifetimes(&steps, |_| 0)
            .into_iter()
            .filter(|l| {
                self.graph
                    .tensor(l.value)
                    .is_some_and(|t| t.constant.is_none())
            })
            .collect();
        let mut found = Vec::new();
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                let (Some(pa), Some(pb)) =
                    (self.placements.get(&a.value), self.placements.get(&b.value))
                else {
                    found.push(format!("value {} or {} has no memory", a.value, b.value));
                    continue;
                };
                let share = pa.buffer == pb.buffer
                    && pa.offset < pb.offset + pb.size
                    && pb.offset < pa.offset + pa.size;
                if share && a.overlaps_in_time(b) {
                    found.push(format!(
                        "values {} (steps {}..={}) and {} (steps {}..={}) share bytes",
                        a.value, a.first, a.last, b.value, b.first, b.last
                    ));
                }
            }
        }
        Ok(found)
    }

    fn output(&self, index: usize) -> Result<&Io> {
        self.outputs.get(index).ok_or_else(|| {
            Error::invalid_argument(format!(
                "output index {index} out of range ({} outputs)",
                self.outputs.len()
            ))
        })
    }

    /// Sizes of output `index` produced by the last `execute`.
    pub fn output_sizes(&self, index: usize) -> Result<Vec<usize>> {
        Ok(self.output(index)?.sizes.clone())
    }

    /// The dtype output `index` has at the delegate boundary.
    pub fn output_dtype(&self, index: usize) -> Result<DType> {
        Ok(self.output(index)?.boundary_dtype)
    }

    /// Copies output `index` of the last `execute` into `dst`, converted to `dtype`.
    /// `dst` must hold at least `prod(output_sizes) * dtype.size()` bytes.
    pub fn read_output_into(&self, index: usize, dtype: DType, dst: &mut [u8]) -> Result<()> {
        let io = self.output(index)?;
        let n: usize = io.sizes.iter().product();
        if dst.len() < n * dtype.size() {
            return Err(Error::invalid_argument(format!(
                "output {index} needs {} bytes as {dtype:?}, destination has {}",
                n * dtype.size(),
                dst.len()
            )));
        }
        let src = match io.host.as_ref() {
            Some(host) => host.bytes()?,
            None => {
                let p = self.placements[&io.value];
                &self.buffers[p.buffer].bytes()?[p.offset as usize..(p.offset + p.size) as usize]
            }
        };
        from_gpu(io.gpu_float, &src[..n * GPU_ELEM_SIZE], dtype, dst)
    }

    /// Executes and returns every output in its boundary dtype.
    pub fn run(&mut self, inputs: &[InputValue]) -> Result<Vec<HostTensor>> {
        self.execute(inputs)?;
        (0..self.num_outputs())
            .map(|i| {
                let dtype = self.output_dtype(i)?;
                let sizes = self.output_sizes(i)?;
                let mut data = vec![0u8; sizes.iter().product::<usize>() * dtype.size()];
                self.read_output_into(i, dtype, &mut data)?;
                HostTensor::new(dtype, sizes, data)
            })
            .collect()
    }
}

impl Drop for Delegate {
    fn drop(&mut self) {
        // Nothing is pending: init and execute wait for their submissions.
        LIVE_REPORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

/// The state of one `init`.
struct Loader<'a> {
    ctx: &'a Arc<Context>,
    acct: &'a Arc<Accountant>,
    graph: &'a Graph,
    blob: &'a [u8],
    named: Option<&'a dyn NamedData>,
    options: LoadOptions,
}

impl Loader<'_> {
    fn load(&mut self) -> Result<Delegate> {
        let (ctx, acct, graph) = (self.ctx, self.acct, self.graph);

        // 1. Build (the "build" phase began in `from_graph`: a rebuild stays in it).
        // Values read from inputs on the host (select_as_symint) are unknown until the first
        // execute; the build at init uses 0 for them, so outputs may be smaller than the bounds.
        let host_read = host_read_values(graph);
        let mut builder = if !host_read.is_empty() {
            OpBuilder::resized(graph, ctx.caps(), &[])
        } else {
            OpBuilder::new(graph, ctx.caps())
        };
        let alias_activations = self.aliases_activations();
        builder.set_alias_activations(alias_activations);
        let built = run_ops(graph, builder)?;
        let (dispatches, roots) = (&built.dispatches, &built.roots);
        check_limits(ctx, graph, dispatches)?;
        // Views that share an activation's memory (only when the builder may alias).
        let aliased_views: Vec<ValueId> = (0..roots.len())
            .filter(|&v| {
                roots[v] != v && graph.tensor(roots[v]).is_some_and(|t| t.constant.is_none())
            })
            .collect();
        let views_aliased = !aliased_views.is_empty();

        // 2. Plan. Step 0 copies inputs in, steps 1..=n are dispatches, the last copies out.
        // When values read on the host or symbolic ints decide the sizes, the build above (with
        // 0 for the former, at the input bounds for the latter) may skip dispatches that other
        // sizes record (an op on a tensor empty at the bounds); the steps are then the chain's
        // ops with all their tensor arguments, which hold for every size.
        let mut input_tensors = Vec::new();
        for &id in &graph.input_ids {
            if check_io(graph, id, true)? {
                input_tensors.push(roots[id]);
            }
        }
        let mut output_tensors = Vec::new();
        for &id in &graph.output_ids {
            check_io(graph, id, false)?;
            output_tensors.push(roots[id]);
        }
        let mut steps: Vec<Vec<ValueId>> = vec![input_tensors];
        if host_read.is_empty() && !has_symints(graph) {
            steps.extend(dispatches.iter().map(|d| d.tensors.clone()));
        } else {
            steps.extend(chain_tensor_steps(graph, roots));
        }
        steps.push(output_tensors);
        let used: BTreeSet<ValueId> = steps.iter().flatten().copied().collect();
        let tensor = |id: ValueId| graph.tensor(id).expect("used values are tensors");
        let gpu_bytes = |id: ValueId| (tensor(id).numel() * GPU_ELEM_SIZE) as u64;

        let mut weights: Vec<Weight> = Vec::new();
        let mut activations: Vec<ValueId> = Vec::new();
        for &id in &used {
            let t = tensor(id);
            match t.constant {
                Some(c) => {
                    let source = graph.constants[c].source.clone();
                    // Deduplicate by source, except tensors written in place (KV caches).
                    let private = built.written.contains(&id);
                    match weights.iter_mut().find(|w| {
                        !private && !w.private && w.source == source && w.dtype == t.dtype
                    }) {
                        Some(w) => w.users.push(id),
                        None => weights.push(Weight {
                            source,
                            dtype: t.dtype,
                            bytes: gpu_bytes(id),
                            users: vec![id],
                            private,
                        }),
                    }
                }
                None => activations.push(id),
            }
        }
        let active: BTreeSet<ValueId> = activations.iter().copied().collect();
        let act_steps: Vec<Vec<ValueId>> = steps
            .iter()
            .map(|s| s.iter().copied().filter(|v| active.contains(v)).collect())
            .collect();
        let act_lifetimes = lifetimes(&act_steps, gpu_bytes);
        let align = ctx
            .caps()
            .min_storage_buffer_offset_alignment
            .max(GPU_ELEM_SIZE as u64);
        let arena = plan_arena(&act_lifetimes, align);
        let shared: Vec<(ValueId, Option<u32>, u64)> = activations
            .iter()
            .map(|&v| (v, tensor(v).mem_obj_id, gpu_bytes(v)))
            .collect();
        // What the exporter's shared objects need. Views that alias an activation have no
        // memory of their own in this build, but under shared objects they are copies with
        // objects of their own, so they count there.
        let mut shared_all = shared.clone();
        shared_all.extend(
            aliased_views
                .iter()
                .filter(|&&v| active.contains(&roots[v]))
                .filter_map(|&v| graph.tensor(v).map(|t| (v, t.mem_obj_id, gpu_bytes(v)))),
        );
        let shared_bytes = plan_shared_objects(&shared_all);
        let use_arena = match self.options.planner {
            Planner::Arena => true,
            Planner::SharedObjects => false,
            Planner::Auto => !self.options.legacy_order && arena.size <= shared_bytes,
        };
        if views_aliased && !use_arena {
            // Aliased views are only valid in the arena (see aliases_activations): build
            // again without them for the shared objects. Nothing is allocated yet.
            self.options.planner = Planner::SharedObjects;
            return self.load();
        }

        let mut buffers: Vec<Buffer> = Vec::new();
        let mut placements: BTreeMap<ValueId, Placement> = BTreeMap::new();
        let mut report = MemoryReport {
            weights_bytes: weights.iter().map(|w| w.bytes).sum(),
            activations_bytes: if use_arena { arena.size } else { shared_bytes },
            shared_objects_bytes: shared_bytes,
            arena_bytes: arena.size,
            used_arena: use_arena,
            staging_ring_bytes: 0,
            direct_weights: 0,
            legacy_order: self.options.legacy_order,
        };

        // 3 + 4. Weights, then activations (legacy: the other way round, everything early).
        let mut held_sources: Vec<HeldSource> = Vec::new();
        if self.options.legacy_order {
            // Legacy: every source fetched and every weight allocated at build...
            let mut sources = Vec::new();
            for w in &weights {
                let src = self.fetch(w)?;
                sources.push(src);
            }
            let first = buffers.len();
            for w in &weights {
                buffers.push(Buffer::new(
                    ctx,
                    acct,
                    w.bytes,
                    BufferKind::Device,
                    MemTag::Weight,
                )?);
            }
            // ...activations at prepare...
            acct.begin_phase("activations");
            self.allocate_activations(use_arena, &arena, &shared, &mut buffers, &mut placements)?;
            // ...then one staging buffer per weight during prepack.
            acct.begin_phase("prepack");
            let fence = Fence::new(ctx)?;
            let mut cmd = CommandBuffer::new(ctx)?;
            for (i, (w, src)) in weights.iter().zip(&sources).enumerate() {
                let mut staging =
                    Buffer::new(ctx, acct, w.bytes, BufferKind::Host, MemTag::Staging)?;
                report.staging_ring_bytes = report.staging_ring_bytes.max(staging.size());
                to_gpu(w.dtype, src.bytes(), staging.bytes_mut()?)?;
                cmd.begin(true)?;
                cmd.copy(staging.handle(), 0, buffers[first + i].handle(), 0, w.bytes);
                cmd.end()?;
                cmd.submit_and_wait(&fence)?;
                place_weight(w, first + i, &mut placements);
            }
            held_sources = sources;
        } else {
            acct.begin_phase("prepack");
            self.prepack(&weights, &mut buffers, &mut placements, &mut report)?;
            acct.begin_phase("activations");
            self.allocate_activations(use_arena, &arena, &shared, &mut buffers, &mut placements)?;
        }

        // 5. Ready: I/O transfer buffers, parameters, descriptors, the recorded command buffer.
        acct.begin_phase("ready");
        let make_io = |id: ValueId| -> Result<Io> {
            let t = tensor(id);
            let in_place = placements
                .get(&roots[id])
                .is_some_and(|p| buffers[p.buffer].is_mapped());
            let host = if in_place {
                None
            } else {
                Some(Buffer::new(
                    ctx,
                    acct,
                    gpu_bytes(id),
                    BufferKind::Host,
                    MemTag::Io,
                )?)
            };
            let read_on_host = host_read.contains(&id);
            Ok(Io {
                value: roots[id],
                read_on_host,
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
                    let io = make_io(id)?;
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
            .map(|&id| make_io(id))
            .collect::<Result<Vec<_>>>()?;
        // Equal to the bounds, except in data-dependent graphs built with zeros.
        for (io, sizes) in outputs.iter_mut().zip(&built.output_sizes) {
            io.sizes = sizes.clone();
        }
        let tensor_inputs: Vec<&Io> = inputs.iter().filter_map(InputSlot::io).collect();
        let recording = record(
            ctx,
            acct,
            dispatches,
            &placements,
            &buffers,
            &tensor_inputs,
            &outputs,
        )?;
        let fence = Fence::new(ctx)?;
        drop(held_sources);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        LIVE_REPORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, report.clone()));
        let roots = built.roots.clone();
        Ok(Delegate {
            recording,
            fence,
            inputs,
            outputs,
            recorded_for,
            placements,
            buffers,
            graph: graph.clone(),
            roots,
            alias_activations,
            id,
            report,
            accountant: acct.clone(),
            ctx: ctx.clone(),
        })
    }

    /// Whether view-like ops may share their input's memory: only when the lifetime arena plans
    /// the activations (the exporter's shared objects give every output memory of its own, and
    /// the legacy order always uses them).
    fn aliases_activations(&self) -> bool {
        match self.options.planner {
            Planner::Arena => true,
            Planner::SharedObjects => false,
            Planner::Auto => !self.options.legacy_order,
        }
    }

    /// Fetches a weight's source bytes, checks their size and accounts them while held.
    fn fetch(&self, w: &Weight) -> Result<HeldSource> {
        let data = fetch_constant(&w.source, self.blob, self.named)?;
        check_source_len(w, data.len())?;
        Ok(HeldSource::new(data, self.acct))
    }

    /// Lazy prepack: per weight, allocate right before packing, stream, release the source.
    fn prepack(
        &self,
        weights: &[Weight],
        buffers: &mut Vec<Buffer>,
        placements: &mut BTreeMap<ValueId, Placement>,
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
                    write_direct(src.bytes(), w.dtype, &mut buf)?;
                    buffers.push(buf);
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
                ring.as_mut()
                    .expect("created above")
                    .upload(src.bytes(), w.dtype, &buf)?;
                buffers.push(buf);
            }
            place_weight(w, buffers.len() - 1, placements);
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

    fn allocate_activations(
        &self,
        use_arena: bool,
        arena: &ArenaPlan,
        shared: &[(ValueId, Option<u32>, u64)],
        buffers: &mut Vec<Buffer>,
        placements: &mut BTreeMap<ValueId, Placement>,
    ) -> Result<()> {
        if shared.is_empty() {
            return Ok(());
        }
        if use_arena {
            buffers.push(self.activation_buffer(arena.size)?);
            let index = buffers.len() - 1;
            for &(v, _, bytes) in shared {
                placements.insert(
                    v,
                    Placement {
                        buffer: index,
                        offset: arena.offsets[&v],
                        size: bytes.max(4),
                    },
                );
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
            buffers.push(self.activation_buffer(bytes)?);
            object_buffer.insert(o, buffers.len() - 1);
        }
        for &(v, obj, bytes) in shared {
            let index = match obj {
                Some(o) => object_buffer[&o],
                None => {
                    buffers.push(self.activation_buffer(bytes)?);
                    buffers.len() - 1
                }
            };
            placements.insert(
                v,
                Placement {
                    buffer: index,
                    offset: 0,
                    size: bytes.max(4),
                },
            );
        }
        Ok(())
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

/// Values whose elements ops read on the host while the graph is built: the tensor argument
/// of every `et_vk.select_as_symint`.
fn host_read_values(graph: &Graph) -> BTreeSet<ValueId> {
    graph
        .chain
        .iter()
        .filter(|op| op.name.contains("select_as_symint"))
        .filter_map(|op| op.args.first().copied())
        .collect()
}

/// Returns freed heap pages to the OS (glibc); elsewhere a no-op.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn place_weight(w: &Weight, buffer: usize, placements: &mut BTreeMap<ValueId, Placement>) {
    for &u in &w.users {
        placements.insert(
            u,
            Placement {
                buffer,
                offset: 0,
                size: w.bytes.max(4),
            },
        );
    }
}

fn describe(source: &ConstantSource) -> String {
    match source {
        ConstantSource::Inline { offset, .. } => format!("at blob offset {offset}"),
        ConstantSource::Named { key } => format!("'{key}'"),
    }
}

/// What running every op's builder produced.
struct Built {
    dispatches: Vec<Dispatch>,
    /// Per value, the value whose memory it uses.
    roots: Vec<ValueId>,
    /// Sizes of each graph output.
    output_sizes: Vec<Vec<usize>>,
    /// Roots written in place by a dispatch (never shared with another constant).
    written: BTreeSet<ValueId>,
}

/// Runs every op's builder in chain order.
/// A constant's source must hold exactly the weight's elements in its dtype.
fn check_source_len(w: &Weight, len: usize) -> Result<()> {
    let want = (w.bytes as usize / GPU_ELEM_SIZE) * w.dtype.size();
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

/// Per chain op, the memory (alias roots) of every tensor among its arguments, lists included.
fn chain_tensor_steps(graph: &Graph, roots: &[ValueId]) -> Vec<Vec<ValueId>> {
    let tensor_root = |id: ValueId| graph.tensor(id).map(|_| roots[id]);
    graph
        .chain
        .iter()
        .map(|call| {
            let mut step = Vec::new();
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

fn run_ops(graph: &Graph, mut builder: OpBuilder) -> Result<Built> {
    for (index, call) in graph.chain.iter().enumerate() {
        builder.begin_op(index, &call.name);
        let build = crate::ops::lookup(&call.name).ok_or_else(|| {
            Error::new(
                ErrorKind::OperatorMissing,
                format!(
                    "op #{index}: operator '{}' is not supported by etvk",
                    call.name
                ),
            )
        })?;
        build(&mut builder, &call.args)?;
    }
    let written = builder.written().clone();
    let output_sizes = graph
        .output_ids
        .iter()
        .map(|&id| {
            builder
                .sizes_of(id)
                .map(<[usize]>::to_vec)
                .unwrap_or_default()
        })
        .collect();
    let (dispatches, roots) = builder.into_parts();
    Ok(Built {
        dispatches,
        roots,
        output_sizes,
        written,
    })
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

impl InputSlot {
    fn io(&self) -> Option<&Io> {
        match self {
            InputSlot::Tensor(io) => Some(io),
            InputSlot::Int => None,
        }
    }
}

/// Records the graph once: inputs in (at their current sizes), every dispatch, outputs out.
fn record(
    ctx: &Arc<Context>,
    acct: &Arc<Accountant>,
    dispatches: &[Dispatch],
    placements: &BTreeMap<ValueId, Placement>,
    buffers: &[Buffer],
    inputs: &[&Io],
    outputs: &[Io],
) -> Result<Recording> {
    let (params, offsets) = pack_params(ctx, acct, dispatches)?;
    let n_bindings: u32 = dispatches
        .iter()
        .map(|d| d.tensors.len() as u32 + !params_in_push_constants(d) as u32)
        .sum::<u32>()
        .max(1);
    let descriptors = DescriptorPool::new(ctx, dispatches.len() as u32, n_bindings)?;
    let mut command = CommandBuffer::new(ctx)?;
    let range = |id: ValueId| -> Result<BufferRange> {
        let p = placements
            .get(&id)
            .ok_or_else(|| Error::internal(format!("value {id} has no memory")))?;
        Ok(BufferRange {
            buffer: buffers[p.buffer].handle(),
            offset: p.offset,
            size: p.size,
        })
    };
    let io_bytes = |io: &Io| (io.sizes.iter().product::<usize>() * GPU_ELEM_SIZE) as u64;
    command.begin(false)?;
    for io in inputs {
        let r = range(io.value)?;
        let bytes = io_bytes(io).min(r.size);
        if let (Some(host), true) = (&io.host, bytes > 0) {
            command.copy(host.handle(), 0, r.buffer, r.offset, bytes);
        }
    }
    command.full_barrier();
    let max_groups = ctx.caps().max_compute_work_group_count;
    for (d, off) in dispatches.iter().zip(&offsets) {
        let work = d.work_items();
        if work == 0 {
            continue;
        }
        let mut ranges = Vec::with_capacity(d.tensors.len() + 1);
        let push_params: &[i32] = match (off, &params) {
            (Some(off), Some(params)) => {
                ranges.push(BufferRange {
                    buffer: params.handle(),
                    offset: *off,
                    size: (d.params.len() * 4) as u64,
                });
                &[]
            }
            _ => &d.params,
        };
        let pipeline = ctx.pipeline(
            d.shader,
            d.variant,
            d.tensors.len() as u32,
            !push_params.is_empty(),
        )?;
        for &t in &d.tensors {
            ranges.push(range(t)?);
        }
        let set = descriptors.allocate(&pipeline, &ranges)?;
        let groups = work.div_ceil(WORKGROUP_SIZE as u64);
        let gx = groups.min(max_groups[0] as u64);
        let gy = groups.div_ceil(gx);
        if gy > max_groups[1] as u64 {
            return Err(Error::new(
                ErrorKind::OutOfResources,
                format!(
                    "op #{}: {work} work items exceed the device's dispatch limits",
                    d.op_index
                ),
            ));
        }
        command.dispatch(&pipeline, set, push_params, [gx as u32, gy as u32, 1]);
        command.full_barrier();
    }
    for io in outputs {
        let r = range(io.value)?;
        let bytes = io_bytes(io).min(r.size);
        if let (Some(host), true) = (&io.host, bytes > 0) {
            command.copy(r.buffer, r.offset, host.handle(), 0, bytes);
        }
    }
    command.full_barrier();
    command.end()?;
    Ok(Recording {
        command,
        _descriptors: descriptors,
        _params: params,
    })
}

/// Packs every dispatch's parameters into one host buffer at aligned offsets.
fn pack_params(
    ctx: &Arc<Context>,
    acct: &Arc<Accountant>,
    dispatches: &[Dispatch],
) -> Result<(Option<Buffer>, Vec<Option<u64>>)> {
    let align = ctx.caps().min_storage_buffer_offset_alignment.max(4);
    let mut offsets = Vec::with_capacity(dispatches.len());
    let mut total = 0u64;
    for d in dispatches {
        if params_in_push_constants(d) {
            offsets.push(None);
            continue;
        }
        offsets.push(Some(total));
        total = (total + (d.params.len() * 4) as u64).div_ceil(align) * align;
    }
    if total == 0 {
        return Ok((None, offsets));
    }
    let mut params = Buffer::new(ctx, acct, total, BufferKind::Host, MemTag::Params)?;
    let bytes = params.bytes_mut()?;
    for (d, off) in dispatches.iter().zip(&offsets) {
        let Some(off) = off else { continue };
        for (k, v) in d.params.iter().enumerate() {
            let at = *off as usize + k * 4;
            bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    Ok((Some(params), offsets))
}

/// Params of up to 128 bytes travel as push constants (no memory); larger ones in a buffer.
fn params_in_push_constants(d: &Dispatch) -> bool {
    d.params.len() <= PUSH_PARAM_INTS
}

/// Fetches a constant's bytes: from the blob, or from the NamedDataMap.
fn fetch_constant(
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

/// Device limits that must hold before anything is dispatched.
fn check_limits(ctx: &Context, graph: &Graph, dispatches: &[Dispatch]) -> Result<()> {
    let caps = ctx.caps();
    for d in dispatches {
        if d.tensors.len() as u32 + 1 > caps.max_per_stage_storage_buffers {
            return Err(Error::new(
                ErrorKind::OutOfResources,
                format!(
                    "op #{}: {} storage buffers exceed the device limit {}",
                    d.op_index,
                    d.tensors.len() + 1,
                    caps.max_per_stage_storage_buffers
                ),
            ));
        }
        for &t in &d.tensors {
            let bytes = graph
                .tensor(t)
                .map(|t| t.numel() * GPU_ELEM_SIZE)
                .unwrap_or(0) as u64;
            if bytes > caps.max_storage_buffer_range as u64 {
                return Err(Error::new(
                    ErrorKind::OutOfResources,
                    format!(
                        "op #{}: tensor value {t} needs {bytes} bytes, above the device's maxStorageBufferRange {}",
                        d.op_index, caps.max_storage_buffer_range
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Ok when a Vulkan device with compute support can be opened, else why not. Checked once per
/// process (ExecuTorch asks before every delegate's init); the reason is kept for its log.
pub fn availability() -> Result<()> {
    static AVAILABLE: std::sync::OnceLock<Result<()>> = std::sync::OnceLock::new();
    AVAILABLE
        .get_or_init(|| Context::shared().map(|_| ()))
        .clone()
}

/// True when [`availability`] is Ok.
pub fn is_available() -> bool {
    availability().is_ok()
}
