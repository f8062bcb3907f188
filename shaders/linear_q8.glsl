// The body of linear_qcw.comp and linear_q8ta.comp: a linear over per-output-channel
// quantized weights kept as raw bytes, [N, row_bytes] (rows need not start on a word).
//   WBITS 8: int8 weights, byte k of row n is w[n][k] (aten._weight_int8pack_mm, q8ta);
//   WBITS 4: two per byte, HIGH nibble = even k, value nibble - 8 (et_vk.linear_qcs4w).
//   float x (linear_qcw): out[m][n] = scale[n] * sum_k x[m][k] * w[n][k];
//   XINT (linear_q8ta, int8 x as i32 words): acc = sum_k (x - in_zp) * w exactly in int32,
//     f = float(acc) * (in_scale * scale[n]) + bias[n]; QOUT: out = requantize(relu?(f)),
//     else out = f. (The zero point is taken off x as it is loaded, so the exporter's weight
//     sums are not needed.)
// Each invocation computes TM rows x 4 columns, one weight word per column per step (4 or 8
// k values), decoded once and reused over the TM rows. With SPLIT > 1, a workgroup of SPLIT
// invocations computes one tile, each folding every SPLIT-th word, merged in shared memory.
// Grid: x = ceil(N / 4) (* SPLIT), y = ceil(M / TM).
layout(constant_id = 3) const int TM = 4;
layout(constant_id = 4) const int SPLIT = 1;
layout(constant_id = 5) const int XALIGNED = 1;
layout(constant_id = 6) const int WALIGNED = 1;
struct Params {
    uint m;
    uint k;
    uint n;
    uint row_bytes;
    uint w_words;
    uint chunks;
    int has_bias;
    int relu;
    int in_zp;
    int out_zp;
    float in_scale;
    float out_inv_scale;
};
PARAMS_BLOCK(Params)
#ifdef XINT
#if QOUT
layout(std430, set = 0, binding = 1) writeonly buffer Out { int o[]; };
#else
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
#endif
layout(std430, set = 0, binding = 2) readonly buffer X { ivec4 x4[]; };
layout(std430, set = 0, binding = 2) readonly buffer X1 { int x1[]; };
#define XVEC ivec4
#else
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { vec4 x4[]; };
layout(std430, set = 0, binding = 2) readonly buffer X1 { float x1[]; };
#define XVEC vec4
#endif
layout(std430, set = 0, binding = 3) readonly buffer W { uint w[]; };
layout(std430, set = 0, binding = 4) readonly buffer Scales { float scales[]; };
layout(std430, set = 0, binding = 5) readonly buffer Bias { float bias[]; };

// k values per weight word, and x vec4s per word.
#if WBITS == 4
#define KC 8u
#define NX 2
#else
#define KC 4u
#define NX 1
#endif

shared XVEC partial[SPLIT > 1 ? SPLIT * TM : 1];

// The 4 bytes at byte offset `at` of the weights, little endian.
uint load_word(uint at) {
    uint i = at >> 2u;
    if (WALIGNED != 0) return w[i];
    uint sh = (at & 3u) * 8u;
    uint lo = w[i];
    if (sh == 0u) return lo;
    uint hi = w[min(i + 1u, p.w_words - 1u)];
    return (lo >> sh) | (hi << (32u - sh));
}

// k values 4q .. 4q + 3 of one weight word.
XVEC decode(uint word, int q) {
#if WBITS == 4
    uvec4 sh = q == 0 ? uvec4(4u, 0u, 12u, 8u) : uvec4(20u, 16u, 28u, 24u);
    return XVEC(ivec4((uvec4(word) >> sh) & 15u) - 8);
#else
    return XVEC(bytes_of(word));
#endif
}

// x[row][k .. k + 3] (0 past K; XINT: minus the input zero point).
XVEC load_x(uint row, uint k) {
    XVEC v = XVEC(0);
    if (k >= p.k) return v;
    uint base = row * p.k + k;
    if (XALIGNED != 0) {
        v = x4[base / 4u];
#ifdef XINT
        v -= p.in_zp;
#endif
    } else {
        for (uint i = 0u; i < 4u; ++i) {
#ifdef XINT
            v[i] = k + i < p.k ? x1[base + i] - p.in_zp : 0;
#else
            v[i] = k + i < p.k ? x1[base + i] : 0.0;
#endif
        }
    }
    return v;
}

#ifdef XINT
int dot4(ivec4 a, ivec4 b) {
    ivec4 t = a * b;
    return (t.x + t.y) + (t.z + t.w);
}
#else
#define dot4 dot
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
    // Byte offsets of the 4 columns' weight rows (clamped past N; those lanes store nothing).
    uvec4 wrow = min(uvec4(n0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.n - 1u)) * p.row_bytes;
    XVEC acc[TM];
    for (int r = 0; r < TM; ++r) acc[r] = XVEC(0);
    for (uint c = lane; c < p.chunks; c += uint(SPLIT)) {
        uint at = c * 4u;
        uvec4 word = uvec4(load_word(wrow.x + at), load_word(wrow.y + at),
                           load_word(wrow.z + at), load_word(wrow.w + at));
        for (int q = 0; q < NX; ++q) {
            // Column j's 4 k values; past K (or past the row) x is 0.
            XVEC w0 = decode(word.x, q), w1 = decode(word.y, q);
            XVEC w2 = decode(word.z, q), w3 = decode(word.w, q);
            uint k = c * KC + uint(q) * 4u;
            for (int r = 0; r < TM; ++r) {
                XVEC xv = load_x(rows[r], k);
                acc[r] += XVEC(dot4(xv, w0), dot4(xv, w1), dot4(xv, w2), dot4(xv, w3));
            }
        }
    }
    if (SPLIT > 1) {
        for (int r = 0; r < TM; ++r) partial[lane * uint(TM) + uint(r)] = acc[r];
        SPLIT_TREE_SUM(partial, lane, TM);
        if (lane != 0u) return;
        for (int r = 0; r < TM; ++r) acc[r] = partial[uint(r)];
    }
    if (!live) return;
    for (int r = 0; r < TM; ++r) {
        uint m = m0 + uint(r);
        if (m >= p.m) break;
        for (uint j = 0u; j < 4u; ++j) {
            uint n = n0 + j;
            if (n >= p.n) break;
#ifdef XINT
            precise float f = float(acc[r][j]) * (p.in_scale * scales[n]);
            if (p.has_bias != 0) f = f + bias[n];
#if QOUT
            if (p.relu != 0) f = max(f, 0.0);
            o[m * p.n + n] = requantize(f, p.out_inv_scale, p.out_zp);
#else
            o[m * p.n + n] = f;
#endif
#else
            o[m * p.n + n] = acc[r][j] * scales[n];
#endif
        }
    }
}
