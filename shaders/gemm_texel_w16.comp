#version 450
#extension GL_EXT_shader_16bit_storage : require
// f32 activations with f16 constant weights (RGBA16F texel views) and bias: FLOAT16 programs
// on CPU devices (Caps::f16_activations).
#define F16_WEIGHTS
#define TEXEL_INPUT
#include "common.glsl"
#include "elementwise_common.glsl"
#include "gemm.glsl"
