#version 450
#include "common.glsl"
// 2-D max pooling over planes [P, H, W] -> [P, OH, OW], optionally with PyTorch's indices
// (flat h * W + w within the plane). Padding never wins (acts as -inf); NaN propagates; the
// first maximum in row-major window order wins, as in PyTorch's CPU kernel.
// p: [0]=numel out [1]=H [2]=W [3]=OH [4]=OW [5]=kH [6]=kW [7]=sH [8]=sW [9]=pH [10]=pW
//    [11]=dH [12]=dW [13]=write indices
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Idx { int idx[]; };
layout(std430, set = 0, binding = 3) readonly buffer In { float x[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    int H = p[1], W = p[2], OH = p[3], OW = p[4];
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    int plane = int(i / uint(OW * OH));
    int ih0 = oh * p[7] - p[9];
    int iw0 = ow * p[8] - p[10];
    int ih1 = min(ih0 + (p[5] - 1) * p[11] + 1, H);
    int iw1 = min(iw0 + (p[6] - 1) * p[12] + 1, W);
    while (ih0 < 0) ih0 += p[11];
    while (iw0 < 0) iw0 += p[12];
    uint base = uint(plane) * uint(H * W);
    int best = ih0 * W + iw0;
    float m = uintBitsToFloat(0xff800000u); // -inf
    for (int ih = ih0; ih < ih1; ih += p[11]) {
        for (int iw = iw0; iw < iw1; iw += p[12]) {
            int k = ih * W + iw;
            float v = x[base + uint(k)];
            if (v > m || isnan(v)) {
                m = v;
                best = k;
            }
        }
    }
    o[i] = m;
    if (p[13] != 0) idx[i] = best;
}
