//! PyO3 bindings: the `rgrad._C` module. Conversion and calls only; the logic is in the core.

mod autograd;
mod convert;
mod error;
mod gather;
mod matmul;
mod optim;
mod reduce;
mod linalg;
mod tensor;

use crate::cpu::random::{randperm as cpu_randperm, Distribution};
use crate::cpu::CpuBuffer;
use crate::device::Device;
use crate::dtype::{default_float, result_type, set_default_float, DType, Priority, Scalar};
use crate::generator::{default_generator, Generator};
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use convert::{dtype_of, opt_dtype, parse_nested, scalar_of, tensor_from_nested, usize_list};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use smallvec::SmallVec;
use std::sync::Arc;
use tensor::{dtype_obj, parse_device, PyDType, PyDevice, PyTensor};

fn device_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match obj {
        None => Ok(Device::Cpu),
        Some(o) if o.is_none() => Ok(Device::Cpu),
        Some(o) => parse_device(o),
    }
}

#[pyfunction]
fn _set_size_class(py: Python<'_>, cls: Py<PyAny>) {
    tensor::set_size_class(cls, py);
}

/// `tensor(data)` for nested sequences and Python numbers.
#[pyfunction]
#[pyo3(signature = (data, dtype=None))]
fn _tensor_from_data(py: Python<'_>, data: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
    let n = parse_nested(data)?;
    let dt = opt_dtype(dtype)?.unwrap_or(n.dtype);
    PyTensor::wrap(py, tensor_from_nested(&n, dt)?)
}

/// The dtype `tensor(data)` would infer.
#[pyfunction]
fn _infer_dtype(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyDType>> {
    let n = parse_nested(data)?;
    Ok(dtype_obj(py, n.dtype))
}

/// Wraps external host memory (numpy, DLPack) without copying; `owner` is kept alive.
#[pyfunction]
fn _from_buffer(
    py: Python<'_>,
    ptr: usize,
    nbytes: usize,
    dtype: &Bound<'_, PyAny>,
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: usize,
    owner: Py<PyAny>,
) -> PyResult<Py<PyTensor>> {
    let dt = dtype_of(dtype)?;
    // SAFETY: the caller passes the owner's data pointer and size; the owner stays referenced
    // by the buffer for as long as the storage lives.
    let buf = unsafe { CpuBuffer::external(ptr as *mut u8, nbytes, Box::new(owner)) };
    let layout = Layout::new(SmallVec::from_vec(shape), SmallVec::from_vec(strides), offset);
    let (lo, hi) = layout.storage_span();
    if layout.numel() > 0 && (hi * dt.size() > nbytes || lo > hi) {
        return Err(PyRuntimeError::new_err("buffer too small for the requested shape and strides"));
    }
    PyTensor::wrap(py, Tensor::from_storage(Storage::Cpu(buf), layout, dt))
}

#[pyfunction]
fn _from_bytes(py: Python<'_>, data: &[u8], dtype: &Bound<'_, PyAny>, shape: Vec<usize>) -> PyResult<Py<PyTensor>> {
    PyTensor::wrap(py, Tensor::from_bytes(data, dtype_of(dtype)?, &shape)?)
}

#[pyfunction]
#[pyo3(signature = (shape, dtype=None, device=None))]
fn _empty(py: Python<'_>, shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
    let s = usize_list(shape)?;
    let dt = opt_dtype(dtype)?.unwrap_or_else(default_float);
    PyTensor::wrap(py, Tensor::empty(&s, dt, device_of(device)?)?)
}

#[pyfunction]
#[pyo3(signature = (shape, dtype=None, device=None))]
fn _zeros(py: Python<'_>, shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
    let s = usize_list(shape)?;
    let dt = opt_dtype(dtype)?.unwrap_or_else(default_float);
    let dev = device_of(device)?;
    PyTensor::wrap(py, py.detach(|| Tensor::zeros(&s, dt, dev))?)
}

/// `full(shape, value)`; without a dtype, torch infers it from the value.
#[pyfunction]
#[pyo3(signature = (shape, value, dtype=None, device=None))]
fn _full(
    py: Python<'_>,
    shape: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let s = usize_list(shape)?;
    let v = scalar_of(value).ok_or_else(|| PyTypeError::new_err("full(): argument 'fill_value' must be Number"))?;
    let dt = opt_dtype(dtype)?.unwrap_or_else(|| v.natural_dtype(default_float()));
    let dev = device_of(device)?;
    PyTensor::wrap(py, py.detach(|| Tensor::full(&s, v, dt, dev))?)
}

/// `arange(start, end, step)` with torch's length rule ceil((end - start) / step).
#[pyfunction]
#[pyo3(signature = (start, end, step, dtype=None))]
fn _arange(py: Python<'_>, start: &Bound<'_, PyAny>, end: &Bound<'_, PyAny>, step: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTensor>> {
    let (s, e, st) = (
        scalar_of(start).ok_or_else(|| PyTypeError::new_err("arange(): start must be a number"))?,
        scalar_of(end).ok_or_else(|| PyTypeError::new_err("arange(): end must be a number"))?,
        scalar_of(step).ok_or_else(|| PyTypeError::new_err("arange(): step must be a number"))?,
    );
    let any_float = [s, e, st].iter().any(|x| matches!(x, Scalar::Float(_)));
    let dt = opt_dtype(dtype)?.unwrap_or(if any_float { default_float() } else { DType::I64 });
    if st.to_f64() == 0.0 {
        return Err(PyRuntimeError::new_err("step must be nonzero"));
    }
    let (sf, ef, stf) = (s.to_f64(), e.to_f64(), st.to_f64());
    if (stf > 0.0 && sf > ef) || (stf < 0.0 && sf < ef) {
        return Err(PyRuntimeError::new_err("upper bound and larger bound inconsistent with step sign"));
    }
    let n = if any_float || dt.is_float() {
        ((ef - sf) / stf).ceil().max(0.0) as usize
    } else {
        let (si, ei, sti) = (s.to_i64() as i128, e.to_i64() as i128, st.to_i64() as i128);
        (((ei - si) + sti - sti.signum()) / sti).max(0) as usize
    };
    // The values are built on the host: a size the allocator cannot give is an error, not an
    // abort.
    crate::shape::checked_storage_nbytes(&[n], 8)?;
    Vec::<u8>::new().try_reserve_exact(n * 8).map_err(|_| {
        PyRuntimeError::new_err(format!(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate {} bytes.",
            n * 8
        ))
    })?;
    let t = if dt.is_float() {
        Tensor::from_vec((0..n).map(|i| sf + i as f64 * stf).collect::<Vec<f64>>(), &[n])?.to_dtype(dt)?
    } else {
        let (si, sti) = (s.to_i64(), st.to_i64());
        Tensor::from_vec((0..n as i64).map(|i| si + i * sti).collect::<Vec<i64>>(), &[n])?.to_dtype(dt)?
    };
    PyTensor::wrap(py, t)
}

#[pyclass(name = "Generator", module = "rgrad", frozen)]
struct PyGenerator {
    /// None: the process-wide default generator.
    inner: Option<Arc<Generator>>,
}

impl PyGenerator {
    fn gen(&self) -> &Generator {
        match &self.inner {
            Some(g) => g,
            None => default_generator(),
        }
    }
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        device_of(device)?;
        Ok(PyGenerator { inner: Some(Arc::new(Generator::new(crate::generator::DEFAULT_SEED))) })
    }
    fn manual_seed<'py>(slf: &Bound<'py, Self>, seed: i64) -> Bound<'py, Self> {
        slf.get().gen().manual_seed(seed as u64);
        slf.clone()
    }
    fn seed(&self) -> u64 {
        self.gen().seed()
    }
    fn initial_seed(&self) -> u64 {
        self.gen().initial_seed()
    }
    /// State as a uint8 tensor holding (seed, offset) little-endian.
    fn get_state(&self, py: Python<'_>) -> PyResult<Py<PyTensor>> {
        let (s, o) = self.gen().get_state();
        let mut bytes = s.to_le_bytes().to_vec();
        bytes.extend_from_slice(&o.to_le_bytes());
        PyTensor::wrap(py, Tensor::from_bytes(&bytes, DType::U8, &[16])?)
    }
    fn set_state<'py>(slf: &Bound<'py, Self>, state: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = state.cast::<PyTensor>().map_err(|_| PyTypeError::new_err("expected a ByteTensor state"))?;
        let b = t.get().inner.to_bytes()?;
        if b.len() != 16 || t.get().inner.dtype() != DType::U8 {
            return Err(PyRuntimeError::new_err("Expected a 16-byte uint8 generator state"));
        }
        let s = u64::from_le_bytes(b[..8].try_into().unwrap());
        let o = u64::from_le_bytes(b[8..].try_into().unwrap());
        slf.get().gen().set_state(s, o);
        Ok(slf.clone())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice(Device::Cpu)
    }
}

#[pyfunction]
fn default_generator_obj() -> PyGenerator {
    PyGenerator { inner: None }
}

fn gen_of<'a>(g: &'a Option<Bound<'_, PyGenerator>>) -> &'a Generator {
    match g {
        Some(g) => g.get().gen(),
        None => default_generator(),
    }
}

/// Random fills: kind in uniform/normal/randint/bernoulli.
#[pyfunction]
#[pyo3(signature = (kind, shape, a, b, dtype=None, generator=None, device=None))]
#[allow(clippy::too_many_arguments)]
fn _random(
    py: Python<'_>,
    kind: &str,
    shape: &Bound<'_, PyAny>,
    a: f64,
    b: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    generator: Option<Bound<'_, PyGenerator>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let s = usize_list(shape)?;
    let dist = match kind {
        "uniform" => Distribution::Uniform { low: a, high: b },
        "normal" => Distribution::Normal { mean: a, std: b },
        "randint" => Distribution::RandInt { low: a as i64, high: b as i64 },
        "bernoulli" => Distribution::Bernoulli { p: a },
        _ => return Err(PyRuntimeError::new_err(format!("unknown distribution {kind}"))),
    };
    let default = if kind == "randint" { DType::I64 } else { default_float() };
    let dt = opt_dtype(dtype)?.unwrap_or(default);
    let t = Tensor::empty(&s, dt, device_of(device)?)?;
    let (seed, off) = gen_of(&generator).reserve(t.numel() as u64);
    py.detach(|| t.storage().fill_random(t.layout(), dt, dist, seed, off))?;
    PyTensor::wrap(py, t)
}

#[pyfunction]
#[pyo3(signature = (n, generator=None))]
fn _randperm(py: Python<'_>, n: usize, generator: Option<Bound<'_, PyGenerator>>) -> PyResult<Py<PyTensor>> {
    let (seed, off) = gen_of(&generator).reserve(n as u64);
    PyTensor::wrap(py, Tensor::from_vec(cpu_randperm(n, seed, off), &[n])?)
}

// ----- the GPU device (rgrad.gpu) -----------------------------------------------------------

#[pyfunction]
fn _gpu_available(py: Python<'_>) -> bool {
    py.detach(crate::gpu::is_available)
}

/// (adapter name, backend, device type) of the GPU device.
#[pyfunction]
fn _gpu_info(py: Python<'_>) -> PyResult<(String, String, String)> {
    let c = py.detach(crate::gpu::context)?;
    Ok((c.info.name.clone(), format!("{:?}", c.info.backend), format!("{:?}", c.info.device_type)))
}

#[pyfunction]
fn _gpu_synchronize(py: Python<'_>) -> PyResult<()> {
    Ok(py.detach(|| crate::gpu::context()?.synchronize())?)
}

/// Destroys the GPU device as a driver reset would (for tests of device-loss handling).
#[pyfunction]
fn _gpu_simulate_device_loss(py: Python<'_>) -> PyResult<()> {
    let c = py.detach(crate::gpu::context)?;
    py.detach(|| c.simulate_loss());
    Ok(())
}

/// (bytes held by live tensors, bytes cached for reuse, wgpu buffers in existence).
#[pyfunction]
fn _gpu_memory_stats() -> (u64, u64, u64) {
    crate::gpu::buffer::stats()
}

/// How many ops so far ran on host copies of GPU tensors (ops without a GPU kernel).
#[pyfunction]
fn _gpu_host_round_trips() -> u64 {
    crate::storage::host_round_trips()
}

#[pyfunction]
fn _gpu_empty_cache() {
    crate::gpu::buffer::empty_cache()
}

/// a @ b for contiguous float32 GPU matrices with the tiled kernel, or with the naive
/// one-invocation-per-output kernel (the benchmark's baseline).
#[pyfunction]
fn _gpu_matmul(py: Python<'_>, a: &PyTensor, b: &PyTensor, naive: bool) -> PyResult<Py<PyTensor>> {
    let (a, b) = (a.inner.clone(), b.inner.clone());
    let out = py.detach(|| -> crate::Result<Tensor> {
        let (m, n) = (a.shape()[0], b.shape()[1]);
        let out = Tensor::empty(&[m, n], DType::F32, a.device())?;
        match (a.storage(), b.storage(), out.storage()) {
            (Storage::Gpu(x), Storage::Gpu(y), Storage::Gpu(z)) => {
                crate::gpu::launch::matmul((x, a.layout()), (y, b.layout()), (z, out.layout()), DType::F32, 1.0, None, naive)?
            }
            _ => return Err(crate::Error::runtime("_gpu_matmul takes float32 GPU matrices")),
        }
        Ok(out)
    })?;
    PyTensor::wrap(py, out)
}

#[pyfunction]
fn manual_seed(seed: i64) -> PyGenerator {
    default_generator().manual_seed(seed as u64);
    PyGenerator { inner: None }
}

#[pyfunction]
fn seed() -> u64 {
    default_generator().seed()
}

#[pyfunction]
fn initial_seed() -> u64 {
    default_generator().initial_seed()
}

#[pyfunction]
fn get_default_dtype(py: Python<'_>) -> Py<PyDType> {
    dtype_obj(py, default_float())
}

#[pyfunction]
fn set_default_dtype(d: &Bound<'_, PyAny>) -> PyResult<()> {
    Ok(set_default_float(dtype_of(d)?)?)
}

#[pyfunction]
fn promote_types(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyDType>> {
    Ok(dtype_obj(py, DType::promote(dtype_of(a)?, dtype_of(b)?)))
}

#[pyfunction]
fn can_cast(from_: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(DType::can_cast(dtype_of(from_)?, dtype_of(to)?))
}

/// torch.result_type over tensors and Python numbers.
#[pyfunction]
#[pyo3(signature = (*operands))]
fn result_type_of(py: Python<'_>, operands: &Bound<'_, PyTuple>) -> PyResult<Py<PyDType>> {
    let mut ops = Vec::new();
    for o in operands.iter() {
        if let Ok(t) = o.cast::<PyTensor>() {
            let t = &t.get().inner;
            ops.push((t.dtype(), if t.ndim() == 0 { Priority::ZeroDim } else { Priority::Dim }));
        } else if let Some(s) = scalar_of(&o) {
            ops.push((s.natural_dtype(DType::F64), Priority::Wrapped));
        } else {
            return Err(PyTypeError::new_err("result_type(): arguments must be Tensors or Numbers"));
        }
    }
    Ok(dtype_obj(py, result_type(&ops, default_float())))
}

#[pymodule]
#[allow(non_snake_case)]
fn _C(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyTensor>()?;
    m.add_class::<PyDType>()?;
    m.add_class::<PyDevice>()?;
    m.add_class::<PyGenerator>()?;
    for d in crate::dtype::ALL_DTYPES {
        m.add(d.name(), dtype_obj(py, d))?;
    }
    m.add_function(wrap_pyfunction!(_set_size_class, m)?)?;
    m.add_function(wrap_pyfunction!(_tensor_from_data, m)?)?;
    m.add_function(wrap_pyfunction!(_infer_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(_from_buffer, m)?)?;
    m.add_function(wrap_pyfunction!(_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(_empty, m)?)?;
    m.add_function(wrap_pyfunction!(_zeros, m)?)?;
    m.add_function(wrap_pyfunction!(_full, m)?)?;
    m.add_function(wrap_pyfunction!(_arange, m)?)?;
    m.add_function(wrap_pyfunction!(_random, m)?)?;
    m.add_function(wrap_pyfunction!(_randperm, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_available, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_info, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_simulate_device_loss, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_host_round_trips, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(seed, m)?)?;
    m.add_function(wrap_pyfunction!(initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(default_generator_obj, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(set_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(promote_types, m)?)?;
    m.add_function(wrap_pyfunction!(can_cast, m)?)?;
    m.add_function(wrap_pyfunction!(result_type_of, m)?)?;
    autograd::register(m)?;
    reduce::register(m)?;
    gather::register(m)?;
    matmul::register(m)?;
    linalg::register(m)?;
    optim::register(m)?;
    Ok(())
}
