//! The one place core errors become Python exceptions.

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

// torch._C._LinAlgError: a RuntimeError subclass, exposed as rgrad.linalg.LinAlgError.
pyo3::create_exception!(rgrad._C, _LinAlgError, PyRuntimeError);
// torch.OutOfMemoryError (also torch.cuda.OutOfMemoryError): a RuntimeError subclass.
pyo3::create_exception!(rgrad._C, OutOfMemoryError, PyRuntimeError);

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        if let Error::External { payload, .. } = &e {
            if let Some(slot) = payload.downcast_ref::<parking_lot::Mutex<Option<PyErr>>>() {
                if let Some(err) = slot.lock().take() {
                    return err;
                }
            }
        }
        let msg = e.to_string();
        match e.kind() {
            ErrorKind::Runtime => PyRuntimeError::new_err(msg),
            ErrorKind::Index => PyIndexError::new_err(msg),
            ErrorKind::Type => PyTypeError::new_err(msg),
            ErrorKind::Value => PyValueError::new_err(msg),
            ErrorKind::NotImplemented => PyNotImplementedError::new_err(msg),
            ErrorKind::LinAlg => _LinAlgError::new_err(msg),
            ErrorKind::OutOfMemory => OutOfMemoryError::new_err(msg),
        }
    }
}

/// Wraps a Python exception so it can cross the core (hooks, custom backward) unchanged.
pub fn external(err: PyErr) -> Error {
    Error::External { msg: err.to_string(), payload: std::sync::Arc::new(parking_lot::Mutex::new(Some(err))) }
}
