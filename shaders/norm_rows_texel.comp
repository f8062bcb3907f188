#version 450
#define TEXEL_INPUT
#include "common.glsl"
#include "norm_rows.glsl"
