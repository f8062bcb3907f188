#version 450
#include "common.glsl"
// et_vk.grid_priors: out [H * W, 2] with out[i * W + j] = ((j + offset) * stride,
// (i + offset) * stride), in f32 as the reference computes it.
struct Params {
    uint count;
    int width;
    float stride;
    float offset;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint k = i >> 1u;
    uint W = uint(p.width);
    uint c = (i & 1u) == 0u ? k % W : k / W;
    precise float v = (float(c) + p.offset) * p.stride;
    o[i] = v;
}
