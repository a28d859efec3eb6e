//! Bindings for index-driven data movement (gather, scatter, where, masked_fill, cat, stack,
//! nonzero). Conversion only.

use super::convert::{scalar_of, Dim};
use super::tensor::PyTensor;
use crate::cpu::gather::ScatterReduce;
use crate::tensor::{Rhs, Tensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

fn tensor_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    obj.cast::<PyTensor>()
        .map(|t| t.get().inner.clone())
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a Tensor, not {}", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default())))
}

fn value_of(obj: &Bound<'_, PyAny>) -> PyResult<Rhs> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(Rhs::Tensor(t.get().inner.clone()));
    }
    scalar_of(obj).map(Rhs::Scalar).ok_or_else(|| PyTypeError::new_err("expected a Tensor or a Number"))
}

fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|o| tensor_of(&o?, "expected a sequence of Tensors: element")).collect()
}

#[pyfunction]
fn _gather(py: Python<'_>, input: &Bound<'_, PyAny>, dim: Dim, index: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let dim = dim.0;
    let (t, i) = (tensor_of(input, "input")?, tensor_of(index, "index")?);
    PyTensor::wrap(py, py.detach(|| t.gather(dim, &i))?)
}

#[pyfunction]
#[pyo3(signature = (input, dim, index, src, reduce=None))]
fn _scatter_(input: &Bound<'_, PyAny>, dim: Dim, index: &Bound<'_, PyAny>, src: &Bound<'_, PyAny>, reduce: Option<&str>) -> PyResult<()> {
    let dim = dim.0;
    let (t, i, v) = (tensor_of(input, "input")?, tensor_of(index, "index")?, value_of(src)?);
    let r = match reduce {
        None => ScatterReduce::Replace,
        Some("add") | Some("sum") => ScatterReduce::Sum,
        Some("multiply") | Some("prod") => ScatterReduce::Prod,
        Some("amax") => ScatterReduce::Amax,
        Some("amin") => ScatterReduce::Amin,
        Some(other) => return Err(PyRuntimeError::new_err(format!("reduce argument must be either sum, prod, mean, amax or amin, got {other}"))),
    };
    Ok(input.py().detach(|| t.scatter_(dim, &i, &v, r))?)
}

#[pyfunction]
fn _where(py: Python<'_>, cond: &Bound<'_, PyAny>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let (c, x, y) = (tensor_of(cond, "condition")?, value_of(a)?, value_of(b)?);
    PyTensor::wrap(py, py.detach(|| Tensor::where_(&c, &x, &y))?)
}

#[pyfunction]
fn _masked_fill_(input: &Bound<'_, PyAny>, mask: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let (t, m) = (tensor_of(input, "input")?, tensor_of(mask, "mask")?);
    let v = match value_of(value)? {
        Rhs::Scalar(s) => s,
        Rhs::Tensor(vt) => {
            if vt.ndim() != 0 {
                return Err(PyRuntimeError::new_err(format!(
                    "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
                    vt.ndim()
                )));
            }
            vt.item()?
        }
    };
    Ok(input.py().detach(|| t.masked_fill_(&m, v))?)
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=Dim(0)))]
fn _cat(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: Dim) -> PyResult<Py<PyTensor>> {
    let dim = dim.0;
    let ts = tensors_of(tensors)?;
    PyTensor::wrap(py, py.detach(|| Tensor::cat(&ts, dim))?)
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=Dim(0)))]
fn _stack(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: Dim) -> PyResult<Py<PyTensor>> {
    let dim = dim.0;
    let ts = tensors_of(tensors)?;
    PyTensor::wrap(py, py.detach(|| Tensor::stack(&ts, dim))?)
}

#[pyfunction]
fn _nonzero(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let t = tensor_of(input, "input")?;
    PyTensor::wrap(py, py.detach(|| t.nonzero())?)
}

#[pyfunction]
fn _masked_select_on_device(py: Python<'_>, input: &Bound<'_, PyAny>, mask: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let (t, m) = (tensor_of(input, "input")?, tensor_of(mask, "mask")?);
    PyTensor::wrap(py, py.detach(|| t.masked_select_on_device(&m))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_masked_select_on_device, m)?)?;
    m.add_function(wrap_pyfunction!(_gather, m)?)?;
    m.add_function(wrap_pyfunction!(_scatter_, m)?)?;
    m.add_function(wrap_pyfunction!(_where, m)?)?;
    m.add_function(wrap_pyfunction!(_masked_fill_, m)?)?;
    m.add_function(wrap_pyfunction!(_cat, m)?)?;
    m.add_function(wrap_pyfunction!(_stack, m)?)?;
    m.add_function(wrap_pyfunction!(_nonzero, m)?)?;
    Ok(())
}
