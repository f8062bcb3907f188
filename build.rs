//! Compiles every `shaders/*.comp` to SPIR-V with `glslc` and generates `shaders.rs`, a table of
//! `Shader` constants (one per file, named after it in upper case) included by `src/gpu/shaders.rs`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let shader_dir = Path::new("shaders");
    println!("cargo:rerun-if-changed=shaders");
    println!("cargo:rerun-if-env-changed=GLSLC");

    let mut sources: Vec<PathBuf> = fs::read_dir(shader_dir)
        .expect("read shaders/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    sources.sort();

    let glslc = env::var("GLSLC").unwrap_or_else(|_| "glslc".into());
    let mut table = String::new();
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        if src.extension().and_then(|e| e.to_str()) != Some("comp") {
            continue;
        }
        let stem = src.file_stem().unwrap().to_str().unwrap().to_owned();
        // Two builds: params in a storage buffer (binding 0), and in push constants.
        let spv = out_dir.join(format!("{stem}.spv"));
        let spv_push = out_dir.join(format!("{stem}.push.spv"));
        for (out, defines) in [(&spv, &[][..]), (&spv_push, &["-DETVK_PUSH_PARAMS"][..])] {
            let status = Command::new(&glslc)
                .args(["--target-env=vulkan1.1", "-O", "-I"])
                .arg(shader_dir)
                .args(defines)
                .arg(src)
                .arg("-o")
                .arg(out)
                .status()
                .unwrap_or_else(|e| panic!("cannot run {glslc} (install Debian's glslc): {e}"));
            assert!(status.success(), "glslc failed on {}", src.display());
        }
        writeln!(
            table,
            "pub static {}: Shader = Shader {{ name: {stem:?}, spirv: include_bytes!({:?}), \
             spirv_push: include_bytes!({:?}) }};",
            stem.to_uppercase(),
            spv.display().to_string(),
            spv_push.display().to_string()
        )
        .unwrap();
    }
    fs::write(out_dir.join("shaders.rs"), table).expect("write shaders.rs");
}
