//! Bindings for the fused optimizer steps (`rgrad._C._fused_sgd`, `_fused_adam`, ...); the
//! optimizers themselves are in python/rgrad/optim/. Conversion only: see crate::optim.

use super::tensor::PyTensor;
use crate::optim::{self, AdagradConfig, AdamConfig, RmspropConfig, SgdConfig};
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Groups this small update with the GIL held: releasing it would cost more than the work.
const DETACH_NUMEL: usize = 1 << 14;

fn tensors(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?
        .map(|o| {
            let o = o?;
            o.cast::<PyTensor>().map(|t| t.get().inner.clone()).map_err(|_| PyTypeError::new_err("expected a sequence of Tensors"))
        })
        .collect()
}

fn opt_tensors(seq: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<Tensor>>> {
    seq.filter(|s| !s.is_none()).map(tensors).transpose()
}

fn run(py: Python<'_>, params: &[Tensor], f: impl FnOnce() -> crate::error::Result<bool> + Send) -> PyResult<bool> {
    let numel: usize = params.iter().map(|p| p.numel()).sum();
    Ok(if numel >= DETACH_NUMEL { py.detach(f)? } else { f()? })
}

/// Returns False (writing nothing) when the group needs the composite path.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, momentum_buffers, first, *, lr, momentum, dampening, weight_decay, nesterov, maximize))]
fn _fused_sgd(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    momentum_buffers: Option<&Bound<'_, PyAny>>,
    first: Vec<bool>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<bool> {
    let (p, g, b) = (tensors(params)?, tensors(grads)?, opt_tensors(momentum_buffers)?);
    let c = SgdConfig { lr, momentum, dampening, weight_decay, nesterov, maximize };
    run(py, &p, || optim::sgd_step(&p, &g, b.as_deref(), &first, &c))
}

/// Returns False (writing nothing) when the group needs the composite path.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay))]
fn _fused_adam(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    exp_avgs: &Bound<'_, PyAny>,
    exp_avg_sqs: &Bound<'_, PyAny>,
    max_exp_avg_sqs: Option<&Bound<'_, PyAny>>,
    state_steps: &Bound<'_, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<bool> {
    let (p, g, m, v) = (tensors(params)?, tensors(grads)?, tensors(exp_avgs)?, tensors(exp_avg_sqs)?);
    let (vmax, s) = (opt_tensors(max_exp_avg_sqs)?, tensors(state_steps)?);
    let c = AdamConfig { lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled: decoupled_weight_decay };
    run(py, &p, || optim::adam_step(&p, &g, &m, &v, vmax.as_deref(), &s, &c))
}

/// Returns False (writing nothing) when the group needs the composite path.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, square_avgs, grad_avgs, momentum_buffers, state_steps, *, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
fn _fused_rmsprop(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    square_avgs: &Bound<'_, PyAny>,
    grad_avgs: Option<&Bound<'_, PyAny>>,
    momentum_buffers: Option<&Bound<'_, PyAny>>,
    state_steps: &Bound<'_, PyAny>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<bool> {
    let (p, g, sq, s) = (tensors(params)?, tensors(grads)?, tensors(square_avgs)?, tensors(state_steps)?);
    let (ga, b) = (opt_tensors(grad_avgs)?, opt_tensors(momentum_buffers)?);
    let c = RmspropConfig { lr, alpha, eps, weight_decay, momentum, centered, maximize };
    run(py, &p, || optim::rmsprop_step(&p, &g, &sq, ga.as_deref(), b.as_deref(), &s, &c))
}

/// Returns False (writing nothing) when the group needs the composite path.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, state_sums, state_steps, *, lr, lr_decay, weight_decay, eps, maximize))]
fn _fused_adagrad(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    state_sums: &Bound<'_, PyAny>,
    state_steps: &Bound<'_, PyAny>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<bool> {
    let (p, g, sums, s) = (tensors(params)?, tensors(grads)?, tensors(state_sums)?, tensors(state_steps)?);
    let c = AdagradConfig { lr, lr_decay, weight_decay, eps, maximize };
    run(py, &p, || optim::adagrad_step(&p, &g, &sums, &s, &c))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_fused_sgd, m)?)?;
    m.add_function(wrap_pyfunction!(_fused_adam, m)?)?;
    m.add_function(wrap_pyfunction!(_fused_rmsprop, m)?)?;
    m.add_function(wrap_pyfunction!(_fused_adagrad, m)?)?;
    Ok(())
}
