#version 450
#define OUTPUT_NCHW
#include "common.glsl"
#include "conv2d_pw.glsl"
