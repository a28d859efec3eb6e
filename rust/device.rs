//! Where a tensor's memory lives.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// A wgpu adapter, by index.
    Gpu(u32),
}

impl Device {
    /// torch's spelling: `cpu`, `gpu:0`.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            Device::Gpu(i) => format!("gpu:{i}"),
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu(_) => "gpu",
        }
    }
}
