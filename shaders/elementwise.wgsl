// Elementwise kernels over strided operands: unary, binary, compare, where, cast-copy, fill.
// One invocation per output element; operands are located through the shape/strides/offsets
// in `prm`, so views, broadcasts and transposes are read in place.
//
// gather: out = a[locate(a) + c * stride along the gathered dim], with a's stride there 0, the
// index c (bounds-checked on the host) in DT_C and the dim's stride in prm[2].
// scatter, its adjoint: out[locate(out) + c * stride] (OP)= a over the index's shape, out's
// stride along the dim 0 (see scatter_apply).
//
// prm (the metadata record): [0] numel, [1] rank, [2] scalar b (binary with a scalar; fill value), [3] scalar a, [4..8) element
// offsets of a, b, c, out, [8..16) shape, then strides (in elements) of a, b, c, out at
// 16, 24, 32, 40.

override MODE: u32 = 0u;      // 0 unary, 1 binary, 2 compare, 3 where, 4 copy, 5 fill, 6 gather, 7 scatter, 8 scatter's int64 high words
override OP: u32 = 0u;        // the op's index in rust/op.rs (UnaryOp, BinaryOp, CmpOp)
override DT: u32 = 8u;        // dtype of a and b (the compute dtype)
override DT_C: u32 = 0u;      // dtype of the where-condition
override DT_OUT: u32 = 8u;
override CONTIG: bool = false; // every operand contiguous: skip the index arithmetic
override A_SCALAR: bool = false;
override B_SCALAR: bool = false;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
@group(0) @binding(2) var<storage, read_write> tb: array<u32>;
@group(0) @binding(3) var<storage, read_write> tc: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_a: array<atomic<u32>>;

// Element indices of a, b, c and out for logical element i.
fn locate(i: u32) -> vec4<u32> {
    if (CONTIG) {
        return vec4<u32>(prm[4] + i, prm[5] + i, prm[6] + i, prm[7] + i);
    }
    var rem = i;
    var o = vec4<i32>(i32(prm[4]), i32(prm[5]), i32(prm[6]), i32(prm[7]));
    let rank = prm[1];
    for (var k = 0u; k < rank; k = k + 1u) {
        let d = rank - 1u - k;
        let s = prm[8u + d];
        let c = i32(rem % s);
        rem = rem / s;
        o = o + c * vec4<i32>(bitcast<i32>(prm[16u + d]), bitcast<i32>(prm[24u + d]), bitcast<i32>(prm[32u + d]), bitcast<i32>(prm[40u + d]));
    }
    return vec4<u32>(o);
}

// Operand values in the compute type; a scalar operand comes from prm[2] (b) or prm[3] (a).
fn a_f(e: u32) -> f32 {
    if (A_SCALAR) {
        return bitcast<f32>(prm[3]);
    }
    return ta_f(e, DT);
}

fn a_i(e: u32) -> i32 {
    if (A_SCALAR) {
        return bitcast<i32>(prm[3]);
    }
    return ta_i(e, DT);
}

fn b_f(e: u32) -> f32 {
    if (B_SCALAR) {
        return bitcast<f32>(prm[2]);
    }
    return tb_f(e, DT);
}

fn b_i(e: u32) -> i32 {
    if (B_SCALAR) {
        return bitcast<i32>(prm[2]);
    }
    return tb_i(e, DT);
}

// The output element's bits, in DT_OUT.
fn compute(o: vec4<u32>) -> u32 {
    switch MODE {
        case 0u: {
            if (OP == 36u) {
                // logical_not: input in its own dtype, bool out
                if (is_float_dt(DT)) {
                    return select(0u, 1u, ta_f(o.x, DT) == 0.0 && !is_nan(ta_f(o.x, DT)));
                }
                return select(0u, 1u, ta_i(o.x, DT) == 0);
            }
            if (is_float_dt(DT)) {
                return f_to_bits(unary_f(OP, ta_f(o.x, DT)), DT_OUT);
            }
            return i_to_bits(unary_i(OP, ta_i(o.x, DT), DT), DT_OUT);
        }
        case 1u: {
            if (is_float_dt(DT)) {
                return f_to_bits(binary_f(OP, a_f(o.x), b_f(o.y)), DT_OUT);
            }
            return i_to_bits(binary_i(OP, a_i(o.x), b_i(o.y)), DT_OUT);
        }
        case 2u: {
            var r: bool;
            if (is_float_dt(DT)) {
                r = compare_f(OP, a_f(o.x), b_f(o.y));
            } else {
                r = compare_i(OP, a_i(o.x), b_i(o.y));
            }
            return select(0u, 1u, r);
        }
        case 3u: {
            // raw bits; a scalar branch arrives as its bits in DT
            if (tc_bits(o.z, DT_C) != 0u) {
                if (A_SCALAR) {
                    return prm[3];
                }
                return ta_bits(o.x, DT);
            }
            if (B_SCALAR) {
                return prm[2];
            }
            return tb_bits(o.y, DT);
        }
        case 4u: {
            if (DT == DT_OUT) {
                return ta_bits(o.x, DT);
            }
            if (is_float_dt(DT)) {
                return f_to_bits(ta_f(o.x, DT), DT_OUT);
            }
            if (is_float_dt(DT_OUT)) {
                return f_to_bits(f32(ta_i(o.x, DT)), DT_OUT);
            }
            return i_to_bits(ta_i(o.x, DT), DT_OUT);
        }
        case 6u: {
            return ta_bits(u32(i32(o.x) + tc_i(o.z, DT_C) * bitcast<i32>(prm[2])), DT);
        }
        default: {
            return prm[2];
        }
    }
}

// Element e's bits within its word w replaced by b (dtypes of at most a word).
fn insert(w: u32, e: u32, dt: u32, b: u32) -> u32 {
    switch dt {
        case 0u, 1u, 2u: {
            let sh = (e & 3u) * 8u;
            return (w & ~(0xffu << sh)) | ((b & 0xffu) << sh);
        }
        case 3u, 6u, 7u: {
            let sh = (e & 1u) * 16u;
            return (w & ~(0xffffu << sh)) | ((b & 0xffffu) << sh);
        }
        default: { return b; }
    }
}

// One scatter element. OP 255 stores (duplicate indices: one of the values wins, as on CUDA);
// otherwise OP is the BinaryOp combining the old value with a (add, mul, maximum, minimum),
// applied through a compare-exchange loop on the element's word, since WGSL has no float
// atomics and none for the bytes of narrow dtypes. (int64 combines its low words; a second
// dispatch, MODE 8, then sign-extends them into the high words.)
fn scatter_apply(o: vec4<u32>) {
    let e = u32(i32(o.w) + tc_i(o.z, DT_C) * bitcast<i32>(prm[2]));
    if (MODE == 8u) {
        atomicStore(&out_a[2u * e + 1u], hi_word(atomicLoad(&out_a[2u * e])));
        return;
    }
    var v: u32;
    if (A_SCALAR) {
        v = prm[3];
    } else {
        v = ta_bits(o.x, DT);
    }
    let narrow = DT <= DT_I16 || DT == DT_F16 || DT == DT_BF16;
    if (OP == 255u && !narrow) {
        out_store_a(e, DT, v);
        return;
    }
    // Narrow stores go through the exchange loop too: out_store_a's clear-then-set of the
    // element's bits would OR together two values stored to one position at once.
    let w = word_of(e, DT);
    loop {
        let old = atomicLoad(&out_a[w]);
        let cur = extract(old, e, DT);
        var nb: u32;
        if (OP == 255u) {
            nb = v;
        } else if (is_float_dt(DT)) {
            nb = f_to_bits(binary_f(OP, bits_to_f(cur, DT), bits_to_f(v, DT)), DT);
        } else {
            nb = i_to_bits(binary_i(OP, bits_to_i(cur, DT), bits_to_i(v, DT)), DT);
        }
        if (atomicCompareExchangeWeak(&out_a[w], old, insert(old, e, DT, nb)).exchanged) {
            break;
        }
    }
}

// Output dtypes of 4 or 8 bytes.
@compute @workgroup_size(256)
fn main_w(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let o = locate(i);
    out_store_w(o.w, DT_OUT, compute(o));
}

// Output dtypes narrower than a word.
@compute @workgroup_size(256)
fn main_a(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let o = locate(i);
    if (MODE >= 7u) {
        scatter_apply(o);
        return;
    }
    out_store_a(o.w, DT_OUT, compute(o));
}
