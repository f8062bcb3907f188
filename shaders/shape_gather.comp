#version 450
#include "common.glsl"
#include "cast_common.glsl"
// Generic strided gather of 32-bit words, with an optional constant border and dtype
// conversion. Serves permute, t, expand, select, slice, split, flip, unfold, repeat,
// constant_pad_nd and broadcasting copies. For output element j with row-major coordinates
// c_d over the output sizes:
//   i_d = c_d - lo_d;  if i_d < 0 or (bound_d >= 0 and i_d >= bound_d): out[j] = fill
//   if mod_d > 0: i_d = i_d % mod_d
//   src = base + sum_d i_d * stride_d          (strides may be 0 or negative)
//   out[j] = convert(in[src])
// p: [0]=numel [1]=rank [2]=base [3]=fill word (already in the output representation)
//    [4]=input is float [5]=conversion: -1 none (word copy), else output kind (cast_common)
//    then, for rank r = p[1]: [6, 6+r) out sizes [6+r, 6+2r) strides [6+2r, 6+3r) lo
//    [6+3r, 6+4r) bound (-1: none) [6+4r, 6+5r) mod (0: none)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint j = work_index();
    if (j >= uint(p[0])) return;
    int rem = int(j);
    int src = p[2];
    int r = p[1];
    for (int d = r - 1; d >= 0; --d) {
        int size = p[6 + d];
        int c = rem % size;
        rem /= size;
        int i = c - p[6 + 2 * r + d];
        int bound = p[6 + 3 * r + d];
        if (i < 0 || (bound >= 0 && i >= bound)) {
            o[j] = uint(p[3]);
            return;
        }
        int m = p[6 + 4 * r + d];
        if (m > 0) i = i % m;
        src += i * p[6 + r + d];
    }
    uint raw = a[src];
    o[j] = p[5] < 0 ? raw : cast_word(raw, p[4] != 0, p[5]);
}
