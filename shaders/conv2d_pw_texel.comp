#version 450
#define TEXEL_INPUT
#define TEXEL_WEIGHTS
#include "common.glsl"
#include "conv2d_pw.glsl"
