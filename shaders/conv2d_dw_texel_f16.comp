#version 450
#extension GL_EXT_shader_16bit_storage : require
#define F16
#define TEXEL_INPUT
#define TEXEL_WEIGHTS
#include "common.glsl"
#include "conv2d_dw.glsl"
