#version 450
#define TEXEL_INPUT
#include "common.glsl"
#include "attn_rows.glsl"
