// Reductions of a strided tensor over a set of dims into a fresh contiguous output: one
// workgroup per output element (tree reduction in workgroup memory), or one invocation per
// output when the reduced extent is short. Two-phase ops (logsumexp: max, then the sum of
// exponentials; var/std: mean, then squared deviations) run both phases in one dispatch.
// Long reductions into few outputs take two passes: `reduce_partial` splits each output's
// extent into chunks reduced by workgroups of their own into partial states, and
// `reduce_combine` folds the partials and writes the results.
//
// prm: [0] outputs, [1] reduced extent, [2] kept rank, [3] reduced rank, [4] input offset,
// [5] op parameter (f32 bits: p of a norm, correction of var), [6] 1 for std, [8..16) kept
// shape, [16..24) kept strides, [24..32) reduced shape, [32..40) reduced strides, [40] chunks
// per output and [41] chunk length (two-pass form).

override OP: u32 = 0u;       // ReduceOp's index in rust/op.rs
override DT: u32 = 8u;
override DT_OUT: u32 = 8u;
override DT_OUT2: u32 = 5u;
override TWO_OUT: bool = false;

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> ta: array<u32>;
// Partial states of the two-pass form, 4 words each (a, b, i, k).
@group(0) @binding(2) var<storage, read_write> parts: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_w: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_a: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> out2_w: array<u32>;
@group(0) @binding(7) var<storage, read_write> out2_a: array<atomic<u32>>;

struct St {
    a: f32,   // float accumulator / extreme value
    b: f32,   // second float accumulator (nanmean count)
    i: i32,   // integer accumulator / extreme value, all/any flag; low word of an int sum
    k: u32,   // arg-reduction index; high word of an int sum
}

// Integer sums are int64: accumulated in two words with carry.
fn add64(s0: St, lo2: u32, hi2: u32) -> St {
    var s = s0;
    let lo1 = bitcast<u32>(s.i);
    let lo = lo1 + lo2;
    s.k = s.k + hi2 + select(0u, 1u, lo < lo1);
    s.i = bitcast<i32>(lo);
    return s;
}

var<workgroup> sh: array<St, 256>;

fn base_of(o: u32) -> i32 {
    var rem = o;
    var off = i32(prm[4]);
    let rank = prm[2];
    for (var q = 0u; q < rank; q = q + 1u) {
        let d = rank - 1u - q;
        let s = prm[8u + d];
        off = off + i32(rem % s) * bitcast<i32>(prm[16u + d]);
        rem = rem / s;
    }
    return off;
}

fn red_off(r: u32) -> i32 {
    var rem = r;
    var off = 0;
    let rank = prm[3];
    for (var q = 0u; q < rank; q = q + 1u) {
        let d = rank - 1u - q;
        let s = prm[24u + d];
        off = off + i32(rem % s) * bitcast<i32>(prm[32u + d]);
        rem = rem / s;
    }
    return off;
}

fn param() -> f32 {
    return bitcast<f32>(prm[5]);
}

fn is_max_like() -> bool {
    return OP == 5u || OP == 7u || (OP == 13u && is_inf(param()) && param() > 0.0);
}

fn is_extreme(phase: u32) -> bool {
    return OP == 5u || OP == 6u || (OP == 12u && phase == 0u) || (OP == 13u && is_inf(param()));
}

fn identity(phase: u32) -> St {
    var s = St(0.0, 0.0, 0, 0u);
    if (OP == 2u) {
        s.a = 1.0;
        s.i = 1;
    } else if (OP == 9u) {
        s.i = 1;
    } else if (is_extreme(phase) || OP == 7u || OP == 8u) {
        let mx = is_max_like() || OP == 12u;
        s.a = select(f_inf(), -f_inf(), mx);
        s.i = select(2147483647, -2147483647 - 1, mx);
    }
    return s;
}

// Folds element value x (as f32 and i32) at reduced position r into s.
fn accumulate(s0: St, xf: f32, xi: i32, r: u32, phase: u32, m: f32) -> St {
    var s = s0;
    let fl = is_float_dt(DT);
    switch OP {
        case 0u, 3u: {
            s.a = s.a + xf;
            s = add64(s, bitcast<u32>(xi), hi_word(bitcast<u32>(xi)));
        }
        case 1u: {
            if (!is_nan(xf)) {
                s.a = s.a + xf;
            }
            s = add64(s, bitcast<u32>(xi), hi_word(bitcast<u32>(xi)));
        }
        case 4u: {
            if (!is_nan(xf)) {
                s.a = s.a + xf;
                s.b = s.b + 1.0;
            }
        }
        case 2u: {
            s.a = s.a * xf;
            s.i = s.i * xi;
        }
        case 7u, 8u: {
            let mx = OP == 7u;
            if (fl) {
                if (!is_nan(s.a) && (is_nan(xf) || (mx && xf > s.a) || (!mx && xf < s.a) || (r == 0u))) {
                    s.a = xf;
                    s.k = r;
                }
            } else if ((mx && xi > s.i) || (!mx && xi < s.i) || r == 0u) {
                s.i = xi;
                s.k = r;
            }
        }
        case 9u: {
            s.i = s.i & select(0, 1, !(xf == 0.0) || xi != 0);
        }
        case 10u: {
            s.i = s.i | select(0, 1, !(xf == 0.0) || xi != 0);
        }
        case 11u: {
            s.i = s.i + select(0, 1, !(xf == 0.0) || xi != 0);
        }
        case 12u: {
            if (phase == 0u) {
                s = fold_extreme(s, xf, xi, true);
            } else {
                s.a = s.a + exp(xf - m);
            }
        }
        case 13u: {
            let p = param();
            let ax = abs(xf);
            if (is_inf(p)) {
                s = fold_extreme(s, ax, 0, p > 0.0);
            } else if (p == 0.0) {
                s.a = s.a + select(0.0, 1.0, !(xf == 0.0));
            } else if (p == 1.0) {
                s.a = s.a + ax;
            } else if (p == 2.0) {
                s.a = s.a + xf * xf;
            } else {
                s.a = s.a + pow_f(ax, p);
            }
        }
        case 14u: {
            if (phase == 0u) {
                s.a = s.a + xf;
            } else {
                s.a = s.a + (xf - m) * (xf - m);
            }
        }
        default: {
            s = fold_extreme(s, xf, xi, OP == 5u);
        }
    }
    return s;
}

// max / min with NaN propagating.
fn fold_extreme(s0: St, xf: f32, xi: i32, mx: bool) -> St {
    var s = s0;
    if (!is_nan(s.a) && (is_nan(xf) || (mx && xf > s.a) || (!mx && xf < s.a))) {
        s.a = xf;
    }
    s.i = select(min(s.i, xi), max(s.i, xi), mx);
    return s;
}

fn combine(x: St, y: St, phase: u32) -> St {
    var s = x;
    switch OP {
        case 0u, 1u, 3u, 4u, 11u, 14u: {
            s = add64(x, bitcast<u32>(y.i), y.k);
            s.a = x.a + y.a;
            s.b = x.b + y.b;
        }
        case 2u: {
            s.a = x.a * y.a;
            s.i = x.i * y.i;
        }
        case 7u, 8u: {
            let mx = OP == 7u;
            if (is_float_dt(DT)) {
                let xn = is_nan(x.a);
                let yn = is_nan(y.a);
                var take_y: bool;
                if (xn || yn) {
                    take_y = yn && (!xn || y.k < x.k);
                } else if (y.a == x.a) {
                    take_y = y.k < x.k;
                } else {
                    take_y = (mx && y.a > x.a) || (!mx && y.a < x.a);
                }
                if (take_y) {
                    s = y;
                }
            } else {
                if ((y.i == x.i && y.k < x.k) || (mx && y.i > x.i) || (!mx && y.i < x.i)) {
                    s = y;
                }
            }
        }
        case 9u: {
            s.i = x.i & y.i;
        }
        case 10u: {
            s.i = x.i | y.i;
        }
        case 12u: {
            if (phase == 0u) {
                s = fold_extreme(x, y.a, y.i, true);
            } else {
                s.a = x.a + y.a;
            }
        }
        case 13u: {
            let p = param();
            if (is_inf(p)) {
                s = fold_extreme(x, y.a, 0, p > 0.0);
            } else {
                s.a = x.a + y.a;
            }
        }
        default: {
            s = fold_extreme(x, y.a, y.i, OP == 5u);
        }
    }
    return s;
}

// Partial state over reduced positions start, start + step, ...
fn partial(base: i32, start: u32, step: u32, phase: u32, m: f32) -> St {
    return partial_to(base, start, step, prm[1], phase, m);
}

fn partial_to(base: i32, start: u32, step: u32, n: u32, phase: u32, m: f32) -> St {
    var s = identity(phase);
    for (var r = start; r < n; r = r + step) {
        let e = u32(base + red_off(r));
        var xf = 0.0;
        var xi = 0;
        if (is_float_dt(DT)) {
            xf = ta_f(e, DT);
        } else {
            xi = ta_i(e, DT);
        }
        s = accumulate(s, xf, xi, r, phase, m);
    }
    return s;
}

fn needs_two_phases() -> bool {
    return OP == 12u || OP == 14u;
}

// The value the first phase hands to the second (the max for logsumexp, the mean for var).
fn pivot(s: St) -> f32 {
    if (OP == 12u) {
        if (is_inf(s.a)) {
            return 0.0;
        }
        return s.a;
    }
    return s.a / f32(prm[1]);
}

fn finish(o: u32, s: St, m: f32, s0: St) {
    let n = f32(prm[1]);
    let fl = is_float_dt(DT);
    switch OP {
        case 3u: { out_store_a(o, DT_OUT, f_to_bits(s.a / n, DT_OUT)); }
        case 4u: { out_store_a(o, DT_OUT, f_to_bits(s.a / s.b, DT_OUT)); }
        case 7u, 8u: {
            var v: u32;
            if (fl) {
                v = f_to_bits(s.a, DT);
            } else {
                v = i_to_bits(s.i, DT);
            }
            if (TWO_OUT) {
                out_store_a(o, DT, v);
                out2_store_a(o, DT_OUT2, s.k);
            } else {
                out_store_a(o, DT_OUT, s.k);
            }
        }
        case 9u, 10u, 11u: { out_store_a(o, DT_OUT, i_to_bits(s.i, DT_OUT)); }
        case 12u: {
            var r: f32;
            if (is_inf(s0.a) || is_nan(s0.a)) {
                r = s0.a;
                if ((is_inf(s0.a) && s0.a > 0.0) || is_nan(s0.a)) {
                    r = s0.a + s.a;
                }
            } else {
                r = m + log(s.a);
            }
            out_store_a(o, DT_OUT, f_to_bits(r, DT_OUT));
        }
        case 13u: {
            let p = param();
            var r = s.a;
            if (p == 2.0) {
                r = sqrt(s.a);
            } else if (p != 1.0 && p != 0.0 && !is_inf(p)) {
                r = pow_f(s.a, 1.0 / p);
            }
            out_store_a(o, DT_OUT, f_to_bits(r, DT_OUT));
        }
        case 14u: {
            var v = s.a / max(n - param(), 0.0);
            if (prm[6] != 0u) {
                v = sqrt(v);
            }
            out_store_a(o, DT_OUT, f_to_bits(v, DT_OUT));
            if (TWO_OUT) {
                out2_store_a(o, DT_OUT2, f_to_bits(m, DT_OUT2));
            }
        }
        default: {
            if (fl) {
                out_store_a(o, DT_OUT, f_to_bits(s.a, DT_OUT));
            } else if (OP <= 1u && DT_OUT == DT_I64) {
                atomicStore(&out_a[2u * o], bitcast<u32>(s.i));
                atomicStore(&out_a[2u * o + 1u], s.k);
            } else {
                out_store_a(o, DT_OUT, i_to_bits(s.i, DT_OUT));
            }
        }
    }
}

fn tree(lid: u32, s: St, phase: u32) -> St {
    sh[lid] = s;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w = w >> 1u) {
        if (lid < w) {
            sh[lid] = combine(sh[lid], sh[lid + w], phase);
        }
        workgroupBarrier();
    }
    let r = sh[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn reduce_group(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = wid.y * nwg.x + wid.x;
    let valid = o < prm[0];
    let base = base_of(min(o, max(prm[0], 1u) - 1u));
    let s0 = tree(lid, partial(base, lid, WG, 0u, 0.0), 0u);
    var s = s0;
    var m = 0.0;
    if (needs_two_phases()) {
        m = pivot(s0);
        s = tree(lid, partial(base, lid, WG, 1u, m), 1u);
    }
    if (valid && lid == 0u) {
        finish(o, s, m, s0);
    }
}

@compute @workgroup_size(256)
fn reduce_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= prm[0]) {
        return;
    }
    let base = base_of(o);
    let s0 = partial(base, 0u, 1u, 0u, 0.0);
    var s = s0;
    var m = 0.0;
    if (needs_two_phases()) {
        m = pivot(s0);
        s = partial(base, 0u, 1u, 1u, m);
    }
    finish(o, s, m, s0);
}

@compute @workgroup_size(256)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let chunks = prm[40];
    let len = prm[41];
    let v = wid.y * nwg.x + wid.x;
    let total = prm[0] * chunks;
    let vv = min(v, total - 1u);
    let o = vv / chunks;
    let c = vv % chunks;
    let start = c * len;
    let end = min(prm[1], start + len);
    let s = tree(lid, partial_to(base_of(o), start + lid, WG, end, 0u, 0.0), 0u);
    if (v < total && lid == 0u) {
        parts[4u * v] = bitcast<u32>(s.a);
        parts[4u * v + 1u] = bitcast<u32>(s.b);
        parts[4u * v + 2u] = bitcast<u32>(s.i);
        parts[4u * v + 3u] = s.k;
    }
}

@compute @workgroup_size(256)
fn reduce_combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let chunks = prm[40];
    let o = wid.y * nwg.x + wid.x;
    let oo = min(o, prm[0] - 1u);
    var s = identity(0u);
    for (var c = lid; c < chunks; c = c + WG) {
        let v = oo * chunks + c;
        let p = St(bitcast<f32>(parts[4u * v]), bitcast<f32>(parts[4u * v + 1u]), bitcast<i32>(parts[4u * v + 2u]), parts[4u * v + 3u]);
        s = combine(s, p, 0u);
    }
    s = tree(lid, s, 0u);
    if (o < prm[0] && lid == 0u) {
        finish(o, s, 0.0, s);
    }
}
