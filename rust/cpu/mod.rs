//! CPU kernels. Each takes buffers with their layouts, handles strides itself and knows
//! nothing about autograd.

pub mod arith;
pub mod buffer;
pub mod elementwise;
pub mod gather;
pub mod linalg;
pub mod random;
pub mod strided;

pub use buffer::CpuBuffer;
pub use elementwise::View;
