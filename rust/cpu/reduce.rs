//! Reductions of a strided tensor over any set of its dims.
//!
//! A reduction is a `Fold` (init / step / merge) run by one engine that plans the loops from
//! the layout: kept dims give one output each (row-major, contiguous outputs), reduced dims
//! are coalesced into few long runs. When the reduced dims are the most contiguous ones, each
//! output folds its runs with many independent lanes (so the loop vectorizes) and float sums
//! add their halves pairwise (error grows with log n, not n). When a kept dim is more
//! contiguous (e.g. summing a row-major matrix over dim 0), whole rows are accumulated into a
//! vector of outputs instead, which vectorizes across outputs. Work above the parallel
//! threshold is split over outputs, or inside a reduction when there are few outputs.

use super::arith::{Arith, FloatMath};
use super::buffer::CpuBuffer;
use super::elementwise::View;
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use super::team;
use crate::dtype::{DType, Elem};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::op::ReduceOp;
use crate::with_dtype;
use half::{bf16, f16};
use num_traits::{Float, One, Zero};
use rayon::prelude::*;
use std::marker::PhantomData;

/// Independent accumulators per contiguous run; enough to fill several SIMD registers.
const LANES: usize = 32;
/// Accumulators for `Fold::WIDE` folds on runs of at least `WIDE_MIN` elements: eight AVX-512
/// registers of f32, so one add per cycle per port despite a 4-cycle latency.
const WIDE_LANES: usize = 128;
const WIDE_MIN: usize = 128;
/// Runs longer than this are summed as two halves whose sums are then added (pairwise).
const PAIRWISE_BLOCK: usize = 4096;
/// Rows added straight into a partial row before it joins the pairwise stack (outer sums).
const ROW_BLOCK: usize = 16;
/// Bytes of accumulator row an outer-reduction task keeps hot in L1.
const ROW_BYTES: usize = 8192;

/// How a reduction combines elements. `step` sees each element with its flat index over the
/// reduced dims (row-major), in increasing order within one accumulator; `merge` combines two
/// partial results (of disjoint index sets) and must not depend on which came first, except
/// through the indices an accumulator carries.
pub trait Fold: Sync {
    type In: Copy + Send + Sync + 'static;
    type Acc: Copy + Send + Sync + 'static;
    /// Partial results are combined pairwise (float sums), not in one running chain.
    const PAIRWISE: bool = false;
    /// Cheap steps whose latency, not bandwidth, bounds a contiguous run (float sums): long
    /// runs get WIDE_LANES accumulators instead of LANES, enough to hide the add latency.
    const WIDE: bool = false;
    fn init(&self) -> Self::Acc;
    fn step(&self, acc: Self::Acc, x: Self::In, i: usize) -> Self::Acc;
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
}

// ----- element traits ----------------------------------------------------------------------

/// Element types as reductions see them: the accumulator a sum or product widens to (int64 for
/// integers and bool, float32 for the half types) and the ends of the ordering.
pub trait RElem: Elem + Arith {
    type W: Copy + Send + Sync + 'static + PartialOrd;
    const FLOAT: bool;
    fn widen(self) -> Self::W;
    fn w_zero() -> Self::W;
    fn w_one() -> Self::W;
    fn w_add(a: Self::W, b: Self::W) -> Self::W;
    fn w_mul(a: Self::W, b: Self::W) -> Self::W;
    fn w_f64(w: Self::W) -> f64;
    fn w_i64(w: Self::W) -> i64;
    fn lowest() -> Self;
    fn highest() -> Self;
}

macro_rules! int_relem {
    ($t:ty) => {
        impl RElem for $t {
            type W = i64;
            const FLOAT: bool = false;
            #[inline(always)]
            fn widen(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn w_zero() -> i64 {
                0
            }
            #[inline(always)]
            fn w_one() -> i64 {
                1
            }
            #[inline(always)]
            fn w_add(a: i64, b: i64) -> i64 {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn w_mul(a: i64, b: i64) -> i64 {
                a.wrapping_mul(b)
            }
            #[inline(always)]
            fn w_f64(w: i64) -> f64 {
                w as f64
            }
            #[inline(always)]
            fn w_i64(w: i64) -> i64 {
                w
            }
            #[inline(always)]
            fn lowest() -> Self {
                <$t>::MIN
            }
            #[inline(always)]
            fn highest() -> Self {
                <$t>::MAX
            }
        }
    };
}
int_relem!(u8);
int_relem!(i8);
int_relem!(i16);
int_relem!(i32);
int_relem!(i64);

impl RElem for bool {
    type W = i64;
    const FLOAT: bool = false;
    #[inline(always)]
    fn widen(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn w_zero() -> i64 {
        0
    }
    #[inline(always)]
    fn w_one() -> i64 {
        1
    }
    #[inline(always)]
    fn w_add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn w_mul(a: i64, b: i64) -> i64 {
        a.wrapping_mul(b)
    }
    #[inline(always)]
    fn w_f64(w: i64) -> f64 {
        w as f64
    }
    #[inline(always)]
    fn w_i64(w: i64) -> i64 {
        w
    }
    #[inline(always)]
    fn lowest() -> Self {
        false
    }
    #[inline(always)]
    fn highest() -> Self {
        true
    }
}

macro_rules! float_relem {
    ($t:ty, $w:ty, $up:expr, $inf:expr) => {
        impl RElem for $t {
            type W = $w;
            const FLOAT: bool = true;
            #[inline(always)]
            fn widen(self) -> $w {
                $up(self)
            }
            #[inline(always)]
            fn w_zero() -> $w {
                0.0
            }
            #[inline(always)]
            fn w_one() -> $w {
                1.0
            }
            #[inline(always)]
            fn w_add(a: $w, b: $w) -> $w {
                a + b
            }
            #[inline(always)]
            fn w_mul(a: $w, b: $w) -> $w {
                a * b
            }
            #[inline(always)]
            fn w_f64(w: $w) -> f64 {
                w as f64
            }
            #[inline(always)]
            fn w_i64(w: $w) -> i64 {
                w as i64
            }
            #[inline(always)]
            fn lowest() -> Self {
                -$inf
            }
            #[inline(always)]
            fn highest() -> Self {
                $inf
            }
        }
    };
}
float_relem!(f32, f32, |x: f32| x, f32::INFINITY);
float_relem!(f64, f64, |x: f64| x, f64::INFINITY);
float_relem!(f16, f32, |x: f16| x.to_f32(), f16::INFINITY);
float_relem!(bf16, f32, |x: bf16| x.to_f32(), bf16::INFINITY);

/// A widened accumulator as an output element.
#[inline(always)]
fn from_w<T: RElem, O: Elem>(w: T::W) -> O {
    if T::FLOAT {
        O::from_f64(T::w_f64(w))
    } else {
        O::from_i64(T::w_i64(w))
    }
}

// ----- folds -------------------------------------------------------------------------------

pub struct SumF<T>(PhantomData<T>);
impl<T: RElem> Fold for SumF<T> {
    type In = T;
    type Acc = T::W;
    const PAIRWISE: bool = T::FLOAT;
    const WIDE: bool = T::FLOAT;
    #[inline(always)]
    fn init(&self) -> T::W {
        T::w_zero()
    }
    #[inline(always)]
    fn step(&self, acc: T::W, x: T, _: usize) -> T::W {
        T::w_add(acc, x.widen())
    }
    #[inline(always)]
    fn merge(&self, a: T::W, b: T::W) -> T::W {
        T::w_add(a, b)
    }
}

pub struct NanSumF<T>(PhantomData<T>);
impl<T: RElem> Fold for NanSumF<T> {
    type In = T;
    type Acc = T::W;
    const PAIRWISE: bool = T::FLOAT;
    #[inline(always)]
    fn init(&self) -> T::W {
        T::w_zero()
    }
    #[inline(always)]
    fn step(&self, acc: T::W, x: T, _: usize) -> T::W {
        if T::is_nan(x) {
            acc
        } else {
            T::w_add(acc, x.widen())
        }
    }
    #[inline(always)]
    fn merge(&self, a: T::W, b: T::W) -> T::W {
        T::w_add(a, b)
    }
}

pub struct ProdF<T>(PhantomData<T>);
impl<T: RElem> Fold for ProdF<T> {
    type In = T;
    type Acc = T::W;
    #[inline(always)]
    fn init(&self) -> T::W {
        T::w_one()
    }
    #[inline(always)]
    fn step(&self, acc: T::W, x: T, _: usize) -> T::W {
        T::w_mul(acc, x.widen())
    }
    #[inline(always)]
    fn merge(&self, a: T::W, b: T::W) -> T::W {
        T::w_mul(a, b)
    }
}

/// Sum and count of the non-NaN elements.
pub struct NanMeanF<T>(PhantomData<T>);
impl<T: RElem> Fold for NanMeanF<T> {
    type In = T;
    type Acc = (T::W, i64);
    const PAIRWISE: bool = true;
    #[inline(always)]
    fn init(&self) -> Self::Acc {
        (T::w_zero(), 0)
    }
    #[inline(always)]
    fn step(&self, acc: Self::Acc, x: T, _: usize) -> Self::Acc {
        if T::is_nan(x) {
            acc
        } else {
            (T::w_add(acc.0, x.widen()), acc.1 + 1)
        }
    }
    #[inline(always)]
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        (T::w_add(a.0, b.0), a.1 + b.1)
    }
}

/// max (MAX = true) or min, propagating NaN.
pub struct ExtremeF<T, const MAX: bool>(PhantomData<T>);
impl<T: RElem, const MAX: bool> Fold for ExtremeF<T, MAX> {
    type In = T;
    type Acc = T;
    #[inline(always)]
    fn init(&self) -> T {
        if MAX {
            T::lowest()
        } else {
            T::highest()
        }
    }
    #[inline(always)]
    fn step(&self, acc: T, x: T, _: usize) -> T {
        let better = if MAX { x > acc } else { x < acc };
        if better || T::is_nan(x) {
            x
        } else {
            acc
        }
    }
    #[inline(always)]
    fn merge(&self, a: T, b: T) -> T {
        self.step(a, b, 0)
    }
}

/// The position of the max (MAX = true) or min: the first one, or the first NaN.
pub struct ArgF<T, const MAX: bool>(PhantomData<T>);
impl<T: RElem, const MAX: bool> ArgF<T, MAX> {
    #[inline(always)]
    fn beats(x: T, y: T) -> bool {
        if MAX {
            x > y
        } else {
            x < y
        }
    }
}
impl<T: RElem, const MAX: bool> Fold for ArgF<T, MAX> {
    type In = T;
    /// (value, index); index -1 means "nothing seen yet".
    type Acc = (T, i64);
    #[inline(always)]
    fn init(&self) -> (T, i64) {
        (T::default(), -1)
    }
    #[inline(always)]
    fn step(&self, acc: (T, i64), x: T, i: usize) -> (T, i64) {
        if acc.1 < 0 || (!T::is_nan(acc.0) && (T::is_nan(x) || Self::beats(x, acc.0))) {
            (x, i as i64)
        } else {
            acc
        }
    }
    #[inline(always)]
    fn merge(&self, a: (T, i64), b: (T, i64)) -> (T, i64) {
        if a.1 < 0 {
            return b;
        }
        if b.1 < 0 {
            return a;
        }
        let (an, bn) = (T::is_nan(a.0), T::is_nan(b.0));
        let a_wins = if an || bn {
            an && (!bn || a.1 < b.1)
        } else if Self::beats(a.0, b.0) {
            true
        } else if Self::beats(b.0, a.0) {
            false
        } else {
            a.1 < b.1
        };
        if a_wins {
            a
        } else {
            b
        }
    }
}

/// all (ALL = true) or any.
pub struct LogicF<T, const ALL: bool>(PhantomData<T>);
impl<T: RElem, const ALL: bool> Fold for LogicF<T, ALL> {
    type In = T;
    type Acc = bool;
    #[inline(always)]
    fn init(&self) -> bool {
        ALL
    }
    #[inline(always)]
    fn step(&self, acc: bool, x: T, _: usize) -> bool {
        if ALL {
            acc & !T::is_zero(x)
        } else {
            acc | !T::is_zero(x)
        }
    }
    #[inline(always)]
    fn merge(&self, a: bool, b: bool) -> bool {
        if ALL {
            a & b
        } else {
            a | b
        }
    }
}

pub struct CountNonzeroF<T>(PhantomData<T>);
impl<T: RElem> Fold for CountNonzeroF<T> {
    type In = T;
    type Acc = i64;
    #[inline(always)]
    fn init(&self) -> i64 {
        0
    }
    #[inline(always)]
    fn step(&self, acc: i64, x: T, _: usize) -> i64 {
        acc + (!T::is_zero(x)) as i64
    }
    #[inline(always)]
    fn merge(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

/// Running (max, sum of exp(x - max)), rescaled whenever the max grows: one pass, no overflow.
pub struct LogSumExpF<T>(PhantomData<T>);
impl<T: FloatMath> Fold for LogSumExpF<T> {
    type In = T;
    type Acc = (T::Acc, T::Acc);
    #[inline(always)]
    fn init(&self) -> Self::Acc {
        (T::Acc::neg_infinity(), T::Acc::zero())
    }
    #[inline(always)]
    fn step(&self, acc: Self::Acc, x: T, _: usize) -> Self::Acc {
        let x = x.up();
        self.merge(acc, (x, T::Acc::one()))
    }
    #[inline(always)]
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        let (hi, lo) = if a.0 >= b.0 || a.0.is_nan() { (a, b) } else { (b, a) };
        if lo.1 == T::Acc::zero() {
            return hi;
        }
        if hi.0 == lo.0 {
            // Equal maxima, including both +inf, where exp(inf - inf) would be NaN.
            return (hi.0, hi.1 + lo.1);
        }
        (hi.0, hi.1 + lo.1 * (lo.0 - hi.0).exp())
    }
}

fn logsumexp_done<A: Float>(acc: (A, A)) -> A {
    if acc.1 == A::zero() {
        A::neg_infinity()
    } else if acc.0.is_infinite() && acc.0 > A::zero() {
        acc.0
    } else {
        acc.0 + acc.1.ln()
    }
}

/// sum(x^2), the 2-norm's inner sum.
pub struct SumSqF<T>(PhantomData<T>);
impl<T: FloatMath> Fold for SumSqF<T> {
    type In = T;
    type Acc = T::Acc;
    const PAIRWISE: bool = true;
    #[inline(always)]
    fn init(&self) -> T::Acc {
        T::Acc::zero()
    }
    #[inline(always)]
    fn step(&self, acc: T::Acc, x: T, _: usize) -> T::Acc {
        let v = x.up();
        acc + v * v
    }
    #[inline(always)]
    fn merge(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        a + b
    }
}

/// The other vector norms: p = 0, 1, +-inf, or any other p through |x|^p.
pub struct NormF<T> {
    p: f64,
    _t: PhantomData<T>,
}
impl<T: FloatMath> Fold for NormF<T> {
    type In = T;
    type Acc = T::Acc;
    const PAIRWISE: bool = true;
    #[inline(always)]
    fn init(&self) -> T::Acc {
        if self.p == f64::INFINITY {
            T::Acc::zero()
        } else if self.p == f64::NEG_INFINITY {
            T::Acc::infinity()
        } else {
            T::Acc::zero()
        }
    }
    #[inline(always)]
    fn step(&self, acc: T::Acc, x: T, _: usize) -> T::Acc {
        let a = x.up().abs();
        let p = self.p;
        if p == f64::INFINITY {
            if a > acc || a.is_nan() {
                a
            } else {
                acc
            }
        } else if p == f64::NEG_INFINITY {
            if a < acc || a.is_nan() {
                a
            } else {
                acc
            }
        } else if p == 0.0 {
            acc + if a == T::Acc::zero() { T::Acc::zero() } else { T::Acc::one() }
        } else if p == 1.0 {
            acc + a
        } else {
            acc + a.powf(T::Acc::from_f64(p))
        }
    }
    #[inline(always)]
    fn merge(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        if self.p.is_infinite() {
            self.step_acc(a, b)
        } else {
            a + b
        }
    }
}
impl<T: FloatMath> NormF<T> {
    #[inline(always)]
    fn step_acc(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        let take_b = if self.p > 0.0 { b > a } else { b < a };
        if take_b || b.is_nan() {
            b
        } else {
            a
        }
    }
}

/// Welford's running (count, mean, M2) in float64, merged with Chan's formula.
pub struct MomentsF<T>(PhantomData<T>);
impl<T: RElem> Fold for MomentsF<T> {
    type In = T;
    type Acc = (f64, f64, f64);
    #[inline(always)]
    fn init(&self) -> Self::Acc {
        (0.0, 0.0, 0.0)
    }
    #[inline(always)]
    fn step(&self, acc: Self::Acc, x: T, _: usize) -> Self::Acc {
        let x = x.to_f64();
        let n = acc.0 + 1.0;
        let d = x - acc.1;
        let mean = acc.1 + d / n;
        (n, mean, acc.2 + d * (x - mean))
    }
    #[inline(always)]
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        if a.0 == 0.0 {
            return b;
        }
        if b.0 == 0.0 {
            return a;
        }
        let n = a.0 + b.0;
        let d = b.1 - a.1;
        (n, a.1 + d * (b.0 / n), a.2 + b.2 + d * d * (a.0 * b.0 / n))
    }
}

// ----- the plan ----------------------------------------------------------------------------

/// (size, stride) pairs after dropping size-1 dims and merging dims that are contiguous with
/// each other.
type Dims = Vec<(usize, isize)>;

fn coalesce(dims: &[(usize, isize)]) -> Dims {
    let mut out: Dims = Vec::with_capacity(dims.len());
    for &(n, s) in dims {
        if n == 1 {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if last.1 == s * n as isize {
                *last = (last.0 * n, s);
                continue;
            }
        }
        out.push((n, s));
    }
    out
}

/// Storage offset (relative) of row-major index `flat` over `dims`.
#[inline]
fn offset_of(dims: &[(usize, isize)], mut flat: usize) -> isize {
    let mut off = 0isize;
    for &(n, s) in dims.iter().rev() {
        off += (flat % n) as isize * s;
        flat /= n;
    }
    off
}

/// Walks row-major positions of `dims`, keeping the storage offset.
struct Odometer<'a> {
    dims: &'a [(usize, isize)],
    idx: [usize; 16],
    off: isize,
}

impl<'a> Odometer<'a> {
    fn new(dims: &'a [(usize, isize)], start: usize) -> Self {
        let mut idx = [0usize; 16];
        let mut rem = start;
        let mut off = 0;
        for (d, &(n, s)) in dims.iter().enumerate().rev() {
            idx[d] = rem % n;
            rem /= n;
            off += idx[d] as isize * s;
        }
        Odometer { dims, idx, off }
    }
    #[inline(always)]
    fn advance(&mut self) {
        let mut d = self.dims.len();
        while d > 0 {
            d -= 1;
            let (n, s) = self.dims[d];
            self.idx[d] += 1;
            self.off += s;
            if self.idx[d] < n {
                return;
            }
            self.off -= s * n as isize;
            self.idx[d] = 0;
        }
    }
}

/// Kept dims (outputs, row-major) and reduced dims of one reduction, coalesced.
struct Plan {
    offset: isize,
    kept: Dims,
    red: Dims,
}

impl Plan {
    /// `reorder` lets the reduced dims be visited in storage order rather than logical
    /// order; folds that report positions need the logical order.
    fn new(layout: &Layout, reduced: &[bool], reorder: bool) -> Result<Plan> {
        let mut kept = Vec::new();
        let mut red = Vec::new();
        for d in 0..layout.ndim() {
            let e = (layout.shape[d], layout.strides[d]);
            if reduced[d] {
                red.push(e)
            } else {
                kept.push(e)
            }
        }
        if reorder {
            // Largest stride outermost; a stable sort keeps logical order among equals.
            red.sort_by_key(|&(_, s)| std::cmp::Reverse(s.unsigned_abs()));
        }
        let (kept, red) = (coalesce(&kept), coalesce(&red));
        if kept.len() > 16 || red.len() > 16 {
            return Err(Error::runtime("reductions support at most 16 non-mergeable dims"));
        }
        Ok(Plan { offset: layout.offset as isize, kept, red })
    }
    fn n_out(&self) -> usize {
        self.kept.iter().map(|d| d.0).product()
    }
    fn n_red(&self) -> usize {
        self.red.iter().map(|d| d.0).product()
    }
}

// ----- leaf loops (compiled twice: baseline and AVX2) ----------------------------------------

#[inline(always)]
unsafe fn lanes_impl<F: Fold, const LANES: usize>(f: &F, p: *const F::In, n: usize, s: isize, i0: usize) -> F::Acc {
    if n < LANES {
        let mut acc = f.init();
        for i in 0..n {
            acc = f.step(acc, *p.offset(i as isize * s), i0 + i);
        }
        return acc;
    }
    let mut lanes = [f.init(); LANES];
    let full = n / LANES * LANES;
    let mut i = 0;
    if s == 1 {
        while i < full {
            let x = p.add(i);
            for j in 0..LANES {
                lanes[j] = f.step(lanes[j], *x.add(j), i0 + i + j);
            }
            i += LANES;
        }
    } else {
        while i < full {
            for j in 0..LANES {
                lanes[j] = f.step(lanes[j], *p.offset((i + j) as isize * s), i0 + i + j);
            }
            i += LANES;
        }
    }
    // The tail gets its own accumulator: indexing `lanes` with a runtime position kept the
    // whole array in memory, and the merge below then stalled on store forwarding (a third
    // of the time of a 1024-element row).
    let mut tail = f.init();
    while i < n {
        tail = f.step(tail, *p.offset(i as isize * s), i0 + i);
        i += 1;
    }
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            lanes[j] = f.merge(lanes[j], lanes[j + w]);
        }
        w /= 2;
    }
    f.merge(lanes[0], tail)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lanes_avx2<F: Fold, const LANES: usize>(f: &F, p: *const F::In, n: usize, s: isize, i0: usize) -> F::Acc {
    lanes_impl::<F, LANES>(f, p, n, s, i0)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn lanes_avx512<F: Fold, const LANES: usize>(f: &F, p: *const F::In, n: usize, s: isize, i0: usize) -> F::Acc {
    lanes_impl::<F, LANES>(f, p, n, s, i0)
}

#[inline(always)]
unsafe fn row_impl<F: Fold>(f: &F, acc: &mut [F::Acc], p: *const F::In, s: isize, r: usize) {
    if s == 1 {
        let x = std::slice::from_raw_parts(p, acc.len());
        for (a, &v) in acc.iter_mut().zip(x) {
            *a = f.step(*a, v, r);
        }
    } else {
        for (j, a) in acc.iter_mut().enumerate() {
            *a = f.step(*a, *p.offset(j as isize * s), r);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2<F: Fold>(f: &F, acc: &mut [F::Acc], p: *const F::In, s: isize, r: usize) {
    row_impl(f, acc, p, s, r)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn row_avx512<F: Fold>(f: &F, acc: &mut [F::Acc], p: *const F::In, s: isize, r: usize) {
    row_impl(f, acc, p, s, r)
}

#[inline(always)]
fn merge_rows_impl<F: Fold>(f: &F, a: &mut [F::Acc], b: &[F::Acc]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f.merge(*x, y);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn merge_rows_avx2<F: Fold>(f: &F, a: &mut [F::Acc], b: &[F::Acc]) {
    merge_rows_impl(f, a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn merge_rows_avx512<F: Fold>(f: &F, a: &mut [F::Acc], b: &[F::Acc]) {
    merge_rows_impl(f, a, b)
}

/// Whether a run of `n` elements with stride `s` folds into WIDE_LANES accumulators (vector
/// code only): `fold_run` and `fold_outputs` must choose alike to give the same sums.
#[inline(always)]
fn wide_run<F: Fold>(n: usize, s: isize) -> bool {
    F::WIDE && s == 1 && n >= WIDE_MIN
}

/// Outputs [o0, o1), each the fold of one run of `n` elements with stride `s`, their run
/// starts walked over `kept` from `base`. The output loop lives inside the vector-ISA function,
/// so feature dispatch and the call are paid once per block instead of once per row (about
/// 8 ns a row, which was the gap to torch on sum over dim 1 of 1024x1024).
#[inline(always)]
unsafe fn outputs_impl<F: Fold, W: Fn(usize, F::Acc), const WIDE_OK: bool>(
    f: &F,
    p: SendPtr<F::In>,
    kept: &[(usize, isize)],
    base: isize,
    (o0, o1): (usize, usize),
    (n, s): (usize, isize),
    write: &W,
) {
    let mut odo = Odometer::new(kept, o0);
    let wide = WIDE_OK && wide_run::<F>(n, s);
    for o in o0..o1 {
        let q = p.at(base + odo.off) as *const F::In;
        let acc = if wide { lanes_impl::<F, WIDE_LANES>(f, q, n, s, 0) } else { lanes_impl::<F, LANES>(f, q, n, s, 0) };
        write(o, acc);
        odo.advance();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn outputs_avx2<F: Fold, W: Fn(usize, F::Acc)>(
    f: &F,
    p: SendPtr<F::In>,
    kept: &[(usize, isize)],
    base: isize,
    range: (usize, usize),
    run: (usize, isize),
    write: &W,
) {
    outputs_impl::<F, W, true>(f, p, kept, base, range, run, write)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn outputs_avx512<F: Fold, W: Fn(usize, F::Acc)>(
    f: &F,
    p: SendPtr<F::In>,
    kept: &[(usize, isize)],
    base: isize,
    range: (usize, usize),
    run: (usize, isize),
    write: &W,
) {
    outputs_impl::<F, W, true>(f, p, kept, base, range, run, write)
}

/// `outputs_impl` for runs short enough to need no pairwise split, for the best ISA.
unsafe fn fold_outputs<F: Fold, W: Fn(usize, F::Acc)>(
    f: &F,
    p: SendPtr<F::In>,
    kept: &[(usize, isize)],
    base: isize,
    range: (usize, usize),
    run: (usize, isize),
    write: &W,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return outputs_avx512(f, p, kept, base, range, run, write);
        }
        if has_avx2() {
            return outputs_avx2(f, p, kept, base, range, run, write);
        }
    }
    outputs_impl::<F, W, false>(f, p, kept, base, range, run, write)
}

/// AVX-512 (F and BW) with FMA: the widest code the leaf loops are compiled for.
#[inline]
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Folds `n` elements at `p` with stride `s`, whose flat indices start at `i0`.
unsafe fn fold_run<F: Fold>(f: &F, p: *const F::In, n: usize, s: isize, i0: usize) -> F::Acc {
    if F::PAIRWISE && n > PAIRWISE_BLOCK {
        let h = (n / 2).div_ceil(LANES) * LANES;
        let a = fold_run(f, p, h, s, i0);
        let b = fold_run(f, p.offset(h as isize * s), n - h, s, i0 + h);
        return f.merge(a, b);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let wide = wide_run::<F>(n, s);
        if has_avx512() {
            return if wide { lanes_avx512::<F, WIDE_LANES>(f, p, n, s, i0) } else { lanes_avx512::<F, LANES>(f, p, n, s, i0) };
        }
        if has_avx2() {
            return if wide { lanes_avx2::<F, WIDE_LANES>(f, p, n, s, i0) } else { lanes_avx2::<F, LANES>(f, p, n, s, i0) };
        }
    }
    lanes_impl::<F, LANES>(f, p, n, s, i0)
}

unsafe fn fold_row<F: Fold>(f: &F, acc: &mut [F::Acc], p: *const F::In, s: isize, r: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return row_avx512(f, acc, p, s, r);
        }
        if has_avx2() {
            return row_avx2(f, acc, p, s, r);
        }
    }
    row_impl(f, acc, p, s, r)
}

fn merge_rows<F: Fold>(f: &F, a: &mut [F::Acc], b: &[F::Acc]) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { merge_rows_avx512(f, a, b) };
        }
        if has_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { merge_rows_avx2(f, a, b) };
        }
    }
    merge_rows_impl(f, a, b)
}

/// Combines partial results in a binary-counter pattern, so n partials are added pairwise.
struct PairStack<A> {
    items: Vec<(A, u32)>,
}

impl<A: Copy> PairStack<A> {
    fn new() -> Self {
        PairStack { items: Vec::new() }
    }
    fn push(&mut self, mut a: A, merge: impl Fn(A, A) -> A) {
        let mut level = 0;
        while let Some(&(top, l)) = self.items.last() {
            if l != level {
                break;
            }
            self.items.pop();
            a = merge(top, a);
            level += 1;
        }
        self.items.push((a, level));
    }
    fn finish(mut self, merge: impl Fn(A, A) -> A) -> Option<A> {
        let (mut acc, _) = self.items.pop()?;
        while let Some((a, _)) = self.items.pop() {
            acc = merge(a, acc);
        }
        Some(acc)
    }
}

/// Folds a sequence of partial results: pairwise for float sums, left to right otherwise.
fn combine<F: Fold>(f: &F, parts: impl Iterator<Item = F::Acc>) -> F::Acc {
    if F::PAIRWISE {
        let mut st = PairStack::new();
        for a in parts {
            st.push(a, |x, y| f.merge(x, y));
        }
        st.finish(|x, y| f.merge(x, y)).unwrap_or_else(|| f.init())
    } else {
        parts.fold(f.init(), |a, b| f.merge(a, b))
    }
}

// ----- the engine --------------------------------------------------------------------------

/// Runs fold `f` over `src` (elements of type F::In) and hands each output's accumulator to
/// `write(flat_output_index, acc)`; outputs are row-major over the kept dims.
pub fn run<F, W>(f: &F, src: View, reduced: &[bool], reorder: bool, write: W) -> Result<()>
where
    F: Fold,
    W: Fn(usize, F::Acc) + Sync,
{
    let plan = Plan::new(src.layout, reduced, reorder)?;
    let p = SendPtr(src.buf.as_ptr() as *mut F::In);
    let (n_out, n_red) = (plan.n_out(), plan.n_red());
    if n_out == 0 {
        return Ok(());
    }
    if n_red == 0 {
        for o in 0..n_out {
            write(o, f.init());
        }
        return Ok(());
    }
    let threads = rayon::current_num_threads();
    let parallel = threads > 1 && n_out.saturating_mul(n_red) >= PARALLEL_THRESHOLD;
    // Row accumulation pays off once a row holds a few vectors' worth of outputs.
    let outer = match (plan.kept.last(), plan.red.last()) {
        (Some(k), Some(r)) => k.1.unsigned_abs() < r.1.unsigned_abs() && k.0 >= 16,
        _ => false,
    };
    // SAFETY (all unsafe below): offsets come from the layout, so they stay inside the
    // buffer; each output is written by exactly one task.
    if outer {
        outer_reduce(f, p, &plan, parallel, threads, &write);
    } else {
        inner_reduce(f, p, &plan, parallel, threads, &write);
    }
    Ok(())
}

/// `f(0), ..., f(parts - 1)` in order: part 0 on the calling thread, the rest on the team's
/// helpers (or the rayon pool when the team is busy). An even, fixed split with the caller
/// working (torch's static OpenMP schedule) keeps each thread on the same share of a repeated
/// reduction; rayon's dynamic split with the caller waiting ran sum over dim 1 of 1024x1024 at
/// half torch's speed on two cores.
fn split_static<R: Send>(parts: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut out: Vec<Option<R>> = (0..parts).map(|_| None).collect();
    let slots = SendPtr(out.as_mut_ptr());
    // SAFETY: each part writes only its own slot, and `out` outlives the run.
    team::parallel_for(parts, |i: usize| unsafe { *slots.slot(i) = Some(f(i)) });
    out.into_iter().map(|r| r.expect("every part ran")).collect()
}

/// Each output folds its own reduced runs.
fn inner_reduce<F: Fold, W: Fn(usize, F::Acc) + Sync>(
    f: &F,
    p: SendPtr<F::In>,
    plan: &Plan,
    parallel: bool,
    threads: usize,
    write: &W,
) {
    let (n_out, red) = (plan.n_out(), &plan.red[..]);
    let (run_len, run_stride) = red.last().copied().unwrap_or((1, 0));
    let run_dims = &red[..red.len().saturating_sub(1)];
    let n_runs: usize = run_dims.iter().map(|d| d.0).product();

    // One output's fold over runs [r0, r1).
    let fold_runs = |base: isize, r0: usize, r1: usize| -> F::Acc {
        if r1 == r0 + 1 {
            let off = base + offset_of(run_dims, r0);
            return unsafe { fold_run(f, p.at(off) as *const F::In, run_len, run_stride, r0 * run_len) };
        }
        let mut odo = Odometer::new(run_dims, r0);
        let parts = (r0..r1).map(|r| {
            let a = unsafe { fold_run(f, p.at(base + odo.off) as *const F::In, run_len, run_stride, r * run_len) };
            odo.advance();
            a
        });
        combine(f, parts)
    };
    let outputs = |o0: usize, o1: usize| {
        if n_runs == 1 && !(F::PAIRWISE && run_len > PAIRWISE_BLOCK) {
            // SAFETY: as for fold_runs; the same lanes in the same order as fold_run.
            return unsafe { fold_outputs(f, p, &plan.kept, plan.offset, (o0, o1), (run_len, run_stride), write) };
        }
        let mut odo = Odometer::new(&plan.kept, o0);
        for o in o0..o1 {
            write(o, fold_runs(plan.offset + odo.off, 0, n_runs));
            odo.advance();
        }
    };

    if !parallel {
        outputs(0, n_out);
    } else if n_out >= threads * 4 {
        split_static(threads, |c| outputs(c * n_out / threads, (c + 1) * n_out / threads));
    } else {
        // Few outputs: split each reduction over the threads and merge in order.
        let pieces = threads;
        for o in 0..n_out {
            let base = plan.offset + offset_of(&plan.kept, o);
            let parts: Vec<F::Acc> = if n_runs >= pieces {
                split_static(pieces, |c| fold_runs(base, c * n_runs / pieces, (c + 1) * n_runs / pieces))
            } else {
                let per_run = pieces.div_ceil(n_runs);
                split_static(n_runs * per_run, |k| {
                    let (r, c) = (k / per_run, k % per_run);
                    let s = (c * run_len / per_run) / LANES * LANES;
                    let e = if c + 1 == per_run { run_len } else { ((c + 1) * run_len / per_run) / LANES * LANES };
                    let off = base + offset_of(run_dims, r) + s as isize * run_stride;
                    if s >= e {
                        return f.init();
                    }
                    unsafe { fold_run(f, p.at(off) as *const F::In, e - s, run_stride, r * run_len + s) }
                })
            };
            write(o, combine(f, parts.into_iter()));
        }
    }
}

/// The innermost kept dim is the most contiguous: accumulate whole rows of outputs.
fn outer_reduce<F: Fold, W: Fn(usize, F::Acc) + Sync>(
    f: &F,
    p: SendPtr<F::In>,
    plan: &Plan,
    parallel: bool,
    threads: usize,
    write: &W,
) {
    let (m, sk) = *plan.kept.last().unwrap();
    let outer_kept = &plan.kept[..plan.kept.len() - 1];
    let n_outer: usize = outer_kept.iter().map(|d| d.0).product();
    let n_red = plan.n_red();
    let chunk = (ROW_BYTES / std::mem::size_of::<F::Acc>().max(1)).max(LANES).min(m);
    let n_chunks = m.div_ceil(chunk);
    let tasks = n_outer * n_chunks;
    let parts = if parallel && tasks < threads * 2 { (threads * 2).min(n_red) } else { 1 };

    // Accumulates reduced positions [r0, r1) for outer index `o`, columns [c0, c1).
    let task = |o: usize, c0: usize, c1: usize, r0: usize, r1: usize| -> Vec<F::Acc> {
        let base = plan.offset + offset_of(outer_kept, o) + c0 as isize * sk;
        let len = c1 - c0;
        let mut odo = Odometer::new(&plan.red, r0);
        let mut acc = vec![f.init(); len];
        if !F::PAIRWISE {
            for r in r0..r1 {
                unsafe { fold_row(f, &mut acc, p.at(base + odo.off) as *const F::In, sk, r) };
                odo.advance();
            }
            return acc;
        }
        let mut stack: Vec<(Vec<F::Acc>, u32)> = Vec::new();
        let mut r = r0;
        while r < r1 {
            let end = (r + ROW_BLOCK).min(r1);
            acc.iter_mut().for_each(|a| *a = f.init());
            while r < end {
                unsafe { fold_row(f, &mut acc, p.at(base + odo.off) as *const F::In, sk, r) };
                odo.advance();
                r += 1;
            }
            let mut level = 0;
            let mut cur = acc.clone();
            while let Some((top, l)) = stack.last_mut() {
                if *l != level {
                    break;
                }
                merge_rows(f, top, &cur);
                cur = stack.pop().unwrap().0;
                level += 1;
            }
            stack.push((cur, level));
        }
        let mut result = match stack.pop() {
            Some((v, _)) => v,
            None => vec![f.init(); len],
        };
        while let Some((mut v, _)) = stack.pop() {
            merge_rows(f, &mut v, &result);
            result = v;
        }
        result
    };
    let emit = |t: usize, row: &[F::Acc]| {
        let (o, c) = (t / n_chunks, t % n_chunks);
        let c0 = c * chunk;
        for (j, &a) in row.iter().enumerate() {
            write(o * m + c0 + j, a);
        }
    };
    let bounds = |t: usize| {
        let (o, c) = (t / n_chunks, t % n_chunks);
        (o, c * chunk, ((c + 1) * chunk).min(m))
    };

    if parts == 1 {
        let body = |t: usize| {
            let (o, c0, c1) = bounds(t);
            emit(t, &task(o, c0, c1, 0, n_red));
        };
        if parallel {
            team::parallel_for(tasks, body);
        } else {
            (0..tasks).for_each(body);
        }
        return;
    }
    team::park_helpers();
    for t in 0..tasks {
        let (o, c0, c1) = bounds(t);
        let rows: Vec<Vec<F::Acc>> =
            (0..parts).into_par_iter().map(|q| task(o, c0, c1, q * n_red / parts, (q + 1) * n_red / parts)).collect();
        let mut it = rows.into_iter();
        let mut acc = it.next().unwrap();
        for r in it {
            merge_rows(f, &mut acc, &r);
        }
        emit(t, &acc);
    }
}

// ----- dispatch ----------------------------------------------------------------------------

/// A fresh contiguous output buffer of the reduction.
#[derive(Clone, Copy)]
pub struct Out<'a> {
    pub buf: &'a CpuBuffer,
    pub dtype: DType,
}

impl<'a> Out<'a> {
    fn ptr<T>(&self) -> SendPtr<T> {
        SendPtr(self.buf.as_ptr() as *mut T)
    }
}

fn bad_dtype(op: &'static str, d: DType) -> Error {
    Error::Msg { kind: ErrorKind::NotImplemented, msg: format!("\"{op}\" not implemented for '{}'", d.torch_kernel_name()) }
}

/// Runs `$body` with `$T` bound to a floating element type, else errors.
macro_rules! with_float {
    ($dtype:expr, $op:expr, $T:ident, $body:block) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::F16 => {
                type $T = f16;
                $body
            }
            DType::BF16 => {
                type $T = bf16;
                $body
            }
            d => return Err(bad_dtype($op, d)),
        }
    };
}


/// Reduces `src` (of `dtype`) over the dims flagged in `reduced` into `outs`.
///
/// Output dtypes: Sum/NanSum/Prod write `dtype`, or int64 for integer and bool inputs;
/// Mean/NanMean/LogSumExp/Norm/Var write `dtype` (floating); Max/Min write `dtype`;
/// ArgMax/ArgMin write int64 indices, or (values, indices) given two outputs; All/Any write
/// bool (uint8 for uint8 inputs); CountNonzero writes int64; Var writes the variance (or
/// standard deviation), plus the mean given two outputs.
pub fn reduce(op: ReduceOp, src: View, dtype: DType, reduced: &[bool], outs: &[Out]) -> Result<()> {
    let n_red: usize = src.layout.shape.iter().zip(reduced).filter(|(_, &r)| r).map(|(&s, _)| s).product();
    let o = outs[0];
    macro_rules! run_sumlike {
        ($F:ident) => {
            with_dtype!(dtype, T, {
                let f = $F::<T>(PhantomData);
                if o.dtype == DType::I64 && !T::FLOAT {
                    let q = o.ptr::<i64>();
                    run(&f, src, reduced, true, |i, a| unsafe { *q.at(i as isize) = from_w::<T, i64>(a) })
                } else {
                    let q = o.ptr::<T>();
                    run(&f, src, reduced, true, |i, a| unsafe { *q.at(i as isize) = from_w::<T, T>(a) })
                }
            })
        };
    }
    match op {
        ReduceOp::Sum => run_sumlike!(SumF),
        ReduceOp::NanSum => run_sumlike!(NanSumF),
        ReduceOp::Prod => run_sumlike!(ProdF),
        ReduceOp::Mean => with_float!(dtype, "mean", T, {
            let q = o.ptr::<T>();
            let inv = n_red as f64;
            run(&SumF::<T>(PhantomData), src, reduced, true, |i, a| unsafe {
                *q.at(i as isize) = T::from_f64(T::w_f64(a) / inv)
            })
        }),
        ReduceOp::NanMean => with_float!(dtype, "nanmean", T, {
            let q = o.ptr::<T>();
            run(&NanMeanF::<T>(PhantomData), src, reduced, true, |i, a: (<T as RElem>::W, i64)| unsafe {
                *q.at(i as isize) = T::from_f64(T::w_f64(a.0) / a.1 as f64)
            })
        }),
        ReduceOp::Max | ReduceOp::Min => with_dtype!(dtype, T, {
            let q = o.ptr::<T>();
            let w = |i: usize, a: T| unsafe { *q.at(i as isize) = a };
            if op == ReduceOp::Max {
                run(&ExtremeF::<T, true>(PhantomData), src, reduced, true, w)
            } else {
                run(&ExtremeF::<T, false>(PhantomData), src, reduced, true, w)
            }
        }),
        ReduceOp::ArgMax | ReduceOp::ArgMin => with_dtype!(dtype, T, {
            let (vals, idx) = if outs.len() == 2 { (Some(outs[0].ptr::<T>()), outs[1].ptr::<i64>()) } else { (None, o.ptr::<i64>()) };
            let w = |i: usize, a: (T, i64)| unsafe {
                if let Some(v) = vals {
                    *v.at(i as isize) = a.0;
                }
                *idx.at(i as isize) = a.1.max(0);
            };
            if op == ReduceOp::ArgMax {
                run(&ArgF::<T, true>(PhantomData), src, reduced, false, w)
            } else {
                run(&ArgF::<T, false>(PhantomData), src, reduced, false, w)
            }
        }),
        ReduceOp::All | ReduceOp::Any => with_dtype!(dtype, T, {
            // bool and uint8 outputs share the 0/1 byte encoding.
            let q = o.ptr::<u8>();
            let w = |i: usize, a: bool| unsafe { *q.at(i as isize) = a as u8 };
            if op == ReduceOp::All {
                run(&LogicF::<T, true>(PhantomData), src, reduced, true, w)
            } else {
                run(&LogicF::<T, false>(PhantomData), src, reduced, true, w)
            }
        }),
        ReduceOp::CountNonzero => with_dtype!(dtype, T, {
            let q = o.ptr::<i64>();
            run(&CountNonzeroF::<T>(PhantomData), src, reduced, true, |i, a| unsafe { *q.at(i as isize) = a })
        }),
        ReduceOp::LogSumExp => with_float!(dtype, "logsumexp", T, {
            let q = o.ptr::<T>();
            run(&LogSumExpF::<T>(PhantomData), src, reduced, true, |i, a| unsafe {
                *q.at(i as isize) = T::down(logsumexp_done(a))
            })
        }),
        ReduceOp::Norm(p) => with_float!(dtype, "linalg_vector_norm", T, {
            let q = o.ptr::<T>();
            if p == 2.0 {
                run(&SumSqF::<T>(PhantomData), src, reduced, true, |i, a: <T as FloatMath>::Acc| unsafe {
                    *q.at(i as isize) = T::down(a.sqrt())
                })
            } else {
                let inv = <T as FloatMath>::Acc::from_f64(1.0 / p);
                let root = !(p.is_infinite() || p == 0.0 || p == 1.0);
                run(&NormF::<T> { p, _t: PhantomData }, src, reduced, true, |i, a: <T as FloatMath>::Acc| unsafe {
                    *q.at(i as isize) = T::down(if root { a.powf(inv) } else { a })
                })
            }
        }),
        ReduceOp::Var { correction, std } => with_float!(dtype, "var", T, {
            let q = o.ptr::<T>();
            let mean = if outs.len() == 2 { Some(outs[1].ptr::<T>()) } else { None };
            run(&MomentsF::<T>(PhantomData), src, reduced, true, |i, a: (f64, f64, f64)| unsafe {
                let var = a.2 / (a.0 - correction).max(0.0);
                *q.at(i as isize) = T::from_f64(if std { var.sqrt() } else { var });
                if let Some(m) = mean {
                    *m.at(i as isize) = T::from_f64(if a.0 == 0.0 { f64::NAN } else { a.1 });
                }
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce_f32(data: Vec<f32>, shape: &[usize], reduced: &[bool], op: ReduceOp) -> Vec<f32> {
        let buf = CpuBuffer::from_bytes(bytemuck::cast_slice(&data));
        let layout = Layout::contiguous(shape);
        let n_out: usize = shape.iter().zip(reduced).filter(|(_, &r)| !r).map(|(&s, _)| s).product();
        let out = CpuBuffer::zeroed(n_out * 4);
        reduce(op, View::new(&buf, &layout), DType::F32, reduced, &[Out { buf: &out, dtype: DType::F32 }]).unwrap();
        bytemuck::cast_slice::<u8, f32>(out.bytes()).to_vec()
    }

    #[test]
    fn pairwise_sum_is_exact_for_ten_million_ones() {
        let got = reduce_f32(vec![1.0; 10_000_000], &[10_000_000], &[true], ReduceOp::Sum);
        assert_eq!(got, vec![10_000_000.0]);
        // Reduced over the outer dim (row accumulation) and over a strided inner run.
        let got = reduce_f32(vec![1.0; 625_000 * 16], &[625_000, 16], &[true, false], ReduceOp::Sum);
        assert_eq!(got, vec![625_000.0; 16]);
        let got = reduce_f32(vec![1.0; 5_000_000 * 2], &[5_000_000, 2], &[true, false], ReduceOp::Sum);
        assert_eq!(got, vec![5_000_000.0, 5_000_000.0]);
    }

    #[test]
    fn inner_and_outer_sums_agree_with_f64() {
        let (r, c) = (257usize, 1031usize);
        let data: Vec<f32> = (0..r * c).map(|i| ((i * 7919) % 1000) as f32 * 0.001 - 0.5).collect();
        for (axis, reduced) in [(0usize, [true, false]), (1, [false, true])] {
            let got = reduce_f32(data.clone(), &[r, c], &reduced, ReduceOp::Sum);
            let n_out = if axis == 0 { c } else { r };
            for o in 0..n_out {
                let want: f64 = if axis == 0 {
                    (0..r).map(|i| data[i * c + o] as f64).sum()
                } else {
                    (0..c).map(|j| data[o * c + j] as f64).sum()
                };
                assert!((got[o] as f64 - want).abs() < 1e-3, "axis {axis} out {o}: {} vs {want}", got[o]);
            }
        }
    }

    #[test]
    fn argmax_takes_first_max_and_first_nan() {
        let mut v = vec![0.0f32; 1000];
        v[10] = 5.0;
        v[700] = 5.0;
        let buf = CpuBuffer::from_bytes(bytemuck::cast_slice(&v));
        let layout = Layout::contiguous(&[1000]);
        let out = CpuBuffer::zeroed(8);
        reduce(ReduceOp::ArgMax, View::new(&buf, &layout), DType::F32, &[true], &[Out { buf: &out, dtype: DType::I64 }]).unwrap();
        assert_eq!(bytemuck::cast_slice::<u8, i64>(out.bytes())[0], 10);
        v[900] = f32::NAN;
        v[950] = f32::NAN;
        let buf = CpuBuffer::from_bytes(bytemuck::cast_slice(&v));
        reduce(ReduceOp::ArgMax, View::new(&buf, &layout), DType::F32, &[true], &[Out { buf: &out, dtype: DType::I64 }]).unwrap();
        assert_eq!(bytemuck::cast_slice::<u8, i64>(out.bytes())[0], 900);
    }

    #[test]
    fn welford_variance_matches_two_pass() {
        let data: Vec<f32> = (0..100_000).map(|i| 1000.0 + (i % 17) as f32).collect();
        let got = reduce_f32(data.clone(), &[100_000], &[true], ReduceOp::Var { correction: 1.0, std: false })[0] as f64;
        let mean: f64 = data.iter().map(|&x| x as f64).sum::<f64>() / data.len() as f64;
        let want: f64 = data.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (data.len() - 1) as f64;
        assert!((got - want).abs() / want < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn logsumexp_survives_large_and_infinite_inputs() {
        let got = reduce_f32(vec![1000.0, 1000.0], &[2], &[true], ReduceOp::LogSumExp)[0];
        assert!((got - (1000.0 + 2f32.ln())).abs() < 1e-3);
        assert_eq!(reduce_f32(vec![f32::NEG_INFINITY; 3], &[3], &[true], ReduceOp::LogSumExp)[0], f32::NEG_INFINITY);
        assert_eq!(reduce_f32(vec![f32::INFINITY, 1.0], &[2], &[true], ReduceOp::LogSumExp)[0], f32::INFINITY);
    }
}
