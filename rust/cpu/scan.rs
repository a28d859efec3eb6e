//! Cumulative ops along one dim of a contiguous tensor: cumsum, cumprod (accumulating in the
//! widened type, as torch), cummax and cummin (values and indices).
//!
//! The tensor is seen as (outer, n, inner). With inner == 1 each row is a sequential scan;
//! otherwise a vector of `inner` running states advances one slice at a time, which reads
//! memory in order and vectorizes across the slice.

use super::arith::Arith;
use super::elementwise::View;
use super::reduce::{Out, RElem};
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::op::ScanOp;
use crate::with_dtype;

/// Columns of running state one task keeps (inner > 1).
const COLS: usize = 1024;

/// Runs `step(state, x, k)` along the scan dim and `emit(flat_index, state)` after each
/// element; `x` is contiguous from `off` with shape (outer, n, inner).
fn scan_engine<In, S, St, Em>(x: SendPtr<In>, off: usize, (outer, n, inner): (usize, usize, usize), init: S, step: St, emit: Em)
where
    In: Copy + Send + Sync,
    S: Copy + Send + Sync,
    St: Fn(S, In, usize) -> S + Sync,
    Em: Fn(usize, S) + Sync,
{
    let total = outer * n * inner;
    if total == 0 {
        return;
    }
    let parallel = total >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1;
    // SAFETY (all reads below): indices stay within the contiguous (outer, n, inner) block.
    if inner == 1 {
        let rows = |r0: usize, r1: usize| {
            for r in r0..r1 {
                let mut s = init;
                let base = r * n;
                for k in 0..n {
                    s = step(s, unsafe { *x.at((off + base + k) as isize) }, k);
                    emit(base + k, s);
                }
            }
        };
        if parallel && outer > 1 {
            let chunks = (rayon::current_num_threads() * 4).min(outer);
            super::team::parallel_for(chunks, |c| rows(c * outer / chunks, (c + 1) * outer / chunks));
        } else {
            rows(0, outer);
        }
        return;
    }
    let n_chunks = inner.div_ceil(COLS);
    let task = |t: usize| {
        let (o, c) = (t / n_chunks, t % n_chunks);
        let (c0, c1) = (c * COLS, ((c + 1) * COLS).min(inner));
        let mut st = vec![init; c1 - c0];
        for k in 0..n {
            let base = o * n * inner + k * inner + c0;
            for (j, s) in st.iter_mut().enumerate() {
                *s = step(*s, unsafe { *x.at((off + base + j) as isize) }, k);
                emit(base + j, *s);
            }
        }
    };
    if parallel {
        super::team::parallel_for(outer * n_chunks, task);
    } else {
        (0..outer * n_chunks).for_each(task);
    }
}

/// Scans contiguous `src` along `dim` into fresh contiguous outputs: one for Sum/Prod (of
/// `dtype`, or int64 for integer and bool inputs), (values, int64 indices) for Max/Min.
pub fn scan(op: ScanOp, src: View, dtype: DType, dim: usize, outs: &[Out]) -> Result<()> {
    let l = src.layout;
    if !l.is_contiguous() {
        return Err(Error::runtime("scan kernels expect a contiguous input"));
    }
    let shape = &l.shape;
    let dims = if shape.is_empty() {
        (1, 1, 1)
    } else {
        (shape[..dim].iter().product(), shape[dim], shape[dim + 1..].iter().product())
    };
    let off = l.offset;
    let o = outs[0];
    with_dtype!(dtype, T, {
        let x = SendPtr(src.buf.as_ptr() as *mut T);
        match op {
            ScanOp::Sum | ScanOp::Prod => {
                let (init, f): (<T as RElem>::W, fn(<T as RElem>::W, <T as RElem>::W) -> <T as RElem>::W) =
                    if op == ScanOp::Sum { (T::w_zero(), T::w_add) } else { (T::w_one(), T::w_mul) };
                let step = move |s, v: T, _| f(s, RElem::widen(v));
                if o.dtype == DType::I64 && !T::FLOAT {
                    let q = SendPtr(o.buf.as_ptr() as *mut i64);
                    scan_engine(x, off, dims, init, step, |i, s| unsafe { *q.at(i as isize) = T::w_i64(s) });
                } else {
                    let q = SendPtr(o.buf.as_ptr() as *mut T);
                    scan_engine(x, off, dims, init, step, |i, s| unsafe {
                        *q.at(i as isize) = if T::FLOAT { T::from_f64(T::w_f64(s)) } else { T::from_i64(T::w_i64(s)) }
                    });
                }
            }
            ScanOp::Max | ScanOp::Min => {
                let max = op == ScanOp::Max;
                let qv = SendPtr(outs[0].buf.as_ptr() as *mut T);
                let qi = SendPtr(outs[1].buf.as_ptr() as *mut i64);
                // Ties move the index forward; a NaN sticks once seen, and each later NaN takes
                // the index, as in torch.
                let step = move |s: (T, i64), v: T, k: usize| {
                    let take = s.1 < 0 || T::is_nan(v) || (!T::is_nan(s.0) && if max { v >= s.0 } else { v <= s.0 });
                    if take {
                        (v, k as i64)
                    } else {
                        s
                    }
                };
                scan_engine(x, off, dims, (T::default(), -1i64), step, |i, s| unsafe {
                    *qv.at(i as isize) = s.0;
                    *qi.at(i as isize) = s.1;
                });
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuBuffer;
    use crate::layout::Layout;

    #[test]
    fn cumsum_rows_and_columns() {
        let data: Vec<i32> = (0..12).collect();
        let buf = CpuBuffer::from_bytes(bytemuck::cast_slice(&data));
        let l = Layout::contiguous(&[3, 4]);
        let out = CpuBuffer::zeroed(12 * 8);
        scan(ScanOp::Sum, View::new(&buf, &l), DType::I32, 0, &[Out { buf: &out, dtype: DType::I64 }]).unwrap();
        let got: &[i64] = bytemuck::cast_slice(out.bytes());
        assert_eq!(got, &[0, 1, 2, 3, 4, 6, 8, 10, 12, 15, 18, 21]);
        scan(ScanOp::Sum, View::new(&buf, &l), DType::I32, 1, &[Out { buf: &out, dtype: DType::I64 }]).unwrap();
        let got: &[i64] = bytemuck::cast_slice(out.bytes());
        assert_eq!(got, &[0, 1, 3, 6, 4, 9, 15, 22, 8, 17, 27, 38]);
    }
}
