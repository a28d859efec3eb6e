//! Order-based kernels: sort, topk, kthvalue, median and mode over the rows along the last
//! dim of a contiguous tensor; grouping of equal rows (unique); binary search (searchsorted).
//! NaN orders above every number and equals nothing, as in torch.

use super::elementwise::View;
use super::reduce::{Out, RElem};
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::SelectOp;
use crate::with_dtype;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Ascending order with NaN last (NaNs tie with each other).
#[inline]
pub fn cmp_asc<T: RElem>(a: T, b: T) -> Ordering {
    match (T::is_nan(a), T::is_nan(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The contiguous elements of a view as a slice.
///
/// SAFETY: the view must be contiguous with `numel` elements of T.
unsafe fn as_slice<'a, T>(v: View<'a>) -> &'a [T] {
    std::slice::from_raw_parts((v.buf.as_ptr() as *const T).add(v.layout.offset), v.layout.numel())
}

fn check_contiguous(v: &View) -> Result<()> {
    if v.layout.is_contiguous() {
        Ok(())
    } else {
        Err(Error::runtime("sorting kernels expect contiguous inputs"))
    }
}

/// Applies `op` to each row along the last dim of contiguous `src`, writing
/// `op.out_len(n)` values and int64 indices per row into fresh contiguous outputs.
pub fn select(op: SelectOp, src: View, dtype: DType, values: Out, indices: Out) -> Result<()> {
    check_contiguous(&src)?;
    let n = src.layout.shape.last().copied().unwrap_or(1);
    let numel = src.layout.numel();
    if n == 0 || numel == 0 {
        return Ok(());
    }
    let rows = numel / n;
    with_dtype!(dtype, T, {
        // SAFETY: checked contiguous above.
        let x: &[T] = unsafe { as_slice(src) };
        let vo = SendPtr(values.buf.as_ptr() as *mut T);
        let io = SendPtr(indices.buf.as_ptr() as *mut i64);
        select_typed(op, x, rows, n, vo, io);
    });
    Ok(())
}

fn select_typed<T: RElem>(op: SelectOp, x: &[T], rows: usize, n: usize, vo: SendPtr<T>, io: SendPtr<i64>) {
    let k = op.out_len(n);
    // SAFETY: row r writes only its own k outputs.
    let put = |r: usize, j: usize, e: (T, i64)| unsafe {
        *vo.at((r * k + j) as isize) = e.0;
        *io.at((r * k + j) as isize) = e.1;
    };
    let by_value_then_index = |a: &(T, i64), b: &(T, i64)| cmp_asc(a.0, b.0).then(a.1.cmp(&b.1));
    let row_task = |r: usize, s: &mut Vec<(T, i64)>| {
        s.clear();
        s.extend(x[r * n..(r + 1) * n].iter().enumerate().map(|(i, &v)| (v, i as i64)));
        match op {
            SelectOp::Sort { descending, .. } => {
                // Always stable: a stable order is also a valid unstable one.
                if descending {
                    s.sort_by(|a, b| cmp_asc(b.0, a.0));
                } else {
                    s.sort_by(|a, b| cmp_asc(a.0, b.0));
                }
                for (j, &e) in s.iter().enumerate() {
                    put(r, j, e);
                }
            }
            SelectOp::TopK { k, largest, .. } => {
                let c = |a: &(T, i64), b: &(T, i64)| {
                    if largest {
                        cmp_asc(b.0, a.0).then(a.1.cmp(&b.1))
                    } else {
                        by_value_then_index(a, b)
                    }
                };
                if k == 0 {
                    return;
                }
                if k < n {
                    s.select_nth_unstable_by(k - 1, c);
                }
                s[..k].sort_by(c);
                for (j, &e) in s[..k].iter().enumerate() {
                    put(r, j, e);
                }
            }
            SelectOp::Kth { k } => {
                s.select_nth_unstable_by(k, by_value_then_index);
                put(r, 0, s[k]);
            }
            SelectOp::Median { skip_nan } => {
                if let Some(&e) = s.iter().find(|e| T::is_nan(e.0)) {
                    if !skip_nan {
                        put(r, 0, e);
                        return;
                    }
                    s.retain(|e| !T::is_nan(e.0));
                    if s.is_empty() {
                        put(r, 0, e);
                        return;
                    }
                }
                let m = (s.len() - 1) / 2;
                s.select_nth_unstable_by(m, by_value_then_index);
                put(r, 0, s[m]);
            }
            SelectOp::Mode => {
                s.sort_by(|a, b| cmp_asc(a.0, b.0));
                // The most frequent value, the smallest among ties, at its last position.
                let (mut best, mut best_count, mut count) = (s[0], 0usize, 0usize);
                for i in 0..s.len() {
                    count += 1;
                    if i + 1 == s.len() || s[i].0 != s[i + 1].0 {
                        if count > best_count {
                            best = s[i];
                            best_count = count;
                        }
                        count = 0;
                    }
                }
                put(r, 0, best);
            }
        }
    };
    let total = rows * n;
    if total < PARALLEL_THRESHOLD || rayon::current_num_threads() < 2 {
        let mut s = Vec::with_capacity(n);
        (0..rows).for_each(|r| row_task(r, &mut s));
    } else if rows == 1 && matches!(op, SelectOp::Sort { .. }) {
        let mut s: Vec<(T, i64)> = x.iter().enumerate().map(|(i, &v)| (v, i as i64)).collect();
        super::team::park_helpers();
        if let SelectOp::Sort { descending: true, .. } = op {
            s.par_sort_by(|a, b| cmp_asc(b.0, a.0));
        } else {
            s.par_sort_by(|a, b| cmp_asc(a.0, b.0));
        }
        for (j, &e) in s.iter().enumerate() {
            put(0, j, e);
        }
    } else {
        let chunks = (rayon::current_num_threads() * 4).min(rows);
        super::team::parallel_for(chunks, |c| {
            let mut s = Vec::with_capacity(n);
            for r in c * rows / chunks..(c + 1) * rows / chunks {
                row_task(r, &mut s);
            }
        });
    }
}

/// Groups of equal rows of a (rows, width) contiguous tensor.
pub struct Groups {
    /// One representative row per group, in output order.
    pub first: Vec<usize>,
    /// The group of each input row.
    pub inverse: Vec<i64>,
    pub counts: Vec<i64>,
}

/// Groups equal rows: runs of equal adjacent rows when `consecutive`, else equal rows
/// anywhere, with the groups in ascending (lexicographic) order.
pub fn unique_rows(src: View, dtype: DType, rows: usize, width: usize, consecutive: bool) -> Result<Groups> {
    check_contiguous(&src)?;
    Ok(with_dtype!(dtype, T, {
        // SAFETY: checked contiguous above.
        let x: &[T] = unsafe { as_slice(src) };
        group_rows(x, rows, width, consecutive)
    }))
}

fn group_rows<T: RElem>(x: &[T], rows: usize, width: usize, consecutive: bool) -> Groups {
    let row = |i: usize| &x[i * width..(i + 1) * width];
    let mut order: Vec<usize> = (0..rows).collect();
    if !consecutive {
        if width == 1 {
            let mut pairs: Vec<(T, usize)> = x.iter().copied().zip(0..rows).collect();
            if rows >= PARALLEL_THRESHOLD {
                super::team::park_helpers();
                pairs.par_sort_by(|a, b| cmp_asc(a.0, b.0));
            } else {
                pairs.sort_by(|a, b| cmp_asc(a.0, b.0));
            }
            order = pairs.into_iter().map(|p| p.1).collect();
        } else {
            order.sort_by(|&a, &b| {
                row(a).iter().zip(row(b)).map(|(&p, &q)| cmp_asc(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
            });
        }
    }
    let mut g = Groups { first: Vec::new(), inverse: vec![0; rows], counts: Vec::new() };
    for (i, &r) in order.iter().enumerate() {
        let same = i > 0 && row(order[i - 1]).iter().zip(row(r)).all(|(p, q)| p == q);
        if !same {
            g.first.push(r);
            g.counts.push(0);
        }
        let id = g.counts.len() - 1;
        g.counts[id] += 1;
        g.inverse[r] = id as i64;
    }
    g
}

/// For each value, the insertion point in its row of the sorted boundaries (torch's binary
/// search, so NaNs behave as in torch). `boundaries` is (rows, n) or 1-D (shared by every
/// value); `values` is (rows, k) or anything when the boundaries are 1-D. `sorter` holds each
/// boundary row's ascending order. Writes int64, or int32 when `out` is int32.
pub fn searchsorted(boundaries: View, values: View, dtype: DType, right: bool, sorter: Option<View>, out: Out) -> Result<()> {
    check_contiguous(&boundaries)?;
    check_contiguous(&values)?;
    let n = boundaries.layout.shape.last().copied().unwrap_or(1);
    let shared = boundaries.layout.ndim() <= 1;
    let nv = values.layout.numel();
    let k = if shared { nv.max(1) } else { values.layout.shape.last().copied().unwrap_or(1).max(1) };
    let sort: Option<&[i64]> = match sorter {
        Some(s) => {
            check_contiguous(&s)?;
            // SAFETY: checked contiguous; the tensor level passes int64 sorters.
            let s: &[i64] = unsafe { as_slice(s) };
            if s.iter().any(|&i| i < 0 || i as usize >= n) {
                return Err(Error::runtime("torch.searchsorted(): sorter index out of range"));
            }
            Some(s)
        }
        None => None,
    };
    let int32 = out.dtype == DType::I32;
    with_dtype!(dtype, T, {
        // SAFETY: both checked contiguous.
        let (b, v): (&[T], &[T]) = unsafe { (as_slice(boundaries), as_slice(values)) };
        let o64 = SendPtr(out.buf.as_ptr() as *mut i64);
        let o32 = SendPtr(out.buf.as_ptr() as *mut i32);
        let body = |e: usize| {
            let base = if shared { 0 } else { (e / k) * n };
            let x = v[e];
            let (mut lo, mut hi) = (0usize, n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let m = b[base + sort.map_or(mid, |s| s[base + mid] as usize)];
                let go_right = if right { !(m > x) } else { !(m >= x) };
                if go_right {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            // SAFETY: each value writes its own output.
            unsafe {
                if int32 {
                    *o32.at(e as isize) = lo as i32;
                } else {
                    *o64.at(e as isize) = lo as i64;
                }
            }
        };
        if nv >= PARALLEL_THRESHOLD / 8 {
            super::team::parallel_for_each(nv, 4096, body);
        } else {
            (0..nv).for_each(body);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_sorts_last_and_mode_prefers_small_values() {
        let mut v = vec![3.0f32, f32::NAN, 1.0, 2.0];
        v.sort_by(|a, b| cmp_asc(*a, *b));
        assert_eq!(&v[..3], &[1.0, 2.0, 3.0]);
        assert!(v[3].is_nan());
        let x = [1i64, 2, 2, 3, 3, 0];
        let mut vals = [0i64; 1];
        let mut idx = [0i64; 1];
        select_typed(SelectOp::Mode, &x, 1, 6, SendPtr(vals.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
        assert_eq!((vals[0], idx[0]), (2, 2));
    }

    #[test]
    fn groups_of_rows() {
        let x = [1i32, 2, 0, 5, 1, 2];
        let g = group_rows(&x, 3, 2, false);
        assert_eq!(g.first, vec![1, 0]);
        assert_eq!(g.inverse, vec![1, 0, 1]);
        assert_eq!(g.counts, vec![1, 2]);
    }
}
