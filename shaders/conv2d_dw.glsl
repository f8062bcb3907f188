// The body of conv2d_dw.comp and its variants: TEXEL_INPUT / TEXEL_WEIGHTS read the input /
// weights through uniform texel buffers (_texel), F16 stores f16 (_f16).
// Depthwise convolution (groups = channels, one filter per channel) on channels-packed tensors
// (Layout::Channels4), bias, then clamp. Each invocation computes TILE_W consecutive outputs along
// W for one block of 4 channels and one output row: per kernel row it loads the input texels
// the outputs span once (SPAN of them: 6 for 4 outputs of a 3-wide kernel at stride 1) and
// reuses them across taps and outputs (the sliding window).
// Grid: x = output columns / TILE_W, y = output rows, z = batch * channel blocks (from
// gl_WorkGroupID, so weight and bias loads are uniform). Kernel size, stride and dilation are
// specialization constants: the tap loops unroll.
// Weights: Packing::Depthwise, bias: Packing::Pad4 (any buffer when has_bias is 0).
layout(constant_id = 3) const int KH = 3;
layout(constant_id = 4) const int KW = 3;
layout(constant_id = 5) const int SH = 1;
layout(constant_id = 6) const int SW = 1;
layout(constant_id = 7) const int DH = 1;
layout(constant_id = 8) const int DW = 1;
layout(constant_id = 9) const int TILE_W = 4;
const int SPAN = (TILE_W - 1) * SW + (KW - 1) * DW + 1;
struct Params {
    int h_in;
    int w_in;
    int h_out;
    int w_out;
    uint c4;
    int pad_h;
    int pad_w;
    int has_bias;
    float clamp_min;
    float clamp_max;
};
PARAMS_BLOCK(Params)
#include "conv_bindings.glsl"

void main() {
    int ow0 = int(gl_GlobalInvocationID.x) * TILE_W;
    int oh = int(gl_GlobalInvocationID.y);
    uint nc = gl_WorkGroupID.z;
    if (ow0 >= p.w_out || oh >= p.h_out) return;
    uint c = nc % p.c4;
    uint in_base = nc * uint(p.h_in * p.w_in);
    int iw0 = ow0 * SW - p.pad_w;
    vec4 b = p.has_bias != 0 ? vec4(bias[c]) : vec4(0.0);
    vec4 acc[TILE_W];
    for (int t = 0; t < TILE_W; ++t) acc[t] = b;
    for (int kh = 0; kh < KH; ++kh) {
        int ih = oh * SH - p.pad_h + kh * DH;
        bool row_ok = ih >= 0 && ih < p.h_in;
        uint row = in_base + uint(clamp(ih, 0, p.h_in - 1) * p.w_in);
        vec4 span[SPAN];
        for (int s = 0; s < SPAN; ++s) {
            int iw = iw0 + s;
            bool ok = row_ok && iw >= 0 && iw < p.w_in;
            span[s] = LOAD_X(row + uint(clamp(iw, 0, p.w_in - 1))) * (ok ? 1.0 : 0.0);
        }
        for (int kw = 0; kw < KW; ++kw) {
            vec4 wt = LOAD_W((c * uint(KH) + uint(kh)) * uint(KW) + uint(kw));
            for (int t = 0; t < TILE_W; ++t) acc[t] += span[t * SW + kw * DW] * wt;
        }
    }
    uint out_base = (nc * uint(p.h_out) + uint(oh)) * uint(p.w_out);
    for (int t = 0; t < TILE_W; ++t) {
        if (ow0 + t < p.w_out) {
            o[out_base + uint(ow0 + t)] = STORE_T(clamp(acc[t], p.clamp_min, p.clamp_max));
        }
    }
}
