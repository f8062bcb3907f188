#version 450
#include "common.glsl"
// Contiguous [N, C, H, W] -> channels packed by 4 (see Layout::Channels4): one invocation per
// output texel, gathering its 4 channels; lanes past C get zero. 32-bit words of any dtype.
struct Params { uint count; uint c; uint hw; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uvec4 o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint t = work_index();
    if (t >= p.count) return;
    uint c4 = (p.c + 3u) / 4u;
    uint pos = t % p.hw;
    uint nc4 = t / p.hw;
    uint n = nc4 / c4;
    uint c0 = (nc4 - n * c4) * 4u;
    uint base = (n * p.c + c0) * p.hw + pos;
    uvec4 v = uvec4(0u);
    if (c0 + 3u < p.c) {
        v = uvec4(a[base], a[base + p.hw], a[base + 2u * p.hw], a[base + 3u * p.hw]);
    } else {
        for (uint l = 0u; l < 4u; ++l) {
            if (c0 + l < p.c) v[l] = a[base + l * p.hw];
        }
    }
    o[t] = v;
}
