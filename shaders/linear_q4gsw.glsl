// The body of linear_q4gsw.comp and linear_dq8ca_q4gsw.comp (DQ8CA): a linear over 4-bit
// group-symmetric weights, kept packed two per byte as the exporter writes them.
//   weights: [N, Kp / 2] bytes, Kp = K rounded up to 8, so each row is Kp / 8 words; nibble i
//            of word kw (bits 4i..4i+3) is k = 8 kw + i, value nibble - 8 (padding: 8, i.e. 0);
//   scales:  [K / G, N4] (transposed, N padded to 4): scales[g][n0..n0+3] is one vec4;
//   q4gsw:   out[m][n] = sum_k x[m][k] * (nib[n][k] - 8) * scale[k / G][n] + bias[n];
//   dq8ca:   x is first quantized per row with its scale s[m] and zero point zp[m] (from
//            choose_qparams_affine): q = clamp(roundEven(x * (1 / s)) + zp, -128, 127), and
//            out[m][n] = s[m] * (sum_k q * (nib - 8) * scale - zp[m] * sum_g scale[g][n] *
//            sums[g][n]) + bias[n], where sums[g][n] (shipped by the exporter, [K / G, N8])
//            is the sum of group g's weights: the zero point leaves the inner loop.
// Each invocation computes TM rows x 4 columns; the 4 columns' words are unpacked together
// (uvec4 shifts), so one nibble index gives a vec4 over the columns, and every row reuses it.
// With SPLIT > 1, a workgroup of SPLIT invocations computes one tile, each folding every
// SPLIT-th word of K, merged in shared memory (GEMV on GPUs).
// GROUP8 = 1 (G a multiple of 8): one scale vec4 per word; else one per nibble.
// Grid: x = ceil(N / 4) (* SPLIT), y = ceil(M / TM).
layout(constant_id = 3) const int TM = 4;
layout(constant_id = 4) const int SPLIT = 1;
layout(constant_id = 5) const int ALIGNED = 1;
layout(constant_id = 6) const int GROUP8 = 1;
struct Params {
    uint m;
    uint k;
    uint n;
    uint group;
    uint groups;
    uint row_words;
    uint scale_stride;
    uint sums_stride;
    int has_bias;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { vec4 x4[]; };
layout(std430, set = 0, binding = 2) readonly buffer X1 { float x1[]; };
#ifdef DQ8CA
layout(std430, set = 0, binding = 3) readonly buffer XScale { float x_scale[]; };
layout(std430, set = 0, binding = 4) readonly buffer XZero { int x_zero[]; };
layout(std430, set = 0, binding = 5) readonly buffer W { uint w[]; };
layout(std430, set = 0, binding = 6) readonly buffer Sums { int sums[]; };
layout(std430, set = 0, binding = 7) readonly buffer Scales { vec4 scales[]; };
layout(std430, set = 0, binding = 8) readonly buffer Bias { vec4 bias[]; };
#else
layout(std430, set = 0, binding = 3) readonly buffer W { uint w[]; };
layout(std430, set = 0, binding = 4) readonly buffer Scales { vec4 scales[]; };
layout(std430, set = 0, binding = 5) readonly buffer Bias { vec4 bias[]; };
#endif

shared vec4 partial[SPLIT > 1 ? SPLIT * TM : 1];
#ifdef DQ8CA
shared vec4 partial_zero[SPLIT > 1 ? SPLIT : 1];
#endif

// x[row][k0 .. k0 + 7] (0 past K).
void load_x(uint row, uint k0, out vec4 lo, out vec4 hi) {
    uint base = row * p.k + k0;
    if (ALIGNED != 0) {
        lo = x4[base / 4u];
        hi = k0 + 4u < p.k ? x4[base / 4u + 1u] : vec4(0.0);
    } else {
        for (uint i = 0u; i < 4u; ++i) {
            lo[i] = k0 + i < p.k ? x1[base + i] : 0.0;
            hi[i] = k0 + 4u + i < p.k ? x1[base + 4u + i] : 0.0;
        }
    }
}

// The scale vec4 of columns n4 * 4 .. + 3 for group g.
vec4 scale_of(uint g, uint n4) {
    return scales[g * (p.scale_stride / 4u) + n4];
}

#ifdef DQ8CA
// 1 / s correctly rounded (one Newton step on the hardware reciprocal), as torch's f32
// `1.0 / scale` is. `precise`: otherwise GLSL lets the compiler evaluate an fma unfused, and
// the step needs the exact residual.
float reciprocal(float s) {
    precise float r = 1.0 / s;
    precise float e = fma(-s, r, 1.0);
    precise float out_r = fma(r, e, r);
    return out_r;
}

vec4 quantize(vec4 v, float inv, float zp, uint k0) {
    vec4 q = clamp(roundEven(v * inv) + zp, -128.0, 127.0);
    // Past K: no value (the weights there are 0 too, but q would be zp).
    for (uint i = 0u; i < 4u; ++i) {
        if (k0 + i >= p.k) q[i] = 0.0;
    }
    return q;
}
#endif

void main() {
    uint n4s = (p.n + 3u) / 4u;
    uint n4 = SPLIT > 1 ? gl_WorkGroupID.x : gl_GlobalInvocationID.x;
    uint lane = SPLIT > 1 ? gl_LocalInvocationID.x : 0u;
    uint m0 = gl_GlobalInvocationID.y * uint(TM);
    bool live = n4 < n4s && m0 < p.m;
    // Out-of-range invocations still take part in the merge, on clamped indices.
    n4 = min(n4, n4s - 1u);
    uint n0 = n4 * 4u;
    uint rows[TM];
    for (int r = 0; r < TM; ++r) rows[r] = min(m0 + uint(r), p.m - 1u);
#ifdef DQ8CA
    float inv[TM];
    float zp[TM];
    for (int r = 0; r < TM; ++r) {
        inv[r] = reciprocal(x_scale[rows[r]]);
        zp[r] = float(x_zero[rows[r]]);
    }
#endif
    // Word offsets of the 4 columns' weight rows (clamped past N; those lanes store nothing).
    uvec4 wrow = uvec4(min(uvec4(n0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.n - 1u))) * p.row_words;
    vec4 acc[TM];
    for (int r = 0; r < TM; ++r) acc[r] = vec4(0.0);
    for (uint kw = lane; kw < p.row_words; kw += uint(SPLIT)) {
        uint k0 = kw * 8u;
        uvec4 word = uvec4(w[wrow.x + kw], w[wrow.y + kw], w[wrow.z + kw], w[wrow.w + kw]);
        vec4 xs[TM][2];
        for (int r = 0; r < TM; ++r) {
            load_x(rows[r], k0, xs[r][0], xs[r][1]);
#ifdef DQ8CA
            xs[r][0] = quantize(xs[r][0], inv[r], zp[r], k0);
            xs[r][1] = quantize(xs[r][1], inv[r], zp[r], k0 + 4u);
#endif
        }
        vec4 part[TM];
        for (int r = 0; r < TM; ++r) part[r] = vec4(0.0);
        for (uint i = 0u; i < 8u; ++i) {
            // Nibble i of the 4 columns.
            vec4 wv = vec4((word >> (4u * i)) & 0xfu) - 8.0;
            if (GROUP8 == 0) {
                // Past K the nibbles are 8 (0), and the group index may pass the last group.
                wv *= scale_of(min((k0 + i) / p.group, p.groups - 1u), n4);
            }
            for (int r = 0; r < TM; ++r) part[r] += xs[r][i / 4u][i % 4u] * wv;
        }
        vec4 s = GROUP8 != 0 ? scale_of(k0 / p.group, n4) : vec4(1.0);
        for (int r = 0; r < TM; ++r) acc[r] += part[r] * s;
    }
#ifdef DQ8CA
    // sum_g scale[g][n] * sums[g][n] over this lane's groups.
    vec4 zero_term = vec4(0.0);
    for (uint g = lane; g < p.groups; g += uint(SPLIT)) {
        uint at = g * p.sums_stride + n0;
        vec4 sv = vec4(sums[at], sums[at + 1u], sums[at + 2u], sums[at + 3u]);
        zero_term += scale_of(g, n4) * sv;
    }
#endif
    if (SPLIT > 1) {
        for (int r = 0; r < TM; ++r) partial[lane * uint(TM) + uint(r)] = acc[r];
#ifdef DQ8CA
        partial_zero[lane] = zero_term;
#endif
        barrier();
        for (uint s = uint(SPLIT) / 2u; s > 0u; s >>= 1) {
            if (lane < s) {
                for (int r = 0; r < TM; ++r) {
                    partial[lane * uint(TM) + uint(r)] += partial[(lane + s) * uint(TM) + uint(r)];
                }
#ifdef DQ8CA
                partial_zero[lane] += partial_zero[lane + s];
#endif
            }
            barrier();
        }
        if (lane != 0u) return;
        for (int r = 0; r < TM; ++r) acc[r] = partial[uint(r)];
#ifdef DQ8CA
        zero_term = partial_zero[0];
#endif
    }
    if (!live) return;
    vec4 b = p.has_bias != 0 ? bias[n4] : vec4(0.0);
    for (int r = 0; r < TM; ++r) {
        uint m = m0 + uint(r);
        if (m >= p.m) break;
#ifdef DQ8CA
        vec4 v = x_scale[m] * (acc[r] - zp[r] * zero_term) + b;
#else
        vec4 v = acc[r] + b;
#endif
        for (uint j = 0u; j < 4u; ++j) {
            if (n0 + j < p.n) o[m * p.n + n0 + j] = v[j];
        }
    }
}
