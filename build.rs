//! Compiles every `shaders/*.comp` to SPIR-V with `glslc` and generates `shaders.rs`, a table of
//! `Shader` constants (one per file, named after it in upper case) included by `src/gpu/shaders.rs`.
//!
//! Each shader is built twice: params in a storage buffer (binding 0) and in push constants
//! (`-DETVK_PUSH_PARAMS`). A shader that holds several ops names them in a line
//! `// variants: OP v1 v2 ...`; it is then built once per value with `-DOP=v`, so that the
//! compiler folds the op and each pipeline carries only its own op's code.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One glslc run: source, output, extra defines.
struct Job {
    src: PathBuf,
    out: PathBuf,
    defines: Vec<String>,
}

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

    let mut jobs = Vec::new();
    let mut table = String::new();
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        if src.extension().and_then(|e| e.to_str()) != Some("comp") {
            continue;
        }
        let stem = src.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = fs::read_to_string(src).expect("read shader");
        let variants = variant_values(&text, src);
        let mut builds = String::new();
        for variant in &variants {
            let (suffix, op_define) = match variant {
                Some(v) => (format!(".op{v}"), vec![format!("-DOP={v}")]),
                None => (String::new(), vec![]),
            };
            let spv = out_dir.join(format!("{stem}{suffix}.spv"));
            let spv_push = out_dir.join(format!("{stem}{suffix}.push.spv"));
            for (out, push) in [(&spv, false), (&spv_push, true)] {
                let mut defines = op_define.clone();
                if push {
                    defines.push("-DETVK_PUSH_PARAMS".into());
                }
                jobs.push(Job {
                    src: src.clone(),
                    out: out.clone(),
                    defines,
                });
            }
            write!(
                builds,
                "ShaderBuild {{ variant: {variant:?}, spirv: include_bytes!({:?}), \
                 spirv_push: include_bytes!({:?}) }}, ",
                spv.display().to_string(),
                spv_push.display().to_string()
            )
            .unwrap();
        }
        writeln!(
            table,
            "pub static {}: Shader = Shader {{ name: {stem:?}, builds: &[{builds}] }};",
            stem.to_uppercase(),
        )
        .unwrap();
    }
    compile_all(&jobs, shader_dir);
    let all: Vec<String> = sources
        .iter()
        .filter(|s| s.extension().and_then(|e| e.to_str()) == Some("comp"))
        .map(|s| {
            format!(
                "&{}",
                s.file_stem().unwrap().to_str().unwrap().to_uppercase()
            )
        })
        .collect();
    writeln!(table, "/// Every shader, in file-name order.").unwrap();
    writeln!(table, "pub static ALL: &[&Shader] = &[{}];", all.join(", ")).unwrap();
    fs::write(out_dir.join("shaders.rs"), table).expect("write shaders.rs");
}

/// `[None]`, or the values of the shader's `// variants: OP ...` line.
fn variant_values(text: &str, src: &Path) -> Vec<Option<i32>> {
    let Some(line) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("// variants: OP"))
    else {
        return vec![None];
    };
    let values: Vec<Option<i32>> =
        line.split_whitespace()
            .map(|v| {
                Some(v.parse().unwrap_or_else(|_| {
                    panic!("{}: variant {v:?} is not an integer", src.display())
                }))
            })
            .collect();
    assert!(!values.is_empty(), "{}: empty variants line", src.display());
    values
}

/// Runs glslc for every job, on as many threads as the machine has cores.
fn compile_all(jobs: &[Job], shader_dir: &Path) {
    let glslc = env::var("GLSLC").unwrap_or_else(|_| "glslc".into());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let status = Command::new(&glslc)
                    .args(["--target-env=vulkan1.1", "-O", "-I"])
                    .arg(shader_dir)
                    .args(&job.defines)
                    .arg(&job.src)
                    .arg("-o")
                    .arg(&job.out)
                    .status()
                    .unwrap_or_else(|e| panic!("cannot run {glslc} (install Debian's glslc): {e}"));
                assert!(
                    status.success(),
                    "glslc {:?} failed on {}",
                    job.defines,
                    job.src.display()
                );
            });
        }
    });
}
