//! GPU memory: a storage buffer per tensor storage, from a caching pool. Buffers are bucketed
//! by size; a dropped storage returns its buffer to the pool, and the next allocation of that
//! bucket reuses it, so a steady training loop creates no new wgpu buffers. Reuse is safe
//! without waiting: every command goes through the one queue in order, so work recorded after
//! the reuse runs after the work that still read the old contents.

use super::context::{context, Context};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Bytes held by live storages (bucket sizes).
    pub live_bytes: u64,
    /// Bytes held by free buffers kept for reuse.
    pub cached_bytes: u64,
    /// wgpu buffers in existence (live and cached).
    pub buffers: u64,
}

/// Bucket size for a request: multiples of 256 bytes up to 1 MiB, then eighths of a power of
/// two (at most 12.5% slack).
fn bucket(nbytes: usize) -> u64 {
    let n = (nbytes.max(4) as u64).div_ceil(4) * 4;
    if n <= 1 << 20 {
        return n.div_ceil(256) * 256;
    }
    let step = (1u64 << (63 - n.leading_zeros())) / 8;
    n.div_ceil(step) * step
}

/// Distinct fake addresses for GPU storages, so `data_ptr` and overlap checks work as on the
/// CPU (ranges of different storages never meet).
static NEXT_ADDR: AtomicU64 = AtomicU64::new(1 << 40);

pub struct GpuBuffer {
    buf: wgpu::Buffer,
    nbytes: usize,
    bucket: u64,
    addr: u64,
}

impl GpuBuffer {
    pub fn alloc(nbytes: usize) -> Result<GpuBuffer> {
        let ctx = context()?;
        let size = bucket(nbytes);
        let reused = {
            let mut p = ctx.pool.lock();
            let b = p.free.get_mut(&size).and_then(|v| v.pop());
            if b.is_some() {
                p.cached_bytes -= size;
            }
            b
        };
        let buf = match reused {
            Some(b) => b,
            None => {
                let b = ctx.create_buffer(size)?;
                ctx.pool.lock().buffers += 1;
                b
            }
        };
        ctx.pool.lock().live_bytes += size;
        let addr = NEXT_ADDR.fetch_add(size + 4096, Ordering::Relaxed);
        Ok(GpuBuffer { buf, nbytes, bucket: size, addr })
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }

    pub fn raw(&self) -> &wgpu::Buffer {
        &self.buf
    }

    pub fn addr(&self) -> usize {
        self.addr as usize
    }

    /// The device's context; an error once the device is lost.
    fn ctx(&self) -> Result<&'static Context> {
        context()
    }

    /// The storage's bytes on the host.
    pub fn read(&self) -> Result<Vec<u8>> {
        let size = (self.nbytes as u64).div_ceil(4) * 4;
        let mut v = self.ctx()?.download(&self.buf, 0, size)?;
        v.truncate(self.nbytes);
        Ok(v)
    }

    /// Bytes [start, end) of the storage on the host.
    pub fn read_range(&self, start: usize, end: usize) -> Result<Vec<u8>> {
        let a = start / 4 * 4;
        let b = end.div_ceil(4) * 4;
        let v = self.ctx()?.download(&self.buf, a as u64, (b - a) as u64)?;
        Ok(v[start - a..end - a].to_vec())
    }

    /// Overwrites bytes [start, start + data.len()) (both multiples of 4).
    pub fn write_at(&self, start: usize, data: &[u8]) -> Result<()> {
        debug_assert!(start % 4 == 0 && data.len() % 4 == 0 && start + data.len() <= self.nbytes);
        self.ctx()?.upload(&self.buf, start as u64, data)
    }

    /// Overwrites the whole storage with `data` (at most nbytes).
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.ctx()?.upload(&self.buf, 0, data)
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Ok(ctx) = context() {
            let mut p = ctx.pool.lock();
            p.live_bytes -= self.bucket;
            p.cached_bytes += self.bucket;
            p.free.entry(self.bucket).or_default().push(self.buf.clone());
        }
    }
}

/// (live bytes, cached bytes, wgpu buffers) of the pool.
pub fn stats() -> (u64, u64, u64) {
    match context() {
        Ok(c) => {
            let p = c.pool.lock();
            (p.live_bytes, p.cached_bytes, p.buffers)
        }
        Err(_) => (0, 0, 0),
    }
}

/// Releases the cached free buffers to wgpu.
pub fn empty_cache() {
    if let Ok(c) = context() {
        c.clear_bind_groups();
        let mut p = c.pool.lock();
        let n: u64 = p.free.values().map(|v| v.len() as u64).sum();
        p.free.clear();
        p.buffers -= n;
        p.cached_bytes = 0;
    }
}
