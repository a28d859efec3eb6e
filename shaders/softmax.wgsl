// softmax / log_softmax along one dim: one workgroup per row (a row is every position of the
// other dims), three passes over the row: max, sum of exponentials, write. Also cumsum and
// cumprod (`scan`, at the end).
//
// prm: [0] rows, [1] row length, [2] outer rank, [3] 1 for log_softmax, [4] input offset,
// [5] output offset, [6] input stride along the dim, [7] output stride along the dim,
// [8..16) outer shape, [16..24) input outer strides, [24..32) output outer strides.

override DT: u32 = 8u;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
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

fn workgroup_row(wid: vec3<u32>, nwg: vec3<u32>) -> Row {
    let row = wid.y * nwg.x + wid.x;
    return Row(row < prm[0], row_bases(min(row, max(prm[0], 1u) - 1u)), vec2<i32>(i32(prm[6]), i32(prm[7])));
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

// cumsum (prm[3] = 0) / cumprod (prm[3] = 1) along the dim, same prm layout: one workgroup per
// row, 256 positions at a time, each block scanned in workgroup memory (Hillis-Steele) and
// combined with the running total of the blocks before it.
fn scan_combine(a: f32, b: f32) -> f32 {
    if (prm[3] == 1u) {
        return a * b;
    }
    return a + b;
}

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = workgroup_row(wid, nwg);
    let valid = r.valid;
    let b = r.b;
    let n = prm[1];
    let st = r.st;
    let identity = select(0.0, 1.0, prm[3] == 1u);
    var carry = identity;
    for (var j0 = 0u; j0 < n; j0 = j0 + WG) {
        let j = j0 + lid;
        var v = identity;
        if (j < n) {
            v = ta_f(u32(b.x + i32(j) * st.x), DT);
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
        if (valid && j < n) {
            out_store_a(u32(b.y + i32(j) * st.y), DT, f_to_bits(scan_combine(carry, shf[lid]), DT));
        }
        carry = scan_combine(carry, shf[WG - 1u]);
        workgroupBarrier();
    }
}
