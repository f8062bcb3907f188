#version 450
#include "common.glsl"
// Scaled dot-product attention, one 64-wide workgroup per query row (o, i) and chunk of 256
// value dims:
//   out[o, i, d] = sum_j softmax_j(scale * q[o, i, :] . k[o, j, :] + mask[o, i, j]) * v[o, j, d]
// over keys j < Lk (causal: j <= causal_offset + i). Keys go in blocks of 64: lane t scores key
// j0 + t (a dot product over D), the block's max is merged in shared memory and the running
// (online) softmax rescales; then every lane accumulates its value dims (d = chunk * 256 + t +
// 64 * u, u < 4) over the block's 64 weights. Each score is computed once per row, the value
// reads are coalesced along d.
// Work items: count = rows * chunks * 64, row-major over (outer, i), then the chunk. The
// "outer" dims (batch, heads...) are addressed through each tensor's own strides (0 where
// broadcast), so one shader covers the llama [B, S, H, D] layouts with grouped KV heads and
// the [..., L, D] layout of et_vk.sdpa. The head dim (D for q/k, Dv for v/out) is contiguous.
struct Params {
    uint count;
    int outer_rank;
    int lq;
    int lk;
    int d;
    int dv;
    float scale;
    int has_mask;
    int causal;
    int causal_offset;
    int q_i;
    int k_j;
    int v_j;
    int o_i;
    int m_i;
    int m_j;
    int outer_sizes[6];
    int q_strides[6];
    int k_strides[6];
    int v_strides[6];
    int o_strides[6];
    int m_strides[6];
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 3) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 4) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 5) readonly buffer M { float m[]; };

shared float weights[64];
shared float merge[64];

// Max (op 0) or sum (op 1) of `v` over the workgroup (every lane gets it).
float combine(float v, int op) {
    uint l = gl_LocalInvocationID.x;
    merge[l] = v;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (l < s) merge[l] = op == 0 ? max(merge[l], merge[l + s]) : merge[l] + merge[l + s];
        barrier();
    }
    float r = merge[0];
    barrier();
    return r;
}

const uint PER_LANE = 4u;

void main() {
    uint lane = gl_LocalInvocationID.x;
    uint wg = work_index() / 64u;
    // Whole workgroups share their row, so this return is uniform.
    if (wg * 64u >= p.count) return;
    uint Lq = uint(p.lq), Lk = uint(p.lk), D = uint(p.d), Dv = uint(p.dv);
    uint chunks = (Dv + 64u * PER_LANE - 1u) / (64u * PER_LANE);
    uint chunk = wg % chunks;
    uint t = wg / chunks;
    uint i = t % Lq;
    t /= Lq;
    uint qo = 0u, ko = 0u, vo = 0u, oo = 0u, mo = 0u;
    for (int a = p.outer_rank - 1; a >= 0; --a) {
        uint sz = uint(p.outer_sizes[a]);
        uint c = t % sz;
        t /= sz;
        qo += c * uint(p.q_strides[a]);
        ko += c * uint(p.k_strides[a]);
        vo += c * uint(p.v_strides[a]);
        oo += c * uint(p.o_strides[a]);
        mo += c * uint(p.m_strides[a]);
    }
    qo += i * uint(p.q_i);
    oo += i * uint(p.o_i);
    mo += i * uint(p.m_i);
    uint kj = uint(p.k_j), vj = uint(p.v_j), mj = uint(p.m_j);
    uint nk = Lk;
    if (p.causal != 0) nk = min(Lk, uint(p.causal_offset) + i + 1u);
    float neg_inf = uintBitsToFloat(0xff800000u);
    float mx = neg_inf;
    float l = 0.0;
    float acc[PER_LANE];
    for (uint u = 0u; u < PER_LANE; ++u) acc[u] = 0.0;
    uint d0 = chunk * 64u * PER_LANE + lane;
    for (uint j0 = 0u; j0 < nk; j0 += 64u) {
        uint j = j0 + lane;
        float s = neg_inf;
        if (j < nk) {
            uint kb = ko + j * kj;
            float dot = 0.0;
            for (uint e = 0u; e < D; ++e) dot += q[qo + e] * k[kb + e];
            s = dot * p.scale;
            if (p.has_mask != 0) s += m[mo + j * mj];
        }
        float mn = max(mx, combine(s, 0));
        // Everything so far masked: nothing to add yet (a fully masked row ends as 0 / 0 =
        // NaN, as in PyTorch).
        if (mn == neg_inf) continue;
        float a = exp(mx - mn);
        float w = s == neg_inf ? 0.0 : exp(s - mn);
        weights[lane] = w;
        l = l * a + combine(w, 1);
        uint nb = min(64u, nk - j0);
        for (uint u = 0u; u < PER_LANE; ++u) {
            uint d = d0 + 64u * u;
            float sum = 0.0;
            if (d < Dv) {
                for (uint b = 0u; b < nb; ++b) sum += weights[b] * v[vo + (j0 + b) * vj + d];
            }
            acc[u] = acc[u] * a + sum;
        }
        mx = mn;
        barrier();
    }
    for (uint u = 0u; u < PER_LANE; ++u) {
        uint d = d0 + 64u * u;
        if (d < Dv) o[oo + d] = acc[u] / l;
    }
}
