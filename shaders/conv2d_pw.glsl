// The body of conv2d_pw.comp and its variants: TEXEL_INPUT / TEXEL_WEIGHTS read the input /
// weights through uniform texel buffers (_texel), F16 stores f16 (_f16).
// Pointwise (1x1) convolution on channels-packed tensors (Layout::Channels4), any stride and
// padding, bias, then clamp. Each invocation computes a register tile of TILE_P consecutive
// output positions x (4 * TILE_OC4) output channels: per block of 4 input channels it loads
// TILE_P input texels and 4 * TILE_OC4 weight texels and does 4 * TILE_P * TILE_OC4 vec4
// multiply-adds. With SPLIT > 1 (GPUs, few outputs with many input channels) SPLIT invocations
// (local y) compute one tile, each folding every SPLIT-th input block, merged in shared
// memory; a workgroup holds gl_WorkGroupSize.x such tiles side by side along x, so
// neighbouring invocations read neighbouring positions and a warp is never mostly idle.
// Grid: x = output positions / TILE_P, y = output channel blocks / TILE_OC4 (times SPLIT),
// z = batch. The output-channel block comes from gl_WorkGroupID, so weight and bias loads are
// uniform.
// OUTPUT_NCHW (conv2d_pw_nchw) writes a contiguous NCHW f32 output of c_out channels: the
// last convolution of a graph then needs no from_channels4 after it.
// Weights: Packing::ConvBlocks with kh = kw = 1, bias: Packing::Pad4 (any buffer when
// has_bias is 0: never read).
layout(constant_id = 3) const int TILE_OC4 = 2;
layout(constant_id = 4) const int TILE_P = 4;
layout(constant_id = 5) const int SPLIT = 1;
struct Params {
    uint hw_out;
    uint w_out;
    int h_in;
    int w_in;
    uint ic4;
    uint oc4;
    int stride;
    int pad;
    int has_bias;
    float clamp_min;
    float clamp_max;
    uint c_out;
};
PARAMS_BLOCK(Params)
#include "conv_bindings.glsl"

// A workgroup holds at most 64 invocations (ops/conv/packed.rs).
shared vec4 partial[SPLIT > 1 ? 64 * TILE_P * TILE_OC4 : 1];

void main() {
    uint lane = SPLIT > 1 ? gl_LocalInvocationID.y : 0u;
    uint tile = gl_GlobalInvocationID.x;
    uint p0 = tile * uint(TILE_P);
    uint ocb = gl_WorkGroupID.y * uint(TILE_OC4);
    uint n = gl_WorkGroupID.z;
    // Split workgroups all reach the barriers; the others may leave at once.
    bool live = p0 < p.hw_out;
    if (SPLIT == 1 && !live) return;
    uint hw_in = uint(p.h_in * p.w_in);
    uint in_base = n * p.ic4 * hw_in;
    uint idx[TILE_P];
    float valid[TILE_P];
    for (int t = 0; t < TILE_P; ++t) {
        uint pos = min(p0 + uint(t), p.hw_out - 1u);
        int ih = int(pos / p.w_out) * p.stride - p.pad;
        int iw = int(pos % p.w_out) * p.stride - p.pad;
        bool ok = ih >= 0 && iw >= 0 && ih < p.h_in && iw < p.w_in;
        valid[t] = ok ? 1.0 : 0.0;
        idx[t] = ok ? uint(ih * p.w_in + iw) : 0u;
    }
    vec4 acc[TILE_OC4 * TILE_P];
    for (int i = 0; i < TILE_OC4 * TILE_P; ++i) acc[i] = vec4(0.0);
    for (uint c = lane; c < p.ic4; c += uint(SPLIT)) {
        uint base = in_base + c * hw_in;
        vec4 xv[TILE_P];
        for (int t = 0; t < TILE_P; ++t) xv[t] = LOAD_X(base + idx[t]) * valid[t];
        for (int j = 0; j < TILE_OC4; ++j) {
            uint wb = (min(ocb + uint(j), p.oc4 - 1u) * p.ic4 + c) * 4u;
            vec4 w0 = LOAD_W(wb), w1 = LOAD_W(wb + 1u), w2 = LOAD_W(wb + 2u), w3 = LOAD_W(wb + 3u);
            for (int t = 0; t < TILE_P; ++t) {
                acc[j * TILE_P + t] += xv[t].x * w0 + xv[t].y * w1 + xv[t].z * w2 + xv[t].w * w3;
            }
        }
    }
    if (SPLIT > 1) {
        const uint TILE = uint(TILE_OC4 * TILE_P);
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
        uint out_base = (n * p.oc4 + oc) * p.hw_out;
        for (int t = 0; t < TILE_P; ++t) {
            if (p0 + uint(t) < p.hw_out) {
                vec4 v = clamp(acc[j * TILE_P + t] + b, p.clamp_min, p.clamp_max);
#ifdef OUTPUT_NCHW
                uint ch = 4u * oc;
                for (uint k = 0u; k < 4u; ++k) {
                    if (ch + k < p.c_out) o[(n * p.c_out + ch + k) * p.hw_out + p0 + uint(t)] = v[k];
                }
#else
                o[out_base + p0 + uint(t)] = STORE_T(v);
#endif
            }
        }
    }
}
