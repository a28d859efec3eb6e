//! Optimizer steps at tensor level: one fused kernel call updates a whole parameter group in
//! place (see cpu::optim). The caller (rgrad.optim) runs these under no_grad; the writes bypass
//! autograd recording but bump every written tensor's version counter like other in-place ops.
//!
//! A group the kernels cannot take (dtype other than float32/float64 — float32 on the GPU —,
//! a non-contiguous or mismatched tensor, a gradient aliasing its parameter) returns
//! `Ok(false)` before anything is written, and the caller runs its composite path instead.
//! On the GPU every step is a kernel of shaders/optim.wgsl, one dispatch per parameter.

use crate::cpu::optim::{self as kernel, AdagradParam, AdamParam, RmspropParam, SgdParam};
use crate::cpu::View;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::device::Device;
use crate::gpu::launch::{self as gl, OptimArg};
use crate::storage::Storage;
use crate::tensor::Tensor;

pub use crate::cpu::optim::{AdagradConfig, AdamConfig, RmspropConfig, SgdConfig};

fn view(t: &Tensor) -> View<'_> {
    View::new(t.storage().as_cpu().expect("fusable() admits CPU tensors only"), t.layout())
}

/// A GPU tensor's buffer and element offset (`fusable` admitted it).
fn gpu_arg(t: &Tensor) -> OptimArg<'_> {
    match t.storage() {
        Storage::Gpu(b) => (b, t.offset()),
        Storage::Cpu(_) => unreachable!("fusable() keeps a group on one device"),
    }
}

/// Whether the kernels can update `state` alongside `param`: same dtype, shape and device,
/// contiguous, and not sharing memory with the parameter. The CPU kernels take float32 and
/// float64, the GPU's float32.
fn fusable(param: &Tensor, others: &[&Tensor]) -> bool {
    let ok = |t: &Tensor| t.is_contiguous() && t.device() == param.device() && t.dtype() == param.dtype();
    let dtype_ok = match param.device() {
        Device::Cpu => matches!(param.dtype(), DType::F32 | DType::F64),
        Device::Gpu(_) => param.dtype() == DType::F32,
    };
    dtype_ok && ok(param) && others.iter().all(|o| ok(*o) && o.shape() == param.shape() && !o.overlaps(param))
}

fn on_gpu(params: &[Tensor]) -> bool {
    params.first().is_some_and(|p| p.device() != Device::Cpu)
}

fn check_len(op: &str, what: &str, n: usize, got: usize) -> Result<()> {
    if n != got {
        return Err(Error::runtime(format!("{op}: expected {n} {what}, got {got}")));
    }
    Ok(())
}

fn group_dtype(params: &[Tensor]) -> DType {
    params.first().map_or(DType::F32, |p| p.dtype())
}

/// One SGD step. `bufs` holds the momentum buffers when momentum != 0; `first[k]` marks a
/// buffer created for this step, which takes the gradient rather than decaying.
pub fn sgd_step(params: &[Tensor], grads: &[Tensor], bufs: Option<&[Tensor]>, first: &[bool], c: &SgdConfig) -> Result<bool> {
    let n = params.len();
    check_len("_fused_sgd", "gradients", n, grads.len())?;
    check_len("_fused_sgd", "first flags", n, first.len())?;
    if let Some(b) = bufs {
        check_len("_fused_sgd", "momentum buffers", n, b.len())?;
    }
    if !group_fusable(params, &[Some(grads), bufs]) {
        return Ok(false);
    }
    if on_gpu(params) {
        for k in 0..n {
            let buf = bufs.map(|b| gpu_arg(&b[k]));
            gl::sgd_step(gpu_arg(&params[k]), gpu_arg(&grads[k]), buf, params[k].numel(), first[k], c)?;
        }
    } else {
        let args: Vec<SgdParam> = (0..n)
            .map(|k| SgdParam { param: view(&params[k]), grad: view(&grads[k]), buf: bufs.map(|b| view(&b[k])), first: first[k] })
            .collect();
        kernel::sgd(&args, group_dtype(params), c)?;
    }
    bump_all(&[Some(params), bufs]);
    Ok(true)
}

/// The per-parameter step counters (torch's `state['step']`, one-element float tensors), each
/// incremented; returns the new counts.
fn increment_steps(op: &str, steps: &[Tensor]) -> Result<Vec<f64>> {
    let mut values = Vec::with_capacity(steps.len());
    for t in steps {
        if t.numel() != 1 || !t.dtype().is_float() {
            return Err(Error::runtime(format!("{op}: step must be a one-element float tensor, got shape {:?} and dtype {}", t.shape(), t.dtype())));
        }
        values.push(t.item()?.to_f64() + 1.0);
    }
    for (t, &v) in steps.iter().zip(&values) {
        t.storage().fill(t.layout(), t.dtype(), Scalar::Float(v))?;
        t.bump_version();
    }
    Ok(values)
}

/// Whether the whole group can run fused: every parameter of the group's dtype and fusable
/// with its entries of `lists` (gradients and state).
fn group_fusable(params: &[Tensor], lists: &[Option<&[Tensor]>]) -> bool {
    let dtype = group_dtype(params);
    params.iter().enumerate().all(|(k, p)| {
        let others: Vec<&Tensor> = lists.iter().flatten().map(|l| &l[k]).collect();
        p.dtype() == dtype && p.device() == params[0].device() && fusable(p, &others)
    })
}

fn bump_all(lists: &[Option<&[Tensor]>]) {
    for t in lists.iter().flatten().flat_map(|l| l.iter()) {
        t.bump_version();
    }
}

/// One Adam (or, with `c.decoupled`, AdamW) step; increments each parameter's step counter
/// first, as torch does, and derives the bias corrections from it.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    max_exp_avg_sqs: Option<&[Tensor]>,
    steps: &[Tensor],
    c: &AdamConfig,
) -> Result<bool> {
    let n = params.len();
    check_len("_fused_adam", "gradients", n, grads.len())?;
    check_len("_fused_adam", "exp_avgs", n, exp_avgs.len())?;
    check_len("_fused_adam", "exp_avg_sqs", n, exp_avg_sqs.len())?;
    check_len("_fused_adam", "state steps", n, steps.len())?;
    if let Some(m) = max_exp_avg_sqs {
        check_len("_fused_adam", "max_exp_avg_sqs", n, m.len())?;
    }
    if c.amsgrad != max_exp_avg_sqs.is_some() {
        return Err(Error::runtime("_fused_adam: max_exp_avg_sqs must be given exactly when amsgrad=True"));
    }
    if !group_fusable(params, &[Some(grads), Some(exp_avgs), Some(exp_avg_sqs), max_exp_avg_sqs]) {
        return Ok(false);
    }
    let step_values = increment_steps("_fused_adam", steps)?;
    if on_gpu(params) {
        for k in 0..n {
            let state = [Some(gpu_arg(&exp_avgs[k])), Some(gpu_arg(&exp_avg_sqs[k])), max_exp_avg_sqs.map(|m| gpu_arg(&m[k]))];
            gl::adam_step(gpu_arg(&params[k]), gpu_arg(&grads[k]), state, params[k].numel(), step_values[k], c)?;
        }
    } else {
        let args: Vec<AdamParam> = (0..n)
            .map(|k| AdamParam {
                param: view(&params[k]),
                grad: view(&grads[k]),
                exp_avg: view(&exp_avgs[k]),
                exp_avg_sq: view(&exp_avg_sqs[k]),
                max_exp_avg_sq: max_exp_avg_sqs.map(|m| view(&m[k])),
                step: step_values[k],
            })
            .collect();
        kernel::adam(&args, group_dtype(params), c)?;
    }
    bump_all(&[Some(params), Some(exp_avgs), Some(exp_avg_sqs), max_exp_avg_sqs]);
    Ok(true)
}

/// One RMSprop step; `grad_avgs` when centered, `momentum_buffers` when momentum > 0.
#[allow(clippy::too_many_arguments)]
pub fn rmsprop_step(
    params: &[Tensor],
    grads: &[Tensor],
    square_avgs: &[Tensor],
    grad_avgs: Option<&[Tensor]>,
    momentum_buffers: Option<&[Tensor]>,
    steps: &[Tensor],
    c: &RmspropConfig,
) -> Result<bool> {
    let n = params.len();
    check_len("_fused_rmsprop", "gradients", n, grads.len())?;
    check_len("_fused_rmsprop", "square_avgs", n, square_avgs.len())?;
    check_len("_fused_rmsprop", "state steps", n, steps.len())?;
    if c.centered != grad_avgs.is_some() || (c.momentum > 0.0) != momentum_buffers.is_some() {
        return Err(Error::runtime("_fused_rmsprop: grad_avgs must be given exactly when centered, momentum_buffers exactly when momentum > 0"));
    }
    for (what, l) in [("grad_avgs", grad_avgs), ("momentum_buffers", momentum_buffers)] {
        if let Some(l) = l {
            check_len("_fused_rmsprop", what, n, l.len())?;
        }
    }
    if !group_fusable(params, &[Some(grads), Some(square_avgs), grad_avgs, momentum_buffers]) {
        return Ok(false);
    }
    increment_steps("_fused_rmsprop", steps)?;
    if on_gpu(params) {
        for k in 0..n {
            let state = [Some(gpu_arg(&square_avgs[k])), grad_avgs.map(|l| gpu_arg(&l[k])), momentum_buffers.map(|l| gpu_arg(&l[k]))];
            gl::rmsprop_step(gpu_arg(&params[k]), gpu_arg(&grads[k]), state, params[k].numel(), c)?;
        }
    } else {
        let args: Vec<RmspropParam> = (0..n)
            .map(|k| RmspropParam {
                param: view(&params[k]),
                grad: view(&grads[k]),
                square_avg: view(&square_avgs[k]),
                grad_avg: grad_avgs.map(|l| view(&l[k])),
                momentum_buffer: momentum_buffers.map(|l| view(&l[k])),
            })
            .collect();
        kernel::rmsprop(&args, group_dtype(params), c)?;
    }
    bump_all(&[Some(params), Some(square_avgs), grad_avgs, momentum_buffers]);
    Ok(true)
}

/// One Adagrad step; the learning rate decays with each parameter's own step count.
pub fn adagrad_step(params: &[Tensor], grads: &[Tensor], sums: &[Tensor], steps: &[Tensor], c: &AdagradConfig) -> Result<bool> {
    let n = params.len();
    check_len("_fused_adagrad", "gradients", n, grads.len())?;
    check_len("_fused_adagrad", "state sums", n, sums.len())?;
    check_len("_fused_adagrad", "state steps", n, steps.len())?;
    if !group_fusable(params, &[Some(grads), Some(sums)]) {
        return Ok(false);
    }
    let step_values = increment_steps("_fused_adagrad", steps)?;
    if on_gpu(params) {
        for k in 0..n {
            gl::adagrad_step(gpu_arg(&params[k]), gpu_arg(&grads[k]), gpu_arg(&sums[k]), params[k].numel(), step_values[k], c)?;
        }
    } else {
        let args: Vec<AdagradParam> = (0..n)
            .map(|k| AdagradParam { param: view(&params[k]), grad: view(&grads[k]), sum: view(&sums[k]), step: step_values[k] })
            .collect();
        kernel::adagrad(&args, group_dtype(params), c)?;
    }
    bump_all(&[Some(params), Some(sums)]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SgdConfig {
        SgdConfig { lr: 0.5, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false }
    }

    #[test]
    fn sgd_updates_and_bumps_versions() {
        let p = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        let g = Tensor::from_vec(vec![0.5f32, -1.0], &[2]).unwrap();
        let v0 = p.version();
        assert!(sgd_step(&[p.clone()], &[g], None, &[false], &cfg()).unwrap());
        assert_eq!(p.to_vec::<f32>().unwrap(), vec![0.75, 2.5]);
        assert!(p.version() > v0);
    }

    #[test]
    fn unfusable_groups_are_left_untouched() {
        let p = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let g = Tensor::from_vec(vec![1.0f32; 4], &[2, 2]).unwrap().t().unwrap();
        assert!(!sgd_step(&[p.clone()], &[g], None, &[false], &cfg()).unwrap());
        let i = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert!(!sgd_step(&[i.clone()], &[i], None, &[false], &cfg()).unwrap());
        assert_eq!(p.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(p.version(), 0);
    }

    #[test]
    fn adam_increments_steps() {
        let p = Tensor::from_vec(vec![1.0f64, -1.0], &[2]).unwrap();
        let g = Tensor::from_vec(vec![0.1f64, 0.2], &[2]).unwrap();
        let (m, v) = (Tensor::from_vec(vec![0.0f64; 2], &[2]).unwrap(), Tensor::from_vec(vec![0.0f64; 2], &[2]).unwrap());
        let s = Tensor::from_vec(vec![0.0f32], &[]).unwrap();
        let c = AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, amsgrad: false, maximize: false, decoupled: false };
        for _ in 0..2 {
            assert!(adam_step(&[p.clone()], &[g.clone()], &[m.clone()], &[v.clone()], None, &[s.clone()], &c).unwrap());
        }
        assert_eq!(s.item().unwrap().to_f64(), 2.0);
        // With a constant gradient the bias-corrected update is lr * sign(g) each step.
        let got = p.to_vec::<f64>().unwrap();
        assert!((got[0] - 0.8).abs() < 1e-6 && (got[1] + 1.2).abs() < 1e-6, "{got:?}");
    }
}
