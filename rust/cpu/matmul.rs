//! Batched matrix multiply over (buffer, layout) pairs: `out = beta * out + alpha * a @ b` for
//! every matrix of a shared (already broadcast) batch shape.
//!
//! float32/float64 go to the `gemm` crate with the operands' own strides, so a transposed or
//! sliced operand is read in place; an operand is copied only when neither of its matrix
//! strides is 1 (the packing routines then walk memory with no unit stride at all).
//! float16/bfloat16 are computed in float32 (as torch's CPU kernels accumulate in float) and
//! rounded once at the end. Integers use a blocked loop with wrapping arithmetic, which is
//! what torch's integer GEMM gives (C++ unsigned/two's-complement overflow).

use super::buffer::CpuBuffer;
use super::elementwise::{copy_cast, View};
use super::strided::SendPtr;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::shape::Dims;
use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many multiply-adds a product runs on the calling thread: handing it to the
/// pool costs more than it saves.
const SERIAL_MACS: usize = 64 * 64 * 64;
/// A batch whose matrices are at most this large is split across threads by matrix; larger
/// matrices are parallelised inside the GEMM instead.
const BATCH_PARALLEL_MACS: usize = 256 * 256 * 256;

/// One operand's matrix geometry: element offsets of each batch entry plus (row stride, col
/// stride).
struct Mat {
    offsets: Vec<isize>,
    rs: isize,
    cs: isize,
}

impl Mat {
    fn new(l: &Layout) -> Mat {
        let nd = l.ndim();
        debug_assert!(nd >= 2);
        let (rows, cols) = (l.shape[nd - 2], l.shape[nd - 1]);
        let (mut rs, mut cs) = (l.strides[nd - 2], l.strides[nd - 1]);
        // A size-1 dim's stride is never used; calling it 1 lets the unit-stride test see
        // vectors and single rows as the strided matrices they are.
        if cols == 1 {
            cs = 1;
        } else if rows == 1 {
            rs = 1;
        }
        Mat { offsets: batch_offsets(l), rs, cs }
    }
    fn has_unit_stride(&self) -> bool {
        self.rs == 1 || self.cs == 1
    }
}

/// The element offset of every matrix in the batch dims (all but the last two), row-major.
fn batch_offsets(l: &Layout) -> Vec<isize> {
    let nb = l.ndim() - 2;
    let shape = &l.shape[..nb];
    let strides = &l.strides[..nb];
    let count: usize = shape.iter().product();
    let mut out = Vec::with_capacity(count);
    let mut idx: Dims = smallvec::smallvec![0; nb];
    let mut off = l.offset as isize;
    for _ in 0..count {
        out.push(off);
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
    out
}

/// A contiguous copy of a strided operand, in `to`.
fn contiguous_copy(v: View, from: DType, to: DType) -> (CpuBuffer, Layout) {
    let l = Layout::contiguous(&v.layout.shape);
    let buf = CpuBuffer::uninit(l.numel() * to.size());
    copy_cast(v, from, View::new(&buf, &l), to);
    (buf, l)
}

/// `out = beta * out + alpha * a @ b`. Layouts: a `[..., m, k]`, b `[..., k, n]`, out
/// `[..., m, n]` with one batch shape (stride 0 allowed on a and b, not on out). `beta: None`
/// writes out without reading it, so NaN or garbage there never leaks in (torch's beta=0).
pub fn matmul(a: View, b: View, out: View, dtype: DType, alpha: Scalar, beta: Option<Scalar>) -> Result<()> {
    let nd = out.layout.ndim();
    if nd < 2 || a.layout.ndim() != nd || b.layout.ndim() != nd {
        return Err(Error::runtime("matmul kernel: operands must share a batch rank of at least 2 dims"));
    }
    let (m, n) = (out.layout.shape[nd - 2], out.layout.shape[nd - 1]);
    let k = a.layout.shape[nd - 1];
    if a.layout.shape[nd - 2] != m || b.layout.shape[nd - 2] != k || b.layout.shape[nd - 1] != n {
        return Err(Error::runtime("matmul kernel: inconsistent matrix sizes"));
    }
    if a.layout.shape[..nd - 2] != out.layout.shape[..nd - 2] || b.layout.shape[..nd - 2] != out.layout.shape[..nd - 2] {
        return Err(Error::runtime("matmul kernel: operands must share one batch shape"));
    }
    if out.layout.numel() == 0 {
        return Ok(());
    }
    match dtype {
        DType::F16 | DType::BF16 => {
            // Compute in float32 and round once.
            let (ab, al) = contiguous_copy(a, dtype, DType::F32);
            let (bb, bl) = contiguous_copy(b, dtype, DType::F32);
            let ol = Layout::contiguous(&out.layout.shape);
            let ob = match beta {
                Some(_) => contiguous_copy(out, dtype, DType::F32).0,
                None => CpuBuffer::uninit(ol.numel() * 4),
            };
            matmul(View::new(&ab, &al), View::new(&bb, &bl), View::new(&ob, &ol), DType::F32, alpha, beta)?;
            copy_cast(View::new(&ob, &ol), DType::F32, out, dtype);
            Ok(())
        }
        DType::Bool => Err(Error::Msg {
            kind: ErrorKind::NotImplemented,
            msg: "\"addmm_impl_cpu_\" not implemented for 'Bool'".into(),
        }),
        _ => {
            // Neither stride unit: copy once so the GEMM's packing reads whole cache lines.
            let a_mat = Mat::new(a.layout);
            let b_mat = Mat::new(b.layout);
            let a_copy = (!a_mat.has_unit_stride()).then(|| contiguous_copy(a, dtype, dtype));
            let b_copy = (!b_mat.has_unit_stride()).then(|| contiguous_copy(b, dtype, dtype));
            let a = a_copy.as_ref().map(|(buf, l)| View::new(buf, l)).unwrap_or(a);
            let b = b_copy.as_ref().map(|(buf, l)| View::new(buf, l)).unwrap_or(b);
            let (a_mat, b_mat) = (Mat::new(a.layout), Mat::new(b.layout));
            let o_mat = Mat::new(out.layout);
            crate::with_dtype!(dtype, T, {
                <T as GemmElem>::batched(a.buf, &a_mat, b.buf, &b_mat, out.buf, &o_mat, m, n, k, alpha, beta);
            });
            Ok(())
        }
    }
}

/// Element types with a GEMM: floats through the `gemm` crate, integers through a loop.
trait GemmElem: Copy + Send + Sync + 'static {
    /// One matrix: `c = beta * c + alpha * a @ b` (c not read when beta is None).
    /// # Safety
    /// The pointers and strides describe in-bounds matrices; c is not aliased.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_one(
        m: usize, n: usize, k: usize,
        a: *const Self, ars: isize, acs: isize,
        b: *const Self, brs: isize, bcs: isize,
        c: *mut Self, crs: isize, ccs: isize,
        alpha: Scalar, beta: Option<Scalar>, threaded: bool,
    );

    #[allow(clippy::too_many_arguments)]
    fn batched(
        abuf: &CpuBuffer, a: &Mat, bbuf: &CpuBuffer, b: &Mat, obuf: &CpuBuffer, o: &Mat,
        m: usize, n: usize, k: usize, alpha: Scalar, beta: Option<Scalar>,
    ) {
        let (ap, bp, op) = (SendPtr(abuf.as_ptr() as *mut Self), SendPtr(bbuf.as_ptr() as *mut Self), SendPtr(obuf.as_ptr() as *mut Self));
        let batch = o.offsets.len();
        let macs = m * n * k.max(1);
        let run = |i: usize, threaded: bool| unsafe {
            Self::gemm_one(
                m, n, k,
                ap.at(a.offsets[i]), a.rs, a.cs,
                bp.at(b.offsets[i]), b.rs, b.cs,
                op.at(o.offsets[i]), o.rs, o.cs,
                alpha, beta, threaded,
            )
        };
        let threads = rayon::current_num_threads();
        if batch > 1 && threads > 1 && macs <= BATCH_PARALLEL_MACS && macs * batch >= SERIAL_MACS {
            super::team::parallel_for(batch, |i| run(i, false));
        } else {
            let threaded = threads > 1 && macs >= SERIAL_MACS;
            for i in 0..batch {
                run(i, threaded);
            }
        }
    }
}

macro_rules! float_gemm {
    ($t:ty) => {
        impl GemmElem for $t {
            unsafe fn gemm_one(
                m: usize, n: usize, k: usize,
                a: *const Self, ars: isize, acs: isize,
                b: *const Self, brs: isize, bcs: isize,
                c: *mut Self, crs: isize, ccs: isize,
                alpha: Scalar, beta: Option<Scalar>, threaded: bool,
            ) {
                let (alpha, beta) = (alpha.to_f64() as $t, beta.map(|s| s.to_f64() as $t));
                if k == 0 {
                    scale_or_zero(c, m, n, crs, ccs, beta);
                    return;
                }
                let par = if threaded { Parallelism::Rayon(0) } else { Parallelism::None };
                if threaded {
                    super::team::park_helpers();
                }
                // gemm computes dst = alpha_g * dst + beta_g * lhs @ rhs (strides col-first).
                gemm::gemm(
                    m, n, k,
                    c, ccs, crs, beta.is_some(),
                    a, acs, ars,
                    b, bcs, brs,
                    beta.unwrap_or(0.0), alpha,
                    false, false, false, par,
                );
            }
        }
    };
}
float_gemm!(f32);
float_gemm!(f64);

/// `c = beta * c` (or zeros): the product of an empty inner dimension.
unsafe fn scale_or_zero<T: Copy + std::ops::Mul<Output = T> + Default>(c: *mut T, m: usize, n: usize, crs: isize, ccs: isize, beta: Option<T>) {
    for i in 0..m as isize {
        for j in 0..n as isize {
            let p = c.offset(i * crs + j * ccs);
            *p = match beta {
                Some(bv) => *p * bv,
                None => T::default(),
            };
        }
    }
}

/// Columns and depth handled per block of the integer loop: a 64 x 256 block of b stays in L2
/// while every row of a streams past it.
const INT_BLOCK_N: usize = 256;
const INT_BLOCK_K: usize = 64;

macro_rules! int_gemm {
    ($t:ty) => {
        impl GemmElem for $t {
            unsafe fn gemm_one(
                m: usize, n: usize, k: usize,
                a: *const Self, ars: isize, acs: isize,
                b: *const Self, brs: isize, bcs: isize,
                c: *mut Self, crs: isize, ccs: isize,
                alpha: Scalar, beta: Option<Scalar>, threaded: bool,
            ) {
                let alpha = alpha.to_i64() as $t;
                let beta = beta.map(|s| s.to_i64() as $t);
                let (ap, bp, cp) = (SendPtr(a as *mut $t), SendPtr(b as *mut $t), SendPtr(c));
                let row = move |i: usize, acc: &mut Vec<$t>| {
                    // Method calls capture the whole Send wrapper, not its raw-pointer field.
                    let a = ap.at(0) as *const $t;
                    let b = bp.at(0) as *const $t;
                    let c = cp.at(0);
                    acc.clear();
                    acc.resize(n, 0);
                    for j0 in (0..n).step_by(INT_BLOCK_N) {
                        let j1 = (j0 + INT_BLOCK_N).min(n);
                        for p0 in (0..k).step_by(INT_BLOCK_K) {
                            let p1 = (p0 + INT_BLOCK_K).min(k);
                            for p in p0..p1 {
                                let av = *a.offset(i as isize * ars + p as isize * acs);
                                if av == 0 {
                                    continue;
                                }
                                let brow = b.offset(p as isize * brs);
                                if bcs == 1 {
                                    for j in j0..j1 {
                                        acc[j] = acc[j].wrapping_add(av.wrapping_mul(*brow.add(j)));
                                    }
                                } else {
                                    for j in j0..j1 {
                                        acc[j] = acc[j].wrapping_add(av.wrapping_mul(*brow.offset(j as isize * bcs)));
                                    }
                                }
                            }
                        }
                    }
                    let crow = c.offset(i as isize * crs);
                    for j in 0..n {
                        let p = crow.offset(j as isize * ccs);
                        let prod = acc[j].wrapping_mul(alpha);
                        *p = match beta {
                            Some(bv) => (*p).wrapping_mul(bv).wrapping_add(prod),
                            None => prod,
                        };
                    }
                };
                if threaded && m > 1 {
                    super::team::park_helpers();
                    (0..m).into_par_iter().for_each_init(Vec::new, |acc, i| row(i, acc));
                } else {
                    let mut acc = Vec::new();
                    for i in 0..m {
                        row(i, &mut acc);
                    }
                }
            }
        }
    };
}
int_gemm!(u8);
int_gemm!(i8);
int_gemm!(i16);
int_gemm!(i32);
int_gemm!(i64);

// Reached only for dtypes `matmul` routes elsewhere; present so `with_dtype!` type-checks.
macro_rules! unreachable_gemm {
    ($t:ty) => {
        impl GemmElem for $t {
            unsafe fn gemm_one(
                _: usize, _: usize, _: usize,
                _: *const Self, _: isize, _: isize,
                _: *const Self, _: isize, _: isize,
                _: *mut Self, _: isize, _: isize,
                _: Scalar, _: Option<Scalar>, _: bool,
            ) {
                unreachable!("matmul converts this dtype before dispatch")
            }
        }
    };
}
unreachable_gemm!(bool);
unreachable_gemm!(half::f16);
unreachable_gemm!(half::bf16);

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference product in f64 over logical indices.
    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn buf_of<T: bytemuck::Pod>(v: &[T]) -> CpuBuffer {
        CpuBuffer::from_bytes(bytemuck::cast_slice(v))
    }

    fn read<T: bytemuck::Pod>(b: &CpuBuffer) -> Vec<T> {
        bytemuck::cast_slice(b.bytes()).to_vec()
    }

    #[test]
    fn float_gemm_with_every_stride_pattern() {
        let (m, k, n) = (37, 53, 29);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 13) as f64 - 6.0).collect();
        let want = naive(&a, &b, m, k, n);
        // a stored transposed (k x m contiguous) and viewed as m x k: column stride is m.
        let mut at = vec![0.0; m * k];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        // b embedded with a row stride of 2n and a column stride of 2 (neither unit: copied).
        let mut bs = vec![0.0; k * 2 * n];
        for p in 0..k {
            for j in 0..n {
                bs[p * 2 * n + 2 * j] = b[p * n + j];
            }
        }
        let cases: Vec<(Vec<f64>, Layout, Vec<f64>, Layout)> = vec![
            (a.clone(), Layout::contiguous(&[m, k]), b.clone(), Layout::contiguous(&[k, n])),
            (at.clone(), Layout::new(smallvec::SmallVec::from_slice(&[m, k]), smallvec::SmallVec::from_slice(&[1, m as isize]), 0), b.clone(), Layout::contiguous(&[k, n])),
            (a.clone(), Layout::contiguous(&[m, k]), bs.clone(), Layout::new(smallvec::SmallVec::from_slice(&[k, n]), smallvec::SmallVec::from_slice(&[2 * n as isize, 2]), 0)),
        ];
        for (av, al, bv, bl) in cases {
            for dt in [DType::F32, DType::F64] {
                let (ab, bb) = if dt == DType::F64 {
                    (buf_of(&av), buf_of(&bv))
                } else {
                    (buf_of(&av.iter().map(|&x| x as f32).collect::<Vec<_>>()), buf_of(&bv.iter().map(|&x| x as f32).collect::<Vec<_>>()))
                };
                let ol = Layout::contiguous(&[m, n]);
                let ob = CpuBuffer::zeroed(m * n * dt.size());
                matmul(View::new(&ab, &al), View::new(&bb, &bl), View::new(&ob, &ol), dt, Scalar::Int(1), None).unwrap();
                let got: Vec<f64> = if dt == DType::F64 { read::<f64>(&ob) } else { read::<f32>(&ob).iter().map(|&x| x as f64).collect() };
                assert_eq!(got, want, "{dt} {:?} {:?}", al.strides, bl.strides);
            }
        }
    }

    #[test]
    fn alpha_beta_and_broadcast_batch() {
        // Batch of 3 for a, b broadcast (stride 0) across it; out = 2*out + 3*a@b.
        let (m, k, n) = (4, 5, 6);
        let a: Vec<f32> = (0..3 * m * k).map(|i| (i % 9) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 4) as f32 - 1.0).collect();
        let (ab, bb) = (buf_of(&a), buf_of(&b));
        let al = Layout::contiguous(&[3, m, k]);
        let bl = Layout::new(smallvec::SmallVec::from_slice(&[3, k, n]), smallvec::SmallVec::from_slice(&[0, n as isize, 1]), 0);
        let o0: Vec<f32> = (0..3 * m * n).map(|i| i as f32).collect();
        let ob = buf_of(&o0);
        let ol = Layout::contiguous(&[3, m, n]);
        matmul(View::new(&ab, &al), View::new(&bb, &bl), View::new(&ob, &ol), DType::F32, Scalar::Int(3), Some(Scalar::Float(2.0))).unwrap();
        let got = read::<f32>(&ob);
        let bf: Vec<f64> = b.iter().map(|&x| x as f64).collect();
        for bi in 0..3 {
            let af: Vec<f64> = a[bi * m * k..(bi + 1) * m * k].iter().map(|&x| x as f64).collect();
            let p = naive(&af, &bf, m, k, n);
            for i in 0..m * n {
                assert_eq!(got[bi * m * n + i] as f64, 2.0 * o0[bi * m * n + i] as f64 + 3.0 * p[i]);
            }
        }
    }

    #[test]
    fn integers_wrap_and_empty_depth_scales() {
        let a: Vec<u8> = vec![100, 200, 0, 100];
        let b: Vec<u8> = vec![100, 200];
        let (ab, bb) = (buf_of(&a), buf_of(&b));
        let ob = CpuBuffer::zeroed(2);
        let (al, bl, ol) = (Layout::contiguous(&[2, 2]), Layout::contiguous(&[2, 1]), Layout::contiguous(&[2, 1]));
        matmul(View::new(&ab, &al), View::new(&bb, &bl), View::new(&ob, &ol), DType::U8, Scalar::Int(1), None).unwrap();
        let want: Vec<u8> = vec![(100u32 * 100 + 200 * 200) as u8, (100u32 * 200) as u8];
        assert_eq!(read::<u8>(&ob), want);
        // k = 0: out = beta * out.
        let e = CpuBuffer::zeroed(0);
        let ob = buf_of(&[1.5f32, 2.5]);
        let (al, bl, ol) = (Layout::contiguous(&[2, 0]), Layout::contiguous(&[0, 1]), Layout::contiguous(&[2, 1]));
        matmul(View::new(&e, &al), View::new(&e, &bl), View::new(&ob, &ol), DType::F32, Scalar::Int(1), Some(Scalar::Int(2))).unwrap();
        assert_eq!(read::<f32>(&ob), vec![3.0, 5.0]);
    }

    #[test]
    fn half_types_accumulate_in_f32() {
        use half::f16;
        // 2048 * 1 summed in f16 would stall at 2048; in f32 it is exact.
        let k = 4096;
        let a = vec![f16::from_f32(1.0); k];
        let (ab, bb) = (buf_of(&a), buf_of(&a));
        let ob = CpuBuffer::zeroed(2);
        let (al, bl, ol) = (Layout::contiguous(&[1, k]), Layout::contiguous(&[k, 1]), Layout::contiguous(&[1, 1]));
        matmul(View::new(&ab, &al), View::new(&bb, &bl), View::new(&ob, &ol), DType::F16, Scalar::Int(1), None).unwrap();
        assert_eq!(read::<f16>(&ob)[0].to_f32(), 4096.0);
    }
}
