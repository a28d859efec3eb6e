// Batched matrix product C = alpha * A @ B (+ beta * C), float32 accumulation. A, B and C are
// strided (transposed operands are read through their strides, never copied); the batch is a
// shared, possibly broadcast (stride 0) shape of up to 6 dims in workgroup z.
//
// `matmul`: 64x64 output tiles per workgroup of 16x16 invocations, each computing a 4x4 block
// from 32-deep slices of A and B staged in workgroup memory. `matmul_naive`: one invocation
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

var<workgroup> As: array<f32, 2048>;   // [BK][BM]
var<workgroup> Bs: array<f32, 2048>;   // [BK][BN]

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

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let M = prm[0];
    let N = prm[1];
    let K = prm[2];
    let bases = batch_bases(wid.z);
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tx = lid3.x;
    let ty = lid3.y;
    // Output rows ty + 16 i (i = 0..4) by columns tx + 16 j, row i held in acc_i's lanes j.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let ars = si(8u);
    let acs = si(9u);
    let brs = si(10u);
    let bcs = si(11u);
    for (var k0 = 0u; k0 < K; k0 = k0 + BK) {
        for (var l = 0u; l < 8u; l = l + 1u) {
            let idx = lid + l * 256u;
            // A tile: consecutive invocations walk k (contiguous for a row-major A).
            let am = idx / BK;
            let ak = idx % BK;
            var av = 0.0;
            if (row0 + am < M && k0 + ak < K) {
                av = ta_f(u32(bases.x + i32(row0 + am) * ars + i32(k0 + ak) * acs), DT);
            }
            As[ak * BM + am] = av;
            let bk = idx / BN;
            let bn = idx % BN;
            var bv = 0.0;
            if (k0 + bk < K && col0 + bn < N) {
                bv = tb_f(u32(bases.y + i32(k0 + bk) * brs + i32(col0 + bn) * bcs), DT);
            }
            Bs[bk * BN + bn] = bv;
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k = k + 1u) {
            let bb = k * BN + tx;
            let b = vec4<f32>(Bs[bb], Bs[bb + 16u], Bs[bb + 32u], Bs[bb + 48u]);
            let ab = k * BM + ty;
            acc0 = fma(vec4<f32>(As[ab]), b, acc0);
            acc1 = fma(vec4<f32>(As[ab + 16u]), b, acc1);
            acc2 = fma(vec4<f32>(As[ab + 32u]), b, acc2);
            acc3 = fma(vec4<f32>(As[ab + 48u]), b, acc3);
        }
        workgroupBarrier();
    }
    let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let m = row0 + ty + 16u * i;
        if (m >= M) {
            continue;
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let n = col0 + tx + 16u * j;
            if (n < N) {
                store_c(bases.z, m, n, rows[i][j]);
            }
        }
    }
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
