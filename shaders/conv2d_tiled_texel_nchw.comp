#version 450
#define INPUT_PATCHES
#define TEXEL_WEIGHTS
#include "common.glsl"
#include "conv2d_tiled.glsl"
