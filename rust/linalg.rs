//! Linear algebra at tensor level: torch's argument checks and messages, batch broadcasting,
//! output allocation, and turning per-matrix `info` codes into torch's LinAlgError messages
//! (naming the first failing batch element). The numerics live in cpu::linalg.

use crate::cpu::linalg::{eps, INFO_NONFINITE};
use crate::dtype::DType;
use crate::error::{Error, ErrorKind, Result};
use crate::op::{LinalgOp, LstsqDriver, QrMode};
use crate::shape::{broadcast_shape, fmt_shape};
use crate::storage::Storage;
use crate::tensor::Tensor;

fn err(kind: ErrorKind, msg: String) -> Error {
    Error::Msg { kind, msg }
}

/// How an op words its refusal of float16/bfloat16: with its own name, or through the LAPACK
/// kernel that torch dispatches to.
#[derive(Clone, Copy)]
pub enum LowPrecision {
    Named,
    Kernel(&'static str),
}

/// torch's dispatch failure, `"lu_cpu" not implemented for 'Half'` (a NotImplementedError).
fn kernel_missing(kernel: &str, d: DType) -> Error {
    err(ErrorKind::NotImplemented, format!("\"{kernel}\" not implemented for '{}'", d.torch_kernel_name()))
}

/// At least 2 dims, and square in the last two when `square`.
fn check_matrix(name: &str, a: &Tensor, var: &str, square: bool) -> Result<()> {
    if a.ndim() < 2 {
        return Err(Error::runtime(format!("{name}: The input tensor {var} must have at least 2 dimensions.")));
    }
    let (m, n) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    if square && m != n {
        return Err(Error::runtime(format!("{name}: A must be batches of square matrices, but they are {m} by {n} matrices")));
    }
    Ok(())
}

/// float32 / float64 only, with torch's NotImplementedError wording.
fn check_float(name: &str, a: &Tensor, low: LowPrecision) -> Result<()> {
    let d = a.dtype();
    match d {
        DType::F32 | DType::F64 => Ok(()),
        DType::F16 | DType::BF16 => Err(match low {
            LowPrecision::Named => err(ErrorKind::NotImplemented, format!("{name}: Low precision dtypes not supported. Got {}", d.torch_kernel_name())),
            LowPrecision::Kernel(k) => kernel_missing(k, d),
        }),
        _ => Err(err(ErrorKind::NotImplemented, format!("{name}: Expected a floating point or complex tensor as input. Got {}", d.torch_kernel_name()))),
    }
}

fn batch_of(a: &Tensor) -> &[usize] {
    &a.shape()[..a.ndim() - 2]
}

fn with_batch(batch: &[usize], tail: &[usize]) -> Vec<usize> {
    batch.iter().chain(tail).copied().collect()
}

fn expand_to(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    t.broadcast_to(shape)
}

/// Runs the kernel with freshly allocated contiguous outputs of the given shapes and dtypes.
fn run(op: LinalgOp, ins: &[&Tensor], outs: &[(Vec<usize>, DType)], nb: usize) -> Result<(Vec<Tensor>, Vec<i32>)> {
    let dev = ins[0].device();
    for t in &ins[1..] {
        ins[0].check_same_device(t)?;
    }
    let out: Vec<Tensor> = outs.iter().map(|(s, d)| Tensor::empty(s, *d, dev)).collect::<Result<_>>()?;
    let ins_sl: Vec<_> = ins.iter().map(|t| (t.storage(), t.layout())).collect();
    let outs_sl: Vec<_> = out.iter().map(|t| (t.storage(), t.layout(), t.dtype())).collect();
    let info = Storage::linalg(&op, ins[0].dtype(), &ins_sl, &outs_sl, nb)?;
    Ok((out, info))
}

/// The first nonzero `info` as torch's LinAlgError: "{prefix}(Batch element k): {message}".
fn raise(info: &[i32], batched: bool, prefix: &str, msg: impl Fn(i32) -> String) -> Result<()> {
    if let Some((b, &code)) = info.iter().enumerate().find(|(_, &c)| c != 0) {
        let at = if batched { format!("(Batch element {b}): ") } else { String::new() };
        return Err(Error::linalg(format!("{prefix}: {at}{}", msg(code))));
    }
    Ok(())
}

/// The `*_ex` info codes, on the device of the input they describe (as torch's).
fn info_tensor(info: Vec<i32>, batch: &[usize], device: crate::device::Device) -> Result<Tensor> {
    Tensor::from_vec(info, batch)?.to_device(device)
}

fn svd_message(code: i32) -> String {
    if code == INFO_NONFINITE {
        "The algorithm failed to converge because the input matrix contained non-finite values.".into()
    } else {
        format!("The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated singular values (error code: {code}).")
    }
}

fn eigh_message(code: i32) -> String {
    format!("The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated eigenvalues (error code: {code}).")
}

fn inv_message(code: i32) -> String {
    format!("The diagonal element {code} is zero, the inversion could not be completed because the input matrix is singular.")
}

/// linalg.inv / inv_ex: (inverse, info). With `check`, a singular matrix is an error.
pub fn inv(a: &Tensor, check: bool) -> Result<(Tensor, Tensor)> {
    let name = "linalg.inv";
    check_matrix(name, a, "A", true)?;
    check_float(name, a, LowPrecision::Named)?;
    let nb = a.ndim() - 2;
    let (out, info) = run(LinalgOp::Inv, &[a], &[(a.shape().to_vec(), a.dtype())], nb)?;
    if check {
        raise(&info, nb > 0, name, inv_message)?;
    }
    Ok((out.into_iter().next().unwrap(), info_tensor(info, batch_of(a), a.device())?))
}

/// linalg.det; `name` is what the messages call it.
pub fn det(a: &Tensor) -> Result<Tensor> {
    let name = "linalg.det";
    check_matrix(name, a, "A", true)?;
    check_float(name, a, LowPrecision::Kernel("lu_cpu"))?;
    let (out, _) = run(LinalgOp::Det, &[a], &[(batch_of(a).to_vec(), a.dtype())], a.ndim() - 2)?;
    Ok(out.into_iter().next().unwrap())
}

/// linalg.slogdet (and logdet's checks, under its own name): (sign, log|det|).
pub fn slogdet(a: &Tensor, name: &str) -> Result<(Tensor, Tensor)> {
    check_matrix(name, a, "A", true)?;
    check_float(name, a, LowPrecision::Named)?;
    let b = batch_of(a).to_vec();
    let (out, _) = run(LinalgOp::Slogdet, &[a], &[(b.clone(), a.dtype()), (b, a.dtype())], a.ndim() - 2)?;
    let mut it = out.into_iter();
    Ok((it.next().unwrap(), it.next().unwrap()))
}

/// linalg.solve / solve_ex: AX = B (left) or XA = B, batch dims broadcast; B may be a vector
/// (or a batch of vectors matching A's batch) for left=True. Returns (X, info).
pub fn solve(a: &Tensor, b: &Tensor, left: bool, check: bool) -> Result<(Tensor, Tensor)> {
    let name = "linalg.solve";
    check_matrix(name, a, "A", true)?;
    if b.ndim() < 1 {
        return Err(Error::runtime(format!("{name}: The input tensor B must have at least 2 dimensions.")));
    }
    check_float(name, a, LowPrecision::Kernel("lu_cpu"))?;
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "{name}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
            a.dtype().torch_kernel_name(),
            b.dtype().torch_kernel_name()
        )));
    }
    let n = a.shape()[a.ndim() - 1];
    let vector = b.ndim() == 1 || (b.ndim() + 1 == a.ndim() && b.shape() == &a.shape()[..a.ndim() - 1]);
    let bm = if vector { b.unsqueeze(-1)? } else { b.clone() };
    let (br, bc) = (bm.shape()[bm.ndim() - 2], bm.shape()[bm.ndim() - 1]);
    let ok = if left { br == n } else { bc == n && !vector };
    if !ok {
        return Err(Error::runtime(format!(
            "{name}: Incompatible shapes of A and B for the equation {} ({n}x{n} and {br}x{bc})",
            if left { "AX = B" } else { "XA = B" }
        )));
    }
    let batch = broadcast_shape(batch_of(a), &bm.shape()[..bm.ndim() - 2])?;
    let ae = expand_to(a, &with_batch(&batch, &[n, n]))?;
    let be = expand_to(&bm, &with_batch(&batch, &[br, bc]))?;
    let (out, info) = run(LinalgOp::Solve { left }, &[&ae, &be], &[(with_batch(&batch, &[br, bc]), a.dtype())], batch.len())?;
    if check {
        raise(&info, !batch.is_empty(), "torch.linalg.solve", |_| "The solver failed because the input matrix is singular.".into())?;
    }
    let x = out.into_iter().next().unwrap();
    let x = if vector { x.squeeze(Some(&[-1]))? } else { x };
    Ok((x, info_tensor(info, &batch, a.device())?))
}

/// linalg.cholesky / cholesky_ex: (L, info); `upper` returns L^T, factoring A's upper triangle.
pub fn cholesky(a: &Tensor, upper: bool, check: bool) -> Result<(Tensor, Tensor)> {
    let name = "linalg.cholesky";
    check_matrix(name, a, "A", true)?;
    check_float(name, a, LowPrecision::Kernel("cholesky_cpu"))?;
    let nb = a.ndim() - 2;
    let (out, info) = run(LinalgOp::Cholesky { upper }, &[a], &[(a.shape().to_vec(), a.dtype())], nb)?;
    if check {
        raise(&info, nb > 0, name, |k| {
            format!("The factorization could not be completed because the input is not positive-definite (the leading minor of order {k} is not positive-definite).")
        })?;
    }
    Ok((out.into_iter().next().unwrap(), info_tensor(info, batch_of(a), a.device())?))
}

pub fn qr_mode(mode: &str) -> Result<QrMode> {
    match mode {
        "reduced" => Ok(QrMode::Reduced),
        "complete" => Ok(QrMode::Complete),
        "r" => Ok(QrMode::R),
        _ => Err(Error::runtime(format!(
            "qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        ))),
    }
}

/// linalg.qr: (Q, R); mode 'r' gives an empty Q, as torch.
pub fn qr(a: &Tensor, mode: QrMode) -> Result<(Tensor, Tensor)> {
    let name = "linalg.qr";
    check_matrix(name, a, "A", false)?;
    check_float(name, a, LowPrecision::Kernel("geqrf_cpu"))?;
    let nb = a.ndim() - 2;
    let b = batch_of(a);
    let (m, n) = (a.shape()[nb], a.shape()[nb + 1]);
    let k = m.min(n);
    let dt = a.dtype();
    match mode {
        QrMode::R => {
            let (out, _) = run(LinalgOp::Qr { mode }, &[a], &[(with_batch(b, &[k, n]), dt)], nb)?;
            Ok((Tensor::empty(&[0], dt, a.device())?, out.into_iter().next().unwrap()))
        }
        _ => {
            let (qc, rr) = if mode == QrMode::Complete { (m, m) } else { (k, k) };
            let (out, _) = run(LinalgOp::Qr { mode }, &[a], &[(with_batch(b, &[m, qc]), dt), (with_batch(b, &[rr, n]), dt)], nb)?;
            let mut it = out.into_iter();
            Ok((it.next().unwrap(), it.next().unwrap()))
        }
    }
}

/// linalg.svd: (U, S, Vh); without vectors only S comes back.
pub fn svd(a: &Tensor, full_matrices: bool, compute_uv: bool) -> Result<Vec<Tensor>> {
    let name = "linalg.svd";
    check_matrix(name, a, "A", false)?;
    check_float(name, a, LowPrecision::Kernel("linalg_svd_cpu"))?;
    let nb = a.ndim() - 2;
    let b = batch_of(a);
    let (m, n) = (a.shape()[nb], a.shape()[nb + 1]);
    let k = m.min(n);
    let dt = a.dtype();
    let outs = if !compute_uv {
        vec![(with_batch(b, &[k]), dt)]
    } else if full_matrices {
        vec![(with_batch(b, &[m, m]), dt), (with_batch(b, &[k]), dt), (with_batch(b, &[n, n]), dt)]
    } else {
        vec![(with_batch(b, &[m, k]), dt), (with_batch(b, &[k]), dt), (with_batch(b, &[k, n]), dt)]
    };
    let (out, info) = run(LinalgOp::Svd { full_matrices, compute_uv }, &[a], &outs, nb)?;
    raise(&info, nb > 0, name, svd_message)?;
    Ok(out)
}

/// linalg.eigh / eigvalsh: ascending eigenvalues (and eigenvectors) from one triangle.
pub fn eigh(a: &Tensor, uplo: &str, vectors: bool) -> Result<Vec<Tensor>> {
    let name = "linalg.eigh";
    let upper = match uplo {
        "L" | "l" => false,
        "U" | "u" => true,
        _ => return Err(Error::runtime(format!("Expected UPLO argument to be 'L' or 'U', but got {uplo}"))),
    };
    check_matrix(name, a, "A", true)?;
    if !matches!(a.dtype(), DType::F32 | DType::F64) {
        return Err(kernel_missing("linalg_eigh_cpu", a.dtype()));
    }
    let nb = a.ndim() - 2;
    let n = a.shape()[nb];
    let b = batch_of(a);
    let mut outs = vec![(with_batch(b, &[n]), a.dtype())];
    if vectors {
        outs.push((a.shape().to_vec(), a.dtype()));
    }
    let (out, info) = run(LinalgOp::Eigh { upper, vectors }, &[a], &outs, nb)?;
    raise(&info, nb > 0, name, eigh_message)?;
    Ok(out)
}

pub fn lstsq_driver(driver: Option<&str>) -> Result<LstsqDriver> {
    match driver {
        None | Some("gelsy") => Ok(LstsqDriver::Gelsy),
        Some("gels") => Ok(LstsqDriver::Gels),
        Some("gelsd") => Ok(LstsqDriver::Gelsd),
        Some("gelss") => Ok(LstsqDriver::Gelss),
        Some(_) => Err(Error::runtime("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")),
    }
}

/// linalg.lstsq: (solution, residuals, rank, singular_values), with the optional results
/// present exactly when torch's CPU drivers produce them.
pub fn lstsq(a: &Tensor, b: &Tensor, rcond: Option<f64>, driver: LstsqDriver) -> Result<Vec<Tensor>> {
    let name = "torch.linalg.lstsq";
    if a.ndim() < 2 {
        return Err(Error::runtime(format!("{name}: input must have at least 2 dimensions.")));
    }
    if b.ndim() < 1 {
        return Err(Error::runtime(format!("{name}: other must have at least 1 dimension.")));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "{name}: Expected input and other to have the same dtype, but got input's dtype {} and other's dtype {}",
            a.dtype().torch_kernel_name(),
            b.dtype().torch_kernel_name()
        )));
    }
    if !matches!(a.dtype(), DType::F32 | DType::F64) {
        return Err(Error::runtime("This function doesn't handle types other than float and double"));
    }
    if a.ndim() < b.ndim() || a.ndim() - b.ndim() > 1 {
        return Err(Error::runtime(format!(
            "{name}: input.dim() must be greater or equal to other.dim() and (input.dim() - other.dim()) <= 1"
        )));
    }
    let vector = b.ndim() + 1 == a.ndim();
    let nb0 = a.ndim() - 2;
    let (m, n) = (a.shape()[nb0], a.shape()[nb0 + 1]);
    let bm = if vector { b.unsqueeze(-1)? } else { b.clone() };
    if bm.shape()[bm.ndim() - 2] != m {
        return Err(Error::runtime(format!(
            "{name}: input.size(-2) should match other.size({})",
            if vector { -1 } else { -2 }
        )));
    }
    let k = bm.shape()[bm.ndim() - 1];
    let batch = broadcast_shape(batch_of(a), &bm.shape()[..bm.ndim() - 2])?;
    let nb = batch.len();
    let ae = expand_to(a, &with_batch(&batch, &[m, n]))?;
    let be = expand_to(&bm, &with_batch(&batch, &[m, k]))?;
    let dt = a.dtype();
    let rcond = rcond.unwrap_or(eps(dt) * m.max(n) as f64);
    let outs = [
        (with_batch(&batch, &[n, k]), dt),
        (with_batch(&batch, &[k]), dt),
        (batch.to_vec(), DType::I64),
        (with_batch(&batch, &[m.min(n)]), dt),
    ];
    let (out, info) = run(LinalgOp::Lstsq { driver, rcond }, &[&ae, &be], &outs, nb)?;
    match driver {
        LstsqDriver::Gels => raise(&info, nb > 0, name, |k| {
            format!("The least squares solution could not be computed because the input matrix does not have full rank (error code: {k}).")
        })?,
        LstsqDriver::Gelsd | LstsqDriver::Gelss => raise(&info, nb > 0, "linalg.svd", svd_message)?,
        LstsqDriver::Gelsy => {}
    }
    let mut it = out.into_iter();
    let (x, res, rank, sv) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let x = if vector { x.squeeze(Some(&[-1]))? } else { x };
    let empty = |d: DType| Tensor::empty(&[0], d, a.device());
    let full_rank = || -> Result<bool> { Ok(rank.to_vec::<i64>()?.iter().all(|&r| r as usize == n)) };
    let residuals = match driver {
        LstsqDriver::Gelsy => empty(dt)?,
        _ if m <= n => empty(dt)?,
        LstsqDriver::Gels => res,
        _ if full_rank()? => res,
        _ => empty(dt)?,
    };
    let residuals = if vector && residuals.numel() > 0 { residuals.squeeze(Some(&[-1]))? } else { residuals };
    let rank = if driver == LstsqDriver::Gels { empty(DType::I64)? } else { rank };
    let sv = if matches!(driver, LstsqDriver::Gelsd | LstsqDriver::Gelss) { sv } else { empty(dt)? };
    Ok(vec![x, residuals, rank, sv])
}

/// torch's tolerance defaults for pinv / matrix_rank: rtol is eps * max(m, n) unless given,
/// or zero when only a positive atol is given.
fn tolerances(a: &Tensor, atol: Option<f64>, rtol: Option<f64>) -> (f64, f64) {
    let nd = a.ndim();
    let (m, n) = (a.shape()[nd - 2], a.shape()[nd - 1]);
    let default_rtol = eps(a.dtype()) * m.max(n) as f64;
    let rtol = match (atol, rtol) {
        (_, Some(r)) => r,
        (Some(at), None) if at > 0.0 => 0.0,
        _ => default_rtol,
    };
    (atol.unwrap_or(0.0), rtol)
}

/// linalg.pinv via SVD (or eigh when `hermitian`).
pub fn pinv(a: &Tensor, atol: Option<f64>, rtol: Option<f64>, hermitian: bool) -> Result<Tensor> {
    if a.ndim() < 2 || !matches!(a.dtype(), DType::F32 | DType::F64) {
        return Err(Error::runtime(format!(
            "linalg.pinv({}{{{}}}): expected a tensor with 2 or more dimensions of float, double, cfloat or cdouble types",
            a.dtype().torch_kernel_name(),
            fmt_shape(a.shape())
        )));
    }
    if hermitian {
        check_matrix("linalg.eigh", a, "A", true)?;
    }
    let nb = a.ndim() - 2;
    let (m, n) = (a.shape()[nb], a.shape()[nb + 1]);
    let (atol, rtol) = tolerances(a, atol, rtol);
    let (out, info) = run(LinalgOp::Pinv { hermitian, atol, rtol }, &[a], &[(with_batch(batch_of(a), &[n, m]), a.dtype())], nb)?;
    if hermitian {
        raise(&info, nb > 0, "linalg.eigh", eigh_message)?;
    } else {
        raise(&info, nb > 0, "linalg.svd", svd_message)?;
    }
    Ok(out.into_iter().next().unwrap())
}

/// linalg.matrix_rank: the number of singular values above pinv's tolerance.
pub fn matrix_rank(a: &Tensor, atol: Option<f64>, rtol: Option<f64>, hermitian: bool) -> Result<Tensor> {
    if a.ndim() < 2 {
        return Err(Error::runtime("torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."));
    }
    if !matches!(a.dtype(), DType::F32 | DType::F64) {
        return Err(Error::runtime("This function doesn't handle types other than float and double"));
    }
    if hermitian {
        check_matrix("linalg.eigh", a, "A", true)?;
    }
    let nb = a.ndim() - 2;
    let (atol, rtol) = tolerances(a, atol, rtol);
    let (out, info) = run(LinalgOp::MatrixRank { hermitian, atol, rtol }, &[a], &[(batch_of(a).to_vec(), DType::I64)], nb)?;
    if hermitian {
        raise(&info, nb > 0, "linalg.eigh", eigh_message)?;
    } else {
        raise(&info, nb > 0, "linalg.svd", svd_message)?;
    }
    Ok(out.into_iter().next().unwrap())
}

/// linalg.matrix_power. Integer matrices multiply exactly (wrapping, as torch's integer matmul)
/// in int64 and are cast back; half precision computes in float32.
pub fn matrix_power(a: &Tensor, k: i64) -> Result<Tensor> {
    let name = "linalg.matrix_power";
    check_matrix(name, a, "A", true)?;
    let dt = a.dtype();
    if k < 0 {
        let (inv, _) = inv(a, true)?;
        return matrix_power(&inv, -k);
    }
    if dt == DType::Bool {
        return Err(kernel_missing("addmm_impl_cpu_", dt));
    }
    let work = match dt {
        DType::F32 | DType::F64 => dt,
        DType::F16 | DType::BF16 => DType::F32,
        _ => DType::I64,
    };
    let x = a.to_dtype(work)?;
    let nb = a.ndim() - 2;
    let round_to = if work != dt && dt.is_float() { Some(dt) } else { None };
    let (out, info) = run(LinalgOp::MatrixPower { n: k, round_to }, &[&x], &[(a.shape().to_vec(), work)], nb)?;
    raise(&info, nb > 0, "linalg.inv", inv_message)?;
    out.into_iter().next().unwrap().to_dtype(dt)
}
