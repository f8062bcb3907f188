#version 450
#include "common.glsl"
// out = a (op) alpha*b with broadcasting.
// p: [0]=numel [1]=kind(0 add,1 sub,2 mul,3 div) [2]=rank [3]=alpha(f) [4]=scalar(f)
//    [5]=b is tensor [6..14)=out sizes [14..22)=a strides [22..30)=b strides
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 3) readonly buffer B { float b[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    int rank = p[2];
    uint rem = i, ia = 0u, ib = 0u;
    for (int d = rank - 1; d >= 0; --d) {
        uint size = uint(p[6 + d]);
        uint c = rem % size;
        rem /= size;
        ia += c * uint(p[14 + d]);
        ib += c * uint(p[22 + d]);
    }
    float x = a[ia];
    float y = p[5] != 0 ? b[ib] : pf(4);
    int kind = p[1];
    float r;
    if (kind == 0) r = x + pf(3) * y;
    else if (kind == 1) r = x - pf(3) * y;
    else if (kind == 2) r = x * y;
    else r = x / y;
    o[i] = r;
}
