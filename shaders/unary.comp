#version 450
#include "common.glsl"
#include "elementwise_common.glsl"
// Elementwise unary ops, computed in f32 or i32 and stored in the output's dtype.
// OP selects the op. build.rs compiles one SPIR-V per op listed below (-DOP=n), so that each
// op's pipeline carries only its own code: one build for all ops cost lavapipe 1-2 MB of host
// memory per pipeline.
// variants: OP 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18
// ops: 0 relu 1 sigmoid 2 tanh 3 abs 4 neg 5 exp 6 sqrt 7 rsqrt 8 sin 9 cos 10 log10
//      11 round (half to even) 12 gelu (erf) 13 gelu (tanh) 14 hardswish
//      15 hardshrink (lambd) 16 leaky_relu (negative_slope) 17 bitwise_not 18 logical_not
// Integer compute covers relu, abs, neg, round and bitwise_not; logical_not takes any input.
struct Params {
    uint count;
    int in_kind;
    int compute_float;
    int out_kind;
    float param;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };

float unary_f(int op, float x, float prm) {
    if (is_nan_f(x)) return x;  // every op here maps NaN to NaN, as in torch
    if (op == 0) return x < 0.0 ? 0.0 : x;
    if (op == 1) return 1.0 / (1.0 + exp_acc(-x));
    if (op == 2) return tanh_acc(x);
    if (op == 3) return abs(x);
    if (op == 4) return -x;
    if (op == 5) return exp_acc(x);
    if (op == 6) return x < 0.0 ? NAN_F : sqrt(x);
    if (op == 7) {
        // inversesqrt is undefined at 0 and below.
        if (x < 0.0) return NAN_F;
        if (x == 0.0) return 1.0 / x;  // +-inf, as torch
        if (is_inf_f(x)) return 0.0;
        return inversesqrt(x);
    }
    if (op == 8) return sincos_acc(x, 0);
    if (op == 9) return sincos_acc(x, 2);
    if (op == 10) {
        if (x < 0.0) return NAN_F;
        if (x == 0.0) return -INF_F;
        if (is_inf_f(x)) return x;
        return log2(x) * 0.301029995663981195;
    }
    if (op == 11) return roundEven(x);
    if (op == 12) return x * 0.5 * (1.0 + erf_acc(x * 0.707106781186547524));
    if (op == 13) {
        float inner = 0.797884560802865356 * (x + 0.044715 * (x * x * x));
        return 0.5 * x * (1.0 + tanh_acc(inner));
    }
    if (op == 14) return x * min(max(x + 3.0, 0.0), 6.0) / 6.0;
    if (op == 15) return (x >= -prm && x <= prm) ? 0.0 : x;
    return x > 0.0 ? x : x * prm;  // 16
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint raw = a[i];
    int op = OP;
    int in_kind = p.in_kind;
    int kind = p.out_kind;
    if (op == 18) {
        o[i] = store_int(truthy(raw, in_kind == 0) ? 0 : 1, kind);
    } else if (op == 17) {
        int x = int(raw);
        o[i] = store_int(in_kind == 4 ? x ^ 1 : ~x, kind);
    } else if (p.compute_float != 0) {
        o[i] = store_float(unary_f(op, as_f(raw, in_kind == 0), p.param), kind);
    } else {
        int x = int(raw);
        int r;
        if (op == 0) r = max(x, 0);
        else if (op == 3) r = abs(x);
        else if (op == 4) r = -x;
        else r = x;  // 11: round of an integer
        o[i] = store_int(r, kind);
    }
}
