//! softmax and log_softmax along one dim of a contiguous tensor.
//!
//! Numerically stable (the max is subtracted before exp, so large inputs give finite results)
//! and fast: the exponential is a branch-free polynomial that the compiler vectorizes, and the
//! loops are compiled for AVX2 when the CPU has it. Half types compute in float32.

use super::elementwise::View;
use super::reduce::{has_avx2, has_avx512};
use super::vmath::{exp_f32, exp_f32_fused};
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, ErrorKind, Result};
use half::{bf16, f16};
use rayon::prelude::*;

/// Float types with a vectorizable exp.
pub trait VFloat:
    Copy
    + Send
    + Sync
    + PartialOrd
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    const NEG_INF: Self;
    const ZERO: Self;
    const ONE: Self;
    fn vexp(self) -> Self;
    /// `vexp` with fused multiply-adds, for code compiled with FMA enabled.
    fn vexp_fused(self) -> Self;
    fn ln(self) -> Self;
}

#[inline(always)]
fn pow2_f64(e: i64) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// exp for float64: reduction by ln 2 and a degree-13 Taylor polynomial (error ~1e-16).
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const HI: f64 = 709.782_712_893_384;
    const LO: f64 = -745.133_219_101_941_2;
    let xc = if x > HI { HI } else if x < LO { LO } else { x };
    let t = xc * LOG2E + MAGIC;
    let kf = t - MAGIC;
    let k = ((t.to_bits() & 0xf_ffff_ffff_ffff) as i64 - 0x8_0000_0000_0000).clamp(-1076, 1024);
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let mut p = C[0];
    for &c in &C[1..] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    let k1 = k >> 1;
    let v = y * pow2_f64(k1) * pow2_f64(k - k1);
    let v = if x > HI { f64::INFINITY } else { v };
    if x < LO {
        0.0
    } else {
        v
    }
}

impl VFloat for f32 {
    const NEG_INF: f32 = f32::NEG_INFINITY;
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn vexp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn vexp_fused(self) -> f32 {
        exp_f32_fused(self)
    }
    #[inline(always)]
    fn ln(self) -> f32 {
        f32::ln(self)
    }
}

impl VFloat for f64 {
    const NEG_INF: f64 = f64::NEG_INFINITY;
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn vexp(self) -> f64 {
        exp_f64(self)
    }
    #[inline(always)]
    fn vexp_fused(self) -> f64 {
        exp_f64(self)
    }
    #[inline(always)]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
}

const LANES: usize = 16;

/// max of a row; NaN is not tracked here because NaN inputs poison the sum anyway.
#[inline(always)]
fn row_max<T: VFloat>(x: &[T]) -> T {
    let mut m = [T::NEG_INF; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            m[j] = if c[j] > m[j] { c[j] } else { m[j] };
        }
    }
    let mut r = T::NEG_INF;
    for &v in m.iter().chain(chunks.remainder()) {
        r = if v > r { v } else { r };
    }
    r
}

#[inline(always)]
fn ex<T: VFloat, const FUSED: bool>(v: T) -> T {
    if FUSED {
        v.vexp_fused()
    } else {
        v.vexp()
    }
}

// The loops below walk fixed-size chunks as arrays: indexing with a running offset leaves
// bounds checks in the loop, which keeps LLVM from vectorizing it (4x slower).
#[inline(always)]
fn softmax_row_impl<T: VFloat, const FUSED: bool>(x: &[T], y: &mut [T], log: bool) {
    let m = row_max(x);
    let y = &mut y[..x.len()];
    let mut s = [T::ZERO; LANES];
    let mut xc = x.chunks_exact(LANES);
    if log {
        for c in &mut xc {
            let c: &[T; LANES] = c.try_into().unwrap();
            for j in 0..LANES {
                s[j] = s[j] + ex::<T, FUSED>(c[j] - m);
            }
        }
        for &v in xc.remainder() {
            s[0] = s[0] + ex::<T, FUSED>(v - m);
        }
        let ls = sum_lanes(s).ln();
        for (o, &v) in y.iter_mut().zip(x) {
            *o = (v - m) - ls;
        }
    } else {
        let mut yc = y.chunks_exact_mut(LANES);
        for (c, o) in (&mut xc).zip(&mut yc) {
            let c: &[T; LANES] = c.try_into().unwrap();
            let o: &mut [T; LANES] = o.try_into().unwrap();
            for j in 0..LANES {
                let e = ex::<T, FUSED>(c[j] - m);
                o[j] = e;
                s[j] = s[j] + e;
            }
        }
        for (&v, o) in xc.remainder().iter().zip(yc.into_remainder()) {
            let e = ex::<T, FUSED>(v - m);
            *o = e;
            s[0] = s[0] + e;
        }
        let inv = T::ONE / sum_lanes(s);
        for o in y.iter_mut() {
            *o = *o * inv;
        }
    }
}

#[inline(always)]
fn sum_lanes<T: VFloat>(mut s: [T; LANES]) -> T {
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            s[j] = s[j] + s[j + w];
        }
        w /= 2;
    }
    s[0]
}

/// One (n, inner) block whose softmax runs along n, for columns [c0, c1).
#[inline(always)]
fn softmax_cols_impl<T: VFloat, const FUSED: bool>(x: &[T], y: &mut [T], n: usize, inner: usize, c0: usize, c1: usize, log: bool) {
    let w = c1 - c0;
    let mut m = vec![T::NEG_INF; w];
    for k in 0..n {
        for (a, &v) in m.iter_mut().zip(&x[k * inner + c0..k * inner + c1]) {
            *a = if v > *a { v } else { *a };
        }
    }
    let mut s = vec![T::ZERO; w];
    for k in 0..n {
        let out = &mut y[k * inner + c0..k * inner + c1];
        for (((o, a), &v), &mx) in out.iter_mut().zip(s.iter_mut()).zip(&x[k * inner + c0..k * inner + c1]).zip(&m) {
            let e = ex::<T, FUSED>(v - mx);
            if !log {
                *o = e;
            }
            *a = *a + e;
        }
    }
    if log {
        for a in s.iter_mut() {
            *a = a.ln();
        }
        for k in 0..n {
            let out = &mut y[k * inner + c0..k * inner + c1];
            for (((o, &v), &l), &mx) in out.iter_mut().zip(&x[k * inner + c0..k * inner + c1]).zip(&s).zip(&m) {
                *o = (v - mx) - l;
            }
        }
    } else {
        for a in s.iter_mut() {
            *a = T::ONE / *a;
        }
        for k in 0..n {
            let out = &mut y[k * inner + c0..k * inner + c1];
            for (o, &inv) in out.iter_mut().zip(&s) {
                *o = *o * inv;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2<T: VFloat>(x: &[T], y: &mut [T], log: bool) {
    softmax_row_impl::<T, true>(x, y, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn softmax_row_avx512<T: VFloat>(x: &[T], y: &mut [T], log: bool) {
    softmax_row_impl::<T, true>(x, y, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_cols_avx2<T: VFloat>(x: &[T], y: &mut [T], n: usize, inner: usize, c0: usize, c1: usize, log: bool) {
    softmax_cols_impl::<T, true>(x, y, n, inner, c0, c1, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn softmax_cols_avx512<T: VFloat>(x: &[T], y: &mut [T], n: usize, inner: usize, c0: usize, c1: usize, log: bool) {
    softmax_cols_impl::<T, true>(x, y, n, inner, c0, c1, log)
}

fn softmax_row<T: VFloat>(x: &[T], y: &mut [T], log: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { softmax_row_avx512(x, y, log) };
        }
        if has_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { softmax_row_avx2(x, y, log) };
        }
    }
    softmax_row_impl::<T, false>(x, y, log)
}

fn softmax_cols<T: VFloat>(x: &[T], y: &mut [T], n: usize, inner: usize, c0: usize, c1: usize, log: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { softmax_cols_avx512(x, y, n, inner, c0, c1, log) };
        }
        if has_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { softmax_cols_avx2(x, y, n, inner, c0, c1, log) };
        }
    }
    softmax_cols_impl::<T, false>(x, y, n, inner, c0, c1, log)
}

/// Columns per task in the strided (inner > 1) layout.
const COLS: usize = 512;

/// softmax over slices x, y of shape (outer, n, inner), contiguous.
fn softmax_typed<T: VFloat>(x: &[T], y: &mut [T], (outer, n, inner): (usize, usize, usize), log: bool) {
    let total = outer * n * inner;
    if total == 0 {
        return;
    }
    let parallel = total >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1;
    if inner == 1 {
        if parallel {
            let rows_per = (PARALLEL_THRESHOLD / 4 / n.max(1)).max(1);
            super::team::park_helpers();
            x.par_chunks(n * rows_per).zip(y.par_chunks_mut(n * rows_per)).for_each(|(xs, ys)| {
                for (xr, yr) in xs.chunks(n).zip(ys.chunks_mut(n)) {
                    softmax_row(xr, yr, log);
                }
            });
        } else {
            for (xr, yr) in x.chunks(n).zip(y.chunks_mut(n)) {
                softmax_row(xr, yr, log);
            }
        }
        return;
    }
    let block = n * inner;
    let n_chunks = inner.div_ceil(COLS);
    let yp = SendPtr(y.as_mut_ptr());
    let task = |t: usize| {
        let (o, c) = (t / n_chunks, t % n_chunks);
        let (c0, c1) = (c * COLS, ((c + 1) * COLS).min(inner));
        // SAFETY: tasks write disjoint columns of their own block.
        let yb = unsafe { std::slice::from_raw_parts_mut(yp.at((o * block) as isize), block) };
        softmax_cols(&x[o * block..(o + 1) * block], yb, n, inner, c0, c1, log);
    };
    if parallel {
        super::team::parallel_for(outer * n_chunks, task);
    } else {
        (0..outer * n_chunks).for_each(task);
    }
}

/// softmax (or log_softmax) of contiguous `src` along `dim` into the fresh contiguous `dst`.
pub fn softmax(src: View, dtype: DType, dim: usize, log: bool, dst: View) -> Result<()> {
    let l = src.layout;
    if !l.is_contiguous() || !dst.layout.is_contiguous() {
        return Err(Error::runtime("softmax kernels expect contiguous tensors"));
    }
    let dims = if l.shape.is_empty() {
        (1, 1, 1)
    } else {
        (l.shape[..dim].iter().product::<usize>(), l.shape[dim], l.shape[dim + 1..].iter().product::<usize>())
    };
    let total = dims.0 * dims.1 * dims.2;
    // SAFETY: both views are contiguous runs of `total` elements at their offsets.
    unsafe fn slices<'a, T>(v: View<'a>, total: usize) -> &'a mut [T] {
        std::slice::from_raw_parts_mut((v.buf.as_ptr() as *mut T).add(v.layout.offset), total)
    }
    unsafe {
        match dtype {
            DType::F32 => softmax_typed::<f32>(slices(src, total), slices(dst, total), dims, log),
            DType::F64 => softmax_typed::<f64>(slices(src, total), slices(dst, total), dims, log),
            DType::F16 => {
                let x: Vec<f32> = slices::<f16>(src, total).iter().map(|v| v.to_f32()).collect();
                let mut y = vec![0f32; total];
                softmax_typed::<f32>(&x, &mut y, dims, log);
                for (o, v) in slices::<f16>(dst, total).iter_mut().zip(&y) {
                    *o = f16::from_f32(*v);
                }
            }
            DType::BF16 => {
                let x: Vec<f32> = slices::<bf16>(src, total).iter().map(|v| v.to_f32()).collect();
                let mut y = vec![0f32; total];
                softmax_typed::<f32>(&x, &mut y, dims, log);
                for (o, v) in slices::<bf16>(dst, total).iter_mut().zip(&y) {
                    *o = bf16::from_f32(*v);
                }
            }
            d => {
                let last = dim + 1 == l.ndim().max(1);
                let name = match (log, last) {
                    (false, true) => "softmax_lastdim_kernel_impl",
                    (false, false) => "softmax_kernel_impl",
                    (true, true) => "log_softmax_lastdim_kernel_impl",
                    (true, false) => "log_softmax_kernel_impl",
                };
                return Err(Error::Msg {
                    kind: ErrorKind::NotImplemented,
                    msg: format!("\"{name}\" not implemented for '{}'", d.torch_kernel_name()),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_exp_is_accurate_everywhere() {
        // (float32's exp is rust/cpu/vmath.rs's, tested there)
        let mut worst = 0f64;
        let mut x = -740.0f64;
        while x < 709.0 {
            let want = x.exp();
            worst = worst.max(((exp_f64(x) - want) / want).abs());
            x += 0.0731;
        }
        assert!(worst < 1e-15, "f64 rel err {worst}");
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert!(exp_f64(f64::NAN).is_nan());
    }

    #[test]
    fn rows_and_columns_agree() {
        let (a, b) = (37usize, 53usize);
        let x: Vec<f32> = (0..a * b).map(|i| ((i * 7919) % 211) as f32 * 0.37 - 30.0).collect();
        let mut rows = vec![0f32; a * b];
        softmax_typed(&x, &mut rows, (a, b, 1), false);
        // The transpose, softmaxed along its first dim.
        let xt: Vec<f32> = (0..a * b).map(|i| x[(i % a) * b + i / a]).collect();
        let mut cols = vec![0f32; a * b];
        softmax_typed(&xt, &mut cols, (1, b, a), false);
        for i in 0..a {
            let s: f32 = rows[i * b..(i + 1) * b].iter().sum();
            assert!((s - 1.0).abs() < 1e-5);
            for j in 0..b {
                assert!((rows[i * b + j] - cols[j * a + i]).abs() < 1e-6);
            }
        }
    }
}
