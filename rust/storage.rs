//! Storage: the bytes behind one or more tensors, on some device. This is the one place that
//! matches on the device; everything above calls these methods and stays device-agnostic.
//!
//! Ops with a GPU kernel run there when every operand is on the GPU (a CPU scalar operand is
//! passed by value). The rest run on host copies of their GPU operands, which are then written
//! back (`Hosted`): the same results as on the CPU, at the price of two transfers; the GPU
//! section of the README lists which ops take that path.

use crate::cpu::elementwise::{self as ew, Operand as CpuOperand};
use crate::cpu::gather::ScatterReduce;
use crate::cpu::random::Distribution;
use crate::cpu::{CpuBuffer, View};
use crate::device::Device;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use crate::gpu::launch::{self as gl, Arg};
use crate::gpu::GpuBuffer;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicU64, Ordering};

/// The integer dtype whose bits move elements of `es` bytes unchanged.
fn raw_dtype(es: usize) -> DType {
    match es {
        1 => DType::U8,
        2 => DType::I16,
        4 => DType::I32,
        _ => DType::I64,
    }
}

pub enum Storage {
    Cpu(CpuBuffer),
    Gpu(GpuBuffer),
}

/// Host copies of the GPU storages among an op's operands; CPU storages are used as they are.
struct Hosted<'a> {
    orig: Vec<&'a Storage>,
    copies: Vec<Option<Storage>>,
}

/// How many ops have run on host copies of GPU storage (`_C._gpu_host_round_trips`): tests
/// assert that the ops a training step uses keep it unchanged.
static HOST_ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

pub fn host_round_trips() -> u64 {
    HOST_ROUND_TRIPS.load(Ordering::Relaxed)
}

/// Counts one op that copies GPU operands to the host and back.
pub fn note_host_round_trip() {
    HOST_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
}

impl<'a> Hosted<'a> {
    fn new(ss: &[&'a Storage]) -> Result<Self> {
        if ss.iter().any(|s| matches!(s, Storage::Gpu(_))) {
            note_host_round_trip();
        }
        let copies = ss
            .iter()
            .map(|s| match s {
                Storage::Gpu(g) => Ok(Some(Storage::Cpu(CpuBuffer::from_bytes(&g.read()?)))),
                Storage::Cpu(_) => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Hosted { orig: ss.to_vec(), copies })
    }

    fn get(&self, i: usize) -> &Storage {
        self.copies[i].as_ref().unwrap_or(self.orig[i])
    }

    /// Writes the host copy of operand i back to its GPU storage.
    fn write_back(&self, i: usize) -> Result<()> {
        match (self.orig[i], &self.copies[i]) {
            (Storage::Gpu(g), Some(Storage::Cpu(h))) => g.write(h.bytes()),
            _ => Ok(()),
        }
    }
}

/// A GPU kernel operand for s[l]: the GPU view, or the value of a CPU tensor that holds one
/// element broadcast everywhere (torch lets a CPU scalar tensor meet GPU tensors).
fn gpu_arg<'a>(s: &'a Storage, l: &'a Layout, dtype: DType) -> Option<Arg<'a>> {
    match s {
        Storage::Gpu(g) => Some(Arg::View(g, l)),
        Storage::Cpu(b) if l.strides.iter().all(|&st| st == 0) => {
            let es = dtype.size();
            let v = Tensor::from_bytes(&b.bytes()[l.offset * es..(l.offset + 1) * es], dtype, &[]).and_then(|t| t.get_flat(0)).ok()?;
            Some(Arg::Scalar(gl::compute_bits(v, dtype)))
        }
        Storage::Cpu(_) => None,
    }
}

/// Like `gpu_arg`, with a CPU scalar passed as its raw bits (for kernels that move elements
/// without computing on them).
fn raw_arg<'a>(s: &'a Storage, l: &'a Layout, es: usize) -> Option<Arg<'a>> {
    match s {
        Storage::Gpu(g) => Some(Arg::View(g, l)),
        Storage::Cpu(b) if l.strides.iter().all(|&st| st == 0) => {
            let mut w = [0u8; 4];
            let n = es.min(4);
            w[..n].copy_from_slice(&b.bytes()[l.offset * es..l.offset * es + n]);
            Some(Arg::Scalar(u32::from_le_bytes(w)))
        }
        Storage::Cpu(_) => None,
    }
}

fn gpu_operand<'a>(o: &Operand<'a>, dtype: DType) -> Option<Arg<'a>> {
    match *o {
        Operand::Tensor(s, l) => gpu_arg(s, l, dtype),
        Operand::Scalar(v) => Some(Arg::Scalar(gl::compute_bits(v, dtype))),
    }
}

/// The second operand of a binary op at storage level.
pub enum Operand<'a> {
    Tensor(&'a Storage, &'a Layout),
    Scalar(Scalar),
}

fn cpu_operand<'a>(o: &Operand<'a>) -> CpuOperand<'a> {
    match *o {
        Operand::Tensor(Storage::Cpu(b), l) => CpuOperand::Tensor(View::new(b, l)),
        Operand::Tensor(Storage::Gpu(_), _) => unreachable!("GPU operands take the GPU or host path"),
        Operand::Scalar(s) => CpuOperand::Scalar(s),
    }
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(_) => Device::Gpu(0),
        }
    }

    pub fn nbytes(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.nbytes(),
            Storage::Gpu(b) => b.nbytes(),
        }
    }

    /// Uninitialised storage of `nbytes`; a huge request is an error, not an abort.
    pub fn alloc(device: Device, nbytes: usize) -> Result<Storage> {
        match device {
            Device::Cpu => CpuBuffer::try_uninit(nbytes).map(Storage::Cpu).ok_or_else(|| {
                Error::runtime(format!(
                    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate {nbytes} bytes."
                ))
            }),
            Device::Gpu(_) => GpuBuffer::alloc(nbytes).map(Storage::Gpu),
        }
    }

    pub fn data_ptr(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.as_ptr() as usize,
            Storage::Gpu(b) => b.addr(),
        }
    }

    pub fn as_cpu(&self) -> Option<&CpuBuffer> {
        match self {
            Storage::Cpu(b) => Some(b),
            Storage::Gpu(_) => None,
        }
    }

    /// Bytes [start, end) of the storage, read on the host.
    pub fn read_bytes(&self, start: usize, end: usize) -> Result<Vec<u8>> {
        match self {
            Storage::Cpu(b) => Ok(b.bytes()[start..end].to_vec()),
            Storage::Gpu(b) => b.read_range(start, end),
        }
    }

    /// Storage on `device` holding `bytes`.
    pub fn from_host_bytes(device: Device, bytes: &[u8]) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(CpuBuffer::from_bytes(bytes))),
            Device::Gpu(_) => {
                let b = GpuBuffer::alloc(bytes.len())?;
                b.write(bytes)?;
                Ok(Storage::Gpu(b))
            }
        }
    }

    /// dst[dl] = cast(self[sl]); shapes equal (broadcasts already applied to `sl`).
    pub fn copy_cast(&self, sl: &Layout, sd: DType, dst: &Storage, dl: &Layout, dd: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => {
                ew::copy_cast(View::new(s, sl), sd, View::new(d, dl), dd);
                Ok(())
            }
            (Storage::Gpu(s), Storage::Gpu(d)) => gl::copy_cast(Arg::View(s, sl), sd, (d, dl, dd)),
            _ => {
                let h = Hosted::new(&[self, dst])?;
                h.get(0).copy_cast(sl, sd, h.get(1), dl, dd)?;
                h.write_back(1)
            }
        }
    }

    pub fn fill(&self, l: &Layout, dtype: DType, value: Scalar) -> Result<()> {
        match self {
            Storage::Cpu(b) => {
                ew::fill(View::new(b, l), dtype, value);
                Ok(())
            }
            Storage::Gpu(b) => gl::fill((b, l, dtype), value),
        }
    }

    pub fn unary(&self, op: UnaryOp, sl: &Layout, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => ew::unary(op, View::new(s, sl), View::new(d, dl), dtype),
            (Storage::Gpu(s), Storage::Gpu(d)) => {
                let out_dtype = if op == UnaryOp::LogicalNot { DType::Bool } else { dtype };
                gl::unary(op, Arg::View(s, sl), dtype, (d, dl, out_dtype))
            }
            _ => {
                let h = Hosted::new(&[self, dst])?;
                h.get(0).unary(op, sl, h.get(1), dl, dtype)?;
                h.write_back(1)
            }
        }
    }

    pub fn binary(&self, op: BinaryOp, la: &Layout, b: Operand, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst, &b) {
            (Storage::Cpu(a), Storage::Cpu(d), Operand::Scalar(_) | Operand::Tensor(Storage::Cpu(_), _)) => {
                ew::binary(op, View::new(a, la), cpu_operand(&b), View::new(d, dl), dtype)
            }
            (_, Storage::Gpu(d), _) if gpu_arg(self, la, dtype).is_some() && gpu_operand(&b, dtype).is_some() => {
                gl::binary(op, gpu_arg(self, la, dtype).unwrap(), gpu_operand(&b, dtype).unwrap(), dtype, (d, dl, dtype))
            }
            _ => self.binary_via_host(op, la, b, dst, dl, dtype),
        }
    }

    fn binary_via_host(&self, op: BinaryOp, la: &Layout, b: Operand, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match b {
            Operand::Tensor(bs, lb) => {
                let h = Hosted::new(&[self, bs, dst])?;
                h.get(0).binary(op, la, Operand::Tensor(h.get(1), lb), h.get(2), dl, dtype)?;
                h.write_back(2)
            }
            Operand::Scalar(v) => {
                let h = Hosted::new(&[self, dst])?;
                h.get(0).binary(op, la, Operand::Scalar(v), h.get(1), dl, dtype)?;
                h.write_back(1)
            }
        }
    }

    pub fn compare(&self, op: CmpOp, la: &Layout, b: Operand, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst, &b) {
            (Storage::Cpu(a), Storage::Cpu(d), Operand::Scalar(_) | Operand::Tensor(Storage::Cpu(_), _)) => {
                ew::compare(op, View::new(a, la), cpu_operand(&b), View::new(d, dl), dtype);
                Ok(())
            }
            (_, Storage::Gpu(d), _) if gpu_arg(self, la, dtype).is_some() && gpu_operand(&b, dtype).is_some() => {
                gl::compare(op, gpu_arg(self, la, dtype).unwrap(), gpu_operand(&b, dtype).unwrap(), dtype, (d, dl))
            }
            _ => match b {
                Operand::Tensor(bs, lb) => {
                    let h = Hosted::new(&[self, bs, dst])?;
                    h.get(0).compare(op, la, Operand::Tensor(h.get(1), lb), h.get(2), dl, dtype)?;
                    h.write_back(2)
                }
                Operand::Scalar(v) => {
                    let h = Hosted::new(&[self, dst])?;
                    h.get(0).compare(op, la, Operand::Scalar(v), h.get(1), dl, dtype)?;
                    h.write_back(1)
                }
            },
        }
    }

    /// out = src gathered along a dim (see cpu::gather::gather).
    pub fn gather(&self, src_base: &Layout, dim_stride: isize, index: &Storage, il: &Layout, out: &Storage, ol: &Layout, es: usize) -> Result<()> {
        match (self, index, out) {
            (Storage::Cpu(s), Storage::Cpu(i), Storage::Cpu(o)) => {
                crate::cpu::gather::gather(View::new(s, src_base), dim_stride, View::new(i, il), View::new(o, ol), es);
                Ok(())
            }
            (Storage::Gpu(s), Storage::Gpu(i), Storage::Gpu(o)) => gl::gather((s, src_base), dim_stride, (i, il), (o, ol), raw_dtype(es)),
            _ => {
                let h = Hosted::new(&[self, index, out])?;
                h.get(0).gather(src_base, dim_stride, h.get(1), il, h.get(2), ol, es)?;
                h.write_back(2)
            }
        }
    }

    /// self[...] (op)= src scattered along a dim (see cpu::gather::scatter).
    #[allow(clippy::too_many_arguments)]
    pub fn scatter(
        &self,
        dst_base: &Layout,
        dim_stride: isize,
        index: &Storage,
        il: &Layout,
        src: &Storage,
        sl: &Layout,
        dtype: DType,
        reduce: ScatterReduce,
    ) -> Result<()> {
        match (self, index, src) {
            (Storage::Cpu(d), Storage::Cpu(i), Storage::Cpu(s)) => {
                crate::cpu::gather::scatter(View::new(d, dst_base), dim_stride, View::new(i, il), View::new(s, sl), dtype, reduce);
                Ok(())
            }
            (Storage::Gpu(d), Storage::Gpu(i), _) if raw_arg(src, sl, dtype.size()).is_some() => {
                let op = match reduce {
                    ScatterReduce::Replace => None,
                    ScatterReduce::Sum => Some(BinaryOp::Add),
                    ScatterReduce::Prod => Some(BinaryOp::Mul),
                    ScatterReduce::Amax => Some(BinaryOp::Maximum),
                    ScatterReduce::Amin => Some(BinaryOp::Minimum),
                };
                gl::scatter((d, dst_base), dim_stride, (i, il), raw_arg(src, sl, dtype.size()).expect("checked above"), dtype, op)
            }
            _ => {
                let h = Hosted::new(&[self, index, src])?;
                h.get(0).scatter(dst_base, dim_stride, h.get(1), il, h.get(2), sl, dtype, reduce)?;
                h.write_back(0)
            }
        }
    }

    /// dst = cond ? a : b (all layouts share dst's shape).
    #[allow(clippy::too_many_arguments)]
    pub fn select_where(&self, cl: &Layout, a: &Storage, al: &Layout, b: &Storage, bl: &Layout, dst: &Storage, dl: &Layout, es: usize) -> Result<()> {
        match (self, a, b, dst) {
            (Storage::Cpu(c), Storage::Cpu(x), Storage::Cpu(y), Storage::Cpu(d)) => {
                crate::cpu::gather::select_where(View::new(c, cl), View::new(x, al), View::new(y, bl), View::new(d, dl), es);
                Ok(())
            }
            (Storage::Gpu(c), _, _, Storage::Gpu(d)) if raw_arg(a, al, es).is_some() && raw_arg(b, bl, es).is_some() => {
                gl::select_where((c, cl, DType::U8), raw_arg(a, al, es).unwrap(), raw_arg(b, bl, es).unwrap(), raw_dtype(es), (d, dl))
            }
            _ => {
                let h = Hosted::new(&[self, a, b, dst])?;
                h.get(0).select_where(cl, h.get(1), al, h.get(2), bl, h.get(3), dl, es)?;
                h.write_back(3)
            }
        }
    }

    /// Runs a linear-algebra op over a batch of matrices (see cpu::linalg); one `info` per
    /// batch entry.
    pub fn linalg(op: &crate::op::LinalgOp, dtype: DType, ins: &[(&Storage, &Layout)], outs: &[(&Storage, &Layout, DType)], nb: usize) -> Result<Vec<i32>> {
        let all: Vec<&Storage> = ins.iter().map(|x| x.0).chain(outs.iter().map(|x| x.0)).collect();
        if all.iter().all(|s| s.as_cpu().is_some()) {
            let in_views: Vec<View> = ins.iter().map(|&(s, l)| View::new(s.as_cpu().expect("checked above"), l)).collect();
            let out_dtypes: Vec<DType> = outs.iter().map(|o| o.2).collect();
            let out_views: Vec<View> = outs.iter().map(|&(s, l, _)| View::new(s.as_cpu().expect("checked above"), l)).collect();
            return crate::cpu::linalg::linalg(op, dtype, &in_views, &out_views, &out_dtypes, nb);
        }
        let h = Hosted::new(&all)?;
        let hin: Vec<(&Storage, &Layout)> = ins.iter().enumerate().map(|(i, x)| (h.get(i), x.1)).collect();
        let hout: Vec<(&Storage, &Layout, DType)> = outs.iter().enumerate().map(|(i, x)| (h.get(ins.len() + i), x.1, x.2)).collect();
        let info = Self::linalg(op, dtype, &hin, &hout, nb)?;
        for i in 0..outs.len() {
            h.write_back(ins.len() + i)?;
        }
        Ok(info)
    }

    pub fn fill_random(&self, l: &Layout, dtype: DType, dist: Distribution, seed: u64, offset: u64) -> Result<()> {
        let g = match self {
            Storage::Cpu(b) => return crate::cpu::random::fill_random(View::new(b, l), dtype, dist, seed, offset),
            Storage::Gpu(g) => g,
        };
        if let (Distribution::RandInt { low, high }, DType::I64) = (dist, dtype) {
            // the GPU holds int64 in 32 bits
            gl::check_int64(low)?;
            gl::check_int64(high - 1)?;
        }
        if gl::random_supported(dist, dtype) {
            return gl::fill_random((g, l, dtype), dist, seed, offset);
        }
        // The host generator (the same numbers as on the CPU): only written, never read back.
        let es = dtype.size();
        if l.is_contiguous() && (l.offset * es) % 4 == 0 && (l.numel() * es) % 4 == 0 {
            note_host_round_trip();
            let host = CpuBuffer::zeroed(l.numel() * es);
            crate::cpu::random::fill_random(View::new(&host, &Layout::contiguous(&l.shape)), dtype, dist, seed, offset)?;
            return g.write_at(l.offset * es, host.bytes());
        }
        let h = Hosted::new(&[self])?;
        h.get(0).fill_random(l, dtype, dist, seed, offset)?;
        h.write_back(0)
    }

    // ----- matrix products -----------------------------------------------------------------

    /// `dst = beta * dst + alpha * self @ b` over a shared batch shape (see cpu::matmul);
    /// `beta: None` overwrites dst without reading it.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(&self, la: &Layout, b: &Storage, lb: &Layout, dst: &Storage, dl: &Layout, dtype: DType, alpha: Scalar, beta: Option<Scalar>) -> Result<()> {
        match (self, b, dst) {
            (Storage::Cpu(a), Storage::Cpu(b), Storage::Cpu(d)) => {
                crate::cpu::matmul::matmul(View::new(a, la), View::new(b, lb), View::new(d, dl), dtype, alpha, beta)
            }
            (Storage::Gpu(a), Storage::Gpu(b), Storage::Gpu(d)) if dtype == DType::F32 => gl::matmul(
                (a, la),
                (b, lb),
                (d, dl),
                dtype,
                alpha.to_f64() as f32,
                beta.map(|x| x.to_f64() as f32),
                false,
            ),
            _ => {
                let h = Hosted::new(&[self, b, dst])?;
                h.get(0).matmul(la, h.get(1), lb, h.get(2), dl, dtype, alpha, beta)?;
                h.write_back(2)
            }
        }
    }
    // ----- reductions, scans, softmax, order-based ops (cpu/reduce.rs, scan.rs, softmax.rs,
    // sort.rs, histogram.rs). Outputs are fresh contiguous storages given with their dtypes.

    /// The CPU view of outputs that are all on the CPU (None if any is on the GPU).
    fn cpu_outs<'a>(outs: &[(&'a Storage, DType)]) -> Option<Vec<crate::cpu::reduce::Out<'a>>> {
        outs.iter().map(|&(s, dtype)| s.as_cpu().map(|buf| crate::cpu::reduce::Out { buf, dtype })).collect()
    }

    /// Runs `f` on host copies of self and `outs`, then writes the outputs back.
    fn outs_via_host(&self, outs: &[(&Storage, DType)], f: impl FnOnce(&Storage, &[(&Storage, DType)]) -> Result<()>) -> Result<()> {
        let mut all = vec![self];
        all.extend(outs.iter().map(|o| o.0));
        let h = Hosted::new(&all)?;
        let houts: Vec<(&Storage, DType)> = outs.iter().enumerate().map(|(i, o)| (h.get(i + 1), o.1)).collect();
        f(h.get(0), &houts)?;
        (1..all.len()).try_for_each(|i| h.write_back(i))
    }

    /// Reduces self[l] over the flagged dims into `outs` (see cpu::reduce::reduce).
    pub fn reduce(&self, op: crate::op::ReduceOp, l: &Layout, dtype: DType, reduced: &[bool], outs: &[(&Storage, DType)]) -> Result<()> {
        let gouts: Option<Vec<(&GpuBuffer, DType)>> = outs
            .iter()
            .map(|&(s, d)| match s {
                Storage::Gpu(g) => Some((g, d)),
                Storage::Cpu(_) => None,
            })
            .collect();
        match (self, Self::cpu_outs(outs), gouts) {
            (Storage::Cpu(b), Some(co), _) => crate::cpu::reduce::reduce(op, View::new(b, l), dtype, reduced, &co),
            (Storage::Gpu(b), _, Some(go)) if gl::reduce_supported(op, dtype) => gl::reduce(op, b, l, dtype, reduced, &go),
            _ => self.outs_via_host(outs, |s, o| s.reduce(op, l, dtype, reduced, o)),
        }
    }

    /// Cumulative op along `dim` of contiguous self[l].
    pub fn scan(&self, op: crate::op::ScanOp, l: &Layout, dtype: DType, dim: usize, outs: &[(&Storage, DType)]) -> Result<()> {
        use crate::op::ScanOp;
        match (self, outs, Self::cpu_outs(outs)) {
            (Storage::Cpu(b), _, Some(co)) => crate::cpu::scan::scan(op, View::new(b, l), dtype, dim, &co),
            (Storage::Gpu(b), [(Storage::Gpu(o), odt)], _)
                if !l.shape.is_empty()
                    && matches!(op, ScanOp::Sum | ScanOp::Prod)
                    && ((dtype.is_float() && dtype != DType::F64 && *odt == dtype) || (!dtype.is_float() && *odt == DType::I64)) =>
            {
                gl::scan(b, l, dtype, dim, op == ScanOp::Prod, o, &Layout::contiguous(&l.shape))
            }
            (Storage::Gpu(b), [(Storage::Gpu(v), _), (Storage::Gpu(i), DType::I64)], _)
                if !l.shape.is_empty() && matches!(op, ScanOp::Max | ScanOp::Min) && dtype != DType::F64 && l.shape[dim] <= gl::SCAN_MAX_ROW =>
            {
                gl::scan_max(b, l, dtype, dim, op == ScanOp::Min, v, i)
            }
            _ => self.outs_via_host(outs, |s, o| s.scan(op, l, dtype, dim, o)),
        }
    }

    pub fn softmax(&self, l: &Layout, dtype: DType, dim: usize, log: bool, dst: &Storage, dl: &Layout) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => crate::cpu::softmax::softmax(View::new(s, l), dtype, dim, log, View::new(d, dl)),
            (Storage::Gpu(s), Storage::Gpu(d)) if dtype.is_float() => gl::softmax(s, l, dtype, dim, log, d, dl),
            _ => {
                let h = Hosted::new(&[self, dst])?;
                h.get(0).softmax(l, dtype, dim, log, h.get(1), dl)?;
                h.write_back(1)
            }
        }
    }

    /// Order-based op on the rows along the last dim of contiguous self[l].
    pub fn select(&self, op: crate::op::SelectOp, l: &Layout, dtype: DType, values: &Storage, indices: &Storage) -> Result<()> {
        let outs = [(values, dtype), (indices, DType::I64)];
        match (self, Self::cpu_outs(&outs), values, indices) {
            (Storage::Cpu(b), Some(co), _, _) => crate::cpu::sort::select(op, View::new(b, l), dtype, co[0], co[1]),
            (Storage::Gpu(b), _, Storage::Gpu(v), Storage::Gpu(i)) if gl::select_supported(op, l, dtype) => gl::select(op, b, l, dtype, v, i),
            _ => self.outs_via_host(&outs, |s, o| s.select(op, l, dtype, o[0].0, o[1].0)),
        }
    }

    /// Groups of equal rows of contiguous self[l] seen as (rows, width).
    pub fn unique_rows(&self, l: &Layout, dtype: DType, rows: usize, width: usize, consecutive: bool) -> Result<crate::cpu::sort::Groups> {
        match self {
            Storage::Cpu(b) => crate::cpu::sort::unique_rows(View::new(b, l), dtype, rows, width, consecutive),
            Storage::Gpu(_) => Hosted::new(&[self])?.get(0).unique_rows(l, dtype, rows, width, consecutive),
        }
    }

    /// Binary search of `values` in the sorted rows of self (both contiguous, of `dtype`).
    #[allow(clippy::too_many_arguments)]
    pub fn searchsorted(
        &self,
        l: &Layout,
        values: &Storage,
        vl: &Layout,
        dtype: DType,
        right: bool,
        sorter: Option<(&Storage, &Layout)>,
        out: &Storage,
        out_dtype: DType,
    ) -> Result<()> {
        if let (Storage::Gpu(b), Storage::Gpu(v), Storage::Gpu(o), None) = (self, values, out, sorter) {
            // (a sorter's indices are range-checked as they are read: that stays on the host)
            return gl::searchsorted((b, l), (v, vl), dtype, right, (o, &Layout::contiguous(&vl.shape), out_dtype));
        }
        let cpu = self.as_cpu().is_some() && values.as_cpu().is_some() && out.as_cpu().is_some() && sorter.is_none_or(|s| s.0.as_cpu().is_some());
        if !cpu {
            let srt = sorter.map(|s| s.0).unwrap_or(self);
            let h = Hosted::new(&[self, values, srt, out])?;
            h.get(0).searchsorted(l, h.get(1), vl, dtype, right, sorter.map(|s| (h.get(2), s.1)), h.get(3), out_dtype)?;
            return h.write_back(3);
        }
        let o = Self::cpu_outs(&[(out, out_dtype)]).expect("checked above")[0];
        let (Storage::Cpu(b), Storage::Cpu(v)) = (self, values) else { unreachable!("checked above") };
        let s = sorter.map(|(s, sl)| View::new(s.as_cpu().expect("checked above"), sl));
        crate::cpu::sort::searchsorted(View::new(b, l), View::new(v, vl), dtype, right, s, o)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn bincount(
        &self,
        l: &Layout,
        dtype: DType,
        weights: Option<(&Storage, &Layout, DType)>,
        nbins: usize,
        out: &Storage,
        out_dtype: DType,
    ) -> Result<()> {
        let cpu = self.as_cpu().is_some() && out.as_cpu().is_some() && weights.is_none_or(|w| w.0.as_cpu().is_some());
        if !cpu {
            let ws = weights.map(|w| w.0).unwrap_or(self);
            let h = Hosted::new(&[self, ws, out])?;
            h.get(0).bincount(l, dtype, weights.map(|w| (h.get(1), w.1, w.2)), nbins, h.get(2), out_dtype)?;
            return h.write_back(2);
        }
        let o = Self::cpu_outs(&[(out, out_dtype)]).expect("checked above")[0];
        let Storage::Cpu(b) = self else { unreachable!("checked above") };
        let w = weights.map(|(s, wl, wd)| (View::new(s.as_cpu().expect("checked above"), wl), wd));
        crate::cpu::histogram::bincount(View::new(b, l), dtype, w, nbins, o)
    }

    pub fn histc(&self, l: &Layout, dtype: DType, bins: usize, lo: f64, hi: f64, out: &Storage) -> Result<()> {
        match (self, Self::cpu_outs(&[(out, dtype)])) {
            (Storage::Cpu(b), Some(o)) => crate::cpu::histogram::histc(View::new(b, l), dtype, bins, lo, hi, o[0]),
            _ => self.outs_via_host(&[(out, dtype)], |s, o| s.histc(l, dtype, bins, lo, hi, o[0].0)),
        }
    }
}

/// Storage shared by a tensor and its views, with the version counter that in-place writes
/// bump (autograd checks it to detect modified saved tensors).
pub struct StorageCell {
    pub storage: Storage,
    version: AtomicU64,
}

impl StorageCell {
    pub fn new(storage: Storage) -> Self {
        StorageCell { storage, version: AtomicU64::new(0) }
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}
