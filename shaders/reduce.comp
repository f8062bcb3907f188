#version 450
#include "common.glsl"
// Reduction over any set of dims, one invocation per output element.
// The output element's coordinates over the kept dims give a base offset into the input; the
// reduced elements are enumerated by decomposing r in [0, R) over the reduced dims.
// p: [0]=numel out [1]=mode (0 sum, 1 mean, 2 amax, 3 amin) [2]=R (reduced element count)
//    [3]=number of kept dims [4..12)=kept sizes [12..20)=kept input strides
//    [20]=number of reduced dims [21..29)=reduced sizes [29..37)=reduced input strides
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; };
void main() {
    uint i = work_index();
    if (i >= uint(p[0])) return;
    int mode = p[1];
    uint R = uint(p[2]);
    uint rem = i, base = 0u;
    for (int d = p[3] - 1; d >= 0; --d) {
        uint size = uint(p[4 + d]);
        base += (rem % size) * uint(p[12 + d]);
        rem /= size;
    }
    int nred = p[20];
    float acc = mode == 2 ? uintBitsToFloat(0xff800000u)
              : mode == 3 ? uintBitsToFloat(0x7f800000u) : 0.0;
    for (uint r = 0u; r < R; ++r) {
        uint rr = r, off = base;
        for (int d = nred - 1; d >= 0; --d) {
            uint size = uint(p[21 + d]);
            off += (rr % size) * uint(p[29 + d]);
            rr /= size;
        }
        float v = x[off];
        if (mode <= 1) acc += v;
        else if (mode == 2) { if (v > acc || isnan(v)) acc = v; }
        else { if (v < acc || isnan(v)) acc = v; }
        // Once NaN, stay NaN (comparisons with NaN are false).
    }
    if (mode == 1) acc /= float(R);
    o[i] = acc;
}
