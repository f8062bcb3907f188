// Conventions shared by every etvk compute shader (the contract is src/kernels/mod.rs).
//   Params: a shader declares `struct Params { ... }`, mirrored field by field by a
//      #[repr(C)] struct in src/kernels/ (4-byte scalars and arrays of them only), then
//      PARAMS_BLOCK(Params) makes it `p`. The ETVK_PUSH_PARAMS build reads it from push
//      constants (structs up to 128 bytes), the other from the storage buffer at binding 0.
//   binding 1..: tensors, in the kernel's binding order, `readonly` / `writeonly` as the
//      kernel's access says (barriers are derived from these).
//   Workgroup size: specialization constants 0, 1, 2, set per dispatch; a kernel's own
//      constants start at id 3.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// The stored element of kernels with f16 builds (F16: 16-bit storage, f32 arithmetic).
#ifdef F16
#define STORE_T f16vec4
#define SCALAR_T float16_t
#else
#define STORE_T vec4
#define SCALAR_T float
#endif

#ifdef ETVK_PUSH_PARAMS
#define PARAMS_BLOCK(T) layout(push_constant, std430) uniform ParamsBlock { T p; };
#else
#define PARAMS_BLOCK(T) layout(std430, set = 0, binding = 0) readonly buffer ParamsBlock { T p; };
#endif

// Linear work-item index of a 1-D dispatch (folded over a 2-D grid of groups when large), or a
// value >= the item count for padding invocations (callers return early).
uint work_index() {
    return gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x
        + gl_GlobalInvocationID.x;
}

// NaN / infinity by their bits: drivers may fold comparisons and selects into min/max or
// assume no NaN, so the bit test is the one that holds everywhere.
bool is_nan_f(float v) { return (floatBitsToUint(v) & 0x7fffffffu) > 0x7f800000u; }
bool is_inf_f(float v) { return (floatBitsToUint(v) & 0x7fffffffu) == 0x7f800000u; }

// Tree-sums the SPLIT lanes' rows of the shared array `buf` (lane-major, `width` entries per
// lane) into lane 0's row. Every invocation of the workgroup must reach it: it holds barriers,
// the first one after each lane has stored its row.
#define SPLIT_TREE_SUM(buf, lane, width) SPLIT_TREE_SUM_AT(buf, lane, width, 0u, width)
// The same over `count` entries from `base` of rows `stride` apart: for workgroups holding
// several tiles, each tile's invocations summing their own slice of every row.
#define SPLIT_TREE_SUM_AT(buf, lane, stride, base, count) \
    barrier(); \
    for (uint s_ = uint(SPLIT) / 2u; s_ > 0u; s_ >>= 1) { \
        if ((lane) < s_) { \
            for (uint i_ = 0u; i_ < uint(count); ++i_) { \
                buf[(lane) * uint(stride) + uint(base) + i_] += \
                    buf[((lane) + s_) * uint(stride) + uint(base) + i_]; \
            } \
        } \
        barrier(); \
    }
