#version 450
#include "common.glsl"
// Strided gather of 32-bit words: out (contiguous) [j] = in[sum_d coord_d(j) * strides_d],
// coord over `sizes` (rank <= 8).
struct Params { uint count; int rank; int sizes[8]; int strides[8]; };
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    uint rem = i, src = 0u;
    for (int d = p.rank - 1; d >= 0; --d) {
        uint size = uint(p.sizes[d]);
        src += (rem % size) * uint(p.strides[d]);
        rem /= size;
    }
    o[i] = a[src];
}
