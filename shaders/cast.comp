#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Converts between the GPU representations (f32 / i32 words) of tensor dtypes.
// p: [0]=numel [1]=input is float
//    [2]=output kind: 0 float, 1 int32 (int64 too), 2 int8, 3 uint8, 4 bool
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    o[i] = cast_word(a[i], p[1] != 0, p[2]);
}
