// The body of norm_rows.comp and norm_rows_texel.comp (TEXEL_INPUT: the input read through
// a uniform texel buffer of vec4s, VEC4 builds only; CPU devices gather a texel at once).
// Row normalization (layer norm, group norm, RMS norm), LANES invocations per row: 64 (a
// workgroup per row, GPUs) or 1 (CPU devices, where a workgroup's barriers are costly).
// The input is viewed as `rows` contiguous rows of D elements. Statistics are two-pass over
// the row (mean, then the mean of squared deviations), each lane summing a strided slice and
// the group adding the partial sums in shared memory:
//   mode 0 (layer/group norm): y = (x - mean) * rstd, rstd = 1 / sqrt(var + eps); writes the
//          row's mean and rstd.
//   mode 1 (RMS norm): y = x * rstd, rstd = 1 / sqrt(mean(x^2) + eps); mean/rstd not written
//          (bindings 2 and 3 may be any buffer).
// Then y = y * w[c] + b[c] (when present), c = ((row % wrap) * D + k) / div: layer / RMS norm
// use wrap = div = 1 (c = k), group norm uses wrap = groups, div = HxW (c = channel).
struct Params {
    uint count;
    int d;
    float eps;
    int has_weight;
    int has_bias;
    int wrap;
    int div;
    int mode;
};
PARAMS_BLOCK(Params)
layout(constant_id = 3) const int LANES = 64;
// 1: rows of whole vec4s (D % 4 == 0) whose affine index is c = k (wrap = div = 1) or that
// have no weight and bias: vec4 loads and stores through the Out4 / In4 / W4 / B4 views, no
// index division per element.
layout(constant_id = 4) const int VEC4 = 0;
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out4 { vec4 o4[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Mean { float mean_out[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Rstd { float rstd_out[]; };
#ifdef TEXEL_INPUT
layout(set = 0, binding = 4) uniform samplerBuffer In;
#define LOAD_X4(i) texelFetch(In, int(i))
#define LOAD_X(i) texelFetch(In, int(i) / 4)[int(i) % 4]
#else
layout(std430, set = 0, binding = 4) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 4) readonly buffer In4 { vec4 x4[]; };
#define LOAD_X4(i) x4[i]
#define LOAD_X(i) x[i]
#endif
layout(std430, set = 0, binding = 5) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 5) readonly buffer W4 { vec4 w4[]; };
layout(std430, set = 0, binding = 6) readonly buffer B { float bias[]; };
layout(std430, set = 0, binding = 6) readonly buffer B4 { vec4 bias4[]; };

shared float partial[LANES];

// Sum of `v` over the row's lanes (every lane gets the result).
float group_sum(float v) {
    if (LANES == 1) return v;
    uint l = gl_LocalInvocationID.x;
    partial[l] = v;
    barrier();
    for (uint s = uint(LANES) / 2u; s > 0u; s >>= 1) {
        if (l < s) partial[l] += partial[l + s];
        barrier();
    }
    float r = partial[0];
    barrier();
    return r;
}

// The VEC4 build of main(): the same two passes over whole vec4s.
void main_vec4(uint row, uint l, int mode) {
    uint D4 = uint(p.d) / 4u;
    uint base4 = row * D4;
    float mean = 0.0;
    if (mode == 0) {
        float pivot = LOAD_X4(base4).x;
        vec4 s = vec4(0.0);
        for (uint k = l; k < D4; k += uint(LANES)) s += LOAD_X4(base4 + k) - pivot;
        mean = pivot + group_sum(s.x + s.y + s.z + s.w) / float(p.d);
    }
    vec4 s2 = vec4(0.0);
    for (uint k = l; k < D4; k += uint(LANES)) {
        vec4 d = LOAD_X4(base4 + k) - mean;
        s2 += d * d;
    }
    float var = group_sum(s2.x + s2.y + s2.z + s2.w) / float(p.d);
    float rstd = 1.0 / sqrt(var + p.eps);
    if (mode == 0 && l == 0u) {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
    bool has_w = p.has_weight != 0, has_b = p.has_bias != 0;
    for (uint k = l; k < D4; k += uint(LANES)) {
        vec4 y = (LOAD_X4(base4 + k) - mean) * rstd;
        if (has_w) y *= w4[k];
        if (has_b) y += bias4[k];
        o4[base4 + k] = y;
    }
}

void main() {
    // With LANES = 64 work items come in whole workgroups (p.count is a multiple of 64), so
    // `row` is uniform over the workgroup and the early return keeps barriers in uniform
    // control flow; with LANES = 1 there are no barriers.
    uint row = work_index() / uint(LANES);
    if (work_index() >= p.count) return;
    uint l = LANES == 1 ? 0u : gl_LocalInvocationID.x;
    uint D = uint(p.d);
    uint base = row * D;
    int mode = p.mode;
    if (VEC4 != 0) {
        main_vec4(row, l, mode);
        return;
    }

    float mean = 0.0;
    if (mode == 0) {
        // Summed relative to the row's first element: a serial sum (LANES = 1) of values
        // with a large common offset would lose the digits that set them apart.
        float pivot = LOAD_X(base);
        float s = 0.0;
        for (uint k = l; k < D; k += uint(LANES)) s += LOAD_X(base + k) - pivot;
        mean = pivot + group_sum(s) / float(D);
    }
    float s2 = 0.0;
    for (uint k = l; k < D; k += uint(LANES)) {
        float d = LOAD_X(base + k) - mean;
        s2 += d * d;
    }
    float var = group_sum(s2) / float(D);
    float rstd = 1.0 / sqrt(var + p.eps);
    if (mode == 0 && l == 0u) {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
    bool has_w = p.has_weight != 0, has_b = p.has_bias != 0;
    uint wrap = uint(p.wrap), div = uint(p.div);
    uint cbase = (row % wrap) * D;
    for (uint k = l; k < D; k += uint(LANES)) {
        float y = (LOAD_X(base + k) - mean) * rstd;
        uint c = (cbase + k) / div;
        if (has_w) y *= w[c];
        if (has_b) y += bias[c];
        o[base + k] = y;
    }
}
