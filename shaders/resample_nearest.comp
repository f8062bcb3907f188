#version 450
#include "common.glsl"
// upsample_nearest2d over planes [P, IH, IW] -> [P, OH, OW] of elements of `words` 32-bit words
// (1: any 32-bit dtype; 4 / 2: the f32 / f16 texels of channels-packed tensors), with
// PyTorch's nearest_idx per dim: identity when out == in, dst >> 1 when out == 2 * in, else
// min(floor(float(dst) * s), in - 1) where s is the f32 ratio computed on the host
// (float(1.0 / scale) when a scale factor was given, else float(in) / out).
struct Params {
    uint count;
    int ih;
    int iw;
    int oh;
    int ow;
    float scale_h;
    float scale_w;
    uint words;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint x[]; };

int nearest_idx(int dst, int in_size, int out_size, float s) {
    if (out_size == in_size) return dst;
    if (out_size == 2 * in_size) return dst >> 1;
    return min(int(floor(float(dst) * s)), in_size - 1);
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int IH = p.ih, IW = p.iw, OH = p.oh, OW = p.ow;
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    uint plane = i / uint(OW * OH);
    int ih = nearest_idx(oh, IH, OH, p.scale_h);
    int iw = nearest_idx(ow, IW, OW, p.scale_w);
    uint src = (plane * uint(IH * IW) + uint(ih * IW + iw)) * p.words;
    for (uint k = 0u; k < p.words; ++k) o[i * p.words + k] = x[src + k];
}
