//! A minimal `.npy` reader (v1–v3 headers, little-endian, C order) for test fixtures.

use etvk::format::DType;
use etvk::runtime::HostTensor;

/// Reads a `.npy` file into a host tensor.
pub fn read_npy(path: &std::path::Path) -> HostTensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{} is not .npy", path.display());
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    let field = |name: &str| -> &str {
        let at = header
            .find(name)
            .unwrap_or_else(|| panic!("{name} missing in {header}"));
        &header[at + name.len()..]
    };
    let descr = field("'descr': '");
    let descr = &descr[..descr.find('\'').unwrap()];
    assert!(
        !field("'fortran_order': ").starts_with("True"),
        "fortran order unsupported"
    );
    let shape = field("'shape': (");
    let shape = &shape[..shape.find(')').unwrap()];
    let sizes: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let dtype = match descr {
        "<f4" => DType::Float32,
        "<f2" => DType::Float16,
        "<f8" => DType::Float64,
        "<i4" => DType::Int32,
        "<i8" => DType::Int64,
        "|i1" => DType::Int8,
        "|u1" => DType::Uint8,
        "|b1" => DType::Bool,
        other => panic!("unsupported npy dtype {other}"),
    };
    HostTensor::new(dtype, sizes, bytes[start + header_len..].to_vec()).unwrap()
}
