#version 450
#include "common.glsl"
// Channels packed by 4 (see Layout::Channels4) -> contiguous [N, C, H, W]: one invocation per
// input texel, scattering its lanes below C. 32-bit words of any dtype.
struct Params { uint count; uint c; uint hw; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uvec4 a[]; };
void main() {
    uint t = work_index();
    if (t >= p.count) return;
    uint c4 = (p.c + 3u) / 4u;
    uint pos = t % p.hw;
    uint nc4 = t / p.hw;
    uint n = nc4 / c4;
    uint c0 = (nc4 - n * c4) * 4u;
    uint base = (n * p.c + c0) * p.hw + pos;
    uvec4 v = a[t];
    for (uint l = 0u; l < 4u; ++l) {
        if (c0 + l < p.c) o[base + l * p.hw] = v[l];
    }
}
