#version 450
#include "common.glsl"
// Gather through up to four integer index tensors (embedding, index_select, gather,
// index.Tensor). For output element j with row-major coordinates c_d over the output sizes:
//   src = sum_d c_d * strides_d
//       + sum_k wrap_k(idx_k[sum_d c_d * index_strides[8k + d]]) * dim_stride[k]
// where wrap_k maps a negative index v to v + dim_size[k]. An index outside
// [0, dim_size[k]) after wrapping writes 0 (torch raises an error there).
// Bindings: out, input, idx0..idx3 (unused index bindings repeat idx0).
struct Params {
    uint count; int rank; int indices;
    int sizes[8]; int strides[8]; int index_strides[32]; int dim_stride[4]; int dim_size[4];
};
PARAMS_BLOCK(Params)
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
    if (j >= p.count) return;
    int rank = p.rank;
    int coord[8];
    int rem = int(j);
    int src = 0;
    for (int d = rank - 1; d >= 0; --d) {
        int size = p.sizes[d];
        coord[d] = rem % size;
        rem /= size;
        src += coord[d] * p.strides[d];
    }
    for (int k = 0; k < p.indices; ++k) {
        int at = 0;
        for (int d = 0; d < rank; ++d) at += coord[d] * p.index_strides[8 * k + d];
        int v = read_index(k, at);
        int n = p.dim_size[k];
        if (v < 0) v += n;
        if (v < 0 || v >= n) {
            o[j] = 0u;
            return;
        }
        src += v * p.dim_stride[k];
    }
    o[j] = a[src];
}
