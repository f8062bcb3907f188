#version 450
#include "common.glsl"
// out = min(max(x, lo), hi) on raw 32-bit words (NaN passes through, lo > hi gives hi).
// p: [0]=numel [1]=input is float [2]=output is float
//    [3]=lo(f) [4]=hi(f) (used for float outputs) [5]=lo(i) [6]=hi(i) (int outputs)
// Int input with float output converts first; float input with int output is not allowed.
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    uint raw = a[i];
    if (p[2] != 0) {
        float x = p[1] != 0 ? uintBitsToFloat(raw) : float(int(raw));
        // NaN first: drivers may fold the selects below into min/max, which drop NaN.
        if (is_nan_f(x)) {
            o[i] = floatBitsToUint(x);
            return;
        }
        float y = x < pf(3) ? pf(3) : x;
        y = y > pf(4) ? pf(4) : y;
        o[i] = floatBitsToUint(y);
    } else {
        int y = max(int(raw), p[5]);
        y = min(y, p[6]);
        o[i] = uint(y);
    }
}
