//! Bindings for reductions, scans, softmax and order-based ops: argument conversion and calls
//! into the core (rust/reduce.rs); the torch-style signatures live in python/rgrad/_reduce.py.

use super::convert::{Dim, int_list, opt_dtype};
use super::tensor::PyTensor;
use crate::op::{ReduceOp, ScanOp};
use crate::tensor::Tensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Above this many elements the GIL is released while a kernel runs.
const DETACH_NUMEL: usize = 1 << 15;

fn detach<T: Send>(py: Python<'_>, t: &Tensor, f: impl FnOnce() -> T + Send) -> T {
    if t.numel() >= DETACH_NUMEL {
        py.detach(f)
    } else {
        f()
    }
}

/// `dim` as torch takes it: None (all dims), an int, or a sequence of ints.
fn dims_of(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    match dim {
        Some(d) if !d.is_none() => Ok(Some(int_list(d)?.into_iter().map(|x| x as isize).collect())),
        _ => Ok(None),
    }
}

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyTensor>> {
    PyTensor::wrap(py, t)
}

fn wrap2(py: Python<'_>, (a, b): (Tensor, Tensor)) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    Ok((wrap(py, a)?, wrap(py, b)?))
}

/// Single-output reductions over `dim` (None = all dims).
#[pyfunction]
#[pyo3(signature = (input, op, dim=None, keepdim=false, dtype=None))]
fn _reduce(
    py: Python<'_>,
    input: &PyTensor,
    op: &str,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let t = &input.inner;
    let dims = dims_of(dim)?;
    let dims = dims.as_deref();
    let dtype = opt_dtype(dtype)?;
    let r = detach(py, t, || match op {
        "sum" => t.sum_like(ReduceOp::Sum, dims, keepdim, dtype),
        "nansum" => t.sum_like(ReduceOp::NanSum, dims, keepdim, dtype),
        "prod" => t.sum_like(ReduceOp::Prod, dims, keepdim, dtype),
        "mean" => t.mean(dims, keepdim, dtype, false),
        "nanmean" => t.mean(dims, keepdim, dtype, true),
        "amax" | "max" => t.amax(dims, keepdim, true, if op == "max" { "max" } else { "amax" }),
        "amin" | "min" => t.amax(dims, keepdim, false, if op == "min" { "min" } else { "amin" }),
        "all" => t.all_any(dims, keepdim, true),
        "any" => t.all_any(dims, keepdim, false),
        "count_nonzero" => t.count_nonzero(dims),
        "logsumexp" => t.logsumexp(dims.unwrap_or(&[]), keepdim),
        _ => Err(crate::error::Error::value(format!("unknown reduction {op}"))),
    })?;
    wrap(py, r)
}

/// max(dim) / min(dim): (values, indices).
#[pyfunction]
fn _max_dim(py: Python<'_>, input: &PyTensor, dim: Dim, keepdim: bool, is_max: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.max_dim(dim, keepdim, is_max))?)
}

#[pyfunction]
#[pyo3(signature = (input, dim, keepdim, is_max))]
fn _argmax(py: Python<'_>, input: &PyTensor, dim: Option<Dim>, keepdim: bool, is_max: bool) -> PyResult<Py<PyTensor>> {
    let dim = dim.map(|d| d.0);
    let t = &input.inner;
    wrap(py, detach(py, t, || t.argmax(dim, keepdim, is_max))?)
}

#[pyfunction]
#[pyo3(signature = (input, dim, keepdim))]
fn _aminmax(py: Python<'_>, input: &PyTensor, dim: Option<Dim>, keepdim: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.map(|d| d.0);
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.aminmax(dim, keepdim))?)
}

/// var / std, and with_mean: (var-or-std, mean).
#[pyfunction]
#[pyo3(signature = (input, dim, correction, keepdim, std, with_mean))]
fn _var(
    py: Python<'_>,
    input: &PyTensor,
    dim: Option<&Bound<'_, PyAny>>,
    correction: f64,
    keepdim: bool,
    std: bool,
    with_mean: bool,
) -> PyResult<Py<PyAny>> {
    let t = &input.inner;
    let dims = dims_of(dim)?;
    let mut r = detach(py, t, || t.var_std(dims.as_deref(), correction, keepdim, std, with_mean))?;
    if with_mean {
        let m = r.pop().unwrap();
        let v = r.pop().unwrap();
        Ok(wrap2(py, (v, m))?.into_pyobject(py)?.into_any().unbind())
    } else {
        Ok(wrap(py, r.pop().unwrap())?.into_any())
    }
}

/// Elements per output of a reduction over `dim` (for the degrees-of-freedom warning).
#[pyfunction]
#[pyo3(signature = (input, dim))]
fn _reduction_count(input: &PyTensor, dim: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    Ok(input.inner.reduction_count(dims_of(dim)?.as_deref())?)
}

#[pyfunction]
#[pyo3(signature = (input, p, dim, keepdim, dtype))]
fn _norm(
    py: Python<'_>,
    input: &PyTensor,
    p: f64,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let t = &input.inner;
    let dims = dims_of(dim)?;
    let dtype = opt_dtype(dtype)?;
    wrap(py, detach(py, t, || t.vector_norm(p, dims.as_deref(), keepdim, dtype))?)
}

/// cumsum / cumprod.
#[pyfunction]
#[pyo3(signature = (input, op, dim, dtype=None))]
fn _scan(py: Python<'_>, input: &PyTensor, op: &str, dim: Dim, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
    let dim = dim.0;
    let t = &input.inner;
    let op = match op {
        "cumsum" => ScanOp::Sum,
        "cumprod" => ScanOp::Prod,
        _ => return Err(PyValueError::new_err(format!("unknown scan {op}"))),
    };
    let dtype = opt_dtype(dtype)?;
    wrap(py, detach(py, t, || t.cumulative(op, dim, dtype))?)
}

/// cummax / cummin: (values, indices).
#[pyfunction]
fn _cum_extreme(py: Python<'_>, input: &PyTensor, dim: Dim, is_max: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.cum_extreme(dim, is_max))?)
}

#[pyfunction]
#[pyo3(signature = (input, dim, dtype, log))]
fn _softmax(py: Python<'_>, input: &PyTensor, dim: Dim, dtype: Option<&Bound<'_, PyAny>>, log: bool) -> PyResult<Py<PyTensor>> {
    let dim = dim.0;
    let t = &input.inner;
    let dtype = opt_dtype(dtype)?;
    wrap(py, detach(py, t, || t.softmax(dim, dtype, log))?)
}

#[pyfunction]
fn _sort(py: Python<'_>, input: &PyTensor, dim: Dim, descending: bool, stable: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.sort(dim, descending, stable))?)
}

#[pyfunction]
fn _topk(py: Python<'_>, input: &PyTensor, k: i64, dim: Dim, largest: bool, sorted: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.topk(k, dim, largest, sorted))?)
}

#[pyfunction]
fn _kthvalue(py: Python<'_>, input: &PyTensor, k: i64, dim: Dim, keepdim: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.kthvalue(k, dim, keepdim))?)
}

/// median / nanmedian: a 0-d tensor without `dim`, else (values, indices).
#[pyfunction]
#[pyo3(signature = (input, dim, keepdim, skip_nan))]
fn _median(py: Python<'_>, input: &PyTensor, dim: Option<Dim>, keepdim: bool, skip_nan: bool) -> PyResult<Py<PyAny>> {
    let dim = dim.map(|d| d.0);
    let t = &input.inner;
    match dim {
        None => Ok(wrap(py, detach(py, t, || t.median_all(skip_nan))?)?.into_any()),
        Some(d) => Ok(wrap2(py, detach(py, t, || t.median_dim(d, keepdim, skip_nan))?)?.into_pyobject(py)?.into_any().unbind()),
    }
}

#[pyfunction]
fn _mode(py: Python<'_>, input: &PyTensor, dim: Dim, keepdim: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.0;
    let t = &input.inner;
    wrap2(py, detach(py, t, || t.mode(dim, keepdim))?)
}

/// unique / unique_consecutive: (values, inverse, counts).
#[pyfunction]
#[pyo3(signature = (input, dim, consecutive))]
fn _unique(py: Python<'_>, input: &PyTensor, dim: Option<Dim>, consecutive: bool) -> PyResult<(Py<PyTensor>, Py<PyTensor>, Py<PyTensor>)> {
    let dim = dim.map(|d| d.0);
    let t = &input.inner;
    let (v, i, c) = detach(py, t, || t.unique(dim, consecutive))?;
    Ok((wrap(py, v)?, wrap(py, i)?, wrap(py, c)?))
}

#[pyfunction]
#[pyo3(signature = (input, weights, minlength))]
fn _bincount(py: Python<'_>, input: &PyTensor, weights: Option<&PyTensor>, minlength: i64) -> PyResult<Py<PyTensor>> {
    let t = &input.inner;
    let w = weights.map(|w| w.inner.clone());
    wrap(py, detach(py, t, || t.bincount(w.as_ref(), minlength))?)
}

#[pyfunction]
fn _histc(py: Python<'_>, input: &PyTensor, bins: i64, min: f64, max: f64) -> PyResult<Py<PyTensor>> {
    let t = &input.inner;
    wrap(py, detach(py, t, || t.histc(bins, min, max))?)
}

#[pyfunction]
#[pyo3(signature = (boundaries, values, right, out_int32, sorter))]
fn _searchsorted(
    py: Python<'_>,
    boundaries: &PyTensor,
    values: &PyTensor,
    right: bool,
    out_int32: bool,
    sorter: Option<&PyTensor>,
) -> PyResult<Py<PyTensor>> {
    let (b, v) = (&boundaries.inner, &values.inner);
    let s = sorter.map(|s| s.inner.clone());
    wrap(py, detach(py, v, || b.searchsorted(v, right, out_int32, s.as_ref()))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(_max_dim, m)?)?;
    m.add_function(wrap_pyfunction!(_argmax, m)?)?;
    m.add_function(wrap_pyfunction!(_aminmax, m)?)?;
    m.add_function(wrap_pyfunction!(_var, m)?)?;
    m.add_function(wrap_pyfunction!(_reduction_count, m)?)?;
    m.add_function(wrap_pyfunction!(_norm, m)?)?;
    m.add_function(wrap_pyfunction!(_scan, m)?)?;
    m.add_function(wrap_pyfunction!(_cum_extreme, m)?)?;
    m.add_function(wrap_pyfunction!(_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(_sort, m)?)?;
    m.add_function(wrap_pyfunction!(_topk, m)?)?;
    m.add_function(wrap_pyfunction!(_kthvalue, m)?)?;
    m.add_function(wrap_pyfunction!(_median, m)?)?;
    m.add_function(wrap_pyfunction!(_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_unique, m)?)?;
    m.add_function(wrap_pyfunction!(_bincount, m)?)?;
    m.add_function(wrap_pyfunction!(_histc, m)?)?;
    m.add_function(wrap_pyfunction!(_searchsorted, m)?)?;
    Ok(())
}
