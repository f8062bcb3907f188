#version 450
#include "common.glsl"
// Softmax / log-softmax along one dim, one invocation per row (every other coordinate).
// Input viewed as [outer, D, inner]; row w covers x[(w / inner) * D * inner + w % inner + k * inner].
// Numerically stable: subtracts the row maximum before exponentiating.
// p: [0]=rows [1]=D [2]=inner [3]=log (0 softmax, 1 log_softmax)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
void main() {
    uint w = work_index();
    if (w >= uint(p[0])) return;
    uint D = uint(p[1]), inner = uint(p[2]);
    uint base = (w / inner) * D * inner + w % inner;
    float m = uintBitsToFloat(0xff800000u);
    for (uint k = 0u; k < D; ++k) m = max(m, x[base + k * inner]);
    float s = 0.0;
    for (uint k = 0u; k < D; ++k) s += exp(x[base + k * inner] - m);
    if (p[3] != 0) {
        float ls = log(s);
        for (uint k = 0u; k < D; ++k) o[base + k * inner] = x[base + k * inner] - m - ls;
    } else {
        for (uint k = 0u; k < D; ++k) o[base + k * inner] = exp(x[base + k * inner] - m) / s;
    }
}
