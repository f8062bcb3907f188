//! Blob → [`Graph`]: header, identifier, flatbuffer verifier, then a checked conversion of the
//! borrowed flatbuffer tables into the owned graph. Untrusted input never panics: every index is
//! range-checked and all size arithmetic is checked.

use flatbuffers::{Vector, VerifierOptions};

use super::graph::{Constant, ConstantSource, DType, Graph, OpCall, TensorDesc, Value, ValueId};
use super::header::Header;
use super::schema_generated::vkgraph as fb;
use crate::error::{Error, Result};
use crate::{bail, ensure};

/// The flatbuffer file identifier at bytes 4..8 of the flatbuffer.
pub const FILE_IDENTIFIER: [u8; 4] = *b"VK00";

/// `VkBytes.offset` value marking a constant stored in the NamedDataMap.
pub const NAMED_DATA_OFFSET: u64 = u64::MAX;

/// Parses a whole delegate blob (`VH00` header, `VK00` flatbuffer, raw bytes) into a [`Graph`].
///
/// Inline constants get absolute blob offsets (`ConstantSource::Inline { offset, .. }` indexes
/// `blob` directly), checked to lie inside the raw-bytes section. Every failure is
/// `ErrorKind::InvalidProgram`.
pub fn parse_blob(blob: &[u8]) -> Result<Graph> {
    let header = Header::parse(blob)?;
    let flatbuffer = section(blob, &header.flatbuffer, "flatbuffer")?;
    // The header guarantees the raw section is inside the blob; `section` re-checks anyway.
    section(blob, &header.raw_bytes, "raw bytes")?;
    parse_flatbuffer(flatbuffer, header.raw_bytes.start, header.raw_bytes.len())
}

fn section<'a>(blob: &'a [u8], r: &std::ops::Range<usize>, what: &str) -> Result<&'a [u8]> {
    match blob.get(r.clone()) {
        Some(s) => Ok(s),
        None => bail!(
            InvalidProgram,
            "{what} range {}..{} runs past the end of the {}-byte blob",
            r.start,
            r.end,
            blob.len()
        ),
    }
}

/// Verifier limits: generous enough for large LLM graphs (hundreds of thousands of values, each
/// two tables) while still bounding work on hostile input.
fn verifier_options(len: usize) -> VerifierOptions {
    VerifierOptions {
        max_depth: 64,
        max_tables: 64 * 1024 * 1024,
        max_apparent_size: len.saturating_mul(8).max(1 << 31),
        ignore_missing_null_terminator: false,
    }
}

/// Parses a bare `VK00` flatbuffer. The raw-bytes section is described by its absolute start in
/// the enclosing blob and its length: inline constants become `raw_start + VkBytes.offset` and
/// must end within `raw_start + raw_len`. (With `raw_start = 0` the offsets are relative to the
/// raw section.)
pub fn parse_flatbuffer(flatbuffer: &[u8], raw_start: usize, raw_len: usize) -> Result<Graph> {
    let ident = flatbuffer.get(4..8);
    ensure!(
        ident == Some(&FILE_IDENTIFIER[..]),
        InvalidProgram,
        "wrong flatbuffer identifier {:02x?}, expected \"VK00\"",
        ident.unwrap_or(&[])
    );
    let opts = verifier_options(flatbuffer.len());
    let root = match fb::root_as_vk_graph_with_opts(&opts, flatbuffer) {
        Ok(r) => r,
        Err(e) => bail!(
            InvalidProgram,
            "flatbuffer verifier rejected the VkGraph: {e}"
        ),
    };
    let Some(raw_end) = raw_start.checked_add(raw_len) else {
        bail!(
            InvalidProgram,
            "raw-bytes range {raw_start} + {raw_len} overflows"
        );
    };
    convert(&root, raw_start..raw_end)
}

fn convert(root: &fb::VkGraph<'_>, raw: std::ops::Range<usize>) -> Result<Graph> {
    let version = root.version().unwrap_or("").to_string();
    let num_values = root.values().map_or(0, |v| v.len());

    // Constants first so tensors can be checked against them.
    let mut constants = Vec::new();
    if let Some(cs) = root.constants() {
        constants.reserve(cs.len());
        for (i, c) in cs.iter().enumerate() {
            constants.push(convert_constant(i, &c, &raw)?);
        }
    }

    let mut values = Vec::with_capacity(num_values);
    if let Some(vs) = root.values() {
        for (id, v) in vs.iter().enumerate() {
            let value = convert_value(&v, num_values, &constants)
                .map_err(|e| e.context(format!("value {id}")))?;
            values.push(value);
        }
    }

    let mut chain = Vec::new();
    if let Some(ops) = root.chain() {
        chain.reserve(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let name = op.name().unwrap_or("").to_string();
            let args = match op.args() {
                Some(a) => a
                    .iter()
                    .map(|id| check_id_i32(id, num_values))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| e.context(format!("operator {i} ({name}) arg")))?,
                None => Vec::new(),
            };
            chain.push(OpCall {
                node_id: op.node_id(),
                name,
                args,
            });
        }
    }

    let input_ids = convert_ids(root.input_ids(), num_values, "input_ids")?;
    let output_ids = convert_ids(root.output_ids(), num_values, "output_ids")?;

    Ok(Graph {
        version,
        chain,
        values,
        input_ids,
        output_ids,
        constants,
    })
}

fn check_id(id: u64, num_values: usize) -> Result<ValueId> {
    match usize::try_from(id) {
        Ok(i) if i < num_values => Ok(i),
        _ => bail!(
            InvalidProgram,
            "value id {id} out of range (graph has {num_values} values)"
        ),
    }
}

fn check_id_i32(id: i32, num_values: usize) -> Result<ValueId> {
    match u64::try_from(id) {
        Ok(i) => check_id(i, num_values),
        Err(_) => bail!(
            InvalidProgram,
            "value id {id} out of range (graph has {num_values} values)"
        ),
    }
}

fn convert_ids(
    ids: Option<Vector<'_, u32>>,
    num_values: usize,
    what: &str,
) -> Result<Vec<ValueId>> {
    match ids {
        Some(ids) => ids
            .iter()
            .map(|id| check_id(u64::from(id), num_values))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.context(what)),
        None => Ok(Vec::new()),
    }
}

fn convert_constant(
    i: usize,
    c: &fb::VkBytes<'_>,
    raw: &std::ops::Range<usize>,
) -> Result<Constant> {
    let key = c.named_key().unwrap_or("");
    let length = match usize::try_from(c.length()) {
        Ok(l) => l,
        Err(_) => bail!(
            InvalidProgram,
            "constant {i}: length {} overflows usize",
            c.length()
        ),
    };
    if c.offset() == NAMED_DATA_OFFSET || !key.is_empty() {
        ensure!(
            !key.is_empty(),
            InvalidProgram,
            "constant {i}: named-data offset (u64::MAX) but no named_key"
        );
        return Ok(Constant {
            source: ConstantSource::Named {
                key: key.to_string(),
            },
            length,
        });
    }
    let start = usize::try_from(c.offset())
        .ok()
        .and_then(|o| raw.start.checked_add(o));
    let end = start.and_then(|s| s.checked_add(length));
    let (Some(start), Some(end)) = (start, end) else {
        bail!(
            InvalidProgram,
            "constant {i}: inline range (offset {}, length {length}) overflows",
            c.offset()
        );
    };
    ensure!(
        end <= raw.end,
        InvalidProgram,
        "constant {i}: inline range {start}..{end} (offset {}, length {length}) lies outside the raw-bytes section {}..{}",
        c.offset(),
        raw.start,
        raw.end
    );
    Ok(Constant {
        source: ConstantSource::Inline {
            offset: start,
            length,
        },
        length,
    })
}

fn vec_of<'a, T: flatbuffers::Follow<'a> + 'a>(v: Option<Vector<'a, T>>) -> Vec<T::Inner> {
    v.map_or_else(Vec::new, |v| v.iter().collect())
}

fn missing(what: &str) -> Error {
    Error::invalid_program(format!("union value missing for type {what}"))
}

fn convert_value(v: &fb::VkValue<'_>, num_values: usize, constants: &[Constant]) -> Result<Value> {
    let ty = v.value_type();
    Ok(match ty {
        fb::GraphTypes::NONE => bail!(InvalidProgram, "union value missing (type NONE)"),
        fb::GraphTypes::Null => {
            v.value_as_null().ok_or_else(|| missing("Null"))?;
            Value::Null
        }
        fb::GraphTypes::Int => {
            Value::Int(v.value_as_int().ok_or_else(|| missing("Int"))?.int_val())
        }
        fb::GraphTypes::Double => Value::Double(
            v.value_as_double()
                .ok_or_else(|| missing("Double"))?
                .double_val(),
        ),
        fb::GraphTypes::Bool => {
            Value::Bool(v.value_as_bool().ok_or_else(|| missing("Bool"))?.bool_val())
        }
        fb::GraphTypes::String => Value::String(
            v.value_as_string()
                .ok_or_else(|| missing("String"))?
                .string_val()
                .unwrap_or("")
                .to_string(),
        ),
        fb::GraphTypes::IntList => Value::IntList(vec_of(
            v.value_as_int_list()
                .ok_or_else(|| missing("IntList"))?
                .items(),
        )),
        fb::GraphTypes::DoubleList => Value::DoubleList(vec_of(
            v.value_as_double_list()
                .ok_or_else(|| missing("DoubleList"))?
                .items(),
        )),
        fb::GraphTypes::BoolList => Value::BoolList(vec_of(
            v.value_as_bool_list()
                .ok_or_else(|| missing("BoolList"))?
                .items(),
        )),
        fb::GraphTypes::ValueList => {
            let l = v
                .value_as_value_list()
                .ok_or_else(|| missing("ValueList"))?;
            let items = match l.items() {
                Some(items) => items
                    .iter()
                    .map(|i| check_id_i32(i, num_values))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| e.context("ValueList item"))?,
                None => Vec::new(),
            };
            Value::ValueList(items)
        }
        fb::GraphTypes::SymInt => Value::SymInt(
            v.value_as_sym_int()
                .ok_or_else(|| missing("SymInt"))?
                .value(),
        ),
        fb::GraphTypes::VkTensor => {
            let t = v.value_as_vk_tensor().ok_or_else(|| missing("VkTensor"))?;
            Value::Tensor(convert_tensor(&t, constants)?)
        }
        other => bail!(InvalidProgram, "unknown value type tag {}", other.0),
    })
}

fn convert_tensor(t: &fb::VkTensor<'_>, constants: &[Constant]) -> Result<TensorDesc> {
    let tag = t.datatype().0;
    let Some(dtype) = DType::from_vk(tag) else {
        bail!(InvalidProgram, "tensor has unknown or UNSET datatype {tag}");
    };
    let staging_tag = t.staging_datatype().0;
    let staging_dtype = if staging_tag == fb::VkDataType::UNSET.0 {
        None
    } else {
        match DType::from_vk(staging_tag) {
            Some(d) => Some(d),
            None => bail!(
                InvalidProgram,
                "tensor has unknown staging_datatype {staging_tag}"
            ),
        }
    };
    let mut dims = Vec::new();
    let mut nbytes = Some(dtype.size());
    if let Some(d) = t.dims() {
        dims.reserve(d.len());
        for x in d.iter() {
            let x = match usize::try_from(x) {
                Ok(x) => x,
                Err(_) => bail!(InvalidProgram, "tensor dim {x} overflows usize"),
            };
            nbytes = nbytes.and_then(|n| n.checked_mul(x));
            dims.push(x);
        }
    }
    // Bounding numel * elem size here keeps `TensorDesc::numel` overflow-free downstream; the
    // GPU copy takes 4 bytes per element whatever the dtype (the runtime's GPU_ELEM_SIZE), so
    // that must fit too (a 32-bit usize overflows there first). With a zero dim the product
    // says nothing about the others: the product of the nonzero dims must fit as well, so
    // that every partial product an op computes (rows, planes, strides) fits.
    let gpu_bytes = nbytes.and_then(|n| (n / dtype.size()).checked_mul(4));
    let nonzero = dims
        .iter()
        .try_fold(8usize, |n, &d| n.checked_mul(d.max(1)));
    let (Some(nbytes), Some(_), Some(_)) = (nbytes, gpu_bytes, nonzero) else {
        bail!(
            InvalidProgram,
            "tensor size of dims {dims:?} x {dtype:?} overflows"
        );
    };
    let constant = match t.constant_id() {
        c if c < 0 => None,
        c => {
            let idx = usize::try_from(c).unwrap_or(usize::MAX);
            let Some(constant) = constants.get(idx) else {
                bail!(
                    InvalidProgram,
                    "tensor constant_id {c} out of range ({} constants)",
                    constants.len()
                );
            };
            ensure!(
                constant.length == nbytes,
                InvalidProgram,
                "tensor constant {c} size mismatch: dims {dims:?} x {dtype:?} = {nbytes} bytes, but the constant is {} bytes",
                constant.length
            );
            Some(idx)
        }
    };
    let mem_obj_id = u32::try_from(t.mem_obj_id()).ok();
    Ok(TensorDesc {
        dtype,
        dims,
        constant,
        mem_obj_id,
        staging_dtype,
        channels_packed_hint: t.memory_layout() == fb::VkMemoryLayout::TENSOR_CHANNELS_PACKED,
    })
}
