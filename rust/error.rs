//! The one error type of the core. Each variant knows which Python exception it becomes
//! (`ErrorKind`), so the binding layer maps errors in a single place and the messages are
//! torch's own.

use crate::dtype::DType;

/// The Python exception class an error is raised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Runtime,
    Index,
    Type,
    Value,
    NotImplemented,
    /// torch._C._LinAlgError, a RuntimeError raised when a factorization fails.
    LinAlg,
    /// torch.OutOfMemoryError, a RuntimeError raised when device memory runs out.
    OutOfMemory,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {dim}")]
    BroadcastMismatch { a: usize, b: usize, dim: usize },

    #[error("shape '{shape}' is invalid for input of size {numel}")]
    InvalidShape { shape: String, numel: usize },

    #[error("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.")]
    NotViewable,

    #[error("Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")]
    DimOutOfRange { dim: isize, lo: isize, hi: isize },

    #[error("index {index} is out of bounds for dimension {dim} with size {size}")]
    IndexOutOfBounds { index: i64, dim: usize, size: usize },

    #[error("{op}: {msg}")]
    Op { op: &'static str, kind: ErrorKind, msg: String },

    /// A message that torch prints without an op prefix.
    #[error("{msg}")]
    Msg { kind: ErrorKind, msg: String },

    #[error("\"{op}\" not implemented for '{dtype}'")]
    DTypeNotSupported { op: &'static str, dtype: &'static str },

    #[error("result type {from} can't be cast to the desired output type {to}")]
    CannotCast { from: &'static str, to: &'static str },

    /// An error raised outside the core (a Python hook or custom backward) on its way back.
    #[error("{msg}")]
    External { msg: String, payload: std::sync::Arc<dyn std::any::Any + Send + Sync> },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BroadcastMismatch { .. }
            | Error::InvalidShape { .. }
            | Error::NotViewable
            | Error::DTypeNotSupported { .. }
            | Error::CannotCast { .. }
            | Error::External { .. } => ErrorKind::Runtime,
            Error::DimOutOfRange { .. } | Error::IndexOutOfBounds { .. } => ErrorKind::Index,
            Error::Op { kind, .. } | Error::Msg { kind, .. } => *kind,
        }
    }

    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::Runtime, msg: msg.into() }
    }
    pub fn index(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::Index, msg: msg.into() }
    }
    pub fn type_error(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::Type, msg: msg.into() }
    }
    pub fn value(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::Value, msg: msg.into() }
    }
    pub fn out_of_memory(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::OutOfMemory, msg: msg.into() }
    }
    pub fn linalg(msg: impl Into<String>) -> Self {
        Error::Msg { kind: ErrorKind::LinAlg, msg: msg.into() }
    }
    pub fn op(op: &'static str, kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error::Op { op, kind, msg: msg.into() }
    }
    pub fn not_implemented_for(op: &'static str, dtype: DType) -> Self {
        Error::DTypeNotSupported { op, dtype: dtype.torch_kernel_name() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(kind, "fmt", args)` returns early with an `Error::Msg`.
#[macro_export]
macro_rules! bail {
    (Runtime, $($arg:tt)*) => { return Err($crate::error::Error::runtime(format!($($arg)*))) };
    (Index, $($arg:tt)*) => { return Err($crate::error::Error::index(format!($($arg)*))) };
    (Type, $($arg:tt)*) => { return Err($crate::error::Error::type_error(format!($($arg)*))) };
    (Value, $($arg:tt)*) => { return Err($crate::error::Error::value(format!($($arg)*))) };
}
