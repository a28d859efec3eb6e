//! Bindings for rgrad.linalg: conversion and calls only, the GIL released around every
//! factorization.

use super::error::_LinAlgError;
use super::tensor::PyTensor;
use crate::linalg;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

fn tensor_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    obj.cast::<PyTensor>().map(|t| t.get().inner.clone()).map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a Tensor, not {}", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()))
    })
}

fn tuple<'py>(py: Python<'py>, ts: Vec<Tensor>) -> PyResult<Bound<'py, PyTuple>> {
    let objs: Vec<Py<PyTensor>> = ts.into_iter().map(|t| PyTensor::wrap(py, t)).collect::<PyResult<_>>()?;
    PyTuple::new(py, objs)
}

#[pyfunction]
fn _linalg_inv<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, check: bool) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let (x, info) = py.detach(|| linalg::inv(&a, check))?;
    tuple(py, vec![x, info])
}

#[pyfunction]
fn _linalg_det(py: Python<'_>, a: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
    let a = tensor_of(a, "A")?;
    PyTensor::wrap(py, py.detach(|| linalg::det(&a))?)
}

#[pyfunction]
fn _linalg_slogdet<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let (s, l) = py.detach(|| linalg::slogdet(&a, name))?;
    tuple(py, vec![s, l])
}

#[pyfunction]
fn _linalg_solve<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>, left: bool, check: bool) -> PyResult<Bound<'py, PyTuple>> {
    let (a, b) = (tensor_of(a, "A")?, tensor_of(b, "B")?);
    let (x, info) = py.detach(|| linalg::solve(&a, &b, left, check))?;
    tuple(py, vec![x, info])
}

#[pyfunction]
fn _linalg_cholesky<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, upper: bool, check: bool) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let (l, info) = py.detach(|| linalg::cholesky(&a, upper, check))?;
    tuple(py, vec![l, info])
}

#[pyfunction]
fn _linalg_qr<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, mode: &str) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let mode = linalg::qr_mode(mode)?;
    let (q, r) = py.detach(|| linalg::qr(&a, mode))?;
    tuple(py, vec![q, r])
}

#[pyfunction]
fn _linalg_svd<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, full_matrices: bool, compute_uv: bool) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let out = py.detach(|| linalg::svd(&a, full_matrices, compute_uv))?;
    tuple(py, out)
}

#[pyfunction]
fn _linalg_eigh<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, uplo: &str, vectors: bool) -> PyResult<Bound<'py, PyTuple>> {
    let a = tensor_of(a, "A")?;
    let out = py.detach(|| linalg::eigh(&a, uplo, vectors))?;
    tuple(py, out)
}

#[pyfunction]
#[pyo3(signature = (a, b, rcond=None, driver=None))]
fn _linalg_lstsq<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>, rcond: Option<f64>, driver: Option<&str>) -> PyResult<Bound<'py, PyTuple>> {
    let (a, b) = (tensor_of(a, "input")?, tensor_of(b, "other")?);
    let driver = linalg::lstsq_driver(driver)?;
    let out = py.detach(|| linalg::lstsq(&a, &b, rcond, driver))?;
    tuple(py, out)
}

#[pyfunction]
#[pyo3(signature = (a, atol=None, rtol=None, hermitian=false))]
fn _linalg_pinv(py: Python<'_>, a: &Bound<'_, PyAny>, atol: Option<f64>, rtol: Option<f64>, hermitian: bool) -> PyResult<Py<PyTensor>> {
    let a = tensor_of(a, "A")?;
    PyTensor::wrap(py, py.detach(|| linalg::pinv(&a, atol, rtol, hermitian))?)
}

#[pyfunction]
#[pyo3(signature = (a, atol=None, rtol=None, hermitian=false))]
fn _linalg_matrix_rank(py: Python<'_>, a: &Bound<'_, PyAny>, atol: Option<f64>, rtol: Option<f64>, hermitian: bool) -> PyResult<Py<PyTensor>> {
    let a = tensor_of(a, "A")?;
    PyTensor::wrap(py, py.detach(|| linalg::matrix_rank(&a, atol, rtol, hermitian))?)
}

#[pyfunction]
fn _linalg_matrix_power(py: Python<'_>, a: &Bound<'_, PyAny>, n: i64) -> PyResult<Py<PyTensor>> {
    let a = tensor_of(a, "A")?;
    PyTensor::wrap(py, py.detach(|| linalg::matrix_power(&a, n))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("_LinAlgError", m.py().get_type::<_LinAlgError>())?;
    m.add("OutOfMemoryError", m.py().get_type::<super::error::OutOfMemoryError>())?;
    m.add_function(wrap_pyfunction!(_linalg_inv, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_det, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_slogdet, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_solve, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_cholesky, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_qr, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_svd, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_eigh, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_lstsq, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_pinv, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_matrix_rank, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_matrix_power, m)?)?;
    Ok(())
}
