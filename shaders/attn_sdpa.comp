#version 450
#include "common.glsl"
// Scaled dot-product attention, one invocation per output element (row, d):
//   out[o, i, d] = sum_j softmax_j(scale * q[o, i, :] . k[o, j, :] + mask[o, i, j]) * v[o, j, d]
// over keys j < Lk (causal: j <= causal_offset + i), with an online (running-max) softmax.
// Work item w = (o * Lq + i) * Dv + d, where o runs over the "outer" dims (batch, heads...); each
// tensor addresses them through its own strides (0 where broadcast), so one shader covers the
// llama [B, S, H, D] layouts with grouped KV heads and the [..., L, D] layout of et_vk.sdpa.
// The head dim (D for q/k, Dv for v/out) is contiguous in every tensor.
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

void main() {
    uint w = work_index();
    if (w >= p.count) return;
    uint Lq = uint(p.lq), Lk = uint(p.lk), D = uint(p.d), Dv = uint(p.dv);
    float scale = p.scale;
    uint d = w % Dv;
    uint t = w / Dv;
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
    oo += i * uint(p.o_i) + d;
    mo += i * uint(p.m_i);
    vo += d;
    uint kj = uint(p.k_j), vj = uint(p.v_j), mj = uint(p.m_j);
    bool has_mask = p.has_mask != 0;
    uint nk = Lk;
    if (p.causal != 0) nk = min(Lk, uint(p.causal_offset) + i + 1u);
    float neg_inf = uintBitsToFloat(0xff800000u);
    float mx = neg_inf;
    float l = 0.0;
    float acc = 0.0;
    for (uint j = 0u; j < nk; ++j) {
        uint kb = ko + j * kj;
        float s = 0.0;
        for (uint e = 0u; e < D; ++e) s += q[qo + e] * k[kb + e];
        s *= scale;
        if (has_mask) s += m[mo + j * mj];
        // A fully masked key adds nothing (a fully masked row ends as 0 / 0 = NaN, as in PyTorch).
        if (s == neg_inf) continue;
        float mn = max(mx, s);
        float a = exp(mx - mn);
        float b = exp(s - mn);
        l = l * a + b;
        acc = acc * a + b * v[vo + j * vj];
        mx = mn;
    }
    o[oo] = acc / l;
}
