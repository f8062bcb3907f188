#version 450
#include "common.glsl"
#include "elementwise_common.glsl"
#include "gemm.glsl"
