#version 450
#include "common.glsl"
// llama.sdpa_with_kv_cache's two cache updates in one dispatch: invocations [0, count) write
// the key rows into the key cache, [count, 2 * count) the value rows into the value cache,
// each as attn_update_cache.comp does (value [B, S, inner...] into cache [B, T, inner...]).
struct Params {
    uint count;
    int value_batch;
    int cache_batch;
    int start_offset;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) buffer KCache { float kc[]; };
layout(std430, set = 0, binding = 2) buffer VCache { float vc[]; };
layout(std430, set = 0, binding = 3) readonly buffer Key { float key[]; };
layout(std430, set = 0, binding = 4) readonly buffer Value { float val[]; };
void main() {
    uint w = work_index();
    if (w >= 2u * p.count) return;
    bool value = w >= p.count;
    uint e = value ? w - p.count : w;
    uint vb = uint(p.value_batch);
    uint at = e / vb * uint(p.cache_batch) + uint(p.start_offset) + e % vb;
    if (value) {
        vc[at] = val[e];
    } else {
        kc[at] = key[e];
    }
}
