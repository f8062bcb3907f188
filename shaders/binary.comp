#version 450
#include "common.glsl"
#include "elementwise_common.glsl"
// Broadcasting elementwise ops on up to three inputs of any dtype mix, computed in f32 or i32
// (PyTorch's promoted type, chosen by the op) and stored in the output's dtype:
// out = a (op) b, or where(c, a, b). Tensors are raw 32-bit words (see elementwise_common).
// OP selects the op. build.rs compiles one SPIR-V per op listed below (-DOP=n), so that each
// op's pipeline carries only its own code: one build for all ops cost lavapipe 1-2 MB of host
// memory per pipeline.
// variants: OP 0 1 2 3 4 5 6 7 8 10 11 12 13 14 15 20 21 22 30 31 32 40
// ops: 0 add (a + alpha*b) 1 sub (a - alpha*b) 2 mul 3 div 4 div trunc 5 div floor 6 pow
//      7 minimum 8 maximum | 10 eq 11 ne 12 lt 13 le 14 gt 15 ge | 20 bitwise and 21 or
//      22 xor | 30 logical and 31 or 32 xor | 40 where(c, a, b)
struct Params {
    uint count;
    int rank;
    int compute_float;
    int a_float;
    int b_float;
    int c_float;
    int out_kind;
    int b_tensor;
    float scalar_f;
    int scalar_i;
    float alpha_f;
    int alpha_i;
    int sizes[8];
    int a_strides[8];
    int b_strides[8];
    int c_strides[8];
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer A { uint a[]; };
layout(std430, set = 0, binding = 3) readonly buffer B { uint b[]; };
layout(std430, set = 0, binding = 4) readonly buffer C { uint c[]; };

// torch's floor division of floats (c10 div_floor_floating): from the remainder, so that
// a == b * q + r holds as closely as f32 allows.
float div_floor_f(float x, float y) {
    if (y == 0.0) return x / y;
    float m = x - y * trunc(x / y);
    float d = (x - m) / y;
    if (m != 0.0 && ((y < 0.0) != (m < 0.0))) d -= 1.0;
    if (d == 0.0) return (floatBitsToUint(x / y) & 0x80000000u) != 0u ? -0.0 : 0.0;
    float f = floor(d);
    if (d - f > 0.5) f += 1.0;
    return f;
}

// Integer division truncating toward zero; division by zero gives 0 (torch raises).
int div_trunc_i(int x, int y) {
    if (y == 0) return 0;
    uint q = uint(abs(x)) / uint(abs(y));
    return ((x < 0) != (y < 0)) ? -int(q) : int(q);
}

int div_floor_i(int x, int y) {
    int q = div_trunc_i(x, y);
    if (y != 0 && x - q * y != 0 && ((x < 0) != (y < 0))) q -= 1;
    return q;
}

// x^n by squaring; negative n as torch's integer pow (1, +-1, else 0).
int pow_i(int x, int n) {
    if (n < 0) {
        if (x == 1) return 1;
        if (x == -1) return (n & 1) != 0 ? -1 : 1;
        return 0;
    }
    int r = 1;
    while (n > 0) {
        if ((n & 1) != 0) r *= x;
        x *= x;
        n >>= 1;
    }
    return r;
}

// C's pow: exact squaring for integral exponents up to 32, sqrt/rsqrt for +-0.5, else
// exp2(y * log2|x|) with the sign of odd integral exponents.
float pow_f(float x, float y) {
    if (y == 0.0 || x == 1.0) return 1.0;
    if (is_nan_f(x) || is_nan_f(y)) return NAN_F;
    bool integral = trunc(y) == y;
    if (integral && abs(y) <= 32.0) {
        int n = int(abs(y));
        float r = 1.0, s = x;
        while (n > 0) {
            if ((n & 1) != 0) r *= s;
            s *= s;
            n >>= 1;
        }
        return y < 0.0 ? 1.0 / r : r;
    }
    if (x < 0.0 && !integral) return NAN_F;
    float ax = abs(x);
    if (y == 0.5 && !is_inf_f(x)) return sqrt(ax);
    float r;
    if (ax == 0.0) r = y > 0.0 ? 0.0 : INF_F;
    else if (ax == 1.0) r = 1.0;  // (-1)^(+-inf)
    else if (is_inf_f(ax)) r = y > 0.0 ? INF_F : 0.0;
    else if (y == -0.5) r = inversesqrt(ax);
    else r = exp2(y * log2(ax));
    bool odd = integral && abs(y) < 16777216.0 && fract(y * 0.5) != 0.0;
    return (x < 0.0 || (x == 0.0 && (floatBitsToUint(x) & 0x80000000u) != 0u)) && odd ? -r : r;
}

void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int rank = p.rank;
    int op = OP;
    bool has_c = op == 40;
    uint rem = i, ia = 0u, ib = 0u, ic = 0u;
    for (int d = rank - 1; d >= 0; --d) {
        uint size = uint(p.sizes[d]);
        uint k = rem % size;
        rem /= size;
        ia += k * uint(p.a_strides[d]);
        ib += k * uint(p.b_strides[d]);
        if (has_c) ic += k * uint(p.c_strides[d]);
    }
    int kind = p.out_kind;
    bool fa = p.a_float != 0, fb = p.b_float != 0;
    bool b_tensor = p.b_tensor != 0;
    uint ra = a[ia];
    uint rb = b_tensor ? b[ib] : 0u;

    if (op >= 30 && op < 40) {
        bool x = truthy(ra, fa);
        bool y = b_tensor ? truthy(rb, fb) : p.scalar_f != 0.0;
        bool r = op == 30 ? (x && y) : (op == 31 ? (x || y) : (x != y));
        o[i] = store_int(r ? 1 : 0, kind);
        return;
    }
    if (op == 40) {
        bool cond = truthy(c[ic], p.c_float != 0);
        uint rv = cond ? ra : rb;
        bool fv = cond ? fa : fb;
        o[i] = p.compute_float != 0 ? store_float(as_f(rv, fv), kind) : store_int(as_i(rv, fv), kind);
        return;
    }

    if (p.compute_float != 0) {
        float x = as_f(ra, fa);
        float y = b_tensor ? as_f(rb, fb) : p.scalar_f;
        if (op >= 10) {
            bool r;
            if (op == 10) r = x == y;
            else if (op == 11) r = !(x == y);
            else if (op == 12) r = x < y;
            else if (op == 13) r = x <= y;
            else if (op == 14) r = x > y;
            else r = x >= y;
            o[i] = store_int(r ? 1 : 0, kind);
            return;
        }
        float r;
        if (op == 0) r = x + p.alpha_f * y;
        else if (op == 1) r = x - p.alpha_f * y;
        else if (op == 2) r = x * y;
        else if (op == 3) r = x / y;
        else if (op == 4) r = trunc(x / y);
        else if (op == 5) r = div_floor_f(x, y);
        else if (op == 6) r = pow_f(x, y);
        else if (is_nan_f(x) || is_nan_f(y)) r = NAN_F;
        else if (op == 7) r = min(x, y);
        else r = max(x, y);
        o[i] = store_float(r, kind);
    } else {
        int x = int(ra);
        int y = b_tensor ? int(rb) : p.scalar_i;
        int r;
        if (op == 0) r = x + p.alpha_i * y;
        else if (op == 1) r = x - p.alpha_i * y;
        else if (op == 2) r = x * y;
        else if (op == 3 || op == 4) r = div_trunc_i(x, y);
        else if (op == 5) r = div_floor_i(x, y);
        else if (op == 6) r = pow_i(x, y);
        else if (op == 7) r = min(x, y);
        else if (op == 8) r = max(x, y);
        else if (op == 10) r = int(x == y);
        else if (op == 11) r = int(x != y);
        else if (op == 12) r = int(x < y);
        else if (op == 13) r = int(x <= y);
        else if (op == 14) r = int(x > y);
        else if (op == 15) r = int(x >= y);
        else if (op == 20) r = x & y;
        else if (op == 21) r = x | y;
        else r = x ^ y;
        o[i] = store_int(r, kind);
    }
}
