// The body of gemm.comp and gemm_texel.comp (TEXEL_INPUT: A and B are uniform texel buffers).
// Register-tiled matrix product over vec4s, for linear, addmm, mm and bmm:
//   out[b, m, n] = alpha * sum_k A[b, m, k] * B(k, n) + beta * bias[m * bias_sm + n * bias_sn]
// A is [M, K] per batch (row-major, K % 4 == 0), B is [K, N] (B_TRANSPOSED = 0) or [N, K]
// (B_TRANSPOSED = 1, linear's weight), N % 4 == 0. Each invocation computes a tile of TM rows
// x 4 columns: per 4 steps of k it loads TM vec4s of A and 4 of B and does 4 * TM vec4
// multiply-adds. With SPLIT > 1 a workgroup of SPLIT invocations computes one tile, each
// folding every SPLIT-th block of k, merged in shared memory (few long dot products: GEMV).
// Grid: x = N / 4 (SPLIT = 1) or N / 4 * SPLIT (one workgroup per column block), y = M / TM,
// z = batch.
layout(constant_id = 3) const int TM = 4;
layout(constant_id = 4) const int B_TRANSPOSED = 1;
layout(constant_id = 5) const int SPLIT = 1;
struct Params {
    uint m;
    uint k4;
    uint n4;
    uint a_batch_stride4;
    uint b_batch_stride4;
    int has_bias;
    float alpha;
    float beta;
    uint bias_sm;
    uint bias_sn;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { vec4 o[]; };
#ifdef TEXEL_INPUT
layout(set = 0, binding = 2) uniform samplerBuffer A;
layout(set = 0, binding = 3) uniform samplerBuffer B;
#define LOAD_A(i) texelFetch(A, int(i))
#define LOAD_B(i) texelFetch(B, int(i))
#else
layout(std430, set = 0, binding = 2) readonly buffer A { vec4 a[]; } A_;
layout(std430, set = 0, binding = 3) readonly buffer B { vec4 b[]; } B_;
#define LOAD_A(i) A_.a[i]
#define LOAD_B(i) B_.b[i]
#endif
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };

shared vec4 partial[SPLIT > 1 ? SPLIT * TM : 1];

void main() {
    uint n4 = SPLIT > 1 ? gl_WorkGroupID.x : gl_GlobalInvocationID.x;
    uint lane = SPLIT > 1 ? gl_LocalInvocationID.x : 0u;
    uint m0 = gl_GlobalInvocationID.y * uint(TM);
    uint batch = gl_GlobalInvocationID.z;
    bool live = n4 < p.n4 && m0 < p.m;
    // Out-of-range invocations still take part in the merge (barriers), computing on clamped
    // indices and storing nothing.
    n4 = min(n4, p.n4 - 1u);
    uint a_base = batch * p.a_batch_stride4;
    uint b_base = batch * p.b_batch_stride4;
    uint rows[TM];
    for (int r = 0; r < TM; ++r) rows[r] = a_base + min(m0 + uint(r), p.m - 1u) * p.k4;
    vec4 acc[TM];
    for (int r = 0; r < TM; ++r) acc[r] = vec4(0.0);
    for (uint k = lane; k < p.k4; k += uint(SPLIT)) {
        vec4 av[TM];
        for (int r = 0; r < TM; ++r) av[r] = LOAD_A(rows[r] + k);
        if (B_TRANSPOSED != 0) {
            // B rows n0..n0+3 at this block of k: dot products.
            uint bb = b_base + (n4 * 4u) * p.k4 + k;
            vec4 b0 = LOAD_B(bb), b1 = LOAD_B(bb + p.k4), b2 = LOAD_B(bb + 2u * p.k4),
                 b3 = LOAD_B(bb + 3u * p.k4);
            for (int r = 0; r < TM; ++r) {
                acc[r] += vec4(dot(av[r], b0), dot(av[r], b1), dot(av[r], b2), dot(av[r], b3));
            }
        } else {
            // B rows k..k+3 at columns n0..n0+3.
            uint bb = b_base + (k * 4u) * p.n4 + n4;
            vec4 b0 = LOAD_B(bb), b1 = LOAD_B(bb + p.n4), b2 = LOAD_B(bb + 2u * p.n4),
                 b3 = LOAD_B(bb + 3u * p.n4);
            for (int r = 0; r < TM; ++r) {
                acc[r] += av[r].x * b0 + av[r].y * b1 + av[r].z * b2 + av[r].w * b3;
            }
        }
    }
    if (SPLIT > 1) {
        for (int r = 0; r < TM; ++r) partial[lane * uint(TM) + uint(r)] = acc[r];
        barrier();
        for (uint s = uint(SPLIT) / 2u; s > 0u; s >>= 1) {
            if (lane < s) {
                for (int r = 0; r < TM; ++r) {
                    partial[lane * uint(TM) + uint(r)] += partial[(lane + s) * uint(TM) + uint(r)];
                }
            }
            barrier();
        }
        if (lane != 0u) return;
        for (int r = 0; r < TM; ++r) acc[r] = partial[uint(r)];
    }
    if (!live) return;
    uint n0 = n4 * 4u;
    uint out_base = batch * p.m * p.n4;
    for (int r = 0; r < TM; ++r) {
        uint m = m0 + uint(r);
        if (m >= p.m) break;
        vec4 v = p.alpha * acc[r];
        if (p.has_bias != 0) {
            uint bm = m * p.bias_sm;
            v += p.beta * vec4(bias[bm + n0 * p.bias_sn], bias[bm + (n0 + 1u) * p.bias_sn],
                               bias[bm + (n0 + 2u) * p.bias_sn], bias[bm + (n0 + 3u) * p.bias_sn]);
        }
        o[out_base + m * p.n4 + n4] = v;
    }
}
