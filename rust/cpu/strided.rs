//! The strided loop every CPU kernel runs on: coalesce dims across operands, then hand the
//! kernel one innermost run at a time (base offsets, length, inner strides). Large problems are
//! split across the threads (`team`); small ones stay on the calling thread with no handoff.

use crate::layout::coalesce;
use super::team;

/// Below this many elements a kernel runs on the calling thread (torch's grain size).
pub const PARALLEL_THRESHOLD: usize = 32 * 1024;

/// Calls `f(offsets, len, inner_strides)` once per innermost run of `shape`, where offsets are
/// element offsets of each of the N operands. Runs may execute concurrently when `parallel`.
pub fn for_each_run<const N: usize, F>(shape: &[usize], strides: [&[isize]; N], base: [isize; N], parallel: bool, f: F)
where
    F: Fn([isize; N], usize, [isize; N]) + Sync + Send,
{
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return;
    }
    let (cshape, cstrides) = coalesce(shape, &strides);
    if cshape.is_empty() {
        f(base, 1, [0; N]);
        return;
    }
    let nd = cshape.len();
    let inner = cshape[nd - 1];
    let inner_strides: [isize; N] = std::array::from_fn(|o| cstrides[o][nd - 1]);
    let outer_shape = &cshape[..nd - 1];
    let outer_count: usize = outer_shape.iter().product();

    let run_outer_range = |start: usize, end: usize| {
        // Multi-index of `start` over the outer dims, then step like an odometer.
        let mut idx = [0usize; 16];
        let mut offs = base;
        let mut rem = start;
        for d in (0..outer_shape.len()).rev() {
            idx[d] = rem % outer_shape[d];
            rem /= outer_shape[d];
            for o in 0..N {
                offs[o] += idx[d] as isize * cstrides[o][d];
            }
        }
        for _ in start..end {
            f(offs, inner, inner_strides);
            let mut d = outer_shape.len();
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                for o in 0..N {
                    offs[o] += cstrides[o][d];
                }
                if idx[d] < outer_shape[d] {
                    break;
                }
                for o in 0..N {
                    offs[o] -= cstrides[o][d] * outer_shape[d] as isize;
                }
                idx[d] = 0;
            }
        }
    };

    let threads = rayon::current_num_threads();
    if !parallel || numel < PARALLEL_THRESHOLD || threads <= 1 {
        if outer_shape.len() > 16 {
            unreachable!("coalesced rank above 16");
        }
        run_outer_range(0, outer_count);
        return;
    }
    // Static even shares, torch's OpenMP schedule: the team hands them over without waking a
    // parked thread, and thread t gets the same share of a repeated op (its cache stays warm).
    if outer_count >= threads * 4 || (outer_count >= threads && inner * 4 < numel / threads) {
        team::parallel_for(threads, |c| run_outer_range(c * outer_count / threads, (c + 1) * outer_count / threads));
    } else {
        // Few long runs: split each run itself, piece t of every run to thread t.
        team::parallel_for(outer_count * threads, |k| {
            let (row, piece) = (k / threads, k % threads);
            let s = piece * inner / threads;
            let e = (piece + 1) * inner / threads;
            if s == e {
                return;
            }
            let mut offs = base;
            let mut rem = row;
            for d in (0..outer_shape.len()).rev() {
                let i = rem % outer_shape[d];
                rem /= outer_shape[d];
                for o in 0..N {
                    offs[o] += i as isize * cstrides[o][d];
                }
            }
            for o in 0..N {
                offs[o] += s as isize * inner_strides[o];
            }
            f(offs, e - s, inner_strides);
        });
    }
}

/// A raw pointer that may cross into rayon's threads; kernels guarantee disjoint writes.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    #[inline(always)]
    pub fn at(self, off: isize) -> *mut T {
        // SAFETY: callers pass offsets inside the layout's storage span.
        unsafe { self.0.offset(off) }
    }
    /// `at` for pointers to non-Copy elements, which a closure borrows rather than copies.
    #[inline(always)]
    pub fn slot(&self, i: usize) -> *mut T {
        // SAFETY: callers pass indices inside the allocation.
        unsafe { self.0.add(i) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn visits_every_offset_once_in_parallel() {
        let shape = [37usize, 1, 2000];
        let strides: [isize; 3] = [1, 1, 37];
        let seen = Mutex::new(vec![0u8; 37 * 2000]);
        for_each_run(&shape, [&strides], [0], true, |[o], n, [s]| {
            let mut g = seen.lock().unwrap();
            for i in 0..n as isize {
                g[(o + i * s) as usize] += 1;
            }
        });
        assert!(seen.into_inner().unwrap().iter().all(|&c| c == 1));
    }
}
