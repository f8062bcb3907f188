#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Converts between the GPU representations (f32 / i32 words) of tensor dtypes.
// out_kind: 0 float, 1 int32 (int64 too), 2 int8, 3 uint8, 4 bool.
struct Params { uint count; int input_float; int out_kind; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    o[i] = cast_word(a[i], p.input_float != 0, p.out_kind);
}
