//! The `format` layer: VH00 header, VK00 flatbuffer, conversion into the owned graph, and the
//! writer used to build programs in tests.

use etvk::format::header::{Header, HEADER_LEN};
use etvk::format::parse::parse_flatbuffer;
use etvk::format::schema_generated::vkgraph as fb;
use etvk::format::write::{raw_bytes_start, wrap_flatbuffer, write_flatbuffer};
use etvk::format::{
    parse_blob, write_blob, Constant, ConstantSource, DType, Graph, OpCall, TensorDesc, Value,
};
use etvk::ErrorKind;

fn tensor(dtype: DType, dims: &[usize]) -> Value {
    Value::Tensor(TensorDesc {
        dtype,
        dims: dims.to_vec(),
        constant: None,
        mem_obj_id: None,
        staging_dtype: None,
        channels_packed_hint: false,
    })
}

fn const_tensor(dtype: DType, dims: &[usize], constant: usize) -> Value {
    Value::Tensor(TensorDesc {
        dtype,
        dims: dims.to_vec(),
        constant: Some(constant),
        mem_obj_id: None,
        staging_dtype: None,
        channels_packed_hint: false,
    })
}

/// A graph touching every value kind, inline and named constants.
/// Returns the graph and its raw bytes (inline offsets relative to them).
fn sample_graph() -> (Graph, Vec<u8>) {
    let mut raw = vec![0u8; 48];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = i as u8;
    }
    let g = Graph {
        version: "0".to_string(),
        values: vec![
            // 0: input
            Value::Tensor(TensorDesc {
                dtype: DType::Float32,
                dims: vec![2, 3],
                constant: None,
                mem_obj_id: Some(0),
                staging_dtype: Some(DType::Float16),
                channels_packed_hint: false,
            }),
            // 1: inline weight, 6 * 4 = 24 bytes at raw offset 16
            const_tensor(DType::Float32, &[2, 3], 0),
            // 2: named weight, 3 * 8 = 24 bytes
            const_tensor(DType::Int64, &[3], 1),
            // 3: empty inline weight
            const_tensor(DType::Float16, &[0, 4], 2),
            Value::Null,
            Value::Int(-7),
            Value::Double(1.5),
            Value::Bool(true),
            Value::String("hello".to_string()),
            Value::IntList(vec![1, -2, i64::MAX]),
            Value::DoubleList(vec![0.25, -3.0]),
            Value::BoolList(vec![true, false, true]),
            Value::ValueList(vec![0, 1, 2]),
            Value::SymInt(42),
            // 14: output
            Value::Tensor(TensorDesc {
                dtype: DType::Int32,
                dims: vec![2, 3],
                constant: None,
                mem_obj_id: Some(3),
                staging_dtype: Some(DType::Int64),
                channels_packed_hint: false,
            }),
            tensor(DType::Bool, &[1]),
            tensor(DType::Uint8, &[1]),
            tensor(DType::Int8, &[1]),
            tensor(DType::Float64, &[]),
        ],
        chain: vec![
            OpCall {
                node_id: 0,
                name: "et_vk.prepack.default".into(),
                args: vec![1, 15],
            },
            OpCall {
                node_id: 1,
                name: "aten.add.Tensor".into(),
                args: vec![0, 1, 5, 14],
            },
            OpCall {
                node_id: 7,
                name: "".into(),
                args: vec![],
            },
        ],
        input_ids: vec![0],
        output_ids: vec![14],
        constants: vec![
            Constant {
                source: ConstantSource::Inline {
                    offset: 16,
                    length: 24,
                },
                length: 24,
            },
            Constant {
                source: ConstantSource::Named {
                    key: "3f0c9e5d7a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5".into(),
                },
                length: 24,
            },
            Constant {
                source: ConstantSource::Inline {
                    offset: 48,
                    length: 0,
                },
                length: 0,
            },
        ],
    };
    (g, raw)
}

/// A graph with only named constants (the current exporter's form): round-trips exactly.
fn named_graph() -> Graph {
    Graph {
        version: "1".into(),
        values: vec![
            tensor(DType::Float32, &[4]),
            const_tensor(DType::Float32, &[4], 0),
            const_tensor(DType::Float32, &[2, 2], 0),
            tensor(DType::Float32, &[4]),
        ],
        chain: vec![OpCall {
            node_id: 3,
            name: "aten.add.Tensor".into(),
            args: vec![0, 1, 3],
        }],
        input_ids: vec![0],
        output_ids: vec![3],
        constants: vec![Constant {
            source: ConstantSource::Named { key: "abc".into() },
            length: 16,
        }],
    }
}

#[track_caller]
fn expect_invalid(blob: &[u8], words: &[&str]) -> String {
    match parse_blob(blob) {
        Ok(g) => panic!("expected InvalidProgram containing {words:?}, parsed {g:?}"),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidProgram, "{e}");
            for w in words {
                assert!(e.message.contains(w), "message {:?} lacks {w:?}", e.message);
            }
            e.message
        }
    }
}

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn set_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Round trips and layout

#[test]
fn round_trip_all_value_kinds() {
    let (g, raw) = sample_graph();
    let blob = write_blob(&g, &raw);
    let h = Header::parse(&blob).unwrap();
    let parsed = parse_blob(&blob).unwrap();
    assert_eq!(parsed, g.with_inline_base(h.raw_bytes.start));
    // Inline offsets are absolute: they index the blob directly.
    match parsed.constants[0].source {
        ConstantSource::Inline { offset, length } => {
            assert_eq!(&blob[offset..offset + length], &raw[16..40]);
        }
        ref s => panic!("{s:?}"),
    }
    assert_eq!(parsed.tensor(1).unwrap().constant, Some(0));
    assert!(parsed.tensor(4).is_none());
}

#[test]
fn round_trip_named_only_is_exact() {
    let g = named_graph();
    assert_eq!(parse_blob(&write_blob(&g, &[])).unwrap(), g);
    let empty = Graph::default();
    assert_eq!(parse_blob(&write_blob(&empty, &[])).unwrap(), empty);
}

#[test]
fn blob_layout_matches_exporter() {
    let (g, raw) = sample_graph();
    let fbuf = write_flatbuffer(&g);
    let blob = write_blob(&g, &raw);
    assert_eq!(&blob[0..4], &[0, 0, 0, 0]);
    assert_eq!(&blob[4..8], b"VH00");
    assert_eq!(u16::from_le_bytes([blob[8], blob[9]]), HEADER_LEN as u16);
    let h = Header::parse(&blob).unwrap();
    assert_eq!(h.header_len, 30);
    assert_eq!(h.flatbuffer, 32..32 + fbuf.len());
    assert_eq!(&blob[h.flatbuffer.clone()], &fbuf[..]);
    assert_eq!(
        &blob[h.flatbuffer.start + 4..h.flatbuffer.start + 8],
        b"VK00"
    );
    assert_eq!(h.raw_bytes.start, raw_bytes_start(fbuf.len()));
    assert_eq!(h.raw_bytes.start % 16, 0);
    assert_eq!(h.raw_bytes.len(), raw.len());
    assert_eq!(&blob[h.raw_bytes.clone()], &raw[..]);
    assert_eq!(blob.len() % 16, 0);
    assert_eq!(h.encode().unwrap(), blob[..30]);
    // parse_flatbuffer on the bare flatbuffer with a relative raw section: offsets stay relative.
    assert_eq!(parse_flatbuffer(&fbuf, 0, raw.len()).unwrap(), g);
}

#[test]
fn raw_section_with_odd_length_is_padded() {
    let g = Graph {
        values: vec![const_tensor(DType::Uint8, &[5], 0)],
        constants: vec![Constant {
            source: ConstantSource::Inline {
                offset: 0,
                length: 5,
            },
            length: 5,
        }],
        ..Graph::default()
    };
    let blob = write_blob(&g, &[1, 2, 3, 4, 5]);
    assert_eq!(blob.len() % 16, 0);
    let h = Header::parse(&blob).unwrap();
    assert_eq!(h.raw_bytes.len(), 5);
    assert_eq!(
        parse_blob(&blob).unwrap(),
        g.with_inline_base(h.raw_bytes.start)
    );
}

// ---------------------------------------------------------------------------------------------
// Header

#[test]
fn header_too_short() {
    let blob = write_blob(&named_graph(), &[]);
    for n in [0, 1, 8, 29] {
        expect_invalid(&blob[..n], &["shorter"]);
    }
}

#[test]
fn header_wrong_magic() {
    let mut blob = write_blob(&named_graph(), &[]);
    blob[4..8].copy_from_slice(b"VH01");
    expect_invalid(&blob, &["magic"]);
}

#[test]
fn header_length_too_small() {
    let mut blob = write_blob(&named_graph(), &[]);
    set_u16(&mut blob, 8, 29);
    expect_invalid(&blob, &["header length", "29"]);
    let mut blob = write_blob(&named_graph(), &[]);
    set_u16(&mut blob, 8, u16::MAX);
    expect_invalid(&blob, &["header length"]);
}

#[test]
fn header_zero_flatbuffer_size() {
    let mut blob = write_blob(&named_graph(), &[]);
    set_u32(&mut blob, 14, 0);
    expect_invalid(&blob, &["zero flatbuffer size"]);
}

#[test]
fn header_flatbuffer_past_end() {
    let mut blob = write_blob(&named_graph(), &[]);
    let len = blob.len() as u32;
    set_u32(&mut blob, 14, len);
    expect_invalid(&blob, &["flatbuffer", "past the end"]);
    let mut blob = write_blob(&named_graph(), &[]);
    set_u32(&mut blob, 10, u32::MAX);
    set_u32(&mut blob, 14, u32::MAX);
    expect_invalid(&blob, &["flatbuffer"]);
}

#[test]
fn header_flatbuffer_overlaps_header() {
    let mut blob = write_blob(&named_graph(), &[]);
    set_u32(&mut blob, 10, 0);
    expect_invalid(&blob, &["flatbuffer", "overlaps", "header"]);
}

#[test]
fn header_raw_bytes_past_end() {
    let (g, raw) = sample_graph();
    let mut blob = write_blob(&g, &raw);
    let len = blob.len() as u64;
    set_u64(&mut blob, 22, len);
    expect_invalid(&blob, &["raw-bytes", "past the end"]);
    let mut blob = write_blob(&g, &raw);
    set_u32(&mut blob, 18, u32::MAX);
    expect_invalid(&blob, &["raw-bytes", "past the end"]);
}

#[test]
fn header_raw_bytes_overlap() {
    let (g, raw) = sample_graph();
    let blob = write_blob(&g, &raw);
    let h = Header::parse(&blob).unwrap();
    // Raw section starting inside the flatbuffer.
    let mut b = blob.clone();
    set_u32(&mut b, 18, (h.flatbuffer.end - 8) as u32);
    expect_invalid(&b, &["raw-bytes", "overlaps the flatbuffer"]);
    // Raw section starting inside the header.
    let mut b = blob.clone();
    set_u32(&mut b, 18, 4);
    set_u64(&mut b, 22, 8);
    expect_invalid(&b, &["raw-bytes", "overlaps", "header"]);
    // An empty raw section overlaps nothing.
    let mut b = write_blob(&named_graph(), &[]);
    set_u32(&mut b, 18, 40);
    parse_blob(&b).unwrap();
}

#[test]
fn header_arithmetic_overflow() {
    let (g, raw) = sample_graph();
    let mut blob = write_blob(&g, &raw);
    set_u64(&mut blob, 22, u64::MAX);
    expect_invalid(&blob, &["raw-bytes", "overflow"]);
}

#[test]
fn wrong_flatbuffer_identifier() {
    let mut blob = write_blob(&named_graph(), &[]);
    blob[32 + 4..32 + 8].copy_from_slice(b"VK01");
    expect_invalid(&blob, &["identifier"]);
    // A flatbuffer too short to hold an identifier.
    let blob = wrap_flatbuffer(&[0, 0, 0], &[]);
    expect_invalid(&blob, &["identifier"]);
}

#[test]
fn flatbuffer_verifier_runs() {
    let mut blob = write_blob(&named_graph(), &[]);
    // Root offset pointing far past the flatbuffer.
    set_u32(&mut blob, 32, 0x7fff_fff0);
    expect_invalid(&blob, &["verifier"]);
    // Root table at the identifier, whose soffset then points the vtable out of the buffer.
    let blob = wrap_flatbuffer(&[4, 0, 0, 0, b'V', b'K', b'0', b'0'], &[]);
    expect_invalid(&blob, &["verifier"]);
}

// ---------------------------------------------------------------------------------------------
// Graph conversion

#[test]
fn value_id_out_of_range() {
    let base = named_graph();
    let n = base.values.len();

    let mut g = base.clone();
    g.chain[0].args.push(n);
    let m = expect_invalid(&write_blob(&g, &[]), &["out of range", &n.to_string()]);
    assert!(m.contains("operator"), "{m}");

    let mut g = base.clone();
    g.values.push(Value::ValueList(vec![0, n + 7]));
    expect_invalid(
        &write_blob(&g, &[]),
        &["out of range", &(n + 7).to_string(), "ValueList"],
    );

    let mut g = base.clone();
    g.input_ids.push(n);
    expect_invalid(&write_blob(&g, &[]), &["out of range", "input_ids"]);

    let mut g = base.clone();
    g.output_ids = vec![1000];
    expect_invalid(
        &write_blob(&g, &[]),
        &["out of range", "output_ids", "1000"],
    );
}

/// Builds a one-value graph flatbuffer around a custom VkValue.
fn one_value_blob(
    make: impl for<'a> FnOnce(
        &mut flatbuffers::FlatBufferBuilder<'a>,
    ) -> flatbuffers::WIPOffset<fb::VkValue<'a>>,
    op_args: &[i32],
) -> Vec<u8> {
    let mut b = flatbuffers::FlatBufferBuilder::new();
    let v = make(&mut b);
    let values = b.create_vector(&[v]);
    let args = b.create_vector(op_args);
    let op = fb::OperatorCall::create(
        &mut b,
        &fb::OperatorCallArgs {
            node_id: 0,
            name: None,
            args: Some(args),
        },
    );
    let chain = b.create_vector(&[op]);
    let key = b.create_string("k");
    let c = fb::VkBytes::create(
        &mut b,
        &fb::VkBytesArgs {
            offset: u64::MAX,
            length: 4,
            named_key: Some(key),
        },
    );
    let constants = b.create_vector(&[c]);
    let root = fb::VkGraph::create(
        &mut b,
        &fb::VkGraphArgs {
            values: Some(values),
            chain: Some(chain),
            constants: Some(constants),
            ..Default::default()
        },
    );
    fb::finish_vk_graph_buffer(&mut b, root);
    wrap_flatbuffer(b.finished_data(), &[])
}

fn tensor_blob(
    datatype: i8,
    staging: i8,
    mem_obj_id: i32,
    constant_id: i32,
    dims: &[u32],
) -> Vec<u8> {
    one_value_blob(
        |b| {
            let dims = b.create_vector(dims);
            let t = fb::VkTensor::create(
                b,
                &fb::VkTensorArgs {
                    datatype: fb::VkDataType(datatype),
                    dims: Some(dims),
                    constant_id,
                    mem_obj_id,
                    storage_type: fb::VkStorageType::TEXTURE_3D,
                    memory_layout: fb::VkMemoryLayout::TENSOR_CHANNELS_PACKED,
                    staging_datatype: fb::VkDataType(staging),
                },
            );
            fb::VkValue::create(
                b,
                &fb::VkValueArgs {
                    value_type: fb::GraphTypes::VkTensor,
                    value: Some(t.as_union_value()),
                },
            )
        },
        &[0],
    )
}

#[test]
fn tensor_fields_from_raw_flatbuffer() {
    let g = parse_blob(&tensor_blob(5, 127, -5, -1, &[2, 3])).unwrap();
    let t = g.tensor(0).unwrap();
    assert_eq!(t.dtype, DType::Float32);
    assert_eq!(t.dims, vec![2, 3]);
    assert_eq!(t.mem_obj_id, None);
    assert_eq!(t.staging_dtype, None);
    assert_eq!(t.constant, None);
    assert_eq!(g.version, "");
    assert_eq!(g.chain[0].name, "");

    let g = parse_blob(&tensor_blob(3, 7, 9, 0, &[1])).unwrap();
    let t = g.tensor(0).unwrap();
    assert_eq!(
        (t.dtype, t.staging_dtype, t.mem_obj_id, t.constant),
        (DType::Int32, Some(DType::Int64), Some(9), Some(0))
    );
}

#[test]
fn tensor_dtype_unset_or_unknown() {
    let m = expect_invalid(&tensor_blob(127, 127, -1, -1, &[1]), &["datatype", "127"]);
    assert!(m.contains("value 0"), "{m}");
    expect_invalid(
        &tensor_blob(42, 127, -1, -1, &[1]),
        &["datatype", "42", "value 0"],
    );
    expect_invalid(
        &tensor_blob(-1, 127, -1, -1, &[1]),
        &["datatype", "value 0"],
    );
    expect_invalid(
        &tensor_blob(5, 99, -1, -1, &[1]),
        &["staging_datatype", "99"],
    );
}

#[test]
fn tensor_constant_id_out_of_range() {
    expect_invalid(
        &tensor_blob(5, 127, -1, 1, &[1]),
        &["constant_id", "out of range", "value 0"],
    );
    expect_invalid(
        &tensor_blob(5, 127, -1, i32::MAX, &[1]),
        &["constant_id", "out of range"],
    );
}

#[test]
fn tensor_size_overflow() {
    expect_invalid(
        &tensor_blob(7, 127, -1, -1, &[u32::MAX; 4]),
        &["overflow", "value 0"],
    );
    // A Bool tensor of ~2^63 elements: its bytes fit a 64-bit usize, its GPU copy (4 bytes per
    // element) does not.
    expect_invalid(
        &tensor_blob(0, 127, -1, -1, &[u32::MAX, 1 << 31]),
        &["overflow", "value 0"],
    );
}

#[test]
fn constant_size_mismatch() {
    // Constant 0 in one_value_blob is 4 bytes; an f32 [2] tensor needs 8.
    let m = expect_invalid(
        &tensor_blob(5, 127, -1, 0, &[2]),
        &["mismatch", "value 0", "[2]", "Float32", "8", "4"],
    );
    assert!(m.contains("constant 0"), "{m}");
    // Via the writer, with an inline constant.
    let mut g = named_graph();
    g.values[2] = const_tensor(DType::Float16, &[3, 3], 0);
    expect_invalid(
        &write_blob(&g, &[]),
        &["mismatch", "value 2", "[3, 3]", "Float16", "18", "16"],
    );
    // The matching size passes (4 bytes = one f32).
    parse_blob(&tensor_blob(5, 127, -1, 0, &[1])).unwrap();
}

#[test]
fn union_value_missing_or_unknown() {
    let none = one_value_blob(
        |b| {
            fb::VkValue::create(
                b,
                &fb::VkValueArgs {
                    value_type: fb::GraphTypes::NONE,
                    value: None,
                },
            )
        },
        &[],
    );
    expect_invalid(&none, &["missing", "value 0"]);

    // A type tag without the table (the verifier rejects it).
    let no_table = one_value_blob(
        |b| {
            fb::VkValue::create(
                b,
                &fb::VkValueArgs {
                    value_type: fb::GraphTypes::Int,
                    value: None,
                },
            )
        },
        &[],
    );
    expect_invalid(&no_table, &["verifier", "union"]);

    // A tag this schema does not know (a newer exporter's type).
    let unknown = one_value_blob(
        |b| {
            let n = fb::Null::create(b, &fb::NullArgs {});
            fb::VkValue::create(
                b,
                &fb::VkValueArgs {
                    value_type: fb::GraphTypes(12),
                    value: Some(n.as_union_value()),
                },
            )
        },
        &[],
    );
    expect_invalid(&unknown, &["unknown value type", "12"]);
}

#[test]
fn negative_op_arg_is_out_of_range() {
    let blob = one_value_blob(
        |b| {
            let n = fb::Null::create(b, &fb::NullArgs {});
            fb::VkValue::create(
                b,
                &fb::VkValueArgs {
                    value_type: fb::GraphTypes::Null,
                    value: Some(n.as_union_value()),
                },
            )
        },
        &[0, -1],
    );
    expect_invalid(&blob, &["out of range", "-1"]);
}

fn constants_blob(entries: &[(u64, u64, Option<&str>)], raw: &[u8]) -> Vec<u8> {
    let mut b = flatbuffers::FlatBufferBuilder::new();
    let cs: Vec<_> = entries
        .iter()
        .map(|&(offset, length, key)| {
            let named_key = key.map(|k| b.create_string(k));
            fb::VkBytes::create(
                &mut b,
                &fb::VkBytesArgs {
                    offset,
                    length,
                    named_key,
                },
            )
        })
        .collect();
    let constants = b.create_vector(&cs);
    let root = fb::VkGraph::create(
        &mut b,
        &fb::VkGraphArgs {
            constants: Some(constants),
            ..Default::default()
        },
    );
    fb::finish_vk_graph_buffer(&mut b, root);
    wrap_flatbuffer(b.finished_data(), raw)
}

#[test]
fn named_key_constants() {
    let raw = [0u8; 32];
    let blob = constants_blob(
        &[
            (u64::MAX, 64, Some("deadbeef")),
            // A non-empty key wins even with an ordinary offset.
            (16, 8, Some("cafe")),
            (16, 16, None),
            (0, 0, Some("")),
        ],
        &raw,
    );
    let start = Header::parse(&blob).unwrap().raw_bytes.start;
    let g = parse_blob(&blob).unwrap();
    assert_eq!(
        g.constants,
        vec![
            Constant {
                source: ConstantSource::Named {
                    key: "deadbeef".into()
                },
                length: 64
            },
            Constant {
                source: ConstantSource::Named { key: "cafe".into() },
                length: 8
            },
            Constant {
                source: ConstantSource::Inline {
                    offset: start + 16,
                    length: 16
                },
                length: 16
            },
            Constant {
                source: ConstantSource::Inline {
                    offset: start,
                    length: 0
                },
                length: 0
            },
        ]
    );
    // The same key may back several constants.
    let blob = constants_blob(&[(u64::MAX, 4, Some("k")), (u64::MAX, 4, Some("k"))], &[]);
    assert_eq!(parse_blob(&blob).unwrap().constants.len(), 2);
    // Named-data offset without a key.
    expect_invalid(
        &constants_blob(&[(u64::MAX, 4, None)], &[]),
        &["named_key", "constant 0"],
    );
    expect_invalid(
        &constants_blob(&[(u64::MAX, 4, Some(""))], &[]),
        &["named_key"],
    );
}

#[test]
fn inline_constant_outside_raw_section() {
    let raw = [0u8; 32];
    parse_blob(&constants_blob(&[(0, 32, None), (32, 0, None)], &raw)).unwrap();
    expect_invalid(
        &constants_blob(&[(0, 33, None)], &raw),
        &["constant 0", "outside"],
    );
    expect_invalid(
        &constants_blob(&[(16, 8, None), (40, 8, None)], &raw),
        &["constant 1", "outside"],
    );
    expect_invalid(
        &constants_blob(&[(u64::MAX - 1, 8, None)], &raw),
        &["constant 0"],
    );
    expect_invalid(
        &constants_blob(&[(8, u64::MAX - 4, None)], &raw),
        &["constant 0"],
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness: no panics on any input

#[test]
fn truncations_never_panic() {
    let (g, raw) = sample_graph();
    let blob = write_blob(&g, &raw);
    let raw_end = Header::parse(&blob).unwrap().raw_bytes.end;
    for n in 0..blob.len() {
        let r = parse_blob(&blob[..n]);
        if n < raw_end {
            assert_eq!(r.unwrap_err().kind, ErrorKind::InvalidProgram, "len {n}");
        }
    }
    // Truncating the flatbuffer itself (header kept consistent) must also fail cleanly.
    let fbuf = write_flatbuffer(&g);
    for n in 0..fbuf.len() {
        if let Err(e) = parse_blob(&wrap_flatbuffer(&fbuf[..n], &raw)) {
            assert_eq!(e.kind, ErrorKind::InvalidProgram);
        }
    }
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let (g, raw) = sample_graph();
    let blob = write_blob(&g, &raw);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let mut b = blob.clone();
        let flips = 1 + rng.next() % 4;
        for _ in 0..flips {
            let at = (rng.next() % b.len() as u64) as usize;
            b[at] ^= (1 + rng.next() % 255) as u8;
        }
        match parse_blob(&b) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::InvalidProgram);
                err += 1;
            }
        }
    }
    assert!(err > 0 && ok + err == 3000);
}

// ---------------------------------------------------------------------------------------------
// Real exporter output

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Parses one real delegate blob and checks what the exporter promises beyond the parser's own
/// checks: the writer reproduces it, and named constants match `named/<key>.bin` when present.
fn check_real_blob(blob: &[u8], what: &str, named_dir: Option<&std::path::Path>) {
    let g = parse_blob(blob).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!g.values.is_empty(), "{what}");
    assert!(!g.chain.is_empty(), "{what}");
    // Re-serializing with our writer gives the same graph back.
    let raw_range = Header::parse(blob).unwrap().raw_bytes;
    let mut relative = g.clone();
    for c in &mut relative.constants {
        if let ConstantSource::Inline { offset, .. } = &mut c.source {
            *offset -= raw_range.start;
        }
    }
    let again = write_blob(&relative, &blob[raw_range]);
    let start = Header::parse(&again).unwrap().raw_bytes.start;
    assert_eq!(
        parse_blob(&again).unwrap(),
        relative.with_inline_base(start),
        "{what}"
    );
    if let Some(named) = named_dir {
        for (i, c) in g.constants.iter().enumerate() {
            if let ConstantSource::Named { key } = &c.source {
                if let Ok(m) = std::fs::metadata(named.join(format!("{key}.bin"))) {
                    assert_eq!(m.len() as usize, c.length, "{what}: constant {i} ({key})");
                }
            }
        }
    }
}

/// Real exporter output under tests/fixtures (and `$ETVK_PTE_DIR`, if set), searched
/// recursively: every `delegate*.bin` (a `processed` blob) parses, and so does every `VH00` blob
/// found inside a `.pte` by its magic `00000000 "VH00"` (no .pte parsing: the header bounds it).
#[test]
fn fixtures_parse() {
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    if let Some(d) = std::env::var_os("ETVK_PTE_DIR") {
        walk(std::path::Path::new(&d), &mut files);
    }
    let (mut bins, mut embedded) = (0, 0);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let named = path.parent().map(|p| p.join("named"));
        if name.starts_with("delegate") && name.ends_with(".bin") {
            let data = std::fs::read(&path).unwrap();
            check_real_blob(&data, &path.display().to_string(), named.as_deref());
            bins += 1;
        } else if name.ends_with(".pte") {
            let data = std::fs::read(&path).unwrap();
            for pos in 4..data.len().saturating_sub(4) {
                if &data[pos..pos + 4] == b"VH00" && data[pos - 4..pos] == [0, 0, 0, 0] {
                    let what = format!("{}@{}", path.display(), pos - 4);
                    check_real_blob(&data[pos - 4..], &what, None);
                    embedded += 1;
                }
            }
        }
    }
    eprintln!("fixtures: {bins} delegate .bin blob(s), {embedded} blob(s) inside .pte files");
}
