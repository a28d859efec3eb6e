//! Autograd for the reductions in `reduce.rs`: each public reduction hands over to the
//! matching method here when an input requires grad. The forward runs untracked; the result
//! is recorded with its rule (`backprop.rs`), or rebuilt from recording ops where the op is a
//! composite in math terms (var/std, logsumexp, norms).

use crate::backprop::GradOp;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::graph::{self, GradModeGuard};
use crate::op::{BinaryOp, ReduceOp, ScanOp, UnaryOp};
use crate::shape::{wrap_dim, Dims};
use crate::tensor::{Rhs, Tensor};
use smallvec::SmallVec;

fn shape_of(t: &Tensor) -> Dims {
    SmallVec::from_slice(t.shape())
}

/// Reduced dims as positions (None = all).
fn dim_list(dims: Option<&[isize]>, ndim: usize) -> Result<Option<Vec<usize>>> {
    match dims {
        None => Ok(None),
        Some(d) if d.is_empty() => Ok(None),
        Some(d) => Ok(Some(d.iter().map(|&x| wrap_dim(x, ndim.max(1))).collect::<Result<Vec<_>>>()?.into_iter().map(|x| x.min(ndim.saturating_sub(1))).collect())),
    }
}

/// Runs `f` untracked.
fn untracked<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _off = GradModeGuard::new(false);
    f()
}

impl Tensor {
    pub(crate) fn sum_like_grad(&self, op: ReduceOp, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        let out = untracked(|| self.sum_like(op, dims, keepdim, dtype))?;
        let dl = dim_list(dims, self.ndim())?;
        match op {
            ReduceOp::Sum => {
                graph::record(&[&out], &[self], GradOp::Sum(shape_of(self), dl, keepdim), &[]);
            }
            ReduceOp::NanSum => {
                // nansum = sum of x with NaNs zeroed, so the NaN places get no gradient
                let clean = self.unary(UnaryOp::Neg)?.unary(UnaryOp::Neg)?; // keeps history
                let isnan = self.compare(crate::op::CmpOp::Ne, &Rhs::Tensor(self.clone()))?;
                let masked = Tensor::where_(&isnan, &Rhs::Scalar(Scalar::Float(0.0)), &Rhs::Tensor(clean))?;
                return masked.sum(dims, keepdim, dtype);
            }
            ReduceOp::Prod => {
                // d prod / dx_i = prod of the others: exclusive cumulative products from both
                // sides, so zeros are handled exactly.
                graph::record(&[&out], &[self], GradOp::Prod(shape_of(self), dl, keepdim), &[(self, false), (&out, true)]);
            }
            _ => {}
        }
        Ok(out)
    }

    pub(crate) fn mean_grad(&self, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>, skip_nan: bool) -> Result<Tensor> {
        if skip_nan {
            let isnan = self.compare(crate::op::CmpOp::Ne, &Rhs::Tensor(self.clone()))?;
            let kept = Tensor::where_(&isnan, &Rhs::Scalar(Scalar::Float(0.0)), &Rhs::Tensor(self.clone()))?;
            let count = isnan.unary(UnaryOp::LogicalNot)?.sum(dims, keepdim, None)?;
            return kept.sum(dims, keepdim, dtype)?.binary(BinaryOp::Div, &Rhs::Tensor(count));
        }
        let out = untracked(|| self.mean(dims, keepdim, dtype, false))?;
        let dl = dim_list(dims, self.ndim())?;
        graph::record(&[&out], &[self], GradOp::Mean(shape_of(self), dl, keepdim), &[]);
        Ok(out)
    }

    /// var/std from recording ops: sum((x - mean)^2) / (n - correction), sqrt for std.
    pub(crate) fn var_std_grad(&self, dims: Option<&[isize]>, correction: f64, keepdim: bool, std: bool, with_mean: bool) -> Result<Vec<Tensor>> {
        let n = self.reduction_count(dims)? as f64;
        let mean = self.mean(dims, true, None, false)?;
        let d = self.binary(BinaryOp::Sub, &Rhs::Tensor(mean.clone()))?;
        let ss = d.binary(BinaryOp::Mul, &Rhs::Tensor(d.clone()))?.sum(dims, keepdim, None)?;
        let mut v = ss.binary(BinaryOp::Div, &Rhs::Scalar(Scalar::Float((n - correction).max(0.0))))?;
        if std {
            v = v.unary(UnaryOp::Sqrt)?;
        }
        let mut out = vec![v];
        if with_mean {
            out.push(if keepdim { mean } else { self.mean(dims, false, None, false)? });
        }
        Ok(out)
    }

    pub(crate) fn amax_grad(&self, dims: Option<&[isize]>, keepdim: bool, max: bool, name: &str) -> Result<Tensor> {
        let out = untracked(|| self.amax(dims, keepdim, max, name))?;
        let dl = dim_list(dims, self.ndim())?;
        let node_name = match (dims.is_none(), max) {
            (true, true) if name == "max" => "MaxBackward1",
            (true, false) if name == "min" => "MinBackward1",
            (_, true) => "AmaxBackward0",
            (_, false) => "AminBackward0",
        };
        graph::record(&[&out], &[self], GradOp::Extreme(dl, keepdim, node_name), &[(self, false), (&out, true)]);
        Ok(out)
    }

    /// Records (values, indices) where values = x.gather(dim, indices) (with the dim squeezed
    /// unless `keepdim`).
    pub(crate) fn record_indexed(&self, out: (Tensor, Tensor), dim: isize, keepdim: bool, name: &'static str) -> Result<(Tensor, Tensor)> {
        let d = wrap_dim(dim, self.ndim().max(1))?.min(self.ndim().saturating_sub(1));
        let (v, i) = out;
        if self.ndim() == 0 {
            graph::record(&[&v], &[self], GradOp::Clone, &[]);
            return Ok((v, i));
        }
        graph::record(&[&v], &[self], GradOp::IndexedReduce(shape_of(self), d, keepdim, name), &[(&i, false)]);
        Ok((v, i))
    }

    pub(crate) fn logsumexp_grad(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        // m + log(sum(exp(x - m))) with m the (constant) max: exact gradient softmax(x)
        let m = untracked(|| self.amax(Some(dims), true, true, "logsumexp"))?;
        let inf = m.unary(UnaryOp::Abs)?.compare(crate::op::CmpOp::Eq, &Rhs::Scalar(Scalar::Float(f64::INFINITY)))?;
        let m = Tensor::where_(&inf, &Rhs::Scalar(Scalar::Float(0.0)), &Rhs::Tensor(m))?;
        let e = self.binary(BinaryOp::Sub, &Rhs::Tensor(m.clone()))?.unary(UnaryOp::Exp)?;
        let s = e.sum(Some(dims), true, None)?.unary(UnaryOp::Log)?.binary(BinaryOp::Add, &Rhs::Tensor(m))?;
        if keepdim {
            Ok(s)
        } else {
            s.squeeze(Some(dims))
        }
    }

    pub(crate) fn vector_norm_grad(&self, p: f64, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        let x = match dtype {
            Some(d) => self.to_dtype(d)?,
            None => self.clone(),
        };
        let a = x.unary(UnaryOp::Abs)?;
        if p == f64::INFINITY || p == f64::NEG_INFINITY {
            return a.amax(dims, keepdim, p > 0.0, "linalg.vector_norm");
        }
        if p == 0.0 {
            return untracked(|| self.vector_norm(p, dims, keepdim, dtype));
        }
        if p == 2.0 {
            let out = untracked(|| x.vector_norm(p, dims, keepdim, None))?;
            let dl = dim_list(dims, x.ndim())?;
            graph::record(&[&out], &[&x], GradOp::Norm2(dl, keepdim), &[(&x, false), (&out, true)]);
            return Ok(out);
        }
        if p == 1.0 {
            return a.sum(dims, keepdim, None);
        }
        a.binary(BinaryOp::Pow, &Rhs::Scalar(Scalar::Float(p)))?
            .sum(dims, keepdim, None)?
            .binary(BinaryOp::Pow, &Rhs::Scalar(Scalar::Float(1.0 / p)))
    }

    pub(crate) fn cumulative_grad(&self, op: ScanOp, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
        let out = untracked(|| self.cumulative(op, dim, dtype))?;
        let d = wrap_dim(dim, self.ndim().max(1))?;
        match op {
            ScanOp::Sum => {
                graph::record(&[&out], &[self], GradOp::Cumsum(d), &[]);
            }
            ScanOp::Prod => {
                graph::record(&[&out], &[self], GradOp::Cumprod(d), &[(self, false), (&out, true)]);
            }
            _ => return Err(Error::runtime("cumulative max/min go through cummax/cummin")),
        }
        Ok(out)
    }

    pub(crate) fn softmax_grad(&self, dim: isize, dtype: Option<DType>, log: bool) -> Result<Tensor> {
        let x = match dtype {
            Some(d) => self.to_dtype(d)?,
            None => self.clone(),
        };
        let out = untracked(|| x.softmax(dim, None, log))?;
        let d = wrap_dim(dim, self.ndim().max(1))?;
        let op = if log { GradOp::LogSoftmax(d) } else { GradOp::Softmax(d) };
        graph::record(&[&out], &[&x], op, &[(&out, true)]);
        Ok(out)
    }
}
