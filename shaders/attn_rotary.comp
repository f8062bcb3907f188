#version 450
#include "common.glsl"
// Rotary embeddings, one invocation per output element of x viewed as [outer, S, H, D] (contiguous).
// The frequency index of row s, head h is base = start + s * fs + h * fh (fs/fh 0 where the
// table broadcasts; start is the offset of the first table row used).
//  kind 0 (et_vk.apply_rotary_emb, llama pairs): pair k = d / 2, c = cos[base + k], s = sin[base + k];
//         out[2k] = x[2k] * c - x[2k+1] * s, out[2k+1] = x[2k] * s + x[2k+1] * c.
//  kind 1 (et_vk.apply_rotary_emb_hf, rotate_half on the first R dims): for d < R,
//         out[d] = x[d] * cos[base + d] + rot(x)[d] * sin[base + d] with rot(x) = cat(-x2, x1),
//         x1 = x[:R/2], x2 = x[R/2:R]; dims d >= R pass through.
//  kind 2 (et_vk.apply_rotary_emb_interleaved): like kind 0 with c = f[base + 2k], s = f[base + 2k + 1]
//         (cos and sin bound to the same interleaved table).
struct Params {
    uint count;
    int kind;
    int head_dim;
    int heads;
    int seq;
    int freq_s;
    int freq_h;
    int start;
    int rot_dims;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer Cos { float fc[]; };
layout(std430, set = 0, binding = 4) readonly buffer Sin { float fsn[]; };
void main() {
    uint w = work_index();
    if (w >= p.count) return;
    int kind = p.kind;
    uint D = uint(p.head_dim), H = uint(p.heads), S = uint(p.seq);
    uint d = w % D;
    uint h = (w / D) % H;
    uint s = (w / (D * H)) % S;
    uint base = uint(p.start) + s * uint(p.freq_s) + h * uint(p.freq_h);
    uint row = w - d;
    if (kind == 1) {
        uint R = uint(p.rot_dims);
        if (d >= R) {
            o[w] = x[w];
            return;
        }
        uint h1 = R / 2u;
        uint h2 = R - h1;
        float rot = d < h2 ? -x[row + h1 + d] : x[row + d - h2];
        o[w] = x[w] * fc[base + d] + rot * fsn[base + d];
        return;
    }
    uint k = d / 2u;
    float c, sn;
    if (kind == 2) {
        c = fc[base + 2u * k];
        sn = fc[base + 2u * k + 1u];
    } else {
        c = fc[base + k];
        sn = fsn[base + k];
    }
    float re = x[row + 2u * k];
    float im = x[row + 2u * k + 1u];
    o[w] = (d % 2u == 0u) ? re * c - im * sn : re * sn + im * c;
}
