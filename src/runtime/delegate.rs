//! One loaded delegate: init (parse → build → allocate → upload constants → record) and
//! execute (inputs in, one submission, outputs back).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{ConstantSource, DType, Graph, Value, ValueId};
use crate::gpu::memory::Accountant;
use crate::gpu::shaders::WORKGROUP_SIZE;
use crate::gpu::{
    Buffer, BufferKind, BufferRange, CommandBuffer, Context, DescriptorPool, Fence, MemTag,
    MemoryStats,
};
use crate::runtime::builder::{Dispatch, OpBuilder};
use crate::runtime::convert::{from_gpu, to_gpu, GPU_ELEM_SIZE};
use crate::runtime::{CompileSpecs, HostTensor, InputValue, NamedData};

/// A graph input or output together with its host transfer buffer.
struct Io {
    value: ValueId,
    /// The dtype at the delegate boundary.
    boundary_dtype: DType,
    gpu_float: bool,
    sizes: Vec<usize>,
    host: Buffer,
}

/// A delegate ready to execute. Dropping it releases every GPU resource it holds.
pub struct Delegate {
    // Field order is drop order: GPU objects go before the context they came from.
    command: CommandBuffer,
    fence: Fence,
    _descriptors: DescriptorPool,
    _params: Buffer,
    inputs: Vec<Io>,
    outputs: Vec<Io>,
    _tensors: Vec<Option<Buffer>>,
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
        _specs: &CompileSpecs,
    ) -> Result<Self> {
        let ctx = Context::shared()?;
        ctx.take_validation_errors();
        let accountant = Arc::new(Accountant::default());

        // Build: every op checks its arguments and records its dispatches.
        let mut builder = OpBuilder::new(&graph, ctx.caps());
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
        let dispatches = builder.into_dispatches();
        check_limits(&ctx, &graph, &dispatches)?;

        // Allocate a device buffer for every tensor that is used.
        let mut used: BTreeSet<ValueId> = dispatches
            .iter()
            .flat_map(|d| d.tensors.iter().copied())
            .collect();
        for &id in graph.input_ids.iter().chain(&graph.output_ids) {
            match graph.values.get(id) {
                Some(Value::Tensor(_)) => {
                    used.insert(id);
                }
                Some(other) => {
                    return Err(Error::not_supported(format!(
                        "delegate input/output value {id} is a {}; only tensors are supported",
                        other.kind_name()
                    )))
                }
                None => {
                    return Err(Error::invalid_program(format!(
                        "I/O value id {id} out of range"
                    )))
                }
            }
        }
        let io_ids: BTreeSet<ValueId> = graph
            .input_ids
            .iter()
            .chain(&graph.output_ids)
            .copied()
            .collect();
        let mut tensors: Vec<Option<Buffer>> = (0..graph.values.len()).map(|_| None).collect();
        for &id in &used {
            let t = graph
                .tensor(id)
                .ok_or_else(|| Error::invalid_program(format!("value {id} is not a tensor")))?;
            let tag = if t.constant.is_some() {
                MemTag::Weight
            } else if io_ids.contains(&id) {
                MemTag::Io
            } else {
                MemTag::Activation
            };
            let bytes = (t.numel() * GPU_ELEM_SIZE) as u64;
            tensors[id] = Some(Buffer::new(
                &ctx,
                &accountant,
                bytes,
                BufferKind::Device,
                tag,
            )?);
        }

        let fence = Fence::new(&ctx)?;
        let mut command = CommandBuffer::new(&ctx)?;

        // Upload constants, one at a time: source → staging → device, then both released.
        for &id in &used {
            let t = graph.tensor(id).expect("checked above");
            let Some(c) = t.constant else { continue };
            let constant = &graph.constants[c];
            let want = t.numel() * t.dtype.size();
            let source = fetch_constant(&constant.source, blob, named)?;
            let bytes = source.bytes();
            if bytes.len() != want {
                return Err(Error::invalid_program(format!(
                    "constant {c} for value {id} has {} bytes, expected {want} for dims {:?} {:?}",
                    bytes.len(),
                    t.dims,
                    t.dtype
                )));
            }
            accountant.add(MemTag::Source, bytes.len() as u64);
            let mut staging = Buffer::new(
                &ctx,
                &accountant,
                (t.numel() * GPU_ELEM_SIZE) as u64,
                BufferKind::Host,
                MemTag::Staging,
            )?;
            let converted = to_gpu(t.dtype, bytes, staging.bytes_mut()?);
            drop(source);
            accountant.sub(MemTag::Source, want as u64);
            converted?;
            let dst = tensors[id].as_ref().expect("allocated above");
            command.begin(true)?;
            command.copy(
                staging.handle(),
                0,
                dst.handle(),
                0,
                (t.numel() * GPU_ELEM_SIZE) as u64,
            );
            command.end()?;
            command.submit_and_wait(&fence)?;
        }

        // Parameters of every dispatch, packed into one host buffer at aligned offsets.
        let align = ctx.caps().min_storage_buffer_offset_alignment.max(4);
        let mut offsets = Vec::with_capacity(dispatches.len());
        let mut total = 0u64;
        for d in &dispatches {
            offsets.push(total);
            total = (total + (d.params.len() * 4) as u64).div_ceil(align) * align;
        }
        let mut params = Buffer::new(&ctx, &accountant, total, BufferKind::Host, MemTag::Params)?;
        {
            let bytes = params.bytes_mut()?;
            for (d, &off) in dispatches.iter().zip(&offsets) {
                for (k, v) in d.params.iter().enumerate() {
                    let at = off as usize + k * 4;
                    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }

        // Host transfer buffers for the inputs and outputs.
        let make_io = |id: ValueId| -> Result<Io> {
            let t = graph.tensor(id).expect("I/O checked to be tensors");
            let host = Buffer::new(
                &ctx,
                &accountant,
                (t.numel() * GPU_ELEM_SIZE) as u64,
                BufferKind::Host,
                MemTag::Io,
            )?;
            Ok(Io {
                value: id,
                boundary_dtype: t.staging_dtype.unwrap_or(t.dtype),
                gpu_float: t.dtype.is_float(),
                sizes: t.dims.clone(),
                host,
            })
        };
        let inputs = graph
            .input_ids
            .iter()
            .map(|&id| make_io(id))
            .collect::<Result<Vec<_>>>()?;
        let outputs = graph
            .output_ids
            .iter()
            .map(|&id| make_io(id))
            .collect::<Result<Vec<_>>>()?;

        // Record the whole graph once: inputs in, every dispatch, outputs out.
        let n_bindings: u32 = dispatches.iter().map(|d| d.tensors.len() as u32 + 1).sum();
        let descriptors = DescriptorPool::new(&ctx, dispatches.len() as u32, n_bindings)?;
        command.begin(false)?;
        for io in &inputs {
            let dst = tensors[io.value].as_ref().expect("allocated");
            command.copy(
                io.host.handle(),
                0,
                dst.handle(),
                0,
                io.host.size().min(dst.size()),
            );
        }
        command.full_barrier();
        let max_groups = ctx.caps().max_compute_work_group_count;
        for (d, &off) in dispatches.iter().zip(&offsets) {
            let pipeline = ctx.pipeline(d.shader, d.tensors.len() as u32)?;
            let mut ranges = vec![BufferRange {
                buffer: params.handle(),
                offset: off,
                size: (d.params.len() * 4).max(4) as u64,
            }];
            for &t in &d.tensors {
                let b = tensors[t].as_ref().expect("allocated");
                ranges.push(BufferRange {
                    buffer: b.handle(),
                    offset: 0,
                    size: b.size(),
                });
            }
            let set = descriptors.allocate(&pipeline, &ranges)?;
            let work = d.params.first().copied().unwrap_or(0).max(0) as u64;
            if work == 0 {
                continue;
            }
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
            command.dispatch(&pipeline, set, [gx as u32, gy as u32, 1]);
            command.full_barrier();
        }
        for io in &outputs {
            let src = tensors[io.value].as_ref().expect("allocated");
            command.copy(
                src.handle(),
                0,
                io.host.handle(),
                0,
                io.host.size().min(src.size()),
            );
        }
        command.full_barrier();
        command.end()?;
        ctx.check_validation("init")?;

        Ok(Delegate {
            command,
            fence,
            _descriptors: descriptors,
            _params: params,
            inputs,
            outputs,
            _tensors: tensors,
            accountant,
            ctx,
        })
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Device, staging, source and I/O bytes this delegate holds now and at its peak.
    pub fn memory_stats(&self) -> MemoryStats {
        self.accountant.snapshot()
    }

    /// Runs the graph on `inputs` (in `input_ids` order). Outputs stay on the device until read.
    pub fn execute(&mut self, inputs: &[InputValue]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::invalid_argument(format!(
                "delegate expects {} inputs, got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        for (i, (io, input)) in self.inputs.iter_mut().zip(inputs).enumerate() {
            let t = match input {
                InputValue::Tensor(t) => t,
                InputValue::Int(_) => {
                    return Err(Error::new(
                        ErrorKind::InvalidType,
                        format!("input {i} must be a tensor, got an int"),
                    ))
                }
            };
            if t.sizes != io.sizes {
                return Err(Error::invalid_argument(format!(
                    "input {i} has sizes {:?}, the program expects {:?}",
                    t.sizes, io.sizes
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
            to_gpu(t.dtype, &t.data, io.host.bytes_mut()?)?;
        }
        self.command.submit_and_wait(&self.fence)?;
        self.ctx.check_validation("execute")
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
        from_gpu(
            io.gpu_float,
            &io.host.bytes()?[..n * GPU_ELEM_SIZE],
            dtype,
            dst,
        )
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
        // The last submission was waited on in `execute`/`init`; nothing is pending.
    }
}

/// Fetches a constant's bytes: from the blob, or from the NamedDataMap.
fn fetch_constant(
    source: &ConstantSource,
    blob: &[u8],
    named: Option<&dyn NamedData>,
) -> Result<crate::runtime::DataBuffer> {
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
            Ok(crate::runtime::DataBuffer::from_vec(bytes.to_vec()))
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

/// True when a Vulkan device with compute support can be opened.
pub fn is_available() -> bool {
    Context::shared().is_ok()
}
