// Shared by the 8-bit quantized shaders (linear_q8.glsl, q8ta_*.comp, qdq.comp): the rounding
// rules of docs/quantized-ops.md section 1. `precise` keeps each product and sum rounded on
// its own (no fused multiply-add), as the eager ops compute them.

// clamp(roundEven(f * inv_scale) + zp, -128, 127): quantize f to int8 with a reciprocal scale.
int requantize(float f, float inv_scale, int zp) {
    precise float q = roundEven(f * inv_scale) + float(zp);
    return int(clamp(q, -128.0, 127.0));
}

// 1 / s correctly rounded (one Newton step on the hardware reciprocal), as torch's f32
// `1.0 / scale` is. `precise`: GLSL may evaluate an fma unfused otherwise, and the step needs
// the exact residual.
float reciprocal_rn(float s) {
    precise float r = 1.0 / s;
    precise float e = fma(-s, r, 1.0);
    precise float out_r = fma(r, e, r);
    return out_r;
}

// Byte b (0..3) of each of 4 words, sign-extended (int8 weights packed 4 to a word).
ivec4 bytes_at(uvec4 words, uint b) {
    return ivec4(words << uvec4(24u - 8u * b)) >> 24;
}

// The 4 bytes of one word, sign-extended, byte 0 first.
ivec4 bytes_of(uint word) {
    return ivec4(uvec4(word) << uvec4(24u, 16u, 8u, 0u)) >> 24;
}
