// The body of gemm.comp and its variants: TEXEL_INPUT reads A and B through uniform texel
// buffers (_texel), F16 stores f16 (_f16).
// Register-tiled matrix product for linear, addmm, mm and bmm:
//   out[b, m, n] = alpha * sum_k A[b, m, k] * B(k, n) + beta * bias[m * bias_sm + n * bias_sn]
// A is [M, K] per batch (row-major), B is [K, N] (B_TRANSPOSED = 0) or [N, K] (B_TRANSPOSED
// = 1, linear's weight). Each invocation computes a tile of TM rows x 4 * TN columns: per 4
// steps of k it loads TM vec4s of A and 4 * TN of B and does 4 * TM * TN vec4 multiply-adds.
// ALIGNED is a bit set: whole-vec4 loads of A (1: rows and batches of A start on a vec4),
// of B (2: B's rows and batches do) and stores of the output (4: N is a multiple of 4); an
// operand without its bit is gathered from scalars with bounds (storage buffers only, 7 with
// texel reads), so any shape runs on the same kernel. With SPLIT > 1 a workgroup of SPLIT
// invocations computes one tile, each folding every SPLIT-th block of k, merged in shared
// memory (few long dot products: GEMV).
// Grid: x = ceil(ceil(N / 4) / TN) (SPLIT = 1) or ceil(N / 4) * SPLIT (one workgroup per
// column block), y = ceil(M / TM), z = batch.
layout(constant_id = 3) const int TM = 4;
layout(constant_id = 4) const int B_TRANSPOSED = 1;
layout(constant_id = 5) const int SPLIT = 1;
layout(constant_id = 6) const int ALIGNED = 7;
// Applied to each output after the bias: 0 none, else unary_f's op ACT - 1 (an activation that
// read only the product, taken over: relu, sigmoid, tanh, gelu, gelu tanh, hardswish).
layout(constant_id = 7) const int ACT = 0;
// 1: add the Residual binding (the output's shape and format) after the bias: a residual add
// that read only the product, taken over.
layout(constant_id = 8) const int RESIDUAL = 0;
// Column blocks of 4 per invocation (1 with SPLIT > 1): CPU devices take 2, so that each A
// texel loaded serves 8 columns (llvmpipe's loads are per-lane gathers).
layout(constant_id = 9) const int TN = 1;
struct Params {
    uint m;
    uint k;
    uint n;
    uint a_batch_stride;
    uint b_batch_stride;
    // Elements between consecutive rows of A (along m) and of B as stored (along n when
    // transposed, along k otherwise): k and k or n for contiguous operands, more for one read
    // in place from a wider tensor (a head of a projection).
    uint a_row_stride;
    uint b_row_stride;
    int has_bias;
    float alpha;
    float beta;
    uint bias_sm;
    uint bias_sn;
};
PARAMS_BLOCK(Params)
// Whole-vec4 and scalar views of the same bindings (ALIGNED's bits pick which are used).
layout(std430, set = 0, binding = 1) writeonly buffer Out { STORE_T o[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out1 { SCALAR_T o1[]; };
#ifdef TEXEL_INPUT
layout(set = 0, binding = 2) uniform samplerBuffer A;
layout(set = 0, binding = 3) uniform samplerBuffer B;
#define LOAD_A(i) texelFetch(A, int(i))
#define LOAD_B(i) texelFetch(B, int(i))
#define LOAD_A1(i) 0.0
#define LOAD_B1(i) 0.0
#else
layout(std430, set = 0, binding = 2) readonly buffer A { STORE_T a[]; } A_;
layout(std430, set = 0, binding = 2) readonly buffer A1 { SCALAR_T a1[]; } A1_;
layout(std430, set = 0, binding = 3) readonly buffer B { STORE_T b[]; } B_;
layout(std430, set = 0, binding = 3) readonly buffer B1 { SCALAR_T b1[]; } B1_;
#define LOAD_A(i) vec4(A_.a[i])
#define LOAD_B(i) vec4(B_.b[i])
#define LOAD_A1(i) float(A1_.a1[i])
#define LOAD_B1(i) float(B1_.b1[i])
#endif
layout(std430, set = 0, binding = 5) readonly buffer Residual { SCALAR_T r1[]; };
#if defined(F16) || defined(F16_WEIGHTS)
layout(std430, set = 0, binding = 4) readonly buffer Bias { float16_t bias[]; };
#else
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };
#endif

shared vec4 partial[SPLIT > 1 ? SPLIT * TM : 1];

// Scalars `base + j * step` for j < 4 where `first + j < limit`, else 0 (operands without
// their ALIGNED bit).
vec4 gather_a(uint base, uint step, uint first, uint limit) {
    vec4 v = vec4(0.0);
    for (uint j = 0u; j < 4u; ++j) {
        uint at = first + j < limit ? base + j * step : base;
        v[j] = first + j < limit ? LOAD_A1(at) : 0.0;
    }
    return v;
}
vec4 gather_b(uint base, uint step, uint first, uint limit) {
    vec4 v = vec4(0.0);
    for (uint j = 0u; j < 4u; ++j) {
        uint at = first + j < limit ? base + j * step : base;
        v[j] = first + j < limit ? LOAD_B1(at) : 0.0;
    }
    return v;
}

// B's 4 x 4 block at column block nc4, k block k4: rows n0..n0+3 of a transposed B at
// columns k0..k0+3, else rows k0..k0+3 at columns n0..n0+3.
void load_b(uint b_base, uint nc4, uint k4, out vec4 bv[4]) {
    uint n0 = nc4 * 4u, k0 = k4 * 4u;
    for (uint j = 0u; j < 4u; ++j) {
        if (B_TRANSPOSED != 0) {
            uint row = b_base + min(n0 + j, p.n - 1u) * p.b_row_stride;
            bv[j] = (ALIGNED & 2) != 0 ? LOAD_B(row / 4u + k4) : gather_b(row + k0, 1u, k0, p.k);
            if (n0 + j >= p.n) bv[j] = vec4(0.0);
        } else {
            uint row = b_base + min(k0 + j, p.k - 1u) * p.b_row_stride;
            bv[j] = (ALIGNED & 2) != 0 ? LOAD_B(row / 4u + nc4) : gather_b(row + n0, 1u, n0, p.n);
            if (k0 + j >= p.k) bv[j] = vec4(0.0);
        }
    }
}

// One row's 4 k-steps of a block: dot products with a transposed B's rows, else a sum of
// B's rows scaled by a's components.
vec4 product(vec4 a, vec4 bv[4]) {
    if (B_TRANSPOSED != 0) {
        return vec4(dot(a, bv[0]), dot(a, bv[1]), dot(a, bv[2]), dot(a, bv[3]));
    }
    return a.x * bv[0] + a.y * bv[1] + a.z * bv[2] + a.w * bv[3];
}

// Output row m (starting at element `row`), column block nc4: alpha, bias, residual and
// activation applied, stored.
void store_block(uint m, uint row, uint nc4, vec4 a) {
    uint n0 = nc4 * 4u;
    vec4 v = p.alpha * a;
    if (p.has_bias != 0) {
        uint bm = m * p.bias_sm;
        for (uint j = 0u; j < 4u; ++j) {
            uint at = bm + min(n0 + j, p.n - 1u) * p.bias_sn;
            v[j] += p.beta * float(bias[at]);
        }
    }
    if (RESIDUAL != 0) {
        for (uint j = 0u; j < 4u; ++j) v[j] += float(r1[row + min(n0 + j, p.n - 1u)]);
    }
    if (ACT != 0) {
        for (int j = 0; j < 4; ++j) v[j] = unary_f(ACT - 1, v[j], 0.0);
    }
    if ((ALIGNED & 4) != 0) {
        o[row / 4u + nc4] = STORE_T(v);
    } else {
        for (uint j = 0u; j < 4u; ++j) {
            if (n0 + j < p.n) o1[row + n0 + j] = SCALAR_T(v[j]);
        }
    }
}

void main() {
    uint n4s = (p.n + 3u) / 4u;
    uint k4s = (p.k + 3u) / 4u;
    // This invocation's first column block; TN blocks from there (TN = 1 with SPLIT > 1).
    uint n4 = (SPLIT > 1 ? gl_WorkGroupID.x : gl_GlobalInvocationID.x) * uint(TN);
    uint lane = SPLIT > 1 ? gl_LocalInvocationID.x : 0u;
    uint m0 = gl_GlobalInvocationID.y * uint(TM);
    uint batch = gl_GlobalInvocationID.z;
    bool live = n4 < n4s && m0 < p.m;
    // Without a merge, out-of-range invocations (a workgroup wider than the columns) stop
    // here; with one they still take part in it (barriers), computing on clamped indices and
    // storing nothing.
    if (SPLIT == 1 && !live) return;
    n4 = min(n4, n4s - 1u);
    uint a_base = batch * p.a_batch_stride;
    uint b_base = batch * p.b_batch_stride;
    uint rows[TM];
    for (int r = 0; r < TM; ++r) rows[r] = a_base + min(m0 + uint(r), p.m - 1u) * p.a_row_stride;
    // acc: column block n4, acc2: block n4 + 1 (TN = 2), one vec4 per row m0 + r. Two arrays
    // indexed by r alone, so that drivers unroll every loop over them (llvmpipe keeps an
    // array indexed in a loop it does not unroll in scratch memory: 3x slower).
    vec4 acc[TM];
    vec4 acc2[TN > 1 ? TM : 1];
    for (int r = 0; r < TM; ++r) acc[r] = vec4(0.0);
    for (int r = 0; r < (TN > 1 ? TM : 1); ++r) acc2[r] = vec4(0.0);
    // The second block past the last is computed on clamped indices and not stored.
    uint n4b = min(n4 + 1u, n4s - 1u);
    for (uint k4 = lane; k4 < k4s; k4 += uint(SPLIT)) {
        uint k0 = k4 * 4u;
        vec4 av[TM];
        for (int r = 0; r < TM; ++r) {
            av[r] = (ALIGNED & 1) != 0 ? LOAD_A(rows[r] / 4u + k4)
                                        : gather_a(rows[r] + k0, 1u, k0, p.k);
        }
        vec4 bv[4];
        load_b(b_base, n4, k4, bv);
        for (int r = 0; r < TM; ++r) acc[r] += product(av[r], bv);
        if (TN > 1) {
            load_b(b_base, n4b, k4, bv);
            for (int r = 0; r < TM; ++r) acc2[r] += product(av[r], bv);
        }
    }
    if (SPLIT > 1) {
        for (int r = 0; r < TM; ++r) partial[lane * uint(TM) + uint(r)] = acc[r];
        SPLIT_TREE_SUM(partial, lane, TM);
        if (lane != 0u) return;
        for (int r = 0; r < TM; ++r) acc[r] = partial[uint(r)];
    }
    if (!live) return;
    uint out_base = batch * p.m * p.n;
    for (int r = 0; r < TM; ++r) {
        uint m = m0 + uint(r);
        if (m >= p.m) break;
        store_block(m, out_base + m * p.n, n4, acc[r]);
        if (TN > 1 && n4 + 1u < n4s) store_block(m, out_base + m * p.n, n4 + 1u, acc2[r]);
    }
}
