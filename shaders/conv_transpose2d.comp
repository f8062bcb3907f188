#version 450
#include "common.glsl"
// Direct 2-D transposed convolution (grouped, strided, padded, dilated), optional bias, clamp.
// One invocation per output element of out [N, Cout, Ho, Wo] (gathers its contributions).
// in [N, Cin, H, W], weight [Cin, Cout/groups, kH, kW], bias [Cout].
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
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int Cin = p.cin, H = p.h, W = p.w, Cout = p.cout, Ho = p.ho, Wo = p.wo;
    int kH = p.kh, kW = p.kw, sH = p.sh, sW = p.sw;
    int ow = int(i % uint(Wo));
    int oh = int((i / uint(Wo)) % uint(Ho));
    int oc = int((i / uint(Wo * Ho)) % uint(Cout));
    int n = int(i / uint(Wo * Ho * Cout));
    int cin_g = Cin / p.groups;
    int cout_g = Cout / p.groups;
    int g = oc / cout_g;
    int ocg = oc - g * cout_g;
    float acc = p.has_bias != 0 ? bias[oc] : 0.0;
    for (int c = 0; c < cin_g; ++c) {
        int ic = g * cin_g + c;
        uint xbase = uint((n * Cin + ic) * H);
        uint wbase = uint((ic * cout_g + ocg) * kH);
        for (int kh = 0; kh < kH; ++kh) {
            int th = oh + p.ph - kh * p.dh;
            if (th < 0 || th % sH != 0) continue;
            int ih = th / sH;
            if (ih >= H) continue;
            uint xrow = (xbase + uint(ih)) * uint(W);
            uint wrow = (wbase + uint(kh)) * uint(kW);
            for (int kw = 0; kw < kW; ++kw) {
                int tw = ow + p.pw - kw * p.dw;
                if (tw < 0 || tw % sW != 0) continue;
                int iw = tw / sW;
                if (iw >= W) continue;
                acc += x[xrow + uint(iw)] * w[wrow + uint(kw)];
            }
        }
    }
    o[i] = clamp(acc, p.clamp_min, p.clamp_max);
}
