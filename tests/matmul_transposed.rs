//! `bmm` reading a permuted operand in place: when mat2 is a copy of a tensor with its last
//! two dims swapped (attention's k^T), read only by the product, the product reads that
//! tensor as B transposed and the permute is not recorded; so with any permute that leaves
//! B's k or n (A's k) contiguous, through row and batch strides. Each case checks which permutes
//! remain and compares with a CPU reference (B given as [B, N, K]), over odd sizes, views between the permute and
//! the product, a second reader and other permutations.
mod common;
use common::*;

/// The permutes (gathers) left in the recording (the memory plan checked too).
fn gathers(g: &GraphBuilder) -> usize {
    count_kernels(g, "shape_gather")
}

fn permute(g: &mut GraphBuilder, x: usize, dims: &[i64], sizes: &[usize]) -> usize {
    let d = g.int_list(dims);
    let out = g.f32(sizes);
    g.op("aten.permute_copy.default", &[x, d, out]);
    out
}

/// Attention's scores: q @ k^T with k permuted [1, H, T, D] -> [1, H, D, T] and both viewed
/// as [H, .., ..], at aligned and odd sizes.
#[test]
fn attention_scores_read_k_in_place() {
    for (h, t, d) in [(4, 8, 16), (3, 5, 7), (2, 65, 16)] {
        let (s4, st) = ([1, h, t, d], [1, h, d, t]);
        let mut g = GraphBuilder::new();
        let q = g.input(&s4);
        let k = g.input(&s4);
        let k = relu_op(&mut g, k, &s4);
        let kt = permute(&mut g, k, &[0, 1, 3, 2], &st);
        let q3 = view_op(&mut g, q, &[h, t, d]);
        let kt3 = view_op(&mut g, kt, &[h, d, t]);
        let scores = bmm_op(&mut g, q3, kt3, &[h, t, t]);
        g.output(scores);
        assert_eq!(gathers(&g), 0, "h {h} t {t} d {d}");
        let n = h * t * d;
        let (qv, kv) = (Rng::new(n as u64).vec(n), Rng::new(n as u64 + 1).vec(n));
        let got = g.run(&[(&s4, &qv), (&s4, &kv)]).unwrap();
        let kr: Vec<f32> = kv.iter().map(|v| v.max(0.0)).collect();
        let want = matmul_ref(&qv, &kr, h, t, d, t, true);
        assert_close(&got[0], &want, 1e-5, 1e-5, &format!("h {h} t {t} d {d}"));
    }
}

/// No view between the permute and the product; the permuted tensor a graph input. With
/// the lifetime arena asked for: in a graph this small the exporter's plan is as small, and
/// the default planner would keep the copy.
#[test]
fn permute_of_a_graph_input_without_views() {
    let (batch, m, k, n) = (3, 4, 6, 5);
    let mut g = GraphBuilder::new();
    let a = g.input(&[batch, m, k]);
    let t = g.input(&[batch, n, k]);
    let b = permute(&mut g, t, &[0, 2, 1], &[batch, k, n]);
    let out = bmm_op(&mut g, a, b, &[batch, m, n]);
    g.output(out);
    let arena = etvk::runtime::CompileSpecs {
        activation_planner: Some(2),
        ..Default::default()
    };
    let mut dl = g.build_with(&arena).unwrap();
    let ks = kernels(&dl);
    assert!(!ks.iter().any(|k| k.starts_with("shape_gather")), "{ks:?}");
    let (av, tv) = (
        Rng::new(21).vec(batch * m * k),
        Rng::new(22).vec(batch * n * k),
    );
    let got = dl
        .run(&[
            etvk::runtime::InputValue::Tensor(f32_host(&[batch, m, k], &av)),
            etvk::runtime::InputValue::Tensor(f32_host(&[batch, n, k], &tv)),
        ])
        .unwrap();
    let want = matmul_ref(&av, &tv, batch, m, k, n, true);
    assert_close(&got[0].to_f32_vec(), &want, 1e-5, 1e-5, "a @ t^T");
}

/// A permuted tensor that something else reads too (here, a graph output) is still copied.
#[test]
fn permute_with_another_reader_stays() {
    let (batch, m, k, n) = (2, 3, 4, 8);
    let mut g = GraphBuilder::new();
    let a = g.input(&[batch, m, k]);
    let t = g.input(&[batch, n, k]);
    let b = permute(&mut g, t, &[0, 2, 1], &[batch, k, n]);
    let out = bmm_op(&mut g, a, b, &[batch, m, n]);
    g.output(out);
    g.output(b);
    assert_eq!(gathers(&g), 1);
    let (av, tv) = (
        Rng::new(23).vec(batch * m * k),
        Rng::new(24).vec(batch * n * k),
    );
    let got = g
        .run(&[(&[batch, m, k], &av), (&[batch, n, k], &tv)])
        .unwrap();
    assert_close(
        &got[0],
        &matmul_ref(&av, &tv, batch, m, k, n, true),
        1e-5,
        1e-5,
        "product",
    );
    let (tt, _) = permute_ref(&tv, &[batch, n, k], &[0, 2, 1]);
    assert_close(&got[1], &tt, 0.0, 0.0, "the permuted tensor");
}

/// Permutes that move the batch dim: one that keeps B's rows (n) contiguous is read in place
/// too, with its row and batch strides; one that leaves neither k nor n contiguous stays,
/// and the product reads its copy.
#[test]
fn other_permutations() {
    let (batch, m, k, n) = (2, 3, 4, 5);
    for (t_sizes, dims, copies) in [([k, batch, n], [1, 0, 2], 0), ([n, k, batch], [2, 1, 0], 1)] {
        let what = format!("t {t_sizes:?} permuted {dims:?}");
        let mut g = GraphBuilder::new();
        let a = g.input(&[batch, m, k]);
        let t = g.input(&t_sizes);
        let t = relu_op(&mut g, t, &t_sizes);
        let b = permute(&mut g, t, &dims, &[batch, k, n]);
        let out = bmm_op(&mut g, a, b, &[batch, m, n]);
        g.output(out);
        assert_eq!(gathers(&g), copies, "{what}");
        let (av, tv) = (
            Rng::new(25).vec(batch * m * k),
            Rng::new(26).vec(k * batch * n),
        );
        let got = g.run(&[(&[batch, m, k], &av), (&t_sizes, &tv)]).unwrap();
        let relu: Vec<f32> = tv.iter().map(|v| v.max(0.0)).collect();
        let perm = dims.map(|d| d as usize);
        let (bv, _) = permute_ref(&relu, &t_sizes, &perm);
        let want = matmul_ref(&av, &bv, batch, m, k, n, false);
        assert_close(&got[0], &want, 1e-5, 1e-5, &what);
    }
}

/// A KV cache permuted, then written in place (update_cache), then multiplied: the product
/// must see the cache as the permute copied it, so the permute stays. The cache as a
/// constant and as a prepacked activation.
#[test]
fn permute_of_a_cache_written_before_the_product_stays() {
    let (cs, vs) = ([1, 8, 2, 4], [1, 1, 2, 4]);
    for prepack in [false, true] {
        let mut rng = Rng::new(27);
        let init = rng.vec(64);
        let mut g = GraphBuilder::new();
        let q = g.input(&[8, 3, 4]);
        let value = g.input(&vs);
        let c0 = g.constant(&cs, &init);
        let cache = if prepack {
            let c1 = g.f32(&cs);
            g.op("et_vk.prepack.default", &[c0, c1]);
            c1
        } else {
            c0
        };
        let kt = permute(&mut g, cache, &[0, 1, 3, 2], &[1, 8, 4, 2]);
        let (start, dummy) = (g.int(0), g.f32(&[1]));
        g.op("update_cache.default", &[value, cache, start, dummy]);
        let kt3 = view_op(&mut g, kt, &[8, 4, 2]);
        let out = bmm_op(&mut g, q, kt3, &[8, 3, 2]);
        g.output(out);
        assert_eq!(gathers(&g), 1, "prepack {prepack}");
        let (qv, vv) = (rng.vec(96), rng.vec(8));
        let got = g.run(&[(&[8, 3, 4], &qv), (&vs, &vv)]).unwrap();
        // The cache before the update, [T, H, D] = [8, 2, 4]: B = 8, N = 2, K = 4.
        let want = matmul_ref(&qv, &init, 8, 3, 4, 2, true);
        assert_close(&got[0], &want, 1e-5, 1e-5, &format!("prepack {prepack}"));
    }
}
