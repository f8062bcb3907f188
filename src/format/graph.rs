//! The owned, validated description of one delegate's graph: what the blob says, with every
//! value id checked to be in range. Nothing here touches the GPU.

/// Element types as the exporter serializes them (`VkDataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    Uint8,
    Int8,
    Int32,
    Float16,
    Float32,
    Float64,
    Int64,
}

impl DType {
    /// Bytes per element in the serialized (and ExecuTorch-side) representation.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::Uint8 | DType::Int8 => 1,
            DType::Float16 => 2,
            DType::Int32 | DType::Float32 => 4,
            DType::Float64 | DType::Int64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::Float16 | DType::Float32 | DType::Float64)
    }

    /// The `VkDataType` tag; `None` for UNSET (127) and unknown tags.
    pub fn from_vk(tag: i8) -> Option<DType> {
        Some(match tag {
            0 => DType::Bool,
            1 => DType::Uint8,
            2 => DType::Int8,
            3 => DType::Int32,
            4 => DType::Float16,
            5 => DType::Float32,
            6 => DType::Float64,
            7 => DType::Int64,
            _ => return None,
        })
    }

    /// The `VkDataType` tag of this dtype (inverse of [`DType::from_vk`]).
    pub fn to_vk(self) -> i8 {
        match self {
            DType::Bool => 0,
            DType::Uint8 => 1,
            DType::Int8 => 2,
            DType::Int32 => 3,
            DType::Float16 => 4,
            DType::Float32 => 5,
            DType::Float64 => 6,
            DType::Int64 => 7,
        }
    }
}

/// Index into [`Graph::values`].
pub type ValueId = usize;

/// Where a constant's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConstantSource {
    /// Inline in the blob: absolute byte range inside the blob's raw-bytes section.
    Inline { offset: usize, length: usize },
    /// In ExecuTorch's NamedDataMap under this key.
    Named { key: String },
}

/// A tensor value. `dims` are sizes, or upper bounds for dynamic shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDesc {
    pub dtype: DType,
    pub dims: Vec<usize>,
    /// Index into [`Graph::constants`] when this tensor is a weight.
    pub constant: Option<usize>,
    /// The exporter's shared memory object id, when it planned one.
    pub mem_obj_id: Option<u32>,
    /// The dtype at the delegate boundary when it differs from `dtype` (cast at I/O).
    pub staging_dtype: Option<DType>,
    /// The exporter asked for `TENSOR_CHANNELS_PACKED` (its layout hint): where an op may
    /// produce either layout, etvk follows the hint.
    pub channels_packed_hint: bool,
}

impl TensorDesc {
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }
}

/// One entry of `VkGraph.values`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Double(f64),
    Bool(bool),
    String(String),
    Tensor(TensorDesc),
    IntList(Vec<i64>),
    DoubleList(Vec<f64>),
    BoolList(Vec<bool>),
    /// Value ids (all checked in range), e.g. a list of tensors.
    ValueList(Vec<ValueId>),
    /// A symbolic int; the payload is its value at export time.
    SymInt(i32),
}

impl Value {
    /// A short name of the variant for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Int(_) => "Int",
            Value::Double(_) => "Double",
            Value::Bool(_) => "Bool",
            Value::String(_) => "String",
            Value::Tensor(_) => "Tensor",
            Value::IntList(_) => "IntList",
            Value::DoubleList(_) => "DoubleList",
            Value::BoolList(_) => "BoolList",
            Value::ValueList(_) => "ValueList",
            Value::SymInt(_) => "SymInt",
        }
    }
}

/// One `OperatorCall` of the chain. `args` are value ids (checked in range); outputs come last.
#[derive(Debug, Clone, PartialEq)]
pub struct OpCall {
    pub node_id: u32,
    pub name: String,
    pub args: Vec<ValueId>,
}

/// A constant: its serialized location and byte length (checked to equal
/// `prod(dims) * elem_size` of every tensor that refers to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constant {
    pub source: ConstantSource,
    /// Byte length when known from the blob (`VkBytes.length`); named data is checked at fetch.
    pub length: usize,
}

/// The whole delegate graph.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub version: String,
    pub chain: Vec<OpCall>,
    pub values: Vec<Value>,
    pub input_ids: Vec<ValueId>,
    pub output_ids: Vec<ValueId>,
    pub constants: Vec<Constant>,
}

impl Graph {
    /// The tensor description of value `id`, if it is a tensor.
    pub fn tensor(&self, id: ValueId) -> Option<&TensorDesc> {
        match self.values.get(id) {
            Some(Value::Tensor(t)) => Some(t),
            _ => None,
        }
    }

    /// A copy with `base` added to every inline constant offset (saturating). `write_blob` takes
    /// inline offsets relative to its raw bytes while `parse_blob` yields absolute blob offsets,
    /// so `parse_blob(&write_blob(&g, raw))? == g.with_inline_base(header.raw_bytes.start)`.
    pub fn with_inline_base(&self, base: usize) -> Graph {
        let mut g = self.clone();
        for c in &mut g.constants {
            if let ConstantSource::Inline { offset, .. } = &mut c.source {
                *offset = offset.saturating_add(base);
            }
        }
        g
    }
}
