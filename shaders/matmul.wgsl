// Batched matrix product C = alpha * A @ B (+ beta * C), float32 accumulation. A, B and C are
// strided (transposed operands are read through their strides, never copied); the batch is a
// shared, possibly broadcast (stride 0) shape of up to 6 dims in workgroup z.
//
// `matmul`: 64x64 output tiles per workgroup of 8x8 invocations, each computing an 8x8 block
// from 32-deep slices of A and B staged in workgroup memory as vec4s. `matmul_naive`: one invocation
// per output element, kept as the benchmark's baseline.
//
// prm: [0] M, [1] N, [2] K, [3] batch rank, [4] beta given (0/1), [5..8) offsets of A, B, C,
// [8..10) A row/col strides, [10..12) B row/col strides, [12..14) C row/col strides,
// [14] alpha (f32 bits), [15] beta (f32 bits), [16..22) batch shape, [22..28) A batch strides,
// [28..34) B batch strides, [34..40) C batch strides.

override DT: u32 = 8u;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
@group(0) @binding(2) var<storage, read_write> tb: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 32u;

// Tiles as vec4s: As[k][m / 4] holds rows m..m+4 at depth k, Bs[k][n / 4] columns n..n+4.
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 512>;

fn si(k: u32) -> i32 {
    return bitcast<i32>(prm[k]);
}

fn batch_bases(bz: u32) -> vec3<i32> {
    var rem = bz;
    var o = vec3<i32>(si(5u), si(6u), si(7u));
    let rank = prm[3];
    for (var q = 0u; q < rank; q = q + 1u) {
        let d = rank - 1u - q;
        let s = prm[16u + d];
        let c = i32(rem % s);
        rem = rem / s;
        o = o + c * vec3<i32>(si(22u + d), si(28u + d), si(34u + d));
    }
    return o;
}

fn store_c(base: i32, m: u32, n: u32, acc: f32) {
    let e = u32(base + i32(m) * si(12u) + i32(n) * si(13u));
    var v = bitcast<f32>(prm[14]) * acc;
    if (prm[4] != 0u) {
        v = v + bitcast<f32>(prm[15]) * bitcast<f32>(out_w[e]);
    }
    out_w[e] = bitcast<u32>(v);
}

fn a_at(base: i32, m: u32, k: u32) -> f32 {
    if (m < prm[0] && k < prm[2]) {
        return ta_f(u32(base + i32(m) * si(8u) + i32(k) * si(9u)), DT);
    }
    return 0.0;
}

fn b_at(base: i32, k: u32, n: u32) -> f32 {
    if (k < prm[2] && n < prm[1]) {
        return tb_f(u32(base + i32(k) * si(10u) + i32(n) * si(11u)), DT);
    }
    return 0.0;
}

// Eight outputs of one row from n0 on, those past N skipped. Components are named, never
// indexed by a loop variable: a dynamic index into `acc` keeps the whole accumulator array in
// memory instead of registers on lavapipe (half the speed).
fn store_row(base: i32, m: u32, n0: u32, v0: vec4<f32>, v1: vec4<f32>) {
    let N = prm[1];
    if (n0 + 8u <= N) {
        store_c(base, m, n0, v0.x);
        store_c(base, m, n0 + 1u, v0.y);
        store_c(base, m, n0 + 2u, v0.z);
        store_c(base, m, n0 + 3u, v0.w);
        store_c(base, m, n0 + 4u, v1.x);
        store_c(base, m, n0 + 5u, v1.y);
        store_c(base, m, n0 + 6u, v1.z);
        store_c(base, m, n0 + 7u, v1.w);
        return;
    }
    if (n0 < N) { store_c(base, m, n0, v0.x); }
    if (n0 + 1u < N) { store_c(base, m, n0 + 1u, v0.y); }
    if (n0 + 2u < N) { store_c(base, m, n0 + 2u, v0.z); }
    if (n0 + 3u < N) { store_c(base, m, n0 + 3u, v0.w); }
    if (n0 + 4u < N) { store_c(base, m, n0 + 4u, v1.x); }
    if (n0 + 5u < N) { store_c(base, m, n0 + 5u, v1.y); }
    if (n0 + 6u < N) { store_c(base, m, n0 + 6u, v1.z); }
}

@compute @workgroup_size(8, 8)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let M = prm[0];
    let N = prm[1];
    let K = prm[2];
    let bases = batch_bases(wid.z);
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tx = lid3.x;
    let ty = lid3.y;
    // Each invocation owns an 8x8 block (rows 8 ty.., columns 8 tx..): row i in acc[2i], acc[2i+1].
    // Eight accumulators' worth of FMAs per four vec4 reads of workgroup memory is what lets a
    // SIMD-over-invocations implementation (lavapipe) and real GPUs alike run near FMA speed.
    var acc: array<vec4<f32>, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) {
        acc[i] = vec4<f32>(0.0);
    }
    let sam = si(8u);
    let sak = si(9u);
    let sbk = si(10u);
    let sbn = si(11u);
    // tiles wholly inside the matrices load without per-element bounds checks
    let interior = row0 + BM <= M && col0 + BN <= N;
    for (var k0 = 0u; k0 < K; k0 = k0 + BK) {
        if (interior && k0 + BK <= K) {
            for (var l = 0u; l < 8u; l = l + 1u) {
                let q = lid + l * 64u;
                let ak = q % BK;
                let ea = bases.x + i32(row0 + (q / BK) * 4u) * sam + i32(k0 + ak) * sak;
                As[ak * 16u + q / BK] = vec4<f32>(ta_f(u32(ea), DT), ta_f(u32(ea + sam), DT),
                                                  ta_f(u32(ea + 2 * sam), DT), ta_f(u32(ea + 3 * sam), DT));
                let eb = bases.y + i32(k0 + q / 16u) * sbk + i32(col0 + (q % 16u) * 4u) * sbn;
                Bs[q] = vec4<f32>(tb_f(u32(eb), DT), tb_f(u32(eb + sbn), DT),
                                  tb_f(u32(eb + 2 * sbn), DT), tb_f(u32(eb + 3 * sbn), DT));
            }
        } else {
            for (var l = 0u; l < 8u; l = l + 1u) {
                let q = lid + l * 64u;
                // A: consecutive invocations walk k (contiguous for a row-major A)
                let ak = q % BK;
                let am = row0 + (q / BK) * 4u;
                As[ak * 16u + q / BK] = vec4<f32>(a_at(bases.x, am, k0 + ak), a_at(bases.x, am + 1u, k0 + ak),
                                                  a_at(bases.x, am + 2u, k0 + ak), a_at(bases.x, am + 3u, k0 + ak));
                let bk = q / 16u;
                let bn = col0 + (q % 16u) * 4u;
                Bs[q] = vec4<f32>(b_at(bases.y, k0 + bk, bn), b_at(bases.y, k0 + bk, bn + 1u),
                                  b_at(bases.y, k0 + bk, bn + 2u), b_at(bases.y, k0 + bk, bn + 3u));
            }
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k = k + 1u) {
            let b0 = Bs[k * 16u + tx * 2u];
            let b1 = Bs[k * 16u + tx * 2u + 1u];
            let a0 = As[k * 16u + ty * 2u];
            let a1 = As[k * 16u + ty * 2u + 1u];
            acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
            acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
            acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
            acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
            acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
            acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
            acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
            acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
            acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
            acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
            acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
            acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
            acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
            acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
            acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
            acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
        }
        workgroupBarrier();
    }
    // unrolled by hand: a loop that can exit early (rows past M) is not unrolled by lavapipe,
    // and its `acc[2 * i]` is then a dynamic index (see store_row)
    let m0 = row0 + ty * 8u;
    let n0 = col0 + tx * 8u;
    if (m0 < M) { store_row(bases.z, m0, n0, acc[0], acc[1]); }
    if (m0 + 1u < M) { store_row(bases.z, m0 + 1u, n0, acc[2], acc[3]); }
    if (m0 + 2u < M) { store_row(bases.z, m0 + 2u, n0, acc[4], acc[5]); }
    if (m0 + 3u < M) { store_row(bases.z, m0 + 3u, n0, acc[6], acc[7]); }
    if (m0 + 4u < M) { store_row(bases.z, m0 + 4u, n0, acc[8], acc[9]); }
    if (m0 + 5u < M) { store_row(bases.z, m0 + 5u, n0, acc[10], acc[11]); }
    if (m0 + 6u < M) { store_row(bases.z, m0 + 6u, n0, acc[12], acc[13]); }
    if (m0 + 7u < M) { store_row(bases.z, m0 + 7u, n0, acc[14], acc[15]); }
}

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let M = prm[0];
    let N = prm[1];
    let K = prm[2];
    let m = gid.y;
    let n = gid.x;
    if (m >= M || n >= N) {
        return;
    }
    let bases = batch_bases(gid.z);
    var acc = 0.0;
    for (var k = 0u; k < K; k = k + 1u) {
        let a = ta_f(u32(bases.x + i32(m) * si(8u) + i32(k) * si(9u)), DT);
        let b = tb_f(u32(bases.y + i32(k) * si(10u) + i32(n) * si(11u)), DT);
        acc = fma(a, b, acc);
    }
    store_c(bases.z, m, n, acc);
}
