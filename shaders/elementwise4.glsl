// The body of elementwise4.comp and its variants: TEXEL_INPUT reads the inputs through
// uniform texel buffers (_texel), F16 stores f16 (_f16).
// Float elementwise ops over whole texels (vec4), in whatever layout the tensors share
// (contiguous, or channels-packed: Layout::Channels4). One invocation per texel.
// OP selects the op; build.rs compiles one SPIR-V per op listed below:
//   binary (binary.comp's codes): 0 add (a + alpha * b) 1 sub (a - alpha * b) 2 mul 3 div
//     7 minimum 8 maximum; b is a tensor of the same shape (b_mode 0), the scalar (1), or a
//     tensor broadcast by texel index (2): b texel = (t / b_div) % b_mod (b_mod 0: no wrap),
//     for per-channel [N or 1, C, 1, 1] operands of channels-packed tensors, or the first
//     element of b in every lane (3: a one-element constant packed into one texel);
//   unary: 100 + unary.comp's code (relu, sigmoid, ... leaky_relu) with parameter `param`;
//   200: clamp to [lo, hi] (NaN passes through).
// Channels-packed outputs keep their padding lanes zero (mask_lanes != 0 when C % 4 != 0):
// lane l of texel t is padding when ((t / hw) % c4) * 4 + l >= c.
struct Params {
    uint count;
    uint c;
    uint hw;
    uint c4;
    int mask_lanes;
    int b_mode;
    uint b_div;
    uint b_mod;
    float scalar;
    float alpha;
    float param;
    float lo;
    float hi;
};
layout(std430, set = 0, binding = 1) writeonly buffer Out { STORE_T o[]; };
#ifdef TEXEL_INPUT
layout(set = 0, binding = 2) uniform samplerBuffer A;
layout(set = 0, binding = 3) uniform samplerBuffer B;
#define LOAD_A(i) texelFetch(A, int(i))
#define LOAD_B(i) texelFetch(B, int(i))
#else
layout(std430, set = 0, binding = 2) readonly buffer A { STORE_T a[]; } A_;
layout(std430, set = 0, binding = 3) readonly buffer B { STORE_T b[]; } B_;
#define LOAD_A(i) vec4(A_.a[i])
#define LOAD_B(i) vec4(B_.b[i])
#endif
PARAMS_BLOCK(Params)

float binary_f(float x, float y) {
    if (OP == 0) return x + p.alpha * y;
    if (OP == 1) return x - p.alpha * y;
    if (OP == 2) return x * y;
    if (OP == 3) return x / y;
    if (is_nan_f(x) || is_nan_f(y)) return NAN_F;
    if (OP == 7) return min(x, y);
    return max(x, y);
}

float clamp_f(float x) {
    if (is_nan_f(x)) return x;
    float y = x < p.lo ? p.lo : x;
    return y > p.hi ? p.hi : y;
}

void main() {
    uint t = work_index();
    if (t >= p.count) return;
    vec4 x = LOAD_A(t);
    vec4 r;
    if (OP < 100) {
        vec4 y;
        if (p.b_mode == 0) y = LOAD_B(t);
        else if (p.b_mode == 1) y = vec4(p.scalar);
        else if (p.b_mode == 3) y = vec4(LOAD_B(0u).x);
        else {
            uint bt = t / p.b_div;
            y = LOAD_B(p.b_mod == 0u ? bt : bt % p.b_mod);
        }
        for (int l = 0; l < 4; ++l) r[l] = binary_f(x[l], y[l]);
    } else if (OP < 200) {
        for (int l = 0; l < 4; ++l) r[l] = unary_f(OP - 100, x[l], p.param);
    } else {
        for (int l = 0; l < 4; ++l) r[l] = clamp_f(x[l]);
    }
    if (p.mask_lanes != 0) {
        uint c0 = ((t / p.hw) % p.c4) * 4u;
        for (int l = 0; l < 4; ++l) {
            if (c0 + uint(l) >= p.c) r[l] = 0.0;
        }
    }
    o[t] = STORE_T(r);
}
