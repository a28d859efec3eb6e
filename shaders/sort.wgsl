// Sorting the rows along the last dim of a contiguous tensor (sort, argsort, topk, kthvalue,
// median): a bitonic sort of (key, index) pairs, then a pick of the wanted positions.
//
// Each row is padded to P, a power of two, in a scratch buffer of pairs (`keys`: key at 2e,
// index at 2e + 1). A key is a u32 whose unsigned order is the dtype's order with NaN above
// everything and -0 equal to +0; descending sorts complement it. Ties go by index, so the
// order is the stable one the CPU gives; padding (key and index all ones) sorts last.
//
// `sort_local` sorts tiles of TILE pairs in workgroup memory (a tile holds TILE / P whole rows
// when P < TILE); for longer rows, `sort_global` does one compare-exchange step (k, j) with
// j >= TILE over the whole buffer, and `sort_merge` the remaining steps j < TILE of stage k
// inside each tile. Stage k's direction comes from bit k of the padded position, except that
// the last stage of a row (k = P) is ascending for every row.
//
// prm: [0] pairs (rows * P), [1] P, [2] row length n, [3] bit 0 descending, [4] input offset,
// [5] stage k, [6] step j, [7] rows; `sort_pick`: [8] what (0 positions 0.., 1 position [9],
// 2 median, 3 median skipping NaN), [9] k, [10] outputs per row.

override DT: u32 = 8u;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
@group(0) @binding(2) var<storage, read_write> keys: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_a: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> ix: array<u32>;

const TILE: u32 = 512u;
const NAN_KEY: u32 = 0xffffffffu;

var<workgroup> sk: array<u32, 512>;
var<workgroup> si: array<u32, 512>;

// Pair b belongs before pair a.
fn before(bk: u32, bi: u32, ak: u32, ai: u32) -> bool {
    return bk < ak || (bk == ak && bi < ai);
}

fn ascending(pos: u32, k: u32) -> bool {
    return (pos & k) == 0u || k >= prm[1];
}

@compute @workgroup_size(256)
fn sort_init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= prm[0]) {
        return;
    }
    let p = prm[1];
    let n = prm[2];
    let row = e / p;
    let c = e % p;
    if (c >= n) {
        keys[2u * e] = 0xffffffffu;
        keys[2u * e + 1u] = 0xffffffffu;
        return;
    }
    var k = order_key(ta_bits(prm[4] + row * n + c, DT), DT);
    if ((prm[3] & 1u) != 0u) {
        k = ~k;
    }
    keys[2u * e] = k;
    keys[2u * e + 1u] = c;
}

fn tile_load(base: u32, lid: u32) {
    for (var h = 0u; h < 2u; h = h + 1u) {
        let t = lid + h * 256u;
        let e = base + t;
        if (e < prm[0]) {
            sk[t] = keys[2u * e];
            si[t] = keys[2u * e + 1u];
        } else {
            sk[t] = 0xffffffffu;
            si[t] = 0xffffffffu;
        }
    }
    workgroupBarrier();
}

fn tile_store(base: u32, lid: u32) {
    workgroupBarrier();
    for (var h = 0u; h < 2u; h = h + 1u) {
        let t = lid + h * 256u;
        let e = base + t;
        if (e < prm[0]) {
            keys[2u * e] = sk[t];
            keys[2u * e + 1u] = si[t];
        }
    }
}

// One compare-exchange of step (k, j) in the tile: invocation `lid` owns one pair.
fn tile_step(base: u32, lid: u32, k: u32, j: u32) {
    let i = 2u * lid - (lid & (j - 1u));
    let l = i + j;
    let ak = sk[i];
    let ai = si[i];
    let bk = sk[l];
    let bi = si[l];
    if (before(bk, bi, ak, ai) == ascending(base + i, k)) {
        sk[i] = bk;
        si[i] = bi;
        sk[l] = ak;
        si[l] = ai;
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn sort_local(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = (wid.y * nwg.x + wid.x) * TILE;
    tile_load(base, lid);
    let kmax = min(prm[1], TILE);
    for (var k = 2u; k <= kmax; k = k << 1u) {
        for (var j = k >> 1u; j > 0u; j = j >> 1u) {
            tile_step(base, lid, k, j);
        }
    }
    tile_store(base, lid);
}

@compute @workgroup_size(256)
fn sort_merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = (wid.y * nwg.x + wid.x) * TILE;
    tile_load(base, lid);
    let k = prm[5];
    for (var j = TILE >> 1u; j > 0u; j = j >> 1u) {
        tile_step(base, lid, k, j);
    }
    tile_store(base, lid);
}

@compute @workgroup_size(256)
fn sort_global(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let q = linear_id(wid, nwg, lid);
    if (q >= prm[0] / 2u) {
        return;
    }
    let k = prm[5];
    let j = prm[6];
    let i = 2u * q - (q & (j - 1u));
    let l = i + j;
    let ak = keys[2u * i];
    let ai = keys[2u * i + 1u];
    let bk = keys[2u * l];
    let bi = keys[2u * l + 1u];
    if (before(bk, bi, ak, ai) == ascending(i, k)) {
        keys[2u * i] = bk;
        keys[2u * i + 1u] = bi;
        keys[2u * l] = ak;
        keys[2u * l + 1u] = ai;
    }
}

// The sorted position a row's output `j` takes.
fn pick_position(row: u32, j: u32) -> u32 {
    let what = prm[8];
    if (what == 0u) {
        return j;
    }
    if (what == 1u) {
        return prm[9];
    }
    // medians: NaNs sit at the end of the ascending row; count them by bisection
    let n = prm[2];
    let first = row * prm[1];
    var lo = select(n, 0u, is_float_dt(DT));
    var hi = n;
    if (is_float_dt(DT)) {
        while (lo < hi) {
            let mid = (lo + hi) / 2u;
            if (keys[2u * (first + mid)] == NAN_KEY) {
                hi = mid;
            } else {
                lo = mid + 1u;
            }
        }
    }
    let nans = n - lo;
    if (nans > 0u && (what == 2u || nans == n)) {
        return n - nans;
    }
    return (n - nans - 1u) / 2u;
}

@compute @workgroup_size(256)
fn sort_pick(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    let per = prm[10];
    if (o >= prm[7] * per) {
        return;
    }
    let row = o / per;
    let pos = pick_position(row, o % per);
    let idx = keys[2u * (row * prm[1] + pos) + 1u];
    out_store_a(o, DT, ta_bits(prm[4] + row * prm[2] + idx, DT));
    ix[2u * o] = idx;
    ix[2u * o + 1u] = 0u;
}

// searchsorted (`search`): one invocation per value, a binary search of its row of the sorted
// boundaries (ta) for the value (keys, the same dtype), as the CPU: go right past m unless
// m > x (right=True) or m >= x (right=False); comparisons with NaN go right.
// prm: [0] values, [1] row length n, [2] values per row, [3] 1 when one row serves every
// value, [4] right, [5] boundaries offset, [6] values offset, [7] output offset, [8] 1 for an
// int32 output (else int64).
fn search_right(m: u32, x: u32) -> bool {
    if (is_float_dt(DT)) {
        let mf = bits_to_f(m, DT);
        let xf = bits_to_f(x, DT);
        if (is_nan(mf) || is_nan(xf)) {
            return true;
        }
        return select(mf < xf, mf <= xf, prm[4] != 0u);
    }
    let mi = bits_to_i(m, DT);
    let xi = bits_to_i(x, DT);
    return select(mi < xi, mi <= xi, prm[4] != 0u);
}

@compute @workgroup_size(256)
fn search(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= prm[0]) {
        return;
    }
    let n = prm[1];
    var base = prm[5];
    if (prm[3] == 0u) {
        base = base + (e / prm[2]) * n;
    }
    let x = keys_bits(prm[6] + e, DT);
    var lo = 0u;
    var hi = n;
    while (lo < hi) {
        let mid = lo + (hi - lo) / 2u;
        if (search_right(ta_bits(base + mid, DT), x)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    out_store_w(prm[7] + e, select(DT_I64, DT_I32, prm[8] != 0u), lo);
}
