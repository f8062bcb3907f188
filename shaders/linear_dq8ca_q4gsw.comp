#version 450
#include "common.glsl"
#define DQ8CA
#include "linear_q4gsw.glsl"
