//! One loaded delegate: executing it (re-recording for smaller dynamic inputs), reading its
//! outputs, its memory figures and per-dispatch profile. `init` runs in phases in
//! [`loader`](super::loader).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::format::{DType, Graph, ValueId};
use crate::gpu::memory::Accountant;
use crate::gpu::{Buffer, Context, Fence, MemoryStats};
use crate::graph::{self, fits_bound, BuiltGraph, Dispatch, RuntimeInput, Slot};
use crate::runtime::convert::{from_gpu, to_gpu, GPU_ELEM_SIZE};
use crate::runtime::host_timing::{HostTiming, Phase};
use crate::runtime::limits::check_limits;
use crate::runtime::load_options::LoadOptions;
use crate::runtime::loader::Loader;
use crate::runtime::record::{record, DispatchTiming, Recording, TensorMemory, Transfer};
use crate::runtime::resident::Resident;
use crate::runtime::{CompileSpecs, HostTensor, InputValue, NamedData};

/// A tensor input or output of the graph together with its host transfer buffer.
pub(super) struct Io {
    /// The root value whose device memory holds it.
    pub value: ValueId,
    /// The dtype at the delegate boundary.
    pub boundary_dtype: DType,
    pub gpu_float: bool,
    /// The serialized sizes (upper bounds for dynamic shapes).
    pub bound_sizes: Vec<usize>,
    /// The sizes of the current recording.
    pub sizes: Vec<usize>,
    /// The graph reads this input's elements on the host (`et_vk.select_as_symint`), so a
    /// change of its values re-records the graph.
    pub read_on_host: bool,
    /// Host transfer buffer; `None` when the tensor's device memory is host-visible (unified
    /// memory), where inputs are written and outputs read in place.
    pub host: Option<Buffer>,
}

/// One delegate input: a tensor with its transfer buffer, or a symbolic int.
pub(super) enum InputSlot {
    Tensor(Io),
    Int,
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
pub(super) static LIVE_REPORTS: Mutex<Vec<(u64, MemoryReport)>> = Mutex::new(Vec::new());
pub(super) static NEXT_ID: AtomicU64 = AtomicU64::new(0);

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

/// One dispatch of the last execute, as `etvk_run --profile` and ETDump report it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    /// The chain entry (operator call) that recorded the dispatch, and its node id.
    pub op_index: usize,
    pub node_id: i64,
    pub op_name: String,
    /// The shader.
    pub kernel: &'static str,
    /// Sizes of the tensors it binds.
    pub shapes: Vec<Vec<usize>>,
    /// GPU timestamps around the dispatch (ns, on the device's clock).
    pub start_ns: u64,
    pub end_ns: u64,
    /// Its own time: from the later of its start and the previous dispatch's end to its end.
    pub busy_ns: u64,
    /// Floating-point operations (0 where not counted) and bytes it binds.
    pub flops: u64,
    pub bytes: u64,
}

/// Environment variable: `1` makes every delegate record per-dispatch timings.
pub const PROFILE_ENV: &str = "ETVK_PROFILE";

/// Delegates created from now on profile (see [`Delegate::set_profiling`]).
static PROFILE_BY_DEFAULT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The last execute's profile of every live delegate that profiles, by delegate id.
static LAST_PROFILES: Mutex<Vec<(u64, Vec<ProfileEntry>)>> = Mutex::new(Vec::new());

/// The last execute's profile of every live, profiling delegate, oldest delegate first.
pub fn process_profile() -> Vec<ProfileEntry> {
    let mut all = LAST_PROFILES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    all.sort_by_key(|(id, _)| *id);
    all.into_iter().flat_map(|(_, e)| e).collect()
}

/// Makes delegates created from now on record per-dispatch timings (or not).
pub fn set_profiling_by_default(on: bool) {
    PROFILE_BY_DEFAULT.store(on, Ordering::Relaxed);
}

pub(super) fn profiling_by_default() -> bool {
    PROFILE_BY_DEFAULT.load(Ordering::Relaxed) || std::env::var(PROFILE_ENV).is_ok_and(|v| v == "1")
}

/// A delegate ready to execute. Dropping it releases every GPU resource it holds.
pub struct Delegate {
    // Field order is drop order: GPU objects go before the context they came from.
    pub(super) recording: Recording,
    pub(super) fence: Fence,
    /// The last submission may still run: its wait failed (a timeout). Waited for before the
    /// next submission, a new recording, or destruction.
    pub(super) in_flight: bool,
    pub(super) inputs: Vec<InputSlot>,
    pub(super) outputs: Vec<Io>,
    /// What the current recording was built for, per input.
    pub(super) recorded_for: Vec<RuntimeInput>,
    pub(super) memory: Resident,
    pub(super) graph: Graph,
    pub(super) roots: Vec<ValueId>,
    /// The builder setting init used; a resize must alias the same values.
    pub(super) alias_activations: bool,
    /// Tensors init placed inside their concatenations, at the program's sizes: other sizes
    /// would need another memory plan.
    pub(super) slots: Vec<Slot>,
    /// The chain ops whose dispatch took over a pool or an upsampling at init; a resize must
    /// make the same fusions, which the memory plan was made for.
    pub(super) fusions: Vec<usize>,
    /// The build setting init used (no dynamic shapes asked for).
    pub(super) static_sizes: bool,
    /// The recording writes a timestamp pair per dispatch; `last_timings` holds the last
    /// execute's.
    pub(super) profiling: bool,
    pub(super) last_timings: Vec<DispatchTiming>,
    /// Host-side phases of each execute (`ETVK_HOST_TIMING=1`).
    pub(super) host_timing: Mutex<HostTiming>,
    pub(super) id: u64,
    pub(super) report: MemoryReport,
    pub(super) accountant: Arc<Accountant>,
    pub(super) ctx: Arc<Context>,
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

    /// Records the graph again with (or without) a timestamp pair per dispatch; the timings
    /// of each later execute are then in [`profile`](Self::profile).
    pub fn set_profiling(&mut self, on: bool) -> Result<()> {
        if on == self.profiling {
            return Ok(());
        }
        let previous = self.profiling;
        self.profiling = on;
        let runtime = self.recorded_for.clone();
        self.recorded_for.clear();
        if let Err(e) = self.resize(runtime.clone()) {
            self.profiling = previous;
            self.recorded_for = runtime;
            return Err(e);
        }
        self.last_timings.clear();
        Ok(())
    }

    /// Whether executes record per-dispatch timings.
    pub fn profiling(&self) -> bool {
        self.profiling
    }

    /// Per-dispatch GPU timings of the last execute, in order (empty unless profiling).
    pub fn profile(&self) -> Vec<ProfileEntry> {
        let mut previous_end = None;
        self.last_timings
            .iter()
            .map(|t| {
                let call = self.graph.chain.get(t.dispatch.op_index);
                let busy = t.busy_ns(previous_end);
                previous_end = Some(previous_end.map_or(t.end_ns, |p: u64| p.max(t.end_ns)));
                ProfileEntry {
                    op_index: t.dispatch.op_index,
                    node_id: call.map_or(-1, |c| c.node_id as i64),
                    op_name: call.map_or_else(String::new, |c| c.name.clone()),
                    kernel: t.dispatch.kernel,
                    shapes: t.dispatch.shapes.clone(),
                    start_ns: t.start_ns,
                    end_ns: t.end_ns,
                    busy_ns: busy,
                    flops: t.dispatch.flops,
                    bytes: t.dispatch.bytes,
                }
            })
            .collect()
    }

    /// Dispatches and barriers in the current recording (barriers only where a dispatch
    /// depends on an earlier one).
    pub fn recording_stats(&self) -> (usize, usize) {
        (self.recording.dispatches, self.recording.barriers)
    }

    /// The shader of every dispatch in the current recording, in order (tests check which
    /// kernels a graph got).
    #[cfg(feature = "test-support")]
    pub fn recorded_shaders(&self) -> Result<Vec<&'static str>> {
        let built = self.rebuild(&self.recorded_for)?;
        Ok(built
            .dispatches
            .iter()
            .filter(|d| d.work_items() > 0)
            .map(|d| d.kernel.shader.name)
            .collect())
    }

    /// The device this delegate runs on.
    pub fn device_name(&self) -> &str {
        &self.ctx.caps().device_name
    }

    /// Runs the graph on `inputs` (in `input_ids` order). Outputs stay on the device until read.
    /// Tensors of other sizes than the serialized bounds (dynamic shapes; ExecuTorch bounds
    /// them by element count) re-record the graph for their sizes; memory stays as planned.
    pub fn execute(&mut self, inputs: &[InputValue]) -> Result<()> {
        self.ctx.check_not_lost()?;
        self.settle()?;
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
        let timing = self
            .host_timing
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        timing.start();
        for (slot, input) in self.inputs.iter_mut().zip(inputs) {
            if let (InputSlot::Tensor(io), InputValue::Tensor(t)) = (slot, input) {
                let dst = match io.host.as_mut() {
                    Some(host) => host.bytes_mut()?,
                    None => self.memory.bytes_mut(io.value)?,
                };
                to_gpu(t.dtype, &t.data, dst)?;
            }
        }
        timing.end(Phase::Inputs);
        self.recording.command.submit(&self.fence)?;
        timing.end(Phase::Submit);
        if let Err(e) = self.fence.wait() {
            self.in_flight = true;
            return Err(e);
        }
        timing.end(Phase::Wait);
        if self.profiling {
            self.last_timings = self.recording.timings()?;
            let entries = self.profile();
            let mut all = LAST_PROFILES.lock().unwrap_or_else(|e| e.into_inner());
            all.retain(|(id, _)| *id != self.id);
            all.push((self.id, entries));
        }
        self.ctx.check_validation("execute")
    }

    /// Runs every op's builder for `runtime` (one entry per graph input).
    fn rebuild(&self, runtime: &[RuntimeInput]) -> Result<BuiltGraph> {
        let pairs: Vec<(ValueId, RuntimeInput)> = self
            .graph
            .input_ids
            .iter()
            .copied()
            .zip(runtime.iter().cloned())
            .collect();
        graph::build(
            &self.graph,
            self.ctx.caps(),
            Some(&pairs),
            self.alias_activations,
            self.static_sizes,
        )
    }

    /// Waits for a submission whose wait failed before, if any.
    fn settle(&mut self) -> Result<()> {
        if self.in_flight {
            self.fence.wait()?;
            self.in_flight = false;
        }
        Ok(())
    }

    /// Re-runs every op's builder for new input sizes and records the graph again.
    fn resize(&mut self, runtime: Vec<RuntimeInput>) -> Result<()> {
        self.settle()?;
        let ctx = self.ctx.clone();
        if !self.slots.is_empty() {
            return Err(Error::invalid_argument(
                "this program runs at its serialized input sizes only: its memory plan \
                 places concatenated tensors inside their concatenation",
            ));
        }
        let built = self.rebuild(&runtime)?;
        if built.fusions != self.fusions {
            return Err(Error::invalid_argument(format!(
                "these input sizes change which ops the program fuses (at load: ops {:?}, now \
                 {:?}); its memory plan holds for the fusions made at load only",
                self.fusions, built.fusions
            )));
        }
        if built.roots != self.roots || built.metas != self.memory.metas {
            let metas = &self.memory.metas;
            let first = (0..built.metas.len().max(metas.len())).find(|&i| {
                built.metas.get(i) != metas.get(i) || built.roots.get(i) != self.roots.get(i)
            });
            return Err(Error::internal(format!(
                "a resize changed which values share memory or how they are laid out \
                 (first at value {first:?}: {:?} was {:?})",
                first.and_then(|i| built.metas.get(i)),
                first.and_then(|i| metas.get(i))
            )));
        }
        check_limits(ctx.caps(), &built)?;
        // Inputs are bounded by element count, so a dim may exceed its serialized size:
        // every tensor a dispatch binds must still fit the memory planned for it.
        for d in &built.dispatches {
            for (&t, shape) in d.tensors.iter().zip(&d.shapes) {
                let Some(meta) = built.meta(t) else { continue };
                let need = meta.layout.stored_elements(shape) * meta.elem.bytes();
                let have = self.memory.placement(t)?.size as usize;
                if need > have {
                    return Err(Error::invalid_argument(format!(
                        "op #{}: value {t} needs {need} bytes at sizes {shape:?}, {have} are \
                         planned for it",
                        d.op_index
                    )));
                }
            }
        }
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
        let recording = record_graph(
            &ctx,
            &self.accountant,
            &built.dispatches,
            &self.memory,
            (&tensor_inputs, &self.outputs),
            self.profiling,
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
    #[cfg(feature = "test-support")]
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
                self.memory
                    .metas
                    .get(l.value)
                    .and_then(Option::as_ref)
                    .is_some_and(|m| !m.is_constant())
            })
            .collect();
        let mut found = Vec::new();
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                let (Some(pa), Some(pb)) = (
                    self.memory.placements.get(&a.value),
                    self.memory.placements.get(&b.value),
                ) else {
                    found.push(format!("value {} or {} has no memory", a.value, b.value));
                    continue;
                };
                // A tensor in its concatenation's slice shares its bytes by design.
                let slotted = self.slots.iter().any(|s| {
                    (s.inner, s.outer) == (a.value, b.value)
                        || (s.inner, s.outer) == (b.value, a.value)
                });
                let share = pa.buffer == pb.buffer
                    && pa.offset < pb.offset + pb.size
                    && pb.offset < pa.offset + pa.size
                    && !slotted;
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
        let mut timing = self.host_timing.lock().unwrap_or_else(|e| e.into_inner());
        timing.begin_outputs();
        let src = match io.host.as_ref() {
            Some(host) => host.bytes()?,
            None => self.memory.bytes(io.value)?,
        };
        from_gpu(io.gpu_float, &src[..n * GPU_ELEM_SIZE], dtype, dst)?;
        timing.end(Phase::Outputs);
        Ok(())
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
        // Nothing is pending (init and execute wait for their submissions) unless a wait
        // failed: the GPU must be done with the recording before it is freed. A lost device
        // answers at once.
        if self.in_flight {
            let _ = self.fence.wait();
        }
        LIVE_REPORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.id);
        LAST_PROFILES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

/// Records `dispatches` with the I/O transfers of `inputs` and `outputs` at their current sizes.
pub(super) fn record_graph(
    ctx: &Arc<Context>,
    acct: &Arc<Accountant>,
    dispatches: &[Dispatch],
    memory: &Resident,
    (inputs, outputs): (&[&Io], &[Io]),
    profile: bool,
) -> Result<Recording> {
    // Inputs and outputs cross as 32-bit words at their current sizes.
    let ins = transfers(memory, inputs.iter().copied())?;
    let outs = transfers(memory, outputs.iter())?;
    record(ctx, acct, dispatches, memory, &ins, &outs, profile)
}

/// The host copies of `ios` (those with a transfer buffer).
fn transfers<'a>(
    memory: &Resident,
    ios: impl Iterator<Item = &'a Io>,
) -> Result<Vec<Transfer<'a>>> {
    let mut v = Vec::new();
    for io in ios {
        let Some(host) = io.host.as_ref() else {
            continue;
        };
        let device = memory.range(io.value)?;
        let bytes = ((io.sizes.iter().product::<usize>() * GPU_ELEM_SIZE) as u64).min(device.size);
        v.push(Transfer {
            host,
            device,
            bytes,
        });
    }
    Ok(v)
}

impl InputSlot {
    pub(super) fn io(&self) -> Option<&Io> {
        match self {
            InputSlot::Tensor(io) => Some(io),
            InputSlot::Int => None,
        }
    }
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
