//! Memory accounting and the lazy load order, checked exactly on small programs: peaks by tag
//! equal what the tensor sizes say, nothing is allocated before its phase, tied weights are
//! stored once and survive, staging stays within the ring, and planners never overlap.
mod common;
use common::*;

use etvk::gpu::MemTag;
use etvk::runtime::{CompileSpecs, Delegate};

const F: u64 = 4; // bytes per element on the GPU

const W: u64 = (32 * 16 + 32 + 8 * 32 + 8) * F;
/// Arena: the first linear applies the relu as it stores (tests/gemm_epilogue.rs), so the
/// pre-activation h1 is never stored: x (256 B) and h2 (512 B) are live together at the first
/// linear, and y (128 B) fits in x's slot.
const A_ARENA: u64 = 256 + 512;
/// Without exporter mem_obj ids every activation has its own object: x, h1, h2, y (the
/// exporter's objects take no fusions: those need the lifetime arena).
const A_SHARED: u64 = (4 * 16 + 4 * 32 + 4 * 32 + 4 * 8) * F;
/// The shared-object plan of the arena's build, which the load compares with the arena: one
/// object per stored activation, x, h2, y.
const A_SHARED_FUSED: u64 = (4 * 16 + 4 * 32 + 4 * 8) * F;
const IO: u64 = (4 * 16 + 4 * 8) * F;

fn run(d: &mut Delegate, m: &Mlp) {
    let x = etvk::runtime::HostTensor::from_f32(vec![4, 16], &m.x).unwrap();
    let out = d.run(&[etvk::runtime::InputValue::Tensor(x)]).unwrap();
    assert_close(&out[0].to_f32_vec(), &m.want, 1e-4, 1e-4, "mlp output");
}

/// Inputs are copied into device memory on every device (no direct I/O, which discrete GPUs
/// use by default), so that x is an activation of the plan everywhere.
fn specs(direct: bool, ring: Option<u64>, legacy: bool) -> CompileSpecs {
    CompileSpecs {
        direct_upload: Some(direct),
        staging_ring_bytes: ring,
        legacy_load_order: Some(legacy),
        direct_io: Some(false),
        ..Default::default()
    }
}

#[test]
fn lazy_accounting_is_exact() {
    let m = mlp();
    let mut d = m.g.build_with(&specs(false, None, false)).unwrap();
    run(&mut d, &m);
    let r = d.memory_report().clone();
    let s = d.memory_stats();
    assert_eq!(r.weights_bytes, W);
    assert_eq!(
        (r.arena_bytes, r.shared_objects_bytes),
        (A_ARENA, A_SHARED_FUSED)
    );
    assert!(r.used_arena, "auto picks the smaller arena");
    assert_eq!(s.peak_of(MemTag::Weight), W);
    assert_eq!(s.peak_of(MemTag::Activation), A_ARENA);
    assert_eq!(s.peak_of(MemTag::Io), IO);
    // One source at a time: the largest weight, W1.
    assert_eq!(s.peak_of(MemTag::Source), 32 * 16 * F);
    assert_eq!(s.current_of(MemTag::Source), 0);
    // The ring is no larger than the bytes it stages, and is gone after init.
    assert_eq!(r.staging_ring_bytes, W);
    assert_eq!(s.peak_of(MemTag::Staging), W);
    assert_eq!(s.current_of(MemTag::Staging), 0);
    // Phases: nothing at build; no activation before prepack ends; no staging after.
    let build = s.phase("build").unwrap();
    assert_eq!(build.total, 0, "build allocates no device memory");
    let prepack = s.phase("prepack").unwrap();
    assert_eq!(
        prepack.of(MemTag::Activation),
        0,
        "no activation during prepack"
    );
    assert_eq!(prepack.of(MemTag::Weight), W);
    let acts = s.phase("activations").unwrap();
    assert_eq!(
        acts.of(MemTag::Staging),
        0,
        "staging released before activations"
    );
    assert_eq!(acts.of(MemTag::Source), 0);
    // Total peak: the prepack phase holds W + ring + one source at most, the end W + A + ...
    let params = s.current_of(MemTag::Params);
    assert_eq!(s.total_current, W + A_ARENA + IO + params);
    assert!(s.total_peak <= (W + A_ARENA + IO + params).max(W + W + 32 * 16 * F));
}

#[test]
fn direct_upload_needs_no_staging_on_unified_memory() {
    let m = mlp();
    let mut d = m.g.build_with(&specs(true, None, false)).unwrap();
    run(&mut d, &m);
    let s = d.memory_stats();
    let unified = etvk::gpu::Context::shared()
        .unwrap()
        .caps()
        .unified_memory();
    if unified {
        assert_eq!(d.memory_report().direct_weights, 4);
        assert_eq!(s.peak_of(MemTag::Staging), 0);
    } else {
        assert_eq!(d.memory_report().direct_weights, 0);
    }
    assert_eq!(s.peak_of(MemTag::Weight), W);
}

#[test]
fn staging_never_exceeds_a_small_ring() {
    let m = mlp();
    for ring in [64u64, 100, 1000] {
        let mut d = m.g.build_with(&specs(false, Some(ring), false)).unwrap();
        run(&mut d, &m);
        let s = d.memory_stats();
        assert!(
            s.peak_of(MemTag::Staging) <= ring,
            "ring {ring}: staging peak {}",
            s.peak_of(MemTag::Staging)
        );
        assert!(s.peak_of(MemTag::Staging) > 0);
    }
}

#[test]
fn legacy_order_holds_everything_at_once() {
    let m = mlp();
    let mut d = m.g.build_with(&specs(false, None, true)).unwrap();
    run(&mut d, &m);
    let r = d.memory_report().clone();
    let s = d.memory_stats();
    assert!(
        r.legacy_order && !r.used_arena,
        "legacy uses the exporter's objects"
    );
    assert_eq!(s.peak_of(MemTag::Source), W, "every source held at once");
    assert_eq!(
        s.phase("build").unwrap().of(MemTag::Weight),
        W,
        "weights allocated at build"
    );
    assert_eq!(
        s.phase("prepack").unwrap().of(MemTag::Activation),
        A_SHARED,
        "activations before prepack"
    );
    // Legacy peak: sources + weights + activations + the largest per-weight staging buffer.
    assert!(s.total_peak >= 2 * W + A_SHARED);
}

#[test]
fn tied_weights_are_stored_once_and_survive() {
    // Two linears share one named key (as the exporter does for identical tensors).
    let mut rng = Rng::new(7);
    let (w, x) = (rng.vec(16 * 16), rng.vec(2 * 16));
    let zero = vec![0.0f32; 16];
    let mut g = GraphBuilder::new();
    let xi = g.input(&[2, 16]);
    let w_a = g.constant_with_key("tied", &[16, 16], &w);
    let w_b = g.constant_with_key("tied", &[16, 16], &w);
    let b = g.constant_with_key("zero", &[16], &zero);
    let h = g.f32(&[2, 16]);
    let y = g.f32(&[2, 16]);
    g.op("aten.linear.default", &[xi, w_a, b, h]);
    g.op("aten.linear.default", &[h, w_b, b, y]);
    g.output(y);
    let want = linear_ref(&linear_ref(&x, 2, 16, &w, &zero, 16), 2, 16, &w, &zero, 16);
    for direct in [false, true] {
        let mut d = g.build_with(&specs(direct, Some(256), false)).unwrap();
        let got = d
            .run(&[etvk::runtime::InputValue::Tensor(
                etvk::runtime::HostTensor::from_f32(vec![2, 16], &x).unwrap(),
            )])
            .unwrap();
        assert_close(&got[0].to_f32_vec(), &want, 1e-4, 1e-4, "tied weights");
        assert_eq!(
            d.memory_report().weights_bytes,
            (16 * 16 + 16) * F,
            "the tied weight is stored once"
        );
        assert_eq!(d.memory_stats().peak_of(MemTag::Weight), (16 * 16 + 16) * F);
    }
}

/// Counts `get` calls, to see how often a source is fetched.
struct CountingData {
    map: std::collections::HashMap<String, Vec<u8>>,
    gets: std::cell::Cell<usize>,
}

impl etvk::runtime::NamedData for CountingData {
    fn get(&self, key: &str) -> etvk::Result<etvk::runtime::DataBuffer> {
        self.gets.set(self.gets.get() + 1);
        etvk::runtime::NamedData::get(&self.map, key)
    }
}

/// One named key read as two dtypes (two weights, one source): `x + k` in float32 and `n + k`
/// in int32, where the int weight is the float weight's bits.
fn one_key_two_dtypes(int_dtype: etvk::format::DType) -> (GraphBuilder, Vec<f32>) {
    let w = vec![1.5f32, -2.0, 0.25, 8.0];
    let mut g = GraphBuilder::new();
    let x = g.input(&[4]);
    let n = input(&mut g, etvk::format::DType::Int32, &[4]);
    let cf = g.constant_with_key("k", &[4], &w);
    let ci = g.constant_with_key("k", &[4], &w);
    if let etvk::format::Value::Tensor(t) = &mut g.graph.values[ci] {
        t.dtype = int_dtype;
    }
    let alpha = g.int(1);
    let (yf, yi) = (g.f32(&[4]), g.tensor(etvk::format::DType::Int32, &[4]));
    g.op("aten.add.Tensor", &[x, cf, alpha, yf]);
    g.op("aten.add.Tensor", &[n, ci, alpha, yi]);
    g.output(yf);
    g.output(yi);
    (g, w)
}

#[test]
fn a_source_shared_by_two_dtypes_is_fetched_once_and_kept_until_its_last_use() {
    let (g, w) = one_key_two_dtypes(etvk::format::DType::Int32);
    let (x, n) = ([1.0f32, 2.0, 3.0, 4.0], [5i32, -6, 7, 0]);
    for direct in [false, true] {
        let data = CountingData {
            map: g.named.clone(),
            gets: std::cell::Cell::new(0),
        };
        let mut d = Delegate::from_graph(
            g.graph.clone(),
            &[],
            Some(&data),
            &specs(direct, None, false),
        )
        .unwrap();
        assert_eq!(data.gets.get(), 1, "fetched once (direct {direct})");
        let s = d.memory_stats();
        assert_eq!(s.peak_of(MemTag::Source), 16, "one source held at a time");
        assert_eq!(
            s.current_of(MemTag::Source),
            0,
            "released by the end of init"
        );
        let got = d
            .run(&[
                etvk::runtime::InputValue::Tensor(f32_host(&[4], &x)),
                etvk::runtime::InputValue::Tensor(i32_host(&[4], &n)),
            ])
            .unwrap();
        let want_f: Vec<f32> = x.iter().zip(&w).map(|(a, b)| a + b).collect();
        let want_i: Vec<i64> = n
            .iter()
            .zip(&w)
            .map(|(a, b)| a.wrapping_add(b.to_bits() as i32) as i64)
            .collect();
        assert_eq!(got[0].to_f32_vec(), want_f, "direct {direct}");
        assert_eq!(got[1].to_i64_vec(), want_i, "direct {direct}");
    }
}

/// The same source read as a dtype it is too short for is an invalid program, also when another
/// weight of the right size fetched it first (the copy would run past the weight's buffer).
#[test]
fn a_shared_source_too_short_for_a_second_dtype_is_invalid() {
    let (g, _) = one_key_two_dtypes(etvk::format::DType::Int64);
    for direct in [false, true] {
        let err = g
            .build_with(&specs(direct, None, false))
            .err()
            .expect("must fail");
        assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram, "{err}");
        assert!(err.to_string().contains("expected 32"), "{err}");
    }
}

#[test]
fn process_wide_phase_peaks_cover_each_delegate() {
    let m = mlp();
    let mut d = m.g.build_with(&specs(false, None, false)).unwrap();
    run(&mut d, &m);
    let own = d.memory_stats();
    // Other tests of this binary may hold memory too: the process figure is at least ours.
    let process = etvk::gpu::Accountant::process();
    for name in ["build", "prepack", "activations", "ready"] {
        let mine = own.phase(name).unwrap().total;
        let all = process
            .phase(name)
            .unwrap_or_else(|| panic!("no process {name}"));
        assert!(
            all.total >= mine,
            "{name}: process {} < delegate {mine}",
            all.total
        );
    }
    assert!(process.phase("prepack").unwrap().total >= W);
}

/// The allocator's blocks stay near what the buffers need: a model of a few KB does not reserve
/// one of VMA's default 32 MiB blocks. (Process-wide: the other small tests of this binary
/// may hold memory at the same time, all of it far below the bound.)
#[test]
fn reserved_vulkan_memory_stays_near_the_accounted_bytes() {
    let m = mlp();
    let mut d = m.g.build_with(&specs(false, None, false)).unwrap();
    run(&mut d, &m);
    let ctx = etvk::gpu::Context::shared().unwrap();
    let reserved = ctx.reserved_bytes();
    assert!(
        reserved >= d.memory_stats().device_current,
        "blocks hold the buffers"
    );
    assert!(
        reserved < 8 << 20,
        "{reserved} bytes reserved for a {W}-byte model"
    );
    assert!(
        etvk::gpu::reserved().1 >= d.memory_stats().device_current,
        "peak recorded"
    );
}

#[test]
fn planner_choice_is_respected_and_both_are_correct() {
    let m = mlp();
    for planner in [1u32, 2] {
        let s = CompileSpecs {
            activation_planner: Some(planner),
            direct_io: Some(false),
            ..Default::default()
        };
        let mut d = m.g.build_with(&s).unwrap();
        run(&mut d, &m);
        let want = if planner == 2 { A_ARENA } else { A_SHARED };
        assert_eq!(d.memory_stats().peak_of(MemTag::Activation), want);
    }
}

/// A view of an activation shares its memory when the lifetime arena plans the activations (no
/// copy, no bytes of its own); the exporter's shared objects give every output memory of its
/// own, so there it is copied.
#[test]
fn views_alias_activations_only_in_the_arena() {
    let mut g = GraphBuilder::new();
    let x = g.input(&[4, 6]);
    let r = g.f32(&[4, 6]);
    g.op("aten.relu.default", &[x, r]);
    let shape = g.int_list(&[24]);
    let v = g.f32(&[24]);
    g.op("aten.view_copy.default", &[r, shape, v]);
    let out = g.f32(&[24]);
    g.op("aten.neg.default", &[v, out]);
    g.output(out);
    let xs: Vec<f32> = (0..24).map(|i| i as f32 - 11.5).collect();
    let want: Vec<f32> = xs.iter().map(|v| -v.max(0.0)).collect();
    let mut activation_bytes = Vec::new();
    for planner in [2u32, 1] {
        // Inputs and outputs in the arena, as on devices without direct I/O.
        let s = CompileSpecs {
            activation_planner: Some(planner),
            direct_io: Some(false),
            ..Default::default()
        };
        let mut d = g.build_with(&s).unwrap();
        let got = d
            .run(&[etvk::runtime::InputValue::Tensor(
                etvk::runtime::HostTensor::from_f32(vec![4, 6], &xs).unwrap(),
            )])
            .unwrap();
        assert_eq!(got[0].to_f32_vec(), want, "planner {planner}");
        activation_bytes.push(d.memory_stats().peak_of(MemTag::Activation));
    }
    // Arena: x (copied in .. relu), r = the view (relu .. neg), out (neg .. copied out); x and
    // out never live together, so two 96-byte slots. Shared objects: x, r, v, out apart.
    assert_eq!(activation_bytes, vec![2 * 24 * F, 4 * 24 * F]);
}

/// `auto` compares the arena with what the exporter's shared objects would need, views
/// included (under shared objects a view is a copy with an object of its own), and builds
/// again without aliased views when the objects are smaller: here 5-float tensors, whose arena
/// slots are padded to the device's offset alignment while objects are not.
#[test]
fn auto_compares_the_arena_with_the_shared_objects_views_included() {
    let align = etvk::gpu::Context::shared()
        .unwrap()
        .caps()
        .min_storage_buffer_offset_alignment;
    let mut g = GraphBuilder::new();
    let x = g.input(&[5]);
    let r = g.f32(&[5]);
    g.op("aten.relu.default", &[x, r]);
    let shape = g.int_list(&[1, 5]);
    let v = g.f32(&[1, 5]);
    g.op("aten.view_copy.default", &[r, shape, v]);
    let out = g.f32(&[1, 5]);
    g.op("aten.neg.default", &[v, out]);
    g.output(out);
    // The exporter's objects: x and v never live together, nor r and out.
    for (id, obj) in [(x, 0), (r, 1), (v, 0), (out, 1)] {
        if let etvk::format::Value::Tensor(t) = &mut g.graph.values[id] {
            t.mem_obj_id = Some(obj);
        }
    }
    let xs = [-1.0f32, 2.0, -3.0, 4.0, 0.5];
    let want: Vec<f32> = xs.iter().map(|v| -v.max(0.0)).collect();
    // Inputs and outputs in the arena, as on devices without direct I/O.
    let specs = CompileSpecs {
        direct_io: Some(false),
        ..Default::default()
    };
    let mut d = g.build_with(&specs).unwrap();
    let got = d
        .run(&[etvk::runtime::InputValue::Tensor(f32_host(&[5], &xs))])
        .unwrap();
    assert_eq!(got[0].to_f32_vec(), want);
    let r = d.memory_report().clone();
    // Shared objects: two objects of 20 bytes; the view counts although the arena aliases it.
    assert_eq!(r.shared_objects_bytes, 2 * 5 * F);
    // Arena: x (in .. relu) and r = v (relu .. neg), then out: two slots, the second aligned.
    let arena = (5 * F).div_ceil(align) * align + 5 * F;
    assert_eq!(r.arena_bytes, arena);
    assert_eq!(r.used_arena, arena <= 2 * 5 * F, "arena {arena}");
    let s = d.memory_stats();
    assert_eq!(s.peak_of(MemTag::Activation), arena.min(2 * 5 * F));
    // A rebuild for the shared objects stays in the one build phase.
    assert_eq!(
        s.phase_peaks.iter().filter(|p| p.name == "build").count(),
        1
    );
}

/// etvk's own host heap is counted (process-wide): a loaded delegate holds some of it.
#[cfg(feature = "host-heap-stats")]
#[test]
fn host_heap_is_counted() {
    let m = mlp();
    let d = m.g.build().unwrap();
    let (current, peak) = etvk::host_heap::host_heap_bytes();
    assert!(
        current > 0 && peak >= current,
        "current {current}, peak {peak}"
    );
    drop(d);
}
