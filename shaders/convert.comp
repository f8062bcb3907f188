#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
// Converts a float tensor between element formats (f32 / f16) and layouts (contiguous /
// channels-packed by 4, see Layout::Channels4), one invocation per output element (padding
// lanes of a packed output get zero). OP = 2 * (input is f16) + (output is f16); build.rs
// compiles one SPIR-V per OP below (32 -> 32 needs no conversion of elements: the
// to_channels4 / from_channels4 kernels move words).
// variants: OP 1 2 3
struct Params { uint count; uint c; uint h; uint w; uint in_c4; uint out_c4; };
PARAMS_BLOCK(Params)
#if (OP & 1) != 0
layout(std430, set = 0, binding = 1) writeonly buffer Out { float16_t o[]; };
#else
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
#endif
#if (OP & 2) != 0
layout(std430, set = 0, binding = 2) readonly buffer In { float16_t x[]; };
#else
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
#endif

// The flat index of element (n, ch, pos) in a tensor of `c` channels and `hw` positions.
uint flat_index(bool c4, uint n, uint ch, uint pos, uint hw) {
    if (!c4) return (n * p.c + ch) * hw + pos;
    uint blocks = (p.c + 3u) / 4u;
    return ((n * blocks + ch / 4u) * hw + pos) * 4u + (ch & 3u);
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint hw = p.h * p.w;
    uint n, ch, pos;
    if (p.out_c4 != 0u) {
        uint lane = i & 3u;
        uint t = i >> 2u;
        pos = t % hw;
        uint nb = t / hw;
        uint blocks = (p.c + 3u) / 4u;
        n = nb / blocks;
        ch = (nb % blocks) * 4u + lane;
    } else {
        pos = i % hw;
        ch = (i / hw) % p.c;
        n = i / (hw * p.c);
    }
    float v = float(x[flat_index(p.in_c4 != 0u, n, min(ch, p.c - 1u), pos, hw)]);
    if (ch >= p.c) v = 0.0;
#if (OP & 1) != 0
    o[i] = float16_t(v);
#else
    o[i] = v;
#endif
}
