#version 450
#include "common.glsl"
#include "linear_q4gsw.glsl"
