#version 450
#include "common.glsl"
// out[b,m,n] = beta * bias[m,n] + alpha * sum_k A[b,m,k] * B[b](k,n)
// B(k,n) is B[b,k,n] (B stored [K,N]) or B[b,n,k] (B stored transposed, [N,K]).
// p: [0]=numel (batch*M*N) [1]=M [2]=K [3]=N [4]=A batch stride [5]=B batch stride
//    [6]=B transposed [7]=has bias [8]=alpha(f) [9]=beta(f)
//    [10]=bias stride along m [11]=bias stride along n (0 where broadcast)
//    [12]=split layout: one 64-wide workgroup per output, lanes folding strided slices of K
//    and merging in shared memory (numel is then outputs * 64)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 3) readonly buffer B { float bm[]; };
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };
shared float partial[64];

void main() {
    uint wi = work_index();
    bool split = p[12] != 0;
    // Split layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= uint(p[0])) return;
    uint i = split ? wi / 64u : wi;
    uint M = uint(p[1]), K = uint(p[2]), N = uint(p[3]);
    uint n = i % N;
    uint m = (i / N) % M;
    uint batch = i / (N * M);
    uint ia = batch * uint(p[4]) + m * K;
    uint ib = batch * uint(p[5]);
    float acc = 0.0;
    uint k0 = split ? gl_LocalInvocationID.x : 0u;
    uint step = split ? 64u : 1u;
    if (p[6] != 0) {
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
    float r = pf(8) * acc;
    if (p[7] != 0) r += pf(9) * bias[m * uint(p[10]) + n * uint(p[11])];
    o[i] = r;
}
