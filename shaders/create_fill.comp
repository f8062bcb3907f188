#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Fills a tensor with an arithmetic sequence: out[i] = start + i * step (step 0: a constant),
// computed in f32 or i32 and stored in the output's representation.
struct Params {
    uint count;
    int compute_float;
    uint start;
    uint step;
    int out_kind;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    if (p.compute_float != 0) {
        float v = uintBitsToFloat(p.start) + float(i) * uintBitsToFloat(p.step);
        o[i] = cast_word(floatBitsToUint(v), true, p.out_kind);
    } else {
        int v = int(p.start) + int(i) * int(p.step);
        o[i] = cast_word(uint(v), false, p.out_kind);
    }
}
