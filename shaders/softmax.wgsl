// softmax / log_softmax along one dim: one workgroup per row (a row is every position of the
// other dims), three passes over the row: max, sum of exponentials, write. Also cumsum and
// cumprod (`scan`, at the end).
//
// prm: [0] rows, [1] row length, [2] outer rank, [3] 1 for log_softmax, [4] input offset,
// [5] output offset, [6] input stride along the dim, [7] output stride along the dim,
// [8..16) outer shape, [16..24) input outer strides, [24..32) output outer strides; the scan
// also [32] chunk length (0: the whole row), [33] chunks per row.

override DT: u32 = 8u;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
@group(0) @binding(2) var<storage, read_write> tc: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_a: array<atomic<u32>>;

var<workgroup> shf: array<f32, 256>;

fn row_bases(row: u32) -> vec2<i32> {
    var rem = row;
    var o = vec2<i32>(i32(prm[4]), i32(prm[5]));
    let rank = prm[2];
    for (var q = 0u; q < rank; q = q + 1u) {
        let d = rank - 1u - q;
        let s = prm[8u + d];
        let c = i32(rem % s);
        rem = rem / s;
        o = o + c * vec2<i32>(bitcast<i32>(prm[16u + d]), bitcast<i32>(prm[24u + d]));
    }
    return o;
}

struct Row {
    // a workgroup past the last row works on the last one (its barriers stay uniform) but
    // writes nothing
    valid: bool,
    // element offsets of the row's first input and output
    b: vec2<i32>,
    // input and output strides along the row
    st: vec2<i32>,
}

fn row_at(row: u32) -> Row {
    return Row(row < prm[0], row_bases(min(row, max(prm[0], 1u) - 1u)), vec2<i32>(i32(prm[6]), i32(prm[7])));
}

fn workgroup_row(wid: vec3<u32>, nwg: vec3<u32>) -> Row {
    return row_at(wid.y * nwg.x + wid.x);
}

fn wg_max(lid: u32, v: f32) -> f32 {
    shf[lid] = v;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w = w >> 1u) {
        if (lid < w) {
            let a = shf[lid];
            let b = shf[lid + w];
            shf[lid] = select(max(a, b), a + b, is_nan(a) || is_nan(b));
        }
        workgroupBarrier();
    }
    let r = shf[0];
    workgroupBarrier();
    return r;
}

fn wg_sum(lid: u32, v: f32) -> f32 {
    shf[lid] = v;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w = w >> 1u) {
        if (lid < w) {
            shf[lid] = shf[lid] + shf[lid + w];
        }
        workgroupBarrier();
    }
    let r = shf[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = workgroup_row(wid, nwg);
    let valid = r.valid;
    let b = r.b;
    let n = prm[1];
    let st = r.st;
    var m = -f_inf();
    for (var j = lid; j < n; j = j + WG) {
        let x = ta_f(u32(b.x + i32(j) * st.x), DT);
        m = select(max(m, x), x + m, is_nan(x) || is_nan(m));
    }
    m = wg_max(lid, m);
    // Shifting by the max keeps exp from overflowing; an infinite max makes the row NaN, as on
    // the CPU.
    let shift = m;
    var s = 0.0;
    for (var j = lid; j < n; j = j + WG) {
        s = s + exp(ta_f(u32(b.x + i32(j) * st.x), DT) - shift);
    }
    s = wg_sum(lid, s);
    let ls = log(s);
    if (!valid) {
        return;
    }
    for (var j = lid; j < n; j = j + WG) {
        let x = ta_f(u32(b.x + i32(j) * st.x), DT) - shift;
        var y: f32;
        if (prm[3] != 0u) {
            y = x - ls;
        } else {
            y = exp(x) / s;
        }
        out_store_a(u32(b.y + i32(j) * st.y), DT, f_to_bits(y, DT));
    }
}

// cumsum / cumprod along the dim, same prm layout, prm[3] bit 0 set for cumprod: 256
// positions at a time, each block scanned in workgroup memory (Hillis-Steele) and combined with
// the running total of the blocks before it. A long row is cut into prm[32]-long chunks
// (prm[33] of them; one workgroup each), so that no workgroup loops over millions of
// positions (lavapipe stops executing a workgroup's invocations after about 2^21 barriers) and
// a long row spreads over the GPU: pass 1 (bit 1) writes each chunk's total to tc[row *
// chunks + chunk], the host scans those along the chunks, and pass 2 (bit 2) scans each chunk
// starting from the scanned total of the chunks before it. `scan` is the float one (f32
// totals, stored as bits); `scan_int` sums or multiplies integers into int64 in 64 bits (word
// pairs), as the CPU does.
fn scan_combine(a: f32, b: f32) -> f32 {
    if ((prm[3] & 1u) == 1u) {
        return a * b;
    }
    return a + b;
}

struct Chunk {
    row: Row,
    // the chunk's positions [lo, hi), its index in the row and in tc
    lo: u32,
    hi: u32,
    chunk: u32,
    slot: u32,
}

fn workgroup_chunk(wid: vec3<u32>, nwg: vec3<u32>) -> Chunk {
    let g = wid.y * nwg.x + wid.x;
    let chunks = max(prm[33], 1u);
    let row = g / chunks;
    let n = prm[1];
    var len = n;
    if (prm[32] != 0u) {
        len = prm[32];
    }
    let lo = min((g % chunks) * len, n);
    return Chunk(row_at(row), lo, min(lo + len, n), g % chunks, min(g, max(prm[0] * chunks, 1u) - 1u));
}

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_chunk(wid, nwg);
    let identity = select(0.0, 1.0, (prm[3] & 1u) == 1u);
    if ((prm[3] & 2u) != 0u) {
        var acc = identity;
        for (var j = c.lo + lid; j < c.hi; j = j + WG) {
            acc = scan_combine(acc, ta_f(u32(c.row.b.x + i32(j) * c.row.st.x), DT));
        }
        shf[lid] = acc;
        workgroupBarrier();
        for (var w = WG / 2u; w > 0u; w = w >> 1u) {
            if (lid < w) {
                shf[lid] = scan_combine(shf[lid], shf[lid + w]);
            }
            workgroupBarrier();
        }
        if (c.row.valid && lid == 0u) {
            tc[c.slot] = bitcast<u32>(shf[0]);
        }
        return;
    }
    var carry = identity;
    if ((prm[3] & 4u) != 0u && c.chunk > 0u) {
        carry = bitcast<f32>(tc[c.slot - 1u]);
    }
    for (var j0 = c.lo; j0 < c.hi; j0 = j0 + WG) {
        let j = j0 + lid;
        var v = identity;
        if (j < c.hi) {
            v = ta_f(u32(c.row.b.x + i32(j) * c.row.st.x), DT);
        }
        shf[lid] = v;
        workgroupBarrier();
        for (var w = 1u; w < WG; w = w << 1u) {
            var t = shf[lid];
            if (lid >= w) {
                t = scan_combine(shf[lid - w], t);
            }
            workgroupBarrier();
            shf[lid] = t;
            workgroupBarrier();
        }
        if (c.row.valid && j < c.hi) {
            out_store_a(u32(c.row.b.y + i32(j) * c.row.st.y), DT, f_to_bits(scan_combine(carry, shf[lid]), DT));
        }
        carry = scan_combine(carry, shf[WG - 1u]);
        workgroupBarrier();
    }
}

var<workgroup> sh64: array<vec2<u32>, 256>;

// int64 addition and multiplication (wrapping, as on the CPU) on (low, high) word pairs;
// `combine64` is the scan's, by prm[3] bit 0, and `id64` its identity.
fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let p = mulhilo(a.x, b.x);
    return vec2<u32>(p.y, p.x + a.x * b.y + a.y * b.x);
}

fn combine64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if ((prm[3] & 1u) == 1u) {
        return mul64(a, b);
    }
    return add64(a, b);
}

fn id64() -> vec2<u32> {
    return vec2<u32>(prm[3] & 1u, 0u);
}

// Element e of the input as an int64 word pair (int64 inputs with both their words).
fn ta_64(e: u32) -> vec2<u32> {
    if (DT == DT_I64) {
        return vec2<u32>(ta[2u * e], ta[2u * e + 1u]);
    }
    let v = bitcast<u32>(ta_i(e, DT));
    return vec2<u32>(v, hi_word(v));
}

@compute @workgroup_size(256)
fn scan_int(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_chunk(wid, nwg);
    if ((prm[3] & 2u) != 0u) {
        var acc = id64();
        for (var j = c.lo + lid; j < c.hi; j = j + WG) {
            acc = combine64(acc, ta_64(u32(c.row.b.x + i32(j) * c.row.st.x)));
        }
        sh64[lid] = acc;
        workgroupBarrier();
        for (var w = WG / 2u; w > 0u; w = w >> 1u) {
            if (lid < w) {
                sh64[lid] = combine64(sh64[lid], sh64[lid + w]);
            }
            workgroupBarrier();
        }
        if (c.row.valid && lid == 0u) {
            tc[2u * c.slot] = sh64[0].x;
            tc[2u * c.slot + 1u] = sh64[0].y;
        }
        return;
    }
    var carry = id64();
    if ((prm[3] & 4u) != 0u && c.chunk > 0u) {
        carry = vec2<u32>(tc[2u * c.slot - 2u], tc[2u * c.slot - 1u]);
    }
    for (var j0 = c.lo; j0 < c.hi; j0 = j0 + WG) {
        let j = j0 + lid;
        var v = id64();
        if (j < c.hi) {
            v = ta_64(u32(c.row.b.x + i32(j) * c.row.st.x));
        }
        sh64[lid] = v;
        workgroupBarrier();
        for (var w = 1u; w < WG; w = w << 1u) {
            var t = sh64[lid];
            if (lid >= w) {
                t = combine64(sh64[lid - w], t);
            }
            workgroupBarrier();
            sh64[lid] = t;
            workgroupBarrier();
        }
        if (c.row.valid && j < c.hi) {
            let o = u32(c.row.b.y + i32(j) * c.row.st.y);
            let r = combine64(carry, sh64[lid]);
            out_w[2u * o] = r.x;
            out_w[2u * o + 1u] = r.y;
        }
        carry = combine64(carry, sh64[WG - 1u]);
        workgroupBarrier();
    }
}

// cummax / cummin along the dim (`scan_max`, prm[3] bit 0 set for cummin): the running
// (key, index) of the maximum, where the key is the order key (order_key: NaN above
// everything), complemented for cummin except NaN, and ties go to the later index — the CPU's
// `v >= best` (or `v <= best`) with a NaN sticking once seen and each later NaN taking over.
// One workgroup per row, 256 positions at a time (Hillis-Steele on (key, index) pairs), a
// running carry between blocks; values go to out, int64 indices to tc (both contiguous).
var<workgroup> shk: array<u32, 256>;
var<workgroup> shi: array<u32, 256>;

fn cum_key(b: u32) -> u32 {
    let k = order_key(b, DT);
    if ((prm[3] & 1u) == 1u && !(is_float_dt(DT) && k == 0xffffffffu)) {
        return ~k;
    }
    return k;
}

@compute @workgroup_size(256)
fn scan_max(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = workgroup_row(wid, nwg);
    let n = prm[1];
    // every key is >= 0, so the first position always replaces this
    var ck = 0u;
    var ci = 0u;
    for (var j0 = 0u; j0 < n; j0 = j0 + WG) {
        let j = j0 + lid;
        var k = 0u;
        if (j < n) {
            k = cum_key(ta_bits(u32(r.b.x + i32(j) * r.st.x), DT));
        }
        shk[lid] = k;
        shi[lid] = j;
        workgroupBarrier();
        for (var w = 1u; w < WG; w = w << 1u) {
            var tk = shk[lid];
            var ti = shi[lid];
            if (lid >= w && shk[lid - w] > tk) {
                tk = shk[lid - w];
                ti = shi[lid - w];
            }
            workgroupBarrier();
            shk[lid] = tk;
            shi[lid] = ti;
            workgroupBarrier();
        }
        var fk = shk[lid];
        var fi = shi[lid];
        if (ck > fk) {
            fk = ck;
            fi = ci;
        }
        if (r.valid && j < n) {
            let o = u32(r.b.y + i32(j) * r.st.y);
            out_store_a(o, DT, ta_bits(u32(r.b.x + i32(fi) * r.st.x), DT));
            tc[2u * o] = fi;
            tc[2u * o + 1u] = 0u;
        }
        if (shk[WG - 1u] >= ck) {
            ck = shk[WG - 1u];
            ci = shi[WG - 1u];
        }
        workgroupBarrier();
    }
}
