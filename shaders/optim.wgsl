// Fused optimizer steps on one contiguous float32 parameter: an invocation per element reads
// the gradient and state once and writes the parameter and state once, in the op order of
// torch's single-tensor implementations (as rust/cpu/optim.rs does on the CPU).
//
// prm: [0] numel, [1] flags, [2..7) element offsets of the parameter, gradient and the three
// state tensors, [8..) float32 hyper-parameters (per entry point below).
// flags: 1 maximize, 2 weight decay, 4 state tensor 1 present (SGD momentum buffer),
// 8 SGD: fresh buffer / Adam: amsgrad, 16 SGD: nesterov / Adam: decoupled (AdamW).

@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read_write> tp: array<f32>;
@group(0) @binding(2) var<storage, read_write> tg: array<f32>;
@group(0) @binding(3) var<storage, read_write> ts1: array<f32>;
@group(0) @binding(4) var<storage, read_write> ts2: array<f32>;
@group(0) @binding(5) var<storage, read_write> ts3: array<f32>;

fn flag(bit: u32) -> bool {
    return (prm[1] & bit) != 0u;
}

fn hp(k: u32) -> f32 {
    return bitcast<f32>(prm[8u + k]);
}

// The gradient with maximize's sign.
fn grad_at(i: u32) -> f32 {
    let d = tg[prm[3] + i];
    if (flag(1u)) {
        return -d;
    }
    return d;
}

// The gradient with maximize's sign and L2 weight decay (hp 0) folded in.
fn decayed_grad(i: u32, p: f32) -> f32 {
    let d = grad_at(i);
    if (flag(2u)) {
        return d + hp(0u) * p;
    }
    return d;
}

// torch's lerp: a + w * (b - a), or from the other end when |w| >= 0.5.
fn lerp_t(a: f32, b: f32, w: f32) -> f32 {
    if (abs(w) < 0.5) {
        return a + w * (b - a);
    }
    return b - (b - a) * (1.0 - w);
}

// hp: 0 weight_decay, 1 momentum, 2 1 - dampening, 3 -lr.
@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let p = tp[prm[2] + i];
    var d = decayed_grad(i, p);
    if (flag(4u)) {
        var b = d;
        if (!flag(8u)) {
            b = ts1[prm[4] + i] * hp(1u) + hp(2u) * d;
        }
        ts1[prm[4] + i] = b;
        if (flag(16u)) {
            d = d + hp(1u) * b;
        } else {
            d = b;
        }
    }
    tp[prm[2] + i] = p + hp(3u) * d;
}

// hp: 0 weight_decay, 1 1 - lr * weight_decay, 2 1 - beta1, 3 beta2, 4 1 - beta2, 5 eps,
// 6 -lr / (1 - beta1^step), 7 sqrt(1 - beta2^step). ts1 exp_avg, ts2 exp_avg_sq, ts3
// max_exp_avg_sq.
@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    var p = tp[prm[2] + i];
    var d = grad_at(i);
    if (flag(2u)) {
        if (flag(16u)) {
            p = p * hp(1u);
        } else {
            d = d + hp(0u) * p;
        }
    }
    let m = lerp_t(ts1[prm[4] + i], d, hp(2u));
    ts1[prm[4] + i] = m;
    var v = ts2[prm[5] + i] * hp(3u) + hp(4u) * d * d;
    ts2[prm[5] + i] = v;
    if (flag(8u)) {
        let old = ts3[prm[6] + i];
        // torch.maximum: NaN wins
        if (!(is_nan(old) || v > old || is_nan(v))) {
            v = old;
        }
        ts3[prm[6] + i] = v;
    }
    let denom = sqrt(v) / hp(7u) + hp(5u);
    tp[prm[2] + i] = p + hp(6u) * m / denom;
}

// hp: 0 weight_decay, 1 alpha, 2 1 - alpha, 3 eps, 4 momentum, 5 -lr. flags 4: centered (ts2
// grad_avg), 8: momentum (ts3 momentum_buffer); ts1 square_avg.
@compute @workgroup_size(256)
fn rmsprop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let p = tp[prm[2] + i];
    let d = decayed_grad(i, p);
    let sa = ts1[prm[4] + i] * hp(1u) + hp(2u) * d * d;
    ts1[prm[4] + i] = sa;
    var avg = sqrt(sa);
    if (flag(4u)) {
        let ga = lerp_t(ts2[prm[5] + i], d, hp(2u));
        ts2[prm[5] + i] = ga;
        avg = sqrt(sa + (-1.0 * ga) * ga);
    }
    avg = avg + hp(3u);
    if (flag(8u)) {
        let b = ts3[prm[6] + i] * hp(4u) + d / avg;
        ts3[prm[6] + i] = b;
        tp[prm[2] + i] = p + hp(5u) * b;
    } else {
        tp[prm[2] + i] = p + hp(5u) * d / avg;
    }
}

// hp: 0 weight_decay, 1 eps, 2 -lr / (1 + (step - 1) * lr_decay); ts1 the sum of squares.
@compute @workgroup_size(256)
fn adagrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= prm[0]) {
        return;
    }
    let p = tp[prm[2] + i];
    let d = decayed_grad(i, p);
    let sum = ts1[prm[4] + i] + d * d;
    ts1[prm[4] + i] = sum;
    tp[prm[2] + i] = p + hp(2u) * d / (sqrt(sum) + hp(1u));
}
