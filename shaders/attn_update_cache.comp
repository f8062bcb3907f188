#version 450
#include "common.glsl"
// llama.update_cache: cache[b, start + s, ...] = value[b, s, ...], one invocation per value element.
// value is [B, S, inner...] and cache [B, T, inner...], both contiguous.
struct Params {
    uint count;
    int value_batch;
    int cache_batch;
    int start_offset;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) buffer Cache { float cache[]; };
layout(std430, set = 0, binding = 2) readonly buffer Value { float val[]; };
void main() {
    uint w = work_index();
    if (w >= p.count) return;
    uint vb = uint(p.value_batch);
    uint b = w / vb;
    cache[b * uint(p.cache_batch) + uint(p.start_offset) + w % vb] = val[w];
}
