//! Fused optimizer updates: one call updates every parameter of a group in place, reading the
//! gradient and writing the parameter and its state in a single pass per element. The
//! arithmetic follows torch's single-tensor implementations op by op (same order, scalars
//! rounded to the element type), so trajectories agree to the element type's rounding.
//!
//! Every view is contiguous (checked by the caller); one tensor's elements are split into
//! chunks so large groups run on rayon's threads.

use super::elementwise::View;
use super::strided::{SendPtr, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, Result};
use num_traits::Float;
use rayon::prelude::*;

/// Hyper-parameters of an SGD step (torch.optim.SGD).
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// Hyper-parameters of an Adam/AdamW step; `decoupled` selects AdamW's weight decay.
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled: bool,
}

/// Hyper-parameters of an RMSprop step (torch.optim.RMSprop).
#[derive(Clone, Copy, Debug)]
pub struct RmspropConfig {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

/// Hyper-parameters of an Adagrad step (torch.optim.Adagrad).
#[derive(Clone, Copy, Debug)]
pub struct AdagradConfig {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
}

/// One parameter of an SGD group: `buf` is the momentum buffer (when momentum != 0) and
/// `first` says it is fresh, so it takes the gradient instead of decaying.
pub struct SgdParam<'a> {
    pub param: View<'a>,
    pub grad: View<'a>,
    pub buf: Option<View<'a>>,
    pub first: bool,
}

/// One parameter of an Adam group; `step` is its step count after this update (from 1).
pub struct AdamParam<'a> {
    pub param: View<'a>,
    pub grad: View<'a>,
    pub exp_avg: View<'a>,
    pub exp_avg_sq: View<'a>,
    pub max_exp_avg_sq: Option<View<'a>>,
    pub step: f64,
}

/// One parameter of an RMSprop group: `grad_avg` when centered, `momentum_buffer` when
/// momentum > 0.
pub struct RmspropParam<'a> {
    pub param: View<'a>,
    pub grad: View<'a>,
    pub square_avg: View<'a>,
    pub grad_avg: Option<View<'a>>,
    pub momentum_buffer: Option<View<'a>>,
}

/// One parameter of an Adagrad group; `step` is its step count after this update (from 1).
pub struct AdagradParam<'a> {
    pub param: View<'a>,
    pub grad: View<'a>,
    pub sum: View<'a>,
    pub step: f64,
}

#[inline]
fn ptr<T>(v: &View) -> SendPtr<T> {
    // SAFETY: the offset lies inside the buffer (the layout was validated against it).
    SendPtr(unsafe { (v.buf.as_ptr() as *mut T).add(v.layout.offset) })
}

/// Runs `f(tensor, start, end)` over chunks of every tensor; in parallel once the total is
/// large enough to pay for the handoff.
fn for_each_chunk(numels: &[usize], f: impl Fn(usize, usize, usize) + Sync + Send) {
    let total: usize = numels.iter().sum();
    if total < PARALLEL_THRESHOLD {
        for (t, &n) in numels.iter().enumerate() {
            f(t, 0, n);
        }
        return;
    }
    let jobs: Vec<(usize, usize, usize)> = numels
        .iter()
        .enumerate()
        .flat_map(|(t, &n)| (0..n).step_by(PARALLEL_THRESHOLD).map(move |s| (t, s, (s + PARALLEL_THRESHOLD).min(n))))
        .collect();
    super::team::park_helpers();
    jobs.into_par_iter().for_each(|(t, s, e)| f(t, s, e));
}

/// torch's lerp: `self + w * (end - self)`, or from the other end when |w| >= 0.5.
#[inline(always)]
fn lerp<T: Float>(a: T, b: T, w: T, half: T) -> T {
    if w.abs() < half {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::one() - w)
    }
}

/// torch.maximum: NaN wins.
#[inline(always)]
fn maximum<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b > a || b.is_nan() {
        b
    } else {
        a
    }
}

fn cast<T: Float>(x: f64) -> T {
    T::from(x).expect("a float scalar converts to any float type")
}

fn sgd_typed<T: Float + Send + Sync>(ps: &[SgdParam], c: &SgdConfig) {
    let (wd, mom, alpha, neg_lr) = (cast::<T>(c.weight_decay), cast::<T>(c.momentum), cast::<T>(1.0 - c.dampening), cast::<T>(-c.lr));
    let ptrs: Vec<_> = ps.iter().map(|p| (ptr::<T>(&p.param), ptr::<T>(&p.grad), p.buf.as_ref().map(ptr::<T>), p.first)).collect();
    let numels: Vec<usize> = ps.iter().map(|p| p.param.layout.numel()).collect();
    for_each_chunk(&numels, |t, s, e| {
        let (pp, gp, bp, first) = ptrs[t];
        for i in s..e {
            // SAFETY: i < numel of contiguous views; chunks of one tensor are disjoint.
            unsafe {
                let p = *pp.0.add(i);
                let mut d = *gp.0.add(i);
                if c.maximize {
                    d = -d;
                }
                if c.weight_decay != 0.0 {
                    d = d + wd * p;
                }
                if let Some(bp) = bp {
                    let b = if first { d } else { *bp.0.add(i) * mom + alpha * d };
                    *bp.0.add(i) = b;
                    d = if c.nesterov { d + mom * b } else { b };
                }
                *pp.0.add(i) = p + neg_lr * d;
            }
        }
    });
}

fn adam_typed<T: Float + Send + Sync>(ps: &[AdamParam], c: &AdamConfig) {
    let (wd, decay) = (cast::<T>(c.weight_decay), cast::<T>(1.0 - c.lr * c.weight_decay));
    let (w1, beta2, one_m_beta2, eps, half) = (cast::<T>(1.0 - c.beta1), cast::<T>(c.beta2), cast::<T>(1.0 - c.beta2), cast::<T>(c.eps), cast::<T>(0.5));
    let per: Vec<_> = ps
        .iter()
        .map(|p| {
            let step_size = c.lr / (1.0 - c.beta1.powf(p.step));
            let bc2_sqrt = (1.0 - c.beta2.powf(p.step)).powf(0.5);
            let ptrs = (ptr::<T>(&p.param), ptr::<T>(&p.grad), ptr::<T>(&p.exp_avg), ptr::<T>(&p.exp_avg_sq), p.max_exp_avg_sq.as_ref().map(ptr::<T>));
            (ptrs, cast::<T>(-step_size), cast::<T>(bc2_sqrt))
        })
        .collect();
    let numels: Vec<usize> = ps.iter().map(|p| p.param.layout.numel()).collect();
    for_each_chunk(&numels, |t, s, e| {
        let ((pp, gp, mp, vp, vmaxp), neg_step, bc2_sqrt) = per[t];
        for i in s..e {
            // SAFETY: as in sgd_typed.
            unsafe {
                let mut p = *pp.0.add(i);
                let mut d = *gp.0.add(i);
                if c.maximize {
                    d = -d;
                }
                if c.weight_decay != 0.0 {
                    if c.decoupled {
                        p = p * decay;
                    } else {
                        d = d + wd * p;
                    }
                }
                let m = lerp(*mp.0.add(i), d, w1, half);
                *mp.0.add(i) = m;
                let v = *vp.0.add(i) * beta2 + one_m_beta2 * d * d;
                *vp.0.add(i) = v;
                let v = match vmaxp {
                    Some(q) => {
                        let vm = maximum(*q.0.add(i), v);
                        *q.0.add(i) = vm;
                        vm
                    }
                    None => v,
                };
                let denom = v.sqrt() / bc2_sqrt + eps;
                *pp.0.add(i) = p + neg_step * m / denom;
            }
        }
    });
}

fn rmsprop_typed<T: Float + Send + Sync>(ps: &[RmspropParam], c: &RmspropConfig) {
    let (wd, alpha, one_m_alpha, eps, mom, neg_lr, half) =
        (cast::<T>(c.weight_decay), cast::<T>(c.alpha), cast::<T>(1.0 - c.alpha), cast::<T>(c.eps), cast::<T>(c.momentum), cast::<T>(-c.lr), cast::<T>(0.5));
    let ptrs: Vec<_> = ps
        .iter()
        .map(|p| (ptr::<T>(&p.param), ptr::<T>(&p.grad), ptr::<T>(&p.square_avg), p.grad_avg.as_ref().map(ptr::<T>), p.momentum_buffer.as_ref().map(ptr::<T>)))
        .collect();
    let numels: Vec<usize> = ps.iter().map(|p| p.param.layout.numel()).collect();
    for_each_chunk(&numels, |t, s, e| {
        let (pp, gp, sp, gap, bp) = ptrs[t];
        for i in s..e {
            // SAFETY: as in sgd_typed.
            unsafe {
                let p = *pp.0.add(i);
                let mut d = *gp.0.add(i);
                if c.maximize {
                    d = -d;
                }
                if c.weight_decay != 0.0 {
                    d = d + wd * p;
                }
                let sa = *sp.0.add(i) * alpha + one_m_alpha * d * d;
                *sp.0.add(i) = sa;
                let avg = match gap {
                    Some(q) => {
                        let ga = lerp(*q.0.add(i), d, one_m_alpha, half);
                        *q.0.add(i) = ga;
                        (sa + -T::one() * ga * ga).sqrt()
                    }
                    None => sa.sqrt(),
                } + eps;
                *pp.0.add(i) = match bp {
                    Some(q) => {
                        let b = *q.0.add(i) * mom + d / avg;
                        *q.0.add(i) = b;
                        p + neg_lr * b
                    }
                    None => p + neg_lr * d / avg,
                };
            }
        }
    });
}

fn adagrad_typed<T: Float + Send + Sync>(ps: &[AdagradParam], c: &AdagradConfig) {
    let (wd, eps) = (cast::<T>(c.weight_decay), cast::<T>(c.eps));
    let per: Vec<_> = ps
        .iter()
        .map(|p| {
            let clr = c.lr / (1.0 + (p.step - 1.0) * c.lr_decay);
            (ptr::<T>(&p.param), ptr::<T>(&p.grad), ptr::<T>(&p.sum), cast::<T>(-clr))
        })
        .collect();
    let numels: Vec<usize> = ps.iter().map(|p| p.param.layout.numel()).collect();
    for_each_chunk(&numels, |t, s, e| {
        let (pp, gp, sp, neg_clr) = per[t];
        for i in s..e {
            // SAFETY: as in sgd_typed.
            unsafe {
                let p = *pp.0.add(i);
                let mut d = *gp.0.add(i);
                if c.maximize {
                    d = -d;
                }
                if c.weight_decay != 0.0 {
                    d = d + wd * p;
                }
                let sum = *sp.0.add(i) + d * d;
                *sp.0.add(i) = sum;
                *pp.0.add(i) = p + neg_clr * d / (sum.sqrt() + eps);
            }
        }
    });
}

/// One SGD step over a group of contiguous float tensors of `dtype`.
pub fn sgd(ps: &[SgdParam], dtype: DType, c: &SgdConfig) -> Result<()> {
    match dtype {
        DType::F32 => sgd_typed::<f32>(ps, c),
        DType::F64 => sgd_typed::<f64>(ps, c),
        d => return Err(Error::not_implemented_for("_fused_sgd", d)),
    }
    Ok(())
}

/// One Adam/AdamW step over a group of contiguous float tensors of `dtype`.
pub fn adam(ps: &[AdamParam], dtype: DType, c: &AdamConfig) -> Result<()> {
    match dtype {
        DType::F32 => adam_typed::<f32>(ps, c),
        DType::F64 => adam_typed::<f64>(ps, c),
        d => return Err(Error::not_implemented_for("_fused_adam", d)),
    }
    Ok(())
}

/// One RMSprop step over a group of contiguous float tensors of `dtype`.
pub fn rmsprop(ps: &[RmspropParam], dtype: DType, c: &RmspropConfig) -> Result<()> {
    match dtype {
        DType::F32 => rmsprop_typed::<f32>(ps, c),
        DType::F64 => rmsprop_typed::<f64>(ps, c),
        d => return Err(Error::not_implemented_for("_fused_rmsprop", d)),
    }
    Ok(())
}

/// One Adagrad step over a group of contiguous float tensors of `dtype`.
pub fn adagrad(ps: &[AdagradParam], dtype: DType, c: &AdagradConfig) -> Result<()> {
    match dtype {
        DType::F32 => adagrad_typed::<f32>(ps, c),
        DType::F64 => adagrad_typed::<f64>(ps, c),
        d => return Err(Error::not_implemented_for("_fused_adagrad", d)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuBuffer;
    use crate::layout::Layout;

    fn buf(v: &[f64]) -> CpuBuffer {
        CpuBuffer::from_bytes(bytemuck::cast_slice(v))
    }
    fn read(b: &CpuBuffer) -> Vec<f64> {
        bytemuck::cast_slice::<u8, f64>(b.bytes()).to_vec()
    }
    /// Deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }
    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    /// The textbook SGD update, written independently of the kernel's op order.
    fn sgd_reference(p: &mut [f64], g: &[f64], b: &mut [f64], first: bool, c: &SgdConfig) {
        for i in 0..p.len() {
            let mut d = if c.maximize { -g[i] } else { g[i] } + c.weight_decay * p[i];
            if c.momentum != 0.0 {
                b[i] = if first { d } else { c.momentum * b[i] + (1.0 - c.dampening) * d };
                d = if c.nesterov { d + c.momentum * b[i] } else { b[i] };
            }
            p[i] -= c.lr * d;
        }
    }

    fn adam_reference(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], vmax: &mut [f64], step: f64, c: &AdamConfig) {
        for i in 0..p.len() {
            let mut d = if c.maximize { -g[i] } else { g[i] };
            if c.decoupled {
                p[i] *= 1.0 - c.lr * c.weight_decay;
            } else {
                d += c.weight_decay * p[i];
            }
            m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * d;
            v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * d * d;
            vmax[i] = vmax[i].max(v[i]);
            let vhat = if c.amsgrad { vmax[i] } else { v[i] } / (1.0 - c.beta2.powf(step));
            let mhat = m[i] / (1.0 - c.beta1.powf(step));
            p[i] -= c.lr * mhat / (vhat.sqrt() + c.eps);
        }
    }

    #[test]
    fn sgd_matches_reference() {
        // Two tensors, one above the parallel threshold so the chunked path runs too.
        let sizes = [7usize, PARALLEL_THRESHOLD + 13];
        for &(momentum, dampening, nesterov, maximize, wd) in
            &[(0.0, 0.0, false, false, 0.0), (0.9, 0.1, false, true, 0.01), (0.9, 0.0, true, false, 0.1)]
        {
            let c = SgdConfig { lr: 0.05, momentum, dampening, weight_decay: wd, nesterov, maximize };
            let mut ps: Vec<Vec<f64>> = sizes.iter().enumerate().map(|(k, &n)| values(n, k as u64)).collect();
            let mut bs: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
            let (pb, bb): (Vec<CpuBuffer>, Vec<CpuBuffer>) = (ps.iter().map(|v| buf(v)).collect(), bs.iter().map(|v| buf(v)).collect());
            let layouts: Vec<Layout> = sizes.iter().map(|&n| Layout::contiguous(&[n])).collect();
            for step in 0..3 {
                let gs: Vec<Vec<f64>> = sizes.iter().enumerate().map(|(k, &n)| values(n, 100 + step * 10 + k as u64)).collect();
                let gb: Vec<CpuBuffer> = gs.iter().map(|v| buf(v)).collect();
                let args: Vec<SgdParam> = (0..sizes.len())
                    .map(|k| SgdParam {
                        param: View::new(&pb[k], &layouts[k]),
                        grad: View::new(&gb[k], &layouts[k]),
                        buf: (momentum != 0.0).then(|| View::new(&bb[k], &layouts[k])),
                        first: step == 0,
                    })
                    .collect();
                sgd(&args, DType::F64, &c).unwrap();
                for k in 0..sizes.len() {
                    sgd_reference(&mut ps[k], &gs[k], &mut bs[k], step == 0, &c);
                    close(&read(&pb[k]), &ps[k]);
                }
            }
        }
    }

    #[test]
    fn adam_matches_reference() {
        let n = 33usize;
        let l = Layout::contiguous(&[n]);
        for &(amsgrad, maximize, decoupled, wd) in &[(false, false, false, 0.0), (true, true, false, 0.1), (true, false, true, 0.01)] {
            let c = AdamConfig { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: wd, amsgrad, maximize, decoupled };
            let mut p = values(n, 7);
            let (mut m, mut v, mut vmax) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let (pb, mb, vb, xb) = (buf(&p), buf(&m), buf(&v), buf(&vmax));
            for step in 1..=4 {
                let g = values(n, 50 + step);
                let gb = buf(&g);
                let args = [AdamParam {
                    param: View::new(&pb, &l),
                    grad: View::new(&gb, &l),
                    exp_avg: View::new(&mb, &l),
                    exp_avg_sq: View::new(&vb, &l),
                    max_exp_avg_sq: amsgrad.then(|| View::new(&xb, &l)),
                    step: step as f64,
                }];
                adam(&args, DType::F64, &c).unwrap();
                adam_reference(&mut p, &g, &mut m, &mut v, &mut vmax, step as f64, &c);
                close(&read(&pb), &p);
                close(&read(&mb), &m);
                close(&read(&vb), &v);
            }
        }
    }

    #[test]
    fn rmsprop_matches_reference() {
        let n = 29usize;
        let l = Layout::contiguous(&[n]);
        for &(centered, momentum, maximize, wd) in &[(false, 0.0, false, 0.0), (true, 0.9, true, 0.1), (true, 0.0, false, 0.01), (false, 0.5, false, 0.0)] {
            let c = RmspropConfig { lr: 0.01, alpha: 0.9, eps: 1e-8, weight_decay: wd, momentum, centered, maximize };
            let mut p = values(n, 3);
            let (mut sq, mut ga, mut b) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let (pb, sqb, gab, bb) = (buf(&p), buf(&sq), buf(&ga), buf(&b));
            for step in 1..=4u64 {
                let g = values(n, 70 + step);
                let gb = buf(&g);
                let args = [RmspropParam {
                    param: View::new(&pb, &l),
                    grad: View::new(&gb, &l),
                    square_avg: View::new(&sqb, &l),
                    grad_avg: centered.then(|| View::new(&gab, &l)),
                    momentum_buffer: (momentum > 0.0).then(|| View::new(&bb, &l)),
                }];
                rmsprop(&args, DType::F64, &c).unwrap();
                // The textbook update: v = a v + (1 - a) g^2, step g / (sqrt(v - mean^2) + eps).
                for i in 0..n {
                    let d = if maximize { -g[i] } else { g[i] } + wd * p[i];
                    sq[i] = c.alpha * sq[i] + (1.0 - c.alpha) * d * d;
                    ga[i] = c.alpha * ga[i] + (1.0 - c.alpha) * d;
                    let var = if centered { sq[i] - ga[i] * ga[i] } else { sq[i] };
                    let upd = d / (var.sqrt() + c.eps);
                    b[i] = momentum * b[i] + upd;
                    p[i] -= c.lr * if momentum > 0.0 { b[i] } else { upd };
                }
                close(&read(&pb), &p);
                close(&read(&sqb), &sq);
            }
        }
    }

    #[test]
    fn adagrad_matches_reference() {
        let n = 17usize;
        let l = Layout::contiguous(&[n]);
        for &(lr_decay, wd, maximize) in &[(0.0, 0.0, false), (0.1, 0.2, true)] {
            let c = AdagradConfig { lr: 0.1, lr_decay, weight_decay: wd, eps: 1e-10, maximize };
            let mut p = values(n, 11);
            let mut sum = vec![0.1; n];
            let (pb, sb) = (buf(&p), buf(&sum));
            for step in 1..=3u64 {
                let g = values(n, 90 + step);
                let gb = buf(&g);
                let args = [AdagradParam { param: View::new(&pb, &l), grad: View::new(&gb, &l), sum: View::new(&sb, &l), step: step as f64 }];
                adagrad(&args, DType::F64, &c).unwrap();
                let clr = c.lr / (1.0 + (step as f64 - 1.0) * lr_decay);
                for i in 0..n {
                    let d = if maximize { -g[i] } else { g[i] } + wd * p[i];
                    sum[i] += d * d;
                    p[i] -= clr * d / (sum[i].sqrt() + c.eps);
                }
                close(&read(&pb), &p);
                close(&read(&sb), &sum);
            }
        }
    }

    #[test]
    fn rejects_integer_dtypes() {
        let c = SgdConfig { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false };
        assert!(sgd(&[], DType::I64, &c).is_err());
    }
}
