// The body of conv2d_tiled.comp and its variants: TEXEL_INPUT / TEXEL_WEIGHTS read the input /
// weights through uniform texel buffers (_texel), F16 stores f16 (_f16).
// Regular (groups = 1) KxK convolution on channels-packed tensors (Layout::Channels4), any
// stride, padding and dilation, bias, then clamp. Each invocation computes TILE_W consecutive
// outputs along W x (4 * TILE_OC4) output channels of one output row: per block of 4 input
// channels and kernel row it loads the SPAN input texels the outputs cover once and reuses
// them across the KW taps; per tap it loads 4 weight texels per output-channel block and does
// 4 * TILE_W vec4 multiply-adds per block. With SPLIT > 1 (GPUs, few outputs) SPLIT
// invocations (local y) compute one tile, each folding every SPLIT-th input block (with
// FOLD_ROWS, every SPLIT-th pair of input block and kernel row: a first convolution has one
// block), merged in shared memory; a workgroup holds gl_WorkGroupSize.x such tiles side by
// side along the row.
// With POOL = 2 the input is the 2x2, stride-2 max pool of the bound tensor (h_src x w_src),
// taken while loading: the pooling dispatch before it is not recorded. With UP = 2 each
// output is stored to its 2x2 block of a nearest 2x upsampling (an output twice h_out x
// w_out): the upsampling dispatch after it is not recorded. INPUT_NCHW
// (conv2d_tiled_nchw) reads a contiguous NCHW f32 input of c_in channels, gathering each
// block of 4, so that no layout conversion runs before the first convolution. INPUT_PATCHES
// (conv2d_tiled_texel_nchw) reads such an input through a texel buffer of 4 pixels along W
// per texel, for windows that do not overlap and start on whole texels (patch embeddings:
// stride = kernel, multiples of 4, no padding along W): each texel holds 4 taps of one
// channel, and there are no blocks of 4 input channels to pad.
// Grid: x = output columns / TILE_W, y = output rows (times SPLIT), z = batch * output
// channel groups (from gl_WorkGroupID, so weight and bias loads are uniform). Kernel size,
// stride, dilation, tiling, pooling and upsampling are specialization constants.
// Weights: Packing::ConvBlocks, bias: Packing::Pad4 (any buffer when has_bias is 0).
layout(constant_id = 3) const int KH = 3;
layout(constant_id = 4) const int KW = 3;
layout(constant_id = 5) const int SH = 1;
layout(constant_id = 6) const int SW = 1;
layout(constant_id = 7) const int DH = 1;
layout(constant_id = 8) const int DW = 1;
layout(constant_id = 9) const int TILE_OC4 = 2;
layout(constant_id = 10) const int TILE_W = 4;
layout(constant_id = 11) const int SPLIT = 1;
layout(constant_id = 12) const int POOL = 1;
layout(constant_id = 13) const int UP = 1;
layout(constant_id = 14) const int FOLD_ROWS = 0;
// 1: store the output contiguous [N, H * W, C] (C a multiple of 4, UP = 1): the tokens of a
// patch embedding, whose flatten + transpose dispatches are then not recorded.
layout(constant_id = 15) const int OUT_NHWC = 0;
const int SPAN = (TILE_W - 1) * SW + (KW - 1) * DW + 1;
struct Params {
    int h_in;
    int w_in;
    int h_out;
    int w_out;
    uint ic4;
    uint oc4;
    uint oc_groups;
    int pad_h;
    int pad_w;
    int has_bias;
    float clamp_min;
    float clamp_max;
    int h_src;
    int w_src;
    uint c_in;
};
PARAMS_BLOCK(Params)
#include "conv_bindings.glsl"

#ifndef INPUT_PATCHES
// Input channel block c of image n at pixel pix (y * w_src + x) of a plane of hw pixels.
vec4 load_px(uint n, uint c, uint pix, uint hw) {
#ifdef INPUT_NCHW
    uint ch = 4u * c;
    uint at = (n * p.c_in + ch) * hw + pix;
    vec4 v = vec4(0.0);
    for (uint k = 0u; k < 4u; ++k) {
        if (ch + k < p.c_in) v[k] = In_.x[at + k * hw];
    }
    return v;
#else
    return LOAD_X((n * p.ic4 + c) * hw + pix);
#endif
}
#endif

// A workgroup holds at most 64 invocations (ops/conv/packed.rs).
shared vec4 partial[SPLIT > 1 ? 64 * TILE_W * TILE_OC4 : 1];

void main() {
    uint lane = SPLIT > 1 ? gl_LocalInvocationID.y : 0u;
    uint tile = gl_GlobalInvocationID.x;
    int ow0 = int(tile) * TILE_W;
    int oh = int(SPLIT > 1 ? gl_WorkGroupID.y : gl_GlobalInvocationID.y);
    uint n = gl_WorkGroupID.z / p.oc_groups;
    uint ocb = (gl_WorkGroupID.z % p.oc_groups) * uint(TILE_OC4);
    // Split workgroups all reach the barriers; the others may leave at once.
    bool live = ow0 < p.w_out && oh < p.h_out;
    if (SPLIT == 1 && !live) return;
    oh = min(oh, p.h_out - 1);
    uint hw_src = uint(p.h_src * p.w_src);
    int iw0 = ow0 * SW - p.pad_w;
    vec4 acc[TILE_OC4 * TILE_W];
    for (int i = 0; i < TILE_OC4 * TILE_W; ++i) acc[i] = vec4(0.0);
#ifdef INPUT_PATCHES
    // SPLIT = 1. Per channel, kernel row and 4 taps: one input texel per position, 4 weight
    // texels per output block (the taps' texels for this channel of its input block).
    uint w4 = uint(p.w_src) / 4u;
    for (uint ch = 0u; ch < p.c_in; ++ch) {
        uint plane = (n * p.c_in + ch) * uint(p.h_src) * w4;
        uint c = ch / 4u, e = ch % 4u;
        for (int kh = 0; kh < KH; ++kh) {
            int ih = oh * SH - p.pad_h + kh * DH;
            if (ih < 0 || ih >= p.h_in) continue;
            uint row = plane + uint(ih) * w4;
            for (int q = 0; q < KW / 4; ++q) {
                vec4 xs[TILE_W];
                for (int t = 0; t < TILE_W; ++t) {
                    // Positions past the row's end read its last window (never stored).
                    int ow = min(ow0 + t, p.w_out - 1);
                    xs[t] = texelFetch(In, int(row + uint(ow * SW + 4 * q) / 4u));
                }
                for (int j = 0; j < TILE_OC4; ++j) {
                    uint oc = min(ocb + uint(j), p.oc4 - 1u);
                    uint wb = (((oc * p.ic4 + c) * uint(KH) + uint(kh)) * uint(KW) + uint(4 * q))
                        * 4u + e;
                    vec4 w0 = LOAD_W(wb), w1 = LOAD_W(wb + 4u), w2 = LOAD_W(wb + 8u),
                         w3 = LOAD_W(wb + 12u);
                    for (int t = 0; t < TILE_W; ++t) {
                        vec4 xv = xs[t];
                        acc[j * TILE_W + t] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
                    }
                }
            }
        }
    }
#else
    uint units = FOLD_ROWS != 0 ? p.ic4 * uint(KH) : p.ic4;
    for (uint r = lane; r < units; r += uint(SPLIT)) {
        uint c = FOLD_ROWS != 0 ? r / uint(KH) : r;
        int kh_lo = FOLD_ROWS != 0 ? int(r % uint(KH)) : 0;
        int kh_hi = FOLD_ROWS != 0 ? kh_lo + 1 : KH;
        for (int kh = kh_lo; kh < kh_hi; ++kh) {
            int ih = oh * SH - p.pad_h + kh * DH;
            bool row_ok = ih >= 0 && ih < p.h_in;
            uint row = uint(clamp(ih, 0, p.h_in - 1) * POOL * p.w_src);
            vec4 span[SPAN];
            for (int s = 0; s < SPAN; ++s) {
                int iw = iw0 + s;
                bool ok = row_ok && iw >= 0 && iw < p.w_in;
                uint at = row + uint(clamp(iw, 0, p.w_in - 1) * POOL);
                vec4 v = load_px(n, c, at, hw_src);
                if (POOL == 2) {
                    uint below = at + uint(p.w_src);
                    v = max(max(v, load_px(n, c, at + 1u, hw_src)),
                            max(load_px(n, c, below, hw_src), load_px(n, c, below + 1u, hw_src)));
                }
                span[s] = v * (ok ? 1.0 : 0.0);
            }
            for (int kw = 0; kw < KW; ++kw) {
                for (int j = 0; j < TILE_OC4; ++j) {
                    uint oc = min(ocb + uint(j), p.oc4 - 1u);
                    uint wb = (((oc * p.ic4 + c) * uint(KH) + uint(kh)) * uint(KW) + uint(kw)) * 4u;
                    vec4 w0 = LOAD_W(wb), w1 = LOAD_W(wb + 1u), w2 = LOAD_W(wb + 2u), w3 = LOAD_W(wb + 3u);
                    for (int t = 0; t < TILE_W; ++t) {
                        vec4 xv = span[t * SW + kw * DW];
                        acc[j * TILE_W + t] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
                    }
                }
            }
        }
    }
#endif
    if (SPLIT > 1) {
        const uint TILE = uint(TILE_OC4 * TILE_W);
        uint row = gl_WorkGroupSize.x * TILE, base = gl_LocalInvocationID.x * TILE;
        for (uint i = 0u; i < TILE; ++i) partial[lane * row + base + i] = acc[i];
        SPLIT_TREE_SUM_AT(partial, lane, row, base, TILE);
        if (lane != 0u || !live) return;
        for (uint i = 0u; i < TILE; ++i) acc[i] = partial[base + i];
    }
    for (int j = 0; j < TILE_OC4; ++j) {
        uint oc = ocb + uint(j);
        if (oc >= p.oc4) break;
        vec4 b = p.has_bias != 0 ? vec4(bias[oc]) : vec4(0.0);
        uint w_store = uint(p.w_out * UP);
        uint out_base = ((n * p.oc4 + oc) * uint(p.h_out * UP) + uint(oh * UP)) * w_store;
        for (int t = 0; t < TILE_W; ++t) {
            if (ow0 + t < p.w_out && OUT_NHWC != 0) {
                vec4 v = clamp(acc[j * TILE_W + t] + b, p.clamp_min, p.clamp_max);
                uint pos = (n * uint(p.h_out) + uint(oh)) * uint(p.w_out) + uint(ow0 + t);
                o[pos * p.oc4 + oc] = STORE_T(v);
            } else if (ow0 + t < p.w_out) {
                vec4 v = clamp(acc[j * TILE_W + t] + b, p.clamp_min, p.clamp_max);
                uint at = out_base + uint((ow0 + t) * UP);
                for (int dy = 0; dy < UP; ++dy) {
                    for (int dx = 0; dx < UP; ++dx) {
                        o[at + uint(dy) * w_store + uint(dx)] = STORE_T(v);
                    }
                }
            }
        }
    }
}
