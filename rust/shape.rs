//! Shapes: contiguous strides, broadcasting, dim wrapping and `-1` inference, with torch's
//! error messages.

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Sizes of a tensor; most tensors have few dims, so they live inline.
pub type Dims = SmallVec<[usize; 6]>;
/// Strides in elements. Signed so that internal iteration can walk backwards; every stride a
/// user sees is non-negative, as in torch.
pub type Strides = SmallVec<[isize; 6]>;

/// The number of elements. Every layout's numel was checked when it was made (`checked_numel`),
/// so the product fits; it is taken modulo 2^64 so that a permuted empty shape whose other
/// sizes multiply past the range (`[2**62, 4, 0]` from an accepted `[0, 2**62, 4]`) still gives 0.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &s| n.wrapping_mul(s))
}

/// torch's `safe_compute_numel`: the running product from the left, an overflow past int64
/// sticking even when a later size is 0 (`[2**62, 4, 0]` is refused, `[0, 2**62, 4]` is not).
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    let mut n: u64 = 1;
    let mut overflow = false;
    for &s in shape {
        let (p, o) = n.overflowing_mul(s as u64);
        n = p;
        overflow |= o || n > i64::MAX as u64;
    }
    if overflow {
        return Err(Error::runtime("numel: integer multiplication overflow"));
    }
    Ok(n as usize)
}

/// Row-major strides, size-0 dims counted as 1. Wrapping: only an empty tensor that was never
/// allocated (an expanded or viewed empty shape) can have sizes whose product overflows, and its
/// strides are never used to address memory. `checked_contiguous_strides` is the allocating form.
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.wrapping_mul(shape[i].max(1) as isize);
    }
    strides
}

/// torch's stride computation for a new tensor, which refuses a stride past int64
/// (`zeros(0, 2**62, 2**62)`; the first dim's size is in no stride, `zeros(4, 0, 2**62)` passes).
pub fn checked_contiguous_strides(shape: &[usize]) -> Result<Strides> {
    let mut strides: Strides = SmallVec::from_elem(1, shape.len());
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1]
            .checked_mul(shape[i + 1].max(1) as isize)
            .ok_or_else(|| Error::runtime("Stride calculation overflowed"))?;
    }
    Ok(strides)
}

/// torch's strides for an empty tensor viewed with another shape: unchecked products wrapping
/// in int64 (`[5, 2**62]` gives stride 2**62 to a dim before them), refused when one comes out
/// negative.
pub fn empty_view_strides(shape: &[usize]) -> Result<Strides> {
    let mut strides: Strides = SmallVec::from_elem(1, shape.len());
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].wrapping_mul(shape[i + 1].max(1) as isize);
        if strides[i] < 0 {
            return Err(Error::runtime("Stride calculation overflowed"));
        }
    }
    Ok(strides)
}

/// torch's storage size of a new contiguous tensor: numel * itemsize, refused past int64.
pub fn checked_storage_nbytes(shape: &[usize], itemsize: usize) -> Result<usize> {
    let overflow = || Error::runtime(format!("Storage size calculation overflowed with sizes={}", fmt_shape(shape)));
    let n = checked_numel(shape).map_err(|_| overflow())?;
    n.checked_mul(itemsize).filter(|&b| b <= i64::MAX as usize).ok_or_else(overflow)
}

/// Formats a size list as torch does in messages: `[2, 3]`.
pub fn fmt_shape<T: std::fmt::Display>(shape: &[T]) -> String {
    let parts: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Wraps a possibly negative dim into `0..ndim`. A 0-d tensor accepts dims as if it had one.
pub fn wrap_dim(dim: isize, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as isize;
    if dim < -n || dim >= n {
        return Err(Error::DimOutOfRange { dim, lo: -n, hi: n - 1 });
    }
    Ok(if dim < 0 { (dim + n) as usize } else { dim as usize })
}

/// Like `wrap_dim` for positions that may be one past the end (unsqueeze, insertion points).
pub fn wrap_insert_dim(dim: isize, ndim: usize) -> Result<usize> {
    wrap_dim(dim, ndim + 1)
}

/// torch.broadcast_shapes for two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in (0..n).rev() {
        let off = n - 1 - i;
        let sa = if off < a.len() { a[a.len() - 1 - off] } else { 1 };
        let sb = if off < b.len() { b[b.len() - 1 - off] } else { 1 };
        if sa != sb && sa != 1 && sb != 1 {
            return Err(Error::BroadcastMismatch { a: sa, b: sb, dim: i });
        }
        out[i] = if sa == 1 { sb } else { sa };
    }
    Ok(out)
}

pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Dims> {
    let mut out: Dims = SmallVec::new();
    for s in shapes {
        out = broadcast_shape(&out, s)?;
    }
    Ok(out)
}

/// Resolves one `-1` in a requested shape against `numel`, as view/reshape do.
pub fn infer_size(requested: &[i64], numel: usize) -> Result<Dims> {
    let mut out: Dims = SmallVec::with_capacity(requested.len());
    let mut infer: Option<usize> = None;
    let mut known: usize = 1;
    for (i, &s) in requested.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                return Err(Error::runtime("only one dimension can be inferred"));
            }
            infer = Some(i);
            out.push(1);
        } else if s < 0 {
            return Err(Error::runtime(format!("invalid shape dimension {s}")));
        } else {
            known = known.saturating_mul(s as usize);
            out.push(s as usize);
        }
    }
    let bad = || Error::InvalidShape { shape: fmt_shape(requested), numel };
    match infer {
        Some(i) => {
            // torch refuses to infer against a zero-sized remainder ("ambiguous").
            if known == 0 || numel % known != 0 {
                return Err(bad());
            }
            out[i] = numel / known;
        }
        None => {
            checked_numel(&out)?;
            if known != numel {
                return Err(bad());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_and_message() {
        assert_eq!(broadcast_shape(&[3, 1, 5], &[4, 1]).unwrap().as_slice(), &[3, 4, 5]);
        assert_eq!(broadcast_shape(&[], &[2, 3]).unwrap().as_slice(), &[2, 3]);
        assert_eq!(broadcast_shape(&[0, 1], &[1, 4]).unwrap().as_slice(), &[0, 4]);
        let e = broadcast_shape(&[1, 1, 2], &[1, 1, 3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 2"
        );
    }

    #[test]
    fn infer_and_errors() {
        assert_eq!(infer_size(&[3, -1], 12).unwrap().as_slice(), &[3, 4]);
        assert_eq!(infer_size(&[5, -1], 12).unwrap_err().to_string(), "shape '[5, -1]' is invalid for input of size 12");
        assert!(infer_size(&[-1, -1], 12).is_err());
        assert!(infer_size(&[0, -1], 0).is_err());
    }

    #[test]
    fn wrap() {
        assert_eq!(wrap_dim(-1, 3).unwrap(), 2);
        assert_eq!(
            wrap_dim(3, 3).unwrap_err().to_string(),
            "Dimension out of range (expected to be in range of [-3, 2], but got 3)"
        );
        assert_eq!(wrap_dim(0, 0).unwrap(), 0);
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
    }
}
