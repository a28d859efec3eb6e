//! Layout = shape + strides + offset into a storage. Every view op is a pure function from one
//! layout to another; nothing here touches data.

use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, fmt_shape, infer_size, numel, wrap_dim, wrap_insert_dim, Dims, Strides};
use smallvec::{smallvec, SmallVec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub shape: Dims,
    pub strides: Strides,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: SmallVec::from_slice(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    pub fn new(shape: Dims, strides: Strides, offset: usize) -> Self {
        Layout { shape, strides, offset }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// torch's is_contiguous: size-1 dims may have any stride, an empty tensor is contiguous.
    pub fn is_contiguous(&self) -> bool {
        if self.numel() == 0 {
            return true;
        }
        let mut expected = 1isize;
        for i in (0..self.ndim()).rev() {
            let s = self.shape[i];
            if s != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= s as isize;
            }
        }
        true
    }

    /// The range of storage elements that this layout can touch: (min, max+1). Empty tensors
    /// touch nothing.
    pub fn storage_span(&self) -> (usize, usize) {
        if self.numel() == 0 {
            return (self.offset, self.offset);
        }
        let mut lo = self.offset as isize;
        let mut hi = self.offset as isize;
        for (&s, &st) in self.shape.iter().zip(self.strides.iter()) {
            let ext = (s as isize - 1) * st;
            if ext < 0 {
                lo += ext
            } else {
                hi += ext
            }
        }
        (lo as usize, hi as usize + 1)
    }

    /// The storage offset of position `i` along `dim`. When it would leave the address range
    /// (an empty tensor with a huge stride, or the end of a dim with a huge stride left by a
    /// huge slice step) nothing is ever read there, so the offset stays.
    fn offset_at(&self, dim: usize, i: usize) -> usize {
        (i as isize)
            .checked_mul(self.strides[dim])
            .and_then(|o| o.checked_add(self.offset as isize))
            .filter(|&o| o >= 0)
            .map_or(self.offset, |o| o as usize)
    }

    pub fn permute(&self, dims: &[isize]) -> Result<Layout> {
        let n = self.ndim();
        if dims.len() != n {
            return Err(Error::runtime(format!(
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                n,
                dims.len()
            )));
        }
        let mut seen = vec![false; n];
        let mut shape = Dims::with_capacity(n);
        let mut strides = Strides::with_capacity(n);
        for &d in dims {
            let d = wrap_dim(d, n)?;
            if seen[d] {
                return Err(Error::runtime("permute(): duplicate dims are not allowed."));
            }
            seen[d] = true;
            shape.push(self.shape[d]);
            strides.push(self.strides[d]);
        }
        // torch checks every view's numel in order: moving a 0 last can overflow it
        crate::shape::checked_numel(&shape)?;
        Ok(Layout { shape, strides, offset: self.offset })
    }

    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Layout> {
        let n = self.ndim();
        if n == 0 {
            wrap_dim(d0, 0)?;
            wrap_dim(d1, 0)?;
            return Ok(self.clone());
        }
        let (a, b) = (wrap_dim(d0, n)?, wrap_dim(d1, n)?);
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        crate::shape::checked_numel(&l.shape)?;
        Ok(l)
    }

    /// `narrow(dim, start, length)`; `start` may be negative.
    pub fn narrow(&self, dim: isize, start: i64, length: i64) -> Result<Layout> {
        if self.ndim() == 0 {
            return Err(Error::runtime("narrow() cannot be applied to a 0-dim tensor."));
        }
        if length < 0 {
            return Err(Error::runtime("narrow(): length must be non-negative."));
        }
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape[d] as i64;
        if start < -size || start > size {
            return Err(Error::index(format!(
                "start out of range (expected to be in range of [{}, {}], but got {})",
                -size, size, start
            )));
        }
        let start = if start < 0 { start + size } else { start };
        if length > size - start {
            return Err(Error::runtime(format!(
                "start ({start}) + length ({length}) exceeds dimension size ({size})."
            )));
        }
        let mut l = self.clone();
        l.offset = self.offset_at(d, start as usize);
        l.shape[d] = length as usize;
        Ok(l)
    }

    /// Python slicing `start:stop:step` along `dim` with clamped bounds (step > 0).
    pub fn slice(&self, dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Result<Layout> {
        if step <= 0 {
            return Err(Error::value("step must be greater than zero"));
        }
        let size = self.shape[dim] as i64;
        let clamp = |v: i64| -> i64 {
            let v = if v < 0 { v + size } else { v };
            v.clamp(0, size)
        };
        let start = start.map(clamp).unwrap_or(0);
        let stop = stop.map(clamp).unwrap_or(size).max(start);
        // written so that a huge step cannot overflow (x[::2**63-1] has one row, not 2**64-1)
        let len = if stop > start { (stop - start - 1) / step + 1 } else { 0 };
        let mut l = self.clone();
        if len > 0 {
            l.offset = self.offset_at(dim, start as usize);
        }
        l.shape[dim] = len as usize;
        // a step past the dim's size leaves at most one row, whose stride is never used: keep
        // it where multiplying would overflow
        l.strides[dim] = l.strides[dim].checked_mul(step as isize).unwrap_or(l.strides[dim]);
        Ok(l)
    }

    /// `select(dim, index)`: removes `dim`.
    pub fn select(&self, dim: isize, index: i64) -> Result<Layout> {
        if self.ndim() == 0 {
            return Err(Error::index("select() cannot be applied to a 0-dim tensor."));
        }
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape[d] as i64;
        if index < -size || index >= size {
            return Err(Error::IndexOutOfBounds { index, dim: d, size: size as usize });
        }
        let index = if index < 0 { index + size } else { index };
        let mut l = self.clone();
        l.offset = self.offset_at(d, index as usize);
        l.shape.remove(d);
        l.strides.remove(d);
        Ok(l)
    }

    pub fn unsqueeze(&self, dim: isize) -> Result<Layout> {
        let d = wrap_insert_dim(dim, self.ndim())?;
        let mut l = self.clone();
        // (saturating: a size-1 dim's stride never addresses memory)
        let st = if d < self.ndim() { self.strides[d].saturating_mul(self.shape[d] as isize) } else { 1 };
        l.shape.insert(d, 1);
        l.strides.insert(d, st);
        Ok(l)
    }

    /// Removes the given size-1 dims (all size-1 dims when `dims` is None).
    pub fn squeeze(&self, dims: Option<&[isize]>) -> Result<Layout> {
        let n = self.ndim();
        let mut drop = vec![false; n];
        match dims {
            None => {
                for i in 0..n {
                    drop[i] = self.shape[i] == 1;
                }
            }
            Some(ds) => {
                let mut seen = vec![false; n.max(1)];
                for &d in ds {
                    let d = wrap_dim(d, n)?;
                    if std::mem::replace(&mut seen[d], true) {
                        return Err(Error::runtime(format!("dim {d} appears multiple times in the list of dims")));
                    }
                    if n > 0 && self.shape[d] == 1 {
                        drop[d] = true;
                    }
                }
            }
        }
        let mut l = Layout { shape: SmallVec::new(), strides: SmallVec::new(), offset: self.offset };
        for i in 0..n {
            if !drop[i] {
                l.shape.push(self.shape[i]);
                l.strides.push(self.strides[i]);
            }
        }
        Ok(l)
    }

    /// `expand(*sizes)`; -1 keeps a dim. Expanded dims get stride 0.
    pub fn expand(&self, sizes: &[i64]) -> Result<Layout> {
        let n = self.ndim();
        if sizes.len() < n {
            return Err(Error::runtime(format!(
                "expand(torch.FloatTensor{{{}}}, size={}): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                fmt_shape(&self.shape),
                fmt_shape(sizes),
                sizes.len(),
                n
            )));
        }
        let m = sizes.len();
        let mut shape: Dims = smallvec![0; m];
        let mut strides: Strides = smallvec![0; m];
        for i in (0..m).rev() {
            let off = m - 1 - i;
            let target = sizes[i];
            if off < n {
                let j = n - 1 - off;
                let (s, st) = (self.shape[j], self.strides[j]);
                if target == -1 || target as usize == s {
                    shape[i] = s;
                    strides[i] = st;
                } else if s == 1 && target >= 0 {
                    shape[i] = target as usize;
                    strides[i] = 0;
                } else {
                    return Err(Error::runtime(format!(
                        "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
                        target,
                        s,
                        i,
                        fmt_shape(sizes),
                        fmt_shape(&self.shape)
                    )));
                }
            } else {
                if target < 0 {
                    return Err(Error::runtime(format!(
                        "The expanded size of the tensor ({target}) isn't allowed in a leading, non-existing dimension {i}"
                    )));
                }
                shape[i] = target as usize;
                strides[i] = 0;
            }
        }
        crate::shape::checked_numel(&shape)?;
        Ok(Layout { shape, strides, offset: self.offset })
    }

    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let sizes: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
        self.expand(&sizes)
    }

    /// `view(*shape)`: a new layout over the same elements, or `NotViewable`.
    pub fn view(&self, requested: &[i64]) -> Result<Layout> {
        let shape = infer_size(requested, self.numel())?;
        if self.numel() == 0 && shape != self.shape {
            crate::shape::empty_view_strides(&shape)?;
        }
        match compute_view_strides(&self.shape, &self.strides, &shape) {
            Some(strides) => Ok(Layout { shape, strides, offset: self.offset }),
            None => Err(Error::NotViewable),
        }
    }

    /// Collapses dims `start..=end` into one, when viewable.
    pub fn try_view_shape(&self, shape: &[usize]) -> Option<Layout> {
        compute_view_strides(&self.shape, &self.strides, shape)
            .map(|strides| Layout { shape: SmallVec::from_slice(shape), strides, offset: self.offset })
    }

    /// Flat storage index of every element, in row-major order of the layout.
    pub fn offsets(&self) -> StridedOffsets {
        StridedOffsets::new(self)
    }
}

/// torch's computeStride: the strides that let `newshape` view the memory of (shape, strides),
/// or None when a merged dim would span non-contiguous chunks.
pub fn compute_view_strides(oldshape: &[usize], oldstride: &[isize], newshape: &[usize]) -> Option<Strides> {
    if oldshape.is_empty() {
        return Some(smallvec![1; newshape.len()]);
    }
    let n = numel(oldshape);
    if n == 0 && oldshape == newshape {
        return Some(SmallVec::from_slice(oldstride));
    }
    let mut newstride: Strides = smallvec![0; newshape.len()];
    if n == 0 {
        // (None where a stride comes out negative: torch raises there, and so does the copy a
        // reshape falls back to)
        return crate::shape::empty_view_strides(newshape).ok();
    }
    let mut view_d = newshape.len() as isize - 1;
    let mut chunk_base_stride = *oldstride.last().unwrap();
    let mut tensor_numel: usize = 1;
    let mut view_numel: usize = 1;
    for tensor_d in (0..oldshape.len()).rev() {
        tensor_numel *= oldshape[tensor_d];
        if tensor_d == 0
            || (oldshape[tensor_d - 1] != 1 && oldstride[tensor_d - 1] != tensor_numel as isize * chunk_base_stride)
        {
            while view_d >= 0 && (view_numel < tensor_numel || newshape[view_d as usize] == 1) {
                newstride[view_d as usize] = view_numel as isize * chunk_base_stride;
                view_numel *= newshape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = oldstride[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(newstride)
}

/// Merges adjacent dims that are contiguous with each other in *every* operand, drops size-1
/// dims, and returns the shared shape plus each operand's strides. Kernels then loop over few
/// dims with a long innermost run.
pub fn coalesce(shape: &[usize], strides: &[&[isize]]) -> (Dims, Vec<Strides>) {
    let k = strides.len();
    let mut out_shape: Dims = SmallVec::new();
    let mut out_strides: Vec<Strides> = vec![SmallVec::new(); k];
    for d in 0..shape.len() {
        let s = shape[d];
        if s == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            let mergeable = (0..k).all(|o| out_strides[o].last().copied().unwrap() == strides[o][d] * s as isize);
            if mergeable {
                let li = out_shape.len() - 1;
                out_shape[li] = last * s;
                for o in 0..k {
                    out_strides[o][li] = strides[o][d];
                }
                continue;
            }
        }
        out_shape.push(s);
        for o in 0..k {
            out_strides[o].push(strides[o][d]);
        }
    }
    (out_shape, out_strides)
}

/// Iterator over storage offsets of a layout in logical row-major order.
pub struct StridedOffsets {
    shape: Dims,
    strides: Strides,
    index: Dims,
    next: isize,
    remaining: usize,
}

impl StridedOffsets {
    fn new(l: &Layout) -> Self {
        StridedOffsets {
            shape: l.shape.clone(),
            strides: l.strides.clone(),
            index: smallvec![0; l.ndim()],
            next: l.offset as isize,
            remaining: l.numel(),
        }
    }
}

impl Iterator for StridedOffsets {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let cur = self.next;
        let mut d = self.shape.len();
        // steps only within the span: adding a stride before knowing whether the dim wraps
        // would overflow for a size-1 dim with a huge stride
        while d > 0 {
            d -= 1;
            self.index[d] += 1;
            if self.index[d] < self.shape[d] {
                self.next += self.strides[d];
                break;
            }
            self.next -= self.strides[d] * (self.shape[d] - 1) as isize;
            self.index[d] = 0;
        }
        Some(cur as usize)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offs(l: &Layout) -> Vec<usize> {
        l.offsets().collect()
    }

    #[test]
    fn views_compose() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let t = l.transpose(0, 2).unwrap();
        assert_eq!(t.shape.as_slice(), &[4, 3, 2]);
        assert_eq!(t.strides.as_slice(), &[1, 4, 12]);
        assert!(!t.is_contiguous());
        let s = l.slice(2, Some(1), None, 2).unwrap();
        assert_eq!(offs(&s), vec![1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
        let sel = l.select(1, -1).unwrap();
        assert_eq!(offs(&sel), vec![8, 9, 10, 11, 20, 21, 22, 23]);
        let e = Layout::contiguous(&[3, 1]).expand(&[2, -1, 4]).unwrap();
        assert_eq!(e.strides.as_slice(), &[0, 1, 0]);
        assert_eq!(offs(&e).len(), 24);
    }

    #[test]
    fn view_rules_follow_torch() {
        let l = Layout::contiguous(&[4, 6]);
        let t = l.transpose(0, 1).unwrap();
        assert!(t.view(&[24]).is_err());
        assert!(t.view(&[6, 2, 2]).is_ok());
        let v = l.view(&[2, -1, 3]).unwrap();
        assert_eq!(v.shape.as_slice(), &[2, 4, 3]);
        assert_eq!(offs(&v), (0..24).collect::<Vec<_>>());
        // A narrowed row block is still viewable as long as rows stay whole.
        let n = l.narrow(0, 1, 2).unwrap();
        assert_eq!(offs(&n.view(&[12]).unwrap()), (6..18).collect::<Vec<_>>());
        let c = Layout::contiguous(&[4, 6]).narrow(1, 0, 3).unwrap();
        assert!(c.view(&[12]).is_err());
    }

    #[test]
    fn coalesce_merges_contiguous_runs() {
        let (shape, strides) = coalesce(&[2, 3, 4], &[&[12, 4, 1], &[0, 4, 1]]);
        assert_eq!(shape.as_slice(), &[2, 12]);
        assert_eq!(strides[1].as_slice(), &[0, 1]);
        let (shape, _) = coalesce(&[2, 1, 4], &[&[4, 4, 1]]);
        assert_eq!(shape.as_slice(), &[8]);
    }

    #[test]
    fn span_of_views() {
        let l = Layout::contiguous(&[4, 6]).narrow(1, 2, 3).unwrap();
        assert_eq!(l.storage_span(), (2, 23));
    }
}
