//! mm / bmm / addmm / linear against a CPU reference: odd sizes, batches, bias broadcasting,
//! alpha/beta, weights as constants and as graph inputs.
mod common;
use common::*;

const MM_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (3, 5, 7),
    (7, 13, 5),
    (33, 65, 17),
    (1, 100, 3),
    (64, 8, 64),
];

#[test]
fn mm_inputs_and_constant_weight() {
    for &(m, k, n) in MM_SHAPES {
        for constant in [false, true] {
            let mut rng = Rng::new((m * 1000 + k * 10 + n) as u64);
            let (va, vb) = (rng.vec(m * k), rng.vec(k * n));
            let want = matmul_ref(&va, &vb, 1, m, k, n, false);
            let mut g = GraphBuilder::new();
            let a = g.input(&[m, k]);
            let bm = if constant {
                g.constant(&[k, n], &vb)
            } else {
                g.input(&[k, n])
            };
            let out = g.f32(&[m, n]);
            g.op("aten.mm.default", &[a, bm, out]);
            g.output(out);
            let got = if constant {
                g.run(&[(&[m, k], &va)])
            } else {
                g.run(&[(&[m, k], &va), (&[k, n], &vb)])
            }
            .unwrap();
            assert_close(
                &got[0],
                &want,
                1e-5,
                1e-5,
                &format!("mm {m}x{k}x{n} const={constant}"),
            );
        }
    }
}

#[test]
fn bmm_batches() {
    for &(batch, m, k, n) in &[(1, 2, 3, 4), (3, 5, 7, 9), (4, 1, 17, 1), (2, 16, 16, 16)] {
        let mut rng = Rng::new((batch * 7 + m) as u64);
        let (va, vb) = (rng.vec(batch * m * k), rng.vec(batch * k * n));
        let want = matmul_ref(&va, &vb, batch, m, k, n, false);
        let mut g = GraphBuilder::new();
        let a = g.input(&[batch, m, k]);
        let bm = g.input(&[batch, k, n]);
        let out = g.f32(&[batch, m, n]);
        g.op("aten.bmm.default", &[a, bm, out]);
        g.output(out);
        let got = g
            .run(&[(&[batch, m, k], &va), (&[batch, k, n], &vb)])
            .unwrap();
        assert_close(
            &got[0],
            &want,
            1e-5,
            1e-5,
            &format!("bmm {batch}x{m}x{k}x{n}"),
        );
    }
}

fn run_addmm(
    m: usize,
    k: usize,
    n: usize,
    bias_shape: &[usize],
    beta: f64,
    alpha: f64,
    constant: bool,
) {
    let mut rng = Rng::new((m * 31 + k * 7 + n + bias_shape.len()) as u64);
    let (va, vb) = (rng.vec(m * k), rng.vec(k * n));
    let vbias = rng.vec(bias_shape.iter().product());
    let prod = matmul_ref(&va, &vb, 1, m, k, n, false);
    let (bias_b, _) = broadcast_binary(&vbias, bias_shape, &prod, &[m, n], |x, _| x);
    let want: Vec<f32> = prod
        .iter()
        .zip(&bias_b)
        .map(|(p, c)| (beta as f32) * c + (alpha as f32) * p)
        .collect();
    let mut g = GraphBuilder::new();
    let bias = if constant {
        g.constant(bias_shape, &vbias)
    } else {
        g.input(bias_shape)
    };
    let a = g.input(&[m, k]);
    let bm = if constant {
        g.constant(&[k, n], &vb)
    } else {
        g.input(&[k, n])
    };
    let be = g.double(beta);
    let al = g.double(alpha);
    let out = g.f32(&[m, n]);
    g.op("aten.addmm.default", &[bias, a, bm, be, al, out]);
    g.output(out);
    let got = if constant {
        g.run(&[(&[m, k], &va)])
    } else {
        g.run(&[(bias_shape, &vbias), (&[m, k], &va), (&[k, n], &vb)])
    }
    .unwrap();
    assert_close(
        &got[0],
        &want,
        1e-5,
        1e-5,
        &format!("addmm {m}x{k}x{n} bias {bias_shape:?} beta {beta} alpha {alpha}"),
    );
}

#[test]
fn addmm_bias_broadcasts_with_alpha_beta() {
    run_addmm(3, 5, 7, &[7], 1.0, 1.0, true);
    run_addmm(3, 5, 7, &[3, 7], 0.5, 2.0, false);
    run_addmm(9, 4, 6, &[1, 6], 1.0, -1.5, false);
    run_addmm(9, 4, 6, &[9, 1], 2.0, 1.0, false);
    run_addmm(5, 11, 2, &[], 1.0, 1.0, false);
    run_addmm(5, 11, 2, &[1], 3.0, 0.25, true);
    run_addmm(1, 1, 1, &[1, 1], 1.0, 1.0, false);
}

#[test]
fn addmm_beta_zero_ignores_nan_bias() {
    let (m, k, n) = (2, 3, 4);
    let mut rng = Rng::new(99);
    let (va, vb) = (rng.vec(m * k), rng.vec(k * n));
    let want = matmul_ref(&va, &vb, 1, m, k, n, false);
    let mut g = GraphBuilder::new();
    let bias = g.constant(&[n], &[f32::NAN; 4]);
    let a = g.input(&[m, k]);
    let bm = g.input(&[k, n]);
    let be = g.int(0);
    let al = g.int(1);
    let out = g.f32(&[m, n]);
    g.op("aten.addmm.default", &[bias, a, bm, be, al, out]);
    g.output(out);
    let got = g.run(&[(&[m, k], &va), (&[k, n], &vb)]).unwrap();
    assert_close(&got[0], &want, 1e-5, 1e-5, "addmm beta=0");
}

fn run_linear(in_shape: &[usize], nout: usize, with_bias: bool, constant: bool) {
    let k = *in_shape.last().unwrap();
    let m: usize = in_shape[..in_shape.len() - 1].iter().product();
    let mut rng = Rng::new((m * 13 + k * 3 + nout) as u64);
    let (vx, vw, vbias) = (rng.vec(m * k), rng.vec(nout * k), rng.vec(nout));
    let mut want = matmul_ref(&vx, &vw, 1, m, k, nout, true);
    if with_bias {
        for (i, v) in want.iter_mut().enumerate() {
            *v += vbias[i % nout];
        }
    }
    let mut out_shape = in_shape[..in_shape.len() - 1].to_vec();
    out_shape.push(nout);
    let mut g = GraphBuilder::new();
    let x = g.input(in_shape);
    let (w, bias) = if constant {
        let w = g.constant(&[nout, k], &vw);
        let b = if with_bias {
            g.constant(&[nout], &vbias)
        } else {
            g.null()
        };
        (w, b)
    } else {
        let w = g.input(&[nout, k]);
        let b = if with_bias {
            g.input(&[nout])
        } else {
            g.null()
        };
        (w, b)
    };
    let out = g.f32(&out_shape);
    g.op("aten.linear.default", &[x, w, bias, out]);
    g.output(out);
    let mut inputs: Vec<(&[usize], &[f32])> = vec![(in_shape, &vx)];
    let (ws, bs) = ([nout, k], [nout]);
    if !constant {
        inputs.push((&ws, &vw));
        if with_bias {
            inputs.push((&bs, &vbias));
        }
    }
    let got = g.run(&inputs).unwrap();
    assert_close(
        &got[0],
        &want,
        1e-5,
        1e-5,
        &format!("linear {in_shape:?} -> {nout} bias={with_bias} const={constant}"),
    );
}

#[test]
fn linear_constant_weights() {
    run_linear(&[3, 32], 64, true, true);
    run_linear(&[1, 64], 10, true, true);
    run_linear(&[5, 7], 3, false, true);
    run_linear(&[17], 9, true, true);
}

#[test]
fn linear_input_weights() {
    run_linear(&[4, 16], 12, true, false);
    run_linear(&[3, 5], 1, false, false);
}

#[test]
fn linear_leading_batch_dims() {
    run_linear(&[2, 3, 5], 7, true, true);
    run_linear(&[2, 1, 3, 9], 4, true, false);
    run_linear(&[2, 3, 1, 33], 5, false, true);
}

#[test]
fn mm_inner_dimension_mismatch_is_rejected() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 4]);
    let b = g.input(&[5, 6]);
    let out = g.f32(&[3, 6]);
    g.op("aten.mm.default", &[a, b, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("inner dimensions"), "{}", err.message);
}

#[test]
fn linear_bad_weight_and_bias_are_rejected() {
    // Weight's K does not match the input's.
    let mut g = GraphBuilder::new();
    let x = g.input(&[2, 8]);
    let w = g.constant(&[4, 7], &[0.0; 28]);
    let bias = g.null();
    let out = g.f32(&[2, 4]);
    g.op("aten.linear.default", &[x, w, bias, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("features"), "{}", err.message);

    // Bias of the wrong length.
    let mut g = GraphBuilder::new();
    let x = g.input(&[2, 8]);
    let w = g.constant(&[4, 8], &[0.0; 32]);
    let bias = g.constant(&[3], &[0.0; 3]);
    let out = g.f32(&[2, 4]);
    g.op("aten.linear.default", &[x, w, bias, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("broadcast"), "{}", err.message);
}

#[test]
fn addmm_wrong_output_shape_is_rejected() {
    let mut g = GraphBuilder::new();
    let bias = g.input(&[4]);
    let a = g.input(&[3, 2]);
    let b = g.input(&[2, 4]);
    let be = g.int(1);
    let al = g.int(1);
    let out = g.f32(&[4, 3]);
    g.op("aten.addmm.default", &[bias, a, b, be, al, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
}

/// The tiled GEMM (K and N multiples of 4) over its edge shapes, with the kernel asserted:
/// rows 1..=9 (tiles of 1, 2 and 4 rows, partial last tiles), batches, B as [K, N] and as
/// linear's [N, K], long K (and the split-K layout under ETVK_SPLIT_REDUCTION=always).
#[test]
fn gemm_tiles_and_edges() {
    for &(batch, m, k, n) in &[
        (1, 1, 4, 4),
        (1, 1, 256, 12),
        (1, 2, 8, 8),
        (1, 3, 12, 4),
        (1, 5, 16, 20),
        (2, 9, 32, 8),
        (3, 7, 4, 16),
        (1, 64, 64, 64),
        // Tall tiles on CPU devices (16 and 8 rows per invocation when enough invocations
        // remain): a partial last row block, unaligned k, batches.
        (1, 130, 20, 252),
        (1, 70, 36, 260),
        (3, 67, 13, 200),
        // One operand (or the output) aligned, the others gathered: attention's K = 65 and
        // N = 65 products, and their mirror images.
        (4, 65, 16, 65),
        (4, 65, 65, 16),
        (2, 9, 16, 13),
        (2, 9, 13, 16),
    ] {
        let mut rng = Rng::new((batch * 31 + m * 7 + k + n) as u64);
        let (va, vb) = (rng.vec(batch * m * k), rng.vec(batch * k * n));
        let want = matmul_ref(&va, &vb, batch, m, k, n, false);
        let mut g = GraphBuilder::new();
        let a = g.input(&[batch, m, k]);
        let bm = g.input(&[batch, k, n]);
        let out = g.f32(&[batch, m, n]);
        g.op("aten.bmm.default", &[a, bm, out]);
        g.output(out);
        let mut d = g.build().unwrap();
        assert_eq!(kernels(&d), ["gemm"], "bmm {batch}x{m}x{k}x{n}");
        let got = d
            .run(&[
                etvk::runtime::InputValue::Tensor(f32_host(&[batch, m, k], &va)),
                etvk::runtime::InputValue::Tensor(f32_host(&[batch, k, n], &vb)),
            ])
            .unwrap();
        assert_close(
            &got[0].to_f32_vec(),
            &want,
            1e-5,
            1e-5,
            &format!("gemm bmm {batch}x{m}x{k}x{n}"),
        );
    }
    for (shape, nout) in [
        (vec![1, 384], 384),
        (vec![3, 16], 8),
        (vec![2, 5, 64], 12),
        (vec![128, 64], 2048),
        (vec![2, 40, 24], 1024),
        (vec![3, 10], 8),
        (vec![5, 12], 7),
    ] {
        run_linear(&shape, nout, true, true);
        run_linear(&shape, nout, false, false);
    }
}
