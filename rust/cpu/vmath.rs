//! Vectorisable float32 exp (and sigmoid on top of it). libm's scalar expf keeps LLVM from
//! vectorising; this Cephes-style polynomial is branch-free, so the contiguous loops compile
//! to AVX2/AVX-512 code, chosen at run time so the wheel stays portable.

use super::elementwise::View;
use super::strided::{for_each_run, SendPtr, PARALLEL_THRESHOLD};

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln2 split in two so that n * ln2 is exact in the first part (Cephes).
const C1: f32 = 0.693_359_4;
const C2: f32 = -2.121_944_4e-4;
// 1.5 * 2^23: adding it rounds to an integer that sits in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;
// Cephes' degree-5 polynomial for (e^r - 1 - r) / r^2 on |r| <= ln2 / 2, highest term first;
// evaluated Estrin-style (shorter dependency chains): (P0 r + P1) r^4 + (P2 r + P3) r^2 + P4 r + P5.
const P0: f32 = 1.987_569_1e-4;
const P1: f32 = 1.398_199_9e-3;
const P2: f32 = 8.333_452e-3;
const P3: f32 = 4.166_579_6e-2;
const P4: f32 = 1.666_666_5e-1;
const P5: f32 = 5.000_000_1e-1;

/// e^x with about 1 ulp error, written once for two multiply-adds: `exp_f32` (a * b + c,
/// for code without FMA) and `exp_f32_fused` (mul_add, for the AVX2/AVX-512 kernels, where it
/// is one instruction; without FMA hardware it would be a libm call).
macro_rules! exp_kernel {
    ($(#[$m:meta])* $name:ident, $fma:expr) => {
        $(#[$m])*
        #[inline(always)]
        pub fn $name(x: f32) -> f32 {
            let fma = $fma;
            // The clamp bounds make e^x overflow to inf above 88.72 and round to 0 below
            // -103.97 without selects; NaN passes through every step.
            let xc = x.clamp(-104.5, 89.5);
            let t = fma(xc, LOG2E, MAGIC);
            let n = t - MAGIC;
            let r = fma(-n, C2, fma(-n, C1, xc));
            let r2 = r * r;
            let a = fma(P0, r, P1);
            let b = fma(P2, r, P3);
            let c = fma(P4, r, P5);
            let p = fma(fma(a, r2, b), r2, c);
            let e = fma(p, r2, r + 1.0);
            // 2^n as two normal powers so that results in the subnormal range stay accurate;
            // n is read out of t's mantissa (vectorises, unlike `as i32`).
            let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
            let n1 = ni >> 1;
            let n2 = ni - n1;
            let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
            let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
            e * s1 * s2
        }
    };
}
exp_kernel!(
    /// e^x with about 1 ulp error on [-103, 88.7]; inf above, 0 below, NaN for NaN.
    exp_f32,
    |a: f32, b: f32, c: f32| a * b + c
);
exp_kernel!(
    /// `exp_f32` with fused multiply-adds: only for code compiled with FMA enabled.
    exp_f32_fused,
    |a: f32, b: f32, c: f32| a.mul_add(b, c)
);

#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

#[inline(always)]
#[allow(dead_code)] // (x86-64 uses it; other targets run the portable loop)
fn sigmoid_f32_fused(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32_fused(-x))
}

macro_rules! slice_kernel {
    ($name:ident, $f:ident) => {
        /// dst[i] = f(src[i]) for i < n; src and dst may be the same buffer.
        #[inline(always)]
        unsafe fn $name(src: *const f32, dst: *mut f32, n: usize) {
            if std::ptr::eq(src, dst) {
                // one pointer: the vectoriser's overlap check would send src == dst to scalar code
                for i in 0..n {
                    let p = dst.add(i);
                    *p = $f(*p);
                }
            } else {
                for i in 0..n {
                    *dst.add(i) = $f(*src.add(i));
                }
            }
        }
    };
}
slice_kernel!(exp_slice, exp_f32);
slice_kernel!(sigmoid_slice, sigmoid_f32);
slice_kernel!(exp_slice_fused, exp_f32_fused);
slice_kernel!(sigmoid_slice_fused, sigmoid_f32_fused);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VOp {
    Exp,
    Sigmoid,
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::*;
    use std::arch::x86_64::*;

    /// 16 lanes of `exp_f32`, with AVX-512's scalef doing the 2^n scaling (overflow to inf,
    /// gradual underflow and 0 included) in one instruction: half the work of the portable
    /// version, which makes exp as fast as a copy.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn exp16(x: __m512) -> __m512 {
        // vmaxps/vminps return their second operand when either is NaN, so with x second a
        // NaN input passes through the clamp (no compare-and-blend: exp is compute-bound).
        let xc = _mm512_min_ps(_mm512_set1_ps(89.5), _mm512_max_ps(_mm512_set1_ps(-104.5), x));
        let n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(C2), _mm512_fnmadd_ps(n, _mm512_set1_ps(C1), xc));
        let r2 = _mm512_mul_ps(r, r);
        let a = _mm512_fmadd_ps(_mm512_set1_ps(P0), r, _mm512_set1_ps(P1));
        let b = _mm512_fmadd_ps(_mm512_set1_ps(P2), r, _mm512_set1_ps(P3));
        let c = _mm512_fmadd_ps(_mm512_set1_ps(P4), r, _mm512_set1_ps(P5));
        let p = _mm512_fmadd_ps(_mm512_fmadd_ps(a, r2, b), r2, c);
        let e = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0)));
        _mm512_scalef_ps(e, n)
    }

    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn apply16(op: VOp, x: __m512) -> __m512 {
        match op {
            VOp::Exp => exp16(x),
            VOp::Sigmoid => {
                let one = _mm512_set1_ps(1.0);
                _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))))
            }
        }
    }

    /// Whole vectors, then the tail under a mask (src == dst is fine: each vector is read
    /// before it is written).
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn avx512(op: VOp, s: *const f32, d: *mut f32, n: usize) {
        let mut i = 0;
        while i + 16 <= n {
            _mm512_storeu_ps(d.add(i), apply16(op, _mm512_loadu_ps(s.add(i))));
            i += 16;
        }
        if i < n {
            let m = ((1u32 << (n - i)) - 1) as __mmask16;
            _mm512_mask_storeu_ps(d.add(i), m, apply16(op, _mm512_maskz_loadu_ps(m, s.add(i))));
        }
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(op: VOp, s: *const f32, d: *mut f32, n: usize) {
        match op {
            VOp::Exp => exp_slice_fused(s, d, n),
            VOp::Sigmoid => sigmoid_slice_fused(s, d, n),
        }
    }
}

/// The widest vector code this CPU runs.
unsafe fn run_slice(op: VOp, s: *const f32, d: *mut f32, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
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
        for x in [-103.9f32, -100.0, -87.5, -20.0, -1.0, 0.5, 10.0, 88.7] {
            let (a, b) = (exp_f32(x) as f64, exp_f32_fused(x) as f64);
            assert!((a - b).abs() <= 2.0 * a * f32::EPSILON as f64 + 1.5e-45, "fused {b} vs {a} at {x}");
        }
        // the dispatched vector code (AVX-512 scalef, AVX2 FMA or portable) against the scalar
        // one, over lengths that leave every tail size, in place and not
        let xs: Vec<f32> = (0..300).map(|i| i as f32 * 0.71 - 106.0).chain([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30]).collect();
        for op in [VOp::Exp, VOp::Sigmoid] {
            let f = if op == VOp::Exp { exp_f32 } else { sigmoid_f32 };
            for n in [1, 15, 16, 17, 100, xs.len()] {
                let mut out = vec![0f32; n];
                let mut inplace = xs[..n].to_vec();
                unsafe {
                    run_slice(op, xs.as_ptr(), out.as_mut_ptr(), n);
                    run_slice(op, inplace.as_ptr(), inplace.as_mut_ptr(), n);
                }
                for k in 0..n {
                    let w = f(xs[k]);
                    for got in [out[k], inplace[k]] {
                        let ok = (got.is_nan() && w.is_nan()) || got == w || ((got - w).abs() as f64) <= 3.0 * (w.abs() as f64) * f32::EPSILON as f64 + 3e-45;
                        assert!(ok, "{op:?}({}) = {got:e}, scalar {w:e}", xs[k]);
                    }
                }
            }
        }
        assert_eq!(exp_f32(88.7229), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-103.98), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(sigmoid_f32(-200.0), 0.0);
        assert_eq!(sigmoid_f32(200.0), 1.0);
    }
}
