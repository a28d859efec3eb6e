//! Counter-based random numbers (Philox4x32-10). Element `i` of a draw depends only on
//! (seed, offset + i), so a GPU kernel can reproduce the exact stream and the CPU can fill in
//! parallel.

use super::elementwise::View;
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::with_dtype;

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds.
#[inline]
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k[0] = k[0].wrapping_add(W0);
        k[1] = k[1].wrapping_add(W1);
    }
    c
}

/// The four 32-bit words for element `index` of the stream (seed, offset).
#[inline]
pub fn block(seed: u64, offset: u64, index: u64) -> [u32; 4] {
    let ctr = offset.wrapping_add(index);
    philox4x32([ctr as u32, (ctr >> 32) as u32, 0, 0], [seed as u32, (seed >> 32) as u32])
}

#[inline(always)]
pub fn uniform_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

#[inline(always)]
pub fn uniform_f64(hi: u32, lo: u32) -> f64 {
    ((((hi as u64) << 32) | lo as u64) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// U[low, high) in float32 arithmetic (every dtype but float64): `low + span * u` with the
/// 24-bit u, product and sum each rounded (not fused), pulled below `high` when rounding reaches
/// it. The GPU kernel (shaders/random.wgsl) performs the same operations, so both devices give
/// the same bits.
#[derive(Debug, Clone, Copy)]
pub struct UniformF32 {
    pub low: f32,
    pub span: f32,
    pub high: f32,
    /// What a draw that rounded up to `high` becomes.
    pub below_high: f32,
    /// Whether `high` is above `low` in float32 (otherwise no draw is pulled down).
    pub clamp: bool,
}

impl UniformF32 {
    pub fn new(low: f64, high: f64) -> Self {
        let (lo, hi) = (low as f32, high as f32);
        UniformF32 { low: lo, span: (high - low) as f32, high: hi, below_high: lo.max(hi.next_down()), clamp: hi > lo }
    }

    #[inline(always)]
    pub fn sample(&self, x: u32) -> f32 {
        let v = self.low + self.span * uniform_f32(x);
        if self.clamp && v >= self.high {
            self.below_high
        } else {
            v
        }
    }
}

/// The 24-bit threshold t with `uniform_f32(x) < p` exactly when `x >> 8 < t` (u is a multiple
/// of 2^-24, so u < p iff u * 2^24 < ceil(p * 2^24); the product is exact in f64).
fn bernoulli_threshold(p: f64) -> u32 {
    (p * 16_777_216.0).ceil().clamp(0.0, 16_777_216.0) as u32
}

/// What a random fill draws per element.
#[derive(Debug, Clone, Copy)]
pub enum Distribution {
    /// U[low, high)
    Uniform { low: f64, high: f64 },
    /// N(mean, std^2) by Box-Muller on one Philox block per element.
    Normal { mean: f64, std: f64 },
    /// Integers in [low, high).
    RandInt { low: i64, high: i64 },
    /// 1 with probability p.
    Bernoulli { p: f64 },
}

/// A distribution's parameters for one fill, worked out once (not per element): float32
/// draws (every dtype but float64) use `UniformF32` and the bernoulli threshold, which the GPU
/// kernel receives too (gpu::launch::fill_random), so both devices draw alike.
#[derive(Debug, Clone, Copy)]
pub enum Draw {
    Uniform32(UniformF32),
    Uniform64 { low: f64, high: f64 },
    Normal { mean: f64, std: f64 },
    RandInt { low: i64, high: i64 },
    /// 1 when the 24-bit draw is below this (`bernoulli_threshold`).
    Bernoulli32(u32),
    Bernoulli64(f64),
}

impl Draw {
    pub fn new(dist: Distribution, double: bool) -> Draw {
        match dist {
            Distribution::Uniform { low, high } if double => Draw::Uniform64 { low, high },
            Distribution::Uniform { low, high } => Draw::Uniform32(UniformF32::new(low, high)),
            Distribution::Normal { mean, std } => Draw::Normal { mean, std },
            Distribution::RandInt { low, high } => Draw::RandInt { low, high },
            Distribution::Bernoulli { p } if double => Draw::Bernoulli64(p),
            Distribution::Bernoulli { p } => Draw::Bernoulli32(bernoulli_threshold(p)),
        }
    }

    fn sample(self, b: [u32; 4]) -> f64 {
        match self {
            Draw::Uniform32(u) => u.sample(b[0]) as f64,
            Draw::Uniform64 { low, high } => {
                let v = low + (high - low) * uniform_f64(b[0], b[1]);
                // Rounding of low + span*u can land on `high` itself; keep the interval half-open.
                if v >= high && high > low {
                    low.max(high - (high - low) * f64::EPSILON)
                } else {
                    v
                }
            }
            Draw::Normal { mean, std } => {
                let u1 = ((b[0] as u64 + 1) as f64) * (1.0 / 4_294_967_296.0);
                let u2 = uniform_f64(b[1], b[2]);
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                mean + std * z
            }
            Draw::RandInt { low, high } => {
                let range = (high - low) as u64;
                let r = (((b[0] as u64) << 32) | b[1] as u64) % range;
                (low as i128 + r as i128) as f64
            }
            Draw::Bernoulli32(t) => ((b[0] >> 8) < t) as i32 as f64,
            Draw::Bernoulli64(p) => (uniform_f64(b[0], b[1]) < p) as i32 as f64,
        }
    }
}

/// Fills a contiguous view with draws from `dist`; element i uses block (seed, offset + i).
pub fn fill_random(dst: View, dtype: DType, dist: Distribution, seed: u64, offset: u64) -> Result<()> {
    if !dst.layout.is_contiguous() {
        return Err(Error::runtime("random fill expects a contiguous destination"));
    }
    let n = dst.layout.numel();
    let draw = Draw::new(dist, dtype == DType::F64);
    with_dtype!(dtype, T, {
        let p = SendPtr(unsafe { (dst.buf.as_ptr() as *mut T).add(dst.layout.offset) });
        let body = |i: usize| {
            let b = block(seed, offset, i as u64);
            let v = draw.sample(b);
            let out: T = if let Distribution::RandInt { .. } = dist { T::from_i64(v as i64) } else { T::from_f64(v) };
            unsafe { *p.at(i as isize) = out };
        };
        if n >= PARALLEL_THRESHOLD {
            super::team::parallel_for_each(n, 16384, body);
        } else {
            (0..n).for_each(body);
        }
    });
    Ok(())
}

/// A random permutation of 0..n (Fisher-Yates, one block per swap).
pub fn randperm(n: usize, seed: u64, offset: u64) -> Vec<i64> {
    let mut v: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let b = block(seed, offset, i as u64);
        let j = ((((b[0] as u64) << 32) | b[1] as u64) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answer() {
        // Random123's published known-answer vector for philox4x32-10 with all-zero inputs.
        assert_eq!(philox4x32([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(
            philox4x32([0xffffffff; 4], [0xffffffff; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
    }

    #[test]
    fn bernoulli_threshold_is_the_float_comparison() {
        for p in [0.0, 1e-9, 0.3, 0.5, 1.0 / 3.0, 0.999_999_99, 1.0, -0.5, 1.5] {
            let t = bernoulli_threshold(p);
            for x in [0u32, 255, 256, t.saturating_sub(1) << 8, t << 8, (t << 8) | 0xff, u32::MAX] {
                assert_eq!((x >> 8) < t, (uniform_f32(x) as f64) < p, "p={p} x={x:#x}");
            }
        }
    }

    #[test]
    fn uniform_f32_stays_in_range() {
        // spans whose float32 rounding can reach `high`
        for (lo, hi) in [(-0.1, 0.1), (0.0, 1.0), (1.0, 1.0 + 1e-7), (-3.0, -2.999_999_9), (2.0, 2.0)] {
            let u = UniformF32::new(lo, hi);
            for x in [0u32, 1 << 8, u32::MAX, u32::MAX - 255, 0x8000_0000] {
                let v = u.sample(x);
                assert!(v >= lo as f32 && (v < hi as f32 || lo as f32 >= hi as f32), "{lo} {hi} {x:#x} -> {v}");
            }
        }
    }

    #[test]
    fn uniform_moments() {
        let n = 200_000u64;
        let mean: f64 = (0..n).map(|i| uniform_f32(block(7, 0, i)[0]) as f64).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
    }
}
