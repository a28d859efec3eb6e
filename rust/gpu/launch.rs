//! Host side of the kernels: turns (buffer, layout) operands into metadata records and
//! dispatches. Layouts are coalesced first (size-1 dims dropped, dims that are contiguous in
//! every operand merged), so the common contiguous case runs the kernels' index-free path.

use super::buffer::GpuBuffer;
use super::context::{context, META_WORDS};
use super::kernel::{ELEMENTWISE, MATMUL, OPTIM, RANDOM, REDUCE, SOFTMAX, SORT};
use crate::cpu::random::{Distribution, Draw};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, ReduceOp, SelectOp, UnaryOp};

const MAXR: usize = 8;

/// The kernels' dtype code (shaders/common.wgsl).
pub fn dt_code(d: DType) -> Result<u32> {
    Ok(match d {
        DType::Bool => 0,
        DType::U8 => 1,
        DType::I8 => 2,
        DType::I16 => 3,
        DType::I32 => 4,
        DType::I64 => 5,
        DType::F16 => 6,
        DType::BF16 => 7,
        DType::F32 => 8,
        DType::F64 => return Err(float64_error()),
    })
}

/// Refuses an int64 value the GPU's 32-bit int64 cannot hold.
pub fn check_int64(v: i64) -> Result<()> {
    if i32::try_from(v).is_ok() {
        return Ok(());
    }
    Err(Error::runtime(format!(
        "value {v} cannot be moved to the GPU: rgrad's GPU backend computes int64 tensors in 32 bits, so their values must lie in [-2147483648, 2147483647]"
    )))
}

/// MPS's wording, for the GPU (WGSL has no 64-bit floats on most devices).
pub fn float64_error() -> Error {
    Error::Msg {
        kind: ErrorKind::Type,
        msg: "Cannot convert a GPU Tensor to float64 dtype as the wgpu backend doesn't support float64. Please use float32 instead.".into(),
    }
}

/// A scalar's bits in the kernels' compute type for `dtype` (f32 for floats, i32 otherwise).
pub fn compute_bits(s: Scalar, dtype: DType) -> u32 {
    if dtype.is_float() {
        (s.to_f64() as f32).to_bits()
    } else {
        (s.to_i64() as i32) as u32
    }
}

/// A scalar's bits as stored in `dtype` (fill values).
pub fn storage_bits(s: Scalar, dtype: DType) -> u32 {
    match dtype {
        DType::Bool => (s.to_f64() != 0.0) as u32,
        DType::F16 => half::f16::from_f64(s.to_f64()).to_bits() as u32,
        DType::BF16 => half::bf16::from_f32(s.to_f64() as f32).to_bits() as u32,
        DType::F32 | DType::F64 => (s.to_f64() as f32).to_bits(),
        DType::U8 | DType::I8 => (s.to_i64() as u32) & 0xff,
        DType::I16 => (s.to_i64() as u32) & 0xffff,
        DType::I32 | DType::I64 => s.to_i64() as i32 as u32,
    }
}

/// An elementwise operand: a strided GPU view, or one value broadcast everywhere.
pub enum Arg<'a> {
    View(&'a GpuBuffer, &'a Layout),
    Scalar(u32),
}

fn groups_1d(n: usize) -> (u32, u32, u32) {
    let g = n.div_ceil(256).max(1) as u32;
    let x = g.min(65535);
    (x, g.div_ceil(x), 1)
}

fn i32_of(v: isize) -> Result<u32> {
    i32::try_from(v).map(|x| x as u32).map_err(|_| Error::runtime("GPU tensor strides and offsets must fit in 32 bits"))
}

/// Drops size-1 dims and merges dims that are contiguous in every operand.
fn coalesce(shape: &[usize], strides: &[&[isize]]) -> (Vec<usize>, Vec<Vec<isize>>) {
    let mut out: Vec<(usize, Vec<isize>)> = Vec::new();
    for d in 0..shape.len() {
        let sz = shape[d];
        if sz == 1 {
            continue;
        }
        let st: Vec<isize> = strides.iter().map(|s| s[d]).collect();
        if let Some(last) = out.last_mut() {
            if last.1.iter().zip(&st).all(|(&so, &si)| so == si * sz as isize) {
                last.0 *= sz;
                last.1 = st;
                continue;
            }
        }
        out.push((sz, st));
    }
    let shape = out.iter().map(|x| x.0).collect();
    let strides = (0..strides.len()).map(|k| out.iter().map(|x| x.1[k]).collect()).collect();
    (shape, strides)
}

/// Elementwise dispatch over `out`'s shape: mode 0 unary, 1 binary, 2 compare, 3 where
/// (c is the condition), 4 copy, 5 fill (value in `fill`), 6 gather, 7 scatter (8 its int64
/// high words).
#[allow(clippy::too_many_arguments)]
fn elementwise(mode: u32, op: u32, dt: DType, a: Arg, b: Arg, c: Option<(&GpuBuffer, &Layout, DType)>, out: (&GpuBuffer, &Layout, DType), fill: u32) -> Result<()> {
    let n = out.1.numel();
    if n == 0 {
        return Ok(());
    }
    let ctx = context()?;
    let shape = &out.1.shape[..];
    let zeros = vec![0isize; shape.len()];
    let st_of = |x: &Arg| -> Vec<isize> {
        match x {
            Arg::View(_, l) => l.strides.to_vec(),
            Arg::Scalar(_) => zeros.clone(),
        }
    };
    let (sa, sb) = (st_of(&a), st_of(&b));
    let sc = c.map(|c| c.1.strides.to_vec()).unwrap_or_else(|| zeros.clone());
    let (cshape, cst) = coalesce(shape, &[&sa, &sb, &sc, &out.1.strides]);
    if cshape.len() > MAXR {
        return Err(Error::runtime("GPU elementwise kernels take at most 8 non-contiguous dims"));
    }
    let off = |x: &Arg| match x {
        Arg::View(_, l) => l.offset,
        Arg::Scalar(_) => 0,
    };
    let mut meta = [0u32; 48];
    meta[0] = u32::try_from(n).map_err(|_| Error::runtime("GPU tensors are limited to 2^32 elements"))?;
    meta[1] = cshape.len() as u32;
    meta[2] = match (&b, mode) {
        (_, 5) => fill,
        (Arg::Scalar(v), _) => *v,
        _ => 0,
    };
    if let Arg::Scalar(v) = a {
        meta[3] = v;
    }
    meta[4] = i32_of(off(&a) as isize)?;
    meta[5] = i32_of(off(&b) as isize)?;
    meta[6] = i32_of(c.map(|c| c.1.offset).unwrap_or(0) as isize)?;
    meta[7] = i32_of(out.1.offset as isize)?;
    for (d, &s) in cshape.iter().enumerate() {
        meta[8 + d] = s as u32;
        for k in 0..4 {
            meta[16 + 8 * k + d] = i32_of(cst[k][d])?;
        }
    }
    let is_scalar = |x: &Arg| matches!(x, Arg::Scalar(_));
    let contig = cshape.len() <= 1 && (0..4).all(|k| cshape.is_empty() || cst[k][0] == 1 || cst[k][0] == 0 && [is_scalar(&a), is_scalar(&b), c.is_none(), false][k]);
    let out_dt = out.2;
    // (scatter always takes the atomic entry: its writes may collide)
    let word = out_dt.size() >= 4 && mode < 7;
    let constants = [
        ("MODE", mode),
        ("OP", op),
        ("DT", dt_code(dt)?),
        ("DT_C", c.map(|c| dt_code(c.2)).transpose()?.unwrap_or(0)),
        ("DT_OUT", dt_code(out_dt)?),
        ("CONTIG", contig as u32),
        ("A_SCALAR", is_scalar(&a) as u32),
        ("B_SCALAR", is_scalar(&b) as u32),
    ];
    let dummy = ctx.dummy();
    fn buf<'a>(x: &Arg<'a>, dummy: &'a wgpu::Buffer) -> &'a wgpu::Buffer {
        match x {
            Arg::View(g, _) => g.raw(),
            Arg::Scalar(_) => dummy,
        }
    }
    let cbuf = c.map(|c| c.0.raw()).unwrap_or(dummy);
    let obind = if word { 4 } else { 5 };
    let bufs = [(1, buf(&a, dummy)), (2, buf(&b, dummy)), (3, cbuf), (obind, out.0.raw())];
    let entry = if word { "main_w" } else { "main_a" };
    ctx.dispatch(&ELEMENTWISE, entry, &constants, &meta, &bufs, groups_1d(n))
}

pub fn unary(op: UnaryOp, a: Arg, dtype: DType, out: (&GpuBuffer, &Layout, DType)) -> Result<()> {
    elementwise(0, op as u32, dtype, a, Arg::Scalar(0), None, out, 0)
}

pub fn binary(op: BinaryOp, a: Arg, b: Arg, dtype: DType, out: (&GpuBuffer, &Layout, DType)) -> Result<()> {
    elementwise(1, op as u32, dtype, a, b, None, out, 0)
}

pub fn compare(op: CmpOp, a: Arg, b: Arg, dtype: DType, out: (&GpuBuffer, &Layout)) -> Result<()> {
    elementwise(2, op as u32, dtype, a, b, None, (out.0, out.1, DType::Bool), 0)
}

/// dst = cond ? a : b for elements of `dtype` (raw bits).
pub fn select_where(cond: (&GpuBuffer, &Layout, DType), a: Arg, b: Arg, dtype: DType, out: (&GpuBuffer, &Layout)) -> Result<()> {
    elementwise(3, 0, dtype, a, b, Some(cond), (out.0, out.1, dtype), 0)
}

/// out[p] = src[base(p) + index[p] * dim_stride] (see cpu::gather::gather), elements moved as
/// raw bits of `dtype`; the int64 indices are already bounds-checked.
pub fn gather(src_base: (&GpuBuffer, &Layout), dim_stride: isize, index: (&GpuBuffer, &Layout), out: (&GpuBuffer, &Layout), dtype: DType) -> Result<()> {
    let stride = i32_of(dim_stride)?;
    elementwise(6, 0, dtype, Arg::View(src_base.0, src_base.1), Arg::Scalar(stride), Some((index.0, index.1, DType::I64)), (out.0, out.1, dtype), 0)
}

/// dst[base(p) + index[p] * dim_stride] (op)= src[p] over the index's shape (see
/// cpu::gather::scatter), elements of `dtype`; `op` None stores, else it is the combining
/// BinaryOp (Add, Mul, Maximum, Minimum). A scalar `src` comes as its raw bits.
pub fn scatter(dst_base: (&GpuBuffer, &Layout), dim_stride: isize, index: (&GpuBuffer, &Layout), src: Arg, dtype: DType, op: Option<BinaryOp>) -> Result<()> {
    let stride = i32_of(dim_stride)?;
    let code = op.map_or(255, |o| o as u32);
    let index = Some((index.0, index.1, DType::I64));
    elementwise(7, code, dtype, src, Arg::Scalar(stride), index, (dst_base.0, dst_base.1, dtype), 0)?;
    if dtype == DType::I64 && op.is_some() {
        // the combined low words' sign into their high words
        elementwise(8, 0, dtype, Arg::Scalar(0), Arg::Scalar(stride), index, (dst_base.0, dst_base.1, dtype), 0)?;
    }
    Ok(())
}

pub fn copy_cast(src: Arg, sd: DType, out: (&GpuBuffer, &Layout, DType)) -> Result<()> {
    elementwise(4, 0, sd, src, Arg::Scalar(0), None, out, 0)
}

pub fn fill(out: (&GpuBuffer, &Layout, DType), value: Scalar) -> Result<()> {
    if out.2 == DType::I64 {
        check_int64(value.to_i64())?;
    }
    elementwise(5, 0, out.2, Arg::Scalar(0), Arg::Scalar(0), None, out, storage_bits(value, out.2))
}

/// Whether a random fill of `dtype` draws on the GPU: uniform into float dtypes, bernoulli,
/// and randint with a range under 2^32 whose values the dtype holds exactly in 32 bits (the
/// normal draw's Box-Muller runs in float64 and stays on the host).
pub fn random_supported(dist: Distribution, dtype: DType) -> bool {
    match dist {
        _ if dtype == DType::F64 => false,
        Distribution::Uniform { .. } => dtype.is_float(),
        Distribution::Bernoulli { .. } => true,
        Distribution::RandInt { low, high } => {
            let (min, max) = if dtype.is_float() { (-(1 << 24), 1 << 24) } else { (i32::MIN as i64, i32::MAX as i64) };
            low < high && high - low <= u32::MAX as i64 && low >= min && high - 1 <= max
        }
        Distribution::Normal { .. } => false,
    }
}

/// Fills contiguous out[l] with draws from (seed, offset), the CPU's numbers (shaders/random.wgsl).
pub fn fill_random(out: (&GpuBuffer, &Layout, DType), dist: Distribution, seed: u64, offset: u64) -> Result<()> {
    let n = out.1.numel();
    if n == 0 {
        return Ok(());
    }
    if !out.1.is_contiguous() {
        return Err(Error::runtime("random fill expects a contiguous destination"));
    }
    let mut meta = [0u32; 12];
    meta[0] = u32::try_from(n).map_err(|_| Error::runtime("GPU tensors are limited to 2^32 elements"))?;
    meta[1] = i32_of(out.1.offset as isize)?;
    meta[2..6].copy_from_slice(&[offset as u32, (offset >> 32) as u32, seed as u32, (seed >> 32) as u32]);
    let code = match Draw::new(dist, false) {
        Draw::Uniform32(u) => {
            meta[6..11].copy_from_slice(&[u.low.to_bits(), u.span.to_bits(), u.high.to_bits(), u.below_high.to_bits(), u.clamp as u32]);
            0
        }
        Draw::Bernoulli32(threshold) => {
            meta[6] = threshold;
            1
        }
        Draw::RandInt { low, high } => {
            meta[6] = low as i32 as u32;
            meta[7] = (high - low) as u32;
            2
        }
        _ => return Err(Error::runtime("this draw runs on the host")),
    };
    let word = matches!(out.2, DType::I32 | DType::I64 | DType::F32);
    let ctx = context()?;
    let constants = [("DIST", code), ("DT_OUT", dt_code(out.2)?)];
    let bufs = [(if word { 4 } else { 5 }, out.0.raw())];
    ctx.dispatch(&RANDOM, "random", &constants, &meta, &bufs, groups_1d(n))
}

/// Whether a reduction runs on the GPU (others go through the host).
pub fn reduce_supported(op: ReduceOp, dtype: DType) -> bool {
    dtype != DType::F64
        && match op {
            ReduceOp::Mean | ReduceOp::NanMean | ReduceOp::LogSumExp | ReduceOp::Norm(_) | ReduceOp::Var { .. } => dtype.is_float(),
            _ => true,
        }
}

fn reduce_code(op: ReduceOp) -> (u32, f32, u32) {
    match op {
        ReduceOp::Sum => (0, 0.0, 0),
        ReduceOp::NanSum => (1, 0.0, 0),
        ReduceOp::Prod => (2, 0.0, 0),
        ReduceOp::Mean => (3, 0.0, 0),
        ReduceOp::NanMean => (4, 0.0, 0),
        ReduceOp::Max => (5, 0.0, 0),
        ReduceOp::Min => (6, 0.0, 0),
        ReduceOp::ArgMax => (7, 0.0, 0),
        ReduceOp::ArgMin => (8, 0.0, 0),
        ReduceOp::All => (9, 0.0, 0),
        ReduceOp::Any => (10, 0.0, 0),
        ReduceOp::CountNonzero => (11, 0.0, 0),
        ReduceOp::LogSumExp => (12, 0.0, 0),
        ReduceOp::Norm(p) => (13, p as f32, 0),
        ReduceOp::Var { correction, std } => (14, correction as f32, std as u32),
    }
}

/// Reduces src[l] over the flagged dims into fresh contiguous outputs (see cpu::reduce).
pub fn reduce(op: ReduceOp, src: &GpuBuffer, l: &Layout, dtype: DType, reduced: &[bool], outs: &[(&GpuBuffer, DType)]) -> Result<()> {
    let ctx = context()?;
    let (mut ks, mut kst, mut rs, mut rst) = (vec![], vec![], vec![], vec![]);
    for d in 0..l.shape.len() {
        if reduced[d] {
            rs.push(l.shape[d]);
            rst.push(l.strides[d]);
        } else {
            ks.push(l.shape[d]);
            kst.push(l.strides[d]);
        }
    }
    let (ks, kst) = coalesce(&ks, &[&kst]);
    let (rs, rst) = coalesce(&rs, &[&rst]);
    if ks.len() > MAXR || rs.len() > MAXR {
        return Err(Error::runtime("GPU reductions take at most 8 non-contiguous dims"));
    }
    let n_out: usize = ks.iter().product();
    let n_red: usize = rs.iter().product();
    if n_out == 0 {
        return Ok(());
    }
    let (code, p, std) = reduce_code(op);
    let mut meta = [0u32; 42];
    meta[0] = n_out as u32;
    meta[1] = u32::try_from(n_red).map_err(|_| Error::runtime("GPU tensors are limited to 2^32 elements"))?;
    meta[2] = ks.len() as u32;
    meta[3] = rs.len() as u32;
    meta[4] = i32_of(l.offset as isize)?;
    meta[5] = p.to_bits();
    meta[6] = std;
    for d in 0..ks.len() {
        meta[8 + d] = ks[d] as u32;
        meta[16 + d] = i32_of(kst[0][d])?;
    }
    for d in 0..rs.len() {
        meta[24 + d] = rs[d] as u32;
        meta[32 + d] = i32_of(rst[0][d])?;
    }
    let two = outs.len() == 2;
    let constants = [
        ("OP", code),
        ("DT", dt_code(dtype)?),
        ("DT_OUT", dt_code(outs[0].1)?),
        ("DT_OUT2", if two { dt_code(outs[1].1)? } else { 5 }),
        ("TWO_OUT", two as u32),
    ];
    let out2 = if two { outs[1].0.raw() } else { ctx.dummy() };
    let two_phase = matches!(op, ReduceOp::LogSumExp | ReduceOp::Var { .. });
    if n_red <= 64 {
        // Short reductions: an invocation per output.
        let bufs = [(1, src.raw()), (5, outs[0].0.raw()), (7, out2)];
        ctx.dispatch(&REDUCE, "reduce_thread", &constants, &meta, &bufs, groups_1d(n_out))
    } else if n_out <= 32 && n_red >= 1 << 14 && !two_phase {
        // Long reductions into few outputs: chunks of 4096 reduced by workgroups of their own.
        let chunks = n_red.div_ceil(4096).min(1024);
        let len = n_red.div_ceil(chunks);
        meta[40] = chunks as u32;
        meta[41] = len as u32;
        let parts = GpuBuffer::alloc(n_out * chunks * 16)?;
        ctx.dispatch(&REDUCE, "reduce_partial", &constants, &meta, &[(1, src.raw()), (2, parts.raw())], fold(n_out * chunks))?;
        let bufs = [(2, parts.raw()), (5, outs[0].0.raw()), (7, out2)];
        ctx.dispatch(&REDUCE, "reduce_combine", &constants, &meta, &bufs, fold(n_out))
    } else {
        // A workgroup per output.
        let bufs = [(1, src.raw()), (5, outs[0].0.raw()), (7, out2)];
        ctx.dispatch(&REDUCE, "reduce_group", &constants, &meta, &bufs, fold(n_out))
    }
}

/// A dispatch grid of `n` workgroups, folded into y beyond 65535.
fn fold(n: usize) -> (u32, u32, u32) {
    let x = (n as u32).min(65535);
    (x, (n as u32).div_ceil(x), 1)
}

/// Rows longer than this are scanned in chunks of this length (see softmax.wgsl's scan).
const SCAN_CHUNK: usize = 8192;

/// cumsum (`prod` false) or cumprod along `dim` into dst[dl] (same shape), on softmax's row
/// layout: a float tensor into its own dtype, or the cumsum of an integer (or bool) tensor into
/// int64.
pub fn scan(src: &GpuBuffer, l: &Layout, dtype: DType, dim: usize, prod: bool, dst: &GpuBuffer, dl: &Layout) -> Result<()> {
    let int = !dtype.is_float();
    let Some((mut meta, rows, len)) = row_meta(l, dim, dl, prod as u32)? else {
        return Ok(());
    };
    let ctx = context()?;
    let constants = [("DT", dt_code(dtype)?)];
    let (entry, out_slot, word_pairs) = if int { ("scan_int", 4, 2) } else { ("scan", 5, 1) };
    if len <= SCAN_CHUNK {
        return ctx.dispatch(&SOFTMAX, entry, &constants, &meta, &[(1, src.raw()), (out_slot, dst.raw())], fold(rows));
    }
    let chunks = len.div_ceil(SCAN_CHUNK);
    let groups = rows * chunks;
    if groups > u32::MAX as usize {
        return Err(Error::runtime("GPU cumsum/cumprod is limited to 2^32 chunks of 8192"));
    }
    meta[32] = SCAN_CHUNK as u32;
    meta[33] = chunks as u32;
    // pass 1: each chunk's total; then their scan along the chunks (recursively chunked)
    let totals = GpuBuffer::alloc(groups * 4 * word_pairs)?;
    meta[3] = prod as u32 | 2;
    ctx.dispatch(&SOFTMAX, entry, &constants, &meta, &[(1, src.raw()), (2, totals.raw())], fold(groups))?;
    let scanned = GpuBuffer::alloc(groups * 4 * word_pairs)?;
    let tl = Layout::contiguous(&[rows, chunks]);
    scan(&totals, &tl, if int { DType::I64 } else { DType::F32 }, 1, prod, &scanned, &tl)?;
    // pass 2: each chunk scanned from the total of the chunks before it
    meta[3] = prod as u32 | 4;
    ctx.dispatch(&SOFTMAX, entry, &constants, &meta, &[(1, src.raw()), (2, scanned.raw()), (out_slot, dst.raw())], fold(groups))
}

/// The longest row `scan_max` takes: one workgroup walks the row in 256-blocks of 18 barriers,
/// and lavapipe stops a workgroup after about 2^21 barriers.
pub const SCAN_MAX_ROW: usize = 1 << 24;

/// cummax (cummin when `min`) of src[l] along `dim`: values into contiguous `values`, int64
/// indices into contiguous `indices` (shaders/softmax.wgsl `scan_max`).
pub fn scan_max(src: &GpuBuffer, l: &Layout, dtype: DType, dim: usize, min: bool, values: &GpuBuffer, indices: &GpuBuffer) -> Result<()> {
    let dl = Layout::contiguous(&l.shape);
    let Some((meta, rows, len)) = row_meta(l, dim, &dl, min as u32)? else {
        return Ok(());
    };
    if len > SCAN_MAX_ROW {
        return Err(Error::runtime("GPU cummax/cummin rows are limited to 2^24 elements"));
    }
    let bufs = [(1, src.raw()), (2, indices.raw()), (5, values.raw())];
    context()?.dispatch(&SOFTMAX, "scan_max", &[("DT", dt_code(dtype)?)], &meta, &bufs, fold(rows))
}

/// searchsorted of contiguous `values` in the sorted rows (last dim, length n) of contiguous
/// `boundaries` (one row for every value when `shared`), into a contiguous int64 or int32 `out`
/// (sort.wgsl `search`).
pub fn searchsorted(boundaries: (&GpuBuffer, &Layout), values: (&GpuBuffer, &Layout), dtype: DType, right: bool, out: (&GpuBuffer, &Layout, DType)) -> Result<()> {
    let nv = values.1.numel();
    if nv == 0 {
        return Ok(());
    }
    let n = boundaries.1.shape.last().copied().unwrap_or(1);
    let shared = boundaries.1.ndim() <= 1;
    let per_row = if shared { nv } else { values.1.shape.last().copied().unwrap_or(1).max(1) };
    let mut meta = [0u32; 9];
    meta[0] = u32::try_from(nv).map_err(|_| Error::runtime("GPU tensors are limited to 2^32 elements"))?;
    meta[1] = n as u32;
    meta[2] = per_row as u32;
    meta[3] = shared as u32;
    meta[4] = right as u32;
    meta[5] = i32_of(boundaries.1.offset as isize)?;
    meta[6] = i32_of(values.1.offset as isize)?;
    meta[7] = i32_of(out.1.offset as isize)?;
    meta[8] = (out.2 == DType::I32) as u32;
    let bufs = [(1, boundaries.0.raw()), (2, values.0.raw()), (4, out.0.raw())];
    context()?.dispatch(&SORT, "search", &[("DT", dt_code(dtype)?)], &meta, &bufs, groups_1d(nv))
}

/// softmax / log_softmax of src[l] along `dim` into dst[dl] (same shape): one workgroup per row.
pub fn softmax(src: &GpuBuffer, l: &Layout, dtype: DType, dim: usize, log: bool, dst: &GpuBuffer, dl: &Layout) -> Result<()> {
    let Some((meta, rows, _)) = row_meta(l, dim, dl, log as u32)? else {
        return Ok(());
    };
    context()?.dispatch(&SOFTMAX, "softmax", &[("DT", dt_code(dtype)?)], &meta, &[(1, src.raw()), (5, dst.raw())], fold(rows))
}

/// softmax.wgsl's metadata for the rows along `dim` (`flag` is prm[3]), with the number of rows
/// and the row length; None when there is nothing to do.
fn row_meta(l: &Layout, dim: usize, dl: &Layout, flag: u32) -> Result<Option<([u32; 34], usize, usize)>> {
    let mut os = vec![];
    let (mut ist, mut ost) = (vec![], vec![]);
    for d in 0..l.shape.len() {
        if d != dim {
            os.push(l.shape[d]);
            ist.push(l.strides[d]);
            ost.push(dl.strides[d]);
        }
    }
    let (os, st) = coalesce(&os, &[&ist, &ost]);
    if os.len() > MAXR {
        return Err(Error::runtime("GPU softmax takes at most 8 non-contiguous dims"));
    }
    let rows: usize = os.iter().product();
    let len = l.shape.get(dim).copied().unwrap_or(1);
    if rows == 0 || len == 0 {
        return Ok(None);
    }
    let mut meta = [0u32; 34];
    meta[0] = rows as u32;
    meta[1] = len as u32;
    meta[2] = os.len() as u32;
    meta[3] = flag;
    meta[4] = i32_of(l.offset as isize)?;
    meta[5] = i32_of(dl.offset as isize)?;
    meta[6] = i32_of(l.strides.get(dim).copied().unwrap_or(0))?;
    meta[7] = i32_of(dl.strides.get(dim).copied().unwrap_or(0))?;
    for d in 0..os.len() {
        meta[8 + d] = os[d] as u32;
        meta[16 + d] = i32_of(st[0][d])?;
        meta[24 + d] = i32_of(st[1][d])?;
    }
    Ok(Some((meta, rows, len)))
}

/// Pairs one workgroup of sort.wgsl sorts in its memory.
const SORT_TILE: usize = 512;

/// Whether `select` runs `op` on the device: mode stays on the host, and the padded rows'
/// (key, index) pairs must fit one buffer and u32 indexing.
pub fn select_supported(op: SelectOp, l: &Layout, dtype: DType) -> bool {
    let n = l.shape.last().copied().unwrap_or(1).max(1);
    let pairs = (l.numel() / n).saturating_mul(n.next_power_of_two());
    let fits = match context() {
        Ok(ctx) => (pairs as u64).saturating_mul(8) <= ctx.limits.max_storage_buffer_binding_size as u64,
        Err(_) => false,
    };
    !matches!(op, SelectOp::Mode) && dtype != DType::F64 && pairs < (1 << 31) && fits
}

/// Sort, topk, kthvalue and median of the rows along the last dim of contiguous src[l] into
/// fresh contiguous `values` (of `dtype`) and int64 `indices`, `op.out_len(n)` per row: a
/// bitonic sort of the padded rows (sort.wgsl), then a pick of the wanted positions.
pub fn select(op: SelectOp, src: &GpuBuffer, l: &Layout, dtype: DType, values: &GpuBuffer, indices: &GpuBuffer) -> Result<()> {
    let n = l.shape.last().copied().unwrap_or(1);
    let numel = l.numel();
    if n == 0 || numel == 0 {
        return Ok(());
    }
    let (rows, p) = (numel / n, n.next_power_of_two());
    let pairs = rows * p;
    // (descending keys, what to pick, its position)
    let (desc, what, at) = match op {
        SelectOp::Sort { descending, .. } => (descending, 0, 0),
        SelectOp::TopK { largest, .. } => (largest, 0, 0),
        SelectOp::Kth { k } => (false, 1, k),
        SelectOp::Median { skip_nan } => (false, 2 + skip_nan as u32, 0),
        SelectOp::Mode => return Err(Error::runtime("mode has no GPU kernel")),
    };
    let ctx = context()?;
    let keys = GpuBuffer::alloc(pairs * 8)?;
    let mut meta = [0u32; 11];
    meta[0] = pairs as u32;
    meta[1] = p as u32;
    meta[2] = n as u32;
    meta[3] = desc as u32;
    meta[4] = i32_of(l.offset as isize)?;
    meta[7] = rows as u32;
    meta[8] = what;
    meta[9] = at as u32;
    meta[10] = op.out_len(n) as u32;
    let constants = [("DT", dt_code(dtype)?)];
    let bufs = [(1, src.raw()), (2, keys.raw())];
    let tiles = fold(pairs.div_ceil(SORT_TILE));
    ctx.dispatch(&SORT, "sort_init", &constants, &meta, &bufs, groups_1d(pairs))?;
    ctx.dispatch(&SORT, "sort_local", &constants, &meta, &bufs, tiles)?;
    let mut k = 2 * SORT_TILE;
    while k <= p {
        meta[5] = k as u32;
        let mut j = k / 2;
        while j >= SORT_TILE {
            meta[6] = j as u32;
            ctx.dispatch(&SORT, "sort_global", &constants, &meta, &bufs, groups_1d(pairs / 2))?;
            j /= 2;
        }
        ctx.dispatch(&SORT, "sort_merge", &constants, &meta, &bufs, tiles)?;
        k *= 2;
    }
    let outs = rows * op.out_len(n);
    if outs == 0 {
        return Ok(());
    }
    let bufs = [(1, src.raw()), (2, keys.raw()), (5, values.raw()), (6, indices.raw())];
    ctx.dispatch(&SORT, "sort_pick", &constants, &meta, &bufs, groups_1d(outs))
}

/// dst = alpha * a @ b (+ beta * dst) over a shared batch shape; dst is float32, a and b any
/// float dtype. `naive` picks the one-invocation-per-output baseline kernel.
#[allow(clippy::too_many_arguments)]
pub fn matmul(a: (&GpuBuffer, &Layout), b: (&GpuBuffer, &Layout), dst: (&GpuBuffer, &Layout), dtype: DType, alpha: f32, beta: Option<f32>, naive: bool) -> Result<()> {
    let ctx = context()?;
    let (la, lb, lc) = (a.1, b.1, dst.1);
    let r = lc.shape.len();
    let (m, n) = (lc.shape[r - 2], lc.shape[r - 1]);
    let k = la.shape[r - 1];
    let bshape = &lc.shape[..r - 2];
    let nb: usize = bshape.iter().product();
    if m == 0 || n == 0 || nb == 0 {
        return Ok(());
    }
    let (bs, bst) = coalesce(bshape, &[&la.strides[..r - 2], &lb.strides[..r - 2], &lc.strides[..r - 2]]);
    if bs.len() > 6 || nb > 65535 {
        return Err(Error::runtime("GPU matmul takes at most 6 batch dims and 65535 batch entries"));
    }
    let mut meta = [0u32; 40];
    meta[0] = m as u32;
    meta[1] = n as u32;
    meta[2] = k as u32;
    meta[3] = bs.len() as u32;
    meta[4] = beta.is_some() as u32;
    meta[5] = i32_of(la.offset as isize)?;
    meta[6] = i32_of(lb.offset as isize)?;
    meta[7] = i32_of(lc.offset as isize)?;
    meta[8] = i32_of(la.strides[r - 2])?;
    meta[9] = i32_of(la.strides[r - 1])?;
    meta[10] = i32_of(lb.strides[r - 2])?;
    meta[11] = i32_of(lb.strides[r - 1])?;
    meta[12] = i32_of(lc.strides[r - 2])?;
    meta[13] = i32_of(lc.strides[r - 1])?;
    meta[14] = alpha.to_bits();
    meta[15] = beta.unwrap_or(0.0).to_bits();
    for d in 0..bs.len() {
        meta[16 + d] = bs[d] as u32;
        meta[22 + d] = i32_of(bst[0][d])?;
        meta[28 + d] = i32_of(bst[1][d])?;
        meta[34 + d] = i32_of(bst[2][d])?;
    }
    debug_assert!(meta.len() <= META_WORDS);
    let bufs = [(1, a.0.raw()), (2, b.0.raw()), (4, dst.0.raw())];
    let consts = [("DT", dt_code(dtype)?)];
    if naive {
        ctx.dispatch(&MATMUL, "matmul_naive", &consts, &meta, &bufs, ((n as u32).div_ceil(16), (m as u32).div_ceil(16), nb as u32))
    } else {
        ctx.dispatch(&MATMUL, "matmul", &consts, &meta, &bufs, ((n as u32).div_ceil(64), (m as u32).div_ceil(64), nb as u32))
    }
}

/// A contiguous float32 tensor of an optimizer step: its buffer and element offset.
pub type OptimArg<'a> = (&'a GpuBuffer, usize);

/// One fused optimizer dispatch over `n` elements (shaders/optim.wgsl): `t` holds the
/// parameter, gradient and up to three state tensors, `hp` the float32 hyper-parameters.
fn optim_step(entry: &'static str, n: usize, flags: u32, t: [Option<OptimArg>; 5], hp: &[f32]) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let ctx = context()?;
    let mut meta = [0u32; 16];
    meta[0] = u32::try_from(n).map_err(|_| Error::runtime("GPU tensors are limited to 2^32 elements"))?;
    meta[1] = flags;
    for (k, a) in t.iter().enumerate() {
        meta[2 + k] = a.map_or(Ok(0), |a| i32_of(a.1 as isize))?;
    }
    for (k, v) in hp.iter().enumerate() {
        meta[8 + k] = v.to_bits();
    }
    let dummy = ctx.dummy();
    let bufs: Vec<(u32, &wgpu::Buffer)> = t.iter().enumerate().map(|(k, a)| (k as u32 + 1, a.map_or(dummy, |a| a.0.raw()))).collect();
    ctx.dispatch(&OPTIM, entry, &[], &meta, &bufs, groups_1d(n))
}

/// One SGD step of a float32 parameter (see cpu::optim::sgd): `buf` is the momentum buffer,
/// `first` says it is fresh.
pub fn sgd_step(p: OptimArg, g: OptimArg, buf: Option<OptimArg>, n: usize, first: bool, c: &crate::optim::SgdConfig) -> Result<()> {
    let flags = c.maximize as u32 | (c.weight_decay != 0.0) as u32 * 2 | buf.is_some() as u32 * 4 | first as u32 * 8 | c.nesterov as u32 * 16;
    let hp = [c.weight_decay as f32, c.momentum as f32, (1.0 - c.dampening) as f32, -c.lr as f32];
    optim_step("sgd", n, flags, [Some(p), Some(g), buf, None, None], &hp)
}

/// One RMSprop step of a float32 parameter (see cpu::optim::rmsprop): state is (square_avg,
/// grad_avg when centered, momentum_buffer when momentum > 0).
pub fn rmsprop_step(p: OptimArg, g: OptimArg, state: [Option<OptimArg>; 3], n: usize, c: &crate::optim::RmspropConfig) -> Result<()> {
    let flags = c.maximize as u32 | (c.weight_decay != 0.0) as u32 * 2 | state[1].is_some() as u32 * 4 | state[2].is_some() as u32 * 8;
    let hp = [c.weight_decay as f32, c.alpha as f32, (1.0 - c.alpha) as f32, c.eps as f32, c.momentum as f32, -c.lr as f32];
    optim_step("rmsprop", n, flags, [Some(p), Some(g), state[0], state[1], state[2]], &hp)
}

/// One Adagrad step of a float32 parameter at its step count `step` (see cpu::optim::adagrad).
pub fn adagrad_step(p: OptimArg, g: OptimArg, sum: OptimArg, n: usize, step: f64, c: &crate::optim::AdagradConfig) -> Result<()> {
    let flags = c.maximize as u32 | (c.weight_decay != 0.0) as u32 * 2;
    let clr = c.lr / (1.0 + (step - 1.0) * c.lr_decay);
    let hp = [c.weight_decay as f32, c.eps as f32, -clr as f32];
    optim_step("adagrad", n, flags, [Some(p), Some(g), Some(sum), None, None], &hp)
}

/// One Adam/AdamW step of a float32 parameter at step count `step` (see cpu::optim::adam);
/// the state is (exp_avg, exp_avg_sq, max_exp_avg_sq when amsgrad).
pub fn adam_step(p: OptimArg, g: OptimArg, state: [Option<OptimArg>; 3], n: usize, step: f64, c: &crate::optim::AdamConfig) -> Result<()> {
    let flags = c.maximize as u32 | (c.weight_decay != 0.0) as u32 * 2 | c.amsgrad as u32 * 8 | c.decoupled as u32 * 16;
    let step_size = c.lr / (1.0 - c.beta1.powf(step));
    let bc2_sqrt = (1.0 - c.beta2.powf(step)).powf(0.5);
    let hp = [
        c.weight_decay as f32,
        (1.0 - c.lr * c.weight_decay) as f32,
        (1.0 - c.beta1) as f32,
        c.beta2 as f32,
        (1.0 - c.beta2) as f32,
        c.eps as f32,
        -step_size as f32,
        bc2_sqrt as f32,
    ];
    optim_step("adam", n, flags, [Some(p), Some(g), state[0], state[1], state[2]], &hp)
}
