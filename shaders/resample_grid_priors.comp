#version 450
#include "common.glsl"
// et_vk.grid_priors: out [H * W, 2] with out[i * W + j] = ((j + offset) * stride,
// (i + offset) * stride), in f32 as the reference computes it.
// p: [0]=numel out (2 * H * W) [1]=W [2]=stride bits (float) [3]=offset bits
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint k = i >> 1u;
    uint W = uint(p[1]);
    uint c = (i & 1u) == 0u ? k % W : k / W;
    precise float v = (float(c) + pf(3)) * pf(2);
    o[i] = v;
}
