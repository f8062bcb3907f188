#version 450
#include "common.glsl"
// Converts between the GPU representations (f32 / i32 words) of tensor dtypes.
// p: [0]=numel [1]=input is float
//    [2]=output kind: 0 float, 1 int32 (int64 too), 2 int8, 3 uint8, 4 bool
// Float to int truncates toward zero (as torch does); narrow ints wrap; bool is (x != 0).
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint raw = a[i];
    bool in_float = p[1] != 0;
    int kind = p[2];
    if (kind == 0) {
        o[i] = in_float ? raw : floatBitsToUint(float(int(raw)));
        return;
    }
    if (kind == 4) {
        // Floats: any bits but the sign bit set means nonzero (NaN counts, as in torch).
        bool nz = in_float ? (raw & 0x7fffffffu) != 0u : raw != 0u;
        o[i] = nz ? 1u : 0u;
        return;
    }
    int v = in_float ? int(uintBitsToFloat(raw)) : int(raw);
    if (kind == 2) v = (v << 24) >> 24;
    else if (kind == 3) v = v & 255;
    o[i] = uint(v);
}
