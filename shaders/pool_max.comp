#version 450
#include "common.glsl"
// 2-D max pooling over planes [P, H, W] -> [P, OH, OW], optionally with PyTorch's indices
// (flat h * W + w within the plane). Padding never wins (acts as -inf); NaN propagates; the
// first maximum in row-major window order wins, as in PyTorch's CPU kernel.
struct Params {
    uint count;
    int h;
    int w;
    int oh;
    int ow;
    int kh;
    int kw;
    int sh;
    int sw;
    int ph;
    int pw;
    int dh;
    int dw;
    int write_indices;
    uint c; // channels: read by the channels-packed build (pool_max_c4) only
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Idx { int idx[]; };
layout(std430, set = 0, binding = 3) readonly buffer In { float x[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int H = p.h, W = p.w, OH = p.oh, OW = p.ow;
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    int plane = int(i / uint(OW * OH));
    int ih0 = oh * p.sh - p.ph;
    int iw0 = ow * p.sw - p.pw;
    int ih1 = min(ih0 + (p.kh - 1) * p.dh + 1, H);
    int iw1 = min(iw0 + (p.kw - 1) * p.dw + 1, W);
    while (ih0 < 0) ih0 += p.dh;
    while (iw0 < 0) iw0 += p.dw;
    uint base = uint(plane) * uint(H * W);
    int best = ih0 * W + iw0;
    float m = uintBitsToFloat(0xff800000u); // -inf
    for (int ih = ih0; ih < ih1; ih += p.dh) {
        for (int iw = iw0; iw < iw1; iw += p.dw) {
            int k = ih * W + iw;
            float v = x[base + uint(k)];
            if (v > m || isnan(v)) {
                m = v;
                best = k;
            }
        }
    }
    o[i] = m;
    if (p.write_indices != 0) idx[i] = best;
}
