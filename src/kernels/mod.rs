//! The typed contract between ops and shaders. Every shader in `shaders/` has one [`Kernel`]
//! here that says what it binds (in binding order, each with its access and layout), the
//! `#[repr(C)]` struct its parameters travel in (mirrored by a GLSL `struct Params`), and the
//! specialization constants it is compiled with per program (a second struct, mirrored by
//! `layout(constant_id = 3 + i)` constants). `tests/kernel_contract.rs` reads the SPIR-V of every
//! shader and checks that both sides agree: field names, offsets and types, binding count,
//! access qualifiers and spec-constant ids.
//!
//! Parameter and spec structs hold only 4-byte scalars (`i32`, `u32`, `f32`) and arrays of
//! them, so the `repr(C)` layout, std430 and push-constant layouts are the same by construction.

pub mod layout;
pub mod packing;

use std::marker::PhantomData;

use crate::gpu::Shader;

pub use layout::{Elem, ElemReq, Layout};

/// How a shader uses a bound tensor. Barriers between dispatches are derived from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `readonly` in GLSL.
    Read,
    /// `writeonly` in GLSL.
    Write,
    /// Neither qualifier: read and written (in-place updates).
    ReadWrite,
}

impl Access {
    pub fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }
    pub fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// One tensor binding of a kernel (bindings 1, 2, ... in this order; binding 0 is the params
/// buffer when the params do not travel as push constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The GLSL block's type name (`buffer Out { ... }` is "Out"), or for a texel buffer the
    /// variable's name (`uniform samplerBuffer x_tex` is "x_tex").
    pub name: &'static str,
    pub access: Access,
    /// The memory layout the shader indexes the tensor in.
    pub layout: Layout,
    /// How the shader reaches it.
    pub kind: BindingKind,
    /// The element formats it accepts.
    pub elem: ElemReq,
}

/// The descriptor a binding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// A storage buffer (`buffer` block).
    Storage,
    /// A uniform texel buffer of RGBA32F texels (`uniform samplerBuffer`, read with
    /// `texelFetch`): read-only.
    Texels,
}

/// A read-only contiguous binding.
pub const fn read(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::Read,
        layout: Layout::Contiguous,
        kind: BindingKind::Storage,
        elem: ElemReq::Words32,
    }
}

/// A contiguous binding read as RGBA32F texels through a uniform texel buffer.
pub const fn read_texels(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::Read,
        layout: Layout::Contiguous,
        kind: BindingKind::Texels,
        elem: ElemReq::Words32,
    }
}

/// A write-only contiguous binding.
pub const fn write(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::Write,
        layout: Layout::Contiguous,
        kind: BindingKind::Storage,
        elem: ElemReq::Words32,
    }
}

/// A contiguous binding read and written.
pub const fn read_write(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::ReadWrite,
        layout: Layout::Contiguous,
        kind: BindingKind::Storage,
        elem: ElemReq::Words32,
    }
}

impl Binding {
    /// The same binding, indexed in `layout`.
    pub const fn in_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The same binding, of f16 elements (f16 kernel variants).
    pub const fn f16(mut self) -> Self {
        self.elem = ElemReq::F16;
        self
    }

    /// The same binding, of raw bytes read as packed words (8-bit and 4-bit constants).
    pub const fn bytes(mut self) -> Self {
        self.elem = ElemReq::Bytes;
        self
    }
}

/// The scalar type of a parameter or spec-constant field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    I32,
    U32,
    F32,
}

/// One field of a parameter or spec struct, as the contract test compares it with SPIR-V.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// Byte offset in the `repr(C)` struct.
    pub offset: usize,
    pub scalar: Scalar,
    /// 1 for a scalar, N for an array `[T; N]`.
    pub len: usize,
}

/// A type a parameter field may have: a 4-byte scalar or an array of them.
pub trait ParamType {
    const SCALAR: Scalar;
    const LEN: usize;
    fn push_words(&self, out: &mut Vec<u32>);
}

impl ParamType for i32 {
    const SCALAR: Scalar = Scalar::I32;
    const LEN: usize = 1;
    fn push_words(&self, out: &mut Vec<u32>) {
        out.push(*self as u32);
    }
}

impl ParamType for u32 {
    const SCALAR: Scalar = Scalar::U32;
    const LEN: usize = 1;
    fn push_words(&self, out: &mut Vec<u32>) {
        out.push(*self);
    }
}

impl ParamType for f32 {
    const SCALAR: Scalar = Scalar::F32;
    const LEN: usize = 1;
    fn push_words(&self, out: &mut Vec<u32>) {
        out.push(self.to_bits());
    }
}

impl<T: ParamType, const N: usize> ParamType for [T; N] {
    const SCALAR: Scalar = T::SCALAR;
    const LEN: usize = N;
    fn push_words(&self, out: &mut Vec<u32>) {
        self.iter().for_each(|v| v.push_words(out));
    }
}

/// A parameter (or spec-constant) struct: its fields for the contract test, and its words.
pub trait Params: Copy {
    const FIELDS: &'static [Field];
    /// The struct as 32-bit words, in field order (which is its memory layout).
    fn words(&self) -> Vec<u32>;
}

/// No parameters / no specialization constants.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NoParams;

impl Params for NoParams {
    const FIELDS: &'static [Field] = &[];
    fn words(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// Declares a `#[repr(C)]` parameter or spec struct and its [`Params`] impl. Every field must
/// be `i32`, `u32`, `f32` or an array of one of them.
#[macro_export]
macro_rules! kernel_params {
    ($(#[$m:meta])* $vis:vis struct $name:ident {
        $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        $vis struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl $crate::kernels::Params for $name {
            const FIELDS: &'static [$crate::kernels::Field] = &[
                $($crate::kernels::Field {
                    name: stringify!($field),
                    offset: ::core::mem::offset_of!($name, $field),
                    scalar: <$ty as $crate::kernels::ParamType>::SCALAR,
                    len: <$ty as $crate::kernels::ParamType>::LEN,
                }),*
            ];
            fn words(&self) -> Vec<u32> {
                let mut out = Vec::with_capacity(::core::mem::size_of::<Self>() / 4);
                $($crate::kernels::ParamType::push_words(&self.$field, &mut out);)*
                out
            }
        }
    };
}

/// What the runtime needs of a kernel, type-erased.
#[derive(Debug)]
pub struct KernelInfo {
    pub shader: &'static Shader,
    pub bindings: &'static [Binding],
    pub params: &'static [Field],
    /// Size of the parameter struct in bytes.
    pub params_bytes: usize,
    /// Kernel-specific specialization constants, ids 3, 4, ... (0..=2 are the workgroup size).
    pub spec: &'static [Field],
}

impl KernelInfo {
    /// Bit i set: tensor binding i is a texel buffer (see `PipelineKey::texel_mask`).
    pub fn texel_mask(&self) -> u32 {
        self.bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.kind == BindingKind::Texels)
            .fold(0, |m, (i, _)| m | (1 << i))
    }
}

/// A shader with its typed parameters `P` and specialization constants `S`.
pub struct Kernel<P: Params, S: Params = NoParams> {
    pub info: KernelInfo,
    _types: PhantomData<fn() -> (P, S)>,
}

impl<P: Params, S: Params> Kernel<P, S> {
    pub const fn new(shader: &'static Shader, bindings: &'static [Binding]) -> Self {
        Kernel {
            info: KernelInfo {
                shader,
                bindings,
                params: P::FIELDS,
                params_bytes: std::mem::size_of::<P>(),
                spec: S::FIELDS,
            },
            _types: PhantomData,
        }
    }
}

/// The four builds of a kernel that comes in storage variants: storage-buffer or texel reads,
/// f32 or f16 storage (its outputs, constants and storage-buffer inputs).
pub struct Variants<P: Params, S: Params = NoParams> {
    pub buffer: Kernel<P, S>,
    pub texel: Kernel<P, S>,
    pub buffer_f16: Kernel<P, S>,
    pub texel_f16: Kernel<P, S>,
}

impl<P: Params, S: Params> Variants<P, S> {
    /// The build for texel reads or not, f16 storage or not.
    pub fn pick(&self, texel: bool, f16: bool) -> &Kernel<P, S> {
        match (texel, f16) {
            (false, false) => &self.buffer,
            (true, false) => &self.texel,
            (false, true) => &self.buffer_f16,
            (true, true) => &self.texel_f16,
        }
    }

    /// All four, for the contract test.
    pub fn all(&'static self) -> [&'static KernelInfo; 4] {
        [
            &self.buffer.info,
            &self.texel.info,
            &self.buffer_f16.info,
            &self.texel_f16.info,
        ]
    }
}

/// The first specialization-constant id of a kernel's own constants (0..=2: workgroup size).
pub const FIRST_KERNEL_SPEC_ID: u32 = 3;

/// How a dispatch covers its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// `items` invocations in 64-wide groups, folded over a 2-D grid of groups when they
    /// exceed the device's x limit (legacy 1-D shaders: `work_index()` in `common.glsl`).
    Linear(u64),
    /// `global` invocations per dimension in groups of `local`.
    Tiles { global: [u32; 3], local: [u32; 3] },
}

impl Grid {
    /// Invocations that do work (a dispatch with none is not recorded).
    pub fn items(&self) -> u64 {
        match *self {
            Grid::Linear(n) => n,
            Grid::Tiles { global, .. } => global.iter().map(|&g| g as u64).product(),
        }
    }

    /// The workgroup size (specialization constants 0..=2).
    pub fn local(&self) -> [u32; 3] {
        match *self {
            Grid::Linear(_) => [LINEAR_GROUP, 1, 1],
            Grid::Tiles { local, .. } => local,
        }
    }
}

/// Invocations per workgroup of a [`Grid::Linear`] dispatch.
pub const LINEAR_GROUP: u32 = 64;

/// A kernel with its parameters, specialization constants and grid: everything a dispatch
/// needs except the tensors it binds (see [`OpBuilder::dispatch`](crate::graph::OpBuilder::dispatch)).
pub struct Call<S> {
    pub kernel: &'static KernelInfo,
    pub variant: Option<i32>,
    pub spec: Vec<u32>,
    pub grid: Grid,
    pub params: Vec<u32>,
    /// Floating-point operations the dispatch does (for the profile's GFLOP/s; 0: unknown).
    pub flops: u64,
    _spec: PhantomData<fn() -> S>,
}

impl<P: Params, S: Params> Kernel<P, S> {
    /// A call of this kernel with `params`; set its grid with [`Call::linear`] or
    /// [`Call::tiles`].
    pub fn call(&'static self, params: P) -> Call<S> {
        Call {
            kernel: &self.info,
            variant: None,
            spec: Vec::new(),
            grid: Grid::Linear(0),
            params: params.words(),
            flops: 0,
            _spec: PhantomData,
        }
    }
}

impl<S: Params> Call<S> {
    /// The kernel's specialization constants for this dispatch.
    pub fn spec(mut self, spec: S) -> Self {
        self.spec = spec.words();
        self
    }

    /// Which build of a shader compiled once per op (`// variants: OP ...`).
    pub fn variant(mut self, op: i32) -> Self {
        self.variant = Some(op);
        self
    }

    /// The floating-point operations this dispatch does (2 per multiply-add).
    pub fn flops(mut self, flops: u64) -> Self {
        self.flops = flops;
        self
    }

    /// `items` invocations of a 1-D shader.
    pub fn linear(mut self, items: usize) -> Self {
        self.grid = Grid::Linear(items as u64);
        self
    }

    /// `global` invocations per dimension in workgroups of `local`.
    pub fn tiles(mut self, global: [usize; 3], local: [u32; 3]) -> Self {
        let g = global.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        self.grid = Grid::Tiles { global: g, local };
        self
    }
}

pub mod attention;
pub mod conv;
pub mod elementwise;
pub mod layout_convert;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod quant8;
pub mod quantized;
pub mod reduce;
pub mod resample;
pub mod shape;

/// Every kernel, for the contract test and the pipeline warm-up.
pub fn all() -> Vec<&'static KernelInfo> {
    let variants = [
        &conv::CONV2D_PW.all(),
        &conv::CONV2D_DW.all(),
        &conv::CONV2D_TILED.all(),
        &elementwise::ELEMENTWISE4.all(),
        &elementwise::ELEMENTWISE4_C4.all(),
        &matmul::GEMM.all(),
    ];
    let mut all = vec![
        &attention::ATTN_SDPA.info,
        &attention::ATTN_ROWS.info,
        &attention::ATTN_ROWS_TEXEL.info,
        &attention::ATTN_ROTARY.info,
        &attention::ATTN_UPDATE_CACHE.info,
        &attention::ATTN_UPDATE_CACHES.info,
        &conv::CONV2D.info,
        &conv::CONV2D_PW_W16.info,
        &conv::CONV2D_DW_W16.info,
        &conv::CONV2D_TILED_W16.info,
        &conv::CONV2D_TILED_NCHW.f32.info,
        &conv::CONV2D_TILED_NCHW.f16.info,
        &conv::CONV2D_TILED_TEXEL_NCHW.info,
        &conv::CONV2D_PW_NCHW.f32.info,
        &conv::CONV2D_PW_NCHW.f16.info,
        &matmul::GEMM_TEXEL_W16.info,
        &conv::CONV_TRANSPOSE2D.info,
        &elementwise::BINARY.info,
        &elementwise::UNARY.info,
        &elementwise::CLAMP.info,
        &elementwise::CREATE_FILL.info,
        &layout_convert::TO_CHANNELS4.info,
        &layout_convert::FROM_CHANNELS4.info,
        &layout_convert::CONVERT.info,
        &norm::NORM_BATCH.info,
        &norm::NORM_ROWS.info,
        &norm::NORM_ROWS_TEXEL.info,
        &pool::POOL_AVG.info,
        &pool::POOL_MAX.info,
        &pool::POOL_MAX_C4.info,
        &pool::POOL_MAX_C4_F16.info,
        &quantized::LINEAR_Q4GSW.info,
        &quantized::LINEAR_DQ8CA_Q4GSW.info,
        &quantized::CHOOSE_QPARAMS.info,
        &quantized::EMBEDDING_Q4.info,
        &quant8::LINEAR_QCW.info,
        &quant8::LINEAR_Q8TA.info,
        &quant8::Q8TA_CONV2D.info,
        &quant8::Q8TA_ELEMENTWISE.info,
        &quant8::QDQ.info,
        &quant8::CHOOSE_QPARAMS_TOKEN.info,
        &reduce::REDUCE.info,
        &reduce::SOFTMAX.info,
        &reduce::ARG_REDUCE.info,
        &resample::RESAMPLE_NEAREST.info,
        &resample::RESAMPLE_BILINEAR.info,
        &resample::RESAMPLE_GRID_SAMPLE.info,
        &resample::RESAMPLE_GRID_PRIORS.info,
        &shape::COPY.info,
        &shape::CAT.info,
        &shape::SHAPE_GATHER.info,
        &shape::CAST.info,
        &shape::PERMUTE.info,
        &shape::INDEX_GATHER.info,
    ];
    all.extend(variants.iter().flat_map(|v| v.iter().copied()));
    all
}
