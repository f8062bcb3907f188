#version 450
#define INPUT_NCHW
#include "common.glsl"
#include "conv2d_tiled.glsl"
