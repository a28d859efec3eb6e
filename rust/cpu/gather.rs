//! Index-driven data movement: gather/scatter along a dim and the `where` select. Offsets come
//! from the shared strided loop; element bytes are moved by size, so one kernel serves every
//! dtype for pure copies.

use super::arith::Arith;
use super::elementwise::View;
use super::strided::{for_each_run, SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::with_dtype;

#[inline(always)]
unsafe fn copy_elem(src: *const u8, dst: *mut u8, es: usize) {
    match es {
        1 => *dst = *src,
        2 => *(dst as *mut u16) = *(src as *const u16),
        4 => *(dst as *mut u32) = *(src as *const u32),
        8 => *(dst as *mut u64) = *(src as *const u64),
        _ => std::ptr::copy_nonoverlapping(src, dst, es),
    }
}

/// out[p] = src[base(p) + index[p] * dim_stride], where `src_base` is src's layout restricted to
/// index's shape with stride 0 along the gathered dim. Indices are already bounds-checked.
pub fn gather(src_base: View, dim_stride: isize, index: View, out: View, es: usize) {
    let sp = SendPtr(src_base.buf.as_ptr());
    let ip = SendPtr(index.buf.as_ptr() as *mut i64);
    let op = SendPtr(out.buf.as_ptr());
    let shape = &out.layout.shape;
    let parallel = out.layout.numel() >= PARALLEL_THRESHOLD;
    for_each_run(
        shape,
        [&src_base.layout.strides, &index.layout.strides, &out.layout.strides],
        [src_base.layout.offset as isize, index.layout.offset as isize, out.layout.offset as isize],
        parallel,
        |[s, i, o], n, [ss, is, os]| unsafe {
            for k in 0..n as isize {
                let idx = *ip.at(i + k * is) as isize;
                let from = sp.at((s + k * ss + idx * dim_stride) * es as isize);
                copy_elem(from, op.at((o + k * os) * es as isize), es);
            }
        },
    );
}

/// How scatter combines a source value with the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScatterReduce {
    Replace,
    Sum,
    Prod,
    Amax,
    Amin,
}

/// dst[base(p) + index[p] * dim_stride] (op)= src[p]. Sequential, so duplicate indices combine
/// deterministically (the last write wins for Replace).
pub fn scatter(dst_base: View, dim_stride: isize, index: View, src: View, dtype: DType, reduce: ScatterReduce) {
    let ip = SendPtr(index.buf.as_ptr() as *mut i64);
    with_dtype!(dtype, T, {
        let dp = SendPtr(dst_base.buf.as_ptr() as *mut T);
        let sp = SendPtr(src.buf.as_ptr() as *mut T);
        for_each_run(
            &index.layout.shape,
            [&dst_base.layout.strides, &index.layout.strides, &src.layout.strides],
            [dst_base.layout.offset as isize, index.layout.offset as isize, src.layout.offset as isize],
            false,
            |[d, i, s], n, [ds, is, ss]| unsafe {
                for k in 0..n as isize {
                    let idx = *ip.at(i + k * is) as isize;
                    let at = dp.at(d + k * ds + idx * dim_stride);
                    let v = *sp.at(s + k * ss);
                    *at = match reduce {
                        ScatterReduce::Replace => v,
                        ScatterReduce::Sum => <T as Arith>::add(*at, v),
                        ScatterReduce::Prod => <T as Arith>::mul(*at, v),
                        ScatterReduce::Amax => <T as Arith>::maximum(*at, v),
                        ScatterReduce::Amin => <T as Arith>::minimum(*at, v),
                    };
                }
            },
        );
    })
}

/// dst[p] = cond[p] ? a[p] : b[p] over a common shape (dst may alias b).
pub fn select_where(cond: View, a: View, b: View, dst: View, es: usize) {
    let cp = SendPtr(cond.buf.as_ptr() as *mut bool);
    let ap = SendPtr(a.buf.as_ptr());
    let bp = SendPtr(b.buf.as_ptr());
    let dp = SendPtr(dst.buf.as_ptr());
    let parallel = dst.layout.numel() >= PARALLEL_THRESHOLD;
    for_each_run(
        &dst.layout.shape,
        [&cond.layout.strides, &a.layout.strides, &b.layout.strides, &dst.layout.strides],
        [cond.layout.offset as isize, a.layout.offset as isize, b.layout.offset as isize, dst.layout.offset as isize],
        parallel,
        |[c, x, y, d], n, [cs, xs, ys, dss]| unsafe {
            let e = es as isize;
            for k in 0..n as isize {
                let from = if *cp.at(c + k * cs) { ap.at((x + k * xs) * e) } else { bp.at((y + k * ys) * e) };
                copy_elem(from, dp.at((d + k * dss) * e), es);
            }
        },
    );
}
