#version 450
#extension GL_EXT_shader_16bit_storage : require
#define F16
#include "common.glsl"
#include "conv2d_pw.glsl"
