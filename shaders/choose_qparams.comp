#version 450
#include "common.glsl"
// torchao.choose_qparams_affine, ASYMMETRIC, per row of K (the 8da4w activation qparams):
//   lo = min(min_k x, 0), hi = max(max_k x, 0)
//   scale = max((hi - lo) / (qmax - qmin), eps), zp = clamp(qmin - roundEven(lo / scale), qmin, qmax)
// in f32 with correctly rounded divisions, as torch computes them. NaN rows give NaN scales.
// One workgroup of 64 per row, min / max merged in shared memory.
struct Params {
    uint rows;
    uint k;
    int qmin;
    int qmax;
    float eps;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Scale { float scale[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Zero { int zero[]; };
layout(std430, set = 0, binding = 3) readonly buffer X { float x[]; };

shared vec2 range[64];

// a / b correctly rounded (a Newton step on the hardware quotient). `precise`: otherwise GLSL
// lets the compiler evaluate an fma unfused (the residual must be exact) and fold a constant
// divisor into a multiplication by its rounded reciprocal.
float divide(float a, float b) {
    precise float q = a / b;
    precise float r = fma(-q, b, a);
    precise float d = fma(r, 1.0 / b, q);
    return d;
}

void main() {
    // A 1-D dispatch of 64 invocations per row: a whole workgroup shares its row.
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
    float s = max(divide(r.y - r.x, float(p.qmax - p.qmin)), p.eps);
    if (is_nan_f(r.x)) s = r.x;
    scale[row] = s;
    float z = float(p.qmin) - roundEven(divide(r.x, s));
    zero[row] = is_nan_f(z) ? p.qmin : int(clamp(z, float(p.qmin), float(p.qmax)));
}
