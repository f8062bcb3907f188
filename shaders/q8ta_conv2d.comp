#version 450
#include "common.glsl"
#include "q8_common.glsl"
// Static int8 convolutions (et_vk.q8ta_conv2d, _pw, _dw, _transposed): int8 NCHW input and
// output stored as i32 words, int8 weights as raw bytes (docs/quantized-ops.md section 5).
//   acc[oc][y][x] = sum (x[ic][iy][ix] - in_zp) * W[...] exactly in int32, windows past the
//   input contributing 0 (the float input's zero padding is in_zp in the int8 domain);
//   f = float(acc) * (in_scale * scale[oc]) + bias[oc], out = requantize(relu?(f)).
// OP 0 regular / grouped / pointwise: W [OC, Kp] bytes, row o holds k = (kh * KW + kw) * ICg
//   + ic (Kp a multiple of 4, so rows start on words). Each invocation: 4 output channels of
//   one group x TILE_W output columns; the 4 channels' weight words are decoded once per
//   4 k values and (kh, kw, ic) advance by increments (no div / mod in the loop).
// OP 1 depthwise: W [KH, KW, C4] bytes: one word holds 4 channels' weights of one tap.
// OP 2 transposed: W as OP 0 (y = iy * sh - ph + kh); each output gathers the taps of its
//   phase (kh = (y + ph) mod sh, step sh), one output column per invocation.
// Grid: x = ceil(OW / TILE_W), y = OH, z = N * groups * blocks (OP 1: N * blocks).
// variants: OP 0 1 2
layout(constant_id = 3) const int TILE_W = 4;
struct Params {
    uint n;
    uint ic;
    int h;
    int w;
    uint oc;
    uint oh;
    uint ow;
    uint kh;
    uint kw;
    int sh;
    int sw;
    int ph;
    int pw;
    int dh;
    int dw;
    uint icg;
    uint ocg;
    uint blocks;
    uint row_words;
    uint k;
    int has_bias;
    int relu;
    int in_zp;
    int out_zp;
    float in_scale;
    float out_inv_scale;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { int o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { int x[]; };
layout(std430, set = 0, binding = 3) readonly buffer W { uint wt[]; };
layout(std430, set = 0, binding = 4) readonly buffer Scales { float scales[]; };
layout(std430, set = 0, binding = 5) readonly buffer Bias { float bias[]; };

void store(uint nb, uint oc, uint y, uint xx, int acc) {
    precise float f = float(acc) * (p.in_scale * scales[oc]);
    if (p.has_bias != 0) f = f + bias[oc];
    if (p.relu != 0) f = max(f, 0.0);
    o[((nb * p.oc + oc) * p.oh + y) * p.ow + xx] = requantize(f, p.out_inv_scale, p.out_zp);
}

void main() {
    uint x0 = gl_GlobalInvocationID.x * uint(TILE_W);
    uint y = gl_GlobalInvocationID.y;
    uint z = gl_GlobalInvocationID.z;
    uint hw = uint(p.h * p.w);
#if OP == 1
    uint nb = z / p.blocks;
    uint cb = z - nb * p.blocks;
    if (x0 >= p.ow || y >= p.oh || nb >= p.n) return;
    uint c0 = cb * 4u;
    // The 4 channels' input planes (clamped past C: their weights are the zero padding).
    uvec4 plane = (uvec4(nb * p.ic) + min(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.ic - 1u))) * hw;
    ivec4 acc[TILE_W];
    for (int t = 0; t < TILE_W; ++t) acc[t] = ivec4(0);
    int iy0 = int(y) * p.sh - p.ph;
    int ix0 = int(x0) * p.sw - p.pw;
    for (uint kh = 0u; kh < p.kh; ++kh) {
        int iy = iy0 + int(kh) * p.dh;
        if (iy < 0 || iy >= p.h) continue;
        uvec4 row = plane + uint(iy * p.w);
        for (uint kw = 0u; kw < p.kw; ++kw) {
            ivec4 wv = bytes_of(wt[(kh * p.kw + kw) * p.row_words + cb]);
            int ix = ix0 + int(kw) * p.dw;
            for (int t = 0; t < TILE_W; ++t) {
                int xx = ix + t * p.sw;
                if (xx < 0 || xx >= p.w) continue;
                uint at = uint(xx);
                ivec4 xv = ivec4(x[row.x + at], x[row.y + at], x[row.z + at], x[row.w + at]);
                acc[t] += (xv - p.in_zp) * wv;
            }
        }
    }
    for (int t = 0; t < TILE_W; ++t) {
        uint xx = x0 + uint(t);
        if (xx >= p.ow) break;
        for (uint j = 0u; j < 4u; ++j) {
            if (c0 + j < p.oc) store(nb, c0 + j, y, xx, acc[t][j]);
        }
    }
#else
    uint per_n = (p.oc / p.ocg) * p.blocks;
    uint nb = z / per_n;
    uint ob = z - nb * per_n;
    uint g = ob / p.blocks;
    uint o_in = (ob - g * p.blocks) * 4u;
    if (x0 >= p.ow || y >= p.oh || nb >= p.n) return;
    uint oc0 = g * p.ocg + o_in;
    // Word offsets of the 4 channels' weight rows (clamped past OC; those store nothing).
    uvec4 wrow = min(uvec4(oc0) + uvec4(0u, 1u, 2u, 3u), uvec4(p.oc - 1u)) * p.row_words;
    uint xbase = (nb * p.ic + g * p.icg) * hw;
#if OP == 0
    ivec4 acc[TILE_W];
    for (int t = 0; t < TILE_W; ++t) acc[t] = ivec4(0);
    int iy0 = int(y) * p.sh - p.ph;
    int ix0 = int(x0) * p.sw - p.pw;
    uint kh = 0u, kw = 0u, ic = 0u;
    for (uint c = 0u; c < p.row_words; ++c) {
        uvec4 words = uvec4(wt[wrow.x + c], wt[wrow.y + c], wt[wrow.z + c], wt[wrow.w + c]);
        for (uint b = 0u; b < 4u; ++b) {
            if (c * 4u + b >= p.k) break;
            ivec4 wv = bytes_at(words, b);
            int iy = iy0 + int(kh) * p.dh;
            if (iy >= 0 && iy < p.h) {
                uint row = xbase + ic * hw + uint(iy * p.w);
                int ix = ix0 + int(kw) * p.dw;
                for (int t = 0; t < TILE_W; ++t) {
                    int xx = ix + t * p.sw;
                    if (xx >= 0 && xx < p.w) acc[t] += (x[row + uint(xx)] - p.in_zp) * wv;
                }
            }
            if (++ic == p.icg) {
                ic = 0u;
                if (++kw == p.kw) {
                    kw = 0u;
                    ++kh;
                }
            }
        }
    }
    for (int t = 0; t < TILE_W; ++t) {
        uint xx = x0 + uint(t);
        if (xx >= p.ow) break;
        for (uint j = 0u; j < 4u; ++j) {
            if (o_in + j < p.ocg) store(nb, oc0 + j, y, xx, acc[t][j]);
        }
    }
#else
    for (int t = 0; t < TILE_W; ++t) {
        uint xx = x0 + uint(t);
        if (xx >= p.ow) break;
        ivec4 acc = ivec4(0);
        int ty0 = int(y) + p.ph;
        int tx0 = int(xx) + p.pw;
        for (int kh = ty0 % p.sh; kh < int(p.kh); kh += p.sh) {
            int ty = ty0 - kh;
            if (ty < 0) break;
            int iy = ty / p.sh;
            if (iy >= p.h) continue;
            for (int kw = tx0 % p.sw; kw < int(p.kw); kw += p.sw) {
                int tx = tx0 - kw;
                if (tx < 0) break;
                int ix = tx / p.sw;
                if (ix >= p.w) continue;
                uint k = (uint(kh) * p.kw + uint(kw)) * p.icg;
                uint at = xbase + uint(iy * p.w + ix);
                for (uint ic = 0u; ic < p.icg; ++ic) {
                    uint kk = k + ic;
                    uint wi = kk >> 2u;
                    uvec4 words = uvec4(wt[wrow.x + wi], wt[wrow.y + wi], wt[wrow.z + wi], wt[wrow.w + wi]);
                    acc += (x[at + ic * hw] - p.in_zp) * bytes_at(words, kk & 3u);
                }
            }
        }
        for (uint j = 0u; j < 4u; ++j) {
            if (o_in + j < p.ocg) store(nb, oc0 + j, y, xx, acc[j]);
        }
    }
#endif
#endif
}
