#version 450
#include "common.glsl"
// quantized_decomposed.choose_qparams_per_token_asymmetric (int8, per row of K), in f32 with
// correctly rounded divisions as torch computes it:
//   lo = min(min_k x, 0), hi = max(max_k x, 0), s = max((hi - lo) / 255, FLT_EPSILON)
//   dmin = lo / s, dmax = hi / s
//   zp = (-128 + dmin) + (127 + dmax) > 0 ? -128 - dmin : 127 - dmax
//   zp = roundEven(clamp(zp, -128, 127))
// NaN rows give NaN scales (zero point -128). One workgroup of 64 per row, min / max merged in
// shared memory.
struct Params {
    uint rows;
    uint k;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Scale { float scale[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Zero { int zero[]; };
layout(std430, set = 0, binding = 3) readonly buffer X { float x[]; };

shared vec2 range[64];

// a / b correctly rounded: a Newton step on the hardware quotient, `precise` so that the
// compiler neither splits the fmas (the residual must be exact) nor folds a constant divisor
// into a multiplication by its rounded reciprocal.
float divide(float a, float b) {
    precise float q = a / b;
    precise float r = fma(-q, b, a);
    precise float d = fma(r, 1.0 / b, q);
    return d;
}

void main() {
    uint row = work_index() / 64u;
    uint lane = gl_LocalInvocationID.x;
    if (row >= p.rows) return;
    float lo = 0.0, hi = 0.0;
    bool nan = false;
    for (uint i = lane; i < p.k; i += 64u) {
        float v = x[row * p.k + i];
        nan = nan || is_nan_f(v);
        lo = min(lo, v);
        hi = max(hi, v);
    }
    range[lane] = nan ? vec2(uintBitsToFloat(0x7fc00000u)) : vec2(lo, hi);
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (lane < s) {
            vec2 a = range[lane], b = range[lane + s];
            bool n = is_nan_f(a.x) || is_nan_f(b.x);
            range[lane] = n ? vec2(uintBitsToFloat(0x7fc00000u))
                            : vec2(min(a.x, b.x), max(a.y, b.y));
        }
        barrier();
    }
    if (lane != 0u) return;
    vec2 r = range[0];
    if (is_nan_f(r.x)) {
        scale[row] = r.x;
        zero[row] = -128;
        return;
    }
    // FLT_EPSILON = 2^-23.
    float s = max(divide(r.y - r.x, 255.0), 1.1920928955078125e-7);
    float dmin = divide(r.x, s), dmax = divide(r.y, s);
    precise float from_min = -128.0 + dmin;
    precise float from_max = 127.0 + dmax;
    precise float both = from_min + from_max;
    precise float zp = both > 0.0 ? -128.0 - dmin : 127.0 - dmax;
    scale[row] = s;
    zero[row] = int(roundEven(clamp(zp, -128.0, 127.0)));
}
