#version 450
#include "common.glsl"
// 2-D average pooling over planes [P, H, W] -> [P, OH, OW], following PyTorch's CPU kernel:
// the window is clipped to the padded input for the count_include_pad divisor and to the
// input for the sum; windows with no input element give 0.
// p: [0]=numel out [1]=H [2]=W [3]=OH [4]=OW [5]=kH [6]=kW [7]=sH [8]=sW [9]=pH [10]=pW
//    [11]=count_include_pad [12]=divisor_override (0 = none)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    int H = p[1], W = p[2], OH = p[3], OW = p[4];
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    int plane = int(i / uint(OW * OH));
    int ih0 = oh * p[7] - p[9];
    int iw0 = ow * p[8] - p[10];
    int ih1 = min(ih0 + p[5], H + p[9]);
    int iw1 = min(iw0 + p[6], W + p[10]);
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
    if (p[12] != 0) div = p[12];
    else if (p[11] != 0) div = pool_size;
    else div = (ih1 - ih0) * (iw1 - iw0);
    o[i] = s / float(div);
}
