//! add/sub/mul/div against a CPU reference: broadcasting, alpha, scalar operands.
mod common;
use common::*;

fn run_binary(
    name: &str,
    sa: &[usize],
    sb: &[usize],
    alpha: Option<f64>,
    f: impl Fn(f32, f32) -> f32,
) {
    let mut rng = Rng::new(sa.len() as u64 * 31 + sb.len() as u64);
    let (va, mut vb) = (rng.vec(sa.iter().product()), rng.vec(sb.iter().product()));
    if name.contains("div") {
        vb.iter_mut()
            .for_each(|x| *x = x.signum() * (x.abs() + 0.5));
    }
    let (want, out_sizes) = broadcast_binary(&va, sa, &vb, sb, f);
    let mut g = GraphBuilder::new();
    let a = g.input(sa);
    let b = g.input(sb);
    let out = g.f32(&out_sizes);
    match alpha {
        Some(al) => {
            let al = g.double(al);
            g.op(name, &[a, b, al, out]);
        }
        None => g.op(name, &[a, b, out]),
    }
    g.output(out);
    let got = g.run(&[(sa, &va), (sb, &vb)]).unwrap();
    assert_close(&got[0], &want, 1e-5, 1e-5, &format!("{name} {sa:?} {sb:?}"));
}

const SHAPES: &[(&[usize], &[usize])] = &[
    (&[7], &[7]),
    (&[2, 3, 5], &[2, 3, 5]),
    (&[2, 3, 5], &[5]),
    (&[4, 1, 3], &[1, 5, 1]),
    (&[2, 3, 9, 9], &[3, 1, 1]),
    (&[1], &[3, 17]),
];

#[test]
fn add_with_alpha_broadcasts() {
    for (sa, sb) in SHAPES {
        run_binary("aten.add.Tensor", sa, sb, Some(0.5), |x, y| x + 0.5 * y);
    }
}

#[test]
fn sub_broadcasts() {
    for (sa, sb) in SHAPES {
        run_binary("aten.sub.Tensor", sa, sb, Some(1.0), |x, y| x - y);
    }
}

#[test]
fn mul_and_div_broadcast() {
    for (sa, sb) in SHAPES {
        run_binary("aten.mul.Tensor", sa, sb, None, |x, y| x * y);
        run_binary("aten.div.Tensor", sa, sb, None, |x, y| x / y);
    }
}

#[test]
fn scalar_other_operand() {
    let s = [3usize, 4];
    let mut rng = Rng::new(5);
    let va = rng.vec(12);
    let mut g = GraphBuilder::new();
    let a = g.input(&s);
    let k = g.double(2.5);
    let out = g.f32(&s);
    g.op("aten.mul.Tensor", &[a, k, out]);
    g.output(out);
    let got = g.run(&[(&s, &va)]).unwrap();
    let want: Vec<f32> = va.iter().map(|x| x * 2.5).collect();
    assert_close(&got[0], &want, 1e-6, 1e-6, "mul by scalar");
}

#[test]
fn mismatched_shapes_are_rejected() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3, 4]);
    let b = g.input(&[5]);
    let out = g.f32(&[3, 4]);
    g.op("aten.mul.Tensor", &[a, b, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::InvalidProgram);
    assert!(err.message.contains("broadcast"), "{}", err.message);
}

#[test]
fn unknown_op_is_operator_missing() {
    let mut g = GraphBuilder::new();
    let a = g.input(&[3]);
    let out = g.f32(&[3]);
    g.op("aten.frobnicate.default", &[a, out]);
    g.output(out);
    let err = g.build().err().expect("must fail");
    assert_eq!(err.kind, etvk::ErrorKind::OperatorMissing);
    assert!(
        err.message.contains("aten.frobnicate.default"),
        "{}",
        err.message
    );
}
