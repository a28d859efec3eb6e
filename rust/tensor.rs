//! Tensor: a shared handle to (storage, layout, dtype). Views share the storage cell; ops are
//! written against `Storage`'s device-agnostic methods.

use crate::device::Device;
use crate::dtype::{default_float, result_type, DType, Elem, Priority, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use crate::shape::{broadcast_shape, fmt_shape, numel, wrap_dim, Dims};
use crate::storage::{Operand, Storage, StorageCell};
use smallvec::SmallVec;
use crate::backprop::GradOp;
use crate::graph::{self, AutogradMeta, Node};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

pub struct TensorImpl {
    storage: Arc<StorageCell>,
    layout: Layout,
    dtype: DType,
    requires_grad: AtomicBool,
    /// A version counter of its own instead of the storage's: `.data` aliases, whose writes
    /// autograd must not see (torch gives them a fresh counter). Views of them share it.
    own_version: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Allocated on first use: most tensors never take part in autograd.
    meta: Mutex<Option<Box<AutogradMeta>>>,
}

#[derive(Clone)]
pub struct Tensor(Arc<TensorImpl>);

/// A non-owning handle (retain_grad keeps one so the graph does not keep the tensor alive).
#[derive(Clone)]
pub struct WeakTensor(Weak<TensorImpl>);
impl WeakTensor {
    pub fn upgrade(&self) -> Option<Tensor> {
        self.0.upgrade().map(Tensor)
    }
    pub fn is(&self, t: &Tensor) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&t.0))
    }
}

/// How a view relates to its input, for its backward rule.
pub(crate) enum ViewKind {
    /// Only the shape changes (view, reshape, squeeze, unsqueeze).
    Reshape(&'static str),
    Permute(Vec<usize>, &'static str),
    Expand,
    /// Any other strided view.
    Strided(&'static str),
}

/// The right-hand side of a binary op.
#[derive(Clone)]
pub enum Rhs {
    Tensor(Tensor),
    Scalar(Scalar),
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={:?}, dtype={})", self.shape(), self.dtype())
    }
}

impl Tensor {
    // ----- construction -------------------------------------------------------------------

    pub fn from_parts(storage: Arc<StorageCell>, layout: Layout, dtype: DType) -> Tensor {
        Tensor(Arc::new(TensorImpl { storage, layout, dtype, requires_grad: AtomicBool::new(false), own_version: None, meta: Mutex::new(None) }))
    }

    /// Same storage and layout as `self`, sharing its version counter.
    fn alias_layout(&self, layout: Layout) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage: self.0.storage.clone(),
            layout,
            dtype: self.0.dtype,
            requires_grad: AtomicBool::new(false),
            own_version: self.0.own_version.clone(),
            meta: Mutex::new(None),
        }))
    }

    /// `.data`: same data, no history, and a version counter of its own, so writes through
    /// it do not invalidate what autograd saved.
    pub fn data_alias(&self) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage: self.0.storage.clone(),
            layout: self.0.layout.clone(),
            dtype: self.0.dtype,
            requires_grad: AtomicBool::new(false),
            own_version: Some(Arc::new(std::sync::atomic::AtomicU64::new(0))),
            meta: Mutex::new(None),
        }))
    }

    pub fn from_storage(storage: Storage, layout: Layout, dtype: DType) -> Tensor {
        Self::from_parts(Arc::new(StorageCell::new(storage)), layout, dtype)
    }

    pub fn empty(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if dtype == DType::F64 && device != Device::Cpu {
            return Err(crate::gpu::launch::float64_error());
        }
        let (layout, nbytes) = Self::new_layout(shape, dtype)?;
        Ok(Self::from_storage(Storage::alloc(device, nbytes)?, layout, dtype))
    }

    /// The contiguous layout and byte count of a new tensor, checked as torch checks them.
    fn new_layout(shape: &[usize], dtype: DType) -> Result<(Layout, usize)> {
        let strides = crate::shape::checked_contiguous_strides(shape)?;
        let nbytes = crate::shape::checked_storage_nbytes(shape, dtype.size())?;
        Ok((Layout::new(SmallVec::from_slice(shape), strides, 0), nbytes))
    }

    pub fn full(shape: &[usize], value: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        let t = Self::empty(shape, dtype, device)?;
        t.storage().fill(t.layout(), dtype, value)?;
        Ok(t)
    }

    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if device == Device::Cpu {
            let (layout, nbytes) = Self::new_layout(shape, dtype)?;
            let buf = crate::cpu::CpuBuffer::try_zeroed(nbytes).ok_or_else(|| {
                Error::runtime(format!(
                    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate {nbytes} bytes."
                ))
            })?;
            return Ok(Self::from_storage(Storage::Cpu(buf), layout, dtype));
        }
        Self::full(shape, Scalar::Int(0), dtype, device)
    }

    pub fn from_bytes(bytes: &[u8], dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let (layout, nbytes) = Self::new_layout(shape, dtype)?;
        if bytes.len() != nbytes {
            return Err(Error::runtime(format!(
                "expected {} bytes for a tensor of shape {} and dtype {}, got {}",
                nbytes,
                fmt_shape(shape),
                dtype,
                bytes.len()
            )));
        }
        if dtype == DType::Bool && bytes.iter().any(|&b| b > 1) {
            // a Rust bool other than 0/1 is undefined behaviour; any non-zero byte is true, as
            // numpy reads it
            let norm: Vec<u8> = bytes.iter().map(|&b| (b != 0) as u8).collect();
            return Ok(Self::from_storage(Storage::Cpu(crate::cpu::CpuBuffer::from_bytes(&norm)), layout, dtype));
        }
        let buf = crate::cpu::CpuBuffer::from_bytes(bytes);
        Ok(Self::from_storage(Storage::Cpu(buf), layout, dtype))
    }

    pub fn from_vec<T: Elem>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let nbytes = data.len() * std::mem::size_of::<T>();
        // SAFETY: Elem types are plain old data (bool holds only 0/1).
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, nbytes) };
        Self::from_bytes(bytes, T::DTYPE, shape)
    }

    pub fn scalar(value: Scalar, dtype: DType) -> Tensor {
        Self::full(&[], value, dtype, Device::Cpu).expect("a scalar allocation cannot fail")
    }

    // ----- accessors ----------------------------------------------------------------------

    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.layout.strides
    }
    pub fn offset(&self) -> usize {
        self.0.layout.offset
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.storage.storage.device()
    }
    pub fn storage(&self) -> &Storage {
        &self.0.storage.storage
    }
    pub fn storage_cell(&self) -> &Arc<StorageCell> {
        &self.0.storage
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn version(&self) -> u64 {
        match &self.0.own_version {
            Some(v) => v.load(Ordering::Relaxed),
            None => self.0.storage.version(),
        }
    }
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    /// Identity of this tensor (not of its storage): equal for clones of one handle.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub fn same_tensor(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn data_ptr(&self) -> usize {
        self.storage().data_ptr() + self.offset() * self.dtype().size()
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if on && !self.dtype().is_float() {
            return Err(Error::runtime("only Tensors of floating point and complex dtype can require gradients"));
        }
        if !on && !self.is_leaf() {
            return Err(Error::runtime("you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."));
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(())
    }

    // ----- autograd metadata --------------------------------------------------------------

    fn with_meta<R>(&self, f: impl FnOnce(&mut AutogradMeta) -> R) -> R {
        let mut guard = self.0.meta.lock();
        f(guard.get_or_insert_with(Default::default))
    }
    fn read_meta<R>(&self, f: impl FnOnce(&AutogradMeta) -> R, default: R) -> R {
        match self.0.meta.lock().as_deref() {
            Some(m) => f(m),
            None => default,
        }
    }
    /// Calls `f` with this tensor's grad_fn when this handle is the tensor's only owner and the
    /// tensor the node's only owner: then nothing but this handle can reach the node, so a
    /// garbage collector may count what the node holds as held by the handle (torch's rule in
    /// THPVariable_subclass_traverse). `None` when shared, or when the metadata is busy (a
    /// collector must not wait on it).
    pub fn with_sole_grad_fn<R>(&self, f: impl FnOnce(&Node) -> R) -> Option<R> {
        if Arc::strong_count(&self.0) != 1 {
            return None;
        }
        let guard = self.0.meta.try_lock()?;
        let node = guard.as_deref()?.grad_fn.as_ref()?;
        (Arc::strong_count(node) == 1).then(|| f(node))
    }

    /// Drops the grad_fn if `with_sole_grad_fn` would see it (a collector breaking a cycle
    /// through the node); reports whether it did.
    pub fn clear_sole_grad_fn(&self) -> bool {
        if Arc::strong_count(&self.0) != 1 {
            return false;
        }
        let node = match self.0.meta.try_lock() {
            Some(mut guard) => match guard.as_deref_mut() {
                Some(m) if m.grad_fn.as_ref().is_some_and(|n| Arc::strong_count(n) == 1) => m.grad_fn.take(),
                _ => None,
            },
            None => None,
        };
        // dropped outside the lock: the node's Python objects may run arbitrary code on release
        node.is_some()
    }

    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.refresh_view_history();
        self.read_meta(|m| m.grad_fn.clone(), None)
    }

    /// A view whose base was written in place since the view's history was recorded reads
    /// the base's new values, so its history becomes a view of the base's new history.
    fn refresh_view_history(&self) {
        let stale = self.read_meta(|m| m.view_version.is_some_and(|v| v != self.version()), false);
        if !stale {
            return;
        }
        let version = self.version();
        if let Some((base, rel)) = self.view_base() {
            if base.requires_grad() {
                let base_shape: Dims = SmallVec::from_slice(base.shape());
                graph::record(&[self], &[&base], GradOp::ViewOf(base_shape, rel, "AsStridedBackward0"), &[]);
            }
        }
        self.with_meta(|m| m.view_version = Some(version));
    }
    pub fn output_nr(&self) -> usize {
        self.read_meta(|m| m.output_nr, 0)
    }
    pub fn is_leaf(&self) -> bool {
        self.read_meta(|m| m.grad_fn.is_none(), true)
    }
    /// Makes `node` the history of this tensor (an op's output, or an in-place rebase).
    pub fn set_grad_fn(&self, node: Option<Arc<Node>>, output_nr: usize) {
        let on = node.is_some();
        self.with_meta(|m| {
            m.grad_fn = node;
            m.output_nr = output_nr;
        });
        if on {
            self.0.requires_grad.store(true, Ordering::Relaxed);
        }
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.read_meta(|m| m.grad.clone(), None)
    }
    pub fn set_grad(&self, g: Option<Tensor>) {
        self.with_meta(|m| m.grad = g);
    }
    pub fn retains_grad(&self) -> bool {
        self.read_meta(|m| m.retains_grad, false)
    }
    /// `retain_grad()`: a non-leaf keeps its gradient in `.grad` after backward.
    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::runtime("can't retain_grad on Tensor that has requires_grad=False"));
        }
        if let Some(f) = self.grad_fn() {
            f.retain_output(self.output_nr(), self);
            self.with_meta(|m| m.retains_grad = true);
        }
        Ok(())
    }
    /// The leaf's AccumulateGrad node, created on first use and shared while alive.
    pub fn grad_accumulator(&self) -> Arc<Node> {
        let mut guard = self.0.meta.lock();
        let m = guard.get_or_insert_with(Default::default);
        if let Some(n) = m.accumulator.upgrade() {
            return n;
        }
        let n = graph::new_accumulator(self);
        m.accumulator = Arc::downgrade(&n);
        n
    }
    pub fn add_leaf_hook(&self, h: graph::Hook) -> u64 {
        let id = graph::next_hook_id();
        self.with_meta(|m| m.hooks.push((id, h)));
        id
    }
    pub fn remove_leaf_hook(&self, id: u64) {
        self.with_meta(|m| m.hooks.retain(|(i, _)| *i != id));
    }
    pub fn leaf_hooks(&self) -> Vec<graph::Hook> {
        self.read_meta(|m| m.hooks.iter().map(|(_, h)| h.clone()).collect(), Vec::new())
    }
    pub fn downgrade(&self) -> WeakTensor {
        WeakTensor(Arc::downgrade(&self.0))
    }
    /// Same data, no history (`detach()`).
    pub fn detach(&self) -> Tensor {
        self.alias_layout(self.0.layout.clone())
    }
    /// `detach_()`: drops this tensor's history in place.
    pub fn detach_(&self) {
        self.with_meta(|m| {
            m.grad_fn = None;
            m.output_nr = 0;
        });
        self.0.requires_grad.store(false, Ordering::Relaxed);
    }
    /// Same data with `node` as history (unpacking a saved output for double backward).
    pub fn alias_with_grad_fn(&self, node: Arc<Node>, output_nr: usize) -> Tensor {
        let t = self.detach();
        t.set_grad_fn(Some(node), output_nr);
        t
    }
    pub fn view_base(&self) -> Option<(Tensor, Layout)> {
        self.read_meta(|m| m.view_base.clone(), None)
    }
    pub fn multi_output_view(&self) -> Option<(&'static str, usize)> {
        self.read_meta(|m| m.multi_output_view, None)
    }
    /// Whether in-place `detach_()` must be refused: torch refuses it on every view; rgrad
    /// knows a tensor is a view when autograd tracks its base.
    pub fn is_tracked_view(&self) -> bool {
        self.read_meta(|m| m.view_base.is_some() || m.is_view_of_leaf, false)
    }
    pub(crate) fn is_view_of_leaf(&self) -> bool {
        self.read_meta(|m| m.is_view_of_leaf, false)
    }
    /// A contiguous tensor owning its storage alone (what AccumulateGrad stores as `.grad`).
    pub fn contiguous_owned(&self) -> Result<Tensor> {
        if self.is_contiguous() && Arc::strong_count(&self.0.storage) == 1 && self.offset() == 0
            && self.numel() * self.dtype().size() == self.storage().nbytes()
        {
            return Ok(self.clone());
        }
        self.detach().copy_as(self.dtype())
    }
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, &Rhs::Tensor(other.clone()))
    }
    /// `self += other` without autograd bookkeeping (gradient accumulation).
    pub fn add_inplace_raw(&self, other: &Tensor) -> Result<()> {
        let _g = graph::GradModeGuard::new(false);
        self.binary_(BinaryOp::Add, &Rhs::Tensor(other.clone()))
    }
    /// `sum_to_size` with sizes as the user gave them: a negative one is not expandable.
    pub fn sum_to_size_signed(&self, shape: &[i64]) -> Result<Tensor> {
        match shape.iter().map(|&n| usize::try_from(n)).collect::<std::result::Result<Vec<usize>, _>>() {
            Ok(s) => self.sum_to_size(&s),
            Err(_) => Err(Error::runtime(format!("size {{{}}} is not expandable to size {{{}}}.", fmt_shape(shape), fmt_shape(self.shape())))),
        }
    }
    /// Sums broadcast dims away so the result has `shape` (torch's sum_to_size).
    pub fn sum_to_size(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let not_expandable = || Error::runtime(format!("size {{{}}} is not expandable to size {{{}}}.", fmt_shape(shape), fmt_shape(self.shape())));
        let lead = self.ndim().checked_sub(shape.len()).ok_or_else(not_expandable)?;
        if shape.iter().zip(&self.shape()[lead..]).any(|(&n, &m)| n != m && n != 1) {
            return Err(not_expandable());
        }
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &n) in shape.iter().enumerate() {
            if n == 1 && self.shape()[lead + i] != 1 {
                dims.push((lead + i) as isize);
            }
        }
        let r = if dims.is_empty() { self.clone() } else { self.sum(Some(&dims), true, None)? };
        let target: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        r.reshape(&target)
    }
    /// 0..n as int64 (positions for view and index backward rules).
    pub fn arange_i64(n: usize) -> Result<Tensor> {
        Tensor::from_vec((0..n as i64).collect::<Vec<i64>>(), &[n])
    }
    /// `self.scatter_add(dim, index, src)` out of place.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        graph::recorded(&[self, src], &[graph::Save::Extra(index)], || GradOp::ScatterAdd(dim), || {
            let out = self.detach().deep_clone()?;
            out.scatter_(dim, index, &Rhs::Tensor(src.detach()), crate::cpu::gather::ScatterReduce::Sum)?;
            Ok(out)
        })
    }
    /// `self.scatter(dim, index, value)` out of place.
    pub fn scatter(&self, dim: isize, index: &Tensor, value: &Rhs) -> Result<Tensor> {
        let mut inputs = vec![self];
        if let Rhs::Tensor(v) = value {
            inputs.push(v);
        }
        graph::recorded(&inputs, &[graph::Save::Extra(index)], || GradOp::Scatter(dim), || {
            let out = self.detach().deep_clone()?;
            let v = match value {
                Rhs::Tensor(v) => Rhs::Tensor(v.detach()),
                Rhs::Scalar(s) => Rhs::Scalar(*s),
            };
            out.scatter_(dim, index, &v, crate::cpu::gather::ScatterReduce::Replace)?;
            Ok(out)
        })
    }
    fn priority(&self) -> Priority {
        if self.ndim() == 0 {
            Priority::ZeroDim
        } else {
            Priority::Dim
        }
    }

    // ----- views --------------------------------------------------------------------------

    /// A view over the same storage with another layout, outside autograd (kernels' views).
    pub fn with_layout(&self, layout: Layout) -> Tensor {
        self.alias_layout(layout)
    }

    /// A view made by `f`, recorded for autograd.
    pub(crate) fn view_op(&self, kind: ViewKind, f: impl Fn(&Layout) -> Result<Layout>) -> Result<Tensor> {
        let out = self.with_layout(f(self.layout())?);
        if graph::needs_grad(&[self]) {
            let in_shape: Dims = SmallVec::from_slice(self.shape());
            let op = match kind {
                ViewKind::Reshape(name) => GradOp::Reshape(in_shape, name),
                ViewKind::Permute(inv, name) => GradOp::Permute(inv, name),
                ViewKind::Expand => GradOp::Expand(in_shape),
                ViewKind::Strided(name) => GradOp::ViewOf(in_shape.clone(), f(&Layout::contiguous(self.shape()))?, name),
            };
            graph::record(&[&out], &[self], op, &[]);
            if self.is_leaf() || self.is_view_of_leaf() {
                out.with_meta(|m| m.is_view_of_leaf = true);
            }
        }
        // Remember the base so in-place writes through the view can update its history.
        let base = self.view_base().map(|(b, _)| b).unwrap_or_else(|| self.clone());
        if base.is_contiguous() && (base.requires_grad() || graph::is_grad_enabled()) {
            let off = out.offset().checked_sub(base.offset());
            if let Some(off) = off {
                let rel = Layout::new(SmallVec::from_slice(out.shape()), SmallVec::from_slice(out.strides()), off);
                let tracked = base.requires_grad();
                let version = out.version();
                out.with_meta(|m| {
                    m.view_base = Some((base, rel));
                    m.view_version = tracked.then_some(version);
                });
            }
        }
        Ok(out)
    }

    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        self.view_op(ViewKind::Reshape("ViewBackward0"), |l| l.view(shape))
    }

    /// A view when the strides allow one, else a contiguous copy.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        match self.layout().view(shape) {
            Ok(_) => self.view(shape),
            // torch copies and then views the copy with _unsafe_view
            Err(Error::NotViewable) => self.contiguous()?.view_op(ViewKind::Reshape("UnsafeViewBackward0"), |l| l.view(shape)),
            Err(e) => Err(e),
        }
    }

    pub fn permute(&self, dims: &[isize]) -> Result<Tensor> {
        let n = self.ndim();
        let mut inverse = vec![0usize; n];
        if dims.len() == n {
            for (i, &d) in dims.iter().enumerate() {
                if let Ok(d) = wrap_dim(d, n) {
                    inverse[d] = i;
                }
            }
        }
        self.view_op(ViewKind::Permute(inverse, "PermuteBackward0"), |l| l.permute(dims))
    }
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let n = self.ndim();
        let mut inverse: Vec<usize> = (0..n).collect();
        if let (Ok(a), Ok(b)) = (wrap_dim(d0, n.max(1)), wrap_dim(d1, n.max(1))) {
            if a < n && b < n {
                inverse.swap(a, b);
            }
        }
        self.view_op(ViewKind::Permute(inverse, "TransposeBackward0"), |l| l.transpose(d0, d1))
    }
    /// `t()`: transpose of a tensor with at most 2 dims.
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() > 2 {
            return Err(Error::runtime(format!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.ndim()
            )));
        }
        if self.ndim() < 2 {
            return self.view_op(ViewKind::Reshape("TBackward0"), |l| Ok(l.clone()));
        }
        self.view_op(ViewKind::Permute(vec![1, 0], "TBackward0"), |l| l.transpose(0, 1))
    }
    /// An alias with its own autograd identity (`view_as(self)`, `t()` of a vector).
    pub fn clone_view(&self) -> Tensor {
        self.view_op(ViewKind::Reshape("AliasBackward0"), |l| Ok(l.clone())).expect("an alias cannot fail")
    }
    pub fn narrow(&self, dim: isize, start: i64, length: i64) -> Result<Tensor> {
        self.view_op(ViewKind::Strided("SliceBackward0"), |l| l.narrow(dim, start, length))
    }
    pub fn select(&self, dim: isize, index: i64) -> Result<Tensor> {
        self.view_op(ViewKind::Strided("SelectBackward0"), |l| l.select(dim, index))
    }
    pub fn slice(&self, dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Result<Tensor> {
        self.view_op(ViewKind::Strided("SliceBackward0"), |l| l.slice(dim, start, stop, step))
    }
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        self.view_op(ViewKind::Reshape("UnsqueezeBackward0"), |l| l.unsqueeze(dim))
    }
    pub fn squeeze(&self, dims: Option<&[isize]>) -> Result<Tensor> {
        let name = if dims.is_none() { "SqueezeBackward0" } else { "SqueezeBackward1" };
        self.view_op(ViewKind::Reshape(name), |l| l.squeeze(dims))
    }
    pub fn expand(&self, sizes: &[i64]) -> Result<Tensor> {
        self.view_op(ViewKind::Expand, |l| l.expand(sizes))
    }
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        self.view_op(ViewKind::Expand, |l| l.broadcast_to(shape))
    }

    /// as_strided(size, stride, storage_offset); bounds-checked against the storage.
    pub fn as_strided(&self, size: &[usize], stride: &[isize], offset: Option<usize>) -> Result<Tensor> {
        if size.len() != stride.len() {
            return Err(Error::runtime(format!(
                "mismatch in length of strides and shape"
            )));
        }
        if stride.iter().any(|&s| s < 0) {
            return Err(Error::runtime("as_strided: Negative strides are not supported at the moment, got strides: ".to_string() + &fmt_shape(stride)));
        }
        let l = Layout::new(SmallVec::from_slice(size), SmallVec::from_slice(stride), offset.unwrap_or(self.offset()));
        let itemsize = self.dtype().size();
        // torch's computeStorageNbytes, every step checked: (offset + 1 + sum((n-1)*stride)) *
        // itemsize, nothing for an empty view
        let needed = if size.contains(&0) {
            Some(0u64)
        } else {
            size.iter().zip(stride).try_fold(l.offset as u64 + 1, |acc, (&n, &st)| {
                (st as u64).checked_mul(n as u64 - 1).and_then(|e| acc.checked_add(e))
            })
            .and_then(|n| n.checked_mul(itemsize as u64))
            .filter(|&n| n <= i64::MAX as u64)
        };
        let Some(needed) = needed else {
            return Err(Error::runtime(if size.is_empty() {
                "Storage size calculation overflowed with sizes=[]".to_string()
            } else {
                format!("Storage size calculation overflowed with sizes={} and strides={}", fmt_shape(size), fmt_shape(stride))
            }));
        };
        crate::shape::checked_numel(size)?;
        let avail = self.storage().nbytes();
        if needed > avail as u64 {
            return Err(Error::runtime(format!(
                "setStorage: sizes {}, strides {}, storage offset {}, and itemsize {} requiring a storage size of {} are out of bounds for storage of size {}",
                fmt_shape(size),
                fmt_shape(stride),
                l.offset,
                itemsize,
                needed,
                avail / itemsize * itemsize
            )));
        }
        // torch's as_strided backward works on the storage; relative to a contiguous input it
        // is the same view shifted by the input's offset.
        let shift = self.offset();
        self.view_op(ViewKind::Strided("AsStridedBackward0"), move |base| {
            let mut r = l.clone();
            r.offset = (r.offset + base.offset)
                .checked_sub(shift)
                .ok_or_else(|| Error::runtime("as_strided: a view starting before its input's offset is not differentiable"))?;
            Ok(r)
        })
    }

    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        let (s, e) = (wrap_dim(start, self.ndim())?, wrap_dim(end, self.ndim())?);
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        if s > e {
            return Err(Error::runtime("flatten() has invalid args: start_dim cannot come after end_dim"));
        }
        if s == e {
            return Ok(self.clone_view());
        }
        let mut shape: Vec<i64> = self.shape()[..s].iter().map(|&x| x as i64).collect();
        // (unchecked as in torch: only an empty tensor's sizes can overflow here)
        shape.push(numel(&self.shape()[s..=e]) as i64);
        shape.extend(self.shape()[e + 1..].iter().map(|&x| x as i64));
        self.reshape(&shape)
    }

    pub fn unflatten(&self, dim: isize, sizes: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            return Err(Error::runtime(format!("unflatten got an unexpected error:\nDimension specified as {dim} but tensor has no dimensions")));
        }
        let d = wrap_dim(dim, self.ndim())?;
        if sizes.is_empty() {
            return Err(Error::runtime("unflatten: sizes must be non-empty"));
        }
        let inferred = crate::shape::infer_size(sizes, self.shape()[d]).map_err(|_| {
            Error::runtime(format!(
                "unflatten: Provided sizes {} don't multiply up to the size of dim {} ({}) in the input tensor",
                fmt_shape(sizes),
                dim,
                self.shape()[d]
            ))
        })?;
        let mut shape: Vec<i64> = self.shape()[..d].iter().map(|&x| x as i64).collect();
        shape.extend(inferred.iter().map(|&x| x as i64));
        shape.extend(self.shape()[d + 1..].iter().map(|&x| x as i64));
        self.view(&shape).or_else(|_| self.reshape(&shape))
    }

    pub fn movedim(&self, src: &[isize], dst: &[isize]) -> Result<Tensor> {
        let n = self.ndim();
        if src.len() != dst.len() {
            return Err(Error::runtime(format!(
                "movedim: Invalid source or destination dims: source ({} dims) should contain the same number of dims as destination ({} dims)",
                fmt_shape(src),
                fmt_shape(dst)
            )));
        }
        let s: Vec<usize> = src.iter().map(|&d| wrap_dim(d, n)).collect::<Result<_>>()?;
        let d: Vec<usize> = dst.iter().map(|&d| wrap_dim(d, n)).collect::<Result<_>>()?;
        if n == 0 {
            // a 0-d tensor has only "dim 0" (as -1 or 0), which stays where it is
            return Ok(self.clone());
        }
        let mut order: Vec<isize> = vec![-1; n];
        for (&si, &di) in s.iter().zip(&d) {
            if order[di] != -1 {
                return Err(Error::runtime("movedim: repeated dim in `destination`"));
            }
            order[di] = si as isize;
        }
        let mut rest = (0..n).filter(|i| !s.contains(i));
        for slot in order.iter_mut() {
            if *slot == -1 {
                *slot = rest.next().unwrap() as isize;
            }
        }
        self.permute(&order)
    }

    /// Splits `dim` into pieces of the given sizes (torch.split with a list).
    pub fn split_with_sizes(&self, sizes: &[usize], dim: isize) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            return Err(Error::runtime(format!(
                "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes={}",
                self.shape()[d],
                dim,
                fmt_shape(sizes)
            )));
        }
        self.split_views(sizes, d, ("SplitWithSizesBackward0", "SplitWithSizes"))
    }

    /// Slices of `dim` with the given sizes, named after the torch op that made them.
    fn split_views(&self, sizes: &[usize], d: usize, name: (&'static str, &'static str)) -> Result<Vec<Tensor>> {
        let mut start = 0i64;
        let mut out = Vec::with_capacity(sizes.len());
        for (i, &s) in sizes.iter().enumerate() {
            let v = self.view_op(ViewKind::Strided(name.0), |l| l.narrow(d as isize, start, s as i64))?;
            v.mark_multi_output_view(name.1, i);
            out.push(v);
            start += s as i64;
        }
        Ok(out)
    }

    fn mark_multi_output_view(&self, op: &'static str, i: usize) {
        if self.requires_grad() {
            self.with_meta(|m| m.multi_output_view = Some((op, i)));
        }
    }

    /// The diagonal of the (dim1, dim2) planes as a view, appended as the last dim.
    pub fn diagonal(&self, offset: i64, dim1: isize, dim2: isize) -> Result<Tensor> {
        let n = self.ndim();
        let (d1, d2) = (wrap_dim(dim1, n)?, wrap_dim(dim2, n)?);
        if d1 == d2 {
            return Err(Error::runtime(format!("diagonal dimensions cannot be identical {dim1}, {dim2}")));
        }
        self.view_op(ViewKind::Strided("DiagonalBackward0"), |l| {
            let (n1, n2) = (l.shape[d1] as i64, l.shape[d2] as i64);
            let (s1, s2) = (l.strides[d1], l.strides[d2]);
            // saturating: a huge offset leaves an empty diagonal, whose start is never computed
            let len = if offset >= 0 { n1.min(n2.saturating_sub(offset)) } else { n2.min(n1.saturating_add(offset)) }.max(0);
            let start = || if offset >= 0 { offset as isize * s2 } else { -offset as isize * s1 };
            let mut shape: Dims = SmallVec::new();
            let mut strides: SmallVec<[isize; 4]> = SmallVec::new();
            for i in (0..n).filter(|&i| i != d1 && i != d2) {
                shape.push(l.shape[i]);
                strides.push(l.strides[i]);
            }
            shape.push(len as usize);
            crate::shape::checked_numel(&shape)?;
            // (a sum past the range can only belong to a diagonal of at most one element)
            strides.push(s1.saturating_add(s2));
            let off = if len > 0 { (l.offset as isize + start()) as usize } else { l.offset };
            Ok(Layout::new(shape, strides.into_iter().collect(), off))
        })
    }

    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        if size == 0 && n != 0 {
            return Err(Error::runtime(format!(
                "split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )));
        }
        let mut sizes = Vec::new();
        let mut left = n;
        while left > 0 {
            sizes.push(size.min(left));
            left -= size.min(left);
        }
        if sizes.is_empty() {
            sizes.push(0);
        }
        self.split_views(&sizes, d, ("SplitBackward0", "Split"))
    }

    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::runtime("chunk expects `chunks` to be greater than 0, got: 0"));
        }
        let d = wrap_dim(dim, self.ndim())?;
        let size = self.shape()[d].div_ceil(chunks);
        self.split(size.max(if self.shape()[d] == 0 { 0 } else { 1 }), dim)
    }

    pub fn unbind(&self, dim: isize) -> Result<Vec<Tensor>> {
        let d = wrap_dim(dim, self.ndim())?;
        (0..self.shape()[d])
            .map(|i| {
                let v = self.view_op(ViewKind::Strided("UnbindBackward0"), |l| l.select(d as isize, i as i64))?;
                v.mark_multi_output_view("Unbind", i);
                Ok(v)
            })
            .collect()
    }

    // ----- copies and casts ---------------------------------------------------------------

    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.deep_clone()
    }

    /// A fresh contiguous copy in `dtype`.
    pub fn copy_as(&self, dtype: DType) -> Result<Tensor> {
        let out = Tensor::empty(self.shape(), dtype, self.device())?;
        self.storage().copy_cast(self.layout(), self.dtype(), out.storage(), out.layout(), dtype)?;
        Ok(out)
    }

    pub fn deep_clone(&self) -> Result<Tensor> {
        graph::recorded(&[self], &[], || GradOp::Clone, || self.copy_as(self.dtype()))
    }

    /// `to(dtype)`: self when the dtype already matches, as torch.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let from = self.dtype();
        graph::recorded(&[self], &[], || GradOp::ToDtype(from), || self.copy_as(dtype))
    }

    /// `to(device)`: self when already there; the gradient flows back to the source device.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let from = self.device();
        graph::recorded(&[self], &[], || GradOp::ToDevice(from), || self.copy_to_device(device))
    }

    /// A contiguous copy on `device`. int64 goes to the GPU only when every value fits in the
    /// 32 bits its kernels compute in.
    fn copy_to_device(&self, device: Device) -> Result<Tensor> {
        if device != Device::Cpu && self.dtype() == DType::F64 {
            return Err(crate::gpu::launch::float64_error());
        }
        let bytes = self.to_bytes()?;
        if device != Device::Cpu && self.dtype() == DType::I64 {
            for c in bytes.chunks_exact(8) {
                crate::gpu::launch::check_int64(i64::from_le_bytes(c.try_into().expect("8-byte chunk")))?;
            }
        }
        let storage = Storage::from_host_bytes(device, &bytes)?;
        Ok(Self::from_storage(storage, Layout::contiguous(self.shape()), self.dtype()))
    }

    /// `copy_(src)`: broadcasts and casts src into self.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        if graph::needs_grad(&[self, src]) {
            graph::check_inplace(self, self.is_view_of_leaf())?;
            src.broadcast_to(self.shape()).map_err(|_| Error::BroadcastMismatch {
                a: self.shape().last().copied().unwrap_or(1),
                b: src.shape().last().copied().unwrap_or(1),
                dim: self.ndim().saturating_sub(1),
            })?;
            self.check_writable()?;
            return self.rebase(&[src], GradOp::Copy, &[], |_| {
                let r = Tensor::empty(self.shape(), self.dtype(), self.device())?;
                r.copy_raw(&src.detach())?;
                Ok(r)
            });
        }
        self.copy_raw(src)
    }

    /// An in-place op under autograd: `f(old)` computes the new value out of place (old is a
    /// copy of self carrying self's history), the value is written into self, and the new
    /// node becomes self's history. Inputs of the node are (old self, others...).
    pub fn rebase(&self, others: &[&Tensor], op: GradOp, save: &[graph::Save], f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
        let view_base = self.view_base();
        let old = self.detach().copy_as(self.dtype())?;
        if let Some(gf) = self.grad_fn() {
            old.set_grad_fn(Some(gf), self.output_nr());
        } else if self.requires_grad() {
            old.0.requires_grad.store(true, Ordering::Relaxed);
        }
        let value = {
            let _off = graph::GradModeGuard::new(false);
            f(&old)?
        };
        if value.shape() != self.shape() {
            return Err(Error::runtime(format!(
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(self.shape()),
                fmt_shape(value.shape())
            )));
        }
        if !DType::can_cast(value.dtype(), self.dtype()) {
            return Err(Error::CannotCast { from: value.dtype().torch_kernel_name(), to: self.dtype().torch_kernel_name() });
        }
        let version_before = self.version();
        self.copy_raw(&value)?;
        let mut inputs: Vec<&Tensor> = vec![&old];
        inputs.extend_from_slice(others);
        // Rules that read "self" read the old value (input 0).
        let to_save: Vec<graph::ToSave> = save
            .iter()
            .map(|s| match s {
                graph::Save::Input(i) => (inputs[*i], false),
                graph::Save::Output => (&value, true),
                graph::Save::Extra(t) => (*t, false),
            })
            .collect();
        let node = graph::record(&[&value], &inputs, op, &to_save);
        // An input that aliases self (`y.mul_(y)`) was saved as it was before the write, so
        // backward must see it changed, as torch reports.
        for (k, (t, is_out)) in to_save.iter().enumerate() {
            if !*is_out && !std::ptr::eq(*t, &old) && t.same_storage(self) {
                node.set_saved_version(k, version_before);
            }
        }
        match view_base {
            Some((base, rel)) => {
                // The write went into the base: its history becomes (old base, new value), and
                // the view reads its part of the new base.
                let base_hist = base.detach();
                if let Some(gf) = base.grad_fn() {
                    base_hist.set_grad_fn(Some(gf), base.output_nr());
                } else if base.requires_grad() {
                    base_hist.0.requires_grad.store(true, Ordering::Relaxed);
                    base_hist.with_meta(|m| m.accumulator = Arc::downgrade(&base.grad_accumulator()));
                }
                graph::record(&[&base], &[&base_hist, &value], GradOp::CopySlices(rel.clone()), &[]);
                let base_shape: Dims = SmallVec::from_slice(base.shape());
                graph::record(&[self], &[&base], GradOp::ViewOf(base_shape, rel, "AsStridedBackward0"), &[]);
                let version = self.version();
                self.with_meta(|m| m.view_version = Some(version));
            }
            None => self.set_grad_fn(Some(node), 0),
        }
        Ok(())
    }

    fn copy_raw(&self, src: &Tensor) -> Result<()> {
        let src_b = src.broadcast_to(self.shape()).map_err(|_| {
            Error::runtime(format!(
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                self.shape().last().copied().unwrap_or(1),
                src.shape().last().copied().unwrap_or(1),
                self.ndim().saturating_sub(1)
            ))
        })?;
        self.check_writable()?;
        let src_b = if self.overlaps(&src_b) && self.layout() != src_b.layout() { src_b.deep_clone()? } else { src_b };
        src_b.storage().copy_cast(src_b.layout(), src_b.dtype(), self.storage(), self.layout(), self.dtype())?;
        self.bump_version();
        Ok(())
    }

    pub fn fill_(&self, value: Scalar) -> Result<()> {
        self.check_writable()?;
        if graph::is_grad_enabled() && self.requires_grad() {
            graph::check_inplace(self, self.is_view_of_leaf())?;
            // The old value no longer matters: its gradient is zero (torch's FillBackward).
            let name = if matches!(value, Scalar::Int(0) | Scalar::Bool(false)) || matches!(value, Scalar::Float(f) if f == 0.0) { "ZeroBackward0" } else { "FillBackward2" };
            return self.rebase(&[], GradOp::Fill(name), &[], |old| {
                let r = Tensor::empty(old.shape(), old.dtype(), old.device())?;
                r.storage().fill(r.layout(), r.dtype(), value)?;
                Ok(r)
            });
        }
        self.storage().fill(self.layout(), self.dtype(), value)?;
        self.bump_version();
        Ok(())
    }

    pub fn bump_version(&self) {
        if let Some(v) = &self.0.own_version {
            v.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.0.storage.bump_version();
    }

    /// torch refuses writes through a tensor where several elements share one address.
    pub fn check_writable(&self) -> Result<()> {
        let l = self.layout();
        if l.shape.iter().zip(l.strides.iter()).any(|(&s, &st)| s > 1 && st == 0) {
            return Err(Error::runtime(
                "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.",
            ));
        }
        Ok(())
    }

    /// Whether two tensors may touch the same memory.
    pub fn overlaps(&self, other: &Tensor) -> bool {
        if !self.same_storage(other) || self.numel() == 0 || other.numel() == 0 {
            return false;
        }
        let (a0, a1) = self.layout().storage_span();
        let (b0, b1) = other.layout().storage_span();
        let es = self.dtype().size();
        let eo = other.dtype().size();
        a0 * es < b1 * eo && b0 * eo < a1 * es
    }

    fn check_no_partial_overlap(&self, input: &Tensor) -> Result<()> {
        if self.overlaps(input) && !(self.layout() == input.layout() && self.dtype() == input.dtype()) {
            return Err(Error::runtime(
                "unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location. Please clone() the tensor before performing the operation.",
            ));
        }
        Ok(())
    }

    // ----- elementwise ops ----------------------------------------------------------------

    /// The dtype torch computes `self op rhs` in.
    pub fn result_dtype(&self, rhs: &Rhs) -> DType {
        let other = match rhs {
            Rhs::Tensor(t) => (t.dtype(), t.priority()),
            Rhs::Scalar(s) => (s.natural_dtype(DType::F64), Priority::Wrapped),
        };
        result_type(&[(self.dtype(), self.priority()), other], default_float())
    }

    fn compute_dtype(op: BinaryOp, promoted: DType) -> DType {
        match op {
            BinaryOp::Div | BinaryOp::Atan2 if !promoted.is_float() => default_float(),
            _ => promoted,
        }
    }

    /// torch refuses `-` on bool tensors (either side).
    fn check_bool_sub(op: BinaryOp, a: DType, b: Option<DType>) -> Result<()> {
        if op != BinaryOp::Sub || (a != DType::Bool && b != Some(DType::Bool)) {
            return Ok(());
        }
        let msg = if a == DType::Bool && b == Some(DType::Bool) {
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
        } else {
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        };
        Err(Error::Msg { kind: crate::error::ErrorKind::NotImplemented, msg: msg.into() })
    }

    fn rhs_tensor_dtype(rhs: &Rhs) -> Option<DType> {
        match rhs {
            Rhs::Tensor(t) => Some(t.dtype()),
            Rhs::Scalar(Scalar::Bool(_)) => Some(DType::Bool),
            Rhs::Scalar(_) => None,
        }
    }

    /// An integer division by zero raises (torch's ZeroDivisionError), unless nothing is divided.
    fn check_int_division(op: BinaryOp, dtype: DType, rhs: &Rhs, out_numel: usize) -> Result<()> {
        if out_numel == 0 || dtype.is_float() || !matches!(op, BinaryOp::FloorDiv | BinaryOp::TruncDiv | BinaryOp::Remainder | BinaryOp::Fmod) {
            return Ok(());
        }
        let zero = match rhs {
            // the divisor is wrapped to the tensor's width first: uint8 // 256 divides by 0
            Rhs::Scalar(s) => {
                let v = s.to_i64();
                match dtype {
                    DType::U8 => v as u8 == 0,
                    DType::I8 => v as i8 == 0,
                    DType::I16 => v as i16 == 0,
                    DType::I32 => v as i32 == 0,
                    _ => v == 0,
                }
            }
            Rhs::Tensor(t) => t.any_zero()?,
        };
        if zero {
            return Err(Error::runtime("ZeroDivisionError"));
        }
        Ok(())
    }

    fn any_zero(&self) -> Result<bool> {
        let b = self.compare(CmpOp::Eq, &Rhs::Scalar(Scalar::Int(0)))?;
        Ok(b.to_bytes()?.iter().any(|&x| x != 0))
    }

    /// What a binary op's rule reads: inputs (self, rhs) and, for pow, the output.
    fn binary_saves(op: BinaryOp, tensor_rhs: bool) -> &'static [graph::Save<'static>] {
        use graph::Save::*;
        match (op, tensor_rhs) {
            (BinaryOp::Add | BinaryOp::Sub, _) => &[],
            (BinaryOp::Pow, true) => &[Input(0), Input(1), Output],
            (_, true) => &[Input(0), Input(1)],
            (_, false) => &[Input(0)],
        }
    }

    /// `self op rhs` into a new tensor, with broadcasting and torch's promotion.
    pub fn binary(&self, op: BinaryOp, rhs: &Rhs) -> Result<Tensor> {
        match rhs {
            Rhs::Tensor(b) => graph::recorded(&[self, b], Self::binary_saves(op, true), || GradOp::Binary(op), || self.binary_raw(op, rhs)),
            Rhs::Scalar(s) => graph::recorded(&[self], Self::binary_saves(op, false), || GradOp::Scalar(op, *s), || self.binary_raw(op, rhs)),
        }
    }

    /// torch's refusal of ops on dtypes it has no kernel for: `"fmod_cpu" not implemented for
    /// 'Bool'`.
    /// torch refuses an integer tensor to a negative Python-int power, or any tensor to a
    /// Python-number power its dtype cannot hold (a tensor exponent wraps instead).
    fn check_scalar_power(op: BinaryOp, dtype: DType, rhs: &Rhs) -> Result<()> {
        if let (BinaryOp::Pow, Rhs::Scalar(Scalar::Int(e))) = (op, rhs) {
            if *e < 0 && !dtype.is_float() {
                return Err(Error::runtime("Integers to negative integer powers are not allowed."));
            }
            // the exponent is converted to the base's integer type first, without wrapping
            if let Some((lo, hi)) = dtype.int_range() {
                if *e < lo || *e > hi {
                    return Err(Error::runtime(format!("value cannot be converted to type {} without overflow", dtype.c10_name())));
                }
            }
        }
        // and to a half-precision base's type, where a finite exponent past its range overflows
        if let (BinaryOp::Pow, Rhs::Scalar(e @ (Scalar::Int(_) | Scalar::Float(_)))) = (op, rhs) {
            let max = match dtype {
                DType::F16 => 65504.0,
                DType::BF16 => 3.3895313892515355e38,
                _ => f64::INFINITY,
            };
            let e = e.to_f64();
            if e.is_finite() && e.abs() > max {
                return Err(Error::runtime(format!("value cannot be converted to type {} without overflow", dtype.c10_name())));
            }
        }
        Ok(())
    }

    fn binary_unsupported(op: BinaryOp, dtype: DType, tensor_rhs: bool) -> Result<()> {
        use BinaryOp::*;
        let kernel = match (op, dtype) {
            (Pow, DType::Bool) if tensor_rhs => "pow",
            (Fmod, DType::Bool) => "fmod_cpu",
            (Remainder, DType::Bool) => "remainder_cpu",
            (FloorDiv, DType::Bool) => "div_floor_cpu",
            (BitAnd, d) if d.is_float() => "bitwise_and_cpu",
            (BitOr, d) if d.is_float() => "bitwise_or_cpu",
            (BitXor, d) if d.is_float() => "bitwise_xor_cpu",
            (Shl, d) if d.is_float() => "lshift_cpu",
            (Shr, d) if d.is_float() => "rshift_cpu",
            _ => return Ok(()),
        };
        Err(Self::not_implemented_for(kernel, dtype))
    }

    fn unary_unsupported(op: UnaryOp, dtype: DType) -> Result<()> {
        use UnaryOp::*;
        let kernel = match (op, dtype) {
            (Relu, DType::Bool) => {
                return Err(Error::Msg { kind: crate::error::ErrorKind::NotImplemented, msg: "Boolean inputs not supported for relu".into() })
            }
            (Neg, DType::Bool) => {
                return Err(Error::Msg {
                    kind: crate::error::ErrorKind::NotImplemented,
                    msg: "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
                })
            }
            (Abs, DType::Bool) => "abs_cpu",
            (Floor, DType::Bool) => "floor_vml_cpu",
            (Round, DType::Bool) => "round_vml_cpu",
            (Ceil, DType::Bool) => "ceil_vml_cpu",
            (Trunc, DType::Bool) => "trunc_vml_cpu",
            (Frac, d) if !d.is_float() => "frac_cpu",
            (BitNot, d) if d.is_float() => "bitwise_not_cpu",
            _ => return Ok(()),
        };
        Err(Self::not_implemented_for(kernel, dtype))
    }

    fn not_implemented_for(kernel: &str, dtype: DType) -> Error {
        Error::Msg {
            kind: crate::error::ErrorKind::NotImplemented,
            msg: format!("\"{kernel}\" not implemented for '{}'", dtype.torch_kernel_name()),
        }
    }

    fn binary_raw(&self, op: BinaryOp, rhs: &Rhs) -> Result<Tensor> {
        let dtype = Self::compute_dtype(op, self.result_dtype(rhs));
        // torch's order: the op's own argument checks, then shapes, then the kernel's dtype
        Self::check_bool_sub(op, self.dtype(), Self::rhs_tensor_dtype(rhs))?;
        Self::check_scalar_power(op, dtype, rhs)?;
        let numel = match rhs {
            Rhs::Tensor(b) => {
                self.check_same_device(b)?;
                broadcast_shape(self.shape(), b.shape())?.iter().product()
            }
            Rhs::Scalar(_) => self.numel(),
        };
        Self::binary_unsupported(op, dtype, matches!(rhs, Rhs::Tensor(_)))?;
        Self::check_int_division(op, dtype, rhs, numel)?;
        self.elementwise2(rhs, dtype, dtype, |a, la, b, out, lo| a.binary(op, la, b, out, lo, dtype))
    }

    /// `scalar op self` (reverse operand order, e.g. `2 - t`).
    pub fn binary_reversed(&self, op: BinaryOp, lhs: Scalar) -> Result<Tensor> {
        use graph::Save::*;
        graph::recorded(&[self], &[Input(0), Output], || GradOp::Reversed(op, lhs), || self.binary_reversed_raw(op, lhs))
    }

    fn binary_reversed_raw(&self, op: BinaryOp, lhs: Scalar) -> Result<Tensor> {
        let dtype = Self::compute_dtype(op, self.result_dtype(&Rhs::Scalar(lhs)));
        Self::binary_unsupported(op, dtype, true)?;
        Self::check_bool_sub(op, self.dtype(), Self::rhs_tensor_dtype(&Rhs::Scalar(lhs)))?;
        Self::check_int_division(op, dtype, &Rhs::Tensor(self.clone()), self.numel())?;
        let l = Tensor::scalar(lhs, dtype);
        let b = self.to_dtype(dtype)?;
        let la = l.layout().broadcast_to(self.shape())?;
        let out = Tensor::empty(self.shape(), dtype, self.device())?;
        l.storage().binary(op, &la, Operand::Tensor(b.storage(), b.layout()), out.storage(), out.layout(), dtype)?;
        Ok(out)
    }

    /// In-place `self op= rhs`. Checks everything before writing, so a failure leaves self
    /// unchanged.
    pub fn binary_(&self, op: BinaryOp, rhs: &Rhs) -> Result<()> {
        let others: Vec<&Tensor> = match rhs {
            Rhs::Tensor(b) => vec![b],
            Rhs::Scalar(_) => vec![],
        };
        let mut all = vec![self];
        all.extend_from_slice(&others);
        if graph::needs_grad(&all) {
            graph::check_inplace(self, self.is_view_of_leaf())?;
            self.check_writable()?;
            let gop = match rhs {
                Rhs::Tensor(_) => GradOp::Binary(op),
                Rhs::Scalar(s) => GradOp::Scalar(op, *s),
            };
            let saves = Self::binary_saves(op, matches!(rhs, Rhs::Tensor(_)));
            return self.rebase(&others, gop, saves, |old| old.binary_raw(op, rhs));
        }
        self.binary_raw_(op, rhs)
    }

    fn binary_raw_(&self, op: BinaryOp, rhs: &Rhs) -> Result<()> {
        let promoted = self.result_dtype(rhs);
        let dtype = Self::compute_dtype(op, promoted);
        // torch's order: the op's own argument checks, then shapes, the cast, the kernel's dtype
        Self::check_bool_sub(op, self.dtype(), Self::rhs_tensor_dtype(rhs))?;
        Self::check_scalar_power(op, dtype, rhs)?;
        if let Rhs::Tensor(b) = rhs {
            self.check_same_device(b)?;
            let shape = broadcast_shape(self.shape(), b.shape())?;
            if shape.as_slice() != self.shape() {
                return Err(Error::runtime(format!(
                    "output with shape {} doesn't match the broadcast shape {}",
                    fmt_shape(self.shape()),
                    fmt_shape(&shape)
                )));
            }
            self.check_no_partial_overlap(b)?;
        }
        if !DType::can_cast(dtype, self.dtype()) {
            return Err(Error::CannotCast { from: dtype.torch_kernel_name(), to: self.dtype().torch_kernel_name() });
        }
        Self::binary_unsupported(op, dtype, matches!(rhs, Rhs::Tensor(_)))?;
        self.check_writable()?;
        Self::check_int_division(op, dtype, rhs, self.numel())?;
        if dtype == self.dtype() {
            match rhs {
                Rhs::Scalar(s) => {
                    self.storage().binary(op, self.layout(), Operand::Scalar(*s), self.storage(), self.layout(), dtype)?
                }
                Rhs::Tensor(b) => {
                    let b = b.to_dtype(dtype)?;
                    let lb = b.layout().broadcast_to(self.shape())?;
                    self.storage().binary(op, self.layout(), Operand::Tensor(b.storage(), &lb), self.storage(), self.layout(), dtype)?
                }
            }
            self.bump_version();
            Ok(())
        } else {
            // Compute in the promoted type, then cast back (e.g. half += float).
            let r = self.binary(op, rhs)?;
            self.copy_(&r)
        }
    }

    pub fn compare(&self, op: CmpOp, rhs: &Rhs) -> Result<Tensor> {
        let dtype = self.result_dtype(rhs);
        self.elementwise2(rhs, dtype, DType::Bool, |a, la, b, out, lo| a.compare(op, la, b, out, lo, dtype))
    }

    /// The shared frame of binary ops: cast both operands to `dtype`, broadcast them, allocate
    /// the output in `out_dtype`, and run `kernel(a, a_layout, b, out, out_layout)`.
    fn elementwise2(
        &self,
        rhs: &Rhs,
        dtype: DType,
        out_dtype: DType,
        kernel: impl FnOnce(&Storage, &Layout, Operand, &Storage, &Layout) -> Result<()>,
    ) -> Result<Tensor> {
        let a = self.to_dtype(dtype)?;
        match rhs {
            Rhs::Scalar(s) => {
                let out = Tensor::empty(self.shape(), out_dtype, self.device())?;
                kernel(a.storage(), a.layout(), Operand::Scalar(*s), out.storage(), out.layout())?;
                Ok(out)
            }
            Rhs::Tensor(b) => {
                self.check_same_device(b)?;
                let shape = broadcast_shape(self.shape(), b.shape())?;
                let device = if self.device() == Device::Cpu { b.device() } else { self.device() };
                let b = b.to_dtype(dtype)?;
                let la = a.layout().broadcast_to(&shape)?;
                let lb = b.layout().broadcast_to(&shape)?;
                let out = Tensor::empty(&shape, out_dtype, device)?;
                kernel(a.storage(), &la, Operand::Tensor(b.storage(), &lb), out.storage(), out.layout())?;
                Ok(out)
            }
        }
    }

    /// The dtype a unary op computes and returns in.
    pub fn unary_dtype(op: UnaryOp, dtype: DType) -> DType {
        if op == UnaryOp::LogicalNot {
            return DType::Bool;
        }
        if op == UnaryOp::Square && dtype == DType::Bool {
            return DType::I64;
        }
        if op.is_float_only() && !dtype.is_float() {
            default_float()
        } else {
            dtype
        }
    }

    fn unary_saves(op: UnaryOp) -> &'static [graph::Save<'static>] {
        match crate::backprop::unary_saves(op) {
            Some(true) => &[graph::Save::Output],
            Some(false) => &[graph::Save::Input(0)],
            None => &[],
        }
    }

    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        graph::recorded(&[self], Self::unary_saves(op), || GradOp::Unary(op), || self.unary_raw(op))
    }

    fn unary_raw(&self, op: UnaryOp) -> Result<Tensor> {
        Self::unary_unsupported(op, self.dtype())?;
        let out_dtype = Self::unary_dtype(op, self.dtype());
        let dtype = if op == UnaryOp::LogicalNot { self.dtype() } else { out_dtype };
        let a = self.to_dtype(dtype)?;
        let out = Tensor::empty(self.shape(), out_dtype, self.device())?;
        a.storage().unary(op, a.layout(), out.storage(), out.layout(), dtype)?;
        Ok(out)
    }

    pub fn unary_(&self, op: UnaryOp) -> Result<()> {
        Self::unary_unsupported(op, self.dtype())?;
        if graph::needs_grad(&[self]) {
            graph::check_inplace(self, self.is_view_of_leaf())?;
            self.check_writable()?;
            let dtype = Self::unary_dtype(op, self.dtype());
            if dtype != self.dtype() {
                return Err(Error::CannotCast { from: dtype.torch_kernel_name(), to: self.dtype().torch_kernel_name() });
            }
            return self.rebase(&[], GradOp::Unary(op), Self::unary_saves(op), |old| old.unary_raw(op));
        }
        let dtype = Self::unary_dtype(op, self.dtype());
        if dtype != self.dtype() {
            return Err(Error::CannotCast { from: dtype.torch_kernel_name(), to: self.dtype().torch_kernel_name() });
        }
        self.check_writable()?;
        self.storage().unary(op, self.layout(), self.storage(), self.layout(), dtype)?;
        self.bump_version();
        Ok(())
    }

    /// torch's rule: tensors of one op share a device, except that a CPU scalar (0-d) tensor
    /// may meet tensors of any device.
    pub fn check_same_device(&self, other: &Tensor) -> Result<()> {
        let cpu_scalar = |t: &Tensor| t.device() == Device::Cpu && t.ndim() == 0;
        if self.device() != other.device() && !cpu_scalar(self) && !cpu_scalar(other) {
            return Err(Error::runtime(format!(
                "Expected all tensors to be on the same device, but found at least two devices, {} and {}!",
                self.device().name(),
                other.device().name()
            )));
        }
        Ok(())
    }

    // ----- reading values -----------------------------------------------------------------

    /// Contiguous host bytes of the tensor's elements in logical order.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let c = self.contiguous()?;
        let es = c.dtype().size();
        c.storage().read_bytes(c.offset() * es, (c.offset() + c.numel()) * es)
    }

    pub fn to_vec<T: Elem>(&self) -> Result<Vec<T>> {
        let c = self.to_dtype(T::DTYPE)?.contiguous()?.to_device(Device::Cpu)?;
        let buf = c.storage().as_cpu().expect("moved to the CPU above");
        let n = c.numel();
        // SAFETY: c is contiguous with n elements of T starting at offset.
        let s = unsafe { std::slice::from_raw_parts((buf.as_ptr() as *const T).add(c.offset()), n) };
        Ok(s.to_vec())
    }

    /// `item()`: the single element as a Python-kind scalar.
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            return Err(Error::runtime(format!(
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            )));
        }
        self.get_flat(0)
    }

    /// Element `i` in logical row-major order.
    pub fn get_flat(&self, i: usize) -> Result<Scalar> {
        if self.storage().as_cpu().is_none() {
            let mut rem = i;
            let mut off = self.offset();
            for d in (0..self.ndim()).rev() {
                let s = self.shape()[d];
                off = (off as isize + (rem % s) as isize * self.strides()[d]) as usize;
                rem /= s;
            }
            let es = self.dtype().size();
            let bytes = self.storage().read_bytes(off * es, (off + 1) * es)?;
            return Tensor::from_bytes(&bytes, self.dtype(), &[])?.get_flat(0);
        }
        let buf = self.storage().as_cpu().expect("checked above");
        let mut rem = i;
        let mut off = self.offset() as isize;
        for d in (0..self.ndim()).rev() {
            let s = self.shape()[d];
            off += (rem % s) as isize * self.strides()[d];
            rem /= s;
        }
        let dt = self.dtype();
        Ok(crate::with_dtype!(dt, T, {
            // SAFETY: off lies within the layout's storage span.
            let v = unsafe { *(buf.as_ptr() as *const T).offset(off) };
            match dt.category() {
                crate::dtype::Category::Float => Scalar::Float(v.to_f64()),
                crate::dtype::Category::Int => Scalar::Int(v.to_i64()),
                crate::dtype::Category::Bool => Scalar::Bool(v.to_bool()),
            }
        }))
    }
}


/// Shapes as torch reports them.
pub fn dims(shape: &[usize]) -> Dims {
    SmallVec::from_slice(shape)
}
