//! Elementwise CPU kernels over (buffer, layout) pairs: casts and copies, fills, unary and
//! binary maps. Outputs are written through a (buffer, layout) too, so in-place ops and
//! out-of-place ops share one code path. Kernels know nothing about autograd.

use super::arith::{Arith, Bits, FloatMath};
use super::buffer::CpuBuffer;
use super::strided::{for_each_run, SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::{DType, Elem, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use crate::with_dtype;
use num_traits::Float;

/// A typed strided view of a buffer for one kernel call.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub buf: &'a CpuBuffer,
    pub layout: &'a Layout,
}

impl<'a> View<'a> {
    pub fn new(buf: &'a CpuBuffer, layout: &'a Layout) -> Self {
        View { buf, layout }
    }
    #[inline]
    fn ptr<T>(&self) -> SendPtr<T> {
        SendPtr(self.buf.as_ptr() as *mut T)
    }
}

/// dst[i] = f(src[i]) over a common shape.
pub fn map1<S: Elem, D: Elem>(src: View, dst: View, f: impl Fn(S) -> D + Sync + Send) {
    let (sp, dp) = (src.ptr::<S>(), dst.ptr::<D>());
    let shape = &dst.layout.shape;
    let parallel = shape.iter().product::<usize>() >= PARALLEL_THRESHOLD;
    for_each_run(
        shape,
        [&src.layout.strides, &dst.layout.strides],
        [src.layout.offset as isize, dst.layout.offset as isize],
        parallel,
        |[so, do_], n, [ss, ds]| unsafe {
            let s = sp.at(so) as *const S;
            let d = dp.at(do_);
            if ss == 1 && ds == 1 {
                for i in 0..n {
                    *d.add(i) = f(*s.add(i));
                }
            } else if ss == 0 && ds == 1 {
                let v = f(*s);
                for i in 0..n {
                    *d.add(i) = v;
                }
            } else {
                for i in 0..n as isize {
                    *d.offset(i * ds) = f(*s.offset(i * ss));
                }
            }
        },
    );
}

/// dst[i] = f(a[i], b[i]) over a common (already broadcast) shape.
pub fn map2<A: Elem, B: Elem, D: Elem>(a: View, b: View, dst: View, f: impl Fn(A, B) -> D + Sync + Send) {
    let (ap, bp, dp) = (a.ptr::<A>(), b.ptr::<B>(), dst.ptr::<D>());
    let shape = &dst.layout.shape;
    let parallel = shape.iter().product::<usize>() >= PARALLEL_THRESHOLD;
    for_each_run(
        shape,
        [&a.layout.strides, &b.layout.strides, &dst.layout.strides],
        [a.layout.offset as isize, b.layout.offset as isize, dst.layout.offset as isize],
        parallel,
        |[ao, bo, do_], n, [sa, sb, sd]| unsafe {
            let x = ap.at(ao) as *const A;
            let y = bp.at(bo) as *const B;
            let d = dp.at(do_);
            if sd == 1 && sa == 1 && sb == 1 {
                for i in 0..n {
                    *d.add(i) = f(*x.add(i), *y.add(i));
                }
            } else if sd == 1 && sa == 1 && sb == 0 {
                let yv = *y;
                for i in 0..n {
                    *d.add(i) = f(*x.add(i), yv);
                }
            } else if sd == 1 && sa == 0 && sb == 1 {
                let xv = *x;
                for i in 0..n {
                    *d.add(i) = f(xv, *y.add(i));
                }
            } else {
                for i in 0..n as isize {
                    *d.offset(i * sd) = f(*x.offset(i * sa), *y.offset(i * sb));
                }
            }
        },
    );
}

/// dst[i] = f(a[i], s) with a scalar operand.
pub fn map_scalar<A: Elem, D: Elem>(a: View, s: A, dst: View, f: impl Fn(A, A) -> D + Sync + Send) {
    map1(a, dst, move |x: A| f(x, s))
}

/// Copies src into dst (same shape), converting dtypes.
pub fn copy_cast(src: View, sd: DType, dst: View, dd: DType) {
    if sd == dd && try_fast_copy(src, dst, sd.size()) {
        return;
    }
    with_dtype!(sd, S, {
        with_dtype!(dd, D, {
            if sd == dd {
                map1::<S, S>(src, dst, |x| x);
            } else {
                map1::<S, D>(src, dst, <D as Elem>::cast::<S>);
            }
        })
    })
}

/// memcpy for contiguous pairs and a cache-blocked transpose for the common "transposed source,
/// contiguous destination" copy. Returns false when neither applies.
fn try_fast_copy(src: View, dst: View, esize: usize) -> bool {
    let n = dst.layout.numel();
    if n == 0 {
        return true;
    }
    if src.layout.is_contiguous() && dst.layout.is_contiguous() {
        unsafe {
            let s = src.buf.as_ptr().add(src.layout.offset * esize);
            let d = dst.buf.as_ptr().add(dst.layout.offset * esize);
            // Split like for_each_run's contiguous case, so each thread copies what it
            // produced in the op before (a single thread pulling the other core's half of a
            // 256 KB result out of its L2 took twice as long as the whole copy).
            if n >= PARALLEL_THRESHOLD {
                let chunk = (n * esize).div_ceil(rayon::current_num_threads());
                let (sp, dp) = (SendPtr(s), SendPtr(d));
                super::team::parallel_for((n * esize).div_ceil(chunk), |c| {
                    let start = c * chunk;
                    let len = chunk.min(n * esize - start);
                    std::ptr::copy(sp.at(start as isize), dp.at(start as isize), len);
                });
            } else {
                std::ptr::copy(s, d, n * esize);
            }
        }
        return true;
    }
    let (shape, strides) = crate::layout::coalesce(&dst.layout.shape, &[&src.layout.strides, &dst.layout.strides]);
    let nd = shape.len();
    if nd >= 2 && strides[1][nd - 1] == 1 && strides[0][nd - 2] == 1 && strides[0][nd - 1] != 1 && strides[1][nd - 2] == shape[nd - 1] as isize {
        match esize {
            1 => transpose_copy::<u8>(src, dst, &shape, &strides),
            2 => transpose_copy::<u16>(src, dst, &shape, &strides),
            4 => transpose_copy::<u32>(src, dst, &shape, &strides),
            8 => transpose_copy::<u64>(src, dst, &shape, &strides),
            _ => return false,
        }
        return true;
    }
    false
}

fn transpose_copy<T: Copy + Send + Sync>(src: View, dst: View, shape: &[usize], strides: &[crate::shape::Strides]) {
    const B: usize = 32;
    let nd = shape.len();
    let (rows, cols) = (shape[nd - 2], shape[nd - 1]);
    let batch: usize = shape[..nd - 2].iter().product();
    let s_col = strides[0][nd - 1];
    let sp = SendPtr(src.buf.as_ptr() as *mut T);
    let dp = SendPtr(dst.buf.as_ptr() as *mut T);
    let row_blocks = rows.div_ceil(B);
    let task = |k: usize| {
        let (b, rb) = (k / row_blocks, k % row_blocks);
        let mut so = src.layout.offset as isize;
        let mut do_ = dst.layout.offset as isize;
        let mut rem = b;
        for d in (0..nd - 2).rev() {
            let i = (rem % shape[d]) as isize;
            rem /= shape[d];
            so += i * strides[0][d];
            do_ += i * strides[1][d];
        }
        let r0 = rb * B;
        let r1 = (r0 + B).min(rows);
        let mut c0 = 0;
        while c0 < cols {
            let c1 = (c0 + B).min(cols);
            for r in r0..r1 {
                for c in c0..c1 {
                    unsafe {
                        *dp.at(do_ + (r * cols + c) as isize) = *sp.at(so + r as isize + c as isize * s_col);
                    }
                }
            }
            c0 = c1;
        }
    };
    let tasks = batch * row_blocks;
    if rows * cols * batch >= PARALLEL_THRESHOLD {
        super::team::parallel_for(tasks, task);
    } else {
        (0..tasks).for_each(task);
    }
}

pub fn fill(dst: View, dd: DType, value: Scalar) {
    with_dtype!(dd, D, {
        let v: D = value.to_elem();
        let dp = dst.ptr::<D>();
        let parallel = dst.layout.numel() >= PARALLEL_THRESHOLD;
        for_each_run(&dst.layout.shape, [&dst.layout.strides], [dst.layout.offset as isize], parallel, |[o], n, [s]| unsafe {
            let d = dp.at(o);
            for i in 0..n as isize {
                *d.offset(i * s) = v;
            }
        });
    })
}

/// Binary arithmetic on inputs already in `dtype`; `b` may be a scalar.
pub fn binary(op: BinaryOp, a: View, b: Operand, dst: View, dtype: DType) -> Result<()> {
    macro_rules! run {
        ($T:ty, $f:expr) => {{
            let f = $f;
            match b {
                Operand::Tensor(bv) => map2::<$T, $T, $T>(a, bv, dst, f),
                Operand::Scalar(s) => map_scalar::<$T, $T>(a, s.to_elem::<$T>(), dst, f),
            }
        }};
    }
    use BinaryOp::*;
    match op {
        BitAnd | BitOr | BitXor | Shl | Shr => {
            with_bits_dtype(dtype, op.name(), |d| {
                macro_rules! bits {
                    ($T:ty) => {
                        match op {
                            BitAnd => run!($T, <$T as Bits>::and),
                            BitOr => run!($T, <$T as Bits>::or),
                            BitXor => run!($T, <$T as Bits>::xor),
                            Shl => run!($T, <$T as Bits>::shl),
                            _ => run!($T, <$T as Bits>::shr),
                        }
                    };
                }
                match d {
                    DType::Bool => bits!(bool),
                    DType::U8 => bits!(u8),
                    DType::I8 => bits!(i8),
                    DType::I16 => bits!(i16),
                    DType::I32 => bits!(i32),
                    _ => bits!(i64),
                }
            })?;
            return Ok(());
        }
        Atan2 => {
            return with_float_dtype(dtype, op.name(), |d| {
                macro_rules! fl {
                    ($T:ty) => {
                        run!($T, |x: $T, y: $T| <$T as FloatMath>::down(x.up().atan2(y.up())))
                    };
                }
                match d {
                    DType::F32 => fl!(f32),
                    DType::F64 => fl!(f64),
                    DType::F16 => fl!(half::f16),
                    _ => fl!(half::bf16),
                }
            });
        }
        _ => {}
    }
    with_dtype!(dtype, T, {
        match op {
            Add => run!(T, <T as Arith>::add),
            Sub => run!(T, <T as Arith>::sub),
            Mul => run!(T, <T as Arith>::mul),
            Div => run!(T, <T as Arith>::div),
            FloorDiv => run!(T, <T as Arith>::floor_div),
            TruncDiv => run!(T, <T as Arith>::trunc_div),
            Remainder => run!(T, <T as Arith>::remainder),
            Fmod => run!(T, <T as Arith>::fmod),
            Pow => run!(T, <T as Arith>::pow),
            Maximum => run!(T, <T as Arith>::maximum),
            Minimum => run!(T, <T as Arith>::minimum),
            _ => unreachable!(),
        }
    });
    Ok(())
}

/// The second operand of a binary kernel: a tensor view or a Python number.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    Tensor(View<'a>),
    Scalar(Scalar),
}

/// Comparisons and logical ops; inputs in `dtype`, output bool.
pub fn compare(op: CmpOp, a: View, b: Operand, dst: View, dtype: DType) {
    with_dtype!(dtype, T, {
        macro_rules! run {
            ($f:expr) => {{
                let f = $f;
                match b {
                    Operand::Tensor(bv) => map2::<T, T, bool>(a, bv, dst, f),
                    Operand::Scalar(s) => map_scalar::<T, bool>(a, s.to_elem::<T>(), dst, f),
                }
            }};
        }
        match op {
            CmpOp::Eq => run!(|x: T, y: T| x == y),
            CmpOp::Ne => run!(|x: T, y: T| x != y),
            CmpOp::Lt => run!(|x: T, y: T| x < y),
            CmpOp::Le => run!(|x: T, y: T| x <= y),
            CmpOp::Gt => run!(|x: T, y: T| x > y),
            CmpOp::Ge => run!(|x: T, y: T| x >= y),
            CmpOp::LogicalAnd => run!(|x: T, y: T| x.to_bool() && y.to_bool()),
            CmpOp::LogicalOr => run!(|x: T, y: T| x.to_bool() || y.to_bool()),
            CmpOp::LogicalXor => run!(|x: T, y: T| x.to_bool() != y.to_bool()),
        }
    })
}

fn with_bits_dtype(dtype: DType, op: &'static str, f: impl FnOnce(DType)) -> Result<()> {
    if dtype.is_float() {
        let name = match op {
            "bitwise_and" => "bitwise_and_cpu",
            "bitwise_or" => "bitwise_or_cpu",
            "bitwise_xor" => "bitwise_xor_cpu",
            "bitwise_left_shift" => "lshift_cpu",
            _ => "rshift_cpu",
        };
        return Err(Error::not_implemented_for(name, dtype));
    }
    f(dtype);
    Ok(())
}

fn with_float_dtype(dtype: DType, op: &'static str, f: impl FnOnce(DType)) -> Result<()> {
    if !dtype.is_float() {
        return Err(Error::not_implemented_for(op, dtype));
    }
    f(dtype);
    Ok(())
}

/// Unary ops. Float-only ops expect a float `dtype` (callers promote integers first).
pub fn unary(op: UnaryOp, src: View, dst: View, dtype: DType) -> Result<()> {
    use UnaryOp::*;
    if op == LogicalNot {
        with_dtype!(dtype, T, { map1::<T, bool>(src, dst, |x: T| !x.to_bool()) });
        return Ok(());
    }
    if op == BitNot {
        return with_bits_dtype(dtype, "bitwise_not_cpu", |d| match d {
            DType::Bool => int_bitnot::<bool>(src, dst),
            DType::U8 => int_bitnot::<u8>(src, dst),
            DType::I8 => int_bitnot::<i8>(src, dst),
            DType::I16 => int_bitnot::<i16>(src, dst),
            DType::I32 => int_bitnot::<i32>(src, dst),
            _ => int_bitnot::<i64>(src, dst),
        });
    }
    if !dtype.is_float() {
        with_dtype!(dtype, T, {
            match op {
                Neg => {
                    if dtype == DType::Bool {
                        return Err(Error::Msg {
                            kind: crate::error::ErrorKind::NotImplemented,
                            msg: "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
                        });
                    }
                    map1::<T, T>(src, dst, <T as Arith>::neg)
                }
                Abs => map1::<T, T>(src, dst, <T as Arith>::abs),
                Sign => map1::<T, T>(src, dst, <T as Arith>::sign),
                Square => map1::<T, T>(src, dst, |x: T| <T as Arith>::mul(x, x)),
                Relu => map1::<T, T>(src, dst, |x: T| if x > T::default() { x } else { T::default() }),
                Floor | Ceil | Round | Trunc => map1::<T, T>(src, dst, |x: T| x),
                _ => return Err(Error::not_implemented_for(op.name(), dtype)),
            }
        });
        return Ok(());
    }
    if dtype == DType::F32 && matches!(op, Exp | Sigmoid) {
        let vop = if op == Exp { super::vmath::VOp::Exp } else { super::vmath::VOp::Sigmoid };
        super::vmath::map_f32(vop, src, dst);
        return Ok(());
    }
    match dtype {
        DType::F32 => float_unary::<f32>(op, src, dst),
        DType::F64 => float_unary::<f64>(op, src, dst),
        DType::F16 => float_unary::<half::f16>(op, src, dst),
        _ => float_unary::<half::bf16>(op, src, dst),
    }
    Ok(())
}

fn int_bitnot<T: Elem>(src: View, dst: View)
where
    T: Bits,
{
    map1::<T, T>(src, dst, <T as Bits>::not)
}

fn float_unary<T: FloatMath>(op: UnaryOp, src: View, dst: View) {
    use UnaryOp::*;
    macro_rules! go {
        ($f:expr) => {{
            let f = $f;
            map1::<T, T>(src, dst, move |x: T| T::down(f(x.up())))
        }};
    }
    type A<T> = <T as FloatMath>::Acc;
    let one = <A<T> as num_traits::One>::one();
    match op {
        Neg => go!(|x: A<T>| -x),
        Abs => go!(|x: A<T>| x.abs()),
        Sign => map1::<T, T>(src, dst, <T as Arith>::sign),
        Exp => go!(|x: A<T>| x.exp()),
        Exp2 => go!(|x: A<T>| x.exp2()),
        Expm1 => go!(|x: A<T>| x.exp_m1()),
        Log => go!(|x: A<T>| x.ln()),
        Log2 => go!(|x: A<T>| x.log2()),
        Log10 => go!(|x: A<T>| x.log10()),
        Log1p => go!(|x: A<T>| x.ln_1p()),
        Sqrt => go!(|x: A<T>| x.sqrt()),
        Rsqrt => go!(move |x: A<T>| one / x.sqrt()),
        Reciprocal => go!(move |x: A<T>| one / x),
        Square => go!(|x: A<T>| x * x),
        Sin => go!(|x: A<T>| x.sin()),
        Cos => go!(|x: A<T>| x.cos()),
        Tan => go!(|x: A<T>| x.tan()),
        Asin => go!(|x: A<T>| x.asin()),
        Acos => go!(|x: A<T>| x.acos()),
        Atan => go!(|x: A<T>| x.atan()),
        Sinh => go!(|x: A<T>| x.sinh()),
        Cosh => go!(|x: A<T>| x.cosh()),
        Tanh => go!(|x: A<T>| x.tanh()),
        Asinh => go!(|x: A<T>| x.asinh()),
        Acosh => go!(|x: A<T>| x.acosh()),
        Atanh => go!(|x: A<T>| x.atanh()),
        Sigmoid => go!(move |x: A<T>| one / (one + (-x).exp())),
        Erf => go!(|x: A<T>| A::<T>::from_f64(libm::erf(x.to_f64()))),
        Erfc => go!(|x: A<T>| A::<T>::from_f64(libm::erfc(x.to_f64()))),
        Erfinv => go!(|x: A<T>| A::<T>::from_f64(erfinv(x.to_f64()))),
        Floor => go!(|x: A<T>| x.floor()),
        Ceil => go!(|x: A<T>| x.ceil()),
        // Round half to even, as torch.round.
        Round => go!(|x: A<T>| A::<T>::from_f64(x.to_f64().round_ties_even())),
        Trunc => go!(|x: A<T>| x.trunc()),
        Frac => go!(|x: A<T>| x - x.trunc()),
        Relu => go!(|x: A<T>| if x > <A<T> as num_traits::Zero>::zero() { x } else if x.is_nan() { x } else { <A<T> as num_traits::Zero>::zero() }),
        LogicalNot | BitNot => unreachable!(),
    }
}

/// Inverse error function: Giles' single-precision polynomial refined by two Newton steps.
pub fn erfinv(y: f64) -> f64 {
    if y <= -1.0 {
        return if y == -1.0 { f64::NEG_INFINITY } else { f64::NAN };
    }
    if y >= 1.0 {
        return if y == 1.0 { f64::INFINITY } else { f64::NAN };
    }
    let w = -((1.0 - y) * (1.0 + y)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        p = 3.432_739_39e-07 + p * w;
        p = -3.523_387_7e-06 + p * w;
        p = -4.391_506_54e-06 + p * w;
        p = 0.000_218_580_87 + p * w;
        p = -0.001_253_725_03 + p * w;
        p = -0.004_177_681_64 + p * w;
        p = 0.246_640_727 + p * w;
        p = 1.501_409_41 + p * w;
        p * y
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        p = 0.000_100_950_558 + p * w;
        p = 0.001_349_343_22 + p * w;
        p = -0.003_673_428_44 + p * w;
        p = 0.005_739_507_73 + p * w;
        p = -0.007_622_461_3 + p * w;
        p = 0.009_438_870_47 + p * w;
        p = 1.001_674_06 + p * w;
        p = 2.832_976_82 + p * w;
        p * y
    };
    let k = 2.0 / std::f64::consts::PI.sqrt();
    for _ in 0..2 {
        let err = libm::erf(x) - y;
        x -= err / (k * (-x * x).exp());
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf_f32(v: &[f32]) -> CpuBuffer {
        CpuBuffer::from_bytes(bytemuck::cast_slice(v))
    }
    fn read_f32(b: &CpuBuffer, n: usize) -> Vec<f32> {
        bytemuck::cast_slice::<u8, f32>(&b.bytes()[..n * 4]).to_vec()
    }

    #[test]
    fn broadcast_add_over_strided_views() {
        let a = buf_f32(&(0..6).map(|x| x as f32).collect::<Vec<_>>());
        let b = buf_f32(&[10.0, 20.0, 30.0]);
        // a viewed as 3x2 transposed from 2x3, b broadcast along rows.
        let la = Layout::contiguous(&[2, 3]).transpose(0, 1).unwrap();
        let lb = Layout::contiguous(&[3]).unsqueeze(1).unwrap().broadcast_to(&[3, 2]).unwrap();
        let out = CpuBuffer::uninit(6 * 4);
        let lo = Layout::contiguous(&[3, 2]);
        binary(BinaryOp::Add, View::new(&a, &la), Operand::Tensor(View::new(&b, &lb)), View::new(&out, &lo), DType::F32).unwrap();
        assert_eq!(read_f32(&out, 6), vec![10.0, 13.0, 21.0, 24.0, 32.0, 35.0]);
    }

    #[test]
    fn transposed_copy_matches_naive() {
        let (r, c) = (70, 45);
        let data: Vec<f32> = (0..r * c).map(|x| x as f32).collect();
        let a = buf_f32(&data);
        let src = Layout::contiguous(&[r, c]).transpose(0, 1).unwrap();
        let out = CpuBuffer::uninit(r * c * 4);
        copy_cast(View::new(&a, &src), DType::F32, View::new(&out, &Layout::contiguous(&[c, r])), DType::F32);
        let got = read_f32(&out, r * c);
        for i in 0..c {
            for j in 0..r {
                assert_eq!(got[i * r + j], data[j * c + i]);
            }
        }
    }

    #[test]
    fn erfinv_inverts_erf() {
        for &y in &[-0.999, -0.5, 0.0, 0.3, 0.9, 0.999999] {
            assert!((libm::erf(erfinv(y)) - y).abs() < 1e-12);
        }
    }
}
