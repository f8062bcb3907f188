#version 450
#include "common.glsl"
// Direct 2-D convolution (grouped, strided, padded, dilated), optional bias, then clamp.
// One invocation per output element of out [N, Cout, Ho, Wo], or (split layout, p.split = 1) one
// 64-wide workgroup per output element, each lane folding a strided slice of the Cin/g*kH*kW
// products, merged in shared memory.
// in [N, Cin, H, W], weight [Cout, Cin/groups, kH, kW], bias [Cout].
struct Params {
    uint count;
    int n;
    int cin;
    int h;
    int w;
    int cout;
    int ho;
    int wo;
    int kh;
    int kw;
    int sh;
    int sw;
    int ph;
    int pw;
    int dh;
    int dw;
    int groups;
    int has_bias;
    float clamp_min;
    float clamp_max;
    int split;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };
shared float partial[64];

void main() {
    uint wi = work_index();
    bool split = p.split != 0;
    // Split layout: work items come in whole groups of 64, so this return is uniform per group.
    if (wi >= p.count) return;
    uint i = split ? wi / 64u : wi;
    int Cin = p.cin, H = p.h, W = p.w, Cout = p.cout, Ho = p.ho, Wo = p.wo;
    int kH = p.kh, kW = p.kw;
    int ow = int(i % uint(Wo));
    int oh = int((i / uint(Wo)) % uint(Ho));
    int oc = int((i / uint(Wo * Ho)) % uint(Cout));
    int n = int(i / uint(Wo * Ho * Cout));
    int cin_g = Cin / p.groups;
    int g = oc / (Cout / p.groups);
    int ih0 = oh * p.sh - p.ph;
    int iw0 = ow * p.sw - p.pw;
    if (split) {
        uint l = gl_LocalInvocationID.x;
        int khw = kH * kW;
        float part = 0.0;
        for (int r = int(l); r < cin_g * khw; r += 64) {
            int c = r / khw;
            int kh = (r % khw) / kW;
            int kw = r % kW;
            int ih = ih0 + kh * p.dh;
            int iw = iw0 + kw * p.dw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            int ic = g * cin_g + c;
            part += x[uint(((n * Cin + ic) * H + ih) * W + iw)] * w[uint(((oc * cin_g + c) * kH + kh) * kW + kw)];
        }
        partial[l] = part;
        barrier();
        for (uint s = 32u; s > 0u; s >>= 1) {
            if (l < s) partial[l] += partial[l + s];
            barrier();
        }
        if (l != 0u) return;
        float acc = partial[0] + (p.has_bias != 0 ? bias[oc] : 0.0);
        o[i] = clamp(acc, p.clamp_min, p.clamp_max);
        return;
    }
    float acc = p.has_bias != 0 ? bias[oc] : 0.0;
    for (int c = 0; c < cin_g; ++c) {
        int ic = g * cin_g + c;
        uint xbase = uint((n * Cin + ic) * H);
        uint wbase = uint((oc * cin_g + c) * kH);
        for (int kh = 0; kh < kH; ++kh) {
            int ih = ih0 + kh * p.dh;
            if (ih < 0 || ih >= H) continue;
            uint xrow = (xbase + uint(ih)) * uint(W);
            uint wrow = (wbase + uint(kh)) * uint(kW);
            for (int kw = 0; kw < kW; ++kw) {
                int iw = iw0 + kw * p.dw;
                if (iw < 0 || iw >= W) continue;
                acc += x[xrow + uint(iw)] * w[wrow + uint(kw)];
            }
        }
    }
    o[i] = clamp(acc, p.clamp_min, p.clamp_max);
}
