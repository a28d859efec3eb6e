//! rgrad's core: strided tensors with torch's semantics, CPU kernels, and (behind the `python`
//! feature) the PyO3 bindings that `import rgrad` loads.
//!
//! ```
//! use rgrad::{tensor::{Tensor, Rhs}, op::BinaryOp, dtype::Scalar};
//! let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
//! let b = a.binary(BinaryOp::Mul, &Rhs::Scalar(Scalar::Float(2.0))).unwrap();
//! assert_eq!(b.to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);
//! ```

pub mod backprop;
pub mod cpu;
pub mod device;
pub mod dtype;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gather;
pub mod generator;
pub mod gpu;
pub mod graph;
pub mod indexing;
pub mod layout;
pub mod matmul;
pub mod linalg;
pub mod op;
pub mod optim;
pub mod reduce;
pub mod reduce_grad;
pub mod shape;
pub mod storage;
pub mod tensor;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
pub use tensor::Tensor;
