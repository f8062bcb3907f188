// The body of attn_rows.comp and attn_rows_texel.comp (TEXEL_INPUT: q, k, v through uniform
// texel buffers).
// Attention that a bmm -> (scale) -> softmax(-1) -> bmm chain computes, as one dispatch (the
// chain written out by exporters of ViT and encoder blocks, and llama attention on CPU
// devices), a team of LANES invocations per query row or one invocation per ROWS rows:
//   out[t, i, :] = sum_j softmax_j(scale * q[t, i, :] . k[t, j, :]) * v[t, j, :]
// for t < batch (split into outer * heads for strided views), i < lq, j < lk. The row's q and
// its accumulator stay in registers (D4 and DV4 vec4s, spec constants). Split rows (GPUs) make
// two passes over the keys: the row's max, then the exp-weights and the weighted sum of
// values; an invocation of ROWS rows (CPU devices) makes one pass with a running max. No shared
// memory and no barriers on CPU devices: rows are independent, and the keys and values of a
// head are read by every row of it (cache hits on GPUs; one gather per key on CPU devices).
// Offsets and strides are in vec4s (rows and heads start on whole vec4s).
layout(constant_id = 3) const int D4 = 4;
layout(constant_id = 4) const int DV4 = 4;
// 1: multiply the scores by the Scale binding's first element too.
layout(constant_id = 5) const int SCALE_TENSOR = 0;
// Invocations per query row (GPUs: a row's keys split LANES ways, the max, the weight sum and
// the accumulators merged in shared memory; 1 on CPU devices).
layout(constant_id = 6) const int LANES = 1;
// Query rows per invocation when LANES = 1 (sharing each key and value load).
layout(constant_id = 7) const int ROWS = 1;
struct Params {
    uint lq;
    uint lk;
    uint heads;
    float scale;
    // Per tensor: offset, stride per outer index, per head, per row (vec4s).
    uint q_off;
    uint q_outer;
    uint q_head;
    uint q_row;
    uint k_off;
    uint k_outer;
    uint k_head;
    uint k_row;
    uint v_off;
    uint v_outer;
    uint v_head;
    uint v_row;
    uint o_off;
    uint o_outer;
    uint o_head;
    uint o_row;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { vec4 o[]; };
#ifdef TEXEL_INPUT
// CPU devices: a texel fetch is one vector gather, a storage-buffer load a loop over lanes.
layout(set = 0, binding = 2) uniform samplerBuffer Q;
layout(set = 0, binding = 3) uniform samplerBuffer K;
layout(set = 0, binding = 4) uniform samplerBuffer V;
#define LOAD_Q(i) texelFetch(Q, int(i))
#define LOAD_K(i) texelFetch(K, int(i))
#define LOAD_V(i) texelFetch(V, int(i))
#else
layout(std430, set = 0, binding = 2) readonly buffer Q { vec4 q[]; } Q_;
layout(std430, set = 0, binding = 3) readonly buffer K { vec4 k[]; } K_;
layout(std430, set = 0, binding = 4) readonly buffer V { vec4 v[]; } V_;
#define LOAD_Q(i) Q_.q[i]
#define LOAD_K(i) K_.k[i]
#define LOAD_V(i) V_.v[i]
#endif
layout(std430, set = 0, binding = 5) readonly buffer Scale { float scale_t[]; };

// Per invocation of a workgroup (at most 64): a score or weight sum, and the accumulators.
shared float team_s[LANES > 1 ? 64 : 1];
shared vec4 team_acc[LANES > 1 ? 64 * DV4 : 1];

// Combines `v` over the LANES invocations of a row (max when `is_max`, else the sum); every
// invocation of the workgroup must reach it (barriers).
float team_combine(float v, uint slot, uint lane, bool is_max) {
    team_s[slot] = v;
    barrier();
    for (uint s = uint(LANES) / 2u; s > 0u; s >>= 1) {
        if (lane < s) {
            float o = team_s[slot + s];
            team_s[slot] = is_max ? max(team_s[slot], o) : team_s[slot] + o;
        }
        barrier();
    }
    float r = team_s[slot - lane];
    barrier();
    return r;
}

// One invocation per ROWS consecutive query rows (CPU devices): one pass over the keys with
// a running max, 4 keys at a time (one rescale of the accumulators per 4), instead of a max
// pass and a sum pass that each compute every score: a third fewer dot products and key
// loads. The rows share every key and value load (a gather each on CPU devices). Rows past
// lq compute the last row again and store nothing.
void one_pass(uint i0, uint qb0, uint kb, uint vb, uint ob0, float scale) {
    vec4 qv[ROWS][D4];
    float mx[ROWS], l[ROWS];
    vec4 acc[ROWS][DV4];
    for (int r = 0; r < ROWS; ++r) {
        uint ir = min(i0 + uint(r), p.lq - 1u) - i0;
        for (int e = 0; e < D4; ++e) qv[r][e] = LOAD_Q(qb0 + ir * p.q_row + uint(e));
        mx[r] = uintBitsToFloat(0xff800000u);
        l[r] = 0.0;
        for (int e = 0; e < DV4; ++e) acc[r][e] = vec4(0.0);
    }
    uint j = 0u;
    for (; j + 4u <= p.lk; j += 4u) {
        vec4 s[ROWS];
        for (int c = 0; c < 4; ++c) {
            uint kr = kb + (j + uint(c)) * p.k_row;
            float d[ROWS];
            for (int r = 0; r < ROWS; ++r) d[r] = 0.0;
            for (int e = 0; e < D4; ++e) {
                vec4 kv = LOAD_K(kr + uint(e));
                for (int r = 0; r < ROWS; ++r) d[r] += dot(qv[r][e], kv);
            }
            for (int r = 0; r < ROWS; ++r) s[r][c] = d[r] * scale;
        }
        float keep[ROWS];
        vec4 w[ROWS];
        for (int r = 0; r < ROWS; ++r) {
            float mn = max(mx[r], max(max(s[r].x, s[r].y), max(s[r].z, s[r].w)));
            keep[r] = exp(mx[r] - mn);
            w[r] = exp(s[r] - mn);
            l[r] = l[r] * keep[r] + (w[r].x + w[r].y + w[r].z + w[r].w);
            mx[r] = mn;
        }
        uint vr = vb + j * p.v_row;
        for (int e = 0; e < DV4; ++e) {
            vec4 v0 = LOAD_V(vr + uint(e)), v1 = LOAD_V(vr + p.v_row + uint(e)),
                 v2 = LOAD_V(vr + 2u * p.v_row + uint(e)), v3 = LOAD_V(vr + 3u * p.v_row + uint(e));
            for (int r = 0; r < ROWS; ++r) {
                acc[r][e] = acc[r][e] * keep[r] + w[r].x * v0 + w[r].y * v1 + w[r].z * v2
                    + w[r].w * v3;
            }
        }
    }
    for (; j < p.lk; ++j) {
        uint kr = kb + j * p.k_row;
        float d[ROWS];
        for (int r = 0; r < ROWS; ++r) d[r] = 0.0;
        for (int e = 0; e < D4; ++e) {
            vec4 kv = LOAD_K(kr + uint(e));
            for (int r = 0; r < ROWS; ++r) d[r] += dot(qv[r][e], kv);
        }
        float keep[ROWS], w[ROWS];
        for (int r = 0; r < ROWS; ++r) {
            float sj = d[r] * scale;
            float mn = max(mx[r], sj);
            keep[r] = exp(mx[r] - mn);
            w[r] = exp(sj - mn);
            l[r] = l[r] * keep[r] + w[r];
            mx[r] = mn;
        }
        uint vr = vb + j * p.v_row;
        for (int e = 0; e < DV4; ++e) {
            vec4 v = LOAD_V(vr + uint(e));
            for (int r = 0; r < ROWS; ++r) acc[r][e] = acc[r][e] * keep[r] + w[r] * v;
        }
    }
    for (int r = 0; r < ROWS; ++r) {
        if (i0 + uint(r) >= p.lq) break;
        float inv = 1.0 / l[r];
        uint ob = ob0 + uint(r) * p.o_row;
        for (int e = 0; e < DV4; ++e) o[ob + uint(e)] = acc[r][e] * inv;
    }
}

void main() {
    // Grid (LANES = 1): x = blocks of ROWS query rows, y = batch entries (t). Split (LANES > 1): x = the lanes
    // of a row, y = query rows, z = batch entries. t comes from the workgroup id, so the key
    // and value addresses are uniform over a workgroup.
    uint lane = LANES > 1 ? gl_LocalInvocationID.x : 0u;
    uint i = LANES > 1 ? gl_GlobalInvocationID.y : gl_GlobalInvocationID.x * uint(ROWS);
    uint t = LANES > 1 ? gl_WorkGroupID.z : gl_WorkGroupID.y;
    bool live = i < p.lq;
    // Split rows all reach the barriers; the others may leave at once.
    if (LANES == 1 && !live) return;
    i = min(i, p.lq - 1u);
    uint slot = gl_LocalInvocationIndex;
    uint h = t % p.heads;
    uint outer = t / p.heads;
    uint qb = p.q_off + outer * p.q_outer + h * p.q_head + i * p.q_row;
    uint kb = p.k_off + outer * p.k_outer + h * p.k_head;
    uint vb = p.v_off + outer * p.v_outer + h * p.v_head;
    uint ob = p.o_off + outer * p.o_outer + h * p.o_head + i * p.o_row;
    float scale = p.scale;
    if (SCALE_TENSOR != 0) scale *= scale_t[0];

    if (LANES == 1) {
        one_pass(i, qb, kb, vb, ob, scale);
        return;
    }
    vec4 qv[D4];
    for (int e = 0; e < D4; ++e) qv[e] = LOAD_Q(qb + uint(e));
    // Split rows: a max pass and a sum pass over each lane's share of the keys.
    float mx = uintBitsToFloat(0xff800000u);
    for (uint j = lane; j < p.lk; j += uint(LANES)) {
        uint kr = kb + j * p.k_row;
        float s = 0.0;
        for (int e = 0; e < D4; ++e) s += dot(qv[e], LOAD_K(kr + uint(e)));
        mx = max(mx, s * scale);
    }
    mx = team_combine(mx, slot, lane, true);

    vec4 acc[DV4];
    for (int e = 0; e < DV4; ++e) acc[e] = vec4(0.0);
    float l = 0.0;
    for (uint j = lane; j < p.lk; j += uint(LANES)) {
        uint kr = kb + j * p.k_row;
        float s = 0.0;
        for (int e = 0; e < D4; ++e) s += dot(qv[e], LOAD_K(kr + uint(e)));
        float w = exp(s * scale - mx);
        l += w;
        uint vr = vb + j * p.v_row;
        for (int e = 0; e < DV4; ++e) acc[e] += w * LOAD_V(vr + uint(e));
    }
    // Merge the lanes' sums and accumulators.
    l = team_combine(l, slot, lane, false);
    for (int e = 0; e < DV4; ++e) team_acc[slot * uint(DV4) + uint(e)] = acc[e];
    barrier();
    for (uint s = uint(LANES) / 2u; s > 0u; s >>= 1) {
        if (lane < s) {
            for (int e = 0; e < DV4; ++e) {
                team_acc[slot * uint(DV4) + uint(e)] += team_acc[(slot + s) * uint(DV4) + uint(e)];
            }
        }
        barrier();
    }
    if (lane != 0u || !live) return;
    for (int e = 0; e < DV4; ++e) acc[e] = team_acc[slot * uint(DV4) + uint(e)];
    float inv = 1.0 / l;
    for (int e = 0; e < DV4; ++e) o[ob + uint(e)] = acc[e] * inv;
}
