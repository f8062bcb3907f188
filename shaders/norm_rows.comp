#version 450
#include "common.glsl"
#include "norm_rows.glsl"
