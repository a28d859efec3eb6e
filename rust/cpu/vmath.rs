//! Vectorisable float32 exp (and sigmoid on top of it). libm's scalar expf keeps LLVM from
//! vectorising; this Cephes-style polynomial is branch-free, so the contiguous loops compile
//! to AVX2/AVX-512 code, chosen at run time so the wheel stays portable.

use super::elementwise::View;
use super::strided::{for_each_run, SendPtr, PARALLEL_THRESHOLD};

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln2 split in two so that n * ln2 is exact in the first part (Cephes).
const C1: f32 = 0.693_359_4;
const C2: f32 = -2.121_944_4e-4;

/// e^x with about 1 ulp error on [-103, 88.7]; inf above, 0 below, NaN for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(-103.0, 88.722_83);
    let n = (xc * LOG2E + 0.5).floor();
    let r = xc - n * C1 - n * C2;
    let r2 = r * r;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e = p * r2 + r + 1.0;
    // 2^n as two normal powers so that results in the subnormal range stay accurate.
    // n is integral and small: read it out of the mantissa (vectorises, unlike `as i32`).
    let ni = ((n + 12_582_912.0f32).to_bits() as i32).wrapping_sub(0x4B40_0000);
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let y = e * s1 * s2;
    let y = if x > 88.722_84 { f32::INFINITY } else { y };
    let y = if x < -103.972_08 { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

macro_rules! slice_kernel {
    ($name:ident, $f:ident) => {
        /// dst[i] = f(src[i]) for i < n; src and dst may be the same buffer.
        #[inline(always)]
        unsafe fn $name(src: *const f32, dst: *mut f32, n: usize) {
            for i in 0..n {
                *dst.add(i) = $f(*src.add(i));
            }
        }
    };
}
slice_kernel!(exp_slice, exp_f32);
slice_kernel!(sigmoid_slice, sigmoid_f32);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum VOp {
    Exp,
    Sigmoid,
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::*;
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(op: VOp, s: *const f32, d: *mut f32, n: usize) {
        match op {
            VOp::Exp => exp_slice(s, d, n),
            VOp::Sigmoid => sigmoid_slice(s, d, n),
        }
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(op: VOp, s: *const f32, d: *mut f32, n: usize) {
        match op {
            VOp::Exp => exp_slice(s, d, n),
            VOp::Sigmoid => sigmoid_slice(s, d, n),
        }
    }
}

/// The widest vector code this CPU runs.
unsafe fn run_slice(op: VOp, s: *const f32, d: *mut f32, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return simd::avx512(op, s, d, n);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return simd::avx2(op, s, d, n);
        }
    }
    match op {
        VOp::Exp => exp_slice(s, d, n),
        VOp::Sigmoid => sigmoid_slice(s, d, n),
    }
}

/// dst = op(src) for float32 views of a common shape.
pub fn map_f32(op: VOp, src: View, dst: View) {
    let sp = SendPtr(src.buf.as_ptr() as *mut f32);
    let dp = SendPtr(dst.buf.as_ptr() as *mut f32);
    let parallel = dst.layout.numel() >= PARALLEL_THRESHOLD;
    for_each_run(
        &dst.layout.shape,
        [&src.layout.strides, &dst.layout.strides],
        [src.layout.offset as isize, dst.layout.offset as isize],
        parallel,
        |[so, do_], n, [ss, ds]| unsafe {
            if ss == 1 && ds == 1 {
                run_slice(op, sp.at(so), dp.at(do_), n);
            } else {
                let f = match op {
                    VOp::Exp => exp_f32,
                    VOp::Sigmoid => sigmoid_f32,
                };
                for i in 0..n as isize {
                    *dp.at(do_ + i * ds) = f(*sp.at(so + i * ss));
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_f64() {
        let mut x = -103.9f32;
        let mut worst = 0.0f64;
        while x < 88.722 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            let ulp = (want as f32).abs() as f64 * f32::EPSILON as f64;
            if want > 1.2e-38 {
                worst = worst.max((got - want).abs() / ulp);
            }
            x += 0.0137;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(sigmoid_f32(-200.0), 0.0);
        assert_eq!(sigmoid_f32(200.0), 1.0);
    }
}
