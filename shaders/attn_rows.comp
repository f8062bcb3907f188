#version 450
#include "common.glsl"
#include "attn_rows.glsl"
