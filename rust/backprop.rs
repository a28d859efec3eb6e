//! Backward rules: one arm per primitive, with the math in a comment. Rules are written with the
//! recording tensor ops, so under `create_graph` the gradients they build are differentiable
//! (second derivatives for free). Saved tensors come from the node (`node.saved(i)`), which
//! checks them against in-place modification.

use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::graph::{CustomBackward, Node};
use crate::indexing::TensorIndex;
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use crate::shape::Dims;
use crate::tensor::{Rhs, Tensor};
use std::sync::Arc;

/// A recorded op and the non-tensor facts its backward needs. Tensors it needs are saved on
/// the node, in the order noted per variant.
pub enum GradOp {
    /// saved: [x] or [out], see `unary_saves`.
    Unary(UnaryOp),
    /// `a op b` for two tensors; saved: [a, b] (+ [out] for pow).
    Binary(BinaryOp),
    /// `a op s`; saved: [a] (+ [out] for pow).
    Scalar(BinaryOp, Scalar),
    /// `s op a`; saved: [a, out].
    Reversed(BinaryOp, Scalar),
    /// A dtype conversion (`to`, `float()`, ...).
    ToDtype(DType),
    /// A move from the given device (`to(device)`, `cuda()`, `cpu()`).
    ToDevice(crate::device::Device),
    Clone,
    /// view/reshape/flatten/squeeze/unsqueeze: only the shape changes.
    Reshape(Dims, &'static str),
    /// permute/transpose/t: `inverse` undoes it.
    Permute(Vec<usize>, &'static str),
    /// expand/broadcast_to from `Dims`.
    Expand(Dims),
    /// A strided view (slice, select, narrow, diagonal, as_strided, unfold): `rel` is the
    /// view's layout over a contiguous input of shape `Dims`.
    ViewOf(Dims, Layout, &'static str),
    /// Advanced indexing `x[idx]` of an input of shape `Dims`.
    Index(Dims, Vec<TensorIndex>),
    /// `self.gather(dim, index)`; saved: [index].
    Gather(isize, Dims),
    /// `self.scatter_add(dim, index, src)`; saved: [index].
    ScatterAdd(isize),
    /// `self.scatter(dim, index, src)`; saved: [index].
    Scatter(isize),
    /// `where(cond, a, b)` with tensor (true) or scalar branches; saved: [cond].
    Where(bool, bool),
    /// `x.masked_fill(mask, v)`; saved: [mask].
    MaskedFill,
    /// `cat(tensors, dim)` of inputs with these sizes along dim.
    Cat(isize, Vec<usize>),
    Stack(isize),
    /// 2-D, batched and general matrix products; saved: [a, b].
    Mm,
    Bmm,
    Mv,
    Dot,
    Matmul,
    /// `sum(dims, keepdim)` of an input of shape `Dims`; `None` dims = all.
    Sum(Dims, Option<Vec<usize>>, bool),
    /// `mean`: as Sum, divided by the count.
    Mean(Dims, Option<Vec<usize>>, bool),
    /// `prod(dims, keepdim)`; saved: [x, out].
    Prod(Dims, Option<Vec<usize>>, bool),
    /// The 2-norm over dims; saved: [x, out].
    Norm2(Option<Vec<usize>>, bool),
    /// cumsum along a dim.
    Cumsum(usize),
    /// cumprod along a dim; saved: [x, out].
    Cumprod(usize),
    /// amax/amin/max/min without indices; saved: [x, out].
    Extreme(Option<Vec<usize>>, bool, &'static str),
    /// max/min/median/kthvalue/mode(dim) values; saved: [indices].
    IndexedReduce(Dims, usize, bool, &'static str),
    /// softmax / log_softmax over a dim; saved: [out].
    Softmax(usize),
    LogSoftmax(usize),
    /// An in-place write of `src` into the whole of self (`copy_`); input 0 is old self.
    Copy,
    /// `fill_`/`zero_` on a tensor with history: self becomes a constant (input 0 is old self).
    Fill(&'static str),
    /// An in-place write through a view: (old base, new view value) -> base; `Layout` places
    /// the view in the contiguous base.
    CopySlices(Layout),
    /// `self[idx] = value` recorded as an out-of-place op on (old self, value).
    IndexPut(Vec<TensorIndex>, bool),
    /// `self.masked_fill_(mask, tensor value)`... and other ops defined outside the core.
    Custom(Arc<dyn CustomBackward>),
}

impl GradOp {
    /// Whether torch records this op with the number as a second (wrapped, constant) input.
    pub fn has_wrapped_number_input(&self) -> bool {
        use BinaryOp as B;
        match self {
            GradOp::Scalar(op, _) => matches!(op, B::Add | B::Sub | B::Mul | B::Div),
            GradOp::Reversed(op, _) => matches!(op, B::Add | B::Mul),
            _ => false,
        }
    }

    /// torch's node name (what `grad_fn.name()` returns).
    pub fn name(&self) -> &'static str {
        use BinaryOp as B;
        use UnaryOp as U;
        match self {
            GradOp::Unary(op) => match op {
                U::Neg => "NegBackward0",
                U::Abs => "AbsBackward0",
                U::Sign => "SignBackward0",
                U::Exp => "ExpBackward0",
                U::Exp2 => "Exp2Backward0",
                U::Expm1 => "Expm1Backward0",
                U::Log => "LogBackward0",
                U::Log2 => "Log2Backward0",
                U::Log10 => "Log10Backward0",
                U::Log1p => "Log1PBackward0",
                U::Sqrt => "SqrtBackward0",
                U::Rsqrt => "RsqrtBackward0",
                U::Reciprocal => "ReciprocalBackward0",
                U::Square => "PowBackward0",
                U::Sin => "SinBackward0",
                U::Cos => "CosBackward0",
                U::Tan => "TanBackward0",
                U::Asin => "AsinBackward0",
                U::Acos => "AcosBackward0",
                U::Atan => "AtanBackward0",
                U::Sinh => "SinhBackward0",
                U::Cosh => "CoshBackward0",
                U::Tanh => "TanhBackward0",
                U::Asinh => "AsinhBackward0",
                U::Acosh => "AcoshBackward0",
                U::Atanh => "AtanhBackward0",
                U::Sigmoid => "SigmoidBackward0",
                U::Erf => "ErfBackward0",
                U::Erfc => "ErfcBackward0",
                U::Erfinv => "ErfinvBackward0",
                U::Floor => "FloorBackward0",
                U::Ceil => "CeilBackward0",
                U::Round => "RoundBackward0",
                U::Trunc => "TruncBackward0",
                U::Frac => "FracBackward0",
                U::Relu => "ReluBackward0",
                U::LogicalNot | U::BitNot => "NotImplemented",
            },
            GradOp::Binary(op) => match op {
                B::Add => "AddBackward0",
                B::Sub => "SubBackward0",
                B::Mul => "MulBackward0",
                B::Div => "DivBackward0",
                B::Pow => "PowBackward1",
                B::Maximum => "MaximumBackward0",
                B::Minimum => "MinimumBackward0",
                B::Atan2 => "Atan2Backward0",
                B::Remainder => "RemainderBackward1",
                B::Fmod => "FmodBackward1",
                _ => "NotImplemented",
            },
            GradOp::Scalar(op, _) => match op {
                B::Add => "AddBackward0",
                B::Sub => "SubBackward0",
                B::Mul => "MulBackward0",
                B::Div => "DivBackward0",
                B::Pow => "PowBackward0",
                B::Remainder => "RemainderBackward0",
                B::Fmod => "FmodBackward0",
                B::Maximum => "MaximumBackward0",
                B::Minimum => "MinimumBackward0",
                B::Atan2 => "Atan2Backward0",
                _ => "NotImplemented",
            },
            GradOp::Reversed(op, _) => match op {
                B::Add => "AddBackward0",
                B::Sub => "RsubBackward1",
                B::Mul | B::Div => "MulBackward0",
                B::Pow => "PowBackward2",
                B::Remainder => "RemainderBackward1",
                B::Fmod => "FmodBackward1",
                B::Maximum => "MaximumBackward0",
                B::Minimum => "MinimumBackward0",
                B::Atan2 => "Atan2Backward0",
                _ => "NotImplemented",
            },
            GradOp::ToDtype(_) | GradOp::ToDevice(_) => "ToCopyBackward0",
            GradOp::Clone => "CloneBackward0",
            GradOp::Reshape(_, name) | GradOp::Permute(_, name) | GradOp::ViewOf(_, _, name) => name,
            GradOp::Expand(_) => "ExpandBackward0",
            GradOp::Index(..) => "IndexBackward0",
            GradOp::Gather(..) => "GatherBackward0",
            GradOp::ScatterAdd(_) => "ScatterAddBackward0",
            GradOp::Scatter(_) => "ScatterBackward0",
            GradOp::Where(..) => "WhereBackward0",
            GradOp::MaskedFill => "MaskedFillBackward0",
            GradOp::Cat(..) => "CatBackward0",
            GradOp::Stack(_) => "StackBackward0",
            GradOp::Mm => "MmBackward0",
            GradOp::Bmm => "BmmBackward0",
            GradOp::Mv => "MvBackward0",
            GradOp::Dot => "DotBackward0",
            GradOp::Matmul => "UnsafeViewBackward0",
            GradOp::Sum(_, None, _) => "SumBackward0",
            GradOp::Sum(..) => "SumBackward1",
            GradOp::Mean(_, None, _) => "MeanBackward0",
            GradOp::Mean(..) => "MeanBackward1",
            GradOp::Prod(_, None, _) => "ProdBackward0",
            GradOp::Prod(..) => "ProdBackward1",
            GradOp::Norm2(..) => "LinalgVectorNormBackward0",
            GradOp::Cumsum(_) => "CumsumBackward0",
            GradOp::Cumprod(_) => "CumprodBackward0",
            GradOp::Extreme(_, _, name) | GradOp::IndexedReduce(_, _, _, name) => name,
            GradOp::Softmax(_) => "SoftmaxBackward0",
            GradOp::LogSoftmax(_) => "LogSoftmaxBackward0",
            GradOp::Copy => "CopyBackwards",
            GradOp::Fill(name) => name,
            GradOp::CopySlices(_) => "CopySlices",
            GradOp::IndexPut(_, true) => "IndexPutBackward0",
            GradOp::IndexPut(_, false) => "CopySlices",
            GradOp::Custom(_) => "CustomBackward",
        }
    }
}

/// cumprod's gradient without dividing by x: with `pre_k = prod_{i<k} x_i` and the suffix
/// recurrence `s_k = g_k + x_{k+1} s_{k+1}`, dx_k = pre_k s_k. One step per position along
/// the dim, so only used when x has zeros.
fn cumprod_backward_with_zeros(g: &Tensor, x: &Tensor, out: &Tensor, d: usize) -> Result<Tensor> {
    let n = x.shape()[d];
    if n == 0 {
        return zeros_like(x);
    }
    let dd = d as isize;
    let at = |t: &Tensor, k: usize| t.narrow(dd, k as i64, 1);
    let mut parts: Vec<Tensor> = Vec::with_capacity(n);
    let mut suffix = at(g, n - 1)?;
    for k in (0..n).rev() {
        if k + 1 < n {
            suffix = at(g, k)?.binary(BinaryOp::Add, &t(&mul(&at(x, k + 1)?, &suffix)?))?;
        }
        parts.push(if k == 0 { suffix.clone() } else { mul(&at(out, k - 1)?, &suffix)? });
    }
    parts.reverse();
    Tensor::cat(&parts, dd)
}

/// `sum_{j >= i} v_j` along dim d, summed from the end (not `total - cumsum + v`, whose
/// cancellation loses the small suffixes).
fn reversed_cumsum(v: &Tensor, d: usize) -> Result<Tensor> {
    if v.ndim() == 0 {
        return Ok(v.clone());
    }
    // reversal along d as a gather, its index built once for both flips
    let n = v.shape()[d];
    let mut at = vec![1i64; v.ndim()];
    at[d] = n as i64;
    let rev = Tensor::from_vec((0..n as i64).rev().collect::<Vec<i64>>(), &[n])?.to_device(v.device())?.reshape(&at)?.expand(&i64s(v.shape()))?;
    let dd = d as isize;
    v.gather(dd, &rev)?.cumulative(crate::op::ScanOp::Sum, dd, None)?.gather(dd, &rev)
}

/// Which tensor a unary rule needs: `Some(true)` its output, `Some(false)` its input.
pub fn unary_saves(op: UnaryOp) -> Option<bool> {
    use UnaryOp::*;
    match op {
        Exp | Exp2 | Expm1 | Sqrt | Rsqrt | Reciprocal | Tan | Tanh | Sigmoid | Erfinv | Relu => Some(true),
        Neg | Sign | Floor | Ceil | Round | Trunc | Frac | LogicalNot | BitNot => None,
        _ => Some(false),
    }
}

// ----- small recording helpers the rules read like math with ---------------------------------

fn s(v: f64) -> Rhs {
    Rhs::Scalar(Scalar::Float(v))
}
fn t(x: &Tensor) -> Rhs {
    Rhs::Tensor(x.clone())
}
fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.binary(BinaryOp::Mul, &t(b))
}
fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.binary(BinaryOp::Div, &t(b))
}
fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.binary(BinaryOp::Sub, &t(b))
}
fn muls(a: &Tensor, v: f64) -> Result<Tensor> {
    a.binary(BinaryOp::Mul, &s(v))
}
fn adds(a: &Tensor, v: f64) -> Result<Tensor> {
    a.binary(BinaryOp::Add, &s(v))
}
fn neg(a: &Tensor) -> Result<Tensor> {
    a.unary(UnaryOp::Neg)
}
fn un(a: &Tensor, op: UnaryOp) -> Result<Tensor> {
    a.unary(op)
}
fn zeros_like(a: &Tensor) -> Result<Tensor> {
    Tensor::zeros(a.shape(), a.dtype(), a.device())
}
/// A 0/1 float mask of `cmp(a, b)` in the dtype of `like`.
fn mask(a: &Tensor, op: CmpOp, b: &Rhs, like: &Tensor) -> Result<Tensor> {
    a.compare(op, b)?.to_dtype(like.dtype())
}
/// Restores reduced dims (size 1) so `g` broadcasts against the input again.
fn unsqueeze_dims(g: &Tensor, dims: &Option<Vec<usize>>, keepdim: bool, ndim: usize) -> Result<Tensor> {
    if keepdim {
        return Ok(g.clone());
    }
    let mut g = g.clone();
    let dims: Vec<usize> = match dims {
        None => (0..ndim).collect(),
        Some(d) if d.is_empty() => (0..ndim).collect(),
        Some(d) => d.clone(),
    };
    let mut sorted = dims;
    sorted.sort_unstable();
    for d in sorted {
        g = g.unsqueeze(d as isize)?;
    }
    Ok(g)
}
fn i64s(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}
/// zeros(shape) with `g` added at the flat positions `pos` (same shape as g); the adjoint of
/// reading `pos` out of a tensor of `shape`. Repeated positions accumulate.
fn scatter_flat(shape: &[usize], pos: &Tensor, g: &Tensor) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let z = Tensor::zeros(&[n], g.dtype(), g.device())?;
    let out = z.scatter_add(0, &pos.reshape(&[-1])?, &g.reshape(&[-1])?)?;
    out.view(&i64s(shape))
}

/// Runs the rule of `op` for one node: one gradient per output in (all present), one per input
/// out (`None` where the input gets none).
pub fn backward(op: &GradOp, node: &Arc<Node>, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    use BinaryOp as B;
    use UnaryOp as U;
    let g = grads[0].as_ref().expect("engine materialises output gradients");
    let saved = |i: usize| node.saved(i);
    let one = |x: Tensor| Ok(vec![Some(x)]);
    // Whether input i takes a gradient (it has an edge): the expensive rules skip the others, as
    // torch's `needs_input_grad` does (a first Linear layer never computes d input).
    let wants = |i: usize| node.next.get(i).is_none_or(|e| e.is_some());
    match op {
        GradOp::Unary(u) => {
            let r = match u {
                // d(-x) = -1
                U::Neg => neg(g)?,
                // piecewise constant: zero almost everywhere
                U::Sign | U::Floor | U::Ceil | U::Round | U::Trunc => zeros_like(g)?,
                // d frac(x) = 1
                U::Frac => g.clone(),
                // d|x| = sign(x)
                U::Abs => mul(g, &un(&saved(0)?, U::Sign)?)?,
                // d e^x = e^x
                U::Exp => mul(g, &saved(0)?)?,
                // d 2^x = 2^x ln 2
                U::Exp2 => muls(&mul(g, &saved(0)?)?, std::f64::consts::LN_2)?,
                // d (e^x - 1) = out + 1
                U::Expm1 => mul(g, &adds(&saved(0)?, 1.0)?)?,
                // d ln x = 1/x
                U::Log => div(g, &saved(0)?)?,
                U::Log2 => div(g, &muls(&saved(0)?, std::f64::consts::LN_2)?)?,
                U::Log10 => div(g, &muls(&saved(0)?, std::f64::consts::LN_10)?)?,
                // d ln(1+x) = 1/(1+x)
                U::Log1p => div(g, &adds(&saved(0)?, 1.0)?)?,
                // d sqrt x = 1/(2 out)
                U::Sqrt => div(g, &muls(&saved(0)?, 2.0)?)?,
                // d x^-1/2 = -1/2 out^3
                U::Rsqrt => {
                    let o = saved(0)?;
                    muls(&mul(g, &mul(&o, &mul(&o, &o)?)?)?, -0.5)?
                }
                // d 1/x = -out^2
                U::Reciprocal => {
                    let o = saved(0)?;
                    neg(&mul(g, &mul(&o, &o)?)?)?
                }
                // d x^2 = 2x
                U::Square => mul(g, &muls(&saved(0)?, 2.0)?)?,
                U::Sin => mul(g, &un(&saved(0)?, U::Cos)?)?,
                U::Cos => neg(&mul(g, &un(&saved(0)?, U::Sin)?)?)?,
                // d tan x = 1 + out^2
                U::Tan => {
                    let o = saved(0)?;
                    mul(g, &adds(&mul(&o, &o)?, 1.0)?)?
                }
                // d asin x = 1/sqrt(1-x^2), acos the negative
                U::Asin | U::Acos => {
                    let x = saved(0)?;
                    let r = div(g, &un(&neg(&adds(&mul(&x, &x)?, -1.0)?)?, U::Sqrt)?)?;
                    if *u == U::Acos {
                        neg(&r)?
                    } else {
                        r
                    }
                }
                // d atan x = 1/(1+x^2)
                U::Atan => {
                    let x = saved(0)?;
                    div(g, &adds(&mul(&x, &x)?, 1.0)?)?
                }
                U::Sinh => mul(g, &un(&saved(0)?, U::Cosh)?)?,
                U::Cosh => mul(g, &un(&saved(0)?, U::Sinh)?)?,
                // d tanh x = 1 - out^2
                U::Tanh => {
                    let o = saved(0)?;
                    mul(g, &neg(&adds(&mul(&o, &o)?, -1.0)?)?)?
                }
                // d asinh x = 1/sqrt(x^2+1)
                U::Asinh => {
                    let x = saved(0)?;
                    mul(g, &un(&adds(&mul(&x, &x)?, 1.0)?, U::Rsqrt)?)?
                }
                // d acosh x = 1/sqrt(x^2-1)
                U::Acosh => {
                    let x = saved(0)?;
                    mul(g, &un(&adds(&mul(&x, &x)?, -1.0)?, U::Rsqrt)?)?
                }
                // d atanh x = 1/(1-x^2)
                U::Atanh => {
                    let x = saved(0)?;
                    div(g, &neg(&adds(&mul(&x, &x)?, -1.0)?)?)?
                }
                // d sigmoid = out (1 - out)
                U::Sigmoid => {
                    let o = saved(0)?;
                    mul(g, &mul(&o, &neg(&adds(&o, -1.0)?)?)?)?
                }
                // d erf x = 2/sqrt(pi) e^{-x^2}; erfc the negative
                U::Erf | U::Erfc => {
                    let x = saved(0)?;
                    let k = if *u == U::Erf { 2.0 } else { -2.0 } / std::f64::consts::PI.sqrt();
                    muls(&mul(g, &un(&neg(&mul(&x, &x)?)?, U::Exp)?)?, k)?
                }
                // d erfinv x = sqrt(pi)/2 e^{out^2}
                U::Erfinv => {
                    let o = saved(0)?;
                    muls(&mul(g, &un(&mul(&o, &o)?, U::Exp)?)?, std::f64::consts::PI.sqrt() / 2.0)?
                }
                // d relu = [out > 0]
                U::Relu => {
                    let o = saved(0)?;
                    mul(g, &mask(&o, CmpOp::Gt, &s(0.0), g)?)?
                }
                U::LogicalNot | U::BitNot => return Ok(vec![None]),
            };
            one(r)
        }
        GradOp::Binary(b) => {
            // d(a+b) = (1, 1); d(a-b) = (1, -1)
            match b {
                B::Add => return Ok(vec![Some(g.clone()), Some(g.clone())]),
                B::Sub => return Ok(vec![Some(g.clone()), Some(neg(g)?)]),
                _ => {}
            }
            let (a, bb) = (saved(0)?, saved(1)?);
            let (ga, gb) = match b {
                // d(ab) = (b, a)
                B::Mul => (mul(g, &bb)?, mul(g, &a)?),
                // d(a/b) = (1/b, -a/b^2)
                B::Div => {
                    let ga = div(g, &bb)?;
                    (ga.clone(), neg(&mul(&ga, &div(&a, &bb)?)?)?)
                }
                // d a^b = (b a^(b-1), a^b ln a), the latter 0 where a = 0 and b >= 0
                B::Pow => {
                    let out = saved(2)?;
                    let ga = mul(g, &mul(&bb, &a.binary(B::Pow, &t(&adds(&bb, -1.0)?))?)?)?;
                    let gb = mul(g, &mul(&out, &un(&a, U::Log)?)?)?;
                    let zero = a.compare(CmpOp::Eq, &s(0.0))?;
                    let keep = bb.compare(CmpOp::Ge, &s(0.0))?;
                    let both = zero.compare(CmpOp::LogicalAnd, &t(&keep))?;
                    (ga, Tensor::where_(&both, &s(0.0), &t(&gb))?)
                }
                // the larger input gets the gradient, ties split it
                B::Maximum | B::Minimum => {
                    let (win, lose) = if *b == B::Maximum { (CmpOp::Gt, CmpOp::Lt) } else { (CmpOp::Lt, CmpOp::Gt) };
                    let tie = muls(&mask(&a, CmpOp::Eq, &t(&bb), g)?, 0.5)?;
                    let wa = mask(&a, win, &t(&bb), g)?.binary(B::Add, &t(&tie))?;
                    let wb = mask(&a, lose, &t(&bb), g)?.binary(B::Add, &t(&tie))?;
                    (mul(g, &wa)?, mul(g, &wb)?)
                }
                // d atan2(a, b) = (b, -a) / (a^2 + b^2)
                B::Atan2 => {
                    let r2 = mul(&a, &a)?.binary(B::Add, &t(&mul(&bb, &bb)?))?;
                    (mul(g, &div(&bb, &r2)?)?, neg(&mul(g, &div(&a, &r2)?)?)?)
                }
                // a - b floor(a/b): (1, -floor(a/b)); fmod with trunc
                B::Remainder | B::Fmod => {
                    let q = div(&a, &bb)?;
                    let q = un(&q, if *b == B::Remainder { U::Floor } else { U::Trunc })?;
                    (g.clone(), neg(&mul(g, &q)?)?)
                }
                _ => return Ok(vec![None, None]),
            };
            Ok(vec![Some(ga), Some(gb)])
        }
        GradOp::Scalar(b, sc) => {
            if matches!(b, B::Mul | B::Div) {
                // torch saves the wrapped number, so a second backward is refused
                node.check_not_freed()?;
            }
            let sv = sc.to_f64();
            let r = match b {
                B::Add | B::Sub => g.clone(),
                B::Mul => muls(g, sv)?,
                B::Div => muls(g, 1.0 / sv)?,
                // d a^s = s a^(s-1); s = 0 gives zeros
                B::Pow => {
                    if sv == 0.0 {
                        zeros_like(g)?
                    } else {
                        let a = saved(0)?;
                        muls(&mul(g, &a.binary(B::Pow, &s(sv - 1.0))?)?, sv)?
                    }
                }
                B::Remainder | B::Fmod => g.clone(),
                B::Maximum | B::Minimum => {
                    let a = saved(0)?;
                    let win = if *b == B::Maximum { CmpOp::Gt } else { CmpOp::Lt };
                    let tie = muls(&mask(&a, CmpOp::Eq, &s(sv), g)?, 0.5)?;
                    mul(g, &mask(&a, win, &s(sv), g)?.binary(B::Add, &t(&tie))?)?
                }
                B::Atan2 => {
                    let a = saved(0)?;
                    let r2 = adds(&mul(&a, &a)?, sv * sv)?;
                    muls(&div(g, &r2)?, sv)?
                }
                _ => return Ok(vec![None]),
            };
            one(r)
        }
        GradOp::Reversed(b, sc) => {
            if *b == B::Mul {
                node.check_not_freed()?;
            }
            let sv = sc.to_f64();
            let r = match b {
                B::Add => g.clone(),
                // d(s - a) = -1
                B::Sub => neg(g)?,
                B::Mul => muls(g, sv)?,
                // d(s/a) = -s/a^2 = -out/a
                B::Div => {
                    let (a, out) = (saved(0)?, saved(1)?);
                    neg(&mul(g, &div(&out, &a)?)?)?
                }
                // d s^a = s^a ln s (0 where s = 0 and a >= 0)
                B::Pow => {
                    let out = saved(1)?;
                    if sv == 0.0 {
                        zeros_like(g)?
                    } else {
                        muls(&mul(g, &out)?, sv.ln())?
                    }
                }
                // torch defines no derivative of remainder(Scalar, Tensor) and refuses
                B::Remainder => return Err(Error::runtime("derivative for aten::remainder is not implemented")),
                B::Fmod => {
                    let a = saved(0)?;
                    let q = un(&a.binary_reversed(B::Div, Scalar::Float(sv))?, U::Trunc)?;
                    neg(&mul(g, &q)?)?
                }
                B::Maximum | B::Minimum => {
                    let a = saved(0)?;
                    let win = if *b == B::Maximum { CmpOp::Gt } else { CmpOp::Lt };
                    let tie = muls(&mask(&a, CmpOp::Eq, &s(sv), g)?, 0.5)?;
                    mul(g, &mask(&a, win, &s(sv), g)?.binary(B::Add, &t(&tie))?)?
                }
                // d atan2(s, a) = -s / (s^2 + a^2)
                B::Atan2 => {
                    let a = saved(0)?;
                    let r2 = adds(&mul(&a, &a)?, sv * sv)?;
                    muls(&div(g, &r2)?, -sv)?
                }
                _ => return Ok(vec![None]),
            };
            one(r)
        }
        // the engine casts back to the input's dtype
        GradOp::ToDtype(from) => one(g.to_dtype(*from)?),
        // d(to(device))/dx moves the gradient back.
        GradOp::ToDevice(from) => one(g.to_device(*from)?),
        GradOp::Clone => one(g.clone()),
        GradOp::Reshape(shape, _) => one(g.reshape(&i64s(shape))?),
        GradOp::Permute(inverse, _) => {
            let dims: Vec<isize> = inverse.iter().map(|&d| d as isize).collect();
            one(g.permute(&dims)?)
        }
        // broadcast copies: sum them back
        GradOp::Expand(shape) => one(g.sum_to_size(shape)?),
        // the adjoint of reading positions `rel` of the input
        GradOp::ViewOf(shape, rel, _) => {
            let n: usize = shape.iter().product();
            let pos = Tensor::arange_i64(n)?.with_layout(rel.clone());
            one(scatter_flat(shape, &pos, g)?)
        }
        GradOp::Index(shape, idx) => {
            let n: usize = shape.iter().product();
            let pos = crate::indexing::index(&Tensor::arange_i64(n)?.view(&i64s(shape))?, idx)?;
            one(scatter_flat(shape, &pos, g)?)
        }
        // gather reads x[index]: scatter-add the gradient back
        GradOp::Gather(dim, shape) => {
            let index = saved(0)?;
            let z = Tensor::zeros(shape, g.dtype(), g.device())?;
            one(z.scatter_add(*dim, &index, g)?)
        }
        // out = self + scatter(src): (g, g[index])
        GradOp::ScatterAdd(dim) => {
            let index = saved(0)?;
            Ok(vec![Some(g.clone()), Some(g.gather(*dim, &index)?)])
        }
        // out = self with index positions overwritten by src: (g with zeros there, g[index])
        GradOp::Scatter(dim) => {
            let index = saved(0)?;
            let gs = g.scatter(*dim, &index, &s(0.0))?;
            Ok(vec![Some(gs), Some(g.gather(*dim, &index)?)])
        }
        GradOp::Where(ha, hb) => {
            let cond = saved(0)?;
            let mut out = Vec::new();
            if *ha {
                out.push(Some(Tensor::where_(&cond, &t(g), &s(0.0))?));
            }
            if *hb {
                out.push(Some(Tensor::where_(&cond, &s(0.0), &t(g))?));
            }
            Ok(out)
        }
        GradOp::MaskedFill => {
            let m = saved(0)?;
            one(Tensor::where_(&m, &s(0.0), &t(g))?)
        }
        GradOp::Cat(dim, sizes) => {
            let mut out = Vec::with_capacity(sizes.len());
            let mut start = 0i64;
            for &n in sizes {
                out.push(Some(g.narrow(*dim, start, n as i64)?));
                start += n as i64;
            }
            Ok(out)
        }
        GradOp::Stack(dim) => Ok(g.unbind(*dim)?.into_iter().map(Some).collect()),
        // C = AB: dA = dC B^T, dB = A^T dC
        GradOp::Mm | GradOp::Bmm => {
            let (a, b) = (saved(0)?, saved(1)?);
            let ga = if wants(0) { Some(g.matmul(&b.transpose(-1, -2)?)?) } else { None };
            let gb = if wants(1) { Some(a.transpose(-1, -2)?.matmul(g)?) } else { None };
            Ok(vec![ga, gb])
        }
        // y = A x: dA = dy x^T, dx = A^T dy
        GradOp::Mv => {
            let (a, x) = (saved(0)?, saved(1)?);
            Ok(vec![Some(g.unsqueeze(1)?.binary(B::Mul, &t(&x))?), Some(a.t()?.mv(g)?)])
        }
        GradOp::Dot => {
            let (a, b) = (saved(0)?, saved(1)?);
            Ok(vec![Some(mul(g, &b)?), Some(mul(g, &a)?)])
        }
        // The N-D product with 1-D operands promoted to matrices; the engine sums broadcast
        // batch dims back to each operand's shape.
        GradOp::Matmul => {
            let (a, b) = (saved(0)?, saved(1)?);
            let a2 = if a.ndim() == 1 { a.unsqueeze(0)? } else { a.clone() };
            let b2 = if b.ndim() == 1 { b.unsqueeze(1)? } else { b.clone() };
            let mut g2 = g.clone();
            if a.ndim() == 1 {
                g2 = g2.unsqueeze(if b.ndim() == 1 { 0 } else { -2 })?;
            }
            if b.ndim() == 1 {
                g2 = g2.unsqueeze(-1)?;
            }
            let ga = if wants(0) {
                let ga = g2.matmul(&b2.transpose(-1, -2)?)?;
                Some(if a.ndim() == 1 { ga.sum_to_size(&[1, a.shape()[0]])?.reshape(&[-1])? } else { ga })
            } else {
                None
            };
            let gb = if wants(1) {
                let gb = a2.transpose(-1, -2)?.matmul(&g2)?;
                Some(if b.ndim() == 1 { gb.sum_to_size(&[b.shape()[0], 1])?.reshape(&[-1])? } else { gb })
            } else {
                None
            };
            Ok(vec![ga, gb])
        }
        // every input element contributes once
        GradOp::Sum(shape, dims, keepdim) => {
            let g = unsqueeze_dims(g, dims, *keepdim, shape.len())?;
            one(g.expand(&i64s(shape))?.contiguous()?)
        }
        GradOp::Mean(shape, dims, keepdim) => {
            let n: usize = match dims {
                Some(d) if !d.is_empty() => d.iter().map(|&i| shape[i]).product(),
                _ => shape.iter().product(),
            };
            let g = unsqueeze_dims(g, dims, *keepdim, shape.len())?;
            one(muls(&g.expand(&i64s(shape))?, 1.0 / n as f64)?)
        }
        // d ||x|| / dx = x / ||x||, taken as 0 where the norm is 0 (torch's subgradient)
        GradOp::Norm2(dims, keepdim) => {
            let (x, out) = (saved(0)?, saved(1)?);
            let ndim = x.ndim();
            let g = unsqueeze_dims(g, dims, *keepdim, ndim)?;
            let out = unsqueeze_dims(&out, dims, *keepdim, ndim)?;
            let zero = out.compare(CmpOp::Eq, &s(0.0))?;
            let scale = Tensor::where_(&zero, &s(0.0), &t(&div(&g, &out)?))?;
            one(mul(&x, &scale)?)
        }
        // d prod / dx_i = product of the other elements: out / x_i without zeros; with one zero
        // in a slice only the zero's place gets the product of the rest; with two, nothing
        GradOp::Prod(_, dims, keepdim) => {
            let (x, out) = (saved(0)?, saved(1)?);
            let ndim = x.ndim();
            let rdims: Vec<isize> = match dims {
                Some(d) if !d.is_empty() => d.iter().map(|&i| i as isize).collect(),
                _ => (0..ndim as isize).collect(),
            };
            let g = unsqueeze_dims(g, dims, *keepdim, ndim)?;
            let out = unsqueeze_dims(&out, dims, *keepdim, ndim)?;
            let is_zero = x.compare(CmpOp::Eq, &s(0.0))?;
            let zeros = is_zero.to_dtype(x.dtype())?.sum(Some(&rdims), true, None)?;
            if zeros.compare(CmpOp::Ne, &s(0.0))?.to_vec::<bool>()?.iter().all(|z| !z) {
                return one(mul(&g, &div(&out, &x)?)?);
            }
            let x_safe = Tensor::where_(&is_zero, &s(1.0), &t(&x))?;
            let p_safe = x_safe.sum_like(crate::op::ReduceOp::Prod, Some(&rdims), true, None)?;
            let none = div(&p_safe, &x_safe)?;
            let single = Tensor::where_(&is_zero, &t(&p_safe), &s(0.0))?;
            let one_zero = zeros.compare(CmpOp::Eq, &s(1.0))?;
            let no_zero = zeros.compare(CmpOp::Eq, &s(0.0))?;
            let others = Tensor::where_(&no_zero, &t(&none), &t(&Tensor::where_(&one_zero, &t(&single), &s(0.0))?))?;
            one(mul(&g, &others)?)
        }
        // reversed cumulative sum: dx_i = sum_{j >= i} g_j
        GradOp::Cumsum(d) => one(reversed_cumsum(g, *d)?),
        // d out_j / d x_i = out_j / x_i for j >= i (inputs without zeros)
        GradOp::Cumprod(d) => {
            let (x, out) = (saved(0)?, saved(1)?);
            if x.compare(CmpOp::Eq, &s(0.0))?.to_vec::<bool>()?.iter().any(|&z| z) {
                return one(cumprod_backward_with_zeros(g, &x, &out, *d)?);
            }
            one(div(&reversed_cumsum(&mul(g, &out)?, *d)?, &x)?)
        }
        // the gradient goes to the extreme elements, split evenly between ties
        GradOp::Extreme(dims, keepdim, _) => {
            let (x, out) = (saved(0)?, saved(1)?);
            let ndim = x.ndim();
            let out = unsqueeze_dims(&out, dims, *keepdim, ndim)?;
            let g = unsqueeze_dims(g, dims, *keepdim, ndim)?;
            let hit = mask(&x, CmpOp::Eq, &t(&out), &g)?;
            let rdims: Vec<isize> = match dims {
                Some(d) if !d.is_empty() => d.iter().map(|&i| i as isize).collect(),
                _ => (0..ndim as isize).collect(),
            };
            let count = hit.sum(Some(&rdims), true, None)?;
            one(mul(&div(&hit, &count)?, &g)?)
        }
        // values = x.gather(dim, indices)
        GradOp::IndexedReduce(shape, dim, keepdim, _) => {
            let idx = saved(0)?;
            let (g, idx) = if *keepdim { (g.clone(), idx) } else { (g.unsqueeze(*dim as isize)?, idx.unsqueeze(*dim as isize)?) };
            let z = Tensor::zeros(shape, g.dtype(), g.device())?;
            one(z.scatter_add(*dim as isize, &idx, &g)?)
        }
        // dx = y (g - sum(g y))
        GradOp::Softmax(dim) => {
            let y = saved(0)?;
            let gy = mul(g, &y)?;
            let ssum = gy.sum(Some(&[*dim as isize]), true, None)?;
            one(sub(&gy, &mul(&y, &ssum)?)?)
        }
        // dx = g - e^y sum(g)
        GradOp::LogSoftmax(dim) => {
            let y = saved(0)?;
            let ssum = g.sum(Some(&[*dim as isize]), true, None)?;
            one(sub(g, &mul(&un(&y, U::Exp)?, &ssum)?)?)
        }
        // self is overwritten: (0, g) with src's gradient summed to its shape by the engine
        GradOp::Copy => Ok(vec![Some(zeros_like(g)?), Some(g.clone())]),
        GradOp::Fill(_) => one(zeros_like(g)?),
        // base with a view overwritten: the old base gets g outside the view, the value g inside
        GradOp::CopySlices(rel) => {
            let keep = Tensor::full(g.shape(), Scalar::Float(1.0), g.dtype(), g.device())?;
            keep.with_layout(rel.clone()).fill_(Scalar::Float(0.0))?;
            let gc = g.contiguous()?;
            let gv = gc.as_strided(&rel.shape, &rel.strides, Some(gc.offset() + rel.offset))?;
            Ok(vec![Some(mul(g, &keep)?), Some(gv)])
        }
        // self[idx] = v: old self gets g with the written places zeroed, v gets g[idx]
        GradOp::IndexPut(idx, _) => {
            let keep = Tensor::full(g.shape(), Scalar::Float(1.0), g.dtype(), g.device())?;
            crate::indexing::index_fill(&keep, idx, Scalar::Float(0.0))?;
            let gv = crate::indexing::index(g, idx)?;
            Ok(vec![Some(mul(g, &keep)?), Some(gv)])
        }
        GradOp::Custom(c) => c.backward(grads),
    }
    .map_err(|e: Error| e)
}
