// Random fills with the CPU's generator (rust/cpu/random.rs): element i of a draw is computed
// from the Philox4x32-10 block of counter (offset + i) under key seed, so a seed gives the same
// numbers on every device. WGSL has no 64-bit integers: the 32x32->64 products are built from
// 16-bit halves and the 64-bit counter carries by hand.
//
// DIST 0, uniform: low + span * u in f32 with u = (word0 >> 8) / 2^24, then pulled below
//   `high` if rounding reached it (the CPU's float32 path does exactly these operations). The
//   product passes through an xor with prm[11] (0, unknown to the compiler), so it is rounded
//   before the add as on the CPU: drivers may otherwise fuse the two into an fma (and some
//   split an explicit fma, so fma cannot be relied on either).
// DIST 1, bernoulli: 1 when (word0 >> 8) < prm[6], the host's ceil(p * 2^24) (the same test
//   as the CPU's u < p, in integers).
// DIST 2, randint: low + ((word0 << 32 | word1) mod range), range < 2^32, by long division.
//
// prm: [0] numel, [1] out element offset, [2..4) counter offset (lo, hi), [4..6) key (lo, hi),
// [6] low bits (f32 for uniform, i32 for randint) or the bernoulli threshold, [7] span (f32
// bits) or range (u32), [8] high (f32 bits), [9] what a draw that reached high becomes (f32
// bits), [10] whether high is above low (else nothing is pulled down), [11] 0.

override DIST: u32 = 0u;
override DT_OUT: u32 = 8u;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_a: array<atomic<u32>>;

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

// (hi * 2^32 + lo) mod m for m > 0.
fn mod64(hi: u32, lo: u32, m: u32) -> u32 {
    var r = hi % m;
    for (var bit = 31; bit >= 0; bit = bit - 1) {
        let carry = (r >> 31u) != 0u;
        r = (r << 1u) | ((lo >> u32(bit)) & 1u);
        if (carry || r >= m) {
            r = r - m;
        }
    }
    return r;
}

@compute @workgroup_size(256)
fn random(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let lo = prm[2] + i;
    let hi = prm[3] + select(0u, 1u, lo < i);
    let b = philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(prm[4], prm[5]));
    var bits: u32;
    switch DIST {
        case 0u: {
            let u = f32(b.x >> 8u) * (1.0 / 16777216.0);
            let p = bitcast<f32>(bitcast<u32>(bitcast<f32>(prm[7]) * u) ^ prm[11]);
            var v = bitcast<f32>(prm[6]) + p;
            if (prm[10] != 0u && v >= bitcast<f32>(prm[8])) {
                v = bitcast<f32>(prm[9]);
            }
            bits = f_to_bits(v, DT_OUT);
        }
        case 1u: {
            bits = i_to_bits(select(0, 1, (b.x >> 8u) < prm[6]), DT_OUT);
        }
        default: {
            bits = i_to_bits(bitcast<i32>(prm[6]) + bitcast<i32>(mod64(b.x, b.y, prm[7])), DT_OUT);
        }
    }
    let e = prm[1] + i;
    if (DT_OUT == DT_I32 || DT_OUT == DT_I64 || DT_OUT == DT_F32) {
        out_store_w(e, DT_OUT, bits);
    } else {
        out_store_a(e, DT_OUT, bits);
    }
}
