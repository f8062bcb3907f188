// Helpers shared by the elementwise shaders (binary.comp, unary.comp): reading raw 32-bit
// tensor words as f32 or i32, storing a result in the output dtype's representation, and
// float math accurate to about an ulp on any conformant device (Vulkan's built-in exp, sin
// and cos only promise a few ulp, or 2^-11 absolute for sin/cos, which is not enough to
// match PyTorch to 1e-5).

// Dtype kinds (also the output kinds): 0 float (f32 words), 1 int32/int64, 2 int8, 3 uint8,
// 4 bool (i32 words holding 0/1).

#define NAN_F uintBitsToFloat(0x7fc00000u)
#define INF_F uintBitsToFloat(0x7f800000u)

// is_nan_f / is_inf_f (bit tests) come from common.glsl.

// A raw word of a float (is_f) or integer tensor, as f32 / i32 / truth value (torch's
// nonzero test: NaN is true, -0.0 false).
float as_f(uint raw, bool is_f) { return is_f ? uintBitsToFloat(raw) : float(int(raw)); }
int as_i(uint raw, bool is_f) { return is_f ? int(uintBitsToFloat(raw)) : int(raw); }
bool truthy(uint raw, bool is_f) { return is_f ? (raw & 0x7fffffffu) != 0u : raw != 0u; }

// An integer result in the output representation: narrow ints wrap, bool is (v != 0).
uint store_int(int v, int kind) {
    if (kind == 0) return floatBitsToUint(float(v));
    if (kind == 4) return v != 0 ? 1u : 0u;
    if (kind == 2) return uint((v << 24) >> 24);
    if (kind == 3) return uint(v & 255);
    return uint(v);
}

// A float result in the output representation: ints truncate toward zero.
uint store_float(float v, int kind) {
    if (kind == 0) return floatBitsToUint(v);
    if (kind == 4) return (floatBitsToUint(v) & 0x7fffffffu) != 0u ? 1u : 0u;
    return store_int(int(v), kind);
}

// exp(x), within ~1 ulp: Cody-Waite reduction by ln2 (the high part has 15 significant bits,
// so n * LN2_HI is exact) and a degree-7 Taylor polynomial on |r| <= ln2/2.
float exp_acc(float x) {
    if (is_nan_f(x)) return x;
    if (x > 88.72284) return INF_F;
    if (x < -103.97208) return 0.0;
    float n = roundEven(x * 1.44269504);
    precise float r = x - n * 0.693145751953125;
    r = r - n * 1.428606765330187e-06;
    float q = 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    // n spans [-150, 128]: scale in two steps so neither factor overflows.
    int k = int(n);
    int k1 = k / 2;
    return ldexp(ldexp(q, k1), k - k1);
}

// tanh(x) (Cephes tanhf): odd polynomial below 0.625, else 1 - 2 / (exp(2|x|) + 1).
float tanh_acc(float x) {
    float z = abs(x);
    if (is_nan_f(x)) return x;
    if (z > 44.0) return sign(x);
    if (z >= 0.625) {
        float s = exp_acc(z + z);
        float r = 1.0 - 2.0 / (s + 1.0);
        return x < 0.0 ? -r : r;
    }
    float zz = x * x;
    float p = -5.70498872745e-3;
    p = p * zz + 2.06390887954e-2;
    p = p * zz - 5.37397155531e-2;
    p = p * zz + 1.33314422036e-1;
    p = p * zz - 3.33332819422e-1;
    return p * zz * x + x;
}

// sin(x) (cos_shift = 0) or cos(x) (cos_shift = 2), Cephes sinf/cosf: reduction by pi/4 in
// three parts (exact for |x| below ~5e4), then a sine or cosine polynomial by octant.
float sincos_acc(float x, int cos_shift) {
    if (is_nan_f(x) || is_inf_f(x)) return NAN_F;
    float sgn = (cos_shift == 0 && x < 0.0) ? -1.0 : 1.0;
    float a = abs(x);
    int j = int(a * 1.27323954473516);
    float y = float(j);
    if ((j & 1) != 0) {
        j += 1;
        y += 1.0;
    }
    j = (j + cos_shift) & 7;
    if (j > 3) {
        sgn = -sgn;
        j -= 4;
    }
    precise float z = a - y * 0.78515625;
    z = z - y * 2.4187564849853515625e-4;
    z = z - y * 3.77489497744594108e-8;
    float zz = z * z;
    float r;
    if (j == 1 || j == 2) {
        float c = 2.443315711809948e-5;
        c = c * zz - 1.388731625493765e-3;
        c = c * zz + 4.166664568298827e-2;
        r = c * zz * zz - 0.5 * zz + 1.0;
    } else {
        float s = -1.9515295891e-4;
        s = s * zz + 8.3321608736e-3;
        s = s * zz - 1.6666654611e-1;
        r = s * zz * z + z;
    }
    return sgn * r;
}

// erf(x) with fdlibm's single-precision scheme (sf_erf.c, Sun Microsystems, freely
// redistributable): rational approximations on [0, 0.84375), [0.84375, 1.25), and
// erf = 1 - exp(-z^2 - 0.5625 + R/S) / |x| up to 6; |error| < 1 ulp.
float erf_acc(float x) {
    if (is_nan_f(x)) return x;
    float a = abs(x);
    if (a < 0.84375) {
        float z = x * x;
        float r = -2.3763017452e-05;
        r = r * z - 5.7702702470e-03;
        r = r * z - 2.8481749818e-02;
        r = r * z - 3.2504209876e-01;
        r = r * z + 1.2837916613e-01;
        float s = -3.9602282413e-06;
        s = s * z + 1.3249473704e-04;
        s = s * z + 5.0813062117e-03;
        s = s * z + 6.5022252500e-02;
        s = s * z + 3.9791721106e-01;
        s = s * z + 1.0;
        return x + x * (r / s);
    }
    float v;
    if (a < 1.25) {
        float s = a - 1.0;
        float p = -2.1663755178e-03;
        p = p * s + 3.5478305072e-02;
        p = p * s - 1.1089469492e-01;
        p = p * s + 3.1834661961e-01;
        p = p * s - 3.7220788002e-01;
        p = p * s + 4.1485610604e-01;
        p = p * s - 2.3621185683e-03;
        float q = 1.1984500103e-02;
        q = q * s + 1.3637083583e-02;
        q = q * s + 1.2617121637e-01;
        q = q * s + 7.1828655899e-02;
        q = q * s + 5.4039794207e-01;
        q = q * s + 1.0642088205e-01;
        q = q * s + 1.0;
        v = 8.4506291151e-01 + p / q;
    } else if (a >= 6.0) {
        v = 1.0;
    } else {
        float s = 1.0 / (a * a);
        float r, q;
        if (a < 2.857142857) {
            r = -9.8143291473e+00;
            r = r * s - 8.1287437439e+01;
            r = r * s - 1.8460508728e+02;
            r = r * s - 1.6239666748e+02;
            r = r * s - 6.2375331879e+01;
            r = r * s - 1.0558626175e+01;
            r = r * s - 6.9385856390e-01;
            r = r * s - 9.8649440333e-03;
            q = -6.0424413532e-02;
            q = q * s + 6.5702495575e+00;
            q = q * s + 1.0863500214e+02;
            q = q * s + 4.2900814819e+02;
            q = q * s + 6.4538726807e+02;
            q = q * s + 4.3456588745e+02;
            q = q * s + 1.3765776062e+02;
            q = q * s + 1.9651271820e+01;
            q = q * s + 1.0;
        } else {
            r = -4.8351919556e+02;
            r = r * s - 1.0250950928e+03;
            r = r * s - 6.3756646729e+02;
            r = r * s - 1.6063638306e+02;
            r = r * s - 1.7757955551e+01;
            r = r * s - 7.9928326607e-01;
            r = r * s - 9.8649431020e-03;
            q = -2.2440952301e+01;
            q = q * s + 4.7452853394e+02;
            q = q * s + 2.5530502930e+03;
            q = q * s + 3.1998581543e+03;
            q = q * s + 1.5367296143e+03;
            q = q * s + 3.2579251099e+02;
            q = q * s + 3.0338060379e+01;
            q = q * s + 1.0;
        }
        // z = |x| with the low 13 mantissa bits cleared, so z * z is exact.
        float z = uintBitsToFloat(floatBitsToUint(a) & 0xffffe000u);
        float e = exp_acc(-z * z - 0.5625) * exp_acc((z - a) * (z + a) + r / q);
        v = 1.0 - e / a;
    }
    return x < 0.0 ? -v : v;
}

// GELU's erf form, 0.5 x (1 + erf(x / sqrt(2))), with erfc from Abramowitz & Stegun 7.1.26
// (|error| < 1.5e-7): one exp and no branch by range. erf_acc's four ranges cost every SIMD
// lane all four on CPU devices (lavapipe: a transformer's 128 x 1536 GELU took longer than
// its product). The error, times |x| / 2, is far inside a float GELU's tolerance; 1 + erf is
// the erfc term itself for x < 0 (no cancellation). aten.erf keeps erf_acc.
float gelu_erf(float x) {
    float z = abs(x) * 0.707106781186547524;
    float t = 1.0 / (1.0 + 0.3275911 * z);
    float poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
        + t * (-1.453152027 + t * 1.061405429))));
    float erfc_z = poly * exp_acc(-z * z);
    return 0.5 * x * (x < 0.0 ? erfc_z : 2.0 - erfc_z);
}

// Float unary op `op` (unary.comp's codes: 0 relu 1 sigmoid 2 tanh 3 abs 4 neg 5 exp 6 sqrt
// 7 rsqrt 8 sin 9 cos 10 log10 11 round 12 gelu 13 gelu tanh 14 hardswish 15 hardshrink
// 16 leaky_relu) of x with parameter prm.
float unary_f(int op, float x, float prm) {
    if (is_nan_f(x)) return x;  // every op here maps NaN to NaN, as in torch
    if (op == 0) return x < 0.0 ? 0.0 : x;
    if (op == 1) return 1.0 / (1.0 + exp_acc(-x));
    if (op == 2) return tanh_acc(x);
    if (op == 3) return abs(x);
    if (op == 4) return -x;
    if (op == 5) return exp_acc(x);
    if (op == 6) return x < 0.0 ? NAN_F : sqrt(x);
    if (op == 7) {
        // inversesqrt is undefined at 0 and below.
        if (x < 0.0) return NAN_F;
        if (x == 0.0) return 1.0 / x;  // +-inf, as torch
        if (is_inf_f(x)) return 0.0;
        return inversesqrt(x);
    }
    if (op == 8) return sincos_acc(x, 0);
    if (op == 9) return sincos_acc(x, 2);
    if (op == 10) {
        if (x < 0.0) return NAN_F;
        if (x == 0.0) return -INF_F;
        if (is_inf_f(x)) return x;
        return log2(x) * 0.301029995663981195;
    }
    if (op == 11) return roundEven(x);
    if (op == 12) return gelu_erf(x);
    if (op == 13) {
        float inner = 0.797884560802865356 * (x + 0.044715 * (x * x * x));
        return 0.5 * x * (1.0 + tanh_acc(inner));
    }
    if (op == 14) return x * min(max(x + 3.0, 0.0), 6.0) / 6.0;
    if (op == 15) return (x >= -prm && x <= prm) ? 0.0 : x;
    return x > 0.0 ? x : x * prm;  // 16
}
