// The body of pool_max_c4.comp and its f16 variant (F16: f16 storage, f32 compares).
// 2-D max pooling over channels-packed tensors (Layout::Channels4): one invocation per output
// texel (4 channels of one position), planes [N * C/4, H, W] of vec4. Each lane follows
// pool_max.comp: padding never wins, NaN propagates, the first maximum in row-major window
// order wins; its index (flat h * W + w in the plane) goes to the contiguous [N, C, OH, OW]
// indices tensor when asked, for the lanes that are real channels.
struct Params {
    uint count;
    int h;
    int w;
    int oh;
    int ow;
    int kh;
    int kw;
    int sh;
    int sw;
    int ph;
    int pw;
    int dh;
    int dw;
    int write_indices;
    uint c;
};
PARAMS_BLOCK(Params)
layout(std430, set = 0, binding = 1) writeonly buffer Out { STORE_T o[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Idx { int idx[]; };
layout(std430, set = 0, binding = 3) readonly buffer In { STORE_T x[]; };
void main() {
    uint i = work_index();
    if (i >= p.count) return;
    int H = p.h, W = p.w, OH = p.oh, OW = p.ow;
    int ow = int(i % uint(OW));
    int oh = int((i / uint(OW)) % uint(OH));
    uint plane = i / uint(OW * OH);
    int ih0 = oh * p.sh - p.ph;
    int iw0 = ow * p.sw - p.pw;
    int ih1 = min(ih0 + (p.kh - 1) * p.dh + 1, H);
    int iw1 = min(iw0 + (p.kw - 1) * p.dw + 1, W);
    while (ih0 < 0) ih0 += p.dh;
    while (iw0 < 0) iw0 += p.dw;
    uint base = plane * uint(H * W);
    ivec4 best = ivec4(ih0 * W + iw0);
    vec4 m = vec4(uintBitsToFloat(0xff800000u)); // -inf
    for (int ih = ih0; ih < ih1; ih += p.dh) {
        for (int iw = iw0; iw < iw1; iw += p.dw) {
            int k = ih * W + iw;
            vec4 v = vec4(x[base + uint(k)]);
            for (int l = 0; l < 4; ++l) {
                if (v[l] > m[l] || is_nan_f(v[l])) {
                    m[l] = v[l];
                    best[l] = k;
                }
            }
        }
    }
    o[i] = STORE_T(m);
    if (p.write_indices != 0) {
        uint c4 = (p.c + 3u) / 4u;
        uint n = plane / c4, cb = plane % c4;
        uint hw = uint(OH * OW), pos = uint(oh * OW + ow);
        for (uint l = 0u; l < 4u; ++l) {
            uint ch = cb * 4u + l;
            if (ch < p.c) idx[(n * p.c + ch) * hw + pos] = best[l];
        }
    }
}
