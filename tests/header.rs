//! `include/etvk.h` must be what cbindgen generates from `src/capi.rs` with `cbindgen.toml`.
//! `make header` (or `ETVK_BLESS_HEADER=1 cargo test --test header`) rewrites it.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/capi.rs"))
        .generate()
        .expect("cbindgen failed on src/capi.rs");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let path = root.join("include/etvk.h");
    if std::env::var_os("ETVK_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/etvk.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/etvk.h is stale or missing: run `make header`\n--- generated ---\n{generated}"
    );
}
