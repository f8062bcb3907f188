#version 450
#extension GL_EXT_shader_16bit_storage : require
#define F16
#define TEXEL_INPUT
#include "common.glsl"
#include "elementwise_common.glsl"
// variants: OP 0 1 2 3 7 8 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 200
#include "elementwise4.glsl"
