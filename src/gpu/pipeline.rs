//! A compute pipeline for one shader build and one set of specialization constants: bindings
//! 1..=n are tensors, all storage buffers in set 0; params are either the storage buffer at
//! binding 0 or push constants of the params struct's size.

use ash::vk;

use super::shaders::Shader;
use super::testing::{self, fault, Object};
use super::vk_error;
use crate::error::{Error, Result};

/// What makes a pipeline distinct: the shader build, its bindings, where params travel and the
/// specialization constants (workgroup size first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    pub shader: &'static str,
    /// The `OP` of a shader compiled once per op, `None` for the others.
    pub variant: Option<i32>,
    pub tensor_bindings: u32,
    /// Bit i set: tensor binding i (binding i + 1) is a uniform texel buffer, not a storage
    /// buffer.
    pub texel_mask: u32,
    /// Bytes of push constants (the params struct), or 0 when params are in binding 0.
    pub push_bytes: u32,
    /// Specialization constants by id: 0..=2 the workgroup size, then the kernel's own.
    pub spec: Vec<u32>,
}

/// Handles only: the owning [`Context`](super::Context) destroys them when it is dropped.
pub struct Pipeline {
    pub(crate) set_layout: vk::DescriptorSetLayout,
    pub(crate) layout: vk::PipelineLayout,
    pub(crate) pipeline: vk::Pipeline,
    /// The first binding of the set: 0 (params buffer) or 1 (params in push constants).
    pub(crate) first_binding: u32,
    /// See [`PipelineKey::texel_mask`].
    pub(crate) texel_mask: u32,
}

/// The descriptor type of `binding` (0: params, 1..: tensors) under `texel_mask`.
pub(crate) fn descriptor_type(binding: u32, texel_mask: u32) -> vk::DescriptorType {
    if binding >= 1 && texel_mask & (1 << (binding - 1)) != 0 {
        vk::DescriptorType::UNIFORM_TEXEL_BUFFER
    } else {
        vk::DescriptorType::STORAGE_BUFFER
    }
}

impl Pipeline {
    /// `key.push_bytes > 0`: the push-constant build of the shader (params in that many bytes
    /// of push constants, no binding 0). `key.spec`: specialization constants 0, 1, 2, ...
    pub(crate) fn new(device: &ash::Device, shader: &Shader, key: &PipelineKey) -> Result<Self> {
        let (variant, tensor_bindings, push) =
            (key.variant, key.tensor_bindings, key.push_bytes > 0);
        let build = shader.build(variant).ok_or_else(|| {
            Error::internal(format!(
                "shader {} has no build for variant {variant:?}",
                shader.name
            ))
        })?;
        let spirv = if push { build.spirv_push } else { build.spirv };
        let code = ash::util::read_spv(&mut std::io::Cursor::new(spirv))
            .map_err(|e| Error::internal(format!("shader {} is not SPIR-V: {e}", shader.name)))?;
        let first_binding = push as u32;
        let push_ranges: &[vk::PushConstantRange] = if push {
            &[vk::PushConstantRange {
                stage_flags: vk::ShaderStageFlags::COMPUTE,
                offset: 0,
                size: key.push_bytes,
            }]
        } else {
            &[]
        };
        let layout_bindings: Vec<_> = (first_binding..=tensor_bindings)
            .map(|b| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(b)
                    .descriptor_type(descriptor_type(b, key.texel_mask))
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        let mut guard = PipelineGuard {
            device,
            p: Pipeline::null(first_binding, key.texel_mask),
            module: vk::ShaderModule::null(),
        };
        // SAFETY: all create infos below refer to locals that outlive each call; on any error
        // the guard destroys what was created so far.
        unsafe {
            guard.module = fault("vkCreateShaderModule", false)
                .and_then(|()| {
                    device.create_shader_module(
                        &vk::ShaderModuleCreateInfo::default().code(&code),
                        None,
                    )
                })
                .map_err(|r| vk_error(&format!("vkCreateShaderModule({})", shader.name), r))?;
            guard.p.set_layout = fault("vkCreateDescriptorSetLayout", false)
                .and_then(|()| {
                    device.create_descriptor_set_layout(
                        &vk::DescriptorSetLayoutCreateInfo::default().bindings(&layout_bindings),
                        None,
                    )
                })
                .map_err(|r| vk_error("vkCreateDescriptorSetLayout", r))?;
            let set_layouts = [guard.p.set_layout];
            guard.p.layout = fault("vkCreatePipelineLayout", false)
                .and_then(|()| {
                    device.create_pipeline_layout(
                        &vk::PipelineLayoutCreateInfo::default()
                            .set_layouts(&set_layouts)
                            .push_constant_ranges(push_ranges),
                        None,
                    )
                })
                .map_err(|r| vk_error("vkCreatePipelineLayout", r))?;
            let spec_data: Vec<u8> = key.spec.iter().flat_map(|w| w.to_le_bytes()).collect();
            let spec_entries: Vec<vk::SpecializationMapEntry> = (0..key.spec.len() as u32)
                .map(|id| vk::SpecializationMapEntry {
                    constant_id: id,
                    offset: id * 4,
                    size: 4,
                })
                .collect();
            let spec_info = vk::SpecializationInfo::default()
                .map_entries(&spec_entries)
                .data(&spec_data);
            let stage = vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::COMPUTE)
                .module(guard.module)
                .name(c"main")
                .specialization_info(&spec_info);
            let info = [vk::ComputePipelineCreateInfo::default()
                .stage(stage)
                .layout(guard.p.layout)];
            guard.p.pipeline = fault("vkCreateComputePipelines", false)
                .map_err(|r| (Vec::new(), r))
                .and_then(|()| {
                    device.create_compute_pipelines(vk::PipelineCache::null(), &info, None)
                })
                .map_err(|(_, r)| {
                    vk_error(&format!("vkCreateComputePipelines({})", shader.name), r)
                })?[0];
            device.destroy_shader_module(guard.module, None);
            guard.module = vk::ShaderModule::null();
        }
        let p = std::mem::replace(&mut guard.p, Pipeline::null(first_binding, key.texel_mask));
        testing::created(Object::Pipeline);
        Ok(p)
    }

    fn null(first_binding: u32, texel_mask: u32) -> Self {
        Pipeline {
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
            first_binding,
            texel_mask,
        }
    }

    /// Destroys the handles.
    ///
    /// # Safety
    /// No command buffer using this pipeline may be pending, and it must not be used again.
    pub(crate) unsafe fn destroy(&self, device: &ash::Device) {
        // SAFETY: per the function contract; destroying null handles is a no-op.
        unsafe {
            device.destroy_pipeline(self.pipeline, None);
            device.destroy_pipeline_layout(self.layout, None);
            device.destroy_descriptor_set_layout(self.set_layout, None);
        }
        if self.pipeline != vk::Pipeline::null() {
            testing::destroyed(Object::Pipeline);
        }
    }
}

/// Cleans up a half-built pipeline on an error path.
struct PipelineGuard<'a> {
    device: &'a ash::Device,
    p: Pipeline,
    module: vk::ShaderModule,
}

impl Drop for PipelineGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the handles were created from `device` and never used in a submission.
        unsafe {
            self.device.destroy_shader_module(self.module, None);
            self.p.destroy(self.device);
        }
    }
}
