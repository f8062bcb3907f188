#version 450
#extension GL_EXT_shader_16bit_storage : require
#define F16
#include "common.glsl"
#include "elementwise_common.glsl"
#include "gemm.glsl"
