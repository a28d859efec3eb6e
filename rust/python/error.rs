//! The one place core errors become Python exceptions.

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

// torch._C._LinAlgError: a RuntimeError subclass, exposed as rgrad.linalg.LinAlgError.
pyo3::create_exception!(rgrad._C, _LinAlgError, PyRuntimeError);

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e.kind() {
            ErrorKind::Runtime => PyRuntimeError::new_err(msg),
            ErrorKind::Index => PyIndexError::new_err(msg),
            ErrorKind::Type => PyTypeError::new_err(msg),
            ErrorKind::Value => PyValueError::new_err(msg),
            ErrorKind::NotImplemented => PyNotImplementedError::new_err(msg),
            ErrorKind::LinAlg => _LinAlgError::new_err(msg),
        }
    }
}
