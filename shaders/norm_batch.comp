#version 450
#include "common.glsl"
// Batch norm with running statistics (inference), one invocation per element of an
// [N, C, inner] input: y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c].
struct Params {
    uint count;
    int channels;
    int inner;
    float eps;
    int has_weight;
    int has_bias;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer Mean { float rmean[]; };
layout(std430, set = 0, binding = 4) readonly buffer Var { float rvar[]; };
layout(std430, set = 0, binding = 5) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 6) readonly buffer B { float bias[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint c = (i / uint(p.inner)) % uint(p.channels);
    float y = (x[i] - rmean[c]) / sqrt(rvar[c] + p.eps);
    if (p.has_weight != 0) y *= w[c];
    if (p.has_bias != 0) y += bias[c];
    o[i] = y;
}
