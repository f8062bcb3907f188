// Conversion of one 32-bit tensor word between the GPU representations of dtypes, shared by
// cast.comp, shape_gather.comp and create_fill.comp.
// Output kinds: 0 float (f32 words), 1 int32 (int64 too), 2 int8, 3 uint8, 4 bool (0/1).
// Float to int truncates toward zero (as torch does); narrow ints wrap; bool is (x != 0),
// where any float bits but the sign bit count as nonzero (NaN is true, -0.0 false).
uint cast_word(uint raw, bool in_float, int kind) {
    if (kind == 0) return in_float ? raw : floatBitsToUint(float(int(raw)));
    if (kind == 4) {
        bool nz = in_float ? (raw & 0x7fffffffu) != 0u : raw != 0u;
        return nz ? 1u : 0u;
    }
    int v = in_float ? int(uintBitsToFloat(raw)) : int(raw);
    if (kind == 2) v = (v << 24) >> 24;
    else if (kind == 3) v = v & 255;
    return uint(v);
}
