#version 450
#include "common.glsl"
// Softmax / log-softmax along one dim. Input viewed as [outer, D, inner]; row w covers
// x[(w / inner) * D * inner + w % inner + k * inner]. Numerically stable: subtracts the row
// maximum before exponentiating.
// Two layouts, picked per dispatch (uniform): p.group = 0: one invocation per row; p.group = 1: one
// 64-wide workgroup per row (long rows), max and sum merged in shared memory.
struct Params {
    uint count;
    int d;
    int inner;
    int log;
    int group;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };

shared float partial[64];

bool group;

// Max (op 0) or sum (op 1) of `v` over the workgroup; identity when not in the group layout.
float combine(float v, int op) {
    if (!group) return v;
    uint l = gl_LocalInvocationID.x;
    partial[l] = v;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (l < s) partial[l] = op == 0 ? max(partial[l], partial[l + s]) : partial[l] + partial[l + s];
        barrier();
    }
    float r = partial[0];
    barrier();
    return r;
}

void main() {
    group = p.group != 0;
    uint wi = work_index();
    // Group layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= p.count) return;
    uint w = group ? wi / 64u : wi;
    uint first = group ? gl_LocalInvocationID.x : 0u;
    uint step = group ? 64u : 1u;
    uint D = uint(p.d), inner = uint(p.inner);
    uint base = (w / inner) * D * inner + w % inner;
    float m = uintBitsToFloat(0xff800000u);
    for (uint k = first; k < D; k += step) m = max(m, x[base + k * inner]);
    m = combine(m, 0);
    float s = 0.0;
    for (uint k = first; k < D; k += step) s += exp(x[base + k * inner] - m);
    s = combine(s, 1);
    if (p.log != 0) {
        float ls = log(s);
        for (uint k = first; k < D; k += step) o[base + k * inner] = x[base + k * inner] - m - ls;
    } else {
        for (uint k = first; k < D; k += step) o[base + k * inner] = exp(x[base + k * inner] - m) / s;
    }
}
