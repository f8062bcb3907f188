#version 450
#include "common.glsl"
// Copies 32-bit words.
struct Params { uint count; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    o[i] = a[i];
}
