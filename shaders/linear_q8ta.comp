#version 450
#include "common.glsl"
#include "q8_common.glsl"
// Int8 activations x int8 per-channel weights (linear_q8.glsl): OP 0 float output
// (et_vk.linear_q8ta_q8csw), OP 1 requantized int8 output (et_vk.q8ta_linear, _gemv).
// variants: OP 0 1
#define XINT
#define QOUT OP
#define WBITS 8
#include "linear_q8.glsl"
