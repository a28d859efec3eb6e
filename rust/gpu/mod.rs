//! The GPU backend: wgpu compute over Vulkan, Metal or DX12, with WGSL kernels from shaders/.
//!
//! `context` owns the process's one device, its queue, the pipeline cache and the batch of
//! recorded work; `buffer` is the caching allocator; `kernel` assembles and names the WGSL
//! programs; `launch` turns (storage, layout) operands into dispatches. Like the CPU kernels,
//! nothing here knows about autograd.

pub mod buffer;
pub mod context;
pub mod kernel;
pub mod launch;
#[cfg(test)]
mod tests;

pub use buffer::GpuBuffer;
pub use context::{context, is_available, Context};
