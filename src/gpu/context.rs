//! The Vulkan context: instance, device choice, logical device, queue and allocator.
//!
//! One context is shared by every delegate in the process and kept for its lifetime
//! (creating an instance and a device is slow).

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};

use ash::vk;

use super::caps::Caps;
use super::pipeline::{Pipeline, PipelineKey};
use super::shaders::Shader;
use super::testing;
use super::vk_error;
use crate::error::{Error, ErrorKind, Result};

/// Environment variable that picks the device: an index into the enumerated list, or a
/// case-insensitive substring of the device name.
pub const DEVICE_ENV: &str = "ETVK_DEVICE";
/// Environment variable that turns on the Khronos validation layer; any validation error then
/// fails the `init`/`execute` during which it was reported.
pub const VALIDATION_ENV: &str = "ETVK_VALIDATION";

const VALIDATION_LAYER: &CStr = c"VK_LAYER_KHRONOS_validation";

/// Validation messages of severity ERROR, collected by the debug messenger.
type ValidationLog = Mutex<Vec<String>>;

/// Compute pipelines compiled in this process. Each holds driver memory that etvk's accounting
/// cannot see (on lavapipe, JIT-compiled code: about half a MB each).
static PIPELINES_CREATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// VMA's block size (see `Context::new`).
const RESERVE_BLOCK_BYTES: u64 = 1 << 20;

/// Vulkan memory (every `VkDeviceMemory` block VMA holds) this process holds now.
static RESERVED_NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Peak of the Vulkan memory (every `VkDeviceMemory` block VMA holds) this process reserved.
static RESERVED_PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [`Context::reserved_bytes`] after the last allocation or release, and its highest value,
/// in this process (0 before the first buffer).
pub fn reserved() -> (u64, u64) {
    (
        RESERVED_NOW.load(std::sync::atomic::Ordering::Relaxed),
        RESERVED_PEAK.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// How many compute pipelines this process has compiled.
pub fn pipelines_created() -> usize {
    PIPELINES_CREATED.load(std::sync::atomic::Ordering::Relaxed)
}

pub struct Context {
    vulkan: Arc<VulkanInstance>,
    device: ash::Device,
    queue: Mutex<vk::Queue>,
    queue_family: u32,
    allocator: ManuallyDrop<vk_mem::Allocator>,
    caps: Caps,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Pipeline>>>,
    /// A call returned `VK_ERROR_DEVICE_LOST`: nothing more can run on this device.
    lost: std::sync::atomic::AtomicBool,
}

/// The process-wide context. Once created it stays for the life of the process: creating a
/// Vulkan instance and device takes hundreds of milliseconds on desktop drivers, and some
/// drivers fail when instances are created and destroyed concurrently.
static SHARED: Mutex<Option<Arc<Context>>> = Mutex::new(None);

/// The Vulkan loader and instance (with etvk's validation messenger), made once and kept for
/// the life of the process; contexts (devices) come and go on it. NVIDIA's driver 580 refused
/// a second instance once the first was destroyed (`VK_ERROR_INCOMPATIBLE_DRIVER`), which made
/// a device lost there unrecoverable until the process restarted.
struct VulkanInstance {
    /// Keeps the loader library loaded.
    _entry: ash::Entry,
    instance: ash::Instance,
    debug: Option<(ash::ext::debug_utils::Instance, vk::DebugUtilsMessengerEXT)>,
    /// Written by the messenger's callback; never freed while the messenger exists.
    validation_log: Box<ValidationLog>,
}

static VULKAN: Mutex<Option<Arc<VulkanInstance>>> = Mutex::new(None);

/// The process-wide instance, made on first use (again if making it failed).
fn vulkan_instance() -> Result<Arc<VulkanInstance>> {
    let mut slot = VULKAN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = slot.as_ref() {
        return Ok(v.clone());
    }
    let v = Arc::new(VulkanInstance::new()?);
    *slot = Some(v.clone());
    Ok(v)
}

impl Context {
    /// The process-wide context, created on first use, and again after the device was lost
    /// (delegates of the lost one keep it until they are destroyed; their calls fail).
    pub fn shared() -> Result<Arc<Context>> {
        #[cfg(feature = "test-support")]
        if let Some(ctx) = testing::scoped_context() {
            return Ok(ctx);
        }
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ctx) = slot.as_ref().filter(|c| !c.is_lost()) {
            return Ok(ctx.clone());
        }
        *slot = None;
        let ctx = Arc::new(Context::new()?);
        *slot = Some(ctx.clone());
        Ok(ctx)
    }

    fn new() -> Result<Context> {
        let vulkan = vulkan_instance()?;
        let instance = &vulkan.instance;
        let (physical_device, queue_family, mut caps) = pick_device(instance)?;
        caps.f16_storage = f16_storage_supported(instance, physical_device);
        caps.max_memory_allocation_size = max_memory_allocation_size(instance, physical_device);

        let priorities = [1.0f32];
        let queue_info = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(queue_family)
            .queue_priorities(&priorities)];
        // 16-bit storage lets fp16 programs keep FLOAT16 tensors at 2 bytes (see Caps).
        let mut storage16 =
            vk::PhysicalDevice16BitStorageFeatures::default().storage_buffer16_bit_access(true);
        let mut device_info = vk::DeviceCreateInfo::default().queue_create_infos(&queue_info);
        if caps.f16_storage {
            device_info = device_info.push_next(&mut storage16);
        }
        // SAFETY: `physical_device` came from this instance; the create info refers to locals.
        let device = unsafe { instance.create_device(physical_device, &device_info, None) }
            .map_err(|r| vk_error("vkCreateDevice", r))?;
        // SAFETY: queue family and index 0 were requested in `device_info`.
        let queue = unsafe { device.get_device_queue(queue_family, 0) };

        let mut alloc_info = vk_mem::AllocatorCreateInfo::new(instance, &device, physical_device);
        alloc_info.vulkan_api_version = vk::API_VERSION_1_1;
        // VMA's default blocks (256 MiB, the first ones 32 MiB) would reserve 32 MiB for a model
        // of a few KB, and keep an empty one. 1 MiB blocks bound what is reserved beyond the
        // accounted buffers to about two blocks per memory type; buffers over half a block get
        // memory of their own.
        alloc_info.preferred_large_heap_block_size = RESERVE_BLOCK_BYTES;
        // SAFETY: instance, device and physical device are valid and outlive the allocator
        // (it is dropped first in Drop).
        let allocator = match unsafe { vk_mem::Allocator::new(alloc_info) } {
            Ok(a) => a,
            Err(r) => {
                // SAFETY: nothing was created from the device yet.
                unsafe { device.destroy_device(None) };
                return Err(vk_error("vmaCreateAllocator", r));
            }
        };

        Ok(Context {
            vulkan,
            device,
            queue: Mutex::new(queue),
            queue_family,
            allocator: ManuallyDrop::new(allocator),
            caps,
            pipelines: Mutex::new(HashMap::new()),
            lost: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether a call on this device returned `VK_ERROR_DEVICE_LOST`.
    pub fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fails once the device is lost: every later init or execute on it would fail anyway.
    pub fn check_not_lost(&self) -> Result<()> {
        if self.is_lost() {
            return Err(Error::internal(format!(
                "the Vulkan device '{}' was lost (VK_ERROR_DEVICE_LOST) in an earlier call; \
                 destroy this delegate and load the program again",
                self.caps.device_name
            )));
        }
        Ok(())
    }

    /// Passes `r` through, remembering a device loss.
    pub(crate) fn note_result<T>(&self, r: ash::prelude::VkResult<T>) -> ash::prelude::VkResult<T> {
        if r.as_ref().err() == Some(&vk::Result::ERROR_DEVICE_LOST) {
            self.lost.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    pub(crate) fn device(&self) -> &ash::Device {
        &self.device
    }

    pub(crate) fn allocator(&self) -> &vk_mem::Allocator {
        &self.allocator
    }

    pub(crate) fn queue_family(&self) -> u32 {
        self.queue_family
    }

    /// Bytes of Vulkan memory VMA holds now, over every heap: the blocks buffers are
    /// sub-allocated from (kept while they have a buffer, and one empty block for reuse) and
    /// dedicated allocations. The accounting counts buffers; this is what they cost the driver.
    pub fn reserved_bytes(&self) -> u64 {
        self.allocator
            .get_heap_budgets()
            .map(|heaps| heaps.iter().map(|h| h.statistics.blockBytes).sum())
            .unwrap_or(0)
    }

    /// Records the current reservation and the process's peak (after each allocation and
    /// release of a buffer).
    pub(crate) fn note_reserved(&self) {
        let now = self.reserved_bytes();
        RESERVED_NOW.store(now, std::sync::atomic::Ordering::Relaxed);
        RESERVED_PEAK.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Submits one command buffer to the compute queue, signalling `fence` when done.
    pub(crate) fn submit(&self, cmd: vk::CommandBuffer, fence: vk::Fence) -> Result<()> {
        let cmds = [cmd];
        let submit = [vk::SubmitInfo::default().command_buffers(&cmds)];
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let submitted = testing::fault("vkQueueSubmit", true)
            // SAFETY: the queue is externally synchronised by the mutex; `cmd` is a recorded,
            // executable command buffer of this device and `fence` is unsignalled.
            .and_then(|()| unsafe { self.device.queue_submit(*queue, &submit, fence) });
        self.note_result(submitted)
            .map_err(|r| vk_error("vkQueueSubmit", r))
    }

    /// The cached pipeline for `shader` built as `key` says (compiled on first use).
    pub fn pipeline(&self, shader: &'static Shader, key: PipelineKey) -> Result<Arc<Pipeline>> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let p = Arc::new(Pipeline::new(&self.device, shader, &key)?);
        PIPELINES_CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cache.insert(key, p.clone());
        Ok(p)
    }

    /// Whether the Khronos validation layer and etvk's messenger are on.
    pub fn validation_enabled(&self) -> bool {
        self.vulkan.debug.is_some()
    }

    /// Validation errors reported since the last call (empty unless validation is on).
    pub fn take_validation_errors(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .vulkan
                .validation_log
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Fails with every validation error reported since the last check.
    pub fn check_validation(&self, during: &str) -> Result<()> {
        let errors = self.take_validation_errors();
        if errors.is_empty() {
            return Ok(());
        }
        Err(Error::internal(format!(
            "Vulkan validation reported {} error(s) during {during}: {}",
            errors.len(),
            errors.join(" | ")
        )))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: every object created from the device is owned by a delegate that holds an
        // Arc to this context, so none is alive now; cached pipelines are destroyed here.
        unsafe {
            let _ = self.device.device_wait_idle();
            for (_, p) in self
                .pipelines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
            {
                p.destroy(&self.device);
            }
            ManuallyDrop::drop(&mut self.allocator);
            self.device.destroy_device(None);
            // What the validation layer said about the device's teardown (objects left alive).
            #[cfg(feature = "test-support")]
            TEARDOWN_REPORT
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(self.take_validation_errors());
        }
    }
}

/// Validation errors reported while contexts were destroyed (test-support).
#[cfg(feature = "test-support")]
static TEARDOWN_REPORT: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[cfg(feature = "test-support")]
impl Context {
    /// A context of its own (not the shared one) whose capabilities `adjust` changes, e.g.
    /// lowered limits; use it through [`testing::with_context`].
    pub fn with_caps(adjust: impl FnOnce(&mut Caps)) -> Result<Arc<Context>> {
        let mut ctx = Context::new()?;
        adjust(&mut ctx.caps);
        Ok(Arc::new(ctx))
    }

    /// VMA's live allocations and the `VkDeviceMemory` blocks it holds.
    pub fn live_allocations(&self) -> Result<(u32, u32)> {
        let s = self
            .allocator
            .calculate_statistics()
            .map_err(|r| vk_error("vmaCalculateStatistics", r))?;
        Ok((
            s.total.statistics.allocationCount,
            s.total.statistics.blockCount,
        ))
    }

    /// Compute pipelines in the cache.
    pub fn cached_pipelines(&self) -> usize {
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Destroys the cached pipelines, so that the next loads create them again (fault
    /// injection reaches their creation). No delegate may be alive.
    pub fn drop_cached_pipelines(&self) {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        for (_, p) in cache.drain() {
            // SAFETY: per the contract no delegate is alive, so no command buffer that uses
            // the pipeline can be pending or submitted again.
            unsafe { p.destroy(&self.device) };
        }
    }

    /// Destroys the process-wide context, which every delegate must have released, and returns
    /// what the validation layer reported while the device was destroyed (with validation on,
    /// every Vulkan object still alive is reported there). `shared()` then creates a new one.
    pub fn teardown_shared() -> Result<Vec<String>> {
        let ctx = SHARED.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(ctx) = ctx else {
            return Ok(Vec::new());
        };
        match Arc::try_unwrap(ctx) {
            Ok(ctx) => drop(ctx),
            Err(ctx) => {
                let users = Arc::strong_count(&ctx) - 1;
                *SHARED.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx);
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    format!("the shared context is still used by {users} other owner(s)"),
                ));
            }
        }
        Ok(std::mem::take(
            &mut *TEARDOWN_REPORT.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

impl VulkanInstance {
    fn new() -> Result<VulkanInstance> {
        // SAFETY: loading the system Vulkan loader; ash checks the entry points it resolves.
        let entry = unsafe { ash::Entry::load() }.map_err(|e| {
            Error::new(
                ErrorKind::NotSupported,
                format!("cannot load the Vulkan loader: {e}"),
            )
        })?;
        let want_validation =
            std::env::var(VALIDATION_ENV).is_ok_and(|v| v != "0" && !v.is_empty());

        let mut layers: Vec<*const i8> = Vec::new();
        let mut extensions: Vec<*const i8> = Vec::new();
        if want_validation {
            // SAFETY: plain enumeration call on a loaded entry.
            let available = unsafe { entry.enumerate_instance_layer_properties() }
                .map_err(|r| vk_error("vkEnumerateInstanceLayerProperties", r))?;
            let has_layer = available
                .iter()
                .any(|l| l.layer_name_as_c_str().is_ok_and(|n| n == VALIDATION_LAYER));
            if !has_layer {
                return Err(Error::not_supported(format!(
                    "{VALIDATION_ENV} is set but {} is not installed (Debian: vulkan-validationlayers)",
                    VALIDATION_LAYER.to_string_lossy()
                )));
            }
            layers.push(VALIDATION_LAYER.as_ptr());
            extensions.push(ash::ext::debug_utils::NAME.as_ptr());
            // Synchronization validation too, whatever the environment says: it checks the
            // barriers etvk derives from hazards (VK_LAYER_ENABLES can ask for it as well).
            // SAFETY: plain enumeration call on a loaded entry, for a layer that exists.
            let layer_extensions =
                unsafe { entry.enumerate_instance_extension_properties(Some(VALIDATION_LAYER)) }
                    .unwrap_or_default();
            if layer_extensions.iter().any(|e| {
                e.extension_name_as_c_str()
                    .is_ok_and(|n| n == ash::ext::validation_features::NAME)
            }) {
                extensions.push(ash::ext::validation_features::NAME.as_ptr());
            }
        }
        let sync_validation = [vk::ValidationFeatureEnableEXT::SYNCHRONIZATION_VALIDATION];
        let mut features =
            vk::ValidationFeaturesEXT::default().enabled_validation_features(&sync_validation);

        let app_name = CString::new("etvk").unwrap_or_default();
        let app = vk::ApplicationInfo::default()
            .application_name(&app_name)
            .engine_name(&app_name)
            .api_version(vk::API_VERSION_1_1);
        let mut create = vk::InstanceCreateInfo::default()
            .application_info(&app)
            .enabled_layer_names(&layers)
            .enabled_extension_names(&extensions);
        if extensions.contains(&ash::ext::validation_features::NAME.as_ptr()) {
            create = create.push_next(&mut features);
        }
        // SAFETY: every pointer in `create` refers to locals that outlive the call.
        let instance = unsafe { entry.create_instance(&create, None) }
            .map_err(|r| vk_error("vkCreateInstance", r))?;

        // From here on, `partial` destroys what was created if a later step fails.
        let validation_log: Box<ValidationLog> = Box::new(Mutex::new(Vec::new()));
        let mut partial = PartialInstance {
            instance: Some(instance),
            debug: None,
        };

        if want_validation {
            let loader = ash::ext::debug_utils::Instance::new(&entry, partial.instance());
            let info = vk::DebugUtilsMessengerCreateInfoEXT::default()
                .message_severity(
                    vk::DebugUtilsMessageSeverityFlagsEXT::ERROR
                        | vk::DebugUtilsMessageSeverityFlagsEXT::WARNING,
                )
                .message_type(
                    vk::DebugUtilsMessageTypeFlagsEXT::VALIDATION
                        | vk::DebugUtilsMessageTypeFlagsEXT::GENERAL,
                )
                .pfn_user_callback(Some(debug_callback))
                .user_data(&*validation_log as *const ValidationLog as *mut c_void);
            // SAFETY: the callback's user data points into a Box the instance owns for the life of
            // the process (the instance and its messenger are never destroyed).
            let messenger = unsafe { loader.create_debug_utils_messenger(&info, None) }
                .map_err(|r| vk_error("vkCreateDebugUtilsMessengerEXT", r))?;
            partial.debug = Some((loader, messenger));
        }

        let (instance, debug) = partial.take();
        Ok(VulkanInstance {
            _entry: entry,
            instance,
            debug,
            validation_log,
        })
    }
}

/// Owns a freshly created instance (and messenger) until the context takes them.
struct PartialInstance {
    instance: Option<ash::Instance>,
    debug: Option<(ash::ext::debug_utils::Instance, vk::DebugUtilsMessengerEXT)>,
}

impl PartialInstance {
    fn instance(&self) -> &ash::Instance {
        self.instance
            .as_ref()
            .expect("instance present until taken")
    }

    #[allow(clippy::type_complexity)]
    fn take(
        mut self,
    ) -> (
        ash::Instance,
        Option<(ash::ext::debug_utils::Instance, vk::DebugUtilsMessengerEXT)>,
    ) {
        (self.instance.take().expect("taken once"), self.debug.take())
    }
}

impl Drop for PartialInstance {
    fn drop(&mut self) {
        // SAFETY: reached only on an error path, before any device was created.
        unsafe {
            if let Some((loader, messenger)) = self.debug.take() {
                loader.destroy_debug_utils_messenger(messenger, None);
            }
            if let Some(instance) = self.instance.take() {
                instance.destroy_instance(None);
            }
        }
    }
}

/// The device's `maxMemoryAllocationSize` (Vulkan 1.1 core, from maintenance3).
fn max_memory_allocation_size(instance: &ash::Instance, pd: vk::PhysicalDevice) -> u64 {
    let mut m3 = vk::PhysicalDeviceMaintenance3Properties::default();
    let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut m3);
    // SAFETY: `pd` was enumerated from this instance (Vulkan 1.1 core query).
    unsafe { instance.get_physical_device_properties2(pd, &mut props) };
    match m3.max_memory_allocation_size {
        0 => u64::MAX,
        n => n,
    }
}

/// Whether `pd` can store f16 tensors: 16-bit storage-buffer access, and RGBA16F uniform
/// texel buffers (kernels may read f16 tensors through texel views). `ETVK_FP16=0` turns it
/// off (fp16 programs then run in f32, as on devices without it).
fn f16_storage_supported(instance: &ash::Instance, pd: vk::PhysicalDevice) -> bool {
    if std::env::var(FP16_ENV).is_ok_and(|v| v == "0") {
        return false;
    }
    let mut storage16 = vk::PhysicalDevice16BitStorageFeatures::default();
    let mut features = vk::PhysicalDeviceFeatures2::default().push_next(&mut storage16);
    // SAFETY: `pd` was enumerated from this instance (Vulkan 1.1 core query).
    unsafe { instance.get_physical_device_features2(pd, &mut features) };
    let storage = storage16.storage_buffer16_bit_access == vk::TRUE;
    // SAFETY: as above.
    let format = unsafe {
        instance.get_physical_device_format_properties(pd, vk::Format::R16G16B16A16_SFLOAT)
    };
    let texels = format
        .buffer_features
        .contains(vk::FormatFeatureFlags::UNIFORM_TEXEL_BUFFER);
    storage && texels
}

/// Environment variable: `0` keeps fp16 programs' tensors in f32 on the device.
pub const FP16_ENV: &str = "ETVK_FP16";

/// Picks the physical device: `ETVK_DEVICE` when set, else discrete > integrated > virtual > CPU.
fn pick_device(instance: &ash::Instance) -> Result<(vk::PhysicalDevice, u32, Caps)> {
    // SAFETY: enumeration on a valid instance.
    let devices = unsafe { instance.enumerate_physical_devices() }
        .map_err(|r| vk_error("vkEnumeratePhysicalDevices", r))?;
    let mut candidates = Vec::new();
    // Every device as "index 'name' (kind)", for the message when ETVK_DEVICE matches none.
    let mut found = Vec::new();
    for (index, &pd) in devices.iter().enumerate() {
        // SAFETY: `pd` was enumerated from this instance.
        let (props, mem, families) = unsafe {
            (
                instance.get_physical_device_properties(pd),
                instance.get_physical_device_memory_properties(pd),
                instance.get_physical_device_queue_family_properties(pd),
            )
        };
        let caps = Caps::read(&props, &mem);
        let Some(family) = families
            .iter()
            .position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE))
        else {
            found.push(format!(
                "{index} '{}' ({:?}, no compute queue)",
                caps.device_name, caps.kind
            ));
            continue;
        };
        let mut caps = caps;
        caps.timestamp_valid_bits = families[family].timestamp_valid_bits;
        found.push(format!("{index} '{}' ({:?})", caps.device_name, caps.kind));
        candidates.push((index, pd, family as u32, caps));
    }
    if candidates.is_empty() {
        return Err(Error::not_supported(format!(
            "no Vulkan device with a compute queue; devices found: {}",
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            }
        )));
    }
    let chosen = match std::env::var(DEVICE_ENV) {
        Ok(want) if !want.is_empty() => {
            let by_index = want.parse::<usize>().ok();
            let lower = want.to_lowercase();
            candidates
                .into_iter()
                .find(|(i, _, _, c)| {
                    Some(*i) == by_index || c.device_name.to_lowercase().contains(&lower)
                })
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "{DEVICE_ENV}={want} matches no Vulkan device with compute (an \
                             index or a name substring); devices found: {}",
                            found.join(", ")
                        ),
                    )
                })?
        }
        _ => candidates
            .into_iter()
            .max_by_key(|(i, _, _, c)| (c.kind, std::cmp::Reverse(*i)))
            .expect("non-empty"),
    };
    if std::env::var("ETVK_LOG").is_ok_and(|v| v == "1") {
        eprintln!(
            "etvk: using Vulkan device '{}' ({:?})",
            chosen.3.device_name, chosen.3.kind
        );
    }
    Ok((chosen.1, chosen.2, chosen.3))
}

unsafe extern "system" fn debug_callback(
    severity: vk::DebugUtilsMessageSeverityFlagsEXT,
    _types: vk::DebugUtilsMessageTypeFlagsEXT,
    data: *const vk::DebugUtilsMessengerCallbackDataEXT<'_>,
    user: *mut c_void,
) -> vk::Bool32 {
    // No panic may cross this extern "system" boundary: everything below is infallible.
    if data.is_null() || user.is_null() {
        return vk::FALSE;
    }
    // SAFETY: the layer passes a valid callback data struct for the duration of the call.
    let msg = unsafe { (*data).message_as_c_str() }
        .map(|m| m.to_string_lossy().into_owned())
        .unwrap_or_default();
    if severity.contains(vk::DebugUtilsMessageSeverityFlagsEXT::ERROR) {
        // SAFETY: `user` is the context's boxed log, alive while the messenger exists.
        let log = unsafe { &*(user as *const ValidationLog) };
        if let Ok(mut v) = log.lock() {
            v.push(msg);
        }
    } else if std::env::var("ETVK_LOG").is_ok_and(|v| v == "1") {
        eprintln!("etvk: vulkan warning: {msg}");
    }
    vk::FALSE
}
