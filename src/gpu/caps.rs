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
    /// Nanoseconds per timestamp tick.
    pub timestamp_period_ns: f32,
    /// Valid bits of the compute queue's timestamps (0: no timestamps, no profiling).
    pub timestamp_valid_bits: u32,
}

impl Caps {
    /// CPU and GPU share memory (phones, integrated GPUs, CPU devices): device-local memory
    /// is host-visible and as fast for the CPU as any. Discrete GPUs with a resizable BAR also
    /// expose such memory, but CPU reads of it cross PCIe uncached, so they don't count.
    pub fn unified_memory(&self) -> bool {
        self.has_host_visible_device_memory && self.kind != DeviceKind::Discrete
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
            timestamp_period_ns: l.timestamp_period,
            timestamp_valid_bits: 0,
        }
    }
}
