//! Shape and copy ops: view_copy, permute_copy, clone, _to_dim_order_copy, cat, et_vk.prepack.

pub const OPS: &[(&str, super::BuildFn)] = &[];
