#version 450
#include "common.glsl"
// out[b,m,n] = beta * bias[m,n] + alpha * sum_k A[b,m,k] * B[b](k,n)
// B(k,n) is B[b,k,n] (B stored [K,N]) or B[b,n,k] (B stored transposed, [N,K]).
struct Params {
    uint count;
    int m;
    int k;
    int n;
    int a_batch_stride;
    int b_batch_stride;
    int b_transposed;
    int has_bias;
    float alpha;
    float beta;
    int bias_stride_m;
    int bias_stride_n;
    int split;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 3) readonly buffer B { float bm[]; };
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };
shared float partial[64];

void main() {
    uint wi = work_index();
    bool split = p.split != 0;
    // Split layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= p.count) return;
    uint i = split ? wi / 64u : wi;
    uint M = uint(p.m), K = uint(p.k), N = uint(p.n);
    uint n = i % N;
    uint m = (i / N) % M;
    uint batch = i / (N * M);
    uint ia = batch * uint(p.a_batch_stride) + m * K;
    uint ib = batch * uint(p.b_batch_stride);
    float acc = 0.0;
    uint k0 = split ? gl_LocalInvocationID.x : 0u;
    uint step = split ? 64u : 1u;
    if (p.b_transposed != 0) {
        ib += n * K;
        for (uint k = k0; k < K; k += step) acc += a[ia + k] * bm[ib + k];
    } else {
        ib += n;
        for (uint k = k0; k < K; k += step) acc += a[ia + k] * bm[ib + k * N];
    }
    if (split) {
        uint l = gl_LocalInvocationID.x;
        partial[l] = acc;
        barrier();
        for (uint s = 32u; s > 0u; s >>= 1) {
            if (l < s) partial[l] += partial[l + s];
            barrier();
        }
        if (l != 0u) return;
        acc = partial[0];
    }
    float r = p.alpha * acc;
    if (p.has_bias != 0) r += p.beta * bias[m * uint(p.bias_stride_m) + n * uint(p.bias_stride_n)];
    o[i] = r;
}
