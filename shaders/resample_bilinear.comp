#version 450
#include "common.glsl"
// upsample_bilinear2d over planes [P, IH, IW] -> [P, OH, OW], following PyTorch's CPU kernel
// (compute_source_index_and_lambda): per dim, identity when out == in; otherwise the source
// index is s * dst (align_corners) or max(s * (dst + 0.5) - 0.5, 0), with s the f32 ratio
// computed on the host ((in - 1) / (out - 1) or 0 with align_corners, else float(1.0 / scale)
// or float(in) / out).
struct Params {
    uint count;
    int ih;
    int iw;
    int oh;
    int ow;
    int align_corners;
    float scale_h;
    float scale_w;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };

// Source indices i0 <= i1 and the weight of i1.
void source(int dst, int in_size, int out_size, float s, out int i0, out int i1, out float l1) {
    if (out_size == in_size) {
        i0 = dst;
        i1 = dst;
        l1 = 0.0;
        return;
    }
    precise float src;
    if (p.align_corners != 0) {
        src = s * float(dst);
    } else {
        src = s * (float(dst) + 0.5) - 0.5;
        src = src < 0.0 ? 0.0 : src;
    }
    i0 = min(int(floor(src)), in_size - 1);
    l1 = clamp(src - float(i0), 0.0, 1.0);
    i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int IH = p.ih, IW = p.iw, OH = p.oh, OW = p.ow;
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    uint base = (i / uint(OW * OH)) * uint(IH * IW);
    int h0, h1, w0, w1;
    float lh, lw;
    source(oh, IH, OH, p.scale_h, h0, h1, lh);
    source(ow, IW, OW, p.scale_w, w0, w1, lw);
    float top = (1.0 - lw) * x[base + uint(h0 * IW + w0)] + lw * x[base + uint(h0 * IW + w1)];
    float bot = (1.0 - lw) * x[base + uint(h1 * IW + w0)] + lw * x[base + uint(h1 * IW + w1)];
    o[i] = (1.0 - lh) * top + lh * bot;
}
