#version 450
#include "common.glsl"
// Scaled dot-product attention, one invocation per output element (row, d):
//   out[o, i, d] = sum_j softmax_j(scale * q[o, i, :] . k[o, j, :] + mask[o, i, j]) * v[o, j, d]
// over keys j < Lk (causal: j <= causal_offset + i), with an online (running-max) softmax.
// Work item w = (o * Lq + i) * Dv + d, where o runs over the "outer" dims (batch, heads...); each
// tensor addresses them through its own strides (0 where broadcast), so one shader covers the
// llama [B, S, H, D] layouts with grouped KV heads and the [..., L, D] layout of et_vk.sdpa.
// The head dim (D for q/k, Dv for v/out) is contiguous in every tensor.
// p: [0]=n [1]=outer rank [2]=Lq [3]=Lk [4]=D [5]=Dv [6]=scale (float bits) [7]=has_mask
//    [8]=causal [9]=causal offset [10]=q_i [11]=k_j [12]=v_j [13]=o_i [14]=m_i [15]=m_j
//    [16..22) outer sizes, strides: [22..28) q, [28..34) k, [34..40) v, [40..46) out, [46..52) mask
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 3) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 4) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 5) readonly buffer M { float m[]; };

void main() {
    uint w = work_index();
    if (w >= uint(p[0])) return;
    uint Lq = uint(p[2]), Lk = uint(p[3]), D = uint(p[4]), Dv = uint(p[5]);
    float scale = pf(6);
    uint d = w % Dv;
    uint t = w / Dv;
    uint i = t % Lq;
    t /= Lq;
    uint qo = 0u, ko = 0u, vo = 0u, oo = 0u, mo = 0u;
    for (int a = p[1] - 1; a >= 0; --a) {
        uint sz = uint(p[16 + a]);
        uint c = t % sz;
        t /= sz;
        qo += c * uint(p[22 + a]);
        ko += c * uint(p[28 + a]);
        vo += c * uint(p[34 + a]);
        oo += c * uint(p[40 + a]);
        mo += c * uint(p[46 + a]);
    }
    qo += i * uint(p[10]);
    oo += i * uint(p[13]) + d;
    mo += i * uint(p[14]);
    vo += d;
    uint kj = uint(p[11]), vj = uint(p[12]), mj = uint(p[15]);
    bool has_mask = p[7] != 0;
    uint nk = Lk;
    if (p[8] != 0) nk = min(Lk, uint(p[9]) + i + 1u);
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
