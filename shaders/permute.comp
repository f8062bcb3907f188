#version 450
#include "common.glsl"
// Strided gather of 32-bit words: out (contiguous) [j] = in[sum_d coord_d(j) * in_stride_d].
// p: [0]=numel [1]=rank [2..10)=out sizes [10..18)=input strides per output dim
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint rem = i, src = 0u;
    for (int d = p[1] - 1; d >= 0; --d) {
        uint size = uint(p[2 + d]);
        src += (rem % size) * uint(p[10 + d]);
        rem /= size;
    }
    o[i] = a[src];
}
