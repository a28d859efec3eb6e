//! CPU kernels. Each takes buffers with their layouts, handles strides itself and knows
//! nothing about autograd.

pub mod arith;
pub mod buffer;
pub mod elementwise;
pub mod gather;
pub mod matmul;
pub mod linalg;
pub mod optim;
pub mod random;
pub mod strided;
pub mod team;
pub mod vmath;
// Reductions, scans, softmax and order-based ops.
pub mod histogram;
pub mod reduce;
pub mod scan;
pub mod softmax;
pub mod sort;

pub use buffer::CpuBuffer;
pub use elementwise::View;
