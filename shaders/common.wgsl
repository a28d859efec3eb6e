// Shared by every kernel: dtype codes and the conversions between a dtype's bits and the two
// compute types (f32 for floating dtypes, i32 for integer and bool dtypes).
//
// Tensor data is bound as arrays of u32 words. Elements narrower than a word are packed
// little-endian (so the byte layout is the host's); int64 takes two words, low first, and is
// computed in 32 bits (values are range-checked when they reach the GPU).

const DT_BOOL: u32 = 0u;
const DT_U8: u32 = 1u;
const DT_I8: u32 = 2u;
const DT_I16: u32 = 3u;
const DT_I32: u32 = 4u;
const DT_I64: u32 = 5u;
const DT_F16: u32 = 6u;
const DT_BF16: u32 = 7u;
const DT_F32: u32 = 8u;

const WG: u32 = 256u;
const MAXR: u32 = 8u;

fn is_float_dt(dt: u32) -> bool {
    return dt >= DT_F16;
}

// Word index and bit shift of element e of a dtype; int64 reads its low word.
fn word_of(e: u32, dt: u32) -> u32 {
    switch dt {
        case 0u, 1u, 2u: { return e >> 2u; }
        case 3u, 6u, 7u: { return e >> 1u; }
        case 5u: { return e * 2u; }
        default: { return e; }
    }
}

fn extract(w: u32, e: u32, dt: u32) -> u32 {
    switch dt {
        case 0u, 1u, 2u: { return (w >> ((e & 3u) * 8u)) & 0xffu; }
        case 3u, 6u, 7u: { return (w >> ((e & 1u) * 16u)) & 0xffffu; }
        default: { return w; }
    }
}

fn sext8(b: u32) -> i32 {
    return (bitcast<i32>(b << 24u)) >> 24u;
}

fn sext16(b: u32) -> i32 {
    return (bitcast<i32>(b << 16u)) >> 16u;
}

fn bits_to_f(b: u32, dt: u32) -> f32 {
    switch dt {
        case 0u, 1u: { return f32(b); }
        case 2u: { return f32(sext8(b)); }
        case 3u: { return f32(sext16(b)); }
        case 4u, 5u: { return f32(bitcast<i32>(b)); }
        case 6u: { return unpack2x16float(b).x; }
        case 7u: { return bitcast<f32>(b << 16u); }
        default: { return bitcast<f32>(b); }
    }
}

// Float to integer as C casts do for in-range values (truncation); NaN gives 0.
fn f_to_i(v: f32) -> i32 {
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {
        return 0;
    }
    return i32(clamp(v, -2147483648.0, 2147483520.0));
}

fn bits_to_i(b: u32, dt: u32) -> i32 {
    switch dt {
        case 0u, 1u: { return i32(b); }
        case 2u: { return sext8(b); }
        case 3u: { return sext16(b); }
        case 4u, 5u: { return bitcast<i32>(b); }
        default: { return f_to_i(bits_to_f(b, dt)); }
    }
}

fn f32_to_bf16(v: f32) -> u32 {
    let u = bitcast<u32>(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return 0x7fc0u;
    }
    return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
}

fn f_to_bits(v: f32, dt: u32) -> u32 {
    switch dt {
        case 0u: { return select(0u, 1u, !(v == 0.0)); }
        case 1u, 2u: { return bitcast<u32>(f_to_i(v)) & 0xffu; }
        case 3u: { return bitcast<u32>(f_to_i(v)) & 0xffffu; }
        case 4u, 5u: { return bitcast<u32>(f_to_i(v)); }
        case 6u: { return pack2x16float(vec2<f32>(v, 0.0)) & 0xffffu; }
        case 7u: { return f32_to_bf16(v); }
        default: { return bitcast<u32>(v); }
    }
}

fn i_to_bits(v: i32, dt: u32) -> u32 {
    switch dt {
        case 0u: { return select(0u, 1u, v != 0); }
        case 1u, 2u: { return bitcast<u32>(v) & 0xffu; }
        case 3u: { return bitcast<u32>(v) & 0xffffu; }
        case 4u, 5u: { return bitcast<u32>(v); }
        default: { return f_to_bits(f32(v), dt); }
    }
}

// The high word of an int64 whose low word is `lo` (sign extension).
fn hi_word(lo: u32) -> u32 {
    return select(0u, 0xffffffffu, (lo & 0x80000000u) != 0u);
}

// Linear invocation index over a grid folded into x and y (dispatches wider than 65535
// workgroups use y).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// (high, low) words of a * b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>(a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}

// A u32 whose unsigned order is the dtype's order, with NaN above everything and -0 equal to
// +0 (sorting, cummax/cummin).
fn order_key(b: u32, dt: u32) -> u32 {
    if (is_float_dt(dt)) {
        var u = bitcast<u32>(bits_to_f(b, dt));
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            return 0xffffffffu;
        }
        if (u == 0x80000000u) {
            u = 0u;
        }
        return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
    }
    if (dt == DT_BOOL || dt == DT_U8) {
        return b;
    }
    return bitcast<u32>(bits_to_i(b, dt)) ^ 0x80000000u;
}
