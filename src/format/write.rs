//! [`Graph`] → `VH00` blob, laid out exactly as the Python exporter does: the 30-byte header
//! padded to 32, the `VK00` flatbuffer padded to 16, then the raw bytes padded to 16. Used to
//! build programs programmatically (tests, tools).
//!
//! Offsets of inline constants: a parsed graph holds *absolute* blob offsets
//! (`ConstantSource::Inline { offset, .. }` indexes the blob), but a graph being written has no
//! blob yet, so [`write_blob`] takes inline offsets *relative to its `raw_bytes` argument*
//! (serialized as `VkBytes.offset`, as the exporter does). Hence
//! `parse_blob(&write_blob(&g, raw)) == Ok(g.with_inline_base(raw_section_start))`, and exactly
//! `Ok(g)` when `g` has no inline constants. [`raw_bytes_start`] tells the section start.
//!
//! The writer does not validate: out-of-range ids, bad sizes etc. are written as given, so tests
//! can build malformed programs.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use super::graph::{ConstantSource, Graph, Value, ValueId};
use super::header::{align_up, Header, ALIGNMENT, HEADER_LEN};
use super::parse::NAMED_DATA_OFFSET;
use super::schema_generated::vkgraph as fb;

fn id_i32(id: ValueId) -> i32 {
    i32::try_from(id).expect("write_blob: value id does not fit the schema's int")
}

fn id_u32(id: ValueId) -> u32 {
    u32::try_from(id).expect("write_blob: value id does not fit the schema's uint")
}

fn dim_u32(d: usize) -> u32 {
    u32::try_from(d).expect("write_blob: tensor dim does not fit the schema's uint")
}

fn value_offset<'a>(
    b: &mut FlatBufferBuilder<'a>,
    v: &Value,
) -> (fb::GraphTypes, WIPOffset<flatbuffers::UnionWIPOffset>) {
    match v {
        Value::Null => (
            fb::GraphTypes::Null,
            fb::Null::create(b, &fb::NullArgs {}).as_union_value(),
        ),
        Value::Int(x) => (
            fb::GraphTypes::Int,
            fb::Int::create(b, &fb::IntArgs { int_val: *x }).as_union_value(),
        ),
        Value::Double(x) => (
            fb::GraphTypes::Double,
            fb::Double::create(b, &fb::DoubleArgs { double_val: *x }).as_union_value(),
        ),
        Value::Bool(x) => (
            fb::GraphTypes::Bool,
            fb::Bool::create(b, &fb::BoolArgs { bool_val: *x }).as_union_value(),
        ),
        Value::String(s) => {
            let s = b.create_string(s);
            (
                fb::GraphTypes::String,
                fb::String::create(
                    b,
                    &fb::StringArgs {
                        string_val: Some(s),
                    },
                )
                .as_union_value(),
            )
        }
        Value::IntList(items) => {
            let items = b.create_vector(items);
            (
                fb::GraphTypes::IntList,
                fb::IntList::create(b, &fb::IntListArgs { items: Some(items) }).as_union_value(),
            )
        }
        Value::DoubleList(items) => {
            let items = b.create_vector(items);
            (
                fb::GraphTypes::DoubleList,
                fb::DoubleList::create(b, &fb::DoubleListArgs { items: Some(items) })
                    .as_union_value(),
            )
        }
        Value::BoolList(items) => {
            let items = b.create_vector(items);
            (
                fb::GraphTypes::BoolList,
                fb::BoolList::create(b, &fb::BoolListArgs { items: Some(items) }).as_union_value(),
            )
        }
        Value::ValueList(items) => {
            let items: Vec<i32> = items.iter().map(|&i| id_i32(i)).collect();
            let items = b.create_vector(&items);
            (
                fb::GraphTypes::ValueList,
                fb::ValueList::create(b, &fb::ValueListArgs { items: Some(items) })
                    .as_union_value(),
            )
        }
        Value::SymInt(x) => (
            fb::GraphTypes::SymInt,
            fb::SymInt::create(b, &fb::SymIntArgs { value: *x }).as_union_value(),
        ),
        Value::Tensor(t) => {
            let dims: Vec<u32> = t.dims.iter().map(|&d| dim_u32(d)).collect();
            let dims = b.create_vector(&dims);
            let args = fb::VkTensorArgs {
                datatype: fb::VkDataType(t.dtype.to_vk()),
                dims: Some(dims),
                constant_id: t.constant.map_or(-1, |c| {
                    i32::try_from(c).expect("write_blob: constant id does not fit the schema's int")
                }),
                mem_obj_id: t.mem_obj_id.map_or(-1, |m| {
                    i32::try_from(m).expect("write_blob: mem_obj_id does not fit the schema's int")
                }),
                storage_type: fb::VkStorageType::DEFAULT_STORAGE,
                memory_layout: if t.channels_packed_hint {
                    fb::VkMemoryLayout::TENSOR_CHANNELS_PACKED
                } else {
                    fb::VkMemoryLayout::DEFAULT_LAYOUT
                },
                staging_datatype: t
                    .staging_dtype
                    .map_or(fb::VkDataType::UNSET, |d| fb::VkDataType(d.to_vk())),
            };
            (
                fb::GraphTypes::VkTensor,
                fb::VkTensor::create(b, &args).as_union_value(),
            )
        }
    }
}

/// Serializes `graph` into a bare `VK00` flatbuffer (with the file identifier). Inline constant
/// offsets are written as given (see the module docs: relative to the raw-bytes section).
/// Storage type / memory layout hints are written as the defaults (255); `shaders` is empty.
///
/// # Panics
/// When an id, dim or offset does not fit its schema type (e.g. a value id above `i32::MAX`).
pub fn write_flatbuffer(graph: &Graph) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();

    let version = b.create_string(&graph.version);

    let chain: Vec<_> = graph
        .chain
        .iter()
        .map(|op| {
            let name = b.create_string(&op.name);
            let args: Vec<i32> = op.args.iter().map(|&i| id_i32(i)).collect();
            let args = b.create_vector(&args);
            fb::OperatorCall::create(
                &mut b,
                &fb::OperatorCallArgs {
                    node_id: op.node_id,
                    name: Some(name),
                    args: Some(args),
                },
            )
        })
        .collect();
    let chain = b.create_vector(&chain);

    let values: Vec<_> = graph
        .values
        .iter()
        .map(|v| {
            let (value_type, value) = value_offset(&mut b, v);
            fb::VkValue::create(
                &mut b,
                &fb::VkValueArgs {
                    value_type,
                    value: Some(value),
                },
            )
        })
        .collect();
    let values = b.create_vector(&values);

    let input_ids: Vec<u32> = graph.input_ids.iter().map(|&i| id_u32(i)).collect();
    let input_ids = b.create_vector(&input_ids);
    let output_ids: Vec<u32> = graph.output_ids.iter().map(|&i| id_u32(i)).collect();
    let output_ids = b.create_vector(&output_ids);

    let constants: Vec<_> = graph
        .constants
        .iter()
        .map(|c| {
            let length =
                u64::try_from(c.length).expect("write_blob: constant length overflows u64");
            let args = match &c.source {
                ConstantSource::Inline { offset, .. } => fb::VkBytesArgs {
                    offset: u64::try_from(*offset)
                        .expect("write_blob: constant offset overflows u64"),
                    length,
                    named_key: None,
                },
                ConstantSource::Named { key } => fb::VkBytesArgs {
                    offset: NAMED_DATA_OFFSET,
                    length,
                    named_key: Some(b.create_string(key)),
                },
            };
            fb::VkBytes::create(&mut b, &args)
        })
        .collect();
    let constants = b.create_vector(&constants);
    let shaders = b.create_vector::<WIPOffset<fb::VkBytes>>(&[]);

    let root = fb::VkGraph::create(
        &mut b,
        &fb::VkGraphArgs {
            version: Some(version),
            chain: Some(chain),
            values: Some(values),
            input_ids: Some(input_ids),
            output_ids: Some(output_ids),
            constants: Some(constants),
            shaders: Some(shaders),
            storage_type_override: fb::VkStorageType::DEFAULT_STORAGE,
            memory_layout_override: fb::VkMemoryLayout::DEFAULT_LAYOUT,
        },
    );
    fb::finish_vk_graph_buffer(&mut b, root);
    b.finished_data().to_vec()
}

/// The absolute offset at which [`wrap_flatbuffer`] / [`write_blob`] place the raw-bytes
/// section for a flatbuffer of `flatbuffer_len` bytes: `32 + align16(flatbuffer_len)`.
pub fn raw_bytes_start(flatbuffer_len: usize) -> usize {
    let header = align_up(HEADER_LEN).unwrap_or(HEADER_LEN);
    header.saturating_add(align_up(flatbuffer_len).unwrap_or(usize::MAX))
}

/// Wraps an arbitrary flatbuffer and raw bytes into a `VH00` blob, exporter layout:
/// header padded to 32, flatbuffer padded to 16, raw bytes padded to 16. The header records the
/// unpadded sizes. Useful for crafting malformed flatbuffers in tests.
///
/// # Panics
/// When the flatbuffer or raw bytes are too large for the header's u32 fields.
pub fn wrap_flatbuffer(flatbuffer: &[u8], raw_bytes: &[u8]) -> Vec<u8> {
    let fb_start = align_up(HEADER_LEN).unwrap_or(HEADER_LEN);
    let raw_start = raw_bytes_start(flatbuffer.len());
    let header = Header {
        header_len: HEADER_LEN,
        flatbuffer: fb_start..fb_start + flatbuffer.len(),
        raw_bytes: raw_start..raw_start + raw_bytes.len(),
    };
    let encoded = header
        .encode()
        .expect("write_blob: blob too large for the VH00 header");
    let total = raw_start + align_up(raw_bytes.len()).expect("write_blob: raw bytes too large");
    debug_assert_eq!(total % ALIGNMENT, 0);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&encoded);
    out.resize(fb_start, 0);
    out.extend_from_slice(flatbuffer);
    out.resize(raw_start, 0);
    out.extend_from_slice(raw_bytes);
    out.resize(total, 0);
    out
}

/// Serializes `graph` and `raw_bytes` into a `VH00` blob (`VK00` flatbuffer, raw bytes appended,
/// 16-byte padding), the layout the Python exporter produces.
///
/// `ConstantSource::Inline { offset, .. }` offsets are taken **relative to `raw_bytes`**; after
/// parsing they become absolute (`+ raw_bytes_start(..)`), see the module docs and
/// [`Graph::with_inline_base`]. Named constants are written with `offset = u64::MAX`.
///
/// # Panics
/// When a value does not fit its schema type or the blob exceeds the header's u32 offsets.
pub fn write_blob(graph: &Graph, raw_bytes: &[u8]) -> Vec<u8> {
    wrap_flatbuffer(&write_flatbuffer(graph), raw_bytes)
}
