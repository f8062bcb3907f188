#version 450
#include "common.glsl"
#include "pool_max_c4.glsl"
