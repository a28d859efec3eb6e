//! Counting kernels: bincount (optionally weighted) and histc (equal-width bins).

use super::elementwise::View;
use super::reduce::Out;
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::with_dtype;

/// Visits the elements of a view in logical order.
fn for_each<T: Copy>(v: View, mut f: impl FnMut(usize, T)) {
    let p = v.buf.as_ptr() as *const T;
    for (i, off) in v.layout.offsets().enumerate() {
        // SAFETY: offsets come from the layout, inside the buffer.
        f(i, unsafe { *p.add(off) });
    }
}

/// Counts of each value of the 1-D non-negative integer `src` into `nbins` bins (values are
/// already checked to be in range), weighted when `weights` is given. Writes int64 counts, or
/// the weight sums in `out.dtype`.
pub fn bincount(src: View, dtype: DType, weights: Option<(View, DType)>, nbins: usize, out: Out) -> Result<()> {
    let mut bins: Vec<i64> = Vec::with_capacity(src.layout.numel());
    with_dtype!(dtype, T, { for_each::<T>(src, |_, v| bins.push(v.to_i64())) });
    match weights {
        None => {
            let mut counts = vec![0i64; nbins];
            for &b in &bins {
                counts[b as usize] += 1;
            }
            write_as(out, &counts.iter().map(|&c| c as f64).collect::<Vec<_>>(), Some(&counts));
        }
        Some((w, wd)) => {
            let mut sums = vec![0f64; nbins];
            with_dtype!(wd, W, { for_each::<W>(w, |i, x| sums[bins[i] as usize] += x.to_f64()) });
            write_as(out, &sums, None);
        }
    }
    Ok(())
}

fn write_as(out: Out, vals: &[f64], ints: Option<&[i64]>) {
    with_dtype!(out.dtype, O, {
        let p = out.buf.as_ptr() as *mut O;
        for (i, &v) in vals.iter().enumerate() {
            let x = match ints {
                Some(c) => O::from_i64(c[i]),
                None => O::from_f64(v),
            };
            // SAFETY: `out` is a fresh buffer of vals.len() elements.
            unsafe { *p.add(i) = x };
        }
    })
}

/// A histogram of the floating `src` over [lo, hi] in `bins` equal bins; elements outside
/// (and NaN) are ignored, `hi` falls in the last bin. Writes counts in `dtype`.
pub fn histc(src: View, dtype: DType, bins: usize, lo: f64, hi: f64, out: Out) -> Result<()> {
    let mut counts = vec![0f64; bins];
    with_dtype!(dtype, T, {
        // torch's histc maps an element to its bin by one division, without searching the
        // edges, with each operation rounded to the input dtype (the half types round through
        // float32); replaying that puts elements near an edge in torch's bin.
        let round = |v: f64| if dtype == DType::F64 { v } else { <T as Elem>::from_f64(v as f32 as f64).to_f64() };
        let (lo, hi) = (round(lo), round(hi));
        let (n, width) = (round(bins as f64), round(hi - lo));
        for_each::<T>(src, |_, v| {
            let x = v.to_f64();
            if !(x >= lo && x <= hi) {
                return;
            }
            let pos = round(round(round(x - lo) * n) / width) as usize;
            counts[pos.min(bins - 1)] += 1.0;
        });
    });
    write_as(out, &counts, None);
    Ok(())
}
