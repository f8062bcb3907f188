#version 450
#include "common.glsl"
#include "q8_common.glsl"
// quantized_decomposed / torchao quantize and dequantize (docs/quantized-ops.md section 6):
// OP 0 quantize:   out = clamp(roundEven(x * (1 / s)) + zp, qmin, qmax)   (float -> i32 words)
// OP 1 dequantize: out = float(q - zp) * s                                (i32 words -> float)
// Element i uses qparams c = (i / inner) % channels: per tensor (channels 1), per channel
// (inner = the axis' stride), per token or block (inner = the block). Scales and zero points
// come from tensors (scale_tensor / zero_tensor) or the params (a Double scale, whose
// reciprocal the op takes in double as the eager op does). 4 elements per invocation.
// variants: OP 0 1
struct Params {
    uint count;
    uint inner;
    uint channels;
    int qmin;
    int qmax;
    int scale_tensor;
    int zero_tensor;
    int zp;
    float scale;
    float inv_scale;
};
PARAMS_BLOCK(Params)
#if OP == 0
layout(std430, set = 0, binding = 1) writeonly buffer Out { int o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
#else
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { int x[]; };
#endif
layout(std430, set = 0, binding = 3) readonly buffer Scale { float s[]; };
layout(std430, set = 0, binding = 4) readonly buffer Zero { int z[]; };

void main() {
    uint i0 = work_index() * 4u;
    for (uint i = i0; i < min(i0 + 4u, p.count); ++i) {
        uint c = p.channels > 1u ? (i / p.inner) % p.channels : 0u;
        int zp = p.zero_tensor != 0 ? z[c] : p.zp;
#if OP == 0
        float inv = p.scale_tensor != 0 ? reciprocal_rn(s[c]) : p.inv_scale;
        precise float q = roundEven(x[i] * inv) + float(zp);
        o[i] = int(clamp(q, float(p.qmin), float(p.qmax)));
#else
        float scale = p.scale_tensor != 0 ? s[c] : p.scale;
        precise float f = float(x[i] - zp) * scale;
        o[i] = f;
#endif
    }
}
