//! The kernels against the CPU kernels, through the same tensor calls on both devices: odd
//! sizes (0, 1, not a multiple of the 256-wide workgroup), views with strides and offsets, grids
//! beyond 65535 workgroups, long scans, duplicate scatter positions, fused optimizer steps.
//! Without an adapter the tests pass vacuously, unless `RGRAD_REQUIRE_GPU=1` (set by CI,
//! which installs lavapipe) makes that a failure.

use crate::device::Device;
use crate::dtype::{DType, Scalar};
use crate::cpu::gather::ScatterReduce;
use crate::op::{BinaryOp, ScanOp};
use crate::optim::{adam_step, sgd_step, AdamConfig, SgdConfig};
use crate::tensor::{Rhs, Tensor};

const GPU: Device = Device::Gpu(0);

fn have_gpu() -> bool {
    if super::is_available() {
        return true;
    }
    assert!(std::env::var("RGRAD_REQUIRE_GPU").map_or(true, |v| v != "1"), "RGRAD_REQUIRE_GPU=1 but no GPU adapter");
    eprintln!("no GPU adapter: GPU kernel test skipped");
    false
}

/// Deterministic pseudo-random floats in [-scale, scale).
fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan()), "{what}[{k}]: {g} != {w}");
    }
}

/// f(x) on the CPU and on x moved to the GPU give the same float32 values.
fn same(x: &Tensor, f: impl Fn(&Tensor) -> Tensor, rtol: f32, atol: f32, what: &str) {
    let want = f(x).to_vec::<f32>().unwrap();
    let got = f(&x.to_device(GPU).unwrap());
    assert_eq!(got.device(), GPU, "{what}: result device");
    close(&got.to_vec::<f32>().unwrap(), &want, rtol, atol, what);
}

#[test]
fn elementwise_sizes_views_and_folded_grids() {
    if !have_gpu() {
        return;
    }
    let add = |t: &Tensor| t.binary(BinaryOp::Add, &Rhs::Scalar(Scalar::Float(1.5))).unwrap();
    for n in [0, 1, 255, 256, 257, 1000] {
        same(&Tensor::from_vec(data(n, n as u64, 4.0), &[n]).unwrap(), add, 0.0, 0.0, &format!("add n={n}"));
    }
    // a transposed view with an offset, plus a broadcast row
    let x = Tensor::from_vec(data(37 * 29, 1, 3.0), &[37, 29]).unwrap();
    let row = Tensor::from_vec(data(36, 2, 1.0), &[36]).unwrap();
    same(&x, |t| t.narrow(1, 1, 27).unwrap().t().unwrap().narrow(1, 1, 36).unwrap().binary(BinaryOp::Mul, &Rhs::Tensor(row.to_device(t.device()).unwrap())).unwrap(), 0.0, 0.0, "strided mul");
    // more than 65535 workgroups of 256: the grid folds into y
    let n = 65_535 * 256 + 300;
    same(&Tensor::from_vec(data(n, 3, 2.0), &[n]).unwrap(), add, 0.0, 0.0, "folded grid");
}

#[test]
fn reductions_odd_shapes() {
    if !have_gpu() {
        return;
    }
    for shape in [[1usize, 1], [3, 257], [513, 7], [2, 70_000]] {
        let x = Tensor::from_vec(data(shape[0] * shape[1], 5, 1.0), &shape).unwrap();
        for d in [0isize, 1] {
            same(&x, |t| t.sum(Some(&[d]), false, None).unwrap(), 1e-5, 1e-4, &format!("sum {shape:?} dim {d}"));
        }
        same(&x, |t| t.t().unwrap().sum(None, false, None).unwrap(), 1e-5, 1e-3, &format!("sum {shape:?}"));
    }
    let e = Tensor::zeros(&[0, 5], DType::F32, Device::Cpu).unwrap();
    same(&e, |t| t.sum(Some(&[0]), false, None).unwrap(), 0.0, 0.0, "empty sum");
}

#[test]
fn scans_of_long_rows_are_chunked() {
    if !have_gpu() {
        return;
    }
    // rows beyond a chunk (8192) and beyond what one workgroup can loop over on lavapipe
    for n in [1, 257, 8192, 8193, 2_000_000] {
        let ones = Tensor::full(&[n], Scalar::Float(1.0), DType::F32, GPU).unwrap();
        let got = ones.cumulative(ScanOp::Sum, 0, None).unwrap().to_vec::<f32>().unwrap();
        assert!(got.iter().enumerate().all(|(k, &v)| v == (k + 1) as f32), "cumsum of {n} ones");
    }
    let x = Tensor::from_vec(data(3 * 20_000, 7, 1.0), &[20_000, 3]).unwrap();
    same(&x, |t| t.cumulative(ScanOp::Sum, 0, None).unwrap(), 1e-4, 1e-3, "chunked cumsum along dim 0");
    let i = Tensor::from_vec((0..30_000).map(|k| (k % 201) as i32 - 100).collect::<Vec<i32>>(), &[30_000]).unwrap();
    let want = i.cumulative(ScanOp::Sum, 0, None).unwrap().to_vec::<i64>().unwrap();
    let got = i.to_device(GPU).unwrap().cumulative(ScanOp::Sum, 0, None).unwrap();
    assert_eq!(got.dtype(), DType::I64);
    assert_eq!(got.to_vec::<i64>().unwrap(), want, "int cumsum");
}

#[test]
fn scatter_duplicate_positions_store_one_of_the_values() {
    if !have_gpu() {
        return;
    }
    // narrow dtypes share a word between neighbours; a repeated position must end up holding one
    // of the values written there, not a mix of their bits
    for dtype in [DType::F16, DType::BF16, DType::U8, DType::F32] {
        let src = Tensor::from_vec((0..512).map(|k| (k % 97) as f32 + 1.0).collect::<Vec<f32>>(), &[512]).unwrap().to_dtype(dtype).unwrap();
        let idx = Tensor::from_vec((0..512).map(|k| (k % 5) as i64).collect::<Vec<i64>>(), &[512]).unwrap();
        let out = Tensor::zeros(&[6], dtype, GPU).unwrap();
        out.scatter_(0, &idx.to_device(GPU).unwrap(), &Rhs::Tensor(src.to_device(GPU).unwrap()), ScatterReduce::Replace).unwrap();
        let got = out.to_vec::<f32>().unwrap();
        let vals = src.to_vec::<f32>().unwrap();
        for (p, g) in got.iter().enumerate() {
            let cands: Vec<f32> = (0..512).filter(|k| k % 5 == p).map(|k| vals[k]).collect();
            assert!(if p == 5 { *g == 0.0 } else { cands.contains(g) }, "{dtype:?} position {p}: {g}");
        }
        let summed = Tensor::zeros(&[6], dtype, GPU).unwrap();
        summed.scatter_(0, &idx.narrow(0, 0, 20).unwrap().to_device(GPU).unwrap(), &Rhs::Tensor(src.to_device(GPU).unwrap().narrow(0, 0, 20).unwrap()), ScatterReduce::Sum).unwrap();
        let want = Tensor::zeros(&[6], dtype, Device::Cpu).unwrap();
        want.scatter_(0, &idx.narrow(0, 0, 20).unwrap(), &Rhs::Tensor(src.narrow(0, 0, 20).unwrap()), ScatterReduce::Sum).unwrap();
        close(&summed.to_vec::<f32>().unwrap(), &want.to_vec::<f32>().unwrap(), 0.0, 0.0, &format!("{dtype:?} scatter sum"));
    }
}

#[test]
fn fused_optimizer_kernels_match_the_cpu() {
    if !have_gpu() {
        return;
    }
    let n = 1000;
    let make = |dev: Device, seed: u64| Tensor::from_vec(data(n, seed, 1.0), &[n]).unwrap().to_device(dev).unwrap();
    let sgd = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, nesterov: true, maximize: false };
    let adam = AdamConfig { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, amsgrad: true, maximize: true, decoupled: true };
    let mut results = vec![];
    for dev in [Device::Cpu, GPU] {
        let (p, b) = (make(dev, 1), make(dev, 0));
        let (q, m, v, mx) = (make(dev, 2), Tensor::zeros(&[n], DType::F32, dev).unwrap(), Tensor::zeros(&[n], DType::F32, dev).unwrap(), Tensor::zeros(&[n], DType::F32, dev).unwrap());
        let step = Tensor::zeros(&[], DType::F32, Device::Cpu).unwrap();
        for s in 0..3 {
            let g = make(dev, 10 + s);
            assert!(sgd_step(&[p.clone()], &[g.clone()], Some(&[b.clone()]), &[s == 0], &sgd).unwrap());
            assert!(adam_step(&[q.clone()], &[g], &[m.clone()], &[v.clone()], Some(&[mx.clone()]), &[step.clone()], &adam).unwrap());
        }
        results.push([p, b, q, m, v, mx].map(|t| t.to_vec::<f32>().unwrap()));
    }
    for (k, name) in ["sgd param", "momentum buffer", "adam param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"].iter().enumerate() {
        close(&results[1][k], &results[0][k], 1e-5, 1e-6, name);
    }
}

#[test]
fn matmul_odd_and_transposed_operands() {
    if !have_gpu() {
        return;
    }
    for (m, k, n) in [(1, 1, 1), (65, 33, 17), (3, 200, 129)] {
        let a = Tensor::from_vec(data(m * k, 20, 1.0), &[k, m]).unwrap();
        let b = Tensor::from_vec(data(k * n, 21, 1.0), &[k, n]).unwrap();
        let want = a.t().unwrap().matmul(&b).unwrap().to_vec::<f32>().unwrap();
        let got = a.to_device(GPU).unwrap().t().unwrap().matmul(&b.to_device(GPU).unwrap()).unwrap().to_vec::<f32>().unwrap();
        close(&got, &want, 1e-4, 1e-4, &format!("matmul {m}x{k}x{n}"));
    }
}

#[test]
fn bitonic_sort_matches_the_cpu_sort() {
    if !have_gpu() {
        return;
    }
    // lengths around the 512-pair tile and the power-of-two padding, ties (few distinct
    // values) and NaN, ascending and descending; values and indices must match exactly
    for (rows, n) in [(1, 1), (3, 5), (2, 511), (2, 512), (2, 513), (1, 1025), (700, 3), (1, 5000)] {
        let mut v: Vec<f32> = data(rows * n, n as u64, 3.0).iter().map(|x| x.round()).collect();
        v[n / 2] = f32::NAN;
        let x = Tensor::from_vec(v, &[rows, n]).unwrap();
        let xg = x.to_device(GPU).unwrap();
        for descending in [false, true] {
            let (wv, wi) = x.sort(-1, descending, true).unwrap();
            let (gv, gi) = xg.sort(-1, descending, true).unwrap();
            assert_eq!(gv.device(), GPU);
            let what = format!("sort {rows}x{n} descending={descending}");
            close(&gv.to_vec::<f32>().unwrap(), &wv.to_vec::<f32>().unwrap(), 0.0, 0.0, &what);
            assert_eq!(gi.to_vec::<i64>().unwrap(), wi.to_vec::<i64>().unwrap(), "{what}: indices");
        }
        let k = (n / 3).max(1) as i64;
        let (wv, wi) = x.topk(k, -1, true, true).unwrap();
        let (gv, gi) = xg.topk(k, -1, true, true).unwrap();
        close(&gv.to_vec::<f32>().unwrap(), &wv.to_vec::<f32>().unwrap(), 0.0, 0.0, "topk");
        assert_eq!(gi.to_vec::<i64>().unwrap(), wi.to_vec::<i64>().unwrap(), "topk indices {rows}x{n}");
    }
}

#[test]
fn philox_draws_match_the_cpu_generator() {
    if !have_gpu() {
        return;
    }
    use crate::cpu::random::Distribution;
    // counters that carry into the high word, a view at an offset, odd sizes, and each kind
    // of draw the GPU makes: the bits must be the CPU's
    let dists = [
        (Distribution::Uniform { low: -0.1, high: 0.1 }, DType::F32),
        (Distribution::Uniform { low: 0.0, high: 1.0 }, DType::F16),
        (Distribution::Bernoulli { p: 0.3 }, DType::U8),
        (Distribution::RandInt { low: -2_147_483_648, high: 2_147_483_647 }, DType::I32),
        (Distribution::RandInt { low: 3, high: 1000 }, DType::I64),
    ];
    for (dist, dtype) in dists {
        for (n, offset) in [(1usize, 0u64), (257, u32::MAX as u64 - 100), (70_000, 1 << 40)] {
            let c = Tensor::zeros(&[n + 3], dtype, Device::Cpu).unwrap();
            let g = Tensor::zeros(&[n + 3], dtype, GPU).unwrap();
            for t in [&c, &g] {
                let v = t.narrow(0, 3, n as i64).unwrap();
                v.storage().fill_random(v.layout(), dtype, dist, 0xDEAD_BEEF_1234, offset).unwrap();
            }
            assert_eq!(g.to_device(Device::Cpu).unwrap().to_bytes().unwrap(), c.to_bytes().unwrap(), "{dist:?} {dtype:?} n={n}");
        }
    }
}
