#version 450
#include "common.glsl"
// Elementwise float unary ops. p: [0]=numel [1]=op (0 relu, 1 sigmoid, 2 tanh, 3 abs)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    float x = a[i];
    int op = p[1];
    float r;
    if (op == 0) {
        r = x < 0.0 ? 0.0 : x;  // NaN passes through, as in torch
    } else if (op == 1) {
        r = 1.0 / (1.0 + exp(-x));
    } else if (op == 3) {
        r = abs(x);
    } else {
        // tanh(|x| >= 10) is 1 in f32; clamping keeps the builtin away from overflow.
        r = tanh(clamp(x, -10.0, 10.0));
        if (isnan(x)) r = x;
    }
    o[i] = r;
}
