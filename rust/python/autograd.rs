//! Bindings for autograd: graph nodes as Python objects, the engine entry point, grad mode,
//! and custom `autograd.Function` nodes. No logic: the graph lives in `graph.rs`.

use super::error::external;
use super::tensor::PyTensor;
use crate::backprop::GradOp;
use crate::error::Result as CoreResult;
use crate::graph::{self, CustomBackward, Hook, Node};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::Arc;

/// A `grad_fn` object: `name()`, `next_functions`, `variable` (AccumulateGrad).
#[pyclass(name = "Node", module = "rgrad.autograd.graph", frozen, weakref)]
pub struct PyNode {
    pub node: Arc<Node>,
}

pub fn node_obj(py: Python<'_>, node: Option<Arc<Node>>) -> PyResult<Py<PyAny>> {
    match node {
        Some(node) => Ok(Py::new(py, PyNode { node })?.into_any()),
        None => Ok(py.None()),
    }
}

#[pymethods]
impl PyNode {
    fn name(&self) -> String {
        self.node.name().to_string()
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Py<PyAny>> = self
            .node
            .next
            .iter()
            .map(|e| -> PyResult<Py<PyAny>> {
                Ok(match e {
                    Some(e) => (node_obj(py, Some(e.node.clone()))?, e.input_nr).into_pyobject(py)?.into_any().unbind(),
                    None => (py.None(), 0usize).into_pyobject(py)?.into_any().unbind(),
                })
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    #[getter]
    fn variable(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.node.variable() {
            Some(t) => super::tensor::leaf_object(py, &t),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!("'{}' object has no attribute 'variable'", self.node.name()))),
        }
    }
    /// Hooks on a node's incoming gradients (`grad_fn.register_prehook`).
    fn register_prehook(&self, hook: Py<PyAny>) -> u64 {
        self.node.add_pre_hook(0, py_hook(hook))
    }
    fn _remove_prehook(&self, id: u64) {
        self.node.remove_pre_hook(id)
    }
    /// The Python context object of a custom Function node.
    #[getter]
    fn _ctx(&self, py: Python<'_>) -> Py<PyAny> {
        match self.node.custom().and_then(|c| c.as_any().downcast_ref::<PyFunctionBackward>()) {
            Some(f) => f.ctx.clone_ref(py),
            None => py.None(),
        }
    }
    /// A custom Function node's saved tensors (its ctx's), as torch exposes them on grad_fn.
    #[getter]
    fn saved_tensors(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.node.custom().and_then(|c| c.as_any().downcast_ref::<PyFunctionBackward>()) {
            Some(f) => Ok(f.ctx.bind(py).getattr("saved_tensors")?.unbind()),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!("'{}' object has no attribute 'saved_tensors'", self.node.name()))),
        }
    }
    fn __repr__(&self) -> String {
        format!("<{} object at {:#x}>", self.node.name(), Arc::as_ptr(&self.node) as usize)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyNode>() {
            Ok(o) => Arc::ptr_eq(&self.node, &o.get().node),
            Err(_) => false,
        }
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
}

/// A Python callable as a tensor hook: `hook(grad) -> Tensor | None`.
pub fn py_hook(hook: Py<PyAny>) -> Hook {
    Arc::new(move |g: &Tensor| -> CoreResult<Option<Tensor>> {
        Python::attach(|py| {
            let r = hook.call1(py, (PyTensor::wrap(py, g.clone()).map_err(external)?,)).map_err(external)?;
            if r.is_none(py) {
                return Ok(None);
            }
            match r.bind(py).cast::<PyTensor>() {
                Ok(t) => Ok(Some(t.get().inner.clone())),
                Err(_) => Err(external(pyo3::exceptions::PyTypeError::new_err("hook must return None or a Tensor"))),
            }
        })
    })
}

/// The backward of a Python `autograd.Function`: calls `backward_fn(ctx, *grads)`.
pub struct PyFunctionBackward {
    backward_fn: Py<PyAny>,
    ctx: Py<PyAny>,
    n_inputs: usize,
}

impl CustomBackward for PyFunctionBackward {
    fn backward(&self, grads: &[Option<Tensor>]) -> CoreResult<Vec<Option<Tensor>>> {
        Python::attach(|py| {
            let args: Vec<Py<PyAny>> = std::iter::once(Ok(self.ctx.clone_ref(py)))
                .chain(grads.iter().map(|g| match g {
                    Some(g) => PyTensor::wrap(py, g.clone()).map(|t| t.into_any()),
                    None => Ok(py.None()),
                }))
                .collect::<PyResult<_>>()
                .map_err(external)?;
            let r = self.backward_fn.call1(py, PyTuple::new(py, args).map_err(external)?).map_err(external)?;
            let r = r.bind(py);
            let items: Vec<Bound<'_, PyAny>> = match r.cast::<PyTuple>() {
                Ok(t) => t.iter().collect(),
                Err(_) => vec![r.clone()],
            };
            if items.len() < self.n_inputs {
                return Err(external(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "function backward returned an incorrect number of gradients (expected {}, got {})",
                    self.n_inputs,
                    items.len()
                ))));
            }
            items
                .iter()
                .take(self.n_inputs)
                .map(|o| {
                    if o.is_none() {
                        Ok(None)
                    } else {
                        o.cast::<PyTensor>()
                            .map(|t| Some(t.get().inner.clone()))
                            .map_err(|_| external(pyo3::exceptions::PyTypeError::new_err("backward must return Tensors or None")))
                    }
                })
                .collect()
        })
    }
    fn release(&self) {
        Python::attach(|py| {
            let _ = self.ctx.bind(py).call_method0("_release");
        });
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Reports to the garbage collector the Python objects a custom Function's node holds (its
/// ctx and backward), so `out -> grad_fn -> ctx -> out` cycles can be found and freed.
pub fn visit_node(node: &Node, visit: &pyo3::gc::PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
    if let Some(f) = node.custom().and_then(|c| c.as_any().downcast_ref::<PyFunctionBackward>()) {
        visit.call(&f.ctx)?;
        visit.call(&f.backward_fn)?;
    }
    Ok(())
}

fn tensors(list: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    list.try_iter()?.map(|o| Ok(o?.cast::<PyTensor>()?.get().inner.clone())).collect()
}

/// `_run_backward(outputs, grads, keep_graph, create_graph, inputs, allow_unused)`: with
/// `inputs=None` accumulates into leaves; otherwise returns the inputs' gradients.
#[pyfunction]
#[pyo3(signature = (outputs, grads, keep_graph, create_graph, inputs=None, allow_unused=false))]
fn _run_backward(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    keep_graph: bool,
    create_graph: bool,
    inputs: Option<&Bound<'_, PyAny>>,
    allow_unused: bool,
) -> PyResult<Py<PyAny>> {
    let outs = tensors(outputs)?;
    let gs = tensors(grads)?;
    let roots: Vec<(Tensor, Tensor)> = outs.into_iter().zip(gs).collect();
    let ins = inputs.map(tensors).transpose()?;
    let r = py.detach(|| graph::run_backward(&roots, ins.as_deref(), keep_graph, create_graph, allow_unused))?;
    if ins.is_none() {
        return Ok(py.None());
    }
    let items: Vec<Py<PyAny>> = r
        .into_iter()
        .map(|g| match g {
            Some(g) => PyTensor::wrap(py, g).map(|t| t.into_any()),
            None => Ok(py.None()),
        })
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

/// Names the grad_fn of `t`, the last node of a composite op, after the torch op it stands
/// for (`var` built from primitives reports `VarBackward0`). No-op without a grad_fn.
#[pyfunction]
fn _set_grad_fn_name(t: &Bound<'_, PyTensor>, name: String) {
    if let Some(f) = t.get().inner.grad_fn() {
        f.set_alias(name);
    }
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    graph::is_grad_enabled()
}

/// Sets grad mode for this thread; returns the previous mode.
#[pyfunction]
fn _set_grad_enabled(on: bool) -> bool {
    graph::set_grad_enabled(on)
}

/// Records a custom Function: `outputs` get a node whose backward calls `backward_fn(ctx, *grads)`.
#[pyfunction]
fn _record_function(py: Python<'_>, name: String, inputs: &Bound<'_, PyList>, outputs: &Bound<'_, PyList>, backward_fn: Py<PyAny>, ctx: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let ins = tensors(inputs.as_any())?;
    let outs = tensors(outputs.as_any())?;
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let out_refs: Vec<&Tensor> = outs.iter().collect();
    let op = GradOp::Custom(Arc::new(PyFunctionBackward { backward_fn, ctx, n_inputs: ins.len() }));
    let node = graph::record_named(&out_refs, &in_refs, op, &[], Some(name));
    node_obj(py, Some(node))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_function(wrap_pyfunction!(_run_backward, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_fn_name, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_record_function, m)?)?;
    Ok(())
}
