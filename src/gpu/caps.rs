//! The capabilities and limits of the chosen device that etvk checks before it dispatches.

use ash::vk;

/// Physical device type, in etvk's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviceKind {
    Other,
    Cpu,
    Virtual,
    Integrated,
    Discrete,
}

impl DeviceKind {
    pub fn from_vk(t: vk::PhysicalDeviceType) -> Self {
        match t {
            vk::PhysicalDeviceType::DISCRETE_GPU => DeviceKind::Discrete,
            vk::PhysicalDeviceType::INTEGRATED_GPU => DeviceKind::Integrated,
            vk::PhysicalDeviceType::VIRTUAL_GPU => DeviceKind::Virtual,
            vk::PhysicalDeviceType::CPU => DeviceKind::Cpu,
            _ => DeviceKind::Other,
        }
    }
}

/// What the device can do, read once at context creation.
#[derive(Debug, Clone)]
pub struct Caps {
    pub device_name: String,
    pub kind: DeviceKind,
    pub api_version: u32,
    pub vendor_id: u32,
    pub max_compute_work_group_count: [u32; 3],
    pub max_compute_work_group_size: [u32; 3],
    pub max_compute_work_group_invocations: u32,
    pub max_storage_buffer_range: u32,
    pub max_push_constants_size: u32,
    pub max_per_stage_storage_buffers: u32,
    pub min_storage_buffer_offset_alignment: u64,
    pub non_coherent_atom_size: u64,
    /// A memory type that is both device-local and host-visible exists (unified memory).
    pub has_host_visible_device_memory: bool,
    /// Texels a uniform texel buffer view may span, and the alignment of its offset.
    pub max_texel_buffer_elements: u32,
    pub min_texel_buffer_offset_alignment: u64,
    /// The largest single `VkDeviceMemory` allocation (Vulkan 1.1 `maxMemoryAllocationSize`);
    /// larger buffers are refused before the driver is asked.
    pub max_memory_allocation_size: u64,
    /// Kernels read their inputs through uniform texel buffers rather than storage buffers
    /// (see [`Caps::texel_reads`]).
    pub prefer_texel_reads: bool,
    /// 16-bit storage buffers (and RGBA16F texel views) are on: FLOAT16 tensors are stored
    /// as f16 by the kernels that have f16 variants.
    pub f16_storage: bool,
    /// Nanoseconds per timestamp tick.
    pub timestamp_period_ns: f32,
    /// Valid bits of the compute queue's timestamps (0: no timestamps, no profiling).
    pub timestamp_valid_bits: u32,
}

/// Environment override of the storage kernels read their inputs from: `texel` or `buffer`.
pub const STORAGE_ENV: &str = "ETVK_STORAGE";

/// Whether kernels on a device of `kind` read through texel buffers unless `ETVK_STORAGE`
/// says otherwise. Measured (docs/speed.md): on lavapipe a texel fetch is one vector gather
/// while a storage-buffer load at a non-uniform address is a loop over the SIMD lanes.
fn texel_reads_by_default(kind: DeviceKind) -> bool {
    match std::env::var(STORAGE_ENV).as_deref() {
        Ok("texel") => true,
        Ok("buffer") => false,
        _ => kind == DeviceKind::Cpu,
    }
}

impl Caps {
    /// Whether a kernel should read `texels` vec4s through a uniform texel buffer: the device
    /// prefers it and one view can span them.
    pub fn texel_reads(&self, texels: usize) -> bool {
        self.prefer_texel_reads && texels <= self.max_texel_buffer_elements as usize
    }

    /// Whether FLOAT16 activations are stored as f16: on GPUs with 16-bit storage. CPU
    /// devices (lavapipe) convert every 16-bit load and store in software, which made fp16
    /// programs 1.3-1.7x slower than fp32 there; they keep activations in f32, and only
    /// constant weights read through texel views in f16 (RGBA16F views convert in the
    /// fetch), so that W still halves.
    pub fn f16_activations(&self) -> bool {
        self.f16_storage && self.kind != DeviceKind::Cpu
    }

    /// Whether a kernel of a FLOAT16 program keeps f16 constant weights while its
    /// activations are f32 (the `_w16` builds): on CPU devices with 16-bit storage, when the
    /// kernel reads the weights through texel views (`texel`).
    pub fn f16_weights_only(&self, texel: bool) -> bool {
        self.f16_storage && self.kind == DeviceKind::Cpu && texel
    }

    /// The offset alignment every tensor in a shared buffer needs (storage and texel views).
    pub fn tensor_alignment(&self) -> u64 {
        self.min_storage_buffer_offset_alignment
            .max(self.min_texel_buffer_offset_alignment)
            .max(16)
    }

    /// CPU and GPU share memory (phones, integrated GPUs, CPU devices): device-local memory
    /// is host-visible and as fast for the CPU as any. Discrete GPUs with a resizable BAR also
    /// expose such memory, but CPU reads of it cross PCIe uncached, so they don't count.
    pub fn unified_memory(&self) -> bool {
        self.has_host_visible_device_memory && self.kind != DeviceKind::Discrete
    }

    /// The limits of a typical device of `kind`, with no device: for a
    /// [`dry_run`](crate::runtime::dry_run) (e.g. the fuzz targets). Storage-buffer ranges are
    /// the Vulkan minimum (128 MiB); the rest as lavapipe and desktop GPUs report them.
    pub fn typical(kind: DeviceKind) -> Caps {
        Caps {
            device_name: format!("typical {kind:?} device"),
            kind,
            api_version: vk::API_VERSION_1_1,
            vendor_id: 0,
            max_compute_work_group_count: [65535; 3],
            max_compute_work_group_size: [1024, 1024, 64],
            max_compute_work_group_invocations: 1024,
            max_storage_buffer_range: 1 << 27,
            max_push_constants_size: 128,
            max_per_stage_storage_buffers: 31,
            min_storage_buffer_offset_alignment: 64,
            non_coherent_atom_size: 64,
            has_host_visible_device_memory: kind != DeviceKind::Discrete,
            max_texel_buffer_elements: 1 << 27,
            min_texel_buffer_offset_alignment: 16,
            max_memory_allocation_size: 1 << 31,
            prefer_texel_reads: kind == DeviceKind::Cpu,
            f16_storage: true,
            timestamp_period_ns: 1.0,
            timestamp_valid_bits: 64,
        }
    }

    pub(crate) fn read(
        props: &vk::PhysicalDeviceProperties,
        mem: &vk::PhysicalDeviceMemoryProperties,
    ) -> Self {
        let l = &props.limits;
        let unified = mem.memory_types[..mem.memory_type_count as usize]
            .iter()
            .any(|t| {
                t.property_flags.contains(
                    vk::MemoryPropertyFlags::DEVICE_LOCAL | vk::MemoryPropertyFlags::HOST_VISIBLE,
                )
            });
        Caps {
            device_name: props
                .device_name_as_c_str()
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: DeviceKind::from_vk(props.device_type),
            api_version: props.api_version,
            vendor_id: props.vendor_id,
            max_compute_work_group_count: l.max_compute_work_group_count,
            max_compute_work_group_size: l.max_compute_work_group_size,
            max_compute_work_group_invocations: l.max_compute_work_group_invocations,
            max_storage_buffer_range: l.max_storage_buffer_range,
            max_push_constants_size: l.max_push_constants_size,
            max_per_stage_storage_buffers: l.max_per_stage_descriptor_storage_buffers,
            min_storage_buffer_offset_alignment: l.min_storage_buffer_offset_alignment,
            non_coherent_atom_size: l.non_coherent_atom_size,
            has_host_visible_device_memory: unified,
            max_texel_buffer_elements: l.max_texel_buffer_elements,
            min_texel_buffer_offset_alignment: l.min_texel_buffer_offset_alignment,
            // Read with the device's maintenance3 properties when it is picked.
            max_memory_allocation_size: u64::MAX,
            prefer_texel_reads: texel_reads_by_default(DeviceKind::from_vk(props.device_type)),
            f16_storage: false,
            timestamp_period_ns: l.timestamp_period,
            timestamp_valid_bits: 0,
        }
    }
}
