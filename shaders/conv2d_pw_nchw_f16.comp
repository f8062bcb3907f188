#version 450
#extension GL_EXT_shader_16bit_storage : require
#define F16
#define OUTPUT_NCHW
#include "common.glsl"
#include "conv2d_pw.glsl"
