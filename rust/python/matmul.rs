//! Bindings for the matrix-product family (`rgrad._C._mm`, ...). The public functions and
//! Tensor methods, with torch's argument handling, are in python/rgrad/_matmul.py.

use super::convert::scalar_of;
use super::tensor::PyTensor;
use crate::dtype::Scalar;
use crate::error::Result;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Products this small run with the GIL held: releasing it would cost more than the work.
const DETACH_NUMEL: usize = 1024;

type T<'py> = Bound<'py, PyTensor>;

fn run(py: Python<'_>, operands: &[&Tensor], f: impl FnOnce() -> Result<Tensor> + Send) -> PyResult<Py<PyTensor>> {
    let big = operands.iter().map(|t| t.numel()).max().unwrap_or(0) >= DETACH_NUMEL;
    let out = if big { py.detach(f)? } else { f()? };
    PyTensor::wrap(py, out)
}

fn scalar_arg(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    scalar_of(obj).ok_or_else(|| PyTypeError::new_err(format!("{name} must be a Number")))
}

macro_rules! binary {
    ($name:ident, $method:ident) => {
        #[pyfunction]
        fn $name(py: Python<'_>, a: &T<'_>, b: &T<'_>) -> PyResult<Py<PyTensor>> {
            let (a, b) = (&a.get().inner, &b.get().inner);
            run(py, &[a, b], || a.$method(b))
        }
    };
}
binary!(_matmul, matmul);
binary!(_mm, mm);
binary!(_bmm, bmm);
binary!(_mv, mv);
binary!(_dot, dot);
binary!(_outer, outer);
binary!(_inner, inner);
binary!(_kron, kron);

macro_rules! ternary {
    ($name:ident, $method:ident) => {
        #[pyfunction]
        fn $name(py: Python<'_>, input: &T<'_>, a: &T<'_>, b: &T<'_>, beta: &Bound<'_, PyAny>, alpha: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
            let (beta, alpha) = (scalar_arg("beta", beta)?, scalar_arg("alpha", alpha)?);
            let (input, a, b) = (&input.get().inner, &a.get().inner, &b.get().inner);
            run(py, &[a, b], || input.$method(a, b, beta, alpha))
        }
    };
}
ternary!(_addmm, addmm);
ternary!(_addmv, addmv);
ternary!(_addbmm, addbmm);
ternary!(_baddbmm, baddbmm);

#[pyfunction]
fn _tensordot(py: Python<'_>, a: &T<'_>, b: &T<'_>, dims_a: Vec<isize>, dims_b: Vec<isize>) -> PyResult<Py<PyTensor>> {
    let (a, b) = (&a.get().inner, &b.get().inner);
    run(py, &[a, b], || a.tensordot(b, &dims_a, &dims_b))
}

#[pyfunction]
fn _tensordot_n(py: Python<'_>, a: &T<'_>, b: &T<'_>, n: i64) -> PyResult<Py<PyTensor>> {
    let (a, b) = (&a.get().inner, &b.get().inner);
    run(py, &[a, b], || a.tensordot_n(b, n))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(_mm, m)?)?;
    m.add_function(wrap_pyfunction!(_bmm, m)?)?;
    m.add_function(wrap_pyfunction!(_mv, m)?)?;
    m.add_function(wrap_pyfunction!(_dot, m)?)?;
    m.add_function(wrap_pyfunction!(_outer, m)?)?;
    m.add_function(wrap_pyfunction!(_inner, m)?)?;
    m.add_function(wrap_pyfunction!(_kron, m)?)?;
    m.add_function(wrap_pyfunction!(_addmm, m)?)?;
    m.add_function(wrap_pyfunction!(_addmv, m)?)?;
    m.add_function(wrap_pyfunction!(_addbmm, m)?)?;
    m.add_function(wrap_pyfunction!(_baddbmm, m)?)?;
    m.add_function(wrap_pyfunction!(_tensordot, m)?)?;
    m.add_function(wrap_pyfunction!(_tensordot_n, m)?)?;
    Ok(())
}
