#version 450
#include "common.glsl"
// 2-D average pooling over planes [P, H, W] -> [P, OH, OW], following PyTorch's CPU kernel:
// the window is clipped to the padded input for the count_include_pad divisor and to the
// input for the sum; windows with no input element give 0.
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
    int count_include_pad;
    int divisor_override;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int H = p.h, W = p.w, OH = p.oh, OW = p.ow;
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    int plane = int(i / uint(OW * OH));
    int ih0 = oh * p.sh - p.ph;
    int iw0 = ow * p.sw - p.pw;
    int ih1 = min(ih0 + p.kh, H + p.ph);
    int iw1 = min(iw0 + p.kw, W + p.pw);
    int pool_size = (ih1 - ih0) * (iw1 - iw0);
    ih0 = max(ih0, 0);
    iw0 = max(iw0, 0);
    ih1 = min(ih1, H);
    iw1 = min(iw1, W);
    if (ih0 >= ih1 || iw0 >= iw1) {
        o[i] = 0.0;
        return;
    }
    uint base = uint(plane) * uint(H * W);
    float s = 0.0;
    for (int ih = ih0; ih < ih1; ++ih) {
        for (int iw = iw0; iw < iw1; ++iw) {
            s += x[base + uint(ih * W + iw)];
        }
    }
    int div;
    if (p.divisor_override != 0) div = p.divisor_override;
    else if (p.count_include_pad != 0) div = pool_size;
    else div = (ih1 - ih0) * (iw1 - iw0);
    o[i] = s / float(div);
}
