#version 450
#include "common.glsl"
// argmax / argmin along one dim of an input viewed as [outer, L, inner]; output element
// w = (o, i) gets the index k in [0, L) of the max / min of x[o * L * inner + k * inner + i].
// Ties give the first index; for floats a NaN counts as the extreme (the first NaN wins), like
// PyTorch. The input is read as int bits and compared as float or int per p.is_float.
// Two layouts, picked per dispatch (uniform): p.group = 0: one invocation per output element;
// p.group = 1: one 64-wide workgroup per output element (long rows), each invocation scanning a
// strided slice, then a tree merge in shared memory.
struct Params {
    uint count;
    int l;
    int inner;
    int is_min;
    int is_float;
    int group;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { int o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { int x[]; };

shared int best_v[64];
shared int best_k[64];

bool is_min;
bool is_float;

// True when value a (index ka) should replace value b (index kb).
bool better(int a, int ka, int b, int kb) {
    if (is_float) {
        float fa = intBitsToFloat(a), fb = intBitsToFloat(b);
        bool na = isnan(fa), nb = isnan(fb);
        if (na || nb) return na && (!nb || ka < kb);
        if (fa == fb) return ka < kb;
        return is_min ? fa < fb : fa > fb;
    }
    if (a == b) return ka < kb;
    return is_min ? a < b : a > b;
}

void main() {
    is_min = p.is_min != 0;
    is_float = p.is_float != 0;
    bool group = p.group != 0;
    uint wi = work_index();
    // Group layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= p.count) return;
    uint L = uint(p.l), inner = uint(p.inner);
    uint w = group ? wi / 64u : wi;
    uint base = (w / inner) * L * inner + w % inner;
    uint first = group ? gl_LocalInvocationID.x : 0u;
    uint step = group ? 64u : 1u;
    // Each invocation's scan visits increasing k, so a strict comparison keeps the first index.
    int bv = 0, bk = -1;
    for (uint k = first; k < L; k += step) {
        int v = x[base + k * inner];
        if (bk < 0 || better(v, int(k), bv, bk)) {
            bv = v;
            bk = int(k);
        }
    }
    if (!group) {
        o[w] = bk;
        return;
    }
    uint l = gl_LocalInvocationID.x;
    best_v[l] = bv;
    best_k[l] = bk;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (l < s) {
            int ok = best_k[l + s];
            if (ok >= 0 && (best_k[l] < 0 || better(best_v[l + s], ok, best_v[l], best_k[l]))) {
                best_v[l] = best_v[l + s];
                best_k[l] = ok;
            }
        }
        barrier();
    }
    if (l == 0u) o[w] = best_k[0];
}
