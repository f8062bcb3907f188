#version 450
#extension GL_EXT_shader_16bit_storage : require
// f32 activations with f16 weights (RGBA16F texel views) and bias: FLOAT16 programs on CPU
// devices (Caps::f16_activations).
#define F16_WEIGHTS
#define TEXEL_INPUT
#define TEXEL_WEIGHTS
#include "common.glsl"
#include "conv2d_dw.glsl"
