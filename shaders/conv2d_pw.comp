#version 450
#include "common.glsl"
#include "conv2d_pw.glsl"
