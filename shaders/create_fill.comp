#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Fills a tensor with an arithmetic sequence: out[i] = start + i * step (step 0: a constant),
// computed in f32 or i32 and stored in the output's representation.
// p: [0]=numel [1]=compute in float [2]=start word [3]=step word
//    [4]=output kind (cast_common: 0 float, 1 int32, 2 int8, 3 uint8, 4 bool)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    if (p[1] != 0) {
        float v = pf(2) + float(i) * pf(3);
        o[i] = cast_word(floatBitsToUint(v), true, p[4]);
    } else {
        int v = p[2] + int(i) * p[3];
        o[i] = cast_word(uint(v), false, p[4]);
    }
}
