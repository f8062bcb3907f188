#version 450
#include "common.glsl"
// Copies one input of a concatenation into its slot of the output (32-bit words).
// Viewing both as [outer, chunk]: out[o * out_chunk + offset + r] = in[o * in_chunk + r].
// The output is read-write: each input's dispatch fills only its own slot.
struct Params { uint count; uint in_chunk; uint out_chunk; uint offset; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint outer = i / p.in_chunk;
    uint r = i - outer * p.in_chunk;
    o[outer * p.out_chunk + p.offset + r] = a[i];
}
