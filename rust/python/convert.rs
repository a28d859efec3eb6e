//! Python values -> core values: scalars, dtypes, sizes, nested lists, index tuples.

use super::tensor::{PyDType, PyTensor};
use crate::dtype::{default_float, DType, Scalar};
use crate::error::Error;
use crate::indexing::TensorIndex;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple};

/// A dim argument: an int or anything with `__index__`, but never a bool (torch's argument
/// parser refuses `dim=True`, which Python would otherwise take as 1).
pub struct Dim(pub isize);

impl<'a, 'py> FromPyObject<'a, 'py> for Dim {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBool>() || obj.is_none() {
            return Err(PyTypeError::new_err(format!("must be int, not {}", obj.get_type().name()?)));
        }
        Ok(Dim(obj.extract::<isize>()?))
    }
}

/// A Python number (bool, int, float, numpy scalar) as a core scalar; None if not a number.
pub fn scalar_of(obj: &Bound<'_, PyAny>) -> Option<Scalar> {
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Scalar::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>().ok().map(Scalar::Float);
    }
    if obj.is_instance_of::<PyTensor>() || obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return None;
    }
    // numpy scalars and other number-likes.
    let ty = obj.get_type();
    let name = ty.name().ok()?.to_string();
    if name.starts_with("bool") {
        return obj.is_truthy().ok().map(Scalar::Bool);
    }
    if obj.hasattr("__index__").unwrap_or(false) {
        if let Ok(i) = obj.call_method0("__index__").and_then(|v| v.extract::<i64>()) {
            return Some(Scalar::Int(i));
        }
    }
    if obj.hasattr("__float__").unwrap_or(false) && !obj.hasattr("__len__").unwrap_or(false) {
        if let Ok(f) = obj.call_method0("__float__").and_then(|v| v.extract::<f64>()) {
            return Some(Scalar::Float(f));
        }
    }
    None
}

pub fn dtype_of(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().0);
    }
    if let Ok(s) = obj.extract::<String>() {
        if let Some(d) = DType::from_name(s.trim_start_matches("torch.").trim_start_matches("rgrad.")) {
            return Ok(d);
        }
    }
    // Python's own types, as torch accepts them.
    let py = obj.py();
    if obj.is(py.get_type::<PyFloat>()) {
        return Ok(DType::F64);
    }
    if obj.is(py.get_type::<PyBool>()) {
        return Ok(DType::Bool);
    }
    if obj.is(py.get_type::<PyInt>()) {
        return Ok(DType::I64);
    }
    // numpy dtypes and scalar types.
    if let Ok(name) = obj.getattr("name").and_then(|n| n.extract::<String>()) {
        if let Some(d) = DType::from_name(&name) {
            return Ok(d);
        }
    }
    if let Ok(name) = obj.getattr("__name__").and_then(|n| n.extract::<String>()) {
        if let Some(d) = DType::from_name(&name) {
            return Ok(d);
        }
    }
    Err(PyTypeError::new_err(format!("cannot interpret {} as a data type", obj.repr()?)))
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => dtype_of(o).map(Some),
    }
}

/// Sizes given as `f(2, 3)`, `f((2, 3))`, `f([2, 3])` or `f(Size)`.
pub fn sizes_from_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() && scalar_of(&a).is_none() {
            return int_list(&a);
        }
    }
    args.iter().map(|a| index_int(&a)).collect()
}

/// An int-like (int, numpy int, 1-element int tensor via __index__).
pub fn index_int(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract::<i64>();
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.get().inner;
        if t.numel() == 1 && !t.dtype().is_float() && t.dtype() != DType::Bool {
            return Ok(t.item()?.to_i64());
        }
    }
    if obj.hasattr("__index__")? && !obj.is_instance_of::<PyBool>() {
        return obj.call_method0("__index__")?.extract::<i64>();
    }
    Err(PyTypeError::new_err(format!(
        "'{}' object cannot be interpreted as an integer",
        obj.get_type().name()?
    )))
}

pub fn int_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|x| index_int(&x)).collect();
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|x| index_int(&x)).collect();
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(vec![index_int(obj)?]);
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.get().inner.to_vec::<i64>()?);
    }
    let it = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("expected a sequence of integers, got {}", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()))
    })?;
    it.map(|x| index_int(&x?)).collect()
}

pub fn usize_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let sizes = int_list(obj)?;
    if let Some(v) = sizes.iter().find(|&&v| v < 0) {
        return Err(Error::runtime(format!("Trying to create tensor with negative dimension {v}: {sizes:?}")).into());
    }
    Ok(sizes.into_iter().map(|v| v as usize).collect())
}

/// Nested Python sequences -> (shape, flat values, inferred dtype) for `tensor(data)`.
pub struct Nested {
    pub shape: Vec<usize>,
    pub values: Vec<Scalar>,
    pub dtype: DType,
    /// Tensors met inside the data (0-d or n-d), which decide the dtype when present.
    pub tensor_dtype: Option<DType>,
}

pub fn parse_nested(obj: &Bound<'_, PyAny>) -> PyResult<Nested> {
    let mut n = Nested { shape: Vec::new(), values: Vec::new(), dtype: DType::Bool, tensor_dtype: None };
    let mut max_cat = 0u8; // 0 bool, 1 int, 2 float
    let mut shape_known = false;
    walk(obj, 0, &mut n, &mut max_cat, &mut shape_known)?;
    n.dtype = match max_cat {
        0 => DType::Bool,
        1 => DType::I64,
        _ => default_float(),
    };
    if n.values.is_empty() && !n.shape.is_empty() {
        n.dtype = default_float();
    }
    if let Some(td) = n.tensor_dtype {
        n.dtype = td;
    }
    Ok(n)
}

fn walk(obj: &Bound<'_, PyAny>, depth: usize, n: &mut Nested, cat: &mut u8, shape_known: &mut bool) -> PyResult<()> {
    if obj.is_none() {
        return Err(Error::runtime("Could not infer dtype of NoneType").into());
    }
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() && obj.extract::<i64>().is_err() {
        return Err(PyValueError::new_err("Overflow when unpacking long long"));
    }
    if let Some(s) = scalar_of(obj) {
        if *shape_known && depth != n.shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got {})",
                n.shape.get(depth).copied().unwrap_or(0),
                depth,
                0
            )));
        }
        if !*shape_known {
            *shape_known = true;
        }
        *cat = (*cat).max(match s {
            Scalar::Bool(_) => 0,
            Scalar::Int(_) => 1,
            Scalar::Float(_) => 2,
        });
        n.values.push(s);
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.get().inner;
        if !*shape_known {
            n.shape.extend_from_slice(t.shape());
            *shape_known = true;
        }
        n.tensor_dtype = Some(match n.tensor_dtype {
            None => t.dtype(),
            Some(d) => DType::promote(d, t.dtype()),
        });
        let flat = t.contiguous()?;
        for i in 0..flat.numel() {
            n.values.push(flat.get_flat(i)?);
        }
        return Ok(());
    }
    let seq: Vec<Bound<'_, PyAny>> = if let Ok(l) = obj.cast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().collect()
    } else if obj.hasattr("__len__")? && obj.hasattr("__getitem__")? {
        obj.try_iter()?.collect::<PyResult<_>>()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "new(): invalid data type '{}'",
            obj.get_type().name()?
        )));
    };
    if !*shape_known && depth == n.shape.len() {
        n.shape.push(seq.len());
        if seq.is_empty() {
            *shape_known = true;
        }
    } else if depth >= n.shape.len() || n.shape[depth] != seq.len() {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            n.shape.get(depth).copied().unwrap_or(0),
            depth,
            seq.len()
        )));
    }
    for item in seq {
        walk(&item, depth + 1, n, cat, shape_known)?;
    }
    Ok(())
}

/// Builds a tensor of `dtype` from parsed nested data.
pub fn tensor_from_nested(n: &Nested, dtype: DType) -> PyResult<Tensor> {
    if let Some((lo, hi)) = dtype.int_range() {
        // torch refuses what the integer type cannot hold instead of wrapping it
        // (c10's rule lets a negative int into uint8 while its magnitude fits: -1 -> 255)
        let int_lo = if dtype == DType::U8 { -255 } else { lo };
        let fits = |s: &Scalar| match *s {
            Scalar::Float(f) => f.is_finite() && f >= lo as f64 && f <= hi as f64,
            Scalar::Int(v) => v >= int_lo && v <= hi,
            Scalar::Bool(_) => true,
        };
        if n.tensor_dtype.is_none() && !n.values.iter().all(fits) {
            return Err(Error::runtime(format!("value cannot be converted to type {} without overflow", dtype.name())).into());
        }
    }
    macro_rules! build {
        ($T:ty) => {{
            let v: Vec<$T> = n.values.iter().map(|s| s.to_elem::<$T>()).collect();
            Tensor::from_vec(v, &n.shape)?
        }};
    }
    Ok(crate::with_dtype!(dtype, T, { build!(T) }))
}

/// A Python index (int, slice, None, Ellipsis, tensor, list, bool, or a tuple of those).
pub fn parse_index(py: Python<'_>, obj: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<TensorIndex>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = obj.cast::<PyTuple>() { t.iter().collect() } else { vec![obj.clone()] };
    let bad_step = |i: &Bound<'_, PyAny>| -> PyResult<bool> {
        match i.cast::<PySlice>() {
            Ok(sl) => {
                let step = sl.getattr("step")?;
                Ok(!step.is_none() && index_int(&step)? <= 0)
            }
            Err(_) => Ok(false),
        }
    };
    if obj.cast::<PyTuple>().is_err() && bad_step(obj)? {
        // torch's fast path for a lone slice (not a 1-tuple) checks its step before the count
        return Err(PyValueError::new_err("step must be greater than zero"));
    }
    let has_str = items.iter().any(|i| i.is_instance_of::<PyString>());
    let mut has_bad_step = false;
    for i in &items {
        has_bad_step |= bad_step(i)?;
    }
    if has_str || has_bad_step {
        // Errors the resolution would report in another order: torch counts the indices, then
        // applies them one by one (an int out of range, a slice's step, a str it tries to make
        // a tensor of), whichever comes first.
        let ndim = shape.len();
        let counted = items.iter().filter(|i| !i.is_none() && !i.is(py.Ellipsis()) && !i.is_instance_of::<PyBool>()).count();
        if counted > ndim {
            return Err(Error::index(format!("too many indices for tensor of dimension {ndim}")).into());
        }
        let mut dim = Some(0usize); // unknown after an ellipsis
        for i in &items {
            if i.is_none() || i.is_instance_of::<PyBool>() {
                continue;
            }
            if i.is(py.Ellipsis()) {
                // it stands for the dims no index names (a second one: past the end, unknown)
                dim = dim.map(|d| d + ndim - counted).filter(|&d| d <= ndim);
                continue;
            }
            if i.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("new(): invalid data type 'str'"));
            }
            if bad_step(i)? {
                return Err(PyValueError::new_err("step must be greater than zero"));
            }
            if let (true, Some(&size)) = (i.is_instance_of::<PyInt>(), dim.and_then(|d| shape.get(d))) {
                let d = dim.unwrap_or(0);
                let v: i64 = i.extract()?;
                let size = size as i64;
                if v < -size || v >= size {
                    return Err(Error::IndexOutOfBounds { index: v, dim: d, size: size as usize }.into());
                }
            } else {
                parse_index_item(py, i)?;
            }
            dim = dim.map(|d| d + 1);
        }
    }
    items.iter().map(|i| parse_index_item(py, i)).collect()
}

fn parse_index_item(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<TensorIndex> {
    if obj.is_none() {
        return Ok(TensorIndex::None);
    }
    if obj.is(py.Ellipsis()) {
        return Ok(TensorIndex::Ellipsis);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(TensorIndex::Tensor(Tensor::scalar(Scalar::Bool(b.is_true()), DType::Bool)));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(TensorIndex::Int(obj.extract::<i64>()?));
    }
    if let Ok(s) = obj.cast::<PySlice>() {
        let get = |name: &str| -> PyResult<Option<i64>> {
            let v = s.getattr(name)?;
            if v.is_none() {
                Ok(None)
            } else {
                index_int(&v).map(Some)
            }
        };
        // a step <= 0 is refused when the index is resolved, after the count of indices
        let step = get("step")?.unwrap_or(1);
        return Ok(TensorIndex::Slice { start: get("start")?, stop: get("stop")?, step });
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        // (a 0-d integer tensor selects like an int: indexing::normalize)
        return Ok(TensorIndex::Tensor(t.get().inner.clone()));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let n = parse_nested(obj)?;
        let dtype = if n.values.is_empty() { DType::I64 } else { n.dtype };
        if dtype.is_float() {
            return Err(Error::index("tensors used as indices must be long, int, byte or bool tensors").into());
        }
        return Ok(TensorIndex::Tensor(tensor_from_nested(&n, dtype)?));
    }
    // numpy arrays and other array-likes become tensors through rgrad.as_tensor.
    if obj.hasattr("__array_interface__")? || obj.hasattr("__array__")? {
        let rg = py.import("rgrad")?;
        let t = rg.getattr("as_tensor")?.call1((obj,))?;
        return parse_index_item(py, &t);
    }
    if let Ok(i) = index_int(obj) {
        return Ok(TensorIndex::Int(i));
    }
    Err(Error::index(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got ".to_string()
            + &obj.get_type().name()?.to_string()
            + ")",
    )
    .into())
}
