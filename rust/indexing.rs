//! `t[idx]` and `t[idx] = v` with numpy's rules: ints, slices, None, Ellipsis give views;
//! integer and boolean tensors are advanced indices that gather into a new tensor (or scatter,
//! for assignment). Every index is bounds-checked before anything is written.

use crate::backprop::GradOp;
use crate::device::Device;
use crate::graph;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, contiguous_strides, fmt_shape, Dims};
use crate::tensor::Tensor;
use smallvec::SmallVec;

#[derive(Clone, Debug)]
pub enum TensorIndex {
    Int(i64),
    Slice { start: Option<i64>, stop: Option<i64>, step: i64 },
    None,
    Ellipsis,
    /// An int64/int32/uint8/bool tensor: an advanced index.
    Tensor(Tensor),
}

/// The result of resolving an index against a tensor: a view plus the advanced indices that
/// still have to be applied along some of its dims.
struct Resolved {
    view: Tensor,
    /// (dim of `view`, index tensor as int64 with values already wrapped and checked)
    advanced: Vec<(usize, Vec<i64>, Dims)>,
    /// An out-of-range tensor index, raised only if the result has elements (torch checks
    /// bounds per element, so an empty result never fails).
    oob: Option<Error>,
}

fn consumed_dims(i: &TensorIndex) -> usize {
    match i {
        TensorIndex::Int(_) | TensorIndex::Slice { .. } => 1,
        TensorIndex::None | TensorIndex::Ellipsis => 0,
        TensorIndex::Tensor(t) => {
            if t.dtype() == DType::Bool || t.dtype() == DType::U8 {
                t.ndim()
            } else {
                1
            }
        }
    }
}

/// Indices of true elements of a bool tensor, one Vec per dim.
pub fn nonzero_coords(mask: &Tensor) -> Result<Vec<Vec<i64>>> {
    let vals: Vec<bool> = mask.to_vec::<bool>()?;
    let shape = mask.shape().to_vec();
    let nd = shape.len();
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); nd];
    let strides = contiguous_strides(&shape);
    for (flat, &v) in vals.iter().enumerate() {
        if v {
            let mut rem = flat;
            for d in 0..nd {
                let s = strides[d] as usize;
                out[d].push((rem / s) as i64);
                rem %= s;
            }
        }
    }
    Ok(out)
}

fn resolve(t: &Tensor, idx: &[TensorIndex]) -> Result<Resolved> {
    let consumed: usize = idx.iter().map(consumed_dims).sum();
    if consumed > t.ndim() {
        return Err(Error::index(format!(
            "too many indices for tensor of dimension {}",
            t.ndim()
        )));
    }
    let mut layout: Layout = t.layout().clone();
    let mut dim = 0usize; // current dim in `layout`
    let mut advanced: Vec<(usize, Vec<i64>, Dims)> = Vec::new();
    let mut oob = None;
    for item in idx {
        // torch lets every ellipsis skip the unindexed dims, so a second one can run past the
        // end: what is indexed there has size 0
        if consumed_dims(item) > 0 && dim + consumed_dims(item) > layout.shape.len() {
            return Err(match item {
                TensorIndex::Int(i) => Error::IndexOutOfBounds { index: *i, dim, size: 0 },
                _ => Error::index(format!("too many indices for tensor of dimension {}", t.ndim())),
            });
        }
        match item {
            TensorIndex::Int(i) => {
                // torch selects on an int even beside tensor indices (numpy would treat it as
                // an advanced index), so x[0, ..., [1]] keeps the sliced dims first.
                let size = layout.shape[dim] as i64;
                if *i < -size || *i >= size {
                    return Err(Error::IndexOutOfBounds { index: *i, dim: source_dim(t, idx, item), size: size as usize });
                }
                layout = layout.select(dim as isize, *i)?;
            }
            TensorIndex::Slice { start, stop, step } => {
                if *step <= 0 {
                    return Err(Error::value("step must be greater than zero"));
                }
                layout = layout.slice(dim, *start, *stop, *step)?;
                dim += 1;
            }
            TensorIndex::None => {
                layout = layout.unsqueeze(dim as isize)?;
                dim += 1;
            }
            TensorIndex::Ellipsis => {
                let rest: usize = idx.iter().map(consumed_dims).sum();
                dim += t.ndim() - rest;
            }
            TensorIndex::Tensor(ix) => {
                let dt = ix.dtype();
                if dt == DType::Bool || dt == DType::U8 {
                    if ix.ndim() == 0 {
                        // x[True] adds a dim of size 1; x[False] one of size 0.
                        layout = layout.unsqueeze(dim as isize)?;
                        let keep = ix.item()?.to_bool();
                        advanced.push((dim, if keep { vec![0] } else { vec![] }, SmallVec::from_slice(&[keep as usize])));
                        dim += 1;
                        continue;
                    }
                    for k in 0..ix.ndim() {
                        if ix.shape()[k] != layout.shape[dim + k] {
                            return Err(Error::index(format!(
                                "The shape of the mask {} at index {} does not match the shape of the indexed tensor {} at index {}",
                                fmt_shape(ix.shape()),
                                k,
                                fmt_shape(&layout.shape),
                                dim + k
                            )));
                        }
                    }
                    let coords = nonzero_coords(ix)?;
                    let n = coords.first().map(|c| c.len()).unwrap_or(0);
                    for (k, c) in coords.into_iter().enumerate() {
                        advanced.push((dim + k, c, SmallVec::from_slice(&[n])));
                    }
                    dim += ix.ndim();
                } else if dt.is_int() {
                    let size = layout.shape[dim] as i64;
                    let mut vals = ix.to_vec::<i64>()?;
                    if size == 0 && !vals.is_empty() {
                        // (torch checks this one even when the result would be empty)
                        return Err(Error::index("index is out of bounds for dimension with size 0"));
                    }
                    for v in vals.iter_mut() {
                        if *v < -size || *v >= size {
                            if oob.is_none() {
                                oob = Some(Error::IndexOutOfBounds { index: *v, dim, size: size as usize });
                            }
                            *v = 0; // never read: the error stands unless nothing is indexed
                        } else if *v < 0 {
                            *v += size;
                        }
                    }
                    advanced.push((dim, vals, SmallVec::from_slice(ix.shape())));
                    dim += 1;
                } else {
                    return Err(Error::index("tensors used as indices must be long, int, byte or bool tensors"));
                }
            }
        }
    }
    Ok(Resolved { view: t.with_layout(layout), advanced, oob })
}

/// The dim of the original tensor an int index refers to (for torch's error message).
fn source_dim(t: &Tensor, idx: &[TensorIndex], target: &TensorIndex) -> usize {
    let mut d = 0usize;
    for i in idx {
        if std::ptr::eq(i, target) {
            return d;
        }
        match i {
            TensorIndex::Ellipsis => {
                let rest: usize = idx.iter().map(consumed_dims).sum();
                d += t.ndim() - rest;
            }
            other => d += consumed_dims(other),
        }
    }
    d
}

/// How advanced indices lay out their result: the broadcast index shape, the dims they index,
/// and where the broadcast dims go in the result.
struct Plan {
    bshape: Dims,
    /// Per advanced dim: flat index values broadcast to `bshape`.
    indices: Vec<(usize, Vec<i64>)>,
    /// The non-advanced dims of the view, in order.
    rest: Vec<usize>,
    /// Position of the broadcast dims in the result (numpy: in place when adjacent, else front).
    insert_at: usize,
}

fn plan(r: &Resolved) -> Result<Plan> {
    let shapes: Vec<&[usize]> = r.advanced.iter().map(|(_, _, s)| s.as_slice()).collect();
    let bshape = broadcast_shapes(&shapes).map_err(|_| {
        let parts: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
        Error::index(format!("shape mismatch: indexing tensors could not be broadcast together with shapes {}", parts.join(", ")))
    })?;
    let bn: usize = bshape.iter().product();
    let mut indices = Vec::with_capacity(r.advanced.len());
    for (d, vals, shape) in &r.advanced {
        // Broadcast each index to bshape by walking its own contiguous layout with 0-strides.
        let l = Layout::contiguous(shape).broadcast_to(&bshape)?;
        let flat: Vec<i64> = if bn == 0 { vec![] } else { l.offsets().map(|o| vals[o]).collect() };
        indices.push((*d, flat));
    }
    let adv_dims: Vec<usize> = r.advanced.iter().map(|(d, _, _)| *d).collect();
    let rest: Vec<usize> = (0..r.view.ndim()).filter(|d| !adv_dims.contains(d)).collect();
    let mut sorted = adv_dims.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let adjacent = sorted.windows(2).all(|w| w[1] == w[0] + 1);
    let insert_at = if adjacent { rest.iter().filter(|&&d| d < sorted[0]).count() } else { 0 };
    Ok(Plan { bshape, indices, rest, insert_at })
}

impl Plan {
    fn result_shape(&self, view: &Tensor) -> Dims {
        let mut shape: Dims = self.rest.iter().map(|&d| view.shape()[d]).collect();
        for (k, &b) in self.bshape.iter().enumerate() {
            shape.insert(self.insert_at + k, b);
        }
        shape
    }

    /// Storage offsets of the view for each broadcast index position.
    fn bases(&self, view: &Tensor) -> Vec<isize> {
        let bn: usize = self.bshape.iter().product();
        let mut bases = vec![view.offset() as isize; bn];
        for (d, vals) in &self.indices {
            let st = view.strides()[*d];
            for (b, v) in bases.iter_mut().zip(vals) {
                *b += *v as isize * st;
            }
        }
        bases
    }

    /// For the device kernels, which address positions (bshape..., rest...) through an index
    /// of element offsets: `bases` as an int64 tensor on the view's device, the storage's layout
    /// (stride 0 over the indexed dims, the view's strides over the rest) and the offsets'
    /// layout (their strides over bshape, 0 over the rest).
    fn device_offsets(&self, view: &Tensor, bases: &[isize]) -> Result<(Tensor, Layout, Layout)> {
        let mut shape = self.bshape.clone();
        shape.extend(self.rest.iter().map(|&d| view.shape()[d]));
        let offsets = Tensor::from_vec(bases.iter().map(|&b| b as i64).collect::<Vec<i64>>(), &self.bshape)?.to_device(view.device())?;
        let mut storage_strides: crate::shape::Strides = smallvec::smallvec![0; self.bshape.len()];
        storage_strides.extend(self.rest.iter().map(|&d| view.strides()[d]));
        let mut idx_strides = contiguous_strides(&self.bshape);
        idx_strides.extend(self.rest.iter().map(|_| 0));
        let il = Layout::new(shape.clone(), idx_strides, offsets.offset());
        Ok((offsets, Layout::new(shape, storage_strides, 0), il))
    }

    /// Offsets (relative) of the non-advanced sub-block, row-major.
    fn rest_offsets(&self, view: &Tensor) -> Vec<isize> {
        let shape: Dims = self.rest.iter().map(|&d| view.shape()[d]).collect();
        let strides: SmallVec<[isize; 6]> = self.rest.iter().map(|&d| view.strides()[d]).collect();
        Layout::new(shape, strides, 0).offsets().map(|o| o as isize).collect::<Vec<_>>()
    }

    /// Permutation taking (bshape..., rest...) order to the result order.
    fn to_result_perm(&self) -> Vec<isize> {
        let nb = self.bshape.len();
        let nr = self.rest.len();
        let mut perm: Vec<isize> = Vec::with_capacity(nb + nr);
        perm.extend((nb..nb + self.insert_at).map(|x| x as isize));
        perm.extend((0..nb).map(|x| x as isize));
        perm.extend((nb + self.insert_at..nb + nr).map(|x| x as isize));
        perm
    }
}

fn cpu_ptr(t: &Tensor) -> Result<*mut u8> {
    t.storage().as_cpu().map(|b| b.as_ptr()).ok_or_else(|| Error::runtime("advanced indexing needs a CPU tensor"))
}

fn has_advanced(idx: &[TensorIndex]) -> bool {
    idx.iter().any(|i| matches!(i, TensorIndex::Tensor(_)))
}

/// A 0-d integer tensor index selects like an int (torch's applySlicing), giving a view.
fn normalize(idx: &[TensorIndex]) -> Result<Vec<TensorIndex>> {
    idx.iter()
        .map(|i| match i {
            TensorIndex::Tensor(ix) if ix.ndim() == 0 && ix.dtype().is_int() && ix.dtype() != DType::U8 => {
                Ok(TensorIndex::Int(ix.item()?.to_i64()))
            }
            other => Ok(other.clone()),
        })
        .collect()
}

/// `t[idx]`. Basic indices give views recorded by the view ops; advanced ones record Index.
pub fn index(t: &Tensor, idx: &[TensorIndex]) -> Result<Tensor> {
    let idx = &normalize(idx)?[..];
    if has_advanced(idx) && graph::needs_grad(&[t]) {
        let shape = smallvec::SmallVec::from_slice(t.shape());
        return graph::recorded(&[t], &[], || GradOp::Index(shape, idx.to_vec()), || index_raw(t, idx));
    }
    if !has_advanced(idx) {
        // A view: recorded like the other view ops, its layout found by the same resolution.
        let all_ints = idx.iter().all(|i| matches!(i, TensorIndex::Int(_) | TensorIndex::None | TensorIndex::Ellipsis));
        let name = if all_ints { "SelectBackward0" } else { "SliceBackward0" };
        return t.view_op(crate::tensor::ViewKind::Strided(name), |l| Ok(resolve(&t.with_layout(l.clone()), idx)?.view.layout().clone()));
    }
    index_raw(t, idx)
}

/// `t[idx] = value` under autograd: (old t, value) -> new t.
fn index_put_recorded(t: &Tensor, idx: &[TensorIndex], value: Option<&Tensor>, fill: Scalar) -> Result<()> {
    // a basic index writes through a view of t, as torch's setitem does
    graph::check_inplace(t, t.is_view_of_leaf() || (t.is_leaf() && !has_advanced(idx)))?;
    let others: Vec<&Tensor> = value.into_iter().collect();
    let v = value.map(|v| v.detach());
    t.rebase(&others, GradOp::IndexPut(idx.to_vec(), has_advanced(idx)), &[], |old| {
        let r = old.detach().deep_clone()?;
        match &v {
            Some(v) => index_put_raw(&r, idx, v)?,
            None => index_fill_raw(&r, idx, fill)?,
        }
        Ok(r)
    })
}

fn index_raw(t: &Tensor, idx: &[TensorIndex]) -> Result<Tensor> {
    let r = resolve(t, idx)?;
    if r.advanced.is_empty() {
        return Ok(r.view);
    }
    let p = plan(&r)?;
    let view = &r.view;
    let mut gshape: Dims = p.bshape.clone();
    gshape.extend(p.rest.iter().map(|&d| view.shape()[d]));
    if let (Some(e), true) = (&r.oob, gshape.iter().product::<usize>() > 0) {
        return Err(e.clone());
    }
    let bases = p.bases(view);
    let es = view.dtype().size();
    let out = Tensor::empty(&gshape, view.dtype(), view.device())?;
    if view.device() != Device::Cpu {
        // gathered on the device: out[b, r] = storage[bases[b] + rest offset of r]
        let (offsets, src_base, il) = p.device_offsets(view, &bases)?;
        view.storage().gather(&src_base, 1, offsets.storage(), &il, out.storage(), out.layout(), es)?;
    } else {
        let rest = p.rest_offsets(view);
        let (src, dst) = (cpu_ptr(view)?, cpu_ptr(&out)?);
        let mut k = 0usize;
        for &b in &bases {
            for &o in &rest {
                // SAFETY: b + o lies in the view's span (indices were bounds-checked); k < numel(out).
                unsafe { std::ptr::copy_nonoverlapping(src.offset((b + o) * es as isize), dst.add(k * es), es) };
                k += 1;
            }
        }
    }
    let perm = p.to_result_perm();
    if perm.iter().enumerate().all(|(i, &v)| i as isize == v) {
        Ok(out)
    } else {
        out.permute(&perm)?.contiguous()
    }
}

/// `t[idx] = value` for a tensor value (broadcast to the indexed shape, cast to t's dtype).
pub fn index_put(t: &Tensor, idx: &[TensorIndex], value: &Tensor) -> Result<()> {
    let idx = &normalize(idx)?[..];
    if has_advanced(idx) && value.dtype() != t.dtype() {
        return Err(Error::runtime(format!(
            "Index put requires the source and destination dtypes match, got {} for the destination and {} for the source.",
            t.dtype().torch_kernel_name(),
            value.dtype().torch_kernel_name()
        )));
    }
    // leading size-1 dims of the value are dropped (torch's slicePrefix1sDims): x[0] = [[v]]
    let lead = value.shape().iter().take_while(|&&s| s == 1).count();
    let stripped;
    let value = if lead > 0 {
        stripped = value.reshape(&value.shape()[lead..].iter().map(|&s| s as i64).collect::<Vec<_>>())?;
        &stripped
    } else {
        value
    };
    if graph::needs_grad(&[t, value]) {
        return index_put_recorded(t, idx, Some(value), Scalar::Int(0));
    }
    index_put_raw(t, idx, value)
}

fn index_put_raw(t: &Tensor, idx: &[TensorIndex], value: &Tensor) -> Result<()> {
    let r = resolve(t, idx)?;
    if r.advanced.is_empty() {
        return r.view.copy_(value);
    }
    let p = plan(&r)?;
    let view = &r.view;
    let rshape = p.result_shape(view);
    let v = value.broadcast_to(&rshape).map_err(|_| {
        Error::runtime(format!(
            "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
            fmt_shape(value.shape()),
            fmt_shape(&rshape)
        ))
    })?;
    if let (Some(e), true) = (&r.oob, rshape.iter().product::<usize>() > 0) {
        return Err(e.clone());
    }
    // Back to (bshape..., rest...) order, contiguous, in t's dtype.
    let perm = p.to_result_perm();
    let mut inv = vec![0isize; perm.len()];
    for (i, &pv) in perm.iter().enumerate() {
        inv[pv as usize] = i as isize;
    }
    let v = v.permute(&inv)?.to_dtype(t.dtype())?.deep_clone()?;
    t.check_writable()?;
    let bases = p.bases(view);
    if view.device() != Device::Cpu {
        // scattered on the device, index_raw's gather run backwards: storage[bases[b] + rest
        // offset of r] = v[b, r] (a repeated position keeps one of its values, as on CUDA)
        let (offsets, dst_base, il) = p.device_offsets(view, &bases)?;
        let v = v.to_device(view.device())?;
        view.storage()
            .scatter(&dst_base, 1, offsets.storage(), &il, v.storage(), v.layout(), view.dtype(), crate::cpu::gather::ScatterReduce::Replace)?;
        t.bump_version();
        return Ok(());
    }
    let rest = p.rest_offsets(view);
    let es = view.dtype().size();
    let (src, dst) = (cpu_ptr(&v)?, cpu_ptr(view)?);
    let mut k = 0usize;
    for &b in &bases {
        for &o in &rest {
            // SAFETY: as in `index`, with roles swapped.
            unsafe { std::ptr::copy_nonoverlapping(src.add(k * es), dst.offset((b + o) * es as isize), es) };
            k += 1;
        }
    }
    t.bump_version();
    Ok(())
}

/// `t[idx] = scalar`.
pub fn index_fill(t: &Tensor, idx: &[TensorIndex], value: Scalar) -> Result<()> {
    let idx = &normalize(idx)?[..];
    if graph::needs_grad(&[t]) {
        return index_put_recorded(t, idx, None, value);
    }
    index_fill_raw(t, idx, value)
}

fn index_fill_raw(t: &Tensor, idx: &[TensorIndex], value: Scalar) -> Result<()> {
    let r = resolve(t, idx)?;
    if r.advanced.is_empty() {
        return r.view.fill_(value);
    }
    index_put_raw(t, idx, &Tensor::scalar(value, t.dtype()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arange(n: usize, shape: &[usize]) -> Tensor {
        Tensor::from_vec((0..n as i64).collect::<Vec<_>>(), shape).unwrap()
    }
    fn long(v: Vec<i64>, shape: &[usize]) -> TensorIndex {
        TensorIndex::Tensor(Tensor::from_vec(v, shape).unwrap())
    }

    #[test]
    fn basic_views() {
        let t = arange(24, &[2, 3, 4]);
        let v = index(&t, &[TensorIndex::Int(1), TensorIndex::Ellipsis, TensorIndex::Slice { start: None, stop: None, step: 2 }]).unwrap();
        assert_eq!(v.shape(), &[3, 2]);
        assert_eq!(v.to_vec::<i64>().unwrap(), vec![12, 14, 16, 18, 20, 22]);
        assert!(v.same_storage(&t));
        let e = index(&t, &[TensorIndex::Int(5)]).unwrap_err();
        assert_eq!(e.to_string(), "index 5 is out of bounds for dimension 0 with size 2");
    }

    #[test]
    fn advanced_placement_follows_numpy() {
        let t = arange(24, &[2, 3, 4]);
        // Adjacent advanced indices stay in place: shape [2, 2].
        let a = index(&t, &[TensorIndex::Slice { start: None, stop: None, step: 1 }, long(vec![0, 2], &[2]), long(vec![1, 3], &[2])]).unwrap();
        assert_eq!(a.shape(), &[2, 2]);
        assert_eq!(a.to_vec::<i64>().unwrap(), vec![1, 11, 13, 23]);
        // Separated by a slice: broadcast dims go first: shape [2, 3].
        let b = index(&t, &[long(vec![0, 1], &[2]), TensorIndex::Slice { start: None, stop: None, step: 1 }, long(vec![0, 3], &[2])]).unwrap();
        assert_eq!(b.shape(), &[2, 3]);
        assert_eq!(b.to_vec::<i64>().unwrap(), vec![0, 4, 8, 15, 19, 23]);
    }

    #[test]
    fn put_through_mask() {
        let t = arange(6, &[2, 3]);
        let mask = Tensor::from_vec(vec![true, false, true, false, true, false], &[2, 3]).unwrap();
        index_fill(&t, &[TensorIndex::Tensor(mask)], Scalar::Int(-1)).unwrap();
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![-1, 1, -1, 3, -1, 5]);
    }
}
