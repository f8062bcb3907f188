#version 450
#include "common.glsl"
// grid_sampler_2d: input [N, C, H, W], grid [N, OH, OW, 2] (x, y in [-1, 1]) -> out
// [N, C, OH, OW]; one work item per (n, oh, ow), looping over channels. Follows PyTorch's
// vectorized CPU kernel (GridSamplerKernel.cpp): unnormalize, then padding (border: clip;
// reflection: reflect then clip), then bilinear / nearest (round half to even) / bicubic
// (A = -0.75, padding applied to each of the 16 taps); out-of-bounds taps read 0.
struct Params {
    uint count;
    int channels;
    int h;
    int w;
    int oh;
    int ow;
    int interpolation;
    int padding;
    int align_corners;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer Grid { float g[]; };

float unnormalize(float c, int size) {
    if (p.align_corners != 0) return (c + 1.0) * (float(size - 1) / 2.0);
    return (c + 1.0) * (float(size) / 2.0) - 0.5;
}

float clip(float c, int size) {
    return min(float(size - 1), max(c, 0.0));
}

float reflect_coord(float c, int size) {
    if (p.align_corners != 0) {
        if (size <= 1) return 0.0;
        float span2 = float(size - 1) * 2.0;
        float a = abs(c);
        float extra = a - trunc(a / span2) * span2;
        return min(extra, span2 - extra);
    }
    float span2 = float(size) * 2.0;
    float a = abs(c + 0.5);
    float extra = a - trunc(a / span2) * span2;
    return min(extra, span2 - extra) - 0.5;
}

float pad_coord(float c, int size) {
    if (p.padding == 1) return clip(c, size);
    if (p.padding == 2) return clip(reflect_coord(c, size), size);
    return c;
}

float cubic1(float t) {
    const float A = -0.75;
    return ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
}

float cubic2(float t) {
    const float A = -0.75;
    return ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A;
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int C = p.channels, H = p.h, W = p.w, OH = p.oh, OW = p.ow;
    uint hw = i % uint(OH * OW);
    uint n = i / uint(OH * OW);
    float ix = unnormalize(g[2u * i], W);
    float iy = unnormalize(g[2u * i + 1u], H);
    uint plane = uint(H * W);
    uint in_base = n * uint(C) * plane;
    uint out_base = n * uint(C) * uint(OH * OW) + hw;
    uint out_step = uint(OH * OW);

    if (p.interpolation == 2) {
        float x0 = floor(ix), y0 = floor(iy);
        float tx = ix - x0, ty = iy - y0;
        float cx[4] = float[4](cubic2(tx + 1.0), cubic1(tx), cubic1(1.0 - tx), cubic2(2.0 - tx));
        float cy[4] = float[4](cubic2(ty + 1.0), cubic1(ty), cubic1(1.0 - ty), cubic2(2.0 - ty));
        int xs[4], ys[4];
        bool xin[4], yin[4];
        for (int k = 0; k < 4; ++k) {
            float xc = pad_coord(x0 - 1.0 + float(k), W);
            float yc = pad_coord(y0 - 1.0 + float(k), H);
            xs[k] = int(xc);
            ys[k] = int(yc);
            xin[k] = xc >= 0.0 && xc < float(W);
            yin[k] = yc >= 0.0 && yc < float(H);
        }
        for (int c = 0; c < C; ++c) {
            uint base = in_base + uint(c) * plane;
            float acc = 0.0;
            for (int r = 0; r < 4; ++r) {
                float row = 0.0;
                for (int k = 0; k < 4; ++k) {
                    float v = (yin[r] && xin[k]) ? x[base + uint(ys[r] * W + xs[k])] : 0.0;
                    row += cx[k] * v;
                }
                acc += cy[r] * row;
            }
            o[out_base + uint(c) * out_step] = acc;
        }
        return;
    }

    ix = pad_coord(ix, W);
    iy = pad_coord(iy, H);
    if (p.interpolation == 1) {
        float xr = roundEven(ix), yr = roundEven(iy);
        bool inb = xr >= 0.0 && xr < float(W) && yr >= 0.0 && yr < float(H);
        int xi = inb ? int(xr) : 0, yi = inb ? int(yr) : 0;
        for (int c = 0; c < C; ++c) {
            float v = inb ? x[in_base + uint(c) * plane + uint(yi * W + xi)] : 0.0;
            o[out_base + uint(c) * out_step] = v;
        }
        return;
    }

    float x0 = floor(ix), y0 = floor(iy);
    float tx = ix - x0, ty = iy - y0;
    float wnw = (1.0 - tx) * (1.0 - ty), wne = tx * (1.0 - ty);
    float wsw = (1.0 - tx) * ty, wse = tx * ty;
    // Each tap is read only when in bounds (zeros padding or a coordinate at the edge).
    bool x0in = x0 >= 0.0 && x0 < float(W), x1in = x0 + 1.0 >= 0.0 && x0 + 1.0 < float(W);
    bool y0in = y0 >= 0.0 && y0 < float(H), y1in = y0 + 1.0 >= 0.0 && y0 + 1.0 < float(H);
    int xa = int(x0), ya = int(y0);
    for (int c = 0; c < C; ++c) {
        uint base = in_base + uint(c) * plane;
        float s = 0.0;
        if (y0in && x0in) s += wnw * x[base + uint(ya * W + xa)];
        if (y0in && x1in) s += wne * x[base + uint(ya * W + xa + 1)];
        if (y1in && x0in) s += wsw * x[base + uint((ya + 1) * W + xa)];
        if (y1in && x1in) s += wse * x[base + uint((ya + 1) * W + xa + 1)];
        o[out_base + uint(c) * out_step] = s;
    }
}
