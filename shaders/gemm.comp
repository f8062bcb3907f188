#version 450
#include "common.glsl"
#include "gemm.glsl"
