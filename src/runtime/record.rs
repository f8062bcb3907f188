//! Recording a built graph into one command buffer: input copies, every dispatch with its
//! parameters (push constants, or one shared parameter buffer for structs over 128 bytes),
//! descriptors and pipeline, and output copies. Barriers come from real hazards: a dispatch
//! that reads what an earlier one wrote, or writes what an earlier one read or wrote, since
//! the last barrier, gets one; independent dispatches run without.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::ValueId;
use crate::gpu::memory::Accountant;
use crate::gpu::{
    Bound, Buffer, BufferKind, BufferRange, BufferView, CommandBuffer, Context, DescriptorPool,
    MemTag, PipelineKey, TimestampPool,
};
use crate::graph::Dispatch;
use crate::kernels::{BindingKind, Elem};
use crate::runtime::limits::{pushes_params, workgroups};

/// Where recorded tensors live and how they are stored.
pub trait TensorMemory {
    /// The buffer range value `id` (an alias root) occupies.
    fn range(&self, id: ValueId) -> Result<BufferRange>;
    /// How its elements are stored.
    fn elem(&self, id: ValueId) -> Elem;
}

/// One copy between a host transfer buffer and a tensor's device memory.
pub struct Transfer<'a> {
    pub host: &'a Buffer,
    pub device: BufferRange,
    pub bytes: u64,
}

/// The recorded work for one set of input sizes: parameters, descriptors, command buffer.
pub struct Recording {
    pub command: CommandBuffer,
    _descriptors: DescriptorPool,
    _views: Vec<BufferView>,
    _params: Option<Buffer>,
    /// Dispatches recorded (those with work).
    pub dispatches: usize,
    /// Barriers recorded between dispatches (hazards found).
    pub barriers: usize,
    /// With profiling: a start and an end timestamp per dispatch, and what each dispatch was.
    pub timestamps: Option<TimestampPool>,
    pub profiled: Vec<ProfiledDispatch>,
}

/// What the profile reports of one recorded dispatch.
#[derive(Debug, Clone)]
pub struct ProfiledDispatch {
    pub op_index: usize,
    pub kernel: &'static str,
    pub flops: u64,
    /// Bytes of every bound tensor range (what it may read and write).
    pub bytes: u64,
    pub shapes: Vec<Vec<usize>>,
}

/// Buffer ranges touched since the last barrier.
#[derive(Default)]
struct Hazards {
    reads: Vec<BufferRange>,
    writes: Vec<BufferRange>,
}

fn overlap(a: &BufferRange, b: &BufferRange) -> bool {
    a.buffer == b.buffer && a.offset < b.offset + b.size && b.offset < a.offset + a.size
}

impl Hazards {
    /// Whether a dispatch reading `reads` and writing `writes` depends on what ran since the
    /// last barrier: read after write, write after read, or write after write.
    fn conflict(&self, reads: &[BufferRange], writes: &[BufferRange]) -> bool {
        let hits = |set: &[BufferRange], r: &BufferRange| set.iter().any(|s| overlap(s, r));
        reads.iter().any(|r| hits(&self.writes, r))
            || writes
                .iter()
                .any(|w| hits(&self.writes, w) || hits(&self.reads, w))
    }

    fn clear(&mut self) {
        self.reads.clear();
        self.writes.clear();
    }
}

/// Records the graph once: `inputs` copied in, every dispatch, `outputs` copied out.
pub fn record(
    ctx: &Arc<Context>,
    acct: &Arc<Accountant>,
    dispatches: &[Dispatch],
    memory: &dyn TensorMemory,
    inputs: &[Transfer],
    outputs: &[Transfer],
    profile: bool,
) -> Result<Recording> {
    let dispatches: Vec<&Dispatch> = dispatches.iter().filter(|d| d.work_items() > 0).collect();
    let (params, offsets) = pack_params(ctx, acct, &dispatches)?;
    let n_texels: u32 = dispatches
        .iter()
        .map(|d| d.kernel.texel_mask().count_ones())
        .sum();
    let n_buffers: u32 = dispatches
        .iter()
        .zip(&offsets)
        .map(|(d, off)| d.tensors.len() as u32 + off.is_some() as u32)
        .sum::<u32>()
        - n_texels;
    let descriptors = DescriptorPool::new(ctx, dispatches.len() as u32, n_buffers, n_texels)?;
    let mut views = Vec::with_capacity(n_texels as usize);
    let mut command = CommandBuffer::new(ctx)?;
    let timestamps = if profile {
        Some(TimestampPool::new(ctx, 2 * dispatches.len() as u32)?)
    } else {
        None
    };
    let mut profiled = Vec::new();
    command.begin(false)?;
    if let Some(pool) = &timestamps {
        command.reset_queries(pool);
    }
    let copies_in: Vec<&Transfer> = inputs.iter().filter(|t| t.bytes > 0).collect();
    for t in &copies_in {
        command.copy(
            t.host.handle(),
            0,
            t.device.buffer,
            t.device.offset,
            t.bytes,
        );
    }
    // Host writes before the submission are visible to it without a barrier; copies are not.
    if !copies_in.is_empty() {
        command.full_barrier();
    }
    let mut hazards = Hazards::default();
    let mut barriers = 0;
    for (d, off) in dispatches.iter().zip(&offsets) {
        let mut bound = Vec::with_capacity(d.tensors.len() + 1);
        if let (Some(off), Some(params)) = (off, &params) {
            bound.push(Bound::Buffer(BufferRange {
                buffer: params.handle(),
                offset: *off,
                size: (d.params.len() * 4) as u64,
            }));
        }
        let (mut reads, mut writes, mut tensor_bytes) = (Vec::new(), Vec::new(), 0);
        for (i, &t) in d.tensors.iter().enumerate() {
            let r = memory.range(t)?;
            if d.access(i).reads() {
                reads.push(r);
            }
            if d.access(i).writes() {
                writes.push(r);
            }
            tensor_bytes += r.size;
            if d.kernel.bindings[i].kind == BindingKind::Texels {
                let half = memory.elem(t) == Elem::F16;
                let texel_bytes = if half { 8 } else { 16 };
                if r.size % texel_bytes != 0 || r.offset % ctx.caps().tensor_alignment() != 0 {
                    return Err(Error::internal(format!(
                        "op #{}: value {t} ({} bytes at {}) cannot be read as whole texels",
                        d.op_index, r.size, r.offset
                    )));
                }
                let view = BufferView::new(ctx, r.buffer, r.offset, r.size, half)?;
                bound.push(Bound::Texels(view.handle()));
                views.push(view);
            } else {
                bound.push(Bound::Buffer(r));
            }
        }
        if hazards.conflict(&reads, &writes) {
            command.compute_barrier();
            hazards.clear();
            barriers += 1;
        }
        hazards.reads.extend(reads);
        hazards.writes.extend(writes);

        let push = off.is_none();
        let mut spec = d.grid.local().to_vec();
        spec.extend_from_slice(&d.spec);
        let key = PipelineKey {
            shader: d.kernel.shader.name,
            variant: d.variant,
            tensor_bindings: d.tensors.len() as u32,
            texel_mask: d.kernel.texel_mask(),
            push_bytes: if push { (d.params.len() * 4) as u32 } else { 0 },
            spec,
        };
        let pipeline = ctx.pipeline(d.kernel.shader, key)?;
        let set = descriptors.allocate(&pipeline, &bound)?;
        let groups = workgroups(ctx.caps(), d)?;
        let push_words: &[u32] = if push { &d.params } else { &[] };
        let index = 2 * profiled.len() as u32;
        if let Some(pool) = &timestamps {
            command.timestamp(pool, index, false);
        }
        command.dispatch(&pipeline, set, push_words, groups);
        if let Some(pool) = &timestamps {
            command.timestamp(pool, index + 1, true);
            profiled.push(ProfiledDispatch {
                op_index: d.op_index,
                kernel: d.kernel.shader.name,
                flops: d.flops,
                bytes: tensor_bytes,
                shapes: d.shapes.clone(),
            });
        }
    }
    command.full_barrier();
    for t in outputs.iter().filter(|t| t.bytes > 0) {
        command.copy(
            t.device.buffer,
            t.device.offset,
            t.host.handle(),
            0,
            t.bytes,
        );
    }
    command.full_barrier();
    command.end()?;
    Ok(Recording {
        command,
        _descriptors: descriptors,
        _views: views,
        _params: params,
        dispatches: dispatches.len(),
        barriers,
        timestamps,
        profiled,
    })
}

/// Packs the params of every dispatch that does not push them into one host buffer at aligned
/// offsets (one entry per dispatch: `None` when pushed).
fn pack_params(
    ctx: &Arc<Context>,
    acct: &Arc<Accountant>,
    dispatches: &[&Dispatch],
) -> Result<(Option<Buffer>, Vec<Option<u64>>)> {
    let align = ctx.caps().min_storage_buffer_offset_alignment.max(4);
    let mut offsets = Vec::with_capacity(dispatches.len());
    let mut total = 0u64;
    for d in dispatches {
        if pushes_params(ctx.caps(), d) {
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

/// One dispatch's GPU time in the last execute.
#[derive(Debug, Clone)]
pub struct DispatchTiming {
    pub dispatch: ProfiledDispatch,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl DispatchTiming {
    /// The dispatch's own time: from the later of its start and the previous dispatch's end
    /// (dependent dispatches wait for their producer) to its end.
    pub fn busy_ns(&self, previous_end: Option<u64>) -> u64 {
        let from = previous_end.map_or(self.start_ns, |p| p.max(self.start_ns));
        self.end_ns.saturating_sub(from)
    }
}

impl Recording {
    /// Per-dispatch timings of the last completed submission (empty without profiling).
    pub fn timings(&self) -> Result<Vec<DispatchTiming>> {
        let Some(pool) = &self.timestamps else {
            return Ok(Vec::new());
        };
        let ns = pool.read_ns()?;
        Ok(self
            .profiled
            .iter()
            .enumerate()
            .map(|(k, d)| DispatchTiming {
                dispatch: d.clone(),
                start_ns: ns[2 * k],
                end_ns: ns[2 * k + 1],
            })
            .collect())
    }
}
