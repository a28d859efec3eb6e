//! Tensor-level data movement driven by indices or masks: gather, scatter (with reductions),
//! where, masked_fill, cat/stack and nonzero. Shape and dtype rules and torch's messages live
//! here; the byte moving is in cpu::gather.

use crate::cpu::gather::ScatterReduce;
use crate::dtype::{default_float, result_type, DType, Priority, Scalar};
use crate::error::{Error, Result};
use crate::indexing::nonzero_coords;
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, fmt_shape, wrap_dim};
use crate::backprop::GradOp;
use crate::graph::{self, Save};
use crate::tensor::{Rhs, Tensor};

/// A value operand that may be a tensor or a Python number (`where(c, x, 0.0)`).
pub type Value = Rhs;

impl Tensor {
    /// Layout of `self` restricted to `shape` with stride 0 along `dim`: adding
    /// `index * stride(dim)` to its offsets addresses the gathered/scattered element.
    fn base_layout(&self, shape: &[usize], dim: usize) -> Layout {
        let mut l = Layout::new(shape.into(), self.strides().into(), self.offset());
        if l.strides.is_empty() {
            l.strides.push(0);
        }
        l.strides[dim] = 0;
        l
    }

    fn check_index_for(&self, op: &'static str, dim: usize, index: &Tensor, other: Option<&Tensor>) -> Result<()> {
        if index.numel() == 0 {
            return Ok(()); // torch checks nothing more when nothing is moved
        }
        if index.dtype() != DType::I64 && index.dtype() != DType::I32 {
            return Err(Error::runtime(format!("{op}(): Expected dtype int32/int64 for index")));
        }
        let (sn, inn) = (self.ndim().max(1), index.ndim().max(1));
        if sn != inn {
            return Err(Error::runtime(format!(
                "Index tensor must have the same number of dimensions as {} tensor",
                if op == "gather" { "input" } else { "self" }
            )));
        }
        let sshape: Vec<usize> = if self.ndim() == 0 { vec![1] } else { self.shape().to_vec() };
        let ishape: Vec<usize> = if index.ndim() == 0 { vec![1] } else { index.shape().to_vec() };
        for d in 0..sn {
            if d != dim && ishape[d] > sshape[d] {
                return Err(Error::runtime(format!(
                    "Size does not match at dimension {d} expected index {} to be no larger than self {} apart from dimension {dim}",
                    fmt_shape(&ishape),
                    fmt_shape(&sshape)
                )));
            }
            if let Some(src) = other {
                let srcshape: Vec<usize> = if src.ndim() == 0 { vec![1] } else { src.shape().to_vec() };
                if srcshape.len() == sn && ishape[d] > srcshape[d] {
                    return Err(Error::runtime(format!(
                        "Expected index {} to be no larger than self {} apart from dimension {dim} and to be no larger size than src {}",
                        fmt_shape(&ishape),
                        fmt_shape(&sshape),
                        fmt_shape(&srcshape)
                    )));
                }
            }
        }
        let size = sshape[dim] as i64;
        for v in index.to_vec::<i64>()? {
            if v < 0 || v >= size {
                return Err(Error::runtime(format!("index {v} is out of bounds for dimension {dim} with size {size}")));
            }
        }
        Ok(())
    }

    /// torch.gather(self, dim, index).
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let shape = smallvec::SmallVec::from_slice(self.shape());
        graph::recorded(&[self], &[Save::Extra(index)], || GradOp::Gather(dim, shape), || self.gather_raw(dim, index))
    }

    fn gather_raw(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let d = wrap_dim(dim, self.ndim())?;
        self.check_index_for("gather", d, index, None)?;
        if index.numel() == 0 {
            return Tensor::empty(index.shape(), self.dtype(), self.device());
        }
        let index = &index.to_dtype(DType::I64)?;
        let src = if self.ndim() == 0 { self.reshape(&[1])? } else { self.clone() };
        let idx = if index.ndim() == 0 { index.reshape(&[1])? } else { index.clone() };
        let out = Tensor::empty(idx.shape(), self.dtype(), self.device())?;
        let base = src.base_layout(idx.shape(), d);
        src.storage().gather(&base, src.strides()[d], idx.storage(), idx.layout(), out.storage(), out.layout(), self.dtype().size())?;
        if index.ndim() == 0 {
            return out.reshape(&[]);
        }
        Ok(out)
    }

    /// In-place scatter along `dim`: self[index] (op)= src, with torch's checks done before any
    /// write.
    pub fn scatter_(&self, dim: isize, index: &Tensor, src: &Value, reduce: ScatterReduce) -> Result<()> {
        let others: Vec<&Tensor> = match src {
            Value::Tensor(t) => vec![t],
            Value::Scalar(_) => vec![],
        };
        let mut all = vec![self];
        all.extend_from_slice(&others);
        if graph::needs_grad(&all) {
            graph::check_inplace(self, false)?;
            let op = match reduce {
                ScatterReduce::Replace => GradOp::Scatter(dim),
                ScatterReduce::Sum => GradOp::ScatterAdd(dim),
                _ => return Err(Error::runtime(format!("the derivative for 'scatter_reduce' with reduce={reduce:?} is not implemented in rgrad"))),
            };
            let src = match src {
                Value::Tensor(t) => Value::Tensor(t.detach()),
                Value::Scalar(s) => Value::Scalar(*s),
            };
            return self.rebase(&others, op, &[Save::Extra(index)], |old| {
                let r = old.detach().deep_clone()?;
                r.scatter_raw_(dim, index, &src, reduce)?;
                Ok(r)
            });
        }
        self.scatter_raw_(dim, index, src, reduce)
    }

    fn scatter_raw_(&self, dim: isize, index: &Tensor, src: &Value, reduce: ScatterReduce) -> Result<()> {
        let d = wrap_dim(dim, self.ndim())?;
        let src_t = match src {
            Value::Tensor(t) => {
                if t.dtype() != self.dtype() {
                    return Err(Error::runtime(format!(
                        "scatter(): Expected self.dtype to be equal to src.dtype"
                    )));
                }
                if index.numel() > 0 && t.ndim().max(1) != index.ndim().max(1) {
                    return Err(Error::runtime("Index tensor must have the same number of dimensions as src tensor"));
                }
                t.clone()
            }
            Value::Scalar(s) => Tensor::scalar(*s, self.dtype()).expand(&vec![1i64; index.ndim()])?.broadcast_to(index.shape())?,
        };
        self.check_index_for("scatter", d, index, Some(&src_t))?;
        self.check_writable()?;
        if index.numel() == 0 {
            return Ok(());
        }
        let index = &index.to_dtype(DType::I64)?;
        // 0-d operands act as 1-element vectors (torch's ensure_nonempty_dim)
        let one = |t: &Tensor| if t.ndim() == 0 { t.reshape(&[1]) } else { Ok(t.clone()) };
        let (dst, idx, srcv) = (one(self)?, one(index)?, one(&src_t)?);
        // A source sharing memory with the destination is read from a copy.
        let srcv = if srcv.overlaps(self) { srcv.deep_clone()? } else { srcv };
        // src is read over index's shape only.
        let sl = if srcv.ndim() == idx.ndim() {
            Layout::new(idx.shape().into(), srcv.strides().into(), srcv.offset())
        } else {
            srcv.layout().broadcast_to(idx.shape())?
        };
        let base = dst.base_layout(idx.shape(), d);
        dst.storage().scatter(&base, dst.strides()[d], idx.storage(), idx.layout(), srcv.storage(), &sl, self.dtype(), reduce)?;
        self.bump_version();
        Ok(())
    }

    /// torch.where(cond, a, b) with broadcasting and promotion of tensor/number operands.
    pub fn where_(cond: &Tensor, a: &Value, b: &Value) -> Result<Tensor> {
        let mut inputs: Vec<&Tensor> = Vec::new();
        for v in [a, b] {
            if let Value::Tensor(t) = v {
                inputs.push(t);
            }
        }
        let (ha, hb) = (matches!(a, Value::Tensor(_)), matches!(b, Value::Tensor(_)));
        graph::recorded(&inputs, &[Save::Extra(cond)], || GradOp::Where(ha, hb), || Self::where_raw(cond, a, b))
    }

    fn where_raw(cond: &Tensor, a: &Value, b: &Value) -> Result<Tensor> {
        if cond.dtype() != DType::Bool {
            return Err(Error::runtime(format!(
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                cond.dtype().torch_kernel_name()
            )));
        }
        let prio = |t: &Tensor| if t.ndim() == 0 { Priority::ZeroDim } else { Priority::Dim };
        let ops: Vec<(DType, Priority)> = [a, b]
            .iter()
            .map(|v| match v {
                Value::Tensor(t) => (t.dtype(), prio(t)),
                Value::Scalar(s) => (s.natural_dtype(DType::F64), Priority::Wrapped),
            })
            .collect();
        let dtype = result_type(&ops, default_float());
        let as_tensor = |v: &Value| -> Result<Tensor> {
            match v {
                Value::Tensor(t) => t.to_dtype(dtype),
                Value::Scalar(s) => Ok(Tensor::scalar(*s, dtype)),
            }
        };
        let (x, y) = (as_tensor(a)?, as_tensor(b)?);
        cond.check_same_device(&x)?;
        cond.check_same_device(&y)?;
        let shape = broadcast_shapes(&[cond.shape(), x.shape(), y.shape()])?;
        let out = Tensor::empty(&shape, dtype, cond.device())?;
        cond.storage().select_where(
            &cond.layout().broadcast_to(&shape)?,
            x.storage(),
            &x.layout().broadcast_to(&shape)?,
            y.storage(),
            &y.layout().broadcast_to(&shape)?,
            out.storage(),
            out.layout(),
            dtype.size(),
        )?;
        Ok(out)
    }

    /// In-place masked_fill_: self[mask] = value (mask broadcast to self).
    pub fn masked_fill_(&self, mask: &Tensor, value: Scalar) -> Result<()> {
        if graph::needs_grad(&[self]) {
            graph::check_inplace(self, false)?;
            if mask.dtype() == DType::Bool {
                return self.rebase(&[], GradOp::MaskedFill, &[Save::Extra(mask)], |old| {
                    let r = old.detach().deep_clone()?;
                    r.masked_fill_raw_(mask, value)?;
                    Ok(r)
                });
            }
        }
        self.masked_fill_raw_(mask, value)
    }

    fn masked_fill_raw_(&self, mask: &Tensor, value: Scalar) -> Result<()> {
        if mask.dtype() != DType::Bool {
            return Err(Error::runtime(format!(
                "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                mask.dtype().torch_kernel_name()
            )));
        }
        let ml = mask.layout().broadcast_to(self.shape()).map_err(|_| {
            Error::runtime(format!(
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                self.shape().last().copied().unwrap_or(1),
                mask.shape().last().copied().unwrap_or(1),
                self.ndim().saturating_sub(1)
            ))
        })?;
        self.check_writable()?;
        let v = Tensor::scalar(value, self.dtype());
        let vl = v.layout().broadcast_to(self.shape())?;
        mask.storage().select_where(&ml, v.storage(), &vl, self.storage(), self.layout(), self.storage(), self.layout(), self.dtype().size())?;
        self.bump_version();
        Ok(())
    }

    /// torch.cat(tensors, dim) with dtype promotion; legacy 1-D empty tensors are skipped.
    pub fn cat(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let inputs: Vec<&Tensor> = tensors.iter().collect();
        if graph::needs_grad(&inputs) {
            let out = {
                let _off = graph::GradModeGuard::new(false);
                Self::cat_raw(tensors, dim)?
            };
            if out.dtype().is_float() {
                let nd = out.ndim();
                let d = wrap_dim(dim, nd.max(1))?;
                let sizes = tensors.iter().map(|t| if t.ndim() == nd { t.shape()[d] } else { 0 }).collect();
                graph::record(&[&out], &inputs, GradOp::Cat(d as isize, sizes), &[]);
            }
            return Ok(out);
        }
        Self::cat_raw(tensors, dim)
    }

    fn cat_raw(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        if tensors.is_empty() {
            return Err(Error::runtime("torch.cat(): expected a non-empty list of Tensors"));
        }
        let parts: Vec<&Tensor> = tensors.iter().filter(|t| !(t.ndim() == 1 && t.numel() == 0)).collect();
        let dtype = tensors.iter().skip(1).fold(tensors[0].dtype(), |acc, t| DType::promote(acc, t.dtype()));
        let Some(first) = parts.first() else {
            return Tensor::empty(&[0], dtype, tensors[0].device());
        };
        if let Some((i, _)) = parts.iter().enumerate().find(|(_, t)| t.ndim() == 0) {
            return Err(Error::runtime(format!(
                "zero-dimensional tensor (at position {i}) cannot be concatenated"
            )));
        }
        let nd = first.ndim();
        let d = wrap_dim(dim, nd)?;
        let mut total = 0usize;
        for (i, t) in parts.iter().enumerate() {
            first.check_same_device(t)?;
            if t.ndim() != nd {
                return Err(Error::runtime(format!(
                    "Tensors must have same number of dimensions: got {} and {}",
                    nd,
                    t.ndim()
                )));
            }
            for k in 0..nd {
                if k != d && t.shape()[k] != first.shape()[k] {
                    return Err(Error::runtime(format!(
                        "Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list.",
                        first.shape()[k],
                        t.shape()[k]
                    )));
                }
            }
            total += t.shape()[d];
        }
        let mut shape = first.shape().to_vec();
        shape[d] = total;
        let out = Tensor::empty(&shape, dtype, first.device())?;
        let mut start = 0i64;
        for t in parts {
            let n = t.shape()[d] as i64;
            if n > 0 {
                out.narrow(d as isize, start, n)?.copy_(t)?;
            }
            start += n;
        }
        Ok(out)
    }

    /// torch.stack(tensors, dim): all shapes equal, new dim inserted.
    pub fn stack(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        if tensors.is_empty() {
            return Err(Error::runtime("stack expects a non-empty TensorList"));
        }
        let first = tensors[0].shape();
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != first {
                return Err(Error::runtime(format!(
                    "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {i}",
                    fmt_shape(first),
                    fmt_shape(t.shape())
                )));
            }
        }
        let d = crate::shape::wrap_insert_dim(dim, first.len())? as isize;
        let inputs: Vec<&Tensor> = tensors.iter().collect();
        graph::recorded(&inputs, &[], || GradOp::Stack(d), || {
            let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
            Tensor::cat(&parts, d)
        })
    }

    /// torch.nonzero: an int64 tensor of shape [n, ndim].
    pub fn nonzero(&self) -> Result<Tensor> {
        if self.device() != crate::device::Device::Cpu {
            return self.nonzero_on_device();
        }
        let mask = self.to_dtype(DType::Bool)?;
        let mask = if mask.ndim() == 0 { mask.reshape(&[1])? } else { mask };
        let coords = nonzero_coords(&mask)?;
        let n = coords.first().map(|c| c.len()).unwrap_or(0);
        let nd = if self.ndim() == 0 { 0 } else { self.ndim() };
        let mut flat = Vec::with_capacity(n * nd);
        for i in 0..n {
            for c in coords.iter().take(nd) {
                flat.push(c[i]);
            }
        }
        Tensor::from_vec(flat, &[n, nd])?.to_device(self.device())
    }

    /// Output rows for compacting the true elements of a GPU mask, from device ops: an
    /// inclusive scan numbers them; the last count is the one value read back (the output's
    /// size depends on it, as in torch's CUDA nonzero); false elements get row `count`, a spare
    /// row the caller cuts off. Returns the flat mask's rows as an [n, 1] int64 tensor, and count.
    fn mask_rows(mask: &Tensor) -> Result<(Tensor, usize)> {
        use crate::op::{BinaryOp, ScanOp};
        let n = mask.numel();
        let mask = mask.to_dtype(DType::Bool)?.reshape(&[n as i64])?;
        let rows = mask.cumulative(ScanOp::Sum, 0, None)?;
        let count = if n == 0 { 0 } else { rows.get_flat(n - 1)?.to_i64() as usize };
        let first = rows.binary(BinaryOp::Sub, &Rhs::Scalar(Scalar::Int(1)))?;
        let target = Tensor::where_(&mask, &Rhs::Tensor(first), &Rhs::Scalar(Scalar::Int(count as i64)))?;
        Ok((target.reshape(&[n as i64, 1])?, count))
    }

    /// dst[target[i], 0] = src[i, 0] along dim 0, without reading the targets (which
    /// `mask_rows` made in range).
    fn scatter_rows(dst: &Tensor, target: &Tensor, src: &Tensor) -> Result<()> {
        let base = dst.base_layout(target.shape(), 0);
        dst.storage().scatter(&base, dst.strides()[0], target.storage(), target.layout(), src.storage(), src.layout(), dst.dtype(), ScatterReduce::Replace)
    }

    /// nonzero on the GPU: each true element's coordinates scattered into its row.
    fn nonzero_on_device(&self) -> Result<Tensor> {
        use crate::op::{BinaryOp, ScanOp};
        let _off = graph::GradModeGuard::new(false);
        let (dev, n, nd) = (self.device(), self.numel(), self.ndim());
        let int = |v: usize| Rhs::Scalar(Scalar::Int(v as i64));
        let (target, count) = Self::mask_rows(self)?;
        let out = Tensor::zeros(&[count + 1, nd], DType::I64, dev)?;
        if count > 0 && nd > 0 {
            // 0..n on the device (a scan of ones), then each dim's coordinate
            let pos = Tensor::full(&[n], Scalar::Int(1), DType::I64, dev)?.cumulative(ScanOp::Sum, 0, None)?.binary(BinaryOp::Sub, &int(1))?;
            let mut stride = 1;
            for d in (0..nd).rev() {
                let size = self.shape()[d];
                let coord = pos.binary(BinaryOp::FloorDiv, &int(stride))?.binary(BinaryOp::Remainder, &int(size))?;
                Self::scatter_rows(&out.narrow(1, d as i64, 1)?, &target, &coord.reshape(&[n as i64, 1])?)?;
                stride *= size;
            }
        }
        out.narrow(0, 0, count as i64)
    }

    /// masked_select without autograd on the GPU: self's elements where `mask` (same shape) is
    /// true, compacted on the device.
    pub fn masked_select_on_device(&self, mask: &Tensor) -> Result<Tensor> {
        if self.shape() != mask.shape() {
            return Err(Error::runtime("masked_select_on_device expects operands of one shape"));
        }
        let _off = graph::GradModeGuard::new(false);
        let n = self.numel();
        let (target, count) = Self::mask_rows(mask)?;
        let out = Tensor::empty(&[count + 1, 1], self.dtype(), self.device())?;
        if count > 0 {
            Self::scatter_rows(&out, &target, &self.contiguous()?.reshape(&[n as i64, 1])?)?;
        }
        out.narrow(0, 0, count as i64)?.reshape(&[count as i64])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_scatter_roundtrip() {
        let src = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let idx = Tensor::from_vec(vec![0i64, 0, 1, 0], &[2, 2]).unwrap();
        let g = src.gather(1, &idx).unwrap();
        assert_eq!(g.to_vec::<f32>().unwrap(), vec![1.0, 1.0, 4.0, 3.0]);
        let z = Tensor::zeros(&[2, 2], DType::F32, crate::device::Device::Cpu).unwrap();
        z.scatter_(1, &idx, &Value::Tensor(src.clone()), ScatterReduce::Sum).unwrap();
        assert_eq!(z.to_vec::<f32>().unwrap(), vec![3.0, 0.0, 4.0, 3.0]);
        assert!(src.gather(1, &Tensor::from_vec(vec![2i64], &[1, 1]).unwrap()).is_err());
    }

    #[test]
    fn cat_checks_and_promotes() {
        let a = Tensor::from_vec(vec![1i32, 2], &[1, 2]).unwrap();
        let b = Tensor::from_vec(vec![0.5f32, 1.5, 2.5, 3.5], &[2, 2]).unwrap();
        let c = Tensor::cat(&[a.clone(), b], 0).unwrap();
        assert_eq!(c.dtype(), DType::F32);
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 0.5, 1.5, 2.5, 3.5]);
        let e = Tensor::cat(&[a.clone(), Tensor::from_vec(vec![1i32, 2, 3], &[1, 3]).unwrap()], 0).unwrap_err();
        assert_eq!(e.to_string(), "Sizes of tensors must match except in dimension 0. Expected size 2 but got size 3 for tensor number 1 in the list.");
    }
}
