//! Reductions, scans, softmax and order-based ops on tensors: torch's dim handling (int or
//! list, negative, None = all), keepdim, result dtypes and error messages. The kernels run
//! through `Storage`; nothing here touches elements.

use crate::cpu::sort::Groups;
use crate::dtype::{default_float, result_type, DType, Priority, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::indexing::{self, TensorIndex};
use crate::op::{ReduceOp, ScanOp, SelectOp};
use crate::shape::{fmt_shape, wrap_dim};
use crate::storage::Storage;
use crate::tensor::Tensor;

fn not_implemented(msg: impl Into<String>) -> Error {
    Error::Msg { kind: ErrorKind::NotImplemented, msg: msg.into() }
}

/// A number as torch's messages print a double: `1`, `1.5`, `inf`, `nan`.
fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The dims a reduction removes, as flags: None or an empty list means all dims.
pub fn reduce_mask(dims: Option<&[isize]>, ndim: usize) -> Result<Vec<bool>> {
    let mut mask = vec![dims.is_none_or(|d| d.is_empty()); ndim];
    let mut seen_scalar_dim = false;
    // every dim is range-checked before any repetition is reported (torch's order)
    for &d in dims.unwrap_or(&[]) {
        wrap_dim(d, ndim)?;
    }
    for &d in dims.unwrap_or(&[]) {
        let w = wrap_dim(d, ndim)?;
        let seen = if ndim == 0 { std::mem::replace(&mut seen_scalar_dim, true) } else { std::mem::replace(&mut mask[w], true) };
        if seen {
            return Err(Error::runtime(format!("dim {w} appears multiple times in the list of dims")));
        }
    }
    Ok(mask)
}

/// A tensor's dtype for torch's kernel messages (`Long`).
fn kname(d: DType) -> &'static str {
    d.torch_kernel_name()
}

/// The dtype sums and products produce: int64 for integers and bool.
fn sum_dtype(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::I64
    }
}

impl Tensor {
    /// Runs reduction `op` over the flagged dims into fresh outputs of `out_dtypes`.
    fn reduce_into(&self, op: ReduceOp, mask: &[bool], keepdim: bool, out_dtypes: &[DType]) -> Result<Vec<Tensor>> {
        let kept: Vec<usize> = self.shape().iter().zip(mask).filter(|(_, &m)| !m).map(|(&s, _)| s).collect();
        let outs: Vec<Tensor> = out_dtypes.iter().map(|&d| Tensor::empty(&kept, d, self.device())).collect::<Result<_>>()?;
        let targets: Vec<(&Storage, DType)> = outs.iter().map(|t| (t.storage(), t.dtype())).collect();
        self.storage().reduce(op, self.layout(), self.dtype(), mask, &targets)?;
        if !keepdim {
            return Ok(outs);
        }
        let shape: Vec<i64> = self.shape().iter().zip(mask).map(|(&s, &m)| if m { 1 } else { s as i64 }).collect();
        outs.iter().map(|t| t.view(&shape)).collect()
    }

    fn reduce1(&self, op: ReduceOp, mask: &[bool], keepdim: bool, out: DType) -> Result<Tensor> {
        Ok(self.reduce_into(op, mask, keepdim, &[out])?.remove(0))
    }

    /// Errors for reductions without an identity (max, argmax, ...) over empty dims.
    fn check_nonempty_dims(&self, name: &str, mask: &[bool], all_dims: bool, sep: &str) -> Result<()> {
        if self.numel() != 0 {
            return Ok(());
        }
        if all_dims {
            return Err(Error::runtime(format!(
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            )));
        }
        for (d, (&s, &m)) in self.shape().iter().zip(mask).enumerate() {
            if m && s == 0 {
                return Err(Error::index(format!("{name}{sep} Expected reduction dim {d} to have non-zero size.")));
            }
        }
        Ok(())
    }

    /// sum, nansum or prod. Integer and bool inputs give int64; `dtype` casts the input first.
    pub fn sum_like(&self, op: ReduceOp, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.sum_like_grad(op, dims, keepdim, dtype);
        }
        let mask = reduce_mask(dims, self.ndim())?;
        let out = dtype.unwrap_or_else(|| sum_dtype(self.dtype()));
        let direct = out == self.dtype() || (out == DType::I64 && !self.dtype().is_float());
        let src = if direct { self.clone() } else { self.to_dtype(out)? };
        src.reduce1(op, &mask, keepdim, out)
    }

    pub fn sum(&self, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        self.sum_like(ReduceOp::Sum, dims, keepdim, dtype)
    }

    /// mean and nanmean: floating inputs (or a floating `dtype`) only.
    pub fn mean(&self, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>, skip_nan: bool) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.mean_grad(dims, keepdim, dtype, skip_nan);
        }
        let name = if skip_nan { "nanmean" } else { "mean" };
        match dtype {
            Some(d) if !d.is_float() => {
                return Err(not_implemented(format!(
                    "{name}(): could not infer output dtype. Optional dtype must be either a floating point or complex dtype. Got: {}",
                    kname(d)
                )))
            }
            None if !self.dtype().is_float() => {
                return Err(not_implemented(if skip_nan {
                    format!("nanmean(): expected input to have floating point or complex dtype but got {}", kname(self.dtype()))
                } else {
                    format!(
                        "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                        kname(self.dtype())
                    )
                }))
            }
            _ => {}
        }
        let mask = reduce_mask(dims, self.ndim())?;
        let out = dtype.unwrap_or(self.dtype());
        let op = if skip_nan { ReduceOp::NanMean } else { ReduceOp::Mean };
        self.to_dtype(out)?.reduce1(op, &mask, keepdim, out)
    }

    /// var / std (and with the mean: var_mean, std_mean) with `correction` subtracted from the
    /// element count; returns [var-or-std] or [var-or-std, mean].
    pub fn var_std(&self, dims: Option<&[isize]>, correction: f64, keepdim: bool, std: bool, with_mean: bool) -> Result<Vec<Tensor>> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.var_std_grad(dims, correction, keepdim, std, with_mean);
        }
        if !self.dtype().is_float() {
            let what = match (with_mean, std) {
                (true, true) => "std_mean only support",
                (true, false) => "var_mean only support",
                _ => "std and var only support",
            };
            return Err(not_implemented(format!("{what} floating point and complex dtypes")));
        }
        let mask = reduce_mask(dims, self.ndim())?;
        let d = self.dtype();
        let outs: &[DType] = if with_mean { &[d, d] } else { &[d] };
        self.reduce_into(ReduceOp::Var { correction, std }, &mask, keepdim, outs)
    }

    /// The number of elements each output of a reduction over `dims` folds.
    pub fn reduction_count(&self, dims: Option<&[isize]>) -> Result<usize> {
        let mask = reduce_mask(dims, self.ndim())?;
        Ok(self.shape().iter().zip(&mask).filter(|(_, &m)| m).map(|(&s, _)| s).product())
    }

    /// amax / amin (and max() / min() without a dim).
    pub fn amax(&self, dims: Option<&[isize]>, keepdim: bool, max: bool, name: &str) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.amax_grad(dims, keepdim, max, name);
        }
        // torch checks each listed dim's size (naming the dim as given) before repeats
        if self.numel() == 0 {
            for &d in dims.unwrap_or(&[]) {
                if self.shape()[wrap_dim(d, self.ndim())?] == 0 {
                    return Err(Error::index(format!("{name}(): Expected reduction dim {d} to have non-zero size.")));
                }
            }
        }
        let mask = reduce_mask(dims, self.ndim())?;
        self.check_nonempty_dims(name, &mask, dims.is_none_or(|d| d.is_empty()), "():")?;
        self.reduce1(if max { ReduceOp::Max } else { ReduceOp::Min }, &mask, keepdim, self.dtype())
    }

    /// max(dim) / min(dim): (values, indices of the first extreme).
    pub fn max_dim(&self, dim: isize, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.max_dim(dim, keepdim, max)?
            };
            return self.record_indexed(out, dim, keepdim, "MaxBackward0");
        }
        let mask = reduce_mask(Some(&[dim]), self.ndim())?;
        self.check_nonempty_dims(if max { "max" } else { "min" }, &mask, false, "():")?;
        let op = if max { ReduceOp::ArgMax } else { ReduceOp::ArgMin };
        let mut v = self.reduce_into(op, &mask, keepdim, &[self.dtype(), DType::I64])?;
        let i = v.pop().unwrap();
        Ok((v.pop().unwrap(), i))
    }

    /// argmax / argmin over one dim, or over the flattened tensor when `dim` is None.
    pub fn argmax(&self, dim: Option<isize>, keepdim: bool, max: bool) -> Result<Tensor> {
        let name = if max { "argmax" } else { "argmin" };
        if self.dtype() == DType::Bool {
            return Err(not_implemented(format!("{name}(): does not support bool input")));
        }
        let dims = dim.map(|d| [d]);
        let mask = reduce_mask(dims.as_ref().map(|d| &d[..]), self.ndim())?;
        if self.numel() == 0 && dim.is_none() {
            return Err(Error::index(format!("{name}(): Expected reduction dim to be specified for input.numel() == 0.")));
        }
        self.check_nonempty_dims(name, &mask, false, "():")?;
        let op = if max { ReduceOp::ArgMax } else { ReduceOp::ArgMin };
        self.reduce1(op, &mask, keepdim, DType::I64)
    }

    /// aminmax: (min, max) over one dim or all.
    pub fn aminmax(&self, dim: Option<isize>, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let dims = dim.map(|d| [d]);
        let mask = reduce_mask(dims.as_ref().map(|d| &d[..]), self.ndim())?;
        if self.numel() == 0 && dim.is_none() {
            return Err(Error::runtime(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity.",
            ));
        }
        self.check_nonempty_dims("aminmax", &mask, false, ":")?;
        let lo = self.reduce1(ReduceOp::Min, &mask, keepdim, self.dtype())?;
        let hi = self.reduce1(ReduceOp::Max, &mask, keepdim, self.dtype())?;
        Ok((lo, hi))
    }

    /// all / any: bool results (uint8 for uint8 inputs, as torch).
    pub fn all_any(&self, dims: Option<&[isize]>, keepdim: bool, all: bool) -> Result<Tensor> {
        let mask = reduce_mask(dims, self.ndim())?;
        let out = if self.dtype() == DType::U8 { DType::U8 } else { DType::Bool };
        self.reduce1(if all { ReduceOp::All } else { ReduceOp::Any }, &mask, keepdim, out)
    }

    pub fn count_nonzero(&self, dims: Option<&[isize]>) -> Result<Tensor> {
        let mask = reduce_mask(dims, self.ndim())?;
        self.reduce1(ReduceOp::CountNonzero, &mask, false, DType::I64)
    }

    /// log(sum(exp(x))) computed without overflow; integer inputs give the default float.
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.logsumexp_grad(dims, keepdim);
        }
        let mask = reduce_mask(Some(dims), self.ndim())?;
        let src = if self.dtype().is_float() { self.clone() } else { self.to_dtype(default_float())? };
        src.reduce1(ReduceOp::LogSumExp, &mask, keepdim, src.dtype())
    }

    /// The vector p-norm over `dims` (all when None), as linalg.vector_norm.
    pub fn vector_norm(&self, p: f64, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.vector_norm_grad(p, dims, keepdim, dtype);
        }
        if !self.dtype().is_float() {
            return Err(not_implemented(format!(
                "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
                kname(self.dtype())
            )));
        }
        if let Some(d) = dtype {
            if !d.is_float() {
                return Err(Error::runtime(format!("linalg.vector_norm: dtype should be floating point or complex, but got {}", kname(d))));
            }
        }
        let mask = reduce_mask(dims, self.ndim())?;
        if p < 0.0 || p.is_infinite() {
            let all = dims.is_none_or(|d| d.is_empty());
            if self.numel() == 0 && all {
                return Err(Error::runtime(format!(
                    "linalg.vector_norm cannot compute the {} norm on an empty tensor because the operation does not have an identity",
                    fmt_num(p)
                )));
            }
            for (d, (&s, &m)) in self.shape().iter().zip(&mask).enumerate() {
                if m && s == 0 && !all {
                    return Err(Error::runtime(format!(
                        "linalg.vector_norm cannot compute the {} norm on the dimension {d}because this dimension is empty and the operation does not have an identity",
                        fmt_num(p)
                    )));
                }
            }
        }
        let out = dtype.unwrap_or(self.dtype());
        self.to_dtype(out)?.reduce1(ReduceOp::Norm(p), &mask, keepdim, out)
    }

    // ----- scans and softmax -------------------------------------------------------------

    /// cumsum / cumprod along `dim`: integer and bool inputs give int64; `dtype` casts first.
    pub fn cumulative(&self, op: ScanOp, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() && matches!(op, ScanOp::Sum | ScanOp::Prod) {
            return self.cumulative_grad(op, dim, dtype);
        }
        let d = wrap_dim(dim, self.ndim())?;
        let out = dtype.unwrap_or_else(|| sum_dtype(self.dtype()));
        let direct = out == self.dtype() || (out == DType::I64 && !self.dtype().is_float());
        let src = if direct { self.contiguous()? } else { self.to_dtype(out)?.contiguous()? };
        let t = Tensor::empty(self.shape(), out, self.device())?;
        src.storage().scan(op, src.layout(), src.dtype(), d, &[(t.storage(), out)])?;
        Ok(t)
    }

    /// cummax / cummin along `dim`: (values, indices).
    pub fn cum_extreme(&self, dim: isize, max: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.cum_extreme(dim, max)?
            };
            return self.record_indexed(out, dim, true, "CummaxBackward0");
        }
        let d = wrap_dim(dim, self.ndim())?;
        let src = self.contiguous()?;
        let v = Tensor::empty(self.shape(), self.dtype(), self.device())?;
        let i = Tensor::empty(self.shape(), DType::I64, self.device())?;
        let op = if max { ScanOp::Max } else { ScanOp::Min };
        src.storage().scan(op, src.layout(), src.dtype(), d, &[(v.storage(), v.dtype()), (i.storage(), DType::I64)])?;
        Ok((v, i))
    }

    /// softmax / log_softmax along `dim`; `dtype` casts the input first.
    pub fn softmax(&self, dim: isize, dtype: Option<DType>, log: bool) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            return self.softmax_grad(dim, dtype, log);
        }
        let d = wrap_dim(dim, self.ndim())?;
        let src = match dtype {
            Some(dt) => self.to_dtype(dt)?.contiguous()?,
            None => self.contiguous()?,
        };
        if src.numel() == 0 {
            // No kernel runs, so any dtype goes, as in torch.
            return src.deep_clone();
        }
        let out = Tensor::empty(self.shape(), src.dtype(), self.device())?;
        src.storage().softmax(src.layout(), src.dtype(), d, log, out.storage(), out.layout())?;
        Ok(out)
    }

    // ----- order-based ops -----------------------------------------------------------------

    /// Runs `op` on the rows along `dim` (moved last and made contiguous), giving outputs of
    /// `op.out_len(n)` per row, moved back to `dim` (dropped when `squeeze` and not keepdim).
    fn select_along(&self, op: SelectOp, dim: usize, squeeze: bool, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let nd = self.ndim();
        let moved = if nd == 0 {
            self.reshape(&[1])?
        } else if dim + 1 == nd {
            self.contiguous()?
        } else {
            self.movedim(&[dim as isize], &[-1])?.contiguous()?
        };
        let n = moved.shape().last().copied().unwrap_or(1);
        let mut shape = moved.shape().to_vec();
        *shape.last_mut().unwrap() = op.out_len(n);
        let v = Tensor::empty(&shape, self.dtype(), self.device())?;
        let i = Tensor::empty(&shape, DType::I64, self.device())?;
        moved.storage().select(op, moved.layout(), moved.dtype(), v.storage(), i.storage())?;
        let back = |t: Tensor| -> Result<Tensor> {
            if nd == 0 {
                return t.reshape(&[]);
            }
            if squeeze && !keepdim {
                return t.squeeze(Some(&[-1]));
            }
            if dim + 1 == nd {
                Ok(t)
            } else {
                t.movedim(&[-1], &[dim as isize])?.contiguous()
            }
        };
        Ok((back(v)?, back(i)?))
    }

    pub fn sort(&self, dim: isize, descending: bool, stable: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.sort(dim, descending, stable)?
            };
            return self.record_indexed(out, dim, true, "SortBackward0");
        }
        let d = wrap_dim(dim, self.ndim())?;
        self.select_along(SelectOp::Sort { descending, stable }, d, false, false)
    }

    pub fn topk(&self, k: i64, dim: isize, largest: bool, sorted: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.topk(k, dim, largest, sorted)?
            };
            return self.record_indexed(out, dim, true, "TopkBackward0");
        }
        let d = wrap_dim(dim, self.ndim())?;
        if self.dtype() == DType::Bool {
            return Err(not_implemented("topk does not support bool dtypes on CPU"));
        }
        let n = self.shape().get(d).copied().unwrap_or(1) as i64;
        if k < 0 || k > n {
            return Err(Error::runtime("selected index k out of range"));
        }
        if self.ndim() == 0 {
            // torch returns a 0-d input as it is, for k = 0 as well as 1.
            return Ok((self.deep_clone()?, Tensor::zeros(&[], DType::I64, self.device())?));
        }
        self.select_along(SelectOp::TopK { k: k as usize, largest, sorted }, d, false, false)
    }

    pub fn kthvalue(&self, k: i64, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.kthvalue(k, dim, keepdim)?
            };
            return self.record_indexed(out, dim, keepdim, "KthvalueBackward0");
        }
        let d = wrap_dim(dim, self.ndim())?;
        // A 0-d input skips torch's kernel (and its dtype check).
        if self.dtype() == DType::Bool && self.ndim() > 0 {
            return Err(not_implemented("\"kthvalue_cpu\" not implemented for 'Bool'"));
        }
        let n = self.shape().get(d).copied().unwrap_or(1) as i64;
        if n == 0 {
            return Err(Error::index(format!("kthvalue(): Expected reduction dim {d} to have non-zero size.")));
        }
        if k < 1 || k > n {
            return Err(Error::runtime(format!("kthvalue(): selected number k out of range for dimension {d}")));
        }
        self.select_along(SelectOp::Kth { k: k as usize - 1 }, d, true, keepdim)
    }

    /// median / nanmedian over `dim`: (values, indices). Rows with a NaN give NaN unless
    /// `skip_nan`.
    pub fn median_dim(&self, dim: isize, keepdim: bool, skip_nan: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.median_dim(dim, keepdim, skip_nan)?
            };
            return self.record_indexed(out, dim, keepdim, "MedianBackward1");
        }
        let name = if skip_nan { "nanmedian" } else { "median" };
        let d = wrap_dim(dim, self.ndim())?;
        if self.dtype() == DType::Bool {
            return Err(not_implemented("\"median_out\" not implemented for 'Bool'"));
        }
        if self.shape().get(d) == Some(&0) {
            return Err(Error::index(format!("{name}(): Expected reduction dim {d} to have non-zero size.")));
        }
        self.select_along(SelectOp::Median { skip_nan }, d, true, keepdim)
    }

    /// median / nanmedian of all elements: a 0-d tensor (NaN for an empty float tensor).
    pub fn median_all(&self, skip_nan: bool) -> Result<Tensor> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.median_all(skip_nan)?
            };
            crate::graph::record(&[&out], &[self], crate::backprop::GradOp::Extreme(None, false, "MedianBackward0"), &[(self, false), (&out, true)]);
            return Ok(out);
        }
        if self.numel() == 0 {
            // torch fills NaN converted to the dtype as x86 converts it: the 32- and 64-bit
            // "integer indefinite" values, 0 for the narrower types (truncated), true for bool.
            let fill = match self.dtype() {
                d if d.is_float() => Scalar::Float(f64::NAN),
                DType::I32 => Scalar::Int(i32::MIN as i64),
                DType::I64 => Scalar::Int(i64::MIN),
                DType::Bool => Scalar::Int(1),
                _ => Scalar::Int(0),
            };
            return Tensor::full(&[], fill, self.dtype(), self.device());
        }
        if self.dtype() == DType::Bool {
            return Err(not_implemented("\"median_cpu\" not implemented for 'Bool'"));
        }
        Ok(self.reshape(&[-1])?.median_dim(0, false, skip_nan)?.0)
    }

    pub fn mode(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        if crate::graph::needs_grad(&[self]) && self.dtype().is_float() {
            let out = {
                let _off = crate::graph::GradModeGuard::new(false);
                self.mode(dim, keepdim)?
            };
            return self.record_indexed(out, dim, keepdim, "ModeBackward0");
        }
        let d = wrap_dim(dim, self.ndim())?;
        if self.shape().get(d) == Some(&0) {
            return Err(Error::index(format!("mode(): Expected reduction dim {d} to have non-zero size.")));
        }
        self.select_along(SelectOp::Mode, d, true, keepdim)
    }

    /// unique / unique_consecutive: (values, inverse, counts), flattened when `dim` is None,
    /// else unique slices along `dim`. Values come out sorted unless `consecutive`.
    pub fn unique(&self, dim: Option<isize>, consecutive: bool) -> Result<(Tensor, Tensor, Tensor)> {
        let long = |v: Vec<i64>, shape: &[usize]| Tensor::from_vec(v, shape)?.to_device(self.device());
        let Some(dim) = dim else {
            let flat = self.reshape(&[-1])?.contiguous()?;
            let g = flat.storage().unique_rows(flat.layout(), flat.dtype(), flat.numel(), 1, consecutive)?;
            let values = gather_rows(&flat, &g)?;
            let shape = self.shape().to_vec();
            let nc = g.counts.len();
            return Ok((values, long(g.inverse, &shape)?, long(g.counts, &[nc])?));
        };
        let d = wrap_dim(dim, self.ndim())?;
        let rows = self.shape().get(d).copied().unwrap_or(1);
        if self.numel() == 0 {
            if rows != 0 {
                return Err(Error::runtime("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"));
            }
            return Ok((self.deep_clone()?, long(vec![], &[0])?, long(vec![], &[0])?));
        }
        let moved = if self.ndim() == 0 { self.reshape(&[1])? } else { self.movedim(&[d as isize], &[0])?.contiguous()? };
        let g = moved.storage().unique_rows(moved.layout(), moved.dtype(), rows, moved.numel() / rows, consecutive)?;
        let values = gather_rows(&moved, &g)?;
        let values = if self.ndim() == 0 { values } else { values.movedim(&[0], &[d as isize])?.contiguous()? };
        let nc = g.counts.len();
        Ok((values, long(g.inverse, &[rows])?, long(g.counts, &[nc])?))
    }

    /// bincount of a 1-D non-negative integer tensor, optionally weighted.
    pub fn bincount(&self, weights: Option<&Tensor>, minlength: i64) -> Result<Tensor> {
        if !self.dtype().is_int() {
            return Err(not_implemented(format!("\"bincount_cpu\" not implemented for '{}'", kname(self.dtype()))));
        }
        let bad = || Error::runtime("bincount only supports 1-d non-negative integral inputs.");
        if self.ndim() != 1 {
            return Err(bad());
        }
        if minlength < 0 {
            return Err(Error::runtime("minlength should be >= 0"));
        }
        if let Some(w) = weights {
            if w.ndim() != 1 || w.numel() != self.numel() {
                return Err(Error::runtime("weights should be 1-d and have the same length as input"));
            }
        }
        if self.numel() == 0 {
            return Tensor::zeros(&[minlength as usize], DType::I64, self.device());
        }
        let lo = self.amax(None, false, false, "min")?.item()?.to_i64();
        let hi = self.amax(None, false, true, "max")?.item()?.to_i64();
        if lo < 0 {
            return Err(bad());
        }
        let nbins = (hi + 1).max(minlength) as usize;
        let out_dtype = match weights {
            None => DType::I64,
            Some(w) if w.dtype() == DType::F32 => DType::F32,
            Some(_) => DType::F64,
        };
        let out = Tensor::empty(&[nbins], out_dtype, self.device())?;
        let w = weights.map(|w| (w.storage(), w.layout(), w.dtype()));
        self.storage().bincount(self.layout(), self.dtype(), w, nbins, out.storage(), out_dtype)?;
        Ok(out)
    }

    /// histc: counts in `bins` equal bins over [min, max] (the data's range when equal).
    pub fn histc(&self, bins: i64, min: f64, max: f64) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(not_implemented(format!("\"histogram_cpu\" not implemented for '{}'", kname(self.dtype()))));
        }
        if bins <= 0 {
            return Err(Error::runtime(format!("torch.histogram(): bins must be > 0, but got {bins} for dimension 0")));
        }
        if min > max {
            return Err(Error::runtime("torch.histc: max must be larger than min"));
        }
        let (mut lo, mut hi) = (min, max);
        if lo == hi && self.numel() > 0 {
            lo = self.amax(None, false, false, "min")?.item()?.to_f64();
            hi = self.amax(None, false, true, "max")?.item()?.to_f64();
        }
        if !lo.is_finite() || !hi.is_finite() {
            return Err(Error::runtime(format!("torch.histc: range of [{}, {}] is not finite", fmt_num(lo), fmt_num(hi))));
        }
        if lo == hi {
            lo -= 1.0;
            hi += 1.0;
        }
        let out = Tensor::empty(&[bins as usize], self.dtype(), self.device())?;
        self.storage().histc(self.layout(), self.dtype(), bins as usize, lo, hi, out.storage())?;
        Ok(out)
    }

    /// searchsorted(self = sorted boundaries, values): insertion points, int64 (or int32).
    pub fn searchsorted(&self, values: &Tensor, right: bool, out_int32: bool, sorter: Option<&Tensor>) -> Result<Tensor> {
        let (bs, vs) = (self.shape(), values.shape());
        if self.ndim() == 0 {
            return Err(Error::runtime(
                "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 dimension",
            ));
        }
        if values.ndim() == 0 && self.ndim() != 1 {
            return Err(Error::runtime(format!(
                "torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension is 1, but we got boundaries tensor dim({}) and input value's dim({}) numel({})",
                self.ndim(),
                values.ndim(),
                values.numel()
            )));
        }
        if self.ndim() > 1 && (values.ndim() != self.ndim() || bs[..bs.len() - 1] != vs[..vs.len() - 1]) {
            return Err(Error::runtime(format!(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries tensor and input value tensor must match, but we got boundaries tensor {} and input value tensor {}",
                fmt_shape(bs),
                fmt_shape(vs)
            )));
        }
        let sorter = match sorter {
            None => None,
            Some(s) => {
                if s.dtype() != DType::I64 {
                    return Err(Error::runtime(format!(
                        "torch.searchsorted(): sorter must be a tensor of long dtype but got dtype {}",
                        kname(s.dtype())
                    )));
                }
                if s.shape() != bs {
                    return Err(Error::runtime(format!(
                        "torch.searchsorted(): boundary and sorter must have the same size, but got boundary tensor {}and got sorter tensor {}",
                        fmt_shape(bs),
                        fmt_shape(s.shape())
                    )));
                }
                Some(s.contiguous()?)
            }
        };
        let dtype = result_type(&[(self.dtype(), Priority::Dim), (values.dtype(), Priority::Dim)], default_float());
        if dtype == DType::Bool {
            return Err(not_implemented("\"searchsorted_out_cpu\" not implemented for 'Bool'"));
        }
        let b = self.to_dtype(dtype)?.contiguous()?;
        let v = values.to_dtype(dtype)?.contiguous()?;
        let out_dtype = if out_int32 { DType::I32 } else { DType::I64 };
        let out = Tensor::empty(vs, out_dtype, self.device())?;
        let s = sorter.as_ref().map(|s| (s.storage(), s.layout()));
        b.storage().searchsorted(b.layout(), v.storage(), v.layout(), dtype, right, s, out.storage(), out_dtype)?;
        Ok(out)
    }
}

/// The representative rows of each group, as a tensor of shape (groups, rest...).
fn gather_rows(t: &Tensor, g: &Groups) -> Result<Tensor> {
    let idx: Vec<i64> = g.first.iter().map(|&i| i as i64).collect();
    let n = idx.len();
    indexing::index(t, &[TensorIndex::Tensor(Tensor::from_vec(idx, &[n])?)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;

    #[test]
    fn dims_wrap_and_reject_duplicates() {
        assert_eq!(reduce_mask(Some(&[-1]), 3).unwrap(), vec![false, false, true]);
        assert_eq!(reduce_mask(None, 2).unwrap(), vec![true, true]);
        assert_eq!(reduce_mask(Some(&[]), 2).unwrap(), vec![true, true]);
        assert_eq!(reduce_mask(Some(&[0, -2]), 2).unwrap_err().to_string(), "dim 0 appears multiple times in the list of dims");
        assert!(reduce_mask(Some(&[0]), 0).unwrap().is_empty());
        assert!(reduce_mask(Some(&[0, -1]), 0).is_err());
    }

    #[test]
    fn sums_of_views() {
        let t = Tensor::from_vec((0..24).map(|x| x as f32).collect(), &[2, 3, 4]).unwrap();
        let p = t.permute(&[2, 0, 1]).unwrap();
        let s = p.sum(Some(&[0, 2]), true, None).unwrap();
        assert_eq!(s.shape(), &[1, 2, 1]);
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![66.0, 210.0]);
        let i = Tensor::from_vec(vec![1i32, 2, 3], &[3]).unwrap();
        let s = i.sum(None, false, None).unwrap();
        assert_eq!((s.dtype(), s.item().unwrap()), (DType::I64, Scalar::Int(6)));
        let e = Tensor::zeros(&[0, 3], DType::F32, Device::Cpu).unwrap();
        assert_eq!(e.sum(Some(&[0]), false, None).unwrap().to_vec::<f32>().unwrap(), vec![0.0; 3]);
        assert_eq!(
            e.amax(None, false, true, "max").unwrap_err().to_string(),
            "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
        );
    }
}
