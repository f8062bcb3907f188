#version 450
#define TEXEL_INPUT
#include "common.glsl"
#include "elementwise_common.glsl"
#include "gemm.glsl"
