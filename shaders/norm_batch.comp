#version 450
#include "common.glsl"
// Batch norm with running statistics (inference), one invocation per element of an
// [N, C, inner] input: y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c].
// p: [0]=numel [1]=C [2]=inner [3]=eps (float bits) [4]=has weight [5]=has bias
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer Mean { float rmean[]; };
layout(std430, set = 0, binding = 4) readonly buffer Var { float rvar[]; };
layout(std430, set = 0, binding = 5) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 6) readonly buffer B { float bias[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint c = (i / uint(p[2])) % uint(p[1]);
    float y = (x[i] - rmean[c]) / sqrt(rvar[c] + pf(3));
    if (p[4] != 0) y *= w[c];
    if (p[5] != 0) y += bias[c];
    o[i] = y;
}
