#version 450
#include "common.glsl"
#include "q8_common.glsl"
// Static int8 elementwise ops on i32 words (docs/quantized-ops.md sections 5.5 - 5.7), with
// dequant(q) = float(q - zp) * scale and out = requantize(f, 1 / out_scale, out_zp):
// OP 0 et_vk.q8ta_add:   f = dequant(a) + alpha * dequant(b)   (4 elements per invocation)
// OP 1 et_vk.q8ta_relu:  f = max(dequant(a), 0)                (4 elements per invocation)
// OP 2 et_vk.q8ta_pixel_shuffle: out[z][oy][ox] = requantize(dequant(a[z * r * r + (oy % r) *
//      r + ox % r][oy / r][ox / r])) with z = n * c + channel; a (w * r, h * r, n * c) grid.
// variants: OP 0 1 2
struct Params {
    uint count;
    uint r;
    uint c;
    uint h;
    uint w;
    int a_zp;
    int b_zp;
    int out_zp;
    float a_scale;
    float b_scale;
    float alpha;
    float out_inv_scale;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { int o[]; };
layout(std430, set = 0, binding = 2) readonly buffer A { int a[]; };
layout(std430, set = 0, binding = 3) readonly buffer B { int b[]; };

float dequant_a(int q) {
    precise float f = float(q - p.a_zp) * p.a_scale;
    return f;
}

void main() {
#if OP == 2
    uint ox = gl_GlobalInvocationID.x;
    uint oy = gl_GlobalInvocationID.y;
    uint z = gl_GlobalInvocationID.z;
    uint ow = p.w * p.r, oh = p.h * p.r;
    if (ox >= ow || oy >= oh || z >= p.count) return;
    uint iy = oy / p.r, ix = ox / p.r;
    uint ci = (z * p.r + (oy - iy * p.r)) * p.r + (ox - ix * p.r);
    int q = a[(ci * p.h + iy) * p.w + ix];
    o[(z * oh + oy) * ow + ox] = requantize(dequant_a(q), p.out_inv_scale, p.out_zp);
#else
    uint i0 = work_index() * 4u;
    for (uint i = i0; i < min(i0 + 4u, p.count); ++i) {
#if OP == 0
        precise float fb = float(b[i] - p.b_zp) * p.b_scale;
        precise float f = dequant_a(a[i]) + p.alpha * fb;
#else
        float f = max(dequant_a(a[i]), 0.0);
#endif
        o[i] = requantize(f, p.out_inv_scale, p.out_zp);
    }
#endif
}
