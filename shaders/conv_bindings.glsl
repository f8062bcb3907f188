// The bindings of the packed convolution kernels (conv2d_pw, conv2d_dw, conv2d_tiled and
// their variants): 1 output, 2 input, 3 weights, 4 bias. TEXEL_INPUT / TEXEL_WEIGHTS read the
// input / weights through uniform texel buffers; LOAD_X / LOAD_W return vec4 either way.
// INPUT_NCHW / OUTPUT_NCHW: a contiguous f32 input (conv2d_tiled) or output (conv2d_pw)
// (INPUT_PATCHES: the input through a texel buffer, conv2d_tiled_texel_nchw)
// instead of a channels-packed one, so that no layout conversion runs at a graph's edges.
// F16: f16 storage (outputs, weights and bias, and inputs read from storage buffers), f32
// arithmetic. F16_WEIGHTS (with the texel reads): f32 activations, f16 weights and bias.
#ifdef OUTPUT_NCHW
// A contiguous NCHW f32 output (conv2d_pw only): the kernel scatters each block of 4.
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
#else
layout(std430, set = 0, binding = 1) writeonly buffer Out { STORE_T o[]; };
#endif
#if defined(INPUT_PATCHES)
// A contiguous NCHW f32 input as texels of 4 pixels along W (conv2d_tiled_texel_nchw only).
layout(set = 0, binding = 2) uniform samplerBuffer In;
#elif defined(INPUT_NCHW)
// A contiguous NCHW f32 input (conv2d_tiled only): the kernel gathers each block of 4.
layout(std430, set = 0, binding = 2) readonly buffer In { float x[]; } In_;
#elif defined(TEXEL_INPUT)
layout(set = 0, binding = 2) uniform samplerBuffer In;
#define LOAD_X(i) texelFetch(In, int(i))
#else
layout(std430, set = 0, binding = 2) readonly buffer In { STORE_T x[]; } In_;
#define LOAD_X(i) vec4(In_.x[i])
#endif
#ifdef TEXEL_WEIGHTS
layout(set = 0, binding = 3) uniform samplerBuffer W;
#define LOAD_W(i) texelFetch(W, int(i))
#else
layout(std430, set = 0, binding = 3) readonly buffer W { STORE_T w[]; } W_;
#define LOAD_W(i) vec4(W_.w[i])
#endif
#if defined(F16) || defined(F16_WEIGHTS)
layout(std430, set = 0, binding = 4) readonly buffer Bias { f16vec4 bias[]; };
#else
layout(std430, set = 0, binding = 4) readonly buffer Bias { vec4 bias[]; };
#endif
