// Scalar math shared by the elementwise, reduction and softmax kernels, with torch's special
// values (inf, NaN, signed results) where WGSL's builtins leave them undefined.

fn f_inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

fn f_nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// NaN and inf tests on the bits: shader compilers may assume `x != x` is false.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn sign_bit(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x80000000u) != 0u;
}

// Truthiness of a float: NaN is true (`x != 0.0` would be false for NaN on backends that emit
// ordered comparisons).
fn nonzero_f(x: f32) -> bool {
    return !(x == 0.0);
}

// atan2 with C's values at the origin and for NaN, which WGSL leaves undefined.
fn atan2_f(y: f32, x: f32) -> f32 {
    if (is_nan(y) || is_nan(x)) {
        return f_nan();
    }
    if (y == 0.0 && x == 0.0) {
        let r = select(0.0, 3.14159265358979, sign_bit(x));
        return select(r, -r, sign_bit(y));
    }
    return atan2(y, x);
}

fn expm1_f(x: f32) -> f32 {
    // Kahan's trick keeps the relative precision of small x.
    let u = exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    if (abs(x) > 0.5) {
        return um1;
    }
    return um1 * x / log(u);
}

fn log1p_f(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    if (abs(x) > 0.5 || is_nan(x)) {
        return log(u);
    }
    return log(u) * x / (u - 1.0);
}

fn erf_f(x: f32) -> f32 {
    let ax = abs(x);
    if (ax < 0.5) {
        // Maclaurin series: exact to float32 rounding below 0.5.
        let x2 = x * x;
        return 1.1283791671 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.0046296296 - x2 * 0.0007575758)))));
    }
    return sign(x) * (1.0 - erfc_pos(ax));
}

// erfc for x >= 0 (Numerical Recipes' Chebyshev fit, fractional error below 1.2e-7).
fn erfc_pos(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(-x * x + p);
}

fn erfc_f(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    if (x < 0.5 && x > -0.5) {
        return 1.0 - erf_f(x);
    }
    if (x >= 0.0) {
        return erfc_pos(x);
    }
    return 2.0 - erfc_pos(-x);
}

// Giles' single-precision erfinv.
fn erfinv_f(x: f32) -> f32 {
    if (abs(x) >= 1.0) {
        if (x == 1.0) {
            return f_inf();
        }
        if (x == -1.0) {
            return -f_inf();
        }
        return f_nan();
    }
    var w = -log((1.0 - x) * (1.0 + x));
    var p: f32;
    if (w < 5.0) {
        w = w - 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    return p * x;
}

// pow with C99's special values (WGSL's pow is undefined for x < 0 and at the edges).
fn pow_f(x: f32, y: f32) -> f32 {
    if (y == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (is_nan(x) || is_nan(y)) {
        return f_nan();
    }
    let yi = y == trunc(y);
    let odd = yi && abs(y) < 16777216.0 && (i32(y) & 1) != 0;
    if (is_inf(y)) {
        let ax = abs(x);
        if (ax == 1.0) {
            return 1.0;
        }
        return select(0.0, f_inf(), (ax < 1.0) == (y < 0.0));
    }
    if (x == 0.0 || is_inf(x)) {
        // zero and infinity: the magnitude is 0 or inf, the sign x's for odd integer y
        let big = (x == 0.0) == (y < 0.0);
        let r = select(0.0, f_inf(), big);
        return select(r, -r, odd && sign_bit(x));
    }
    if (x < 0.0) {
        if (!yi) {
            return f_nan();
        }
        let r = exp2(y * log2(-x));
        return select(r, -r, odd);
    }
    return exp2(y * log2(x));
}

fn sign_f(x: f32) -> f32 {
    return select(0.0, 1.0, x > 0.0) - select(0.0, 1.0, x < 0.0);
}

fn unary_f(op: u32, x: f32) -> f32 {
    if (is_nan(x)) {
        // every op keeps NaN except sign, which torch makes 0
        return select(x, 0.0, op == 2u);
    }
    switch op {
        case 0u: { return -x; }
        case 1u: { return abs(x); }
        case 2u: { return sign_f(x); }
        case 3u: { return exp(x); }
        case 4u: { return exp2(x); }
        case 5u: { return expm1_f(x); }
        case 6u: { return log(x); }
        case 7u: { return log2(x); }
        case 8u: { return log2(x) * 0.30102999566398120; }
        case 9u: { return log1p_f(x); }
        case 10u: { return sqrt(x); }
        case 11u: { return 1.0 / sqrt(x); }
        case 12u: { return 1.0 / x; }
        case 13u: { return x * x; }
        case 14u: { return sin(x); }
        case 15u: { return cos(x); }
        case 16u: { return tan(x); }
        // through atan2: the asin/acos builtins lose digits near |x| = 1 on some drivers
        case 17u: {
            if (abs(x) > 1.0) {
                return f_nan();
            }
            return atan2_f(x, sqrt((1.0 - x) * (1.0 + x)));
        }
        case 18u: {
            if (abs(x) > 1.0) {
                return f_nan();
            }
            return atan2_f(sqrt((1.0 - x) * (1.0 + x)), x);
        }
        case 19u: { return atan(x); }
        case 20u: { return sinh(x); }
        case 21u: { return cosh(x); }
        case 22u: {
            if (abs(x) > 10.0 && !is_nan(x)) {
                return sign(x);
            }
            return tanh(x);
        }
        case 23u: { return sign(x) * log(abs(x) + sqrt(x * x + 1.0)); }
        case 24u: { return log(x + sqrt(x * x - 1.0)); }
        case 25u: { return 0.5 * log1p_f(2.0 * x / (1.0 - x)); }
        case 26u: { return 1.0 / (1.0 + exp(-x)); }
        case 27u: { return erf_f(x); }
        case 28u: { return erfc_f(x); }
        case 29u: { return erfinv_f(x); }
        case 30u: { return floor(x); }
        case 31u: { return ceil(x); }
        case 32u: { return round(x); }
        case 33u: { return trunc(x); }
        case 34u: { return x - trunc(x); }
        case 35u: { return select(x, 0.0, x < 0.0 && !is_nan(x)); }
        default: { return f_nan(); }
    }
}

fn unary_i(op: u32, x: i32, dt: u32) -> i32 {
    switch op {
        case 0u: { return -x; }
        case 1u: { return abs(x); }
        case 2u: { return select(0, 1, x > 0) - select(0, 1, x < 0); }
        case 13u: { return x * x; }
        case 34u: { return 0; }
        case 35u: { return max(x, 0); }
        case 37u: {
            if (dt == DT_BOOL) {
                return x ^ 1;
            }
            return ~x;
        }
        default: { return x; }
    }
}

fn fmod_f(a: f32, b: f32) -> f32 {
    if (is_inf(b) && !is_inf(a) && !is_nan(a)) {
        return a;
    }
    return a - b * trunc(a / b);
}

fn binary_f(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return a + b; }
        case 1u: { return a - b; }
        case 2u: { return a * b; }
        case 3u: { return a / b; }
        case 4u: {
            // torch's div_floor for floats: through fmod, so that floor(a / b) is exact.
            if (b == 0.0) {
                return a / b;
            }
            let m = fmod_f(a, b);
            var d = (a - m) / b;
            if (m != 0.0 && ((b < 0.0) != (m < 0.0))) {
                d = d - 1.0;
            }
            if (d == 0.0) {
                return sign(a / b) * 0.0;
            }
            var f = floor(d);
            if (d - f > 0.5) {
                f = f + 1.0;
            }
            return f;
        }
        case 5u: { return trunc(a / b); }
        case 6u: {
            var m = fmod_f(a, b);
            if (m != 0.0 && ((b < 0.0) != (m < 0.0))) {
                m = m + b;
            }
            return m;
        }
        case 7u: { return fmod_f(a, b); }
        case 8u: { return pow_f(a, b); }
        case 9u: {
            if (is_nan(a) || is_nan(b)) {
                return f_nan();
            }
            return max(a, b);
        }
        case 10u: {
            if (is_nan(a) || is_nan(b)) {
                return f_nan();
            }
            return min(a, b);
        }
        case 11u: { return atan2_f(a, b); }
        default: { return f_nan(); }
    }
}

fn ipow(a: i32, b: i32) -> i32 {
    if (b < 0) {
        if (a == 1) {
            return 1;
        }
        if (a == -1) {
            return select(1, -1, (b & 1) != 0);
        }
        return 0;
    }
    var r = 1;
    var base = a;
    var e = b;
    loop {
        if (e == 0) {
            break;
        }
        if ((e & 1) != 0) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}

fn binary_i(op: u32, a: i32, b: i32) -> i32 {
    switch op {
        case 0u: { return a + b; }
        case 1u: { return a - b; }
        case 2u: { return a * b; }
        case 4u: {
            let q = a / b;
            if ((a % b != 0) && ((a < 0) != (b < 0))) {
                return q - 1;
            }
            return q;
        }
        case 5u: { return a / b; }
        case 6u: {
            var m = a % b;
            if (m != 0 && ((m < 0) != (b < 0))) {
                m = m + b;
            }
            return m;
        }
        case 7u: { return a % b; }
        case 8u: { return ipow(a, b); }
        case 9u: { return max(a, b); }
        case 10u: { return min(a, b); }
        case 12u: { return a & b; }
        case 13u: { return a | b; }
        case 14u: { return a ^ b; }
        case 15u: {
            if (b < 0 || b > 31) {
                return 0;
            }
            return a << u32(b);
        }
        case 16u: {
            if (b < 0 || b > 31) {
                return select(0, -1, a < 0);
            }
            return a >> u32(b);
        }
        default: { return 0; }
    }
}

fn compare_f(op: u32, a: f32, b: f32) -> bool {
    switch op {
        case 0u: { return a == b; }
        case 1u: { return !(a == b); }
        case 2u: { return a < b; }
        case 3u: { return a <= b; }
        case 4u: { return a > b; }
        case 5u: { return a >= b; }
        case 6u: { return nonzero_f(a) && nonzero_f(b); }
        case 7u: { return nonzero_f(a) || nonzero_f(b); }
        default: { return nonzero_f(a) != nonzero_f(b); }
    }
}

fn compare_i(op: u32, a: i32, b: i32) -> bool {
    switch op {
        case 0u: { return a == b; }
        case 1u: { return a != b; }
        case 2u: { return a < b; }
        case 3u: { return a <= b; }
        case 4u: { return a > b; }
        case 5u: { return a >= b; }
        case 6u: { return (a != 0) && (b != 0); }
        case 7u: { return (a != 0) || (b != 0); }
        default: { return (a != 0) != (b != 0); }
    }
}
