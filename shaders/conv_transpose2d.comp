#version 450
#include "common.glsl"
// Direct 2-D transposed convolution (grouped, strided, padded, dilated), optional bias, clamp.
// One invocation per output element of out [N, Cout, Ho, Wo] (gathers its contributions).
// in [N, Cin, H, W], weight [Cin, Cout/groups, kH, kW], bias [Cout].
// p: same layout as conv2d.comp.
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    int Cin = p[2], H = p[3], W = p[4], Cout = p[5], Ho = p[6], Wo = p[7];
    int kH = p[8], kW = p[9], sH = p[10], sW = p[11];
    int ow = int(i % uint(Wo));
    int oh = int((i / uint(Wo)) % uint(Ho));
    int oc = int((i / uint(Wo * Ho)) % uint(Cout));
    int n = int(i / uint(Wo * Ho * Cout));
    int cin_g = Cin / p[16];
    int cout_g = Cout / p[16];
    int g = oc / cout_g;
    int ocg = oc - g * cout_g;
    float acc = p[17] != 0 ? bias[oc] : 0.0;
    for (int c = 0; c < cin_g; ++c) {
        int ic = g * cin_g + c;
        uint xbase = uint((n * Cin + ic) * H);
        uint wbase = uint((ic * cout_g + ocg) * kH);
        for (int kh = 0; kh < kH; ++kh) {
            int th = oh + p[12] - kh * p[14];
            if (th < 0 || th % sH != 0) continue;
            int ih = th / sH;
            if (ih >= H) continue;
            uint xrow = (xbase + uint(ih)) * uint(W);
            uint wrow = (wbase + uint(kh)) * uint(kW);
            for (int kw = 0; kw < kW; ++kw) {
                int tw = ow + p[13] - kw * p[15];
                if (tw < 0 || tw % sW != 0) continue;
                int iw = tw / sW;
                if (iw >= W) continue;
                acc += x[xrow + uint(iw)] * w[wrow + uint(kw)];
            }
        }
    }
    o[i] = clamp(acc, pf(18), pf(19));
}
