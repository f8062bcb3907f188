#version 450
#include "common.glsl"
// Gather through up to four integer index tensors (embedding, index_select, gather,
// index.Tensor). For output element j with row-major coordinates c_d over the output sizes:
//   src = sum_d c_d * stride_d
//       + sum_k wrap_k(idx_k[sum_d c_d * istride_kd]) * dim_stride_k
// where wrap_k maps a negative index v to v + dim_size_k. An index outside
// [0, dim_size_k) after wrapping writes 0 (torch raises an error there).
// p: [0]=numel [1]=rank [2]=number of index tensors K (1..4)
//    [3..11) out sizes [11..19) input strides per output dim (0 where an index decides)
//    for k < 4, at 19 + 10k: [0..8) index strides per output dim (0: broadcast)
//                            [8] dim_stride_k (input stride of the indexed dim) [9] dim_size_k
// Bindings: out, input, idx0..idx3 (unused index bindings repeat idx0).
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { uint a[]; };
layout(std430, set = 0, binding = 3) readonly buffer I0 { int i0[]; };
layout(std430, set = 0, binding = 4) readonly buffer I1 { int i1[]; };
layout(std430, set = 0, binding = 5) readonly buffer I2 { int i2[]; };
layout(std430, set = 0, binding = 6) readonly buffer I3 { int i3[]; };

int read_index(int k, int at) {
    if (k == 0) return i0[at];
    if (k == 1) return i1[at];
    if (k == 2) return i2[at];
    return i3[at];
}

void main() {
    uint j = work_index();
    if (j >= uint(p[0])) return;
    int rank = p[1];
    int nidx = p[2];
    int coord[8];
    int rem = int(j);
    int src = 0;
    for (int d = rank - 1; d >= 0; --d) {
        int size = p[3 + d];
        coord[d] = rem % size;
        rem /= size;
        src += coord[d] * p[11 + d];
    }
    for (int k = 0; k < nidx; ++k) {
        int base = 19 + 10 * k;
        int at = 0;
        for (int d = 0; d < rank; ++d) at += coord[d] * p[base + d];
        int v = read_index(k, at);
        int n = p[base + 9];
        if (v < 0) v += n;
        if (v < 0 || v >= n) {
            o[j] = 0u;
            return;
        }
        src += v * p[base + 8];
    }
    o[j] = a[src];
}
