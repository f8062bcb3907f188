#version 450
#include "common.glsl"
// 4-bit embeddings: et_vk.embedding_q4gsw (low nibble = even column) and
// quantized_decomposed.embedding_4bit (high nibble = even column, HIGH_FIRST = 1).
//   weight: [V, D / 2] bytes (rows need not start on a word); scales: [V, groups];
//   out[i][d] = (nib(idx[i], d) - 8) * scale[idx[i]][d / G]
// One invocation per byte (two outputs). An index outside [-V, V) writes 0 (torch raises).
layout(constant_id = 3) const int HIGH_FIRST = 0;
struct Params {
    uint count;
    uint vocab;
    uint dim;
    uint group;
    uint groups;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer W { uint w[]; };
layout(std430, set = 0, binding = 3) readonly buffer Scales { float scales[]; };
layout(std430, set = 0, binding = 4) readonly buffer Idx { int idx[]; };

void main() {
    uint item = work_index();
    if (item >= p.count) return;
    uint half_dim = p.dim / 2u;
    uint i = item / half_dim;
    uint j = item % half_dim;
    int v = idx[i];
    if (v < 0) v += int(p.vocab);
    uint d = 2u * j;
    if (v < 0 || uint(v) >= p.vocab) {
        o[i * p.dim + d] = 0.0;
        o[i * p.dim + d + 1u] = 0.0;
        return;
    }
    uint byte_at = uint(v) * half_dim + j;
    uint byte = (w[byte_at / 4u] >> (8u * (byte_at % 4u))) & 0xffu;
    uint even = HIGH_FIRST != 0 ? byte >> 4 : byte & 0xfu;
    uint odd = HIGH_FIRST != 0 ? byte & 0xfu : byte >> 4;
    uint srow = uint(v) * p.groups;
    o[i * p.dim + d] = (float(even) - 8.0) * scales[srow + d / p.group];
    o[i * p.dim + d + 1u] = (float(odd) - 8.0) * scales[srow + (d + 1u) / p.group];
}
