// The body of conv2d_pw.comp and its variants: TEXEL_INPUT / TEXEL_WEIGHTS read the input /
// weights through uniform texel buffers (_texel), F16 stores f16 (_f16).
// Pointwise (1x1) convolution on channels-packed tensors (Layout::Channels4), any stride and
// padding, bias, then clamp. Each invocation computes a register tile of 4 consecutive output
// positions x (4 * TILE_OC4) output channels: per block of 4 input channels it loads 4 input
// texels and 4 * TILE_OC4 weight texels and does 16 * TILE_OC4 vec4 multiply-adds.
// Grid: x = output positions / 4, y = output channel blocks / TILE_OC4, z = batch. The
// output-channel block comes from gl_WorkGroupID, so weight and bias loads are uniform.
// Weights: Packing::ConvBlocks with kh = kw = 1, bias: Packing::Pad4 (any buffer when
// has_bias is 0: never read).
layout(constant_id = 3) const int TILE_OC4 = 2;
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
};
PARAMS_BLOCK(Params)
// F16: f16 storage (outputs, weights and bias, and inputs read from storage buffers), f32
// arithmetic.
#ifdef F16
#define STORE_T f16vec4
#else
#define STORE_T vec4
#endif
layout(std430, set = 0, binding = 1) writeonly buffer Out { STORE_T o[]; };
#ifdef TEXEL_INPUT
layout(set = 0, binding = 2) uniform samplerBuffer In;
#define LOAD_X(i) texelFetch(In, int(i))
#else
layout(std430, set = 0, binding = 2) readonly buffer In { STORE_T x[]; } In_;
#define LOAD_X(i) vec4(In_.x[i])
#endif
#ifdef TEXEL_WEIGHTS
layout(set = 0, binding = 3) uniform samplerBuffer W;
#define LOAD_W(i) texelFetch(W, int(i))
#else
layout(std430, set = 0, binding = 3) readonly buffer W { STORE_T w[]; } W_;
#define LOAD_W(i) vec4(W_.w[i])
#endif
layout(std430, set = 0, binding = 4) readonly buffer Bias { STORE_T bias[]; };

void main() {
    uint p0 = gl_GlobalInvocationID.x * 4u;
    uint ocb = gl_WorkGroupID.y * uint(TILE_OC4);
    uint n = gl_WorkGroupID.z;
    if (p0 >= p.hw_out) return;
    uint hw_in = uint(p.h_in * p.w_in);
    uint in_base = n * p.ic4 * hw_in;
    uint idx[4];
    float valid[4];
    for (int t = 0; t < 4; ++t) {
        uint pos = min(p0 + uint(t), p.hw_out - 1u);
        int ih = int(pos / p.w_out) * p.stride - p.pad;
        int iw = int(pos % p.w_out) * p.stride - p.pad;
        bool ok = ih >= 0 && iw >= 0 && ih < p.h_in && iw < p.w_in;
        valid[t] = ok ? 1.0 : 0.0;
        idx[t] = ok ? uint(ih * p.w_in + iw) : 0u;
    }
    vec4 acc[TILE_OC4 * 4];
    for (int j = 0; j < TILE_OC4; ++j) {
        vec4 b = p.has_bias != 0 ? vec4(bias[min(ocb + uint(j), p.oc4 - 1u)]) : vec4(0.0);
        for (int t = 0; t < 4; ++t) acc[j * 4 + t] = b;
    }
    for (uint c = 0u; c < p.ic4; ++c) {
        uint base = in_base + c * hw_in;
        vec4 xv[4];
        for (int t = 0; t < 4; ++t) xv[t] = LOAD_X(base + idx[t]) * valid[t];
        for (int j = 0; j < TILE_OC4; ++j) {
            uint wb = (min(ocb + uint(j), p.oc4 - 1u) * p.ic4 + c) * 4u;
            vec4 w0 = LOAD_W(wb), w1 = LOAD_W(wb + 1u), w2 = LOAD_W(wb + 2u), w3 = LOAD_W(wb + 3u);
            for (int t = 0; t < 4; ++t) {
                acc[j * 4 + t] += xv[t].x * w0 + xv[t].y * w1 + xv[t].z * w2 + xv[t].w * w3;
            }
        }
    }
    for (int j = 0; j < TILE_OC4; ++j) {
        uint oc = ocb + uint(j);
        if (oc >= p.oc4) break;
        uint out_base = (n * p.oc4 + oc) * p.hw_out;
        for (int t = 0; t < 4; ++t) {
            if (p0 + uint(t) < p.hw_out) {
                o[out_base + p0 + uint(t)] = STORE_T(clamp(acc[j * 4 + t], p.clamp_min, p.clamp_max));
            }
        }
    }
}
