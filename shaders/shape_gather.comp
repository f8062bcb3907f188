#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Generic strided gather of 32-bit words, with an optional constant border and dtype
// conversion. Serves permute, t, expand, select, slice, split, flip, unfold, repeat,
// constant_pad_nd and broadcasting copies. For output element j with row-major coordinates
// c_d over the output sizes:
//   i_d = c_d - lo_d;  if i_d < 0 or (bound_d >= 0 and i_d >= bound_d): out[j] = fill
//   if modulo_d > 0: i_d = i_d % modulo_d
//   src = base + sum_d i_d * strides_d          (strides may be 0 or negative)
//   out[j] = convert(in[src])
// fill is already in the output representation; conversion is -1 (word copy) or the
// output kind (cast_common.glsl).
// OP 1 moves single words. OP 4 moves whole uvec4s (no conversion): the host has divided the
// innermost dim's size, every stride and the base by 4 when the innermost dim is contiguous
// in the input, 4 words long or more in steps of 4, and unpadded (ops/shape.rs): a quarter of
// the index arithmetic, one 16-byte load and store per invocation.
// variants: OP 1 4
#if OP == 4
#define WORD uvec4
#else
#define WORD uint
#endif
struct Params {
    uint count; int rank; int base; uint fill; int input_float; int conversion;
    int sizes[8]; int strides[8]; int lo[8]; int bound[8]; int modulo[8];
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { WORD o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { WORD a[]; };
void main() {
    uint j = work_index();
    if (j >= p.count) return;
    int rem = int(j);
    int src = p.base;
    for (int d = p.rank - 1; d >= 0; --d) {
        int size = p.sizes[d];
        int c = rem % size;
        rem /= size;
        int i = c - p.lo[d];
        int bound = p.bound[d];
        if (i < 0 || (bound >= 0 && i >= bound)) {
            o[j] = WORD(p.fill);
            return;
        }
        int m = p.modulo[d];
        if (m > 0) i = i % m;
        src += i * p.strides[d];
    }
#if OP == 4
    o[j] = a[src];
#else
    uint raw = a[src];
    o[j] = p.conversion < 0 ? raw : cast_word(raw, p.input_float != 0, p.conversion);
#endif
}
