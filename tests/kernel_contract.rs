//! The op–shader contract: every shader's parameter struct, bindings and specialization
//! constants as its SPIR-V declares them agree with its `Kernel` in `src/kernels/`.
//!
//! Each shader is compiled here with `glslc` without optimization (the shipped builds use
//! `-O`, which strips names), in both parameter builds (push constants and binding 0), and
//! its SPIR-V is read back: field names, offsets, scalar types and array lengths of
//! `struct Params`; binding count, block names and `readonly`/`writeonly` qualifiers; the
//! ids and names of specialization constants.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use etvk::gpu::shaders;
use etvk::kernels::{self, Access, BindingKind, KernelInfo, Scalar};

/// Decorations of one id or struct member: (decoration, literal operands).
type Decorations = Vec<(u32, Vec<u32>)>;

/// What a SPIR-V module says about a shader's interface.
#[derive(Default)]
struct Module {
    names: HashMap<u32, String>,
    member_names: HashMap<(u32, u32), String>,
    decorations: HashMap<u32, Decorations>,
    member_decorations: HashMap<(u32, u32), Decorations>,
    /// id -> (opcode, operands after the result id)
    types: HashMap<u32, (u16, Vec<u32>)>,
    constants: HashMap<u32, u32>,
    /// (result type, result id, storage class)
    variables: Vec<(u32, u32, u32)>,
    /// spec constant id -> its result id
    spec_constants: Vec<u32>,
}

const OP_NAME: u16 = 5;
const OP_MEMBER_NAME: u16 = 6;
const OP_TYPE_INT: u16 = 21;
const OP_TYPE_FLOAT: u16 = 22;
const OP_TYPE_ARRAY: u16 = 28;
const OP_TYPE_STRUCT: u16 = 30;
const OP_TYPE_POINTER: u16 = 32;
const OP_CONSTANT: u16 = 43;
const OP_SPEC_CONSTANT_TRUE: u16 = 48;
const OP_SPEC_CONSTANT_FALSE: u16 = 49;
const OP_SPEC_CONSTANT: u16 = 50;
const OP_VARIABLE: u16 = 59;
const OP_DECORATE: u16 = 71;
const OP_MEMBER_DECORATE: u16 = 72;

const DEC_SPEC_ID: u32 = 1;
const DEC_NON_WRITABLE: u32 = 24;
const DEC_NON_READABLE: u32 = 25;
const DEC_BINDING: u32 = 33;
const DEC_OFFSET: u32 = 35;

const SC_UNIFORM_CONSTANT: u32 = 0;
const SC_UNIFORM: u32 = 2;
const SC_PUSH_CONSTANT: u32 = 9;
const SC_STORAGE_BUFFER: u32 = 12;

fn string(words: &[u32]) -> String {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl Module {
    fn parse(bytes: &[u8]) -> Module {
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(words[0], 0x0723_0203, "not SPIR-V");
        let mut m = Module::default();
        let mut i = 5;
        while i < words.len() {
            let count = (words[i] >> 16) as usize;
            let op = (words[i] & 0xffff) as u16;
            let args = &words[i + 1..i + count];
            match op {
                OP_NAME => {
                    m.names.insert(args[0], string(&args[1..]));
                }
                OP_MEMBER_NAME => {
                    m.member_names
                        .insert((args[0], args[1]), string(&args[2..]));
                }
                OP_DECORATE => m
                    .decorations
                    .entry(args[0])
                    .or_default()
                    .push((args[1], args[2..].to_vec())),
                OP_MEMBER_DECORATE => m
                    .member_decorations
                    .entry((args[0], args[1]))
                    .or_default()
                    .push((args[2], args[3..].to_vec())),
                OP_TYPE_INT | OP_TYPE_FLOAT | OP_TYPE_ARRAY | OP_TYPE_STRUCT | OP_TYPE_POINTER => {
                    m.types.insert(args[0], (op, args[1..].to_vec()));
                }
                OP_CONSTANT => {
                    m.constants.insert(args[1], args[2]);
                }
                OP_SPEC_CONSTANT | OP_SPEC_CONSTANT_TRUE | OP_SPEC_CONSTANT_FALSE => {
                    m.spec_constants.push(args[1]);
                }
                OP_VARIABLE => m.variables.push((args[0], args[1], args[2])),
                _ => {}
            }
            i += count.max(1);
        }
        m
    }

    fn decoration(&self, id: u32, dec: u32) -> Option<&[u32]> {
        self.decorations
            .get(&id)?
            .iter()
            .find(|(d, _)| *d == dec)
            .map(|(_, v)| v.as_slice())
    }

    fn member_decoration(&self, ty: u32, member: u32, dec: u32) -> Option<&[u32]> {
        self.member_decorations
            .get(&(ty, member))?
            .iter()
            .find(|(d, _)| *d == dec)
            .map(|(_, v)| v.as_slice())
    }

    fn pointee(&self, ptr: u32) -> u32 {
        match &self.types[&ptr] {
            (OP_TYPE_POINTER, v) => v[1],
            other => panic!("{ptr} is not a pointer: {other:?}"),
        }
    }

    fn struct_members(&self, ty: u32) -> &[u32] {
        match &self.types[&ty] {
            (OP_TYPE_STRUCT, v) => v,
            other => panic!("{ty} is not a struct: {other:?}"),
        }
    }

    /// (scalar, length) of a member type: a 32-bit scalar or an array of them.
    fn field_type(&self, ty: u32) -> (Scalar, usize) {
        match &self.types[&ty] {
            (OP_TYPE_INT, v) => {
                assert_eq!(v[0], 32, "only 32-bit ints");
                (if v[1] == 1 { Scalar::I32 } else { Scalar::U32 }, 1)
            }
            (OP_TYPE_FLOAT, v) => {
                assert_eq!(v[0], 32, "only 32-bit floats");
                (Scalar::F32, 1)
            }
            (OP_TYPE_ARRAY, v) => {
                let (s, inner) = self.field_type(v[0]);
                assert_eq!(inner, 1, "arrays of arrays are not allowed");
                (s, self.constants[&v[1]] as usize)
            }
            other => panic!("parameter field of type {other:?}"),
        }
    }

    /// The fields of `struct Params` behind the params block (push constants or binding 0).
    fn params(&self, push: bool) -> Option<Vec<(String, usize, Scalar, usize)>> {
        let var = self.variables.iter().find(|&&(_, id, sc)| {
            if push {
                sc == SC_PUSH_CONSTANT
            } else {
                (sc == SC_STORAGE_BUFFER || sc == SC_UNIFORM)
                    && self.decoration(id, DEC_BINDING) == Some(&[0])
            }
        })?;
        let block = self.pointee(var.0);
        assert_eq!(
            self.names.get(&block).map(String::as_str),
            Some("ParamsBlock")
        );
        let params = self.struct_members(block)[0];
        assert_eq!(self.names.get(&params).map(String::as_str), Some("Params"));
        let fields = self
            .struct_members(params)
            .iter()
            .enumerate()
            .map(|(i, &ty)| {
                let name = self.member_names[&(params, i as u32)].clone();
                let offset = self
                    .member_decoration(params, i as u32, DEC_OFFSET)
                    .expect("member offset")[0] as usize;
                let (scalar, len) = self.field_type(ty);
                (name, offset, scalar, len)
            })
            .collect();
        Some(fields)
    }

    /// (binding, name, access, kind) of every tensor binding (1..), in binding order: storage
    /// buffers by block name, texel buffers (`uniform samplerBuffer`) by variable name.
    fn bindings(&self) -> Vec<(u32, String, Access, BindingKind)> {
        let mut out: Vec<(u32, String, Access, BindingKind)> = self
            .variables
            .iter()
            .filter(|&&(_, _, sc)| {
                sc == SC_STORAGE_BUFFER || sc == SC_UNIFORM || sc == SC_UNIFORM_CONSTANT
            })
            .filter_map(|&(ptr, id, sc)| {
                let binding = self.decoration(id, DEC_BINDING)?[0];
                if binding == 0 {
                    return None;
                }
                if sc == SC_UNIFORM_CONSTANT {
                    let name = self.names.get(&id).cloned().unwrap_or_default();
                    return Some((binding, name, Access::Read, BindingKind::Texels));
                }
                let block = self.pointee(ptr);
                let has = |dec| {
                    self.decoration(id, dec).is_some()
                        || self.member_decoration(block, 0, dec).is_some()
                };
                let access = match (has(DEC_NON_WRITABLE), has(DEC_NON_READABLE)) {
                    (true, false) => Access::Read,
                    (false, true) => Access::Write,
                    (false, false) => Access::ReadWrite,
                    (true, true) => panic!("binding {binding} is neither read nor written"),
                };
                Some((
                    binding,
                    self.names[&block].clone(),
                    access,
                    BindingKind::Storage,
                ))
            })
            .collect();
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out
    }

    /// (spec id, name) of every specialization constant.
    fn spec(&self) -> Vec<(u32, String)> {
        let mut out: Vec<(u32, String)> = self
            .spec_constants
            .iter()
            .filter_map(|&id| {
                let spec_id = self.decoration(id, DEC_SPEC_ID)?[0];
                Some((spec_id, self.names.get(&id).cloned().unwrap_or_default()))
            })
            .collect();
        out.sort();
        out
    }
}

fn compile(shader: &str, defines: &[String]) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let out = std::env::temp_dir().join(format!(
        "etvk_contract_{}_{}_{}.spv",
        std::process::id(),
        shader,
        defines.join("_").replace(['-', '='], "")
    ));
    let status = Command::new(std::env::var("GLSLC").unwrap_or_else(|_| "glslc".into()))
        .args(["--target-env=vulkan1.1", "-I"])
        .arg(&dir)
        .args(defines)
        .arg(dir.join(format!("{shader}.comp")))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run glslc");
    assert!(status.success(), "glslc failed on {shader}");
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    bytes
}

fn check(k: &KernelInfo) {
    let name = k.shader.name;
    let variant = k.shader.builds[0].variant;
    let mut problems = Vec::new();
    for push in [true, false] {
        let mut defines = Vec::new();
        if let Some(v) = variant {
            defines.push(format!("-DOP={v}"));
        }
        if push {
            defines.push("-DETVK_PUSH_PARAMS".into());
        }
        let m = Module::parse(&compile(name, &defines));
        let build = if push { "push" } else { "buffer" };

        let want: Vec<(String, usize, Scalar, usize)> = k
            .params
            .iter()
            .map(|f| (f.name.to_string(), f.offset, f.scalar, f.len))
            .collect();
        match m.params(push) {
            Some(got) if got != want => problems.push(format!(
                "{build} build: params differ\n  shader: {got:?}\n  rust:   {want:?}"
            )),
            None if !want.is_empty() => problems.push(format!("{build} build: no params block")),
            _ => {}
        }
        let last = want.last().map_or(0, |(_, off, _, len)| off + 4 * len);
        if last != k.params_bytes {
            problems.push(format!(
                "rust params struct is {} bytes, its fields end at {last}",
                k.params_bytes
            ));
        }

        let got = m.bindings();
        let want: Vec<(u32, String, Access, BindingKind)> = k
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32 + 1, b.name.to_string(), b.access, b.kind))
            .collect();
        // A binding may have aliased views (a vec4 and a scalar one): one of them must be the
        // kernel's, and every binding number must be the kernel's.
        let numbers = |v: &[(u32, String, Access, BindingKind)]| {
            let mut n: Vec<u32> = v.iter().map(|b| b.0).collect();
            n.dedup();
            n
        };
        let matches = numbers(&got) == numbers(&want) && want.iter().all(|w| got.contains(w));
        if !matches {
            problems.push(format!(
                "{build} build: bindings differ\n  shader: {got:?}\n  rust:   {want:?}"
            ));
        }

        let got = m.spec();
        let mut want: Vec<(u32, String)> = Vec::new();
        for (id, f) in (kernels::FIRST_KERNEL_SPEC_ID..).zip(k.spec) {
            assert_eq!(f.len, 1, "spec constants are scalars");
            want.push((id, f.name.to_string()));
        }
        let own: Vec<(u32, String)> = got
            .iter()
            .filter(|(i, _)| *i >= kernels::FIRST_KERNEL_SPEC_ID)
            .cloned()
            .collect();
        if own != want {
            problems.push(format!(
                "{build} build: spec constants differ\n  shader: {own:?}\n  rust:   {want:?}"
            ));
        }
        let local: Vec<u32> = got.iter().map(|s| s.0).filter(|&i| i < 3).collect();
        if local != [0, 1, 2] {
            problems.push(format!(
                "{build} build: workgroup size is not specialization constants 0, 1, 2 \
                 ({local:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
}

#[test]
fn every_kernel_matches_its_shader() {
    for k in kernels::all() {
        check(k);
    }
}

#[test]
fn every_shader_has_a_kernel() {
    let covered: Vec<&str> = kernels::all().iter().map(|k| k.shader.name).collect();
    for s in shaders::ALL {
        assert!(covered.contains(&s.name), "shader {} has no kernel", s.name);
    }
}

/// The checker itself catches a mismatch: a params struct whose fields are swapped.
#[test]
fn a_mismatched_struct_is_caught() {
    static SWAPPED: [kernels::Field; 1] = [kernels::Field {
        name: "count",
        offset: 4,
        scalar: Scalar::U32,
        len: 1,
    }];
    let k = KernelInfo {
        shader: &shaders::COPY,
        bindings: kernels::shape::COPY.info.bindings,
        params: &SWAPPED,
        params_bytes: 8,
        spec: &[],
    };
    let caught = std::panic::catch_unwind(|| check(&k));
    assert!(caught.is_err(), "a wrong offset must fail the check");
    static READ_ONLY: [kernels::Binding; 2] = [kernels::read("Out"), kernels::read("In")];
    let k = KernelInfo {
        bindings: &READ_ONLY,
        params: kernels::shape::COPY.info.params,
        params_bytes: 4,
        ..k
    };
    let caught = std::panic::catch_unwind(|| check(&k));
    assert!(caught.is_err(), "a wrong access must fail the check");
}
