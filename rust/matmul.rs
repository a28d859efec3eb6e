//! The matrix-product family on tensors: torch's shape rules (1-D/2-D/N-D matmul with batch
//! broadcasting, folding), dtype checks with torch's messages, and output allocation. The
//! arithmetic is one storage call, `Storage::matmul`, over layouts that already carry the
//! broadcasting (stride-0 batch dims), so no operand is materialised just to broadcast it.

use crate::dtype::{DType, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::op::BinaryOp;
use crate::shape::{broadcast_shape, fmt_shape, wrap_dim, Dims};
use crate::backprop::GradOp;
use crate::graph::{self, Save};
use crate::tensor::{Rhs, Tensor};
use smallvec::SmallVec;


/// torch's `"op" not implemented for 'Bool'` (a NotImplementedError).
fn no_bool(op: &str, d: DType) -> Result<()> {
    if d == DType::Bool {
        return Err(Error::Msg { kind: ErrorKind::NotImplemented, msg: format!("\"{op}\" not implemented for 'Bool'") });
    }
    Ok(())
}

/// `m x n` as torch prints matrix sizes.
fn mat_str(shape: &[usize]) -> String {
    format!("{}x{}", shape[0], shape[1])
}

/// torch ignores `input` entirely when beta is zero (NaN there does not propagate).
fn beta_is_zero(beta: Scalar, dtype: DType) -> bool {
    if dtype.is_float() {
        beta.to_f64() == 0.0
    } else {
        beta.to_i64() == 0
    }
}

fn dims_of(shape: &[usize]) -> Dims {
    SmallVec::from_slice(shape)
}

fn i64s(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&s| s as i64).collect()
}

impl Tensor {
    /// The shared tail of every product: `out = beta * init + alpha * a @ b` where the layouts
    /// of a `[..., m, k]` and b `[..., k, n]` already have the output's batch shape.
    fn product(a: &Tensor, la: &Layout, b: &Tensor, lb: &Layout, alpha: Scalar, init: Option<(&Tensor, Scalar)>) -> Result<Tensor> {
        a.check_same_device(b)?;
        let nd = la.ndim();
        let mut shape = dims_of(&la.shape[..nd - 1]);
        shape.push(lb.shape[nd - 1]);
        let dtype = a.dtype();
        let (out, beta) = match init {
            Some((input, beta)) => {
                a.check_same_device(input)?;
                let seeded = input.broadcast_to(&shape)?;
                if beta_is_zero(beta, dtype) {
                    (Tensor::empty(&shape, dtype, a.device())?, None)
                } else {
                    (seeded.copy_as(dtype)?, Some(beta))
                }
            }
            None => (Tensor::empty(&shape, dtype, a.device())?, None),
        };
        a.storage().matmul(la, b.storage(), lb, out.storage(), out.layout(), dtype, alpha, beta)?;
        Ok(out)
    }

    // ----- 2-D and batched products ---------------------------------------------------------

    fn check_mm_args(prefix: &str, m1: &Tensor, m2: &Tensor) -> Result<()> {
        if m1.ndim() != 2 {
            return Err(Error::runtime(format!("{prefix}: self must be a matrix, got {}-D tensor", m1.ndim())));
        }
        if m2.ndim() != 2 {
            return Err(Error::runtime(format!("{prefix}: mat2 must be a matrix, got {}-D tensor", m2.ndim())));
        }
        if m1.shape()[1] != m2.shape()[0] {
            return Err(Error::runtime(format!(
                "{prefix}: mat1 and mat2 shapes cannot be multiplied ({} and {})",
                mat_str(m1.shape()),
                mat_str(m2.shape())
            )));
        }
        Ok(())
    }

    /// `mm(self, mat2)`.
    pub fn mm(&self, mat2: &Tensor) -> Result<Tensor> {
        graph::recorded(&[self, mat2], &[Save::Input(0), Save::Input(1)], || GradOp::Mm, || self.mm_raw(mat2))
    }

    fn mm_raw(&self, mat2: &Tensor) -> Result<Tensor> {
        Self::check_mm_args("mm", self, mat2)?;
        if self.dtype() != mat2.dtype() {
            return Err(Error::runtime(format!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                self.dtype().cpp_name(),
                mat2.dtype().cpp_name()
            )));
        }
        // torch returns before dispatching on the dtype when there is nothing to multiply.
        let (m, k, n) = (self.shape()[0], self.shape()[1], mat2.shape()[1]);
        if m * n == 0 || k == 0 {
            self.check_same_device(mat2)?;
            return Tensor::zeros(&[m, n], self.dtype(), self.device());
        }
        no_bool("addmm_impl_cpu_", self.dtype())?;
        Self::product(self, self.layout(), mat2, mat2.layout(), Scalar::Int(1), None)
    }

    /// `addmm(self, mat1, mat2, beta, alpha)`: beta * self + alpha * mat1 @ mat2.
    pub fn addmm(&self, mat1: &Tensor, mat2: &Tensor, beta: Scalar, alpha: Scalar) -> Result<Tensor> {
        if graph::needs_grad(&[self, mat1, mat2]) {
            Self::check_mm_args("addmm", mat1, mat2)?;
            return Self::scaled_sum(self, beta, &mat1.mm(mat2)?, alpha, "AddmmBackward0");
        }
        Self::check_mm_args("addmm", mat1, mat2)?;
        let shape = [mat1.shape()[0], mat2.shape()[1]];
        self.broadcast_to(&shape)?;
        if self.dtype() != mat2.dtype() {
            return Err(Error::runtime(format!(
                "self and mat2 must have the same dtype, but got {} and {}",
                self.dtype().torch_kernel_name(),
                mat2.dtype().torch_kernel_name()
            )));
        }
        if mat1.dtype() != mat2.dtype() {
            return Err(Error::runtime(format!(
                "mat1 and mat2 must have the same dtype, but got {} and {}",
                mat1.dtype().torch_kernel_name(),
                mat2.dtype().torch_kernel_name()
            )));
        }
        no_bool("addmm_impl_cpu_", self.dtype())?;
        Self::product(mat1, mat1.layout(), mat2, mat2.layout(), alpha, Some((self, beta)))
    }

    fn check_bmm_args(b1: &Tensor, b2: &Tensor) -> Result<()> {
        if b1.ndim() != 3 {
            return Err(Error::runtime("batch1 must be a 3D tensor"));
        }
        if b2.ndim() != 3 {
            return Err(Error::runtime("batch2 must be a 3D tensor"));
        }
        let (s1, s2) = (b1.shape(), b2.shape());
        if s2[0] != s1[0] || s2[1] != s1[2] {
            return Err(Error::runtime(format!(
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                s1[0], s1[2], s2[0], s2[1]
            )));
        }
        Ok(())
    }

    fn check_scalar_type(expected: DType, found: DType) -> Result<()> {
        if expected != found {
            return Err(Error::runtime(format!(
                "expected scalar type {} but found {}",
                expected.torch_kernel_name(),
                found.torch_kernel_name()
            )));
        }
        Ok(())
    }

    /// `bmm(self, mat2)` for 3-D operands of one batch size.
    pub fn bmm(&self, mat2: &Tensor) -> Result<Tensor> {
        graph::recorded(&[self, mat2], &[Save::Input(0), Save::Input(1)], || GradOp::Bmm, || self.bmm_raw(mat2))
    }

    fn bmm_raw(&self, mat2: &Tensor) -> Result<Tensor> {
        Self::check_bmm_args(self, mat2)?;
        let (b, m, k, n) = (self.shape()[0], self.shape()[1], self.shape()[2], mat2.shape()[2]);
        if b * m * n == 0 || k == 0 {
            // torch's bmm returns before any dtype check when there is nothing to multiply,
            // its result typed as batch2.
            self.check_same_device(mat2)?;
            return Tensor::zeros(&[b, m, n], mat2.dtype(), self.device());
        }
        // torch dispatches on batch1's dtype before comparing the two.
        no_bool("bmm", self.dtype())?;
        Self::check_scalar_type(self.dtype(), mat2.dtype())?;
        Self::product(self, self.layout(), mat2, mat2.layout(), Scalar::Int(1), None)
    }

    /// `baddbmm(self, batch1, batch2, beta, alpha)`.
    pub fn baddbmm(&self, batch1: &Tensor, batch2: &Tensor, beta: Scalar, alpha: Scalar) -> Result<Tensor> {
        if graph::needs_grad(&[self, batch1, batch2]) {
            return Self::scaled_sum(self, beta, &batch1.bmm(batch2)?, alpha, "BaddbmmBackward0");
        }
        Self::check_bmm_args(batch1, batch2)?;
        let shape = [batch1.shape()[0], batch1.shape()[1], batch2.shape()[2]];
        self.broadcast_to(&shape)?;
        if self.dtype() != batch1.dtype() {
            return Err(Error::runtime(format!(
                "Input dtypes must be the same, got: input {}, batch1: {}, batch2: {}",
                self.dtype().cpp_name(),
                batch1.dtype().cpp_name(),
                batch2.dtype().cpp_name()
            )));
        }
        Self::check_scalar_type(batch1.dtype(), batch2.dtype())?;
        no_bool("baddbmm", self.dtype())?;
        Self::product(batch1, batch1.layout(), batch2, batch2.layout(), alpha, Some((self, beta)))
    }

    /// `addbmm(self, batch1, batch2, beta, alpha)`: beta * self + alpha * sum_i batch1[i] @ batch2[i].
    pub fn addbmm(&self, batch1: &Tensor, batch2: &Tensor, beta: Scalar, alpha: Scalar) -> Result<Tensor> {
        if graph::needs_grad(&[self, batch1, batch2]) {
            let p = batch1.bmm(batch2)?.sum(Some(&[0]), false, None)?;
            return Self::scaled_sum(self, beta, &p, alpha, "AddbmmBackward0");
        }
        if batch1.ndim() != 3 {
            return Err(Error::runtime("batch1 must be a 3D tensor"));
        }
        if batch2.ndim() != 3 {
            return Err(Error::runtime("batch2 must be a 3D tensor"));
        }
        let (s1, s2) = (batch1.shape(), batch2.shape());
        if s1[0] != s2[0] {
            return Err(Error::runtime(format!(
                "batch1 and batch2 must have same number of batches, got {} and {}",
                s1[0], s2[0]
            )));
        }
        if s1[2] != s2[1] {
            return Err(Error::runtime(format!(
                "Incompatible matrix sizes for bmm ({}x{} and {}x{})",
                s1[1], s1[2], s2[1], s2[2]
            )));
        }
        let shape = [s1[1], s2[2]];
        self.broadcast_to(&shape)?;
        if self.dtype() != batch2.dtype() {
            return Err(Error::runtime(format!(
                "self and mat2 must have the same dtype, but got {} and {}",
                self.dtype().torch_kernel_name(),
                batch2.dtype().torch_kernel_name()
            )));
        }
        if batch1.dtype() != batch2.dtype() {
            return Err(Error::runtime(format!(
                "mat1 and mat2 must have the same dtype, but got {} and {}",
                batch1.dtype().torch_kernel_name(),
                batch2.dtype().torch_kernel_name()
            )));
        }
        no_bool("addmm_impl_cpu_", self.dtype())?;
        // The batch sum is a single product over a joint inner dim: [m, (b k)] @ [(b k), n].
        // batch1 needs a copy for that view unless it is already laid out as b-major blocks of
        // columns; batch2's view is free when it is contiguous.
        let (b, m, k, n) = (s1[0] as i64, s1[1] as i64, s1[2] as i64, s2[2] as i64);
        let a = batch1.permute(&[1, 0, 2])?.reshape(&[m, b * k])?;
        let c = batch2.reshape(&[b * k, n])?;
        Self::product(&a, a.layout(), &c, c.layout(), alpha, Some((self, beta)))
    }

    // ----- vectors --------------------------------------------------------------------------

    fn check_dot_args(a: &Tensor, b: &Tensor) -> Result<()> {
        if a.ndim() != 1 || b.ndim() != 1 {
            return Err(Error::runtime(format!(
                "1D tensors expected, but got {}D and {}D tensors",
                a.ndim(),
                b.ndim()
            )));
        }
        if a.dtype() != b.dtype() {
            return Err(Error::runtime(format!(
                "dot : expected both vectors to have same dtype, but found {} and {}",
                a.dtype().torch_kernel_name(),
                b.dtype().torch_kernel_name()
            )));
        }
        if a.numel() != b.numel() {
            return Err(Error::runtime(format!(
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                a.numel(),
                b.numel(),
                a.numel(),
                b.numel()
            )));
        }
        no_bool("dot", a.dtype())
    }

    /// `dot(self, other)` (also `vdot`, identical for real dtypes): a 0-d result.
    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        graph::recorded(&[self, other], &[Save::Input(0), Save::Input(1)], || GradOp::Dot, || self.dot_raw(other))
    }

    fn dot_raw(&self, other: &Tensor) -> Result<Tensor> {
        Self::check_dot_args(self, other)?;
        let la = self.layout().unsqueeze(0)?;
        let lb = other.layout().unsqueeze(1)?;
        let r = Self::product(self, &la, other, &lb, Scalar::Int(1), None)?;
        r.view(&[])
    }

    fn check_addmv_args(input_dim: usize, input_numel: usize, mat: &Tensor, vec: &Tensor) -> Result<()> {
        if !(mat.ndim() == 2 && vec.ndim() == 1 && input_dim <= 1) {
            return Err(Error::runtime(format!(
                "vector + matrix @ vector expected, got {}, {}, {}",
                input_dim,
                mat.ndim(),
                vec.ndim()
            )));
        }
        let (ms, vs) = (mat.shape(), vec.shape());
        if ms[1] != vs[0] || (ms[0] != input_numel && input_numel != 1) {
            return Err(Error::runtime(format!(
                "size mismatch, got input ({}), mat ({}), vec ({})",
                input_numel,
                mat_str(ms),
                vs[0]
            )));
        }
        Ok(())
    }

    fn check_addmv_dtypes(input: DType, mat: DType, vec: DType) -> Result<()> {
        if input != mat || mat != vec {
            return Err(Error::runtime(format!(
                "addmv input tensors must have the same dtype, but got {}, {}, and {}",
                input.torch_kernel_name(),
                mat.torch_kernel_name(),
                vec.torch_kernel_name()
            )));
        }
        Ok(())
    }

    /// `mv(self, vec)`.
    pub fn mv(&self, vec: &Tensor) -> Result<Tensor> {
        graph::recorded(&[self, vec], &[Save::Input(0), Save::Input(1)], || GradOp::Mv, || self.mv_raw(vec))
    }

    fn mv_raw(&self, vec: &Tensor) -> Result<Tensor> {
        // torch runs mv as addmv into a result shaped like the matrix rows and typed like vec.
        let rows = if self.ndim() == 2 { self.shape()[0] } else { 1 };
        Self::check_addmv_args(1, rows, self, vec)?;
        Self::check_addmv_dtypes(vec.dtype(), self.dtype(), vec.dtype())?;
        self.check_same_device(vec)?;
        if rows == 0 || vec.numel() == 0 {
            return Tensor::zeros(&[rows], vec.dtype(), self.device());
        }
        no_bool("addmv_impl_cpu", vec.dtype())?;
        let lb = vec.layout().unsqueeze(1)?;
        let r = Self::product(self, self.layout(), vec, &lb, Scalar::Int(1), None)?;
        r.view(&[rows as i64])
    }

    /// `addmv(self, mat, vec, beta, alpha)`.
    pub fn addmv(&self, mat: &Tensor, vec: &Tensor, beta: Scalar, alpha: Scalar) -> Result<Tensor> {
        if graph::needs_grad(&[self, mat, vec]) {
            return Self::scaled_sum(self, beta, &mat.mv(vec)?, alpha, "AddmvBackward0");
        }
        Self::check_addmv_args(self.ndim(), self.numel(), mat, vec)?;
        Self::check_addmv_dtypes(self.dtype(), mat.dtype(), vec.dtype())?;
        no_bool("addmv_impl_cpu", mat.dtype())?;
        let rows = mat.shape()[0];
        let input = self.reshape(&[-1])?.broadcast_to(&[rows])?.unsqueeze(1)?;
        let lb = vec.layout().unsqueeze(1)?;
        let r = Self::product(mat, mat.layout(), vec, &lb, alpha, Some((&input, beta)))?;
        r.view(&[rows as i64])
    }

    /// `outer(self, vec2)` (`ger`): an elementwise product, so dtypes promote as for `*`.
    pub fn outer(&self, vec2: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 {
            return Err(Error::runtime(format!("outer: Expected 1-D argument self, but got {}-D", self.ndim())));
        }
        if vec2.ndim() != 1 {
            return Err(Error::runtime(format!("outer: Expected 1-D argument vec2, but got {}-D", vec2.ndim())));
        }
        self.unsqueeze(1)?.binary(BinaryOp::Mul, &Rhs::Tensor(vec2.clone()))
    }

    // ----- matmul ---------------------------------------------------------------------------

    /// `matmul(self, other)` with torch's rules: dot, mv, mm, folding of a batched operand
    /// against a matrix or vector, and batch broadcasting otherwise.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let op = match (self.ndim(), other.ndim()) {
            (1, 1) => GradOp::Dot,
            (2, 1) => GradOp::Mv,
            (2, 2) => GradOp::Mm,
            _ => GradOp::Matmul,
        };
        graph::recorded(&[self, other], &[Save::Input(0), Save::Input(1)], || op, || self.matmul_raw(other))
    }

    /// `beta * input + alpha * product` from recording ops (the add*mm family under autograd);
    /// beta = 0 ignores input, NaNs included, as torch.
    /// `beta * input + alpha * product` under autograd, its last node named as torch's fused
    /// op (`name`).
    fn scaled_sum(input: &Tensor, beta: Scalar, product: &Tensor, alpha: Scalar, name: &str) -> Result<Tensor> {
        let p = if alpha.to_f64() == 1.0 { product.clone() } else { product.binary(BinaryOp::Mul, &Rhs::Scalar(alpha))? };
        let out = if beta_is_zero(beta, product.dtype()) {
            if !graph::needs_grad(&[input]) {
                return Ok(p);
            }
            // input's values are ignored (NaN does not propagate) but it stays in the graph
            // with a zero gradient, as torch's beta * grad
            let never = Tensor::zeros(&[], DType::Bool, input.device())?;
            Tensor::where_(&never, &Rhs::Tensor(input.clone()), &Rhs::Tensor(p))?
        } else {
            let i = if beta.to_f64() == 1.0 { input.clone() } else { input.binary(BinaryOp::Mul, &Rhs::Scalar(beta))? };
            i.add(&p)?
        };
        if let Some(f) = out.grad_fn() {
            f.set_alias(name.to_string());
        }
        Ok(out)
    }

    fn matmul_raw(&self, other: &Tensor) -> Result<Tensor> {
        let (d1, d2) = (self.ndim(), other.ndim());
        if d1 == 0 || d2 == 0 {
            return Err(Error::runtime(format!(
                "both arguments to matmul need to be at least 1D, but they are {d1}D and {d2}D"
            )));
        }
        match (d1, d2) {
            (1, 1) => return self.dot(other),
            (2, 1) => return self.mv(other),
            (1, 2) => return self.unsqueeze(0)?.mm(other)?.squeeze(Some(&[0])),
            (2, 2) => return self.mm(other),
            _ => {}
        }
        if self.should_fold(other) {
            return self.matmul_folded(other);
        }
        self.matmul_batched(other)
    }

    /// torch's should_fold: a batched operand against a vector or matrix runs as one mm/mv when
    /// the batch dims merge into the rows without a copy.
    fn should_fold(&self, other: &Tensor) -> bool {
        let larger_first = self.ndim() >= other.ndim();
        let (big, small_dim) = if larger_first { (self.clone(), other.ndim()) } else { (other.transpose(-2, -1).unwrap(), self.ndim()) };
        if !(big.ndim() >= 3 && small_dim <= 2) {
            return false;
        }
        // Folding a transposed 3-D rhs against a matrix would need a copy of the result.
        if self.ndim() == 2 {
            return false;
        }
        if big.numel() == 0 {
            return true;
        }
        // torch folds when t1.view(-1, t1.size(-1)) needs no copy (size-1 dims aside)
        let last = *big.shape().last().unwrap();
        big.layout().try_view_shape(&[big.numel() / last, last]).is_some()
    }

    fn matmul_folded(&self, other: &Tensor) -> Result<Tensor> {
        let transpose = other.ndim() > self.ndim();
        let t1 = if transpose { other.transpose(-2, -1)? } else { self.clone() };
        let t2 = if !transpose {
            other.clone()
        } else if self.ndim() == 2 {
            self.t()?
        } else {
            self.clone()
        };
        let s1 = t1.shape();
        let mut out_shape: Vec<i64> = i64s(&s1[..s1.len() - 1]);
        let folded: i64 = out_shape.iter().product();
        if t2.ndim() == 2 {
            out_shape.push(t2.shape()[1] as i64);
        }
        let t1f = t1.reshape(&[folded, *s1.last().unwrap() as i64])?;
        if t2.ndim() == 2 {
            let out = t1f.mm(&t2)?.view(&out_shape)?;
            if transpose {
                return out.transpose(-2, -1)?.contiguous();
            }
            Ok(out)
        } else {
            t1f.mv(&t2)?.view(&out_shape)
        }
    }

    fn matmul_batched(&self, other: &Tensor) -> Result<Tensor> {
        let (d1, d2) = (self.ndim(), other.ndim());
        let (s1, s2) = (self.shape(), other.shape());
        let n = if d1 > 1 { s1[d1 - 2] } else { 1 };
        let m1 = s1[d1 - 1];
        let m2 = if d2 > 1 { s2[d2 - 2] } else { s2[0] };
        let p = if d2 > 1 { s2[d2 - 1] } else { 1 };
        let batch = broadcast_shape(&s1[..d1.saturating_sub(2)], &s2[..d2.saturating_sub(2)])?;
        let bprod: usize = batch.iter().product();
        if m1 != m2 {
            return Err(Error::runtime(format!(
                "Expected size for first two dimensions of batch2 tensor to be: [{bprod}, {m1}] but got: [{bprod}, {m2}]."
            )));
        }
        let mut shape = i64s(&batch);
        if d1 > 1 {
            shape.push(n as i64);
        }
        if d2 > 1 {
            shape.push(p as i64);
        }
        if bprod * n * p == 0 || m1 == 0 {
            // as bmm: nothing to multiply, no dtype checks, typed as the second operand
            self.check_same_device(other)?;
            let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            return Tensor::zeros(&dims, other.dtype(), self.device());
        }
        no_bool("bmm", self.dtype())?;
        Self::check_scalar_type(self.dtype(), other.dtype())?;
        let mut a_shape = batch.clone();
        a_shape.extend_from_slice(&[n, m1]);
        let mut b_shape = batch.clone();
        b_shape.extend_from_slice(&[m2, p]);
        let la = if d1 == 1 { self.layout().unsqueeze(0)? } else { self.layout().clone() };
        let lb = if d2 == 1 { other.layout().unsqueeze(1)? } else { other.layout().clone() };
        let la = la.broadcast_to(&a_shape)?;
        let lb = lb.broadcast_to(&b_shape)?;
        let out = Self::product(self, &la, other, &lb, Scalar::Int(1), None)?;
        out.view(&shape)
    }

    // ----- tensordot, inner, kron -----------------------------------------------------------

    /// `tensordot(self, other, dims=(dims_a, dims_b))`: contracts the listed dims pairwise.
    pub fn tensordot(&self, other: &Tensor, dims_a: &[isize], dims_b: &[isize]) -> Result<Tensor> {
        if dims_a.len() != dims_b.len() {
            return Err(Error::runtime("both dimension lists should have same length"));
        }
        if self.dtype() != other.dtype() {
            return Err(Error::runtime("both inputs should have same dtype"));
        }
        let (na, nb) = (self.ndim(), other.ndim());
        let mut a = self.clone();
        let mut b = other.clone();
        let mut ca = vec![false; na];
        let mut cb = vec![false; nb];
        let mut ka = Vec::new();
        let mut kb = Vec::new();
        for (&da, &db) in dims_a.iter().zip(dims_b) {
            let (ia, ib) = (wrap_dim(da, na)?, wrap_dim(db, nb)?);
            let (s1, s2) = (a.shape()[ia], b.shape()[ib]);
            // A size-1 side broadcasts against the other, as torch sums the other side out.
            if s1 != s2 {
                if s2 == 1 {
                    let mut sizes = i64s(b.shape());
                    sizes[ib] = s1 as i64;
                    b = b.expand(&sizes)?;
                } else if s1 == 1 {
                    let mut sizes = i64s(a.shape());
                    sizes[ia] = s2 as i64;
                    a = a.expand(&sizes)?;
                } else {
                    return Err(Error::runtime(format!(
                        "contracted dimensions need to match, but first has size {s1} in dim {da} and second has size {s2} in dim {db}"
                    )));
                }
            }
            if ca[ia] {
                return Err(Error::runtime(format!("dim {ia} appears multiple times in the list of dims")));
            }
            if cb[ib] {
                return Err(Error::runtime(format!("dim {ib} appears multiple times in the list of dims")));
            }
            ca[ia] = true;
            cb[ib] = true;
            ka.push(ia);
            kb.push(ib);
        }
        let free_a: Vec<usize> = (0..na).filter(|&i| !ca[i]).collect();
        let free_b: Vec<usize> = (0..nb).filter(|&i| !cb[i]).collect();
        let perm_a: Vec<isize> = free_a.iter().chain(&ka).map(|&i| i as isize).collect();
        let perm_b: Vec<isize> = kb.iter().chain(&free_b).map(|&i| i as isize).collect();
        let m: usize = free_a.iter().map(|&i| a.shape()[i]).product();
        let k: usize = ka.iter().map(|&i| a.shape()[i]).product();
        let n: usize = free_b.iter().map(|&i| b.shape()[i]).product();
        let mut out_shape: Vec<i64> = free_a.iter().map(|&i| a.shape()[i] as i64).collect();
        out_shape.extend(free_b.iter().map(|&i| b.shape()[i] as i64));
        let a2 = a.permute(&perm_a)?.reshape(&[m as i64, k as i64])?;
        let b2 = b.permute(&perm_b)?.reshape(&[k as i64, n as i64])?;
        no_bool("addmm_impl_cpu_", a2.dtype())?;
        a2.mm(&b2)?.view(&out_shape)
    }

    /// `tensordot(self, other, dims=n)`: the last n dims of self against the first n of other.
    pub fn tensordot_n(&self, other: &Tensor, n: i64) -> Result<Tensor> {
        if n < 0 {
            return Err(Error::runtime(format!("tensordot expects dims >= 0, but got dims={n}")));
        }
        if n as usize > self.ndim() || n as usize > other.ndim() {
            return Err(Error::runtime(format!("tensordot expects dims < ndim_a or ndim_b, but got dims={n}")));
        }
        let da: Vec<isize> = (-n as isize..0).collect();
        let db: Vec<isize> = (0..n as isize).collect();
        self.tensordot(other, &da, &db)
    }

    /// `inner(self, other)`: contracts the last dims; a 0-d operand multiplies elementwise.
    pub fn inner(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return self.binary(BinaryOp::Mul, &Rhs::Tensor(other.clone()));
        }
        if self.shape().last() != other.shape().last() {
            return Err(Error::runtime(format!(
                "inner() the last dimension must match on both input tensors but got shapes {} and {}",
                fmt_shape(self.shape()),
                fmt_shape(other.shape())
            )));
        }
        self.tensordot(other, &[-1], &[-1])
    }

    /// `kron(self, other)`: every element of self scales a copy of other. An elementwise
    /// product of interleaved views, so dtypes promote as for `*`.
    pub fn kron(&self, other: &Tensor) -> Result<Tensor> {
        let nd = self.ndim().max(other.ndim());
        let pad = |t: &Tensor| -> Vec<usize> {
            let mut s = vec![1; nd - t.ndim()];
            s.extend_from_slice(t.shape());
            s
        };
        let (sa, sb) = (pad(self), pad(other));
        let mut a_shape = Vec::with_capacity(2 * nd);
        let mut b_shape = Vec::with_capacity(2 * nd);
        let mut out_shape = Vec::with_capacity(nd);
        for i in 0..nd {
            a_shape.extend_from_slice(&[sa[i] as i64, 1]);
            b_shape.extend_from_slice(&[1, sb[i] as i64]);
            out_shape.push((sa[i] * sb[i]) as i64);
        }
        let a = self.reshape(&a_shape)?;
        let b = other.reshape(&b_shape)?;
        a.binary(BinaryOp::Mul, &Rhs::Tensor(b))?.reshape(&out_shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape).unwrap()
    }

    #[test]
    fn matmul_shapes_follow_torch() {
        let a = t((0..24).map(|x| x as f64).collect(), &[2, 3, 4]);
        let b = t((0..20).map(|x| x as f64).collect(), &[4, 5]);
        assert_eq!(a.matmul(&b).unwrap().shape(), &[2, 3, 5]);
        let v = t(vec![1.0; 4], &[4]);
        assert_eq!(a.matmul(&v).unwrap().shape(), &[2, 3]);
        let w = t(vec![1.0; 3], &[3]);
        assert_eq!(w.matmul(&a).unwrap().shape(), &[2, 4]);
        assert_eq!(v.matmul(&v).unwrap().shape(), &[] as &[usize]);
        let e = a.matmul(&t(vec![1.0; 15], &[3, 5])).unwrap_err();
        assert_eq!(e.to_string(), "mm: mat1 and mat2 shapes cannot be multiplied (6x4 and 3x5)");
    }

    #[test]
    fn batch_broadcast_matches_loop() {
        let a = t((0..12).map(|x| x as f64).collect(), &[2, 1, 2, 3]);
        let b = t((0..18).map(|x| (x % 5) as f64).collect(), &[3, 3, 2]);
        let r = a.matmul(&b).unwrap();
        assert_eq!(r.shape(), &[2, 3, 2, 2]);
        let rv = r.to_vec::<f64>().unwrap();
        let av = a.to_vec::<f64>().unwrap();
        let bv = b.to_vec::<f64>().unwrap();
        for i in 0..2 {
            for j in 0..3 {
                for r_ in 0..2 {
                    for c in 0..2 {
                        let want: f64 = (0..3).map(|k| av[i * 6 + r_ * 3 + k] * bv[j * 6 + k * 2 + c]).sum();
                        assert_eq!(rv[((i * 3 + j) * 2 + r_) * 2 + c], want);
                    }
                }
            }
        }
    }
}
