// Conventions shared by every etvk compute shader.
//   p: Params, a read-only int array (floats passed as bits: use intBitsToFloat);
//      p[0] is always the number of work items (threads) the dispatch covers. Every shader is
//      built twice: with ETVK_PUSH_PARAMS, p is a push constant block of PUSH_PARAM_INTS ints
//      (128 bytes, the minimum every Vulkan device offers) used when a dispatch's params fit;
//      otherwise p is the storage buffer at binding 0.
//   binding 1..: tensors, in the order the op passed them (outputs are written, inputs read).
// Work is 1-D: the runtime splits large counts over a 2-D grid of 64-wide groups.
layout(local_size_x = 64) in;

#ifdef ETVK_PUSH_PARAMS
#define PUSH_PARAM_INTS 32
layout(push_constant, std430) uniform Params { int p[PUSH_PARAM_INTS]; };
#else
layout(std430, set = 0, binding = 0) readonly buffer Params { int p[]; };
#endif

// Linear work-item index, or a value >= p[0] for padding invocations (callers return early).
uint work_index() {
    return gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u + gl_GlobalInvocationID.x;
}

float pf(int i) { return intBitsToFloat(p[i]); }

// NaN / infinity by their bits: drivers may fold comparisons and selects into min/max or
// assume no NaN, so the bit test is the one that holds everywhere.
bool is_nan_f(float v) { return (floatBitsToUint(v) & 0x7fffffffu) > 0x7f800000u; }
bool is_inf_f(float v) { return (floatBitsToUint(v) & 0x7fffffffu) == 0x7f800000u; }
