#version 450
#include "common.glsl"
// llama.update_cache: cache[b, start + s, ...] = value[b, s, ...], one invocation per value element.
// value is [B, S, inner...] and cache [B, T, inner...], both contiguous.
// p: [0]=n (value numel) [1]=S*inner (value batch stride) [2]=T*inner (cache batch stride)
//    [3]=start*inner (offset of row `start` in a cache batch)
layout(std430, set = 0, binding = 1) buffer Cache { float cache[]; };
layout(std430, set = 0, binding = 2) readonly buffer Value { float val[]; };
void main() {
    uint w = work_index();
    if (w >= uint(p[0])) return;
    uint vb = uint(p[1]);
    uint b = w / vb;
    cache[b * uint(p[2]) + uint(p[3]) + w % vb] = val[w];
}
