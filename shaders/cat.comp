#version 450
#include "common.glsl"
// Copies one input of a concatenation into its slot of the output (32-bit words).
// Viewing both as [outer, chunk]: out[o * out_chunk + offset + r] = in[o * in_chunk + r].
// p: [0]=input numel [1]=in_chunk [2]=out_chunk [3]=offset
layout(std430, set = 0, binding = 1) buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint in_chunk = uint(p[1]);
    uint outer = i / in_chunk;
    uint r = i - outer * in_chunk;
    o[outer * uint(p[2]) + uint(p[3]) + r] = a[i];
}
