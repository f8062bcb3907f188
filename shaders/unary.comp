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
