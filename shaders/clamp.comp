#version 450
#include "common.glsl"
// out = min(max(x, lo), hi) on raw 32-bit words (NaN passes through, lo > hi gives hi).
// Int input with float output converts first; float input with int output is not allowed.
struct Params {
    uint count;
    int input_float;
    int output_float;
    float lo;
    float hi;
    int lo_i;
    int hi_i;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint raw = a[i];
    if (p.output_float != 0) {
        float x = p.input_float != 0 ? uintBitsToFloat(raw) : float(int(raw));
        // NaN first: drivers may fold the selects below into min/max, which drop NaN.
        if (is_nan_f(x)) {
            o[i] = floatBitsToUint(x);
            return;
        }
        float y = x < p.lo ? p.lo : x;
        y = y > p.hi ? p.hi : y;
        o[i] = floatBitsToUint(y);
    } else {
        int y = max(int(raw), p.lo_i);
        y = min(y, p.hi_i);
        o[i] = uint(y);
    }
}
