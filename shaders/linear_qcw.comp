#version 450
#include "common.glsl"
#include "q8_common.glsl"
// et_vk.linear_qcs4w (OP 4: 4-bit weights, high nibble = even k) and
// aten._weight_int8pack_mm (OP 8: int8 weights): see linear_q8.glsl.
// variants: OP 4 8
#define WBITS OP
#include "linear_q8.glsl"
