//! The process's one wgpu device, chosen at first use, with its queue, the compiled pipelines
//! and the batch of recorded work.
//!
//! Work is recorded into one command encoder (one compute pass shared by consecutive
//! dispatches) and submitted every `SUBMIT_EVERY` dispatches, when the metadata arena is full,
//! or when the host needs a value (`download`, `synchronize`). Each dispatch's small metadata
//! record (shapes, strides, offsets) goes into a 256-byte slot of the arena, written to the GPU
//! just before the batch is submitted.

use super::buffer::Pool;
use super::kernel::Kernel;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// u32 words per metadata record (256 bytes, the largest offset alignment wgpu requires).
pub const META_WORDS: usize = 64;
const META_RECORDS: usize = 4096;
const SUBMIT_EVERY: usize = 256;

/// A kernel's entry point specialised by its override constants (each call site passes them
/// in one fixed order, so their values identify the pipeline).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PipelineKey {
    kernel: &'static str,
    entry: &'static str,
    constants: [u32; MAX_CONSTANTS],
}

const MAX_CONSTANTS: usize = 8;

pub struct Pipeline {
    pipeline: wgpu::ComputePipeline,
}

/// A kernel's explicit layout: binding 0 (the metadata record) takes a dynamic offset, so one
/// bind group serves every dispatch over the same buffers, whichever arena slot it reads.
struct KernelLayout {
    group: wgpu::BindGroupLayout,
    pipeline: wgpu::PipelineLayout,
}

/// A bind group's identity: the kernel and the buffer at each of its bindings.
#[derive(PartialEq, Eq, Hash)]
struct GroupKey {
    kernel: &'static str,
    buffers: [Option<wgpu::Buffer>; MAX_BINDINGS],
}

const MAX_BINDINGS: usize = 8;
/// Bind groups kept at most; past it the cache starts over (a loop's working set is far less).
const MAX_GROUPS: usize = 4096;

struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    meta: Vec<u32>,
    dispatches: usize,
}

pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Pipeline>>>,
    layouts: Mutex<HashMap<&'static str, Arc<KernelLayout>>>,
    groups: Mutex<HashMap<GroupKey, wgpu::BindGroup>>,
    batch: Mutex<Batch>,
    meta_buf: wgpu::Buffer,
    /// Bound to kernel inputs a dispatch does not use.
    dummy: wgpu::Buffer,
    pub(crate) pool: Mutex<Pool>,
    /// The first error wgpu reported outside an error scope (validation, device loss).
    fault: Arc<Mutex<Option<String>>>,
    /// Set for good once the device is lost (driver reset, GPU removed, `destroy`): every
    /// later GPU call fails with the reason instead of touching a dead device.
    lost: Arc<Mutex<Option<String>>>,
}

fn lost_error(why: &str) -> Error {
    Error::runtime(format!("GPU device lost ({why}); GPU tensors can no longer be used, CPU tensors are unaffected"))
}

static CONTEXT: OnceLock<std::result::Result<Context, String>> = OnceLock::new();

/// The GPU context, created on first use.
pub fn context() -> Result<&'static Context> {
    let ctx = CONTEXT.get_or_init(Context::create).as_ref().map_err(|e| Error::runtime(e.clone()))?;
    if let Some(why) = ctx.lost.lock().as_ref() {
        return Err(lost_error(why));
    }
    Ok(ctx)
}

/// Whether a GPU adapter can be used (creates the context on first call).
pub fn is_available() -> bool {
    // true after a device loss too (as CUDA's is_available): using the device then raises
    CONTEXT.get_or_init(Context::create).is_ok()
}

fn rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Context {
    fn create() -> std::result::Result<Context, String> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12);
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        // RGRAD_GPU_ADAPTER picks an adapter by (part of) its name; otherwise hardware adapters
        // come before software ones such as lavapipe.
        let wanted = std::env::var("RGRAD_GPU_ADAPTER").ok().map(|s| s.to_lowercase());
        let adapter = match &wanted {
            Some(w) => adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(w.as_str())).ok_or_else(|| {
                format!("no GPU adapter matches RGRAD_GPU_ADAPTER={w}")
            })?,
            None => adapters.into_iter().min_by_key(|a| rank(a.get_info().device_type)).ok_or_else(|| {
                "no GPU adapter was found (wgpu sees no Vulkan, Metal or DX12 device)".to_string()
            })?,
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("rgrad"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| format!("the GPU adapter {} refused a device: {e}", info.name))?;
        let fault = Arc::new(Mutex::new(None::<String>));
        let f = fault.clone();
        // wgpu's default handler panics; an error becomes a Python exception at the next sync.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut g = f.lock();
            if g.is_none() {
                *g = Some(e.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None::<String>));
        let l = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *l.lock() = Some(if msg.is_empty() { format!("{reason:?}") } else { format!("{reason:?}: {msg}") });
        });
        let meta_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rgrad meta"),
            size: (META_WORDS * 4 * META_RECORDS) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rgrad dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(Context {
            device,
            queue,
            info,
            limits,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            batch: Mutex::new(Batch { encoder: None, pass: None, meta: Vec::new(), dispatches: 0 }),
            meta_buf,
            dummy,
            pool: Mutex::new(Pool::default()),
            fault,
            lost,
        })
    }

    /// Destroys the device as a driver reset would (tests of device-loss handling).
    pub fn simulate_loss(&self) {
        self.device.destroy();
        let _ = self.device.poll(wgpu::PollType::Poll);
        let mut l = self.lost.lock();
        if l.is_none() {
            *l = Some("Destroyed".into());
        }
    }

    pub fn dummy(&self) -> &wgpu::Buffer {
        &self.dummy
    }

    /// An error wgpu reported since the last check, as a Python-facing RuntimeError.
    pub fn check_fault(&self) -> Result<()> {
        if let Some(why) = self.lost.lock().as_ref() {
            return Err(lost_error(why));
        }
        match self.fault.lock().take() {
            Some(e) => Err(Error::runtime(format!("GPU error: {e}"))),
            None => Ok(()),
        }
    }

    fn layout(&self, kernel: &'static Kernel) -> Arc<KernelLayout> {
        if let Some(l) = self.layouts.lock().get(kernel.name) {
            return l.clone();
        }
        let storage = |binding: u32, read_only: bool, dynamic: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: dynamic,
                min_binding_size: None,
            },
            count: None,
        };
        let entries: Vec<wgpu::BindGroupLayoutEntry> =
            std::iter::once(storage(0, true, true)).chain(kernel.bindings.iter().map(|&b| storage(b, false, false))).collect();
        let group = self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(kernel.name), entries: &entries });
        let pipeline = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.name),
            bind_group_layouts: &[Some(&group)],
            immediate_size: 0,
        });
        let l = Arc::new(KernelLayout { group, pipeline });
        self.layouts.lock().insert(kernel.name, l.clone());
        l
    }

    /// The bind group for `buffers` (binding, buffer), the dummy buffer in the kernel's other
    /// bindings; created once per distinct set of buffers.
    fn bind_group(&self, kernel: &'static Kernel, buffers: &[(u32, &wgpu::Buffer)]) -> wgpu::BindGroup {
        let mut slots: [Option<wgpu::Buffer>; MAX_BINDINGS] = Default::default();
        for (k, &b) in kernel.bindings.iter().enumerate() {
            let buf = buffers.iter().find(|x| x.0 == b).map(|x| x.1).unwrap_or(&self.dummy);
            slots[k] = Some(buf.clone());
        }
        let key = GroupKey { kernel: kernel.name, buffers: slots };
        if let Some(g) = self.groups.lock().get(&key) {
            return g.clone();
        }
        let layout = self.layout(kernel);
        let mut entries = Vec::with_capacity(kernel.bindings.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.meta_buf,
                offset: 0,
                size: std::num::NonZeroU64::new((META_WORDS * 4) as u64),
            }),
        });
        for (k, &b) in kernel.bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: b, resource: key.buffers[k].as_ref().expect("filled above").as_entire_binding() });
        }
        let g = self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &layout.group, entries: &entries });
        let mut groups = self.groups.lock();
        if groups.len() >= MAX_GROUPS {
            groups.clear();
        }
        groups.insert(key, g.clone());
        g
    }

    /// Forgets the cached bind groups (they keep their buffers alive), before buffers are
    /// released.
    pub fn clear_bind_groups(&self) {
        self.groups.lock().clear();
    }

    fn pipeline(&self, kernel: &'static Kernel, entry: &'static str, constants: &[(&'static str, u32)]) -> Arc<Pipeline> {
        let mut values = [u32::MAX; MAX_CONSTANTS];
        for (v, c) in values.iter_mut().zip(constants) {
            *v = c.1;
        }
        let key = PipelineKey { kernel: kernel.name, entry, constants: values };
        if let Some(p) = self.pipelines.lock().get(&key) {
            return p.clone();
        }
        let module = {
            let mut m = self.modules.lock();
            m.entry(kernel.name)
                .or_insert_with(|| {
                    self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(kernel.name),
                        source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
                    })
                })
                .clone()
        };
        let consts: Vec<(&str, f64)> = constants.iter().map(|&(k, v)| (k, v as f64)).collect();
        let layout = self.layout(kernel);
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&layout.pipeline),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions { constants: &consts, zero_initialize_workgroup_memory: false },
            cache: None,
        });
        let p = Arc::new(Pipeline { pipeline });
        self.pipelines.lock().insert(key, p.clone());
        p
    }

    fn encoder<'a>(&self, b: &'a mut Batch) -> &'a mut wgpu::CommandEncoder {
        b.encoder.get_or_insert_with(|| self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("rgrad batch") }))
    }

    /// Records one dispatch: `meta` goes to binding 0, `buffers` to their bindings.
    pub fn dispatch(
        &self,
        kernel: &'static Kernel,
        entry: &'static str,
        constants: &[(&'static str, u32)],
        meta: &[u32],
        buffers: &[(u32, &wgpu::Buffer)],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        debug_assert!(meta.len() <= META_WORDS);
        let p = self.pipeline(kernel, entry, constants);
        let bg = self.bind_group(kernel, buffers);
        let mut b = self.batch.lock();
        if b.meta.len() / META_WORDS >= META_RECORDS || b.dispatches >= SUBMIT_EVERY {
            self.flush(&mut b);
        }
        let slot = b.meta.len();
        b.meta.extend_from_slice(meta);
        b.meta.resize(slot + META_WORDS, 0);
        if b.pass.is_none() {
            let enc = self.encoder(&mut b);
            let pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None }).forget_lifetime();
            b.pass = Some(pass);
        }
        let pass = b.pass.as_mut().expect("pass was just begun");
        pass.set_pipeline(&p.pipeline);
        pass.set_bind_group(0, &bg, &[(slot * 4) as u32]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        b.dispatches += 1;
        Ok(())
    }

    /// Submits the recorded batch (its metadata first).
    fn flush(&self, b: &mut Batch) {
        b.pass = None;
        if let Some(enc) = b.encoder.take() {
            if !b.meta.is_empty() {
                self.queue.write_buffer(&self.meta_buf, 0, bytemuck::cast_slice(&b.meta));
            }
            self.queue.submit([enc.finish()]);
        }
        b.meta.clear();
        b.dispatches = 0;
    }

    /// Copies `data` into `dst` at `offset`, ordered after the work recorded so far.
    pub fn upload(&self, dst: &wgpu::Buffer, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let size = (data.len() as u64).div_ceil(4) * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rgrad upload"),
            size,
            usage: wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        {
            let mut view = staging.get_mapped_range_mut(..).map_err(|e| Error::runtime(format!("GPU upload failed: {e}")))?;
            let mut padded = data.to_vec();
            padded.resize(size as usize, 0);
            view.copy_from_slice(&padded);
        }
        staging.unmap();
        let mut b = self.batch.lock();
        b.pass = None;
        self.encoder(&mut b).copy_buffer_to_buffer(&staging, 0, dst, offset, size);
        b.dispatches += 1;
        Ok(())
    }

    /// Reads `size` bytes of `src` from `offset` (both multiples of 4), waiting for the work
    /// recorded so far.
    pub fn download(&self, src: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rgrad download"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut b = self.batch.lock();
            b.pass = None;
            self.encoder(&mut b).copy_buffer_to_buffer(src, offset, &staging, 0, size);
            self.flush(&mut b);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::runtime(format!("GPU error while waiting: {e}")))?;
        self.check_fault()?;
        rx.recv()
            .map_err(|_| Error::runtime("GPU read-back was dropped"))?
            .map_err(|e| Error::runtime(format!("GPU read-back failed: {e}")))?;
        let out = staging.get_mapped_range(..).map_err(|e| Error::runtime(format!("GPU read-back failed: {e}")))?.to_vec();
        staging.unmap();
        Ok(out)
    }

    /// Submits recorded work and waits for the GPU to finish it.
    pub fn synchronize(&self) -> Result<()> {
        {
            let mut b = self.batch.lock();
            self.flush(&mut b);
        }
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::runtime(format!("GPU error while waiting: {e}")))?;
        self.check_fault()
    }

    /// Creates a storage buffer, reporting out-of-memory as an error.
    pub fn create_buffer(&self, size: u64) -> Result<wgpu::Buffer> {
        let max = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size as _) as u64;
        if size > max {
            return Err(Error::out_of_memory(format!(
                "GPU out of memory: tried to allocate {size} bytes in one tensor, above this device's limit of {max} bytes per buffer"
            )));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::out_of_memory(format!("GPU out of memory: tried to allocate {size} bytes ({e})")));
        }
        Ok(buf)
    }
}
