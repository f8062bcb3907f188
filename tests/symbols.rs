//! The cdylib must export only the C ABI: every defined dynamic symbol starts with `etvk_`.
//! (Rust cdylibs export only `#[no_mangle]` items; this guards against C/C++ code linked into
//! the crate, e.g. VMA, leaking its symbols.)

use std::path::PathBuf;
use std::process::Command;

/// `libetvk.so` of this build: cargo puts it next to the test binary (`target/<profile>/deps`).
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join("libetvk.so");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "libetvk.so not found next to {} (is crate-type cdylib set?)",
        exe.display()
    );
}

#[test]
fn cdylib_exports_only_etvk_symbols() {
    let so = cdylib();
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("run nm (install binutils)");
    assert!(
        out.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let foreign: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !n.starts_with("etvk_"))
        .collect();
    assert!(
        foreign.is_empty(),
        "{} exports non-etvk symbols: {foreign:?}",
        so.display()
    );
    for want in [
        "etvk_is_available",
        "etvk_init",
        "etvk_execute",
        "etvk_read_output",
        "etvk_num_inputs",
        "etvk_num_outputs",
        "etvk_destroy",
        "etvk_last_error",
    ] {
        assert!(
            names.contains(&want),
            "{} does not export {want}",
            so.display()
        );
    }
}
