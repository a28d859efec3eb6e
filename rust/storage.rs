//! Storage: the bytes behind one or more tensors, on some device. This is the one place that
//! matches on the device; everything above calls these methods and stays device-agnostic.

use crate::cpu::elementwise::{self as ew, Operand as CpuOperand};
use crate::cpu::random::Distribution;
use crate::cpu::{CpuBuffer, View};
use crate::device::Device;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use std::sync::atomic::{AtomicU64, Ordering};

pub enum Storage {
    Cpu(CpuBuffer),
}

/// The second operand of a binary op at storage level.
pub enum Operand<'a> {
    Tensor(&'a Storage, &'a Layout),
    Scalar(Scalar),
}

fn cpu_operand<'a>(o: &Operand<'a>) -> CpuOperand<'a> {
    match *o {
        Operand::Tensor(Storage::Cpu(b), l) => CpuOperand::Tensor(View::new(b, l)),
        Operand::Scalar(s) => CpuOperand::Scalar(s),
    }
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    pub fn nbytes(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.nbytes(),
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
            Device::Gpu(_) => Err(Error::runtime("rgrad was built without a GPU backend in this version")),
        }
    }

    pub fn data_ptr(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.as_ptr() as usize,
        }
    }

    pub fn as_cpu(&self) -> Option<&CpuBuffer> {
        match self {
            Storage::Cpu(b) => Some(b),
        }
    }

    /// dst[dl] = cast(self[sl]); shapes equal (broadcasts already applied to `sl`).
    pub fn copy_cast(&self, sl: &Layout, sd: DType, dst: &Storage, dl: &Layout, dd: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => {
                ew::copy_cast(View::new(s, sl), sd, View::new(d, dl), dd);
                Ok(())
            }
        }
    }

    pub fn fill(&self, l: &Layout, dtype: DType, value: Scalar) -> Result<()> {
        match self {
            Storage::Cpu(b) => {
                ew::fill(View::new(b, l), dtype, value);
                Ok(())
            }
        }
    }

    pub fn unary(&self, op: UnaryOp, sl: &Layout, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => ew::unary(op, View::new(s, sl), View::new(d, dl), dtype),
        }
    }

    pub fn binary(&self, op: BinaryOp, la: &Layout, b: Operand, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(a), Storage::Cpu(d)) => ew::binary(op, View::new(a, la), cpu_operand(&b), View::new(d, dl), dtype),
        }
    }

    pub fn compare(&self, op: CmpOp, la: &Layout, b: Operand, dst: &Storage, dl: &Layout, dtype: DType) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(a), Storage::Cpu(d)) => {
                ew::compare(op, View::new(a, la), cpu_operand(&b), View::new(d, dl), dtype);
                Ok(())
            }
        }
    }

    /// out = src gathered along a dim (see cpu::gather::gather).
    pub fn gather(&self, src_base: &Layout, dim_stride: isize, index: &Storage, il: &Layout, out: &Storage, ol: &Layout, es: usize) -> Result<()> {
        match (self, index, out) {
            (Storage::Cpu(s), Storage::Cpu(i), Storage::Cpu(o)) => {
                crate::cpu::gather::gather(View::new(s, src_base), dim_stride, View::new(i, il), View::new(o, ol), es);
                Ok(())
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
        reduce: crate::cpu::gather::ScatterReduce,
    ) -> Result<()> {
        match (self, index, src) {
            (Storage::Cpu(d), Storage::Cpu(i), Storage::Cpu(s)) => {
                crate::cpu::gather::scatter(View::new(d, dst_base), dim_stride, View::new(i, il), View::new(s, sl), dtype, reduce);
                Ok(())
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
        }
    }

    /// Runs a linear-algebra op over a batch of matrices (see cpu::linalg); one `info` per
    /// batch entry.
    pub fn linalg(op: &crate::op::LinalgOp, dtype: DType, ins: &[(&Storage, &Layout)], outs: &[(&Storage, &Layout, DType)], nb: usize) -> Result<Vec<i32>> {
        let ins: Vec<View> = ins.iter().map(|&(s, l)| match s {
            Storage::Cpu(b) => View::new(b, l),
        }).collect();
        let out_dtypes: Vec<DType> = outs.iter().map(|o| o.2).collect();
        let outs: Vec<View> = outs.iter().map(|&(s, l, _)| match s {
            Storage::Cpu(b) => View::new(b, l),
        }).collect();
        crate::cpu::linalg::linalg(op, dtype, &ins, &outs, &out_dtypes, nb)
    }

    pub fn fill_random(&self, l: &Layout, dtype: DType, dist: Distribution, seed: u64, offset: u64) -> Result<()> {
        match self {
            Storage::Cpu(b) => crate::cpu::random::fill_random(View::new(b, l), dtype, dist, seed, offset),
        }
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
        }
    }
    // ----- reductions, scans, softmax, order-based ops (cpu/reduce.rs, scan.rs, softmax.rs,
    // sort.rs, histogram.rs). Outputs are fresh contiguous storages given with their dtypes.

    fn cpu_outs<'a>(outs: &[(&'a Storage, DType)]) -> Vec<crate::cpu::reduce::Out<'a>> {
        outs.iter().map(|&(s, dtype)| match s {
            Storage::Cpu(buf) => crate::cpu::reduce::Out { buf, dtype },
        }).collect()
    }

    /// Reduces self[l] over the flagged dims into `outs` (see cpu::reduce::reduce).
    pub fn reduce(&self, op: crate::op::ReduceOp, l: &Layout, dtype: DType, reduced: &[bool], outs: &[(&Storage, DType)]) -> Result<()> {
        match self {
            Storage::Cpu(b) => crate::cpu::reduce::reduce(op, View::new(b, l), dtype, reduced, &Self::cpu_outs(outs)),
        }
    }

    /// Cumulative op along `dim` of contiguous self[l].
    pub fn scan(&self, op: crate::op::ScanOp, l: &Layout, dtype: DType, dim: usize, outs: &[(&Storage, DType)]) -> Result<()> {
        match self {
            Storage::Cpu(b) => crate::cpu::scan::scan(op, View::new(b, l), dtype, dim, &Self::cpu_outs(outs)),
        }
    }

    pub fn softmax(&self, l: &Layout, dtype: DType, dim: usize, log: bool, dst: &Storage, dl: &Layout) -> Result<()> {
        match (self, dst) {
            (Storage::Cpu(s), Storage::Cpu(d)) => crate::cpu::softmax::softmax(View::new(s, l), dtype, dim, log, View::new(d, dl)),
        }
    }

    /// Order-based op on the rows along the last dim of contiguous self[l].
    pub fn select(&self, op: crate::op::SelectOp, l: &Layout, dtype: DType, values: &Storage, indices: &Storage) -> Result<()> {
        let outs = Self::cpu_outs(&[(values, dtype), (indices, DType::I64)]);
        match self {
            Storage::Cpu(b) => crate::cpu::sort::select(op, View::new(b, l), dtype, outs[0], outs[1]),
        }
    }

    /// Groups of equal rows of contiguous self[l] seen as (rows, width).
    pub fn unique_rows(&self, l: &Layout, dtype: DType, rows: usize, width: usize, consecutive: bool) -> Result<crate::cpu::sort::Groups> {
        match self {
            Storage::Cpu(b) => crate::cpu::sort::unique_rows(View::new(b, l), dtype, rows, width, consecutive),
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
        let o = Self::cpu_outs(&[(out, out_dtype)])[0];
        match (self, values) {
            (Storage::Cpu(b), Storage::Cpu(v)) => {
                let s = sorter.map(|(s, sl)| match s {
                    Storage::Cpu(sb) => View::new(sb, sl),
                });
                crate::cpu::sort::searchsorted(View::new(b, l), View::new(v, vl), dtype, right, s, o)
            }
        }
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
        let o = Self::cpu_outs(&[(out, out_dtype)])[0];
        match self {
            Storage::Cpu(b) => {
                let w = weights.map(|(s, wl, wd)| match s {
                    Storage::Cpu(wb) => (View::new(wb, wl), wd),
                });
                crate::cpu::histogram::bincount(View::new(b, l), dtype, w, nbins, o)
            }
        }
    }

    pub fn histc(&self, l: &Layout, dtype: DType, bins: usize, lo: f64, hi: f64, out: &Storage) -> Result<()> {
        let o = Self::cpu_outs(&[(out, dtype)])[0];
        match self {
            Storage::Cpu(b) => crate::cpu::histogram::histc(View::new(b, l), dtype, bins, lo, hi, o),
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
