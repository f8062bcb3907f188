//! The structure-aware mutations of the `mutate_graph` target: a script (the fuzz input) picks
//! one of the committed delegate graphs, a device configuration and up to eight mutations,
//! and the result is written back as a valid blob. Shared with the regression test that
//! replays saved inputs (`tests/robustness_fuzz.rs`).
#![allow(dead_code)]

use std::sync::OnceLock;

use etvk::format::{header::Header, ConstantSource, DType, Graph, Value};

/// A parsed fixture: its graph with inline offsets relative to `raw`, and the raw bytes.
struct Seed {
    graph: Graph,
    raw: Vec<u8>,
}

fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        super::common::fixture_blobs()
            .iter()
            .filter_map(|(_, blob)| {
                let header = Header::parse(blob).ok()?;
                let mut graph = etvk::format::parse_blob(blob).ok()?;
                let raw = blob.get(header.raw_bytes.clone())?.to_vec();
                for c in &mut graph.constants {
                    if let ConstantSource::Inline { offset, .. } = &mut c.source {
                        *offset -= header.raw_bytes.start;
                    }
                }
                Some(Seed { graph, raw })
            })
            .collect()
    })
}

/// Every op name the fixtures use or etvk registers.
fn op_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = etvk::ops::supported_ops().map(str::to_owned).collect();
        for s in seeds() {
            names.extend(s.graph.chain.iter().map(|c| c.name.clone()));
        }
        names.push("aten.not_an_op.default".to_owned());
        names.sort();
        names.dedup();
        names
    })
}

/// Reads the fuzz input as a stream of choices (zeros once it runs out).
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn coin(&mut self) -> bool {
        self.byte() & 1 == 0
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    /// An index below `n` (0 when `n` is 0).
    fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let v = if n <= 256 {
            self.byte() as usize
        } else {
            u16::from_le_bytes([self.byte(), self.byte()]) as usize
        };
        v % n
    }
    /// A size: small ones mostly, edges sometimes.
    fn dim(&mut self, old: usize) -> usize {
        const EDGES: [usize; 16] = [
            0,
            1,
            2,
            3,
            4,
            5,
            7,
            8,
            16,
            64,
            65,
            255,
            4096,
            65536,
            1 << 20,
            u32::MAX as usize,
        ];
        match self.byte() % 4 {
            0 => EDGES[self.pick(EDGES.len())],
            1 => old.saturating_add(1 + self.pick(4)).min(u32::MAX as usize),
            2 => old.saturating_sub(1 + self.pick(4)),
            _ => self.u32() as usize,
        }
    }
    fn int(&mut self, old: i64) -> i64 {
        const EDGES: [i64; 14] = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            4,
            8,
            i64::MIN,
            i64::MAX,
            i32::MIN as i64,
            i32::MAX as i64,
            1 << 32,
            -(1 << 40),
        ];
        match self.byte() % 4 {
            0 => EDGES[self.pick(EDGES.len())],
            1 => old.wrapping_add(1 + self.pick(4) as i64),
            2 => old.wrapping_sub(1 + self.pick(4) as i64),
            _ => self.u32() as i32 as i64,
        }
    }
    fn dtype(&mut self) -> DType {
        const ALL: [DType; 8] = [
            DType::Bool,
            DType::Uint8,
            DType::Int8,
            DType::Int32,
            DType::Float16,
            DType::Float32,
            DType::Float64,
            DType::Int64,
        ];
        ALL[self.pick(ALL.len())]
    }
}

fn tensors(g: &Graph) -> Vec<usize> {
    (0..g.values.len())
        .filter(|&i| matches!(g.values[i], Value::Tensor(_)))
        .collect()
}

/// One mutation chosen by the script.
fn mutate(g: &mut Graph, s: &mut Script) {
    let n_values = g.values.len();
    match s.byte() % 14 {
        // A value id of an op argument (one past the end now and then).
        0 => {
            let i = s.pick(g.chain.len());
            if let Some(call) = g.chain.get_mut(i) {
                let j = s.pick(call.args.len());
                if let Some(a) = call.args.get_mut(j) {
                    *a = s.pick(n_values + 1);
                }
            }
        }
        // Tensor dims: set, grow, shrink, add or drop one, swap two.
        1 => {
            let ts = tensors(g);
            let t = ts.get(s.pick(ts.len())).copied();
            if let Some(Value::Tensor(t)) = t.and_then(|t| g.values.get_mut(t)) {
                let k = s.pick(t.dims.len());
                match s.byte() % 4 {
                    0 | 1 if !t.dims.is_empty() => t.dims[k] = s.dim(t.dims[k]),
                    2 if t.dims.len() < 8 => {
                        let d = s.dim(1);
                        t.dims.insert(k.min(t.dims.len()), d)
                    }
                    3 if !t.dims.is_empty() => {
                        t.dims.remove(k);
                    }
                    _ if t.dims.len() > 1 => {
                        let other = s.pick(t.dims.len());
                        t.dims.swap(k, other)
                    }
                    _ => {}
                }
            }
        }
        // Dtypes, staging dtypes.
        2 => {
            let ts = tensors(g);
            let t = ts.get(s.pick(ts.len())).copied();
            if let Some(Value::Tensor(t)) = t.and_then(|t| g.values.get_mut(t)) {
                if s.coin() {
                    t.dtype = s.dtype();
                } else {
                    t.staging_dtype = (s.coin()).then(|| s.dtype());
                }
            }
        }
        // Scalar and list arguments.
        3 => {
            let i = s.pick(n_values);
            match g.values.get_mut(i) {
                Some(Value::Int(v)) => *v = s.int(*v),
                Some(Value::SymInt(v)) => *v = s.int(*v as i64) as i32,
                Some(Value::Bool(v)) => *v = !*v,
                Some(Value::Double(v)) => {
                    const EDGES: [f64; 8] =
                        [0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, f64::NAN, f64::INFINITY];
                    *v = EDGES[s.pick(EDGES.len())];
                }
                Some(Value::IntList(l)) => {
                    let k = s.pick(l.len() + 1);
                    match s.byte() % 3 {
                        0 if k < l.len() => l[k] = s.int(l[k]),
                        1 if l.len() < 10 => {
                            let v = s.int(0);
                            l.insert(k.min(l.len()), v)
                        }
                        _ if k < l.len() => {
                            l.remove(k);
                        }
                        _ => {}
                    }
                }
                // One dropped, or one added to an empty list.
                Some(Value::BoolList(l)) if l.is_empty() => l.push(true),
                Some(Value::BoolList(l)) => l.truncate(l.len() - 1),
                Some(Value::DoubleList(l)) if l.is_empty() => l.push(f64::NAN),
                Some(Value::DoubleList(l)) => l.truncate(l.len() - 1),
                _ => {}
            }
        }
        // Named-data keys: truncated, extended, another constant's, or made inline.
        4 => {
            let n = g.constants.len();
            let other = g.constants.get(s.pick(n)).and_then(|c| match &c.source {
                ConstantSource::Named { key } => Some(key.clone()),
                _ => None,
            });
            if let Some(c) = g.constants.get_mut(s.pick(n)) {
                match (&mut c.source, s.byte() % 4) {
                    (ConstantSource::Named { key }, 0) => {
                        key.pop();
                    }
                    (ConstantSource::Named { key }, 1) => key.push('0'),
                    (ConstantSource::Named { key }, 2) => {
                        if let Some(o) = other {
                            *key = o;
                        }
                    }
                    (source, _) => {
                        *source = ConstantSource::Named {
                            key: other.unwrap_or_else(|| "missing".to_owned()),
                        }
                    }
                }
            }
        }
        // Inline offsets and lengths; named constants made inline.
        5 => {
            let n = g.constants.len();
            if let Some(c) = g.constants.get_mut(s.pick(n)) {
                let (o, l) = match &c.source {
                    ConstantSource::Inline { offset, length } => (*offset, *length),
                    ConstantSource::Named { .. } => (0, c.length),
                };
                let (offset, length) = match s.byte() % 3 {
                    0 => (s.dim(o), l),
                    1 => (o, s.dim(l)),
                    _ => (s.dim(o), s.dim(l)),
                };
                c.source = ConstantSource::Inline { offset, length };
                if s.coin() {
                    c.length = length;
                }
            }
        }
        // Op names: any registered op on another op's arguments.
        6 => {
            let names = op_names();
            let i = s.pick(g.chain.len());
            if let Some(call) = g.chain.get_mut(i) {
                call.name = names[s.pick(names.len())].clone();
            }
        }
        // Graph inputs and outputs.
        7 => {
            let ids = if s.coin() {
                &mut g.input_ids
            } else {
                &mut g.output_ids
            };
            let k = s.pick(ids.len() + 1);
            match s.byte() % 3 {
                0 if k < ids.len() => ids[k] = s.pick(n_values),
                1 if ids.len() < 8 => ids.insert(k.min(ids.len()), s.pick(n_values)),
                _ if k < ids.len() => {
                    ids.remove(k);
                }
                _ => {}
            }
        }
        // The chain: an op duplicated, dropped, or two swapped.
        8 => {
            let n = g.chain.len();
            if n > 0 {
                let (i, j) = (s.pick(n), s.pick(n));
                match s.byte() % 3 {
                    0 if n < 64 => {
                        let call = g.chain[i].clone();
                        g.chain.insert(j, call)
                    }
                    1 => {
                        g.chain.remove(i);
                    }
                    _ => g.chain.swap(i, j),
                }
            }
        }
        // A value replaced by one of another kind.
        9 => {
            let i = s.pick(n_values);
            let other = g.values.get(s.pick(n_values)).cloned();
            let v = match s.byte() % 6 {
                0 => Value::Null,
                1 => Value::Int(s.int(0)),
                2 => Value::IntList(vec![s.int(1), s.int(1)]),
                3 => Value::ValueList(vec![s.pick(n_values), s.pick(n_values)]),
                4 => Value::SymInt(s.int(1) as i32),
                _ => other.unwrap_or(Value::Null),
            };
            if let Some(slot) = g.values.get_mut(i) {
                *slot = v;
            }
        }
        // Constant ids and memory objects of tensors.
        10 => {
            let n = g.constants.len();
            let ts = tensors(g);
            let t = ts.get(s.pick(ts.len())).copied();
            if let Some(Value::Tensor(t)) = t.and_then(|t| g.values.get_mut(t)) {
                match s.byte() % 3 {
                    0 => t.constant = None,
                    1 => t.constant = Some(s.pick(n + 1)),
                    _ => t.mem_obj_id = (!s.byte().is_multiple_of(4)).then(|| s.byte() as u32),
                }
            }
        }
        // Value lists (e.g. tensors of cat).
        11 => {
            let i = s.pick(n_values);
            if let Some(Value::ValueList(l)) = g.values.get_mut(i) {
                let k = s.pick(l.len() + 1);
                match s.byte() % 3 {
                    0 if k < l.len() => l[k] = s.pick(n_values),
                    1 if l.len() < 16 => l.insert(k.min(l.len()), s.pick(n_values)),
                    _ if k < l.len() => {
                        l.remove(k);
                    }
                    _ => {}
                }
            }
        }
        // An op's argument list: one added, dropped or two swapped.
        12 => {
            let i = s.pick(g.chain.len());
            if let Some(call) = g.chain.get_mut(i) {
                let n = call.args.len();
                match s.byte() % 3 {
                    0 if n < 32 => {
                        let k = s.pick(n + 1);
                        call.args.insert(k, s.pick(n_values))
                    }
                    1 if n > 0 => {
                        call.args.remove(s.pick(n));
                    }
                    _ if n > 1 => {
                        let (a, b) = (s.pick(n), s.pick(n));
                        call.args.swap(a, b)
                    }
                    _ => {}
                }
            }
        }
        // Layout hints and the declared lengths of constants.
        _ => {
            let ts = tensors(g);
            let t = ts.get(s.pick(ts.len())).copied();
            if let Some(Value::Tensor(t)) = t.and_then(|t| g.values.get_mut(t)) {
                t.channels_packed_hint = !t.channels_packed_hint;
            }
            let n = g.constants.len();
            if let Some(c) = g.constants.get_mut(s.pick(n)) {
                if s.coin() {
                    c.length = s.dim(c.length);
                }
            }
        }
    }
}

/// The blob a script describes and its configuration byte (`common::config`); `None` without
/// seeds.
pub fn mutated_blob(data: &[u8]) -> Option<(Vec<u8>, u8)> {
    let seeds = seeds();
    if seeds.is_empty() {
        return None;
    }
    let mut s = Script(data);
    let seed = &seeds[s.pick(seeds.len())];
    let config = s.byte();
    let mut g = seed.graph.clone();
    let mutations = 1 + s.byte() % 8;
    for _ in 0..mutations {
        if s.done() {
            break;
        }
        mutate(&mut g, &mut s);
    }
    Some((etvk::format::write_blob(&g, &seed.raw), config))
}
