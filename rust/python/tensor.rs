//! The Tensor, dtype and device classes seen from Python. Thin: argument conversion and calls
//! into the core, nothing else. Less hot methods are added in Python (python/rgrad/_tensor.py).

use super::convert::{Dim, dtype_of, index_int, int_list, parse_index, scalar_of, sizes_from_args};
use crate::device::Device;
use crate::dtype::{DType, Scalar, ALL_DTYPES};
use crate::indexing;
use crate::op::{BinaryOp, CmpOp, UnaryOp};
use crate::tensor::{Rhs, Tensor};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple};

/// Above this many elements a kernel releases the GIL while it runs.
const DETACH_NUMEL: usize = 1 << 15;

#[pyclass(name = "dtype", module = "rgrad", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
pub struct PyDType(pub DType);

#[pymethods]
impl PyDType {
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.0.is_float()
    }
    #[getter]
    fn is_signed(&self) -> bool {
        self.0.is_signed()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.0.size()
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    /// torch's names for the type in its messages, for the Python layer's errors.
    #[getter]
    fn _kernel_name(&self) -> &'static str {
        self.0.torch_kernel_name()
    }
    #[getter]
    fn _cpp_name(&self) -> &'static str {
        self.0.cpp_name()
    }
    #[getter]
    fn _c10_name(&self) -> &'static str {
        self.0.c10_name()
    }
    /// (min, max) of an integer dtype, None otherwise.
    #[getter]
    fn _int_range(&self) -> Option<(i64, i64)> {
        self.0.int_range()
    }
    fn __repr__(&self) -> String {
        format!("rgrad.{}", self.0.name())
    }
    fn __reduce__(&self) -> (String, ()) {
        (self.0.name().to_string(), ())
    }
}

static DTYPES: PyOnceLock<Vec<Py<PyDType>>> = PyOnceLock::new();

pub fn dtype_obj(py: Python<'_>, d: DType) -> Py<PyDType> {
    let all = DTYPES.get_or_init(py, || ALL_DTYPES.iter().map(|&d| Py::new(py, PyDType(d)).unwrap()).collect());
    all[d as usize].clone_ref(py)
}

#[pyclass(name = "device", module = "rgrad", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
pub struct PyDevice(pub Device);

pub fn parse_device(obj: &Bound<'_, PyAny>) -> PyResult<Device> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().0);
    }
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Device::Gpu(i as u32));
    }
    let s: String = obj.extract()?;
    parse_device_str(&s, None)
}

fn parse_device_str(s: &str, index: Option<i64>) -> PyResult<Device> {
    let (ty, idx) = match s.split_once(':') {
        Some((t, i)) => (t, Some(i.parse::<i64>().map_err(|_| PyRuntimeError::new_err(format!("Invalid device string: '{s}'")))?)),
        None => (s, index),
    };
    match ty {
        "cpu" => Ok(Device::Cpu),
        "gpu" | "wgpu" | "cuda" => Ok(Device::Gpu(idx.unwrap_or(0) as u32)),
        _ => Err(PyRuntimeError::new_err(format!(
            "Expected one of cpu, gpu, wgpu, cuda device type at start of device string: {s}"
        ))),
    }
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (device, index=None))]
    fn new(device: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<Self> {
        if let Ok(s) = device.extract::<String>() {
            return Ok(PyDevice(parse_device_str(&s, index)?));
        }
        Ok(PyDevice(parse_device(device)?))
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        self.0.type_name()
    }
    #[getter]
    fn index(&self) -> Option<u32> {
        match self.0 {
            Device::Cpu => None,
            Device::Gpu(i) => Some(i),
        }
    }
    fn __str__(&self) -> String {
        self.0.name()
    }
    fn __repr__(&self) -> String {
        match self.0 {
            Device::Cpu => "device(type='cpu')".into(),
            Device::Gpu(i) => format!("device(type='gpu', index={i})"),
        }
    }
}

#[pyclass(name = "Tensor", module = "rgrad", subclass, frozen, dict, weakref)]
pub struct PyTensor {
    pub inner: Tensor,
}

// `initialised` reads the tensor handle as one pointer-sized word.
const _: () = assert!(std::mem::size_of::<Tensor>() == std::mem::size_of::<usize>());

impl PyTensor {
    pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyTensor>> {
        Py::new(py, PyTensor { inner: t })
    }

    /// False while the object is being created: CPython zero-fills and GC-tracks a new object
    /// before PyO3 writes its contents, and a collection can run in between (allocating its
    /// `__dict__` may trigger one), calling tp_traverse on a still-null tensor handle.
    fn initialised(&self) -> bool {
        // SAFETY: the field is either a live Arc (never null) or the allocator's zero fill.
        unsafe { std::ptr::read_volatile(&self.inner as *const Tensor as *const usize) != 0 }
    }
}

/// The Python objects of leaves that require grad, by tensor identity, so that
/// `grad_fn.next_functions[..][0].variable` is the user's own tensor object (`is x`).
static LEAVES: parking_lot::Mutex<Option<std::collections::HashMap<usize, Py<pyo3::types::PyWeakrefReference>>>> = parking_lot::Mutex::new(None);

fn register_leaf(obj: &Bound<'_, PyTensor>) -> PyResult<()> {
    let r = pyo3::types::PyWeakrefReference::new(obj)?.unbind();
    let mut g = LEAVES.lock();
    let map = g.get_or_insert_with(Default::default);
    if map.len() >= 1024 && map.len().is_power_of_two() {
        map.retain(|_, w| w.bind(obj.py()).upgrade().is_some());
    }
    map.insert(obj.get().inner.id(), r);
    Ok(())
}

/// The registered Python object of leaf `t`, else a new wrapper.
pub fn leaf_object(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    let found = LEAVES.lock().as_ref().and_then(|m| m.get(&t.id()).map(|w| w.clone_ref(py)));
    if let Some(obj) = found.and_then(|w| w.bind(py).upgrade()) {
        return Ok(obj.unbind());
    }
    Ok(PyTensor::wrap(py, t.clone())?.into_any())
}

/// Runs `f` without the GIL when the work is large enough to matter.
fn maybe_detach<T: Send>(py: Python<'_>, numel: usize, f: impl FnOnce() -> T + Send) -> T {
    if numel >= DETACH_NUMEL {
        py.detach(f)
    } else {
        f()
    }
}

fn rhs_of(obj: &Bound<'_, PyAny>) -> Option<Rhs> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Some(Rhs::Tensor(t.get().inner.clone()));
    }
    scalar_of(obj).map(Rhs::Scalar)
}

static SIZE_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub fn set_size_class(cls: Py<PyAny>, py: Python<'_>) {
    let _ = SIZE_CLASS.set(py, cls);
}

fn size_obj<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let tup = PyTuple::new(py, shape)?;
    match SIZE_CLASS.get(py) {
        Some(cls) => cls.bind(py).call1((tup,)),
        None => Ok(tup.into_any()),
    }
}

impl PyTensor {
    fn binop(&self, py: Python<'_>, op: BinaryOp, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Some(rhs) = rhs_of(other) else { return Ok(py.NotImplemented()) };
        let t = &self.inner;
        let out = maybe_detach(py, t.numel(), || t.binary(op, &rhs))?;
        Ok(PyTensor::wrap(py, out)?.into_any())
    }
    fn rbinop(&self, py: Python<'_>, op: BinaryOp, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match rhs_of(other) {
            Some(Rhs::Scalar(s)) => {
                let t = &self.inner;
                let out = maybe_detach(py, t.numel(), || t.binary_reversed(op, s))?;
                Ok(PyTensor::wrap(py, out)?.into_any())
            }
            Some(Rhs::Tensor(o)) => {
                let out = maybe_detach(py, o.numel(), || o.binary(op, &Rhs::Tensor(self.inner.clone())))?;
                Ok(PyTensor::wrap(py, out)?.into_any())
            }
            None => Ok(py.NotImplemented()),
        }
    }
    fn ibinop(slf: &Bound<'_, Self>, op: BinaryOp, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let Some(rhs) = rhs_of(other) else {
            return Err(PyTypeError::new_err(format!(
                "unsupported operand type(s) for in-place {}: 'Tensor' and '{}'",
                op.name(),
                other.get_type().name()?
            )));
        };
        let t = &slf.get().inner;
        maybe_detach(py, t.numel(), || t.binary_(op, &rhs))?;
        Ok(())
    }
    fn cmp(&self, py: Python<'_>, op: CmpOp, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Some(rhs) = rhs_of(other) else { return Ok(py.NotImplemented()) };
        let t = &self.inner;
        let out = maybe_detach(py, t.numel(), || t.compare(op, &rhs))?;
        Ok(PyTensor::wrap(py, out)?.into_any())
    }
}

fn wrap_list(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyTuple>> {
    let objs: Vec<Py<PyTensor>> = ts.into_iter().map(|t| PyTensor::wrap(py, t)).collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, objs)?.unbind())
}

fn binary_op_by_name(name: &str) -> PyResult<BinaryOp> {
    use BinaryOp::*;
    Ok(match name {
        "add" => Add,
        "sub" => Sub,
        "mul" => Mul,
        "div" => Div,
        "floor_divide" => FloorDiv,
        "div_trunc" => TruncDiv,
        "remainder" => Remainder,
        "fmod" => Fmod,
        "pow" => Pow,
        "maximum" => Maximum,
        "minimum" => Minimum,
        "atan2" => Atan2,
        "bitwise_and" => BitAnd,
        "bitwise_or" => BitOr,
        "bitwise_xor" => BitXor,
        "bitwise_left_shift" => Shl,
        "bitwise_right_shift" => Shr,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {name}"))),
    })
}

fn unary_op_by_name(name: &str) -> PyResult<UnaryOp> {
    use UnaryOp::*;
    const ALL: [UnaryOp; 38] = [
        Neg, Abs, Sign, Exp, Exp2, Expm1, Log, Log2, Log10, Log1p, Sqrt, Rsqrt, Reciprocal, Square, Sin, Cos, Tan, Asin, Acos,
        Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Sigmoid, Erf, Erfc, Erfinv, Floor, Ceil, Round, Trunc, Frac, Relu,
        LogicalNot, BitNot,
    ];
    ALL.iter().copied().find(|op| op.name() == name).ok_or_else(|| PyValueError::new_err(format!("unknown unary op {name}")))
}

fn cmp_op_by_name(name: &str) -> PyResult<CmpOp> {
    Ok(match name {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        "logical_and" => CmpOp::LogicalAnd,
        "logical_or" => CmpOp::LogicalOr,
        "logical_xor" => CmpOp::LogicalXor,
        _ => return Err(PyValueError::new_err(format!("unknown comparison {name}"))),
    })
}

#[pymethods]
impl PyTensor {
    // torch's sole-owner rule (see Tensor::with_sole_grad_fn): a handle that alone reaches its
    // grad_fn reports the node's Python objects, and clearing it drops the node.
    fn __traverse__(&self, visit: pyo3::gc::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if !self.initialised() {
            return Ok(());
        }
        self.inner.with_sole_grad_fn(|node| super::autograd::visit_node(node, &visit)).unwrap_or(Ok(()))
    }

    fn __clear__(&self) {
        if self.initialised() {
            self.inner.clear_sole_grad_fn();
        }
    }

    /// Legacy constructor: `Tensor(2, 3)` (uninitialised float32) or `Tensor([1, 2])`.
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let dt = crate::dtype::default_float();
        if args.len() == 1 {
            let a = args.get_item(0)?;
            if let Ok(t) = a.cast::<PyTensor>() {
                return Ok(PyTensor { inner: t.get().inner.clone() });
            }
            if a.is_instance_of::<PyList>() || (a.is_instance_of::<PyTuple>() && int_list(&a).is_err()) || a.hasattr("__array__")? {
                let t = py.import("rgrad")?.getattr("tensor")?.call((a,), Some(&[("dtype", dtype_obj(py, dt))].into_py_dict(py)?))?;
                return Ok(PyTensor { inner: t.cast::<PyTensor>()?.get().inner.clone() });
            }
        }
        let sizes = sizes_from_args(args)?;
        let shape: Vec<usize> = sizes.iter().map(|&s| s.max(0) as usize).collect();
        if let Some(&neg) = sizes.iter().find(|&&s| s < 0) {
            return Err(PyRuntimeError::new_err(format!("Trying to create tensor with negative dimension {neg}: {:?}", sizes)));
        }
        Ok(PyTensor { inner: Tensor::empty(&shape, dt, Device::Cpu)? })
    }

    // ----- attributes ----------------------------------------------------------------------

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        size_obj(py, self.inner.shape())
    }
    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => size_obj(py, self.inner.shape()),
            Some(d) => {
                let d = crate::shape::wrap_dim(d, self.inner.ndim())?;
                Ok(self.inner.shape().get(d).copied().unwrap_or(1).into_pyobject(py)?.into_any())
            }
        }
    }
    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.inner.strides())?.into_any()),
            Some(d) => {
                let d = crate::shape::wrap_dim(d, self.inner.ndim())?;
                Ok(self.inner.strides().get(d).copied().unwrap_or(1).into_pyobject(py)?.into_any())
            }
        }
    }
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyDType> {
        dtype_obj(py, self.inner.dtype())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice(self.inner.device())
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        self.inner.device() != Device::Cpu
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.inner.ndim()
    }
    fn dim(&self) -> usize {
        self.inner.ndim()
    }
    fn ndimension(&self) -> usize {
        self.inner.ndim()
    }
    fn numel(&self) -> usize {
        self.inner.numel()
    }
    fn nelement(&self) -> usize {
        self.inner.numel()
    }
    fn element_size(&self) -> usize {
        self.inner.dtype().size()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.inner.dtype().size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.dtype().size() * self.inner.numel()
    }
    fn is_floating_point(&self) -> bool {
        self.inner.dtype().is_float()
    }
    fn is_complex(&self) -> bool {
        false
    }
    #[pyo3(signature = (memory_format=None))]
    fn is_contiguous(&self, memory_format: Option<&Bound<'_, PyAny>>) -> bool {
        let _ = memory_format;
        self.inner.is_contiguous()
    }
    fn storage_offset(&self) -> usize {
        self.inner.offset()
    }
    fn data_ptr(&self) -> usize {
        self.inner.data_ptr()
    }
    fn _storage_ptr(&self) -> usize {
        self.inner.storage().data_ptr()
    }
    fn _storage_nbytes(&self) -> usize {
        self.inner.storage().nbytes()
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.inner.version()
    }
    fn _is_view_of(&self, other: &PyTensor) -> bool {
        self.inner.same_storage(&other.inner)
    }
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.inner.requires_grad()
    }
    #[setter(requires_grad)]
    fn set_requires_grad(slf: &Bound<'_, Self>, v: bool) -> PyResult<()> {
        let t = &slf.get().inner;
        t.set_requires_grad(v)?;
        if v && t.is_leaf() {
            register_leaf(slf)?;
        }
        Ok(())
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.inner.is_leaf()
    }
    #[getter]
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        super::autograd::node_obj(py, self.inner.grad_fn())
    }
    #[getter]
    fn output_nr(&self) -> usize {
        self.inner.output_nr()
    }
    #[getter(grad)]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.inner.grad() {
            Some(g) => Ok(PyTensor::wrap(py, g)?.into_any()),
            None => {
                if !self.inner.is_leaf() && !self.inner.retains_grad() {
                    PyErr::warn(
                        py,
                        &py.get_type::<pyo3::exceptions::PyUserWarning>(),
                        c"The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more information.",
                        1,
                    )?;
                }
                Ok(py.None())
            }
        }
    }
    #[setter(grad)]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match g {
            None => None,
            Some(o) if o.is_none() => None,
            Some(o) => {
                let tn = o.get_type().name()?.to_string();
                let g = o.cast::<PyTensor>().map_err(|_| PyTypeError::new_err(format!("assigned grad expected to be a Tensor or None but got grad of type {tn}")))?.get().inner.clone();
                if g.dtype() != self.inner.dtype() {
                    // torch names the gradient's dtype by its C++ type
                    let cpp = g.dtype().cpp_name();
                    return Err(PyRuntimeError::new_err(format!(
                        "attempting to assign a gradient with dtype '{cpp}' to a tensor with grad_dtype '{}'. The gradient must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break downstream systems that assume they match.",
                        self.inner.dtype().torch_kernel_name()
                    )));
                }
                if g.device().type_name() != self.inner.device().type_name() {
                    return Err(PyRuntimeError::new_err(format!(
                        "attempting to assign a gradient with device type '{}' to a tensor with device type '{}'. Please ensure that the gradient and the tensor are on the same device",
                        g.device().type_name(),
                        self.inner.device().type_name()
                    )));
                }
                if g.shape() != self.inner.shape() {
                    return Err(PyRuntimeError::new_err(format!(
                        "attempting to assign a gradient of size '{}' to a tensor of size '{}'. Please ensure that the gradient and the tensor are the same size",
                        crate::shape::fmt_shape(g.shape()),
                        crate::shape::fmt_shape(self.inner.shape())
                    )));
                }
                Some(g)
            }
        };
        self.inner.set_grad(g);
        Ok(())
    }
    fn retain_grad(&self) -> PyResult<()> {
        Ok(self.inner.retain_grad()?)
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.inner.retains_grad()
    }
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.detach())
    }
    fn detach_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        if slf.get().inner.is_tracked_view() {
            return Err(PyRuntimeError::new_err("Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and hence detach_() cannot be called on these gradients. To fix this error, please refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."));
        }
        slf.get().inner.detach_();
        Ok(slf.clone())
    }
    /// `.data`: the same data without history and with its own version counter.
    fn _data_alias(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.data_alias())
    }
    /// Registers `hook(grad)` on this tensor's gradient; returns an id for `_remove_hook`.
    fn _register_hook(&self, hook: Py<PyAny>) -> PyResult<u64> {
        if !self.inner.requires_grad() {
            return Err(PyRuntimeError::new_err("cannot register a hook on a tensor that doesn't require gradient"));
        }
        let h = super::autograd::py_hook(hook);
        Ok(match self.inner.grad_fn() {
            Some(f) => f.add_pre_hook(self.inner.output_nr(), h),
            None => self.inner.add_leaf_hook(h),
        })
    }
    fn _remove_hook(&self, id: u64) {
        match self.inner.grad_fn() {
            Some(f) => f.remove_pre_hook(id),
            None => self.inner.remove_leaf_hook(id),
        }
    }

    // ----- views ---------------------------------------------------------------------------

    #[pyo3(signature = (*shape))]
    fn view(slf: &Bound<'_, Self>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        let py = slf.py();
        if shape.len() == 1 {
            let a = shape.get_item(0)?;
            if a.is_instance_of::<PyDType>() || a.is_instance_of::<pyo3::types::PyString>() {
                let dt = dtype_of(&a)?;
                let t = &slf.get().inner;
                if dt.size() != t.dtype().size() {
                    return Err(PyRuntimeError::new_err("view(dtype) with a different element size is not supported"));
                }
                let out = Tensor::from_parts(t.storage_cell().clone(), t.layout().clone(), dt);
                return PyTensor::wrap(py, out);
            }
        }
        let s = sizes_from_args(shape)?;
        PyTensor::wrap(py, slf.get().inner.view(&s)?)
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        let s = sizes_from_args(shape)?;
        PyTensor::wrap(py, self.inner.reshape(&s)?)
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        if dims.is_empty() {
            return Err(PyTypeError::new_err("permute() missing 1 required positional arguments: \"dims\""));
        }
        let d: Vec<isize> = sizes_from_args(dims)?.into_iter().map(|x| x as isize).collect();
        PyTensor::wrap(py, self.inner.permute(&d)?)
    }
    fn transpose(&self, py: Python<'_>, dim0: Dim, dim1: Dim) -> PyResult<Py<PyTensor>> {
        let dim0 = dim0.0;
        let dim1 = dim1.0;
        PyTensor::wrap(py, self.inner.transpose(dim0, dim1)?)
    }
    fn swapaxes(&self, py: Python<'_>, axis0: Dim, axis1: Dim) -> PyResult<Py<PyTensor>> {
        self.transpose(py, axis0, axis1)
    }
    fn t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.t()?)
    }
    #[getter(T)]
    fn big_t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        let n = self.inner.ndim() as isize;
        let dims: Vec<isize> = (0..n).rev().collect();
        PyTensor::wrap(py, self.inner.permute(&dims)?)
    }
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        if self.inner.ndim() < 2 {
            return Err(PyRuntimeError::new_err(format!(
                "tensor.mT is only supported on matrices or batches of matrices. Got {}-D tensor.",
                self.inner.ndim()
            )));
        }
        PyTensor::wrap(py, self.inner.transpose(-2, -1)?)
    }
    fn narrow(&self, py: Python<'_>, dim: Dim, start: &Bound<'_, PyAny>, length: i64) -> PyResult<Py<PyTensor>> {
        let dim = dim.0;
        PyTensor::wrap(py, self.inner.narrow(dim, index_int(start)?, length)?)
    }
    fn select(&self, py: Python<'_>, dim: Dim, index: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let dim = dim.0;
        PyTensor::wrap(py, self.inner.select(dim, index_int(index)?)?)
    }
    fn unsqueeze(&self, py: Python<'_>, dim: Dim) -> PyResult<Py<PyTensor>> {
        let dim = dim.0;
        PyTensor::wrap(py, self.inner.unsqueeze(dim)?)
    }
    // *args/**kwargs: torch tells `x.squeeze()` from `x.squeeze(None)` (a TypeError), which an
    // Option parameter cannot
    #[pyo3(signature = (*args, **kwargs))]
    fn squeeze(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyTensor>> {
        let kw = match kwargs {
            Some(k) if k.len() > 1 || (k.len() == 1 && k.get_item("dim")?.is_none()) => {
                return Err(PyTypeError::new_err("squeeze() got an unexpected keyword argument"));
            }
            Some(k) => k.get_item("dim")?,
            None => None,
        };
        let dim = match (args.len(), kw) {
            (0, None) => None,
            (1, None) => Some(args.get_item(0)?),
            (0, Some(d)) => Some(d),
            _ => return Err(PyTypeError::new_err("squeeze() received an invalid combination of arguments")),
        };
        let dims: Option<Vec<isize>> = match dim {
            None => None,
            Some(d) if d.is_none() => {
                return Err(PyTypeError::new_err("squeeze(): argument 'dim' must be int or tuple of ints, not NoneType"))
            }
            Some(d) => Some(int_list(&d)?.into_iter().map(|x| x as isize).collect()),
        };
        PyTensor::wrap(py, self.inner.squeeze(dims.as_deref())?)
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        if sizes.is_empty() {
            return Err(PyTypeError::new_err("expand() missing 1 required positional arguments: \"size\""));
        }
        let s = sizes_from_args(sizes)?;
        PyTensor::wrap(py, self.inner.expand(&s)?)
    }
    #[pyo3(signature = (*size))]
    fn sum_to_size(&self, py: Python<'_>, size: &Bound<'_, PyTuple>) -> PyResult<Py<PyTensor>> {
        if size.is_empty() {
            return Err(PyTypeError::new_err("sum_to_size() missing 1 required positional arguments: \"size\""));
        }
        let s = sizes_from_args(size)?;
        PyTensor::wrap(py, self.inner.sum_to_size_signed(&s)?)
    }
    #[pyo3(signature = (offset=0, dim1=Dim(0), dim2=Dim(1)))]
    fn _diagonal(&self, py: Python<'_>, offset: i64, dim1: Dim, dim2: Dim) -> PyResult<Py<PyTensor>> {
        let dim1 = dim1.0;
        let dim2 = dim2.0;
        PyTensor::wrap(py, self.inner.diagonal(offset, dim1, dim2)?)
    }
    #[pyo3(signature = (size, stride, storage_offset=None))]
    fn as_strided(&self, py: Python<'_>, size: &Bound<'_, PyAny>, stride: &Bound<'_, PyAny>, storage_offset: Option<i64>) -> PyResult<Py<PyTensor>> {
        let size: Vec<usize> = int_list(size)?.into_iter().map(|x| x.max(0) as usize).collect();
        let stride: Vec<isize> = int_list(stride)?.into_iter().map(|x| x as isize).collect();
        PyTensor::wrap(py, self.inner.as_strided(&size, &stride, storage_offset.map(|o| o.max(0) as usize))?)
    }
    #[pyo3(signature = (start_dim=Dim(0), end_dim=Dim(-1)))]
    fn flatten(&self, py: Python<'_>, start_dim: Dim, end_dim: Dim) -> PyResult<Py<PyTensor>> {
        let start_dim = start_dim.0;
        let end_dim = end_dim.0;
        PyTensor::wrap(py, self.inner.flatten(start_dim, end_dim)?)
    }
    fn unflatten(&self, py: Python<'_>, dim: Dim, sizes: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let dim = dim.0;
        PyTensor::wrap(py, self.inner.unflatten(dim, &int_list(sizes)?)?)
    }
    fn movedim(&self, py: Python<'_>, source: &Bound<'_, PyAny>, destination: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let s: Vec<isize> = int_list(source)?.into_iter().map(|x| x as isize).collect();
        let d: Vec<isize> = int_list(destination)?.into_iter().map(|x| x as isize).collect();
        PyTensor::wrap(py, self.inner.movedim(&s, &d)?)
    }
    #[pyo3(signature = (split_size_or_sections, dim=Dim(0)))]
    fn split(&self, py: Python<'_>, split_size_or_sections: &Bound<'_, PyAny>, dim: Dim) -> PyResult<Py<PyTuple>> {
        let dim = dim.0;
        let parts = if let Ok(n) = index_int(split_size_or_sections) {
            self.inner.split(n.max(0) as usize, dim)?
        } else {
            let sizes: Vec<usize> = int_list(split_size_or_sections)?.into_iter().map(|x| x.max(0) as usize).collect();
            self.inner.split_with_sizes(&sizes, dim)?
        };
        wrap_list(py, parts)
    }
    #[pyo3(signature = (chunks, dim=Dim(0)))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: Dim) -> PyResult<Py<PyTuple>> {
        let dim = dim.0;
        wrap_list(py, self.inner.chunk(chunks, dim)?)
    }
    #[pyo3(signature = (dim=Dim(0)))]
    fn unbind(&self, py: Python<'_>, dim: Dim) -> PyResult<Py<PyTuple>> {
        let dim = dim.0;
        wrap_list(py, self.inner.unbind(dim)?)
    }
    #[pyo3(signature = (memory_format=None))]
    fn contiguous(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let _ = memory_format;
        let t = &self.inner;
        PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.contiguous())?)
    }
    #[pyo3(signature = (memory_format=None))]
    fn clone(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
        let _ = memory_format;
        let t = &self.inner;
        PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.deep_clone())?)
    }
    fn _to_dtype(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let d = dtype_of(dtype)?;
        let t = &self.inner;
        PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.to_dtype(d))?)
    }
    fn _to_device(&self, py: Python<'_>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        let d = parse_device(device)?;
        let t = &self.inner;
        PyTensor::wrap(py, py.detach(|| t.to_device(d))?)
    }
    fn _alias(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.clone_view())
    }

    // ----- writes --------------------------------------------------------------------------

    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(slf: &Bound<'py, Self>, src: &Bound<'py, PyAny>, non_blocking: bool) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let t = &slf.get().inner;
        let src = match src.cast::<PyTensor>() {
            Ok(s) => s.get().inner.clone(),
            // torch's parser turns a Python number into a 0-d tensor
            Err(_) => match scalar_of(src) {
                Some(s) => Tensor::scalar(s, t.dtype()),
                None => return Err(PyTypeError::new_err("copy_(): argument 'other' (position 1) must be Tensor")),
            },
        };
        slf.py().detach(|| t.copy_(&src))?;
        Ok(slf.clone())
    }
    fn fill_<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let v = match scalar_of(value) {
            Some(s) => s,
            None => match value.cast::<PyTensor>() {
                Ok(t) if t.get().inner.ndim() == 0 => t.get().inner.item()?,
                _ => return Err(PyTypeError::new_err("fill_(): argument 'value' must be Number")),
            },
        };
        slf.get().inner.fill_(v)?;
        Ok(slf.clone())
    }
    fn zero_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        slf.get().inner.fill_(Scalar::Int(0))?;
        Ok(slf.clone())
    }

    // ----- elementwise (generic entry points used by the Python layer) ---------------------

    fn _binary(&self, py: Python<'_>, op: &str, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = binary_op_by_name(op)?;
        let Some(rhs) = rhs_of(other) else {
            return Err(PyTypeError::new_err(format!("{}(): argument 'other' must be Tensor or Number, not {}", op.name(), other.get_type().name()?)));
        };
        let t = &self.inner;
        Ok(PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.binary(op, &rhs))?)?.into_any())
    }
    fn _rbinary(&self, py: Python<'_>, op: &str, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, binary_op_by_name(op)?, other)
    }
    fn _binary_<'py>(slf: &Bound<'py, Self>, op: &str, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let op = binary_op_by_name(op)?;
        let Some(rhs) = rhs_of(other) else {
            return Err(PyTypeError::new_err(format!("{}_(): argument 'other' must be Tensor or Number", op.name())));
        };
        let t = &slf.get().inner;
        maybe_detach(slf.py(), t.numel(), || t.binary_(op, &rhs))?;
        Ok(slf.clone())
    }
    fn _unary(&self, py: Python<'_>, op: &str) -> PyResult<Py<PyTensor>> {
        let op = unary_op_by_name(op)?;
        let t = &self.inner;
        PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.unary(op))?)
    }
    fn _unary_<'py>(slf: &Bound<'py, Self>, op: &str) -> PyResult<Bound<'py, Self>> {
        let op = unary_op_by_name(op)?;
        let t = &slf.get().inner;
        maybe_detach(slf.py(), t.numel(), || t.unary_(op))?;
        Ok(slf.clone())
    }
    fn _compare(&self, py: Python<'_>, op: &str, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = cmp_op_by_name(op)?;
        let Some(rhs) = rhs_of(other) else {
            return Err(PyTypeError::new_err(format!("comparison with {} is not supported", other.get_type().name()?)));
        };
        let t = &self.inner;
        Ok(PyTensor::wrap(py, maybe_detach(py, t.numel(), || t.compare(op, &rhs))?)?.into_any())
    }

    // ----- operators -----------------------------------------------------------------------

    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Add, o)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Add, o)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Sub, o)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Sub, o)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Mul, o)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Mul, o)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Div, o)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Div, o)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::FloorDiv, o)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::FloorDiv, o)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Remainder, o)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Remainder, o)
    }
    fn __pow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, _m: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Pow, o)
    }
    fn __rpow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, _m: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::Pow, o)
    }
    fn __and__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::BitAnd, o)
    }
    fn __rand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::BitAnd, o)
    }
    fn __or__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::BitOr, o)
    }
    fn __ror__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::BitOr, o)
    }
    fn __xor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::BitXor, o)
    }
    fn __rxor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.rbinop(py, BinaryOp::BitXor, o)
    }
    fn __lshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Shl, o)
    }
    fn __rshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binop(py, BinaryOp::Shr, o)
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(o) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
        let (a, b) = (&self.inner, &o.get().inner);
        Ok(PyTensor::wrap(py, maybe_detach(py, a.numel().max(b.numel()), || a.matmul(b))?)?.into_any())
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(o) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
        let (a, b) = (&o.get().inner, &self.inner);
        Ok(PyTensor::wrap(py, maybe_detach(py, a.numel().max(b.numel()), || a.matmul(b))?)?.into_any())
    }
    fn __iadd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Add, o)
    }
    fn __isub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Sub, o)
    }
    fn __imul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Mul, o)
    }
    fn __itruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Div, o)
    }
    fn __ifloordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::FloorDiv, o)
    }
    fn __imod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Remainder, o)
    }
    fn __ipow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _m: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::Pow, o)
    }
    fn __iand__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::BitAnd, o)
    }
    fn __ior__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::BitOr, o)
    }
    fn __ixor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::ibinop(slf, BinaryOp::BitXor, o)
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.unary(UnaryOp::Neg)?)
    }
    fn __pos__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.clone_view())
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.unary(UnaryOp::Abs)?)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        PyTensor::wrap(py, self.inner.unary(UnaryOp::BitNot)?)
    }
    fn __richcmp__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let c = match op {
            CompareOp::Eq => CmpOp::Eq,
            CompareOp::Ne => CmpOp::Ne,
            CompareOp::Lt => CmpOp::Lt,
            CompareOp::Le => CmpOp::Le,
            CompareOp::Gt => CmpOp::Gt,
            CompareOp::Ge => CmpOp::Ge,
        };
        if rhs_of(o).is_none() && matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Ok((matches!(op, CompareOp::Ne)).into_pyobject(py)?.to_owned().into_any().unbind());
        }
        self.cmp(py, c, o)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    // ----- indexing ------------------------------------------------------------------------

    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Py<PyTensor>> {
        // Fast path: a single int.
        if let Ok(i) = idx.cast::<pyo3::types::PyInt>() {
            if !idx.is_instance_of::<pyo3::types::PyBool>() {
                let i: i64 = i.extract()?;
                if self.inner.ndim() == 0 {
                    return Err(PyIndexError_new("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"));
                }
                return PyTensor::wrap(py, self.inner.select(0, i)?);
            }
        }
        let items = parse_index(py, idx, self.inner.shape())?;
        let t = &self.inner;
        PyTensor::wrap(py, py.detach(|| indexing::index(t, &items))?)
    }
    fn __setitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let items = parse_index(py, idx, self.inner.shape())?;
        let t = &self.inner;
        if let Some(s) = scalar_of(value) {
            return Ok(py.detach(|| indexing::index_fill(t, &items, s))?);
        }
        let v: Tensor = match value.cast::<PyTensor>() {
            Ok(v) => v.get().inner.clone(),
            Err(_) => {
                // Python data takes the destination's dtype (only tensor values must match it)
                let tv = py.import("rgrad")?.getattr("tensor")?.call1((value,))?;
                tv.cast::<PyTensor>()?.get().inner.to_dtype(t.dtype())?
            }
        };
        Ok(py.detach(|| indexing::index_put(t, &items, &v))?)
    }
    fn __len__(&self) -> PyResult<usize> {
        if self.inner.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.inner.shape()[0])
    }

    // ----- values --------------------------------------------------------------------------

    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        scalar_to_py(py, self.inner.item()?)
    }
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = self.inner.contiguous()?;
        if t.ndim() == 0 {
            return scalar_to_py(py, t.get_flat(0)?);
        }
        let flat: Vec<Py<PyAny>> = (0..t.numel()).map(|i| scalar_to_py(py, t.get_flat(i)?)).collect::<PyResult<_>>()?;
        nest(py, &flat, t.shape())
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.inner.numel() != 1 {
            return Err(PyRuntimeError::new_err(if self.inner.numel() == 0 {
                "Boolean value of Tensor with no values is ambiguous"
            } else {
                "Boolean value of Tensor with more than one value is ambiguous"
            }));
        }
        Ok(self.inner.item()?.to_bool())
    }
    fn __float__(&self) -> PyResult<f64> {
        Ok(self.inner.item()?.to_f64())
    }
    fn __int__(&self) -> PyResult<i64> {
        Ok(self.inner.item()?.to_i64())
    }
    fn __index__(&self) -> PyResult<i64> {
        if self.inner.dtype().is_float() || self.inner.numel() != 1 || self.inner.dtype() == DType::Bool {
            return Err(PyTypeError::new_err("only integer tensors of a single element can be converted to an index"));
        }
        Ok(self.inner.item()?.to_i64())
    }
    /// The raw contiguous bytes of the elements (for pickling and numpy conversion).
    fn _bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let b = self.inner.to_bytes()?;
        Ok(pyo3::types::PyBytes::new(py, &b))
    }
    /// numpy's __array_interface__ for a zero-copy view of this tensor's memory.
    fn _array_interface<'py>(&self, py: Python<'py>, typestr: &str) -> PyResult<Bound<'py, PyDict>> {
        let t = &self.inner;
        if t.storage().as_cpu().is_none() {
            return Err(PyTypeError::new_err(format!(
                "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
                t.device().type_name()
            )));
        }
        let es = t.dtype().size() as isize;
        let d = PyDict::new(py);
        d.set_item("shape", PyTuple::new(py, t.shape())?)?;
        d.set_item("strides", PyTuple::new(py, t.strides().iter().map(|s| s * es))?)?;
        d.set_item("typestr", typestr)?;
        d.set_item("data", (t.data_ptr(), false))?;
        d.set_item("version", 3)?;
        Ok(d)
    }
}

#[allow(non_snake_case)]
fn PyIndexError_new(msg: &str) -> PyErr {
    pyo3::exceptions::PyIndexError::new_err(msg.to_string())
}

pub fn scalar_to_py(py: Python<'_>, s: Scalar) -> PyResult<Py<PyAny>> {
    Ok(match s {
        Scalar::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Scalar::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
    })
}

fn nest(py: Python<'_>, flat: &[Py<PyAny>], shape: &[usize]) -> PyResult<Py<PyAny>> {
    if shape.len() == 1 {
        return Ok(PyList::new(py, flat.iter().map(|o| o.clone_ref(py)))?.into_any().unbind());
    }
    let inner: usize = shape[1..].iter().product();
    let items: Vec<Py<PyAny>> = (0..shape[0]).map(|i| nest(py, &flat[i * inner..(i + 1) * inner], &shape[1..])).collect::<PyResult<_>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

use pyo3::types::IntoPyDict;
