//! Attention written out op by op (`bmm(q, k^T) -> mul(scale) -> softmax(-1) -> bmm(., v)`,
//! as the exporter leaves a ViT block) runs as one `attn_rows` dispatch when every
//! intermediate has no other reader: the scores are never stored. Each case checks which
//! kernels remain (and the memory plan) and compares with a CPU reference composed from
//! `matmul_ref` and a row softmax, over aligned and odd sizes; where the chain may not be
//! taken (a second reader, head dims not whole vec4s) the ops run one by one, with the same
//! results.
mod common;
use common::*;

/// How the scores are scaled before the softmax.
#[derive(Clone, Copy, Debug)]
enum Scaling {
    /// By a 0-dim constant (what the exporter writes for `* (1 / sqrt(d))`).
    Constant(f32),
    /// Not at all.
    None,
}

/// The pieces of one attention over q, k, v `[1, h, l, d]` / `[1, h, l, dv]` (graph inputs,
/// k through a relu so that its transpose is an activation's).
struct Attention {
    g: GraphBuilder,
    scores: usize,
    out: usize,
}

fn attention(h: usize, l: usize, d: usize, dv: usize, scaling: Scaling) -> Attention {
    let (s4, v4) = ([1, h, l, d], [1, h, l, dv]);
    let mut g = GraphBuilder::new();
    let q = g.input(&s4);
    let k = g.input(&s4);
    let v = g.input(&v4);
    let k = relu_op(&mut g, k, &s4);
    let dims = g.int_list(&[0, 1, 3, 2]);
    let kt = g.f32(&[1, h, d, l]);
    g.op("aten.permute_copy.default", &[k, dims, kt]);
    let q3 = view_op(&mut g, q, &[h, l, d]);
    let kt3 = view_op(&mut g, kt, &[h, d, l]);
    let scores = bmm_op(&mut g, q3, kt3, &[h, l, l]);
    let scores4 = view_op(&mut g, scores, &[1, h, l, l]);
    let scaled = match scaling {
        Scaling::Constant(s) => {
            let c = g.constant(&[], &[s]);
            let out = g.f32(&[1, h, l, l]);
            g.op("aten.mul.Tensor", &[scores4, c, out]);
            out
        }
        Scaling::None => scores4,
    };
    let (dim, half) = (g.int(-1), g.bool(false));
    let p = g.f32(&[1, h, l, l]);
    g.op("aten._softmax.default", &[scaled, dim, half, p]);
    let p3 = view_op(&mut g, p, &[h, l, l]);
    let v3 = view_op(&mut g, v, &[h, l, dv]);
    let out = bmm_op(&mut g, p3, v3, &[h, l, dv]);
    Attention { g, scores, out }
}

/// softmax(scale * q @ relu(k)^T) @ v and the unscaled scores, in f64 rows.
fn reference(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (h, l, d, dv): (usize, usize, usize, usize),
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    let k: Vec<f32> = k.iter().map(|x| x.max(0.0)).collect();
    let scores = matmul_ref(q, &k, h, l, d, l, true);
    let mut p = vec![0f32; scores.len()];
    for (row, prow) in scores.chunks(l).zip(p.chunks_mut(l)) {
        let s: Vec<f64> = row.iter().map(|&x| x as f64 * scale as f64).collect();
        let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = s.iter().map(|x| (x - mx).exp()).sum();
        for (o, x) in prow.iter_mut().zip(&s) {
            *o = ((x - mx).exp() / sum) as f32;
        }
    }
    (matmul_ref(&p, v, h, l, l, dv, false), scores)
}

/// `softmax(scores * 0.5, -1)`: the attention weights of the cases built op by op below.
fn half_scaled_softmax(g: &mut GraphBuilder, scores: usize, sizes: [usize; 3]) -> usize {
    let c = g.constant(&[], &[0.5]);
    let scaled = g.f32(&sizes);
    g.op("aten.mul.Tensor", &[scores, c, scaled]);
    let (dim, half) = (g.int(-1), g.bool(false));
    let w = g.f32(&sizes);
    g.op("aten._softmax.default", &[scaled, dim, half, w]);
    w
}

fn inputs(h: usize, l: usize, d: usize, dv: usize, seed: u64) -> [Vec<f32>; 3] {
    let mut r = Rng::new(seed);
    [r.vec(h * l * d), r.vec(h * l * d), r.vec(h * l * dv)]
}

/// The ViT's attention (4 heads of 16 over 65 tokens) and odd sequence lengths: one
/// dispatch, no scores kernel left.
#[test]
fn attention_chain_is_one_dispatch() {
    let cases = [
        (4, 65, 16, 16, Scaling::Constant(0.25)),
        (2, 5, 8, 4, Scaling::Constant(0.7)),
        (3, 7, 4, 12, Scaling::None),
        (1, 1, 64, 64, Scaling::Constant(0.125)),
        // Scores of tens: the running max of the one-pass rows (CPU devices) jumps by tens,
        // rescaling what was summed before.
        (2, 9, 16, 8, Scaling::Constant(12.0)),
    ];
    for (h, l, d, dv, scaling) in cases {
        let what = format!("h {h} l {l} d {d} dv {dv} {scaling:?}");
        let mut a = attention(h, l, d, dv, scaling);
        a.g.output(a.out);
        let ks = kernels(&a.g.build().unwrap());
        assert_eq!(count_kernels(&a.g, "attn_rows"), 1, "{what}: {ks:?}");
        for gone in ["gemm", "softmax", "shape_gather"] {
            assert_eq!(count_kernels(&a.g, gone), 0, "{what}: {ks:?}");
        }
        // k's relu; the scaling is gone.
        assert_eq!(count_kernels(&a.g, "elementwise4"), 1, "{what}: {ks:?}");
        let [q, k, v] = inputs(h, l, d, dv, (h * l * d + dv) as u64);
        let (s4, v4) = ([1, h, l, d], [1, h, l, dv]);
        let got = a.g.run(&[(&s4, &q), (&s4, &k), (&v4, &v)]).unwrap();
        let scale = match scaling {
            Scaling::Constant(s) => s,
            Scaling::None => 1.0,
        };
        let (want, _) = reference(&q, &k, &v, (h, l, d, dv), scale);
        assert_close(&got[0], &want, 2e-5, 2e-4, &what);
    }
}

/// Scores that are also a graph output are stored: the chain runs op by op.
#[test]
fn scores_with_another_reader_run_op_by_op() {
    let (h, l, d, dv) = (2, 9, 8, 8);
    let mut a = attention(h, l, d, dv, Scaling::Constant(0.5));
    a.g.output(a.out);
    a.g.output(a.scores);
    assert_eq!(count_kernels(&a.g, "attn_rows"), 0);
    assert_eq!(count_kernels(&a.g, "softmax"), 1);
    let [q, k, v] = inputs(h, l, d, dv, 31);
    let (s4, v4) = ([1, h, l, d], [1, h, l, dv]);
    let got = a.g.run(&[(&s4, &q), (&s4, &k), (&v4, &v)]).unwrap();
    let (want, scores) = reference(&q, &k, &v, (h, l, d, dv), 0.5);
    assert_close(&got[0], &want, 2e-5, 2e-4, "output");
    assert_close(&got[1], &scores, 1e-5, 1e-5, "scores");
}

/// Head dims that are not whole vec4s (or too long for registers) run op by op.
#[test]
fn unaligned_or_long_heads_run_op_by_op() {
    for (h, l, d, dv) in [(2, 6, 6, 8), (2, 6, 8, 6), (1, 3, 68, 4)] {
        let what = format!("h {h} l {l} d {d} dv {dv}");
        let mut a = attention(h, l, d, dv, Scaling::Constant(0.3));
        a.g.output(a.out);
        assert_eq!(count_kernels(&a.g, "attn_rows"), 0, "{what}");
        let [q, k, v] = inputs(h, l, d, dv, 41);
        let (s4, v4) = ([1, h, l, d], [1, h, l, dv]);
        let got = a.g.run(&[(&s4, &q), (&s4, &k), (&v4, &v)]).unwrap();
        let (want, _) = reference(&q, &k, &v, (h, l, d, dv), 0.3);
        assert_close(&got[0], &want, 2e-5, 2e-4, &what);
    }
}

/// The attention's heads moved next to each other (`permute [0, 2, 1, 3]`, as before the
/// output projection) are stored there by the attention: no gather. With a second reader of
/// the attention output, the permute copies as before.
#[test]
fn heads_permuted_after_attention_are_stored_in_place() {
    for (h, l, d, dv, second_reader) in [
        (4, 65, 16, 16, false),
        (3, 5, 8, 12, false),
        (2, 6, 8, 8, true),
    ] {
        let what = format!("h {h} l {l} d {d} dv {dv} second reader {second_reader}");
        let mut a = attention(h, l, d, dv, Scaling::Constant(0.25));
        let o4 = view_op(&mut a.g, a.out, &[1, h, l, dv]);
        let dims = a.g.int_list(&[0, 2, 1, 3]);
        let moved = a.g.f32(&[1, l, h, dv]);
        a.g.op("aten.permute_copy.default", &[o4, dims, moved]);
        let flat = view_op(&mut a.g, moved, &[1, l, h * dv]);
        a.g.output(flat);
        if second_reader {
            a.g.output(a.out);
        }
        let ks = kernels(&a.g.build().unwrap());
        assert_eq!(count_kernels(&a.g, "attn_rows"), 1, "{what}: {ks:?}");
        let gathers = count_kernels(&a.g, "shape_gather");
        assert_eq!(gathers, second_reader as usize, "{what}: {ks:?}");
        let [q, k, v] = inputs(h, l, d, dv, 51);
        let (s4, v4) = ([1, h, l, d], [1, h, l, dv]);
        let got = a.g.run(&[(&s4, &q), (&s4, &k), (&v4, &v)]).unwrap();
        let (want, _) = reference(&q, &k, &v, (h, l, d, dv), 0.25);
        let (want_moved, _) = permute_ref(&want, &[1, h, l, dv], &[0, 2, 1, 3]);
        assert_close(&got[0], &want_moved, 2e-5, 2e-4, &what);
        if second_reader {
            assert_close(&got[1], &want, 2e-5, 2e-4, &what);
        }
    }
}

/// q, k and v selected from one permuted projection (`qkv.view(1, l, 3, h, d).permute(2, 0,
/// 3, 1, 4)[0 / 1 / 2]`, a ViT block) are read in place from the projection: the permute
/// and the selects record nothing. With the permuted tensor also a graph output, they stay.
#[test]
fn q_k_v_are_read_from_their_projection() {
    for (h, l, d, permuted_is_output) in [(4, 65, 16, false), (2, 7, 8, false), (3, 5, 4, true)] {
        let what = format!("h {h} l {l} d {d} permuted tensor an output {permuted_is_output}");
        let (s4, st) = ([1, h, l, d], [1, h, d, l]);
        let mut g = GraphBuilder::new();
        let x = g.input(&[1, l, 3 * h * d]);
        let x = relu_op(&mut g, x, &[1, l, 3 * h * d]);
        let x5 = view_op(&mut g, x, &[1, l, 3, h, d]);
        let dims = g.int_list(&[2, 0, 3, 1, 4]);
        let p = g.f32(&[3, 1, h, l, d]);
        g.op("aten.permute_copy.default", &[x5, dims, p]);
        let mut sel = Vec::new();
        for i in 0..3 {
            let (dim, index) = (g.int(0), g.int(i));
            let out = g.f32(&s4);
            g.op("aten.select_copy.int", &[p, dim, index, out]);
            sel.push(out);
        }
        let dims = g.int_list(&[0, 1, 3, 2]);
        let kt = g.f32(&st);
        g.op("aten.permute_copy.default", &[sel[1], dims, kt]);
        let q3 = view_op(&mut g, sel[0], &[h, l, d]);
        let kt3 = view_op(&mut g, kt, &[h, d, l]);
        let scores = bmm_op(&mut g, q3, kt3, &[h, l, l]);
        let w = half_scaled_softmax(&mut g, scores, [h, l, l]);
        let v3 = view_op(&mut g, sel[2], &[h, l, d]);
        let out = bmm_op(&mut g, w, v3, &[h, l, d]);
        g.output(out);
        if permuted_is_output {
            g.output(p);
        }
        let ks = kernels(&g.build().unwrap());
        assert_eq!(count_kernels(&g, "attn_rows"), 1, "{what}: {ks:?}");
        let copies = ks.len() - 2;
        assert_eq!(copies > 0, permuted_is_output, "{what}: {ks:?}");
        let xv = Rng::new(61).vec(l * 3 * h * d);
        let got = g.run(&[(&[1, l, 3 * h * d], &xv)]).unwrap();
        // q, k, v [h, l, d] from relu(x) [l, 3, h, d]; k gets relu again in the reference.
        let xr: Vec<f32> = xv.iter().map(|v| v.max(0.0)).collect();
        let (pv, _) = permute_ref(&xr, &[1, l, 3, h, d], &[2, 0, 3, 1, 4]);
        let n = h * l * d;
        let (want, _) = reference(&pv[..n], &pv[n..2 * n], &pv[2 * n..], (h, l, d, d), 0.5);
        assert_close(&got[0], &want, 2e-5, 2e-4, &what);
        if permuted_is_output {
            assert_close(&got[1], &pv, 0.0, 0.0, &what);
        }
    }
}

/// q, k^T and v split into heads out of three projections `[l, h * d]` by permutes of their
/// `[l, h, d]` views (`.permute(1, 0, 2)`, k `.permute(1, 2, 0)`), with the heads merged back
/// after (`.permute(1, 0, 2)`), as an encoder block written without a fused attention leaves
/// them. Head dims of whole vec4s up to 64: one attention dispatch reading the projections in
/// place, and no copies. Longer or unaligned heads: the products run one by one, still
/// reading q, k and v in place (only the output permute copies).
#[test]
fn heads_split_from_separate_projections() {
    for (h, l, d, fused) in [
        (6, 20, 16, true),
        (2, 9, 64, true),
        (2, 6, 68, false),
        (2, 5, 6, false),
    ] {
        let what = format!("h {h} l {l} d {d}");
        let proj = [l, h * d];
        let mut g = GraphBuilder::new();
        let mut heads = Vec::new();
        for perm in [[1, 0, 2], [1, 2, 0], [1, 0, 2]] {
            let x = g.input(&proj);
            let x = relu_op(&mut g, x, &proj);
            let x3 = view_op(&mut g, x, &[l, h, d]);
            let dims = g.int_list(&perm.map(|p| p as i64));
            let sizes = perm.map(|p| [l, h, d][p]);
            let out = g.f32(&sizes);
            g.op("aten.permute_copy.default", &[x3, dims, out]);
            heads.push(out);
        }
        let scores = bmm_op(&mut g, heads[0], heads[1], &[h, l, l]);
        let w = half_scaled_softmax(&mut g, scores, [h, l, l]);
        let out = bmm_op(&mut g, w, heads[2], &[h, l, d]);
        let dims = g.int_list(&[1, 0, 2]);
        let merged = g.f32(&[l, h, d]);
        g.op("aten.permute_copy.default", &[out, dims, merged]);
        let flat = view_op(&mut g, merged, &[l, h * d]);
        g.output(flat);
        let ks = kernels(&g.build().unwrap());
        assert_eq!(
            count_kernels(&g, "attn_rows"),
            fused as usize,
            "{what}: {ks:?}"
        );
        let gathers = count_kernels(&g, "shape_gather");
        assert_eq!(gathers, !fused as usize, "{what}: {ks:?}");
        let xs: Vec<Vec<f32>> = (0..3).map(|i| Rng::new(71 + i).vec(l * h * d)).collect();
        let got = g
            .run(&[(&proj, &xs[0]), (&proj, &xs[1]), (&proj, &xs[2])])
            .unwrap();
        let per_head: Vec<Vec<f32>> = xs
            .iter()
            .map(|x| {
                let r: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
                permute_ref(&r, &[l, h, d], &[1, 0, 2]).0
            })
            .collect();
        let (want, _) = reference(&per_head[0], &per_head[1], &per_head[2], (h, l, d, d), 0.5);
        let (want_merged, _) = permute_ref(&want, &[h, l, d], &[1, 0, 2]);
        assert_close(&got[0], &want_merged, 2e-5, 2e-4, &what);
    }
}
