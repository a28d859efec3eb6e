//! Dense linear algebra over batches of matrices, on faer. Each matrix of a batch is copied out
//! of its strided storage into a column-major faer matrix (the factorizations work on their
//! own copy anyway), factored, and the results written back through the output layouts.
//!
//! Kernels report LAPACK-style `info` per matrix instead of failing, so that the `_ex` variants
//! can return it and the caller can name the first failing batch element as torch does.

use super::elementwise::View;
use super::strided::SendPtr;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{LinalgOp, LstsqDriver, QrMode};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::solvers::{ColPivQr, DenseSolveCore, Llt, LltError, PartialPivLu, Qr, SelfAdjointEigen, Solve, Svd};
use faer::{Accum, Conj, Mat, MatRef, Par, Side};
use rayon::prelude::*;

/// `info` for an input with NaN or infinity, which torch reports without running the solver.
pub const INFO_NONFINITE: i32 = -1;

/// Batches whose total work (elements x smallest dim) is below this stay on one thread.
const PARALLEL_WORK: usize = 1 << 15;

/// The real types faer factors; scalar bookkeeping (tolerances, logs) runs in f64.
pub trait Real: faer::traits::RealField + Copy + Send + Sync + 'static {
    const EPS: f64;
    fn f(self) -> f64;
    fn of(v: f64) -> Self;
}

impl Real for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    #[inline(always)]
    fn f(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    const EPS: f64 = f64::EPSILON;
    #[inline(always)]
    fn f(self) -> f64 {
        self
    }
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
}

/// Machine epsilon of a float dtype, for default tolerances.
pub fn eps(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        f64::EPSILON
    } else {
        f32::EPSILON as f64
    }
}

/// One matrix (or vector, or scalar) of an operand: a base pointer and its trailing dims.
#[derive(Clone, Copy)]
struct Slot {
    ptr: SendPtr<u8>,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl Slot {
    /// # Safety
    /// (i, j) inside the slot; U is the element type of the operand.
    #[inline(always)]
    unsafe fn at<U>(&self, i: usize, j: usize) -> *mut U {
        (self.ptr.0 as *mut U).offset(i as isize * self.rs + j as isize * self.cs)
    }

    fn read<T: Real>(&self) -> Mat<T> {
        // SAFETY: indices stay inside the operand's layout.
        Mat::from_fn(self.rows, self.cols, |i, j| unsafe { *self.at::<T>(i, j) })
    }

    /// Writes `m` into the slot, zero-filling whatever `m` does not cover.
    fn write<T: Real>(&self, m: MatRef<'_, T>) {
        for i in 0..self.rows {
            for j in 0..self.cols {
                let v = if i < m.nrows() && j < m.ncols() { m[(i, j)] } else { T::of(0.0) };
                // SAFETY: indices stay inside the operand's layout.
                unsafe { *self.at::<T>(i, j) = v };
            }
        }
    }

    fn write_vec<T: Real>(&self, v: impl IntoIterator<Item = T>) {
        for (i, x) in v.into_iter().take(self.rows).enumerate() {
            // SAFETY: i < rows.
            unsafe { *self.at::<T>(i, 0) = x };
        }
    }

    fn set<U: Copy>(&self, v: U) {
        // SAFETY: every slot holds at least element (0, 0) when it is written.
        unsafe { *self.at::<U>(0, 0) = v };
    }

    fn fill<T: Real>(&self, v: f64) {
        for i in 0..self.rows {
            for j in 0..self.cols {
                // SAFETY: indices stay inside the operand's layout.
                unsafe { *self.at::<T>(i, j) = T::of(v) };
            }
        }
    }
}

/// Element offsets of every batch entry (row-major over the first `nb` dims) plus the shape of
/// the trailing (matrix) dims.
struct Operand {
    base: SendPtr<u8>,
    es: usize,
    offsets: Vec<isize>,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl Operand {
    fn new(v: &View, nb: usize, es: usize) -> Operand {
        let l: &Layout = v.layout;
        let (shape, strides) = (&l.shape[..nb], &l.strides[..nb]);
        let count: usize = shape.iter().product();
        let mut offsets = Vec::with_capacity(count);
        let mut idx = vec![0usize; nb];
        let mut off = l.offset as isize;
        for _ in 0..count {
            offsets.push(off);
            let mut d = nb;
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                off += strides[d];
                if idx[d] < shape[d] {
                    break;
                }
                off -= strides[d] * shape[d] as isize;
                idx[d] = 0;
            }
        }
        let t = l.ndim() - nb;
        let (rows, cols, rs, cs) = match t {
            0 => (1, 1, 0, 0),
            1 => (l.shape[nb], 1, l.strides[nb], 0),
            _ => (l.shape[nb], l.shape[nb + 1], l.strides[nb], l.strides[nb + 1]),
        };
        Operand { base: SendPtr(v.buf.as_ptr()), es, offsets, rows, cols, rs, cs }
    }

    fn slot(&self, b: usize) -> Slot {
        Slot { ptr: SendPtr(self.base.at(self.offsets[b] * self.es as isize)), rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }
}

/// Runs `op` over every matrix of the batch. `nb` leading dims are batch dims, shared by every
/// operand; returns one `info` per batch entry (0: success).
pub fn linalg(op: &LinalgOp, dtype: DType, ins: &[View], outs: &[View], out_dtypes: &[DType], nb: usize) -> Result<Vec<i32>> {
    match dtype {
        DType::F32 => run::<f32>(op, ins, outs, out_dtypes, nb),
        DType::F64 => run::<f64>(op, ins, outs, out_dtypes, nb),
        DType::I64 => match *op {
            LinalgOp::MatrixPower { n, .. } if n >= 0 => {
                int_power(&ins[0], &outs[0], nb, n as u64);
                Ok(vec![0; ins[0].layout.shape[..nb].iter().product()])
            }
            _ => Err(Error::not_implemented_for("linalg", dtype)),
        },
        _ => Err(Error::not_implemented_for("linalg", dtype)),
    }
}

fn run<T: Real>(op: &LinalgOp, ins: &[View], outs: &[View], out_dtypes: &[DType], nb: usize) -> Result<Vec<i32>> {
    let es = std::mem::size_of::<T>();
    let ins: Vec<Operand> = ins.iter().map(|v| Operand::new(v, nb, es)).collect();
    let outs: Vec<Operand> = outs.iter().zip(out_dtypes).map(|(v, d)| Operand::new(v, nb, d.size())).collect();
    let count = ins[0].offsets.len();
    let (m, n) = (ins[0].rows, ins[0].cols);
    let work = count.saturating_mul(m * n).saturating_mul(m.min(n).max(1));
    let outer = count > 1 && work >= PARALLEL_WORK && rayon::current_num_threads() > 1;
    // One level of parallelism: across the batch, or inside faer for a single big matrix.
    let par = if outer || m * n < 64 * 64 { Par::Seq } else { Par::rayon(0) };
    if outer || par != Par::Seq {
        super::team::park_helpers();
    }
    let one = |b: usize| -> i32 {
        let a: Vec<Mat<T>> = ins.iter().map(|o| o.slot(b).read::<T>()).collect();
        let o: Vec<Slot> = outs.iter().map(|o| o.slot(b)).collect();
        matrix_op(op, &a, &o, par)
    };
    // faer asserts its preconditions; a failed one must surface as an error, not abort Python.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if outer {
            (0..count).into_par_iter().map(one).collect::<Vec<i32>>()
        } else {
            (0..count).map(one).collect()
        }
    }));
    result.map_err(|_| Error::runtime(format!("linalg: internal error in the {op:?} kernel")))
}

fn all_finite<T: Real>(a: &Mat<T>) -> bool {
    (0..a.ncols()).all(|j| (0..a.nrows()).all(|i| a[(i, j)].f().is_finite()))
}

fn mm<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>, par: Par) -> Mat<T> {
    let mut c = Mat::zeros(a.nrows(), b.ncols());
    faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a, b, T::of(1.0), par);
    c
}

/// LAPACK's getrf `info`: 1 + the index of the first exactly-zero pivot, else 0.
fn zero_pivot<T: Real>(u: MatRef<'_, T>) -> i32 {
    let k = u.nrows().min(u.ncols());
    (0..k).find(|&i| u[(i, i)].f() == 0.0).map_or(0, |i| i as i32 + 1)
}

/// (-1)^(number of transpositions) of a permutation given as an index array.
fn perm_sign(p: &[usize]) -> f64 {
    let mut seen = vec![false; p.len()];
    let mut sign = 1.0;
    for s in 0..p.len() {
        if seen[s] {
            continue;
        }
        let mut len = 0;
        let mut i = s;
        while !seen[i] {
            seen[i] = true;
            i = p[i];
            len += 1;
        }
        if len % 2 == 0 {
            sign = -sign;
        }
    }
    sign
}

fn matrix_op<T: Real>(op: &LinalgOp, a: &[Mat<T>], out: &[Slot], par: Par) -> i32 {
    let x = &a[0];
    if x.nrows() == 0 || x.ncols() == 0 {
        return empty_op(op, a, out);
    }
    match *op {
        LinalgOp::Inv => {
            let (info, inv) = inverse(x);
            out[0].write(inv.as_ref());
            info
        }
        LinalgOp::Det | LinalgOp::Slogdet => {
            if (0..x.ncols()).any(|j| (0..x.nrows()).any(|i| x[(i, j)].f().is_nan())) {
                // torch's sign of a NaN pivot is 0.
                out[0].set::<T>(T::of(if out.len() == 2 { 0.0 } else { f64::NAN }));
                if out.len() == 2 {
                    out[1].set::<T>(T::of(f64::NAN));
                }
                return 0;
            }
            let lu = PartialPivLu::new(x.as_ref());
            let u = lu.U();
            let mut sign = perm_sign(lu.P().arrays().0);
            let mut det = sign;
            let mut logabs = 0.0f64;
            let mut singular = false;
            for i in 0..u.nrows().min(u.ncols()) {
                let d = u[(i, i)].f();
                if d == 0.0 {
                    singular = true;
                    break;
                }
                det *= d;
                logabs += d.abs().ln();
                if d < 0.0 {
                    sign = -sign;
                }
            }
            if let LinalgOp::Det = op {
                out[0].set::<T>(T::of(if singular { 0.0 * det } else { det }));
            } else if singular {
                out[0].set::<T>(T::of(0.0));
                out[1].set::<T>(T::of(f64::NEG_INFINITY));
            } else {
                out[0].set::<T>(T::of(sign));
                out[1].set::<T>(T::of(logabs));
            }
            0
        }
        LinalgOp::Solve { left } => {
            let lu = PartialPivLu::new(x.as_ref());
            let info = zero_pivot(lu.U());
            let sol = if left { lu.solve(a[1].as_ref()) } else { lu.rsolve(a[1].as_ref()) };
            out[0].write(sol.as_ref());
            info
        }
        LinalgOp::Cholesky { upper } => match Llt::new(x.as_ref(), if upper { Side::Upper } else { Side::Lower }) {
            Ok(llt) => {
                if upper {
                    out[0].write(llt.L().transpose());
                } else {
                    out[0].write(llt.L());
                }
                0
            }
            Err(LltError::NonPositivePivot { index }) => {
                out[0].fill::<T>(0.0);
                index as i32 + 1
            }
        },
        LinalgOp::Qr { mode } => {
            let qr = Qr::new(x.as_ref());
            match mode {
                QrMode::Reduced => {
                    out[0].write(qr.compute_thin_Q().as_ref());
                    out[1].write(upper_part(qr.thin_R()).as_ref());
                }
                QrMode::Complete => {
                    out[0].write(qr.compute_Q().as_ref());
                    out[1].write(upper_part(qr.R()).as_ref());
                }
                QrMode::R => out[0].write(upper_part(qr.thin_R()).as_ref()),
            }
            0
        }
        LinalgOp::Svd { full_matrices, compute_uv } => {
            if !all_finite(x) {
                return INFO_NONFINITE;
            }
            if !compute_uv {
                return match x.singular_values() {
                    Ok(s) => {
                        out[0].write_vec(s);
                        0
                    }
                    Err(_) => 1,
                };
            }
            let svd = if full_matrices { Svd::new(x.as_ref()) } else { Svd::new_thin(x.as_ref()) };
            match svd {
                Ok(svd) => {
                    out[0].write(svd.U());
                    out[1].write_vec(svd.S().column_vector().iter().copied());
                    out[2].write(svd.V().transpose());
                    0
                }
                Err(_) => 1,
            }
        }
        LinalgOp::Eigh { upper, vectors } => {
            if !all_finite(x) {
                return 1;
            }
            let side = if upper { Side::Upper } else { Side::Lower };
            if !vectors {
                return match x.self_adjoint_eigenvalues(side) {
                    Ok(w) => {
                        out[0].write_vec(w);
                        0
                    }
                    Err(_) => 1,
                };
            }
            match SelfAdjointEigen::new(x.as_ref(), side) {
                Ok(e) => {
                    out[0].write_vec(e.S().column_vector().iter().copied());
                    out[1].write(e.U());
                    0
                }
                Err(_) => 1,
            }
        }
        LinalgOp::Lstsq { driver, rcond } => lstsq(x, &a[1], driver, rcond, out, par),
        LinalgOp::Pinv { hermitian, atol, rtol } => {
            if !all_finite(x) {
                return INFO_NONFINITE;
            }
            let p = if hermitian {
                let Ok(e) = SelfAdjointEigen::new(x.as_ref(), Side::Lower) else { return 1 };
                let w: Vec<f64> = e.S().column_vector().iter().map(|v| v.f()).collect();
                let tol = tolerance(w.iter().map(|v| v.abs()).fold(0.0, f64::max), atol, rtol);
                let inv: Vec<f64> = w.iter().map(|&v| if v.abs() > tol { 1.0 / v } else { 0.0 }).collect();
                let scaled = scale_cols(e.U(), &inv);
                mm(scaled.as_ref(), e.U().transpose(), par)
            } else {
                let Ok(svd) = Svd::new_thin(x.as_ref()) else { return 1 };
                let s: Vec<f64> = svd.S().column_vector().iter().map(|v| v.f()).collect();
                let tol = tolerance(s.first().copied().unwrap_or(0.0), atol, rtol);
                let inv: Vec<f64> = s.iter().map(|&v| if v > tol { 1.0 / v } else { 0.0 }).collect();
                let scaled = scale_cols(svd.V(), &inv);
                mm(scaled.as_ref(), svd.U().transpose(), par)
            };
            out[0].write(p.as_ref());
            0
        }
        LinalgOp::MatrixRank { hermitian, atol, rtol } => {
            if !all_finite(x) {
                return INFO_NONFINITE;
            }
            let s: Vec<f64> = if hermitian {
                match x.self_adjoint_eigenvalues(Side::Lower) {
                    Ok(w) => w.iter().map(|v| v.f().abs()).collect(),
                    Err(_) => return 1,
                }
            } else {
                match x.singular_values() {
                    Ok(s) => s.iter().map(|v| v.f()).collect(),
                    Err(_) => return 1,
                }
            };
            let tol = tolerance(s.iter().copied().fold(0.0, f64::max), atol, rtol);
            out[0].set::<i64>(s.iter().filter(|&&v| v > tol).count() as i64);
            0
        }
        LinalgOp::MatrixPower { n, round_to } => {
            let (info, base) = if n < 0 { inverse(x) } else { (0, x.clone()) };
            out[0].write(power(base, n.unsigned_abs(), round_to, par).as_ref());
            info
        }
    }
}

/// Results for a matrix with a zero dimension: the empty product is 1, factors that keep a
/// nonzero dimension are identities, solutions are zero.
fn empty_op<T: Real>(op: &LinalgOp, a: &[Mat<T>], out: &[Slot]) -> i32 {
    let eye = |s: &Slot| s.write(Mat::<T>::identity(s.rows, s.cols).as_ref());
    match *op {
        LinalgOp::Det => out[0].set::<T>(T::of(1.0)),
        LinalgOp::Slogdet => {
            out[0].set::<T>(T::of(1.0));
            out[1].set::<T>(T::of(0.0));
        }
        LinalgOp::Solve { .. } | LinalgOp::Pinv { .. } => out[0].fill::<T>(0.0),
        LinalgOp::Qr { mode: QrMode::Complete } => {
            eye(&out[0]);
            out[1].fill::<T>(0.0);
        }
        LinalgOp::Svd { compute_uv: true, .. } => {
            eye(&out[0]);
            eye(&out[2]);
        }
        LinalgOp::Lstsq { .. } => {
            let (m, n) = (a[0].nrows(), a[0].ncols());
            out[0].fill::<T>(0.0);
            out[2].set::<i64>(0);
            if m > n {
                let b = &a[1];
                out[1].write_vec((0..b.ncols()).map(|j| T::of((0..m).map(|i| b[(i, j)].f().powi(2)).sum::<f64>())));
            }
        }
        LinalgOp::MatrixRank { .. } => out[0].set::<i64>(0),
        _ => {}
    }
    0
}

/// max(atol, rtol * largest singular value), torch's pinv / matrix_rank threshold.
fn tolerance(largest: f64, atol: f64, rtol: f64) -> f64 {
    atol.max(rtol * largest)
}

fn inverse<T: Real>(x: &Mat<T>) -> (i32, Mat<T>) {
    let lu = PartialPivLu::new(x.as_ref());
    (zero_pivot(lu.U()), lu.inverse())
}

/// The upper trapezoid of `r`; faer leaves Householder data below the diagonal in some paths.
fn upper_part<T: Real>(r: MatRef<'_, T>) -> Mat<T> {
    Mat::from_fn(r.nrows(), r.ncols(), |i, j| if i <= j { r[(i, j)] } else { T::of(0.0) })
}

fn scale_cols<T: Real>(m: MatRef<'_, T>, s: &[f64]) -> Mat<T> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::of(m[(i, j)].f() * s[j]))
}

/// a^k by repeated squaring (k = 0: identity), in torch's order of products.
fn power<T: Real>(a: Mat<T>, mut k: u64, round_to: Option<DType>, par: Par) -> Mat<T> {
    let n = a.nrows();
    let round = |m: Mat<T>| -> Mat<T> {
        match round_to {
            Some(DType::F16) => Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::of(half::f16::from_f64(m[(i, j)].f()).to_f64())),
            Some(DType::BF16) => Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::of(half::bf16::from_f32(m[(i, j)].f() as f32).to_f64())),
            _ => m,
        }
    };
    if k == 3 {
        // torch's special case: (a a) a.
        let a2 = round(mm(a.as_ref(), a.as_ref(), par));
        return round(mm(a2.as_ref(), a.as_ref(), par));
    }
    let mut acc: Option<Mat<T>> = None;
    let mut base = a;
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(r) => round(mm(r.as_ref(), base.as_ref(), par)),
            });
        }
        k >>= 1;
        if k > 0 {
            base = round(mm(base.as_ref(), base.as_ref(), par));
        }
    }
    acc.unwrap_or_else(|| Mat::identity(n, n))
}

/// Integer matrix powers, exact modulo 2^64 (so casting back to a narrower integer type gives
/// the wrapped result torch's integer matmul would).
fn int_power(a: &View, out: &View, nb: usize, k: u64) {
    let (ia, io) = (Operand::new(a, nb, 8), Operand::new(out, nb, 8));
    let n = ia.rows;
    let mul = |x: &[i64], y: &[i64]| -> Vec<i64> {
        let mut z = vec![0i64; n * n];
        for i in 0..n {
            for l in 0..n {
                let xv = x[i * n + l];
                for j in 0..n {
                    z[i * n + j] = z[i * n + j].wrapping_add(xv.wrapping_mul(y[l * n + j]));
                }
            }
        }
        z
    };
    for b in 0..ia.offsets.len() {
        let (src, dst) = (ia.slot(b), io.slot(b));
        // SAFETY: indices stay inside each operand's layout.
        let mut base: Vec<i64> = (0..n * n).map(|e| unsafe { *src.at::<i64>(e / n, e % n) }).collect();
        let mut acc: Vec<i64> = (0..n * n).map(|e| (e / n == e % n) as i64).collect();
        let mut p = k;
        while p > 0 {
            if p & 1 == 1 {
                acc = mul(&acc, &base);
            }
            p >>= 1;
            if p > 0 {
                base = mul(&base, &base);
            }
        }
        for (e, v) in acc.into_iter().enumerate() {
            unsafe { *dst.at::<i64>(e / n, e % n) = v };
        }
    }
}

/// Least squares for one matrix; outputs [X, residuals, rank, singular values]. The SVD drivers
/// drop singular values at or below rcond * largest; gelsy finds the rank from the pivoted QR's
/// diagonal and returns the minimum-norm solution through a complete orthogonal factorization;
/// gels assumes full rank and reports an exactly singular R.
fn lstsq<T: Real>(a: &Mat<T>, b: &Mat<T>, driver: LstsqDriver, rcond: f64, out: &[Slot], par: Par) -> i32 {
    let (m, n) = (a.nrows(), a.ncols());
    let k = b.ncols();
    let size = m.min(n);
    let mut info = 0;
    let (x, rank) = match driver {
        LstsqDriver::Gelsd | LstsqDriver::Gelss => {
            if !all_finite(a) {
                return INFO_NONFINITE;
            }
            let Ok(svd) = Svd::new_thin(a.as_ref()) else { return 1 };
            let s: Vec<f64> = svd.S().column_vector().iter().map(|v| v.f()).collect();
            let tol = rcond * s.first().copied().unwrap_or(0.0);
            let rank = s.iter().filter(|&&v| v > tol).count();
            let utb = mm(svd.U().transpose(), b.as_ref(), par);
            let inv: Vec<f64> = s.iter().map(|&v| if v > tol { 1.0 / v } else { 0.0 }).collect();
            let scaled = Mat::from_fn(size, k, |i, j| T::of(utb[(i, j)].f() * inv[i]));
            out[3].write_vec(svd.S().column_vector().iter().copied());
            (mm(svd.V(), scaled.as_ref(), par), rank)
        }
        LstsqDriver::Gels | LstsqDriver::Gelsy => {
            let qr = ColPivQr::new(a.as_ref());
            let r = qr.R();
            let diag: Vec<f64> = (0..size).map(|i| r[(i, i)].f().abs()).collect();
            let rank = if driver == LstsqDriver::Gelsy {
                ice_rank(r, size, rcond)
            } else {
                info = diag.iter().position(|&d| d == 0.0).map_or(0, |i| i as i32 + 1);
                size
            };
            let mut c = b.clone();
            if size > 0 && k > 0 {
                let bs = qr.Q_coeff().nrows();
                let mut mem = MemBuffer::new(faer::linalg::householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<T>(m, bs, k));
                faer::linalg::householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                    qr.Q_basis(),
                    qr.Q_coeff(),
                    Conj::Yes,
                    c.as_mut(),
                    par,
                    MemStack::new(&mut mem),
                );
            }
            let y = cod_solve(r, rank, c.as_ref(), n, par);
            let inv = qr.P().arrays().1;
            (Mat::from_fn(n, k, |i, j| y[(inv[i], j)]), rank)
        }
    };
    out[0].write(x.as_ref());
    out[2].set::<i64>(rank as i64);
    if m > n {
        let ax = mm(a.as_ref(), x.as_ref(), par);
        out[1].write_vec((0..k).map(|j| T::of((0..m).map(|i| (ax[(i, j)].f() - b[(i, j)].f()).powi(2)).sum::<f64>())));
    }
    info
}

/// One step of incremental condition estimation (LAPACK's xLAIC1): given the estimate `est`
/// of the extreme singular value of R11 with unit vector x, and alpha = x . w, the estimate
/// for [[R11, w], [0, gamma]] and the (s, c) that extend x to [s x, c].
fn ice_step(largest: bool, est: f64, alpha: f64, gamma: f64) -> (f64, f64, f64) {
    // Extreme eigenpair of [[est^2 + alpha^2, alpha gamma], [alpha gamma, gamma^2]].
    let (a, b, d) = (est * est + alpha * alpha, alpha * gamma, gamma * gamma);
    let big = (a + d) / 2.0 + (((a - d) / 2.0).powi(2) + b * b).sqrt();
    // The small eigenvalue from the determinant, est^2 gamma^2, avoids cancellation.
    let lam = if largest { big } else if big > 0.0 { (est * gamma).powi(2) / big } else { 0.0 };
    let (v1, v2) = ((b, lam - a), (lam - d, b));
    let (p, q) = if v1.0.hypot(v1.1) >= v2.0.hypot(v2.1) { v1 } else { v2 };
    let nrm = p.hypot(q);
    let (s, c) = if nrm > 0.0 {
        (p / nrm, q / nrm)
    } else if (a >= d) == largest {
        (1.0, 0.0)
    } else {
        (0.0, 1.0)
    };
    (lam.sqrt(), s, c)
}

/// xGELSY's rank: grow the leading block of the pivoted R while its estimated condition number
/// stays below 1 / rcond.
fn ice_rank<T: Real>(r: MatRef<'_, T>, size: usize, rcond: f64) -> usize {
    if size == 0 || r[(0, 0)].f() == 0.0 {
        return 0;
    }
    let top = r[(0, 0)].f().abs();
    let (mut smin, mut smax) = (top, top);
    let (mut xmin, mut xmax) = (vec![1.0f64], vec![1.0f64]);
    let mut rank = 1;
    while rank < size {
        let i = rank;
        let gamma = r[(i, i)].f();
        let amin: f64 = (0..rank).map(|k| xmin[k] * r[(k, i)].f()).sum();
        let amax: f64 = (0..rank).map(|k| xmax[k] * r[(k, i)].f()).sum();
        let (sminpr, s1, c1) = ice_step(false, smin, amin, gamma);
        let (smaxpr, s2, c2) = ice_step(true, smax, amax, gamma);
        if smaxpr * rcond > sminpr {
            break;
        }
        xmin.iter_mut().for_each(|v| *v *= s1);
        xmin.push(c1);
        xmax.iter_mut().for_each(|v| *v *= s2);
        xmax.push(c2);
        (smin, smax) = (sminpr, smaxpr);
        rank += 1;
    }
    rank
}

/// Minimum-norm y with W y = c[..rank], W = the first `rank` rows of the upper-trapezoidal r.
/// Full column rank is a triangular solve; otherwise W^T = Z T (QR) gives y = Z T^-T c.
fn cod_solve<T: Real>(r: MatRef<'_, T>, rank: usize, c: MatRef<'_, T>, n: usize, par: Par) -> Mat<T> {
    let k = c.ncols();
    if rank == 0 {
        return Mat::zeros(n, k);
    }
    let w = Mat::from_fn(rank, n, |i, j| if i <= j { r[(i, j)] } else { T::of(0.0) });
    if rank == n {
        let mut y = c.get(..n, ..).to_owned();
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(w.as_ref(), y.as_mut(), par);
        return y;
    }
    let qr = Qr::new(w.transpose());
    let t = upper_part(qr.thin_R());
    let mut z = c.get(..rank, ..).to_owned();
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(t.transpose(), z.as_mut(), par);
    mm(qr.compute_thin_Q().as_ref(), z.as_ref(), par)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat(rows: usize, cols: usize, v: &[f64]) -> Mat<f64> {
        Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
    }

    #[test]
    fn cod_gives_min_norm_solution() {
        // Rank 1: columns equal, so the minimum-norm solution splits the weight evenly.
        let a = mat(3, 2, &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        let b = mat(3, 1, &[1.0, 2.0, 3.0]);
        let mut buf = vec![0.0f64; 2 + 1 + 2];
        let mut rank = [0i64];
        let p = buf.as_mut_ptr() as *mut u8;
        let slot = |off: usize, rows| Slot { ptr: SendPtr(unsafe { p.add(off * 8) }), rows, cols: 1, rs: 1, cs: 0 };
        let outs = [slot(0, 2), slot(2, 1), Slot { ptr: SendPtr(rank.as_mut_ptr() as *mut u8), rows: 1, cols: 1, rs: 0, cs: 0 }, slot(3, 2)];
        lstsq(&a, &b, LstsqDriver::Gelsy, 1e-10, &outs, Par::Seq);
        assert_eq!(rank[0], 1);
        assert!((buf[0] - 0.5).abs() < 1e-12 && (buf[1] - 0.5).abs() < 1e-12, "{buf:?}");
    }

    #[test]
    fn permutation_sign() {
        assert_eq!(perm_sign(&[0, 1, 2]), 1.0);
        assert_eq!(perm_sign(&[1, 0, 2]), -1.0);
        assert_eq!(perm_sign(&[1, 2, 0]), 1.0);
    }
}
