#version 450
#include "common.glsl"
// Reduction over any set of dims. The output element's coordinates over the kept dims give a
// base offset into the input; the reduced elements are enumerated by decomposing r in [0, R)
// over the reduced dims.
// Two layouts, picked per dispatch (uniform): p.group = 0: one invocation per output element;
// p.group = 1: one 64-wide workgroup per output element (long reductions), each invocation
// folding a strided slice of [0, R), then a tree merge in shared memory.
struct Params {
    uint count;
    int mode;
    int reduced_count;
    int group;
    int kept;
    int reduced;
    int kept_sizes[8];
    int kept_strides[8];
    int reduced_sizes[8];
    int reduced_strides[8];
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };

shared float partial[64];

int mode;

float fold(float acc, float v) {
    if (mode <= 1) return acc + v;
    // Once NaN, stay NaN (comparisons with NaN are false).
    if (isnan(acc)) return acc;
    if (mode == 2) return (v > acc || isnan(v)) ? v : acc;
    return (v < acc || isnan(v)) ? v : acc;
}

void main() {
    mode = p.mode;
    bool group = p.group != 0;
    int K = p.kept, N = p.reduced;
    uint wi = work_index();
    // Group layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= p.count) return;
    uint i = group ? wi / 64u : wi;
    uint R = uint(p.reduced_count);
    uint rem = i, base = 0u;
    for (int d = K - 1; d >= 0; --d) {
        uint size = uint(p.kept_sizes[d]);
        base += (rem % size) * uint(p.kept_strides[d]);
        rem /= size;
    }
    int nred = N;
    float acc = mode == 2 ? uintBitsToFloat(0xff800000u)
              : mode == 3 ? uintBitsToFloat(0x7f800000u) : 0.0;
    uint first = group ? gl_LocalInvocationID.x : 0u;
    uint step = group ? 64u : 1u;
    for (uint r = first; r < R; r += step) {
        uint rr = r, off = base;
        for (int d = nred - 1; d >= 0; --d) {
            uint size = uint(p.reduced_sizes[d]);
            off += (rr % size) * uint(p.reduced_strides[d]);
            rr /= size;
        }
        acc = fold(acc, x[off]);
    }
    if (group) {
        uint l = gl_LocalInvocationID.x;
        partial[l] = acc;
        barrier();
        for (uint s = 32u; s > 0u; s >>= 1) {
            if (l < s) partial[l] = fold(partial[l], partial[l + s]);
            barrier();
        }
        if (l != 0u) return;
        acc = partial[0];
    }
    if (mode == 1) acc /= float(R);
    o[i] = acc;
}
