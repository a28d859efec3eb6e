//! Fuzz harnesses for the core's shape math: views and layouts, indexing, broadcasting, and the
//! byte loader behind `rgrad.load` / safetensors.
//!
//! Each harness takes arbitrary bytes, decodes them into a small tensor and a few operations
//! whose arguments may be invalid (negative or out-of-range dims, huge sizes, non-positive or
//! huge steps), runs them through the core and checks every outcome against a naive reference
//! model written here from torch's rules. The model shares no code with `layout.rs` or
//! `indexing.rs`: it finds each element by walking its index back through the ops one at a time.
//! Invalid arguments must give `Err`; a panic, a disagreement with the model, or a view that
//! reaches outside its storage is a bug.
//!
//! Run a target with cargo-fuzz (`cargo install cargo-fuzz`; it needs a nightly toolchain, or
//! `RUSTC_BOOTSTRAP=1` on stable), from the repository root:
//!
//! ```text
//! cargo +nightly fuzz run --fuzz-dir rust/fuzz -D -a layout_ops -- -max_total_time=60
//! ```
//!
//! Targets: `layout_ops`, `indexing`, `broadcast`, `loaders`. `-a` keeps overflow checks on, so
//! unchecked size arithmetic fails loudly instead of wrapping. `-D` builds unoptimised: without
//! it cargo-fuzz compiles the crate as a single codegen unit at -O3, which takes over 12 GB of
//! memory and a long time; the unoptimised targets still run a few hundred cases a second. A
//! crash leaves its input under `rust/fuzz/artifacts/<target>/`; the `replay` test below shows
//! the ops that led to it (libFuzzer aborts before the harness can print them).
//!
//! `cargo test fuzzing` runs the same harnesses on stable over a fixed set of pseudo-random
//! inputs (see `tests` below).
//!
//! Each bug the harnesses found has a `fixed_*` reproduction in `tests`.

use crate::dtype::{DType, Scalar, ALL_DTYPES};
use crate::error::Error;
use crate::indexing::{self, TensorIndex};
use crate::layout::{coalesce, compute_view_strides, Layout};
use crate::op::{BinaryOp, CmpOp};
use crate::shape::{broadcast_shape, broadcast_shapes};
use crate::tensor::{Rhs, Tensor};
use std::rc::Rc;

/// Views with at most this many elements are checked element by element (and may be copied);
/// larger ones (expanded to huge sizes) only at their first elements and their last.
const LIMIT: usize = 512;
/// Operations applied per case in `layout_ops`.
const MAX_OPS: usize = 8;

/// Argument values that unchecked size or offset arithmetic overflows on.
const EXTREMES: [i64; 12] = [
    i64::MIN,
    i64::MIN + 1,
    -(1 << 62),
    -(1 << 40),
    -(1 << 32),
    -(1 << 31),
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX - 1,
    i64::MAX,
];

// ----- decoding ---------------------------------------------------------------------------

/// The fuzz bytes as a stream of choices. Past the end it yields zeros, so that every byte
/// string decodes to some case and a fuzzer's mutations keep their meaning.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }
    fn more(&self) -> bool {
        self.pos < self.data.len()
    }
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }
    fn one_in(&mut self, n: u8) -> bool {
        self.byte() % n == 0
    }
    fn extreme(&mut self) -> i64 {
        EXTREMES[self.below(EXTREMES.len())]
    }
    /// An integer argument: mostly near the sizes in play (-6..=9), one time in 16 extreme.
    fn int(&mut self) -> i64 {
        let b = self.byte();
        if b >= 240 {
            EXTREMES[(b - 240) as usize % EXTREMES.len()]
        } else {
            (b % 16) as i64 - 6
        }
    }
    fn opt_int(&mut self) -> Option<i64> {
        if self.one_in(4) {
            None
        } else {
            Some(self.int())
        }
    }
    /// A dim for a tensor of `ndim` dims: mostly valid (negative or not), else up to two past
    /// either end, rarely extreme.
    fn dim(&mut self, ndim: usize) -> isize {
        let n = ndim.max(1);
        match self.byte() {
            b @ 0..=175 => (b as usize % (2 * n)) as isize - n as isize,
            b @ 176..=247 => (b as usize % (2 * n + 4)) as isize - n as isize - 2,
            b => EXTREMES[(b - 248) as usize % EXTREMES.len()] as isize,
        }
    }
    /// An index into a dim of `size`: mostly valid, else one past either end, rarely extreme.
    fn index(&mut self, size: usize) -> i64 {
        if self.one_in(10) {
            return self.int();
        }
        let size = size.min(1 << 20) as i64;
        self.below(2 * size as usize + 3) as i64 - size - 1
    }
    fn dims(&mut self, ndim: usize, max_len: usize) -> Vec<isize> {
        let n = self.below(max_len + 1);
        (0..n).map(|_| self.dim(ndim)).collect()
    }
    /// A small size with 1 and 0 well represented.
    fn small(&mut self) -> usize {
        [1, 2, 3, 0, 4, 1, 2, 1][self.below(8)]
    }
    /// A size that is usually small and sometimes so large that products of two overflow.
    fn size(&mut self) -> usize {
        match self.byte() {
            b @ 0..=243 => [1, 2, 3, 0, 4, 1][b as usize % 6],
            244 | 245 => 1 << 32,
            246 | 247 => 1 << 40,
            248..=251 => 1 << 62,
            _ => i64::MAX as usize,
        }
    }
    fn shape(&mut self, max_rank: usize) -> Vec<usize> {
        let rank = self.below(max_rank + 1);
        (0..rank).map(|_| self.small()).collect()
    }
    /// A slice step: mostly 1..=3, sometimes zero, negative or extreme.
    fn step(&mut self) -> i64 {
        match self.byte() {
            b @ 0..=199 => 1 + (b % 3) as i64,
            200..=215 => 0,
            216..=231 => -1 - (self.byte() % 3) as i64,
            _ => self.extreme(),
        }
    }
}

// ----- the reference model of a view ------------------------------------------------------

/// torch's dim wrapping, in wide arithmetic: a 0-d tensor takes dims as if it had one.
fn wrap(d: impl Into<i128>, ndim: usize) -> Option<usize> {
    let (d, n) = (d.into(), ndim.max(1) as i128);
    if d < -n || d >= n {
        return None;
    }
    Some(if d < 0 { d + n } else { d } as usize)
}

/// torch's numel check: the running product of the sizes must stay within int64, even when a
/// later size is zero.
fn checked_numel(shape: &[usize]) -> Option<u128> {
    let mut n: u128 = 1;
    for &s in shape {
        n = n.checked_mul(s as u128).filter(|&n| n <= i64::MAX as u128)?;
    }
    Some(n)
}

/// torch's stride check for a new tensor: every stride (the product of the sizes after its dim,
/// zeros taken as ones) must fit in int64.
fn strides_fit(shape: &[usize]) -> bool {
    let mut acc: u128 = 1;
    for &s in shape.iter().skip(1).rev() {
        acc = acc.saturating_mul(s.max(1) as u128);
        if acc > i64::MAX as u128 {
            return false;
        }
    }
    true
}

/// torch's strides for a new shape of an empty tensor: the running product of the sizes after
/// each dim (zeros as ones) wrapping in int64, refused ("Stride calculation overflowed") when a
/// stride comes out negative.
fn empty_view_strides_fit(shape: &[usize]) -> bool {
    let mut acc: i64 = 1;
    for &s in shape.iter().skip(1).rev() {
        acc = acc.wrapping_mul(s.max(1) as i64);
        if acc < 0 {
            return false;
        }
    }
    true
}

fn ravel(idx: &[u128], shape: &[usize]) -> u128 {
    idx.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s as u128 + i)
}

fn unravel(mut flat: u128, shape: &[usize]) -> Vec<u128> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        let s = shape[d].max(1) as u128;
        idx[d] = flat % s;
        flat /= s;
    }
    idx
}

/// Steps a row-major multi-index; false after the last one.
fn advance(idx: &mut [u128], shape: &[usize]) -> bool {
    for d in (0..idx.len()).rev() {
        idx[d] += 1;
        if idx[d] < shape[d] as u128 {
            return true;
        }
        idx[d] = 0;
    }
    false
}

/// Every multi-index of `shape` in row-major order (the caller keeps the count small).
fn all_indices(shape: &[usize]) -> Vec<Vec<u128>> {
    let mut out = Vec::new();
    if shape.contains(&0) {
        return out;
    }
    let mut idx = vec![0u128; shape.len()];
    loop {
        out.push(idx.clone());
        if !advance(&mut idx, shape) {
            return out;
        }
    }
}

/// How an index after an op maps to the index before it.
#[derive(Clone, Debug)]
enum Step {
    /// New dim i is old dim `p[i]`.
    Permute(Vec<usize>),
    /// old[dim] = start + new[dim] * step (narrow, slice).
    Stride { dim: usize, start: u128, step: u128 },
    /// Old dim `dim` was removed by picking `index` (select).
    Pick { dim: usize, index: u128 },
    /// A size-1 dim was inserted at `dim` (unsqueeze).
    Insert(usize),
    /// The flagged size-1 old dims were removed (squeeze).
    Drop(Vec<bool>),
    /// Old dim j is new dim lead + j, read at 0 where its old size is 1 (expand).
    Expand { lead: usize },
    /// The same elements in the same row-major order under another shape.
    Reshape,
    /// Old dims d1 and d2 became the last dim k: old[d1] = k + o1, old[d2] = k + o2.
    Diagonal { d1: usize, d2: usize, o1: u128, o2: u128 },
    /// as_strided: storage position offset + sum(i * stride), whatever came before.
    Strided { strides: Vec<u128>, offset: u128 },
}

/// A view as the chain of ops that made it from a contiguous buffer (offset 0, filling its
/// storage). Elements are located by mapping their index back through the chain.
#[derive(Clone, Debug)]
struct ViewModel {
    base: Vec<usize>,
    /// The storage's contents when they are not simply 0, 1, 2, ... (after a copy).
    values: Option<Rc<Vec<i64>>>,
    /// (shape before, shape after, step)
    steps: Vec<(Vec<usize>, Vec<usize>, Step)>,
    shape: Vec<usize>,
}

impl ViewModel {
    fn new(base: &[usize]) -> Self {
        ViewModel { base: base.to_vec(), values: None, steps: Vec::new(), shape: base.to_vec() }
    }
    fn ndim(&self) -> usize {
        self.shape.len()
    }
    fn numel(&self) -> Option<u128> {
        checked_numel(&self.shape)
    }
    fn small(&self) -> bool {
        self.numel().is_some_and(|n| n <= LIMIT as u128)
    }
    fn storage_len(&self) -> usize {
        self.base.iter().product()
    }
    fn then(&self, step: Step, shape: Vec<usize>) -> Self {
        let mut m = self.clone();
        m.steps.push((self.shape.clone(), shape.clone(), step));
        m.shape = shape;
        m
    }

    /// Storage position of the element at `idx`.
    fn position(&self, idx: &[u128]) -> u128 {
        let mut cur = idx.to_vec();
        for (before, after, step) in self.steps.iter().rev() {
            cur = match step {
                Step::Permute(p) => {
                    let mut old = vec![0; p.len()];
                    for (i, &d) in p.iter().enumerate() {
                        old[d] = cur[i];
                    }
                    old
                }
                Step::Stride { dim, start, step } => {
                    cur[*dim] = start + cur[*dim] * step;
                    cur
                }
                Step::Pick { dim, index } => {
                    cur.insert(*dim, *index);
                    cur
                }
                Step::Insert(d) => {
                    cur.remove(*d);
                    cur
                }
                Step::Drop(flags) => {
                    let mut kept = cur.into_iter();
                    flags.iter().map(|&f| if f { 0 } else { kept.next().expect("one index per kept dim") }).collect()
                }
                Step::Expand { lead } => before.iter().enumerate().map(|(j, &s)| if s == 1 { 0 } else { cur[lead + j] }).collect(),
                Step::Reshape => unravel(ravel(&cur, after), before),
                Step::Diagonal { d1, d2, o1, o2 } => {
                    let k = cur.pop().expect("the diagonal dim");
                    let mut rest = cur.into_iter();
                    (0..before.len())
                        .map(|j| if j == *d1 { k + o1 } else if j == *d2 { k + o2 } else { rest.next().expect("one index per other dim") })
                        .collect()
                }
                Step::Strided { strides, offset } => {
                    return offset + cur.iter().zip(strides).map(|(&i, &s)| i * s).sum::<u128>();
                }
            };
        }
        ravel(&cur, &self.base)
    }

    fn value_at(&self, pos: u128) -> i64 {
        match &self.values {
            Some(v) => v[pos as usize],
            None => pos as i64,
        }
    }

    fn positions(&self) -> Vec<u128> {
        all_indices(&self.shape).iter().map(|i| self.position(i)).collect()
    }

    /// The same elements in a fresh contiguous buffer: what a copying op leaves.
    fn rebased(&self) -> Self {
        let values: Vec<i64> = self.positions().into_iter().map(|p| self.value_at(p)).collect();
        ViewModel { base: self.shape.clone(), values: Some(Rc::new(values)), steps: Vec::new(), shape: self.shape.clone() }
    }

    /// Whether some strides (non-negative) place every element where the model does: the exact
    /// condition under which `view` may succeed.
    fn affine(&self) -> bool {
        let pos = self.positions();
        if pos.is_empty() {
            return true;
        }
        let p0 = pos[0] as i128;
        let n = self.ndim();
        let mut strides = vec![0i128; n];
        for d in 0..n {
            if self.shape[d] > 1 {
                let mut unit = vec![0u128; n];
                unit[d] = 1;
                strides[d] = self.position(&unit) as i128 - p0;
                if strides[d] < 0 {
                    return false;
                }
            }
        }
        all_indices(&self.shape)
            .iter()
            .zip(&pos)
            .all(|(idx, &p)| p0 + idx.iter().zip(&strides).map(|(&i, &s)| i as i128 * s).sum::<i128>() == p as i128)
    }

    // torch's rules for each view op: None where torch raises.

    fn permute(&self, dims: &[isize]) -> Option<Self> {
        let n = self.ndim();
        if dims.len() != n {
            return None;
        }
        let mut seen = vec![false; n];
        let mut p = Vec::with_capacity(n);
        for &d in dims {
            let d = wrap(d as i64, n)?;
            if std::mem::replace(&mut seen[d], true) {
                return None;
            }
            p.push(d);
        }
        let shape = p.iter().map(|&d| self.shape[d]).collect();
        Some(self.then(Step::Permute(p), shape))
    }

    fn transpose(&self, a: isize, b: isize) -> Option<Self> {
        let n = self.ndim();
        let (a, b) = (wrap(a as i64, n)?, wrap(b as i64, n)?);
        if n == 0 {
            return Some(self.clone());
        }
        let mut p: Vec<usize> = (0..n).collect();
        p.swap(a, b);
        self.permute(&p.iter().map(|&d| d as isize).collect::<Vec<_>>())
    }

    fn narrow(&self, dim: isize, start: i64, length: i64) -> Option<Self> {
        let n = self.ndim();
        if n == 0 || length < 0 {
            return None;
        }
        let d = wrap(dim as i64, n)?;
        let size = self.shape[d] as i128;
        let start = start as i128;
        if start < -size || start > size {
            return None;
        }
        let start = if start < 0 { start + size } else { start };
        if start + length as i128 > size {
            return None;
        }
        let mut shape = self.shape.clone();
        shape[d] = length as usize;
        Some(self.then(Step::Stride { dim: d, start: start as u128, step: 1 }, shape))
    }

    /// Python's `start:stop:step` with clamped bounds on an already wrapped dim.
    fn slice(&self, dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Option<Self> {
        if step <= 0 {
            return None;
        }
        let size = self.shape[dim] as i128;
        let clamp = |v: i64| {
            let v = v as i128;
            (if v < 0 { v + size } else { v }).clamp(0, size)
        };
        let lo = start.map(clamp).unwrap_or(0);
        let hi = stop.map(clamp).unwrap_or(size);
        let step = step as i128;
        let len = if hi > lo { (hi - lo + step - 1) / step } else { 0 };
        let mut shape = self.shape.clone();
        shape[dim] = len as usize;
        Some(self.then(Step::Stride { dim, start: lo as u128, step: step as u128 }, shape))
    }

    fn select(&self, dim: isize, index: i64) -> Option<Self> {
        let n = self.ndim();
        if n == 0 {
            return None;
        }
        let d = wrap(dim as i64, n)?;
        let size = self.shape[d] as i128;
        let i = index as i128;
        if i < -size || i >= size {
            return None;
        }
        let mut shape = self.shape.clone();
        shape.remove(d);
        Some(self.then(Step::Pick { dim: d, index: (if i < 0 { i + size } else { i }) as u128 }, shape))
    }

    fn unsqueeze(&self, dim: isize) -> Option<Self> {
        let d = wrap(dim as i64, self.ndim() + 1)?;
        let mut shape = self.shape.clone();
        shape.insert(d, 1);
        Some(self.then(Step::Insert(d), shape))
    }

    fn squeeze(&self, dims: Option<&[isize]>) -> Option<Self> {
        let n = self.ndim();
        let flags: Vec<bool> = match dims {
            None => self.shape.iter().map(|&s| s == 1).collect(),
            Some(ds) => {
                let mut flags = vec![false; n];
                let mut seen = vec![false; n.max(1)];
                for &d in ds {
                    let d = wrap(d as i64, n)?;
                    // torch: "dim 0 appears multiple times in the list of dims"
                    if std::mem::replace(&mut seen[d], true) {
                        return None;
                    }
                    if n > 0 && self.shape[d] == 1 {
                        flags[d] = true;
                    }
                }
                flags
            }
        };
        let shape = self.shape.iter().zip(&flags).filter(|(_, &f)| !f).map(|(&s, _)| s).collect();
        Some(self.then(Step::Drop(flags), shape))
    }

    fn expand(&self, sizes: &[i64]) -> Option<Self> {
        let n = self.ndim();
        if sizes.len() < n {
            return None;
        }
        let lead = sizes.len() - n;
        let mut shape = Vec::with_capacity(sizes.len());
        for (i, &t) in sizes.iter().enumerate() {
            if i < lead {
                if t < 0 {
                    return None;
                }
                shape.push(t as usize);
            } else {
                let s = self.shape[i - lead];
                if t == -1 || t as i128 == s as i128 {
                    shape.push(s);
                } else if s == 1 && t >= 0 {
                    shape.push(t as usize);
                } else {
                    return None;
                }
            }
        }
        checked_numel(&shape)?;
        Some(self.then(Step::Expand { lead }, shape))
    }

    /// view/reshape's size list with one `-1` inferred.
    fn infer(sizes: &[i64], numel: u128) -> Option<Vec<usize>> {
        let mut inferred = None;
        let mut known: u128 = 1;
        let mut out = Vec::with_capacity(sizes.len());
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if inferred.replace(i).is_some() {
                    return None;
                }
                out.push(1);
            } else if s < 0 {
                return None;
            } else {
                known = known.saturating_mul(s as u128);
                out.push(s as usize);
            }
        }
        match inferred {
            // torch refuses to infer against zero known elements, even for an empty tensor
            Some(i) => {
                if known == 0 || numel % known != 0 {
                    return None;
                }
                out[i] = (numel / known) as usize;
            }
            // torch's numel check on the new shape: `[2**62, 4, 0]` is refused
            None if known != numel || checked_numel(&out).is_none() => return None,
            None => {}
        }
        Some(out)
    }

    /// Same elements, another shape (view when `affine`, reshape always).
    fn reshape(&self, sizes: &[i64]) -> Option<Self> {
        // (an empty view may have sizes that multiply past the range in order)
        let numel = if self.shape.contains(&0) { 0 } else { self.numel()? };
        let shape = Self::infer(sizes, numel)?;
        if numel == 0 && shape != self.shape && !empty_view_strides_fit(&shape) {
            return None;
        }
        Some(self.then(Step::Reshape, shape))
    }

    fn flatten(&self, start: isize, end: isize) -> Option<Self> {
        let n = self.ndim();
        let (s, e) = (wrap(start as i64, n)?, wrap(end as i64, n)?);
        if n == 0 {
            return Some(self.then(Step::Reshape, vec![1]));
        }
        if s > e {
            return None;
        }
        let mut shape = self.shape[..s].to_vec();
        // (torch multiplies these unchecked: an empty `[0, 4, 2**62]` flattened over its last
        // two dims is `[0, 0]`)
        shape.push(self.shape[s..=e].iter().fold(1usize, |n, &x| n.wrapping_mul(x)));
        shape.extend_from_slice(&self.shape[e + 1..]);
        Some(self.then(Step::Reshape, shape))
    }

    fn unflatten(&self, dim: isize, sizes: &[i64]) -> Option<Self> {
        let n = self.ndim();
        if n == 0 || sizes.is_empty() {
            return None;
        }
        let d = wrap(dim as i64, n)?;
        let inner = Self::infer(sizes, self.shape[d] as u128)?;
        let mut shape = self.shape[..d].to_vec();
        shape.extend(inner);
        shape.extend_from_slice(&self.shape[d + 1..]);
        if self.shape.contains(&0) && shape != self.shape && !empty_view_strides_fit(&shape) {
            return None;
        }
        Some(self.then(Step::Reshape, shape))
    }

    fn movedim(&self, src: &[isize], dst: &[isize]) -> Option<Self> {
        let n = self.ndim();
        if src.len() != dst.len() {
            return None;
        }
        let s: Vec<usize> = src.iter().map(|&d| wrap(d as i64, n)).collect::<Option<_>>()?;
        let t: Vec<usize> = dst.iter().map(|&d| wrap(d as i64, n)).collect::<Option<_>>()?;
        let has_dup = |v: &[usize]| (0..v.len()).any(|i| v[..i].contains(&v[i]));
        if has_dup(&s) || has_dup(&t) {
            return None;
        }
        if n == 0 {
            return Some(self.clone());
        }
        let mut order: Vec<Option<usize>> = vec![None; n];
        for (&si, &ti) in s.iter().zip(&t) {
            order[ti] = Some(si);
        }
        let mut rest = (0..n).filter(|d| !s.contains(d));
        let p: Vec<isize> = order.into_iter().map(|o| o.unwrap_or_else(|| rest.next().expect("a dim per free slot")) as isize).collect();
        self.permute(&p)
    }

    fn diagonal(&self, offset: i64, dim1: isize, dim2: isize) -> Option<Self> {
        let n = self.ndim();
        let (a, b) = (wrap(dim1 as i64, n)?, wrap(dim2 as i64, n)?);
        if a == b {
            return None;
        }
        let (n1, n2, off) = (self.shape[a] as i128, self.shape[b] as i128, offset as i128);
        let len = if off >= 0 { n1.min(n2 - off) } else { (n1 + off).min(n2) }.max(0);
        let mut shape: Vec<usize> = (0..n).filter(|&i| i != a && i != b).map(|i| self.shape[i]).collect();
        shape.push(len as usize);
        let step = Step::Diagonal { d1: a, d2: b, o1: (-off).max(0) as u128, o2: off.max(0) as u128 };
        Some(self.then(step, shape))
    }

    /// as_strided over this view's storage, bounds-checked as torch does.
    fn as_strided(&self, size: &[usize], stride: &[isize], offset: usize) -> Option<Self> {
        if size.len() != stride.len() || stride.iter().any(|&s| s < 0) {
            return None;
        }
        if checked_numel(size)? > 0 {
            let mut last = offset as u128;
            for (&n, &s) in size.iter().zip(stride) {
                last = last.checked_add((n as u128 - 1).checked_mul(s as u128)?)?;
            }
            if last >= self.storage_len() as u128 {
                return None;
            }
        }
        let step = Step::Strided { strides: stride.iter().map(|&s| s as u128).collect(), offset: offset as u128 };
        Some(self.then(step, size.to_vec()))
    }
}

// ----- checks -----------------------------------------------------------------------------

#[cfg(test)]
thread_local! {
    /// Outcome counts for the survey test, which reports how deep the cases get.
    static OUTCOMES: std::cell::RefCell<std::collections::BTreeMap<String, usize>> = Default::default();
}

/// Counts an outcome (in tests only: a fuzzer measures coverage itself).
fn note(what: impl FnOnce() -> String) {
    #[cfg(test)]
    OUTCOMES.with(|o| *o.borrow_mut().entry(what()).or_default() += 1);
    #[cfg(not(test))]
    let _ = what;
}

/// Panics with the ops that led here, so a failure reads as a reproduction.
macro_rules! check {
    ($cond:expr, $log:expr, $($fmt:tt)+) => {
        if !$cond {
            panic!("{}\n  ops: {}", format!($($fmt)+), $log.join(" -> "))
        }
    };
}

thread_local! {
    /// The ops of the last case during which the core panicked (read by the tests).
    static LAST_TRAIL: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Keeps the ops so far for the tests' failure message if the core panics while this is alive:
/// the panic itself names only the line in the core.
struct Trail(String);

impl Trail {
    fn new(log: &[String]) -> Self {
        Trail(log.join(" -> "))
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // the innermost trail, dropped first, is the precise one
            LAST_TRAIL.with(|t| {
                if t.borrow().is_empty() {
                    *t.borrow_mut() = std::mem::take(&mut self.0);
                }
            });
        }
    }
}

/// Everything the model predicts about `t`'s layout and elements.
fn check_view(t: &Tensor, m: &ViewModel, log: &[String]) {
    let _trail = Trail::new(log);
    let l = t.layout();
    check!(l.shape.as_slice() == m.shape.as_slice(), log, "shape {:?}, model {:?}", l.shape, m.shape);
    check!(l.strides.len() == l.shape.len(), log, "{} strides for {} dims", l.strides.len(), l.shape.len());
    // numel() multiplies in order: a view whose sizes overflow on the way must not exist
    // (torch checks it on every view: `[0, 4, 2**62]` transposed to `[2**62, 4, 0]` raises)
    let numel = m.shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s));
    check!(numel.is_some(), log, "a view of shape {:?}, whose numel overflows, was accepted", m.shape);
    let numel = numel.unwrap();
    check!(l.numel() == numel, log, "numel {} for shape {:?}", l.numel(), l.shape);
    let storage_len = t.storage().nbytes() / 8;
    if numel > 0 {
        let (lo, hi) = l.storage_span();
        check!(lo < hi && hi <= storage_len, log, "storage span {lo}..{hi} of {l:?} outside a storage of {storage_len} elements");
    }
    // the first elements through offsets(), and each through its strides
    let mut idx = vec![0u128; m.ndim()];
    let offsets: Vec<usize> = l.offsets().take(LIMIT).collect();
    check!(l.offsets().size_hint() == (numel, Some(numel)), log, "offsets() announces {:?} elements, not {numel}", l.offsets().size_hint());
    check!(offsets.len() == numel.min(LIMIT), log, "offsets() yields {} elements, not {}", offsets.len(), numel.min(LIMIT));
    let by_strides = |idx: &[u128]| idx.iter().zip(l.strides.iter()).fold(l.offset as i128, |acc, (&i, &s)| acc.saturating_add((i as i128).saturating_mul(s as i128)));
    for &off in &offsets {
        let want = m.position(&idx);
        check!(off as u128 == want, log, "element {idx:?} of {l:?} at {off}, model {want}");
        check!(by_strides(&idx) == want as i128, log, "element {idx:?} of {l:?} by strides at {}, model {want}", by_strides(&idx));
        advance(&mut idx, &m.shape);
    }
    if numel > LIMIT {
        let last: Vec<u128> = m.shape.iter().map(|&s| s as u128 - 1).collect();
        let want = m.position(&last);
        check!(by_strides(&last) == want as i128, log, "last element of {l:?} at {}, model {want}", by_strides(&last));
        return;
    }

    // Small: every element, the contiguity and viewability flags, coalesce, and the data.
    let pos = m.positions();
    if let (Some(&min), Some(&max)) = (pos.iter().min(), pos.iter().max()) {
        check!(l.storage_span() == (min as usize, max as usize + 1), log, "storage span {:?} of {l:?}, model {min}..{}", l.storage_span(), max + 1);
    }
    let consecutive = pos.windows(2).all(|w| w[1] == w[0] + 1);
    check!(l.is_contiguous() == consecutive, log, "is_contiguous() = {} for {l:?}", l.is_contiguous());
    let flat_ok = pos.len() < 2 || pos.windows(2).all(|w| w[1] as i128 - w[0] as i128 == pos[1] as i128 - pos[0] as i128 && w[1] >= w[0]);
    let flat = compute_view_strides(&l.shape, &l.strides, &[numel]);
    check!(flat.is_some() == flat_ok, log, "compute_view_strides to [{numel}] gives {flat:?} for {l:?}");
    // (contiguous strides exist only where the sizes, zeros aside, multiply up to little)
    if l.shape.iter().fold(1u128, |n, &s| n.saturating_mul(s.max(1) as u128)) <= LIMIT as u128 {
        let contiguous = crate::shape::contiguous_strides(&l.shape);
        let (cshape, cstrides) = coalesce(&l.shape, &[&l.strides, &contiguous]);
        let merged: Vec<usize> = Layout::new(cshape.clone(), cstrides[0].clone(), l.offset).offsets().collect();
        let merged_c: Vec<usize> = Layout::new(cshape, cstrides[1].clone(), 0).offsets().collect();
        check!(merged.iter().map(|&o| o as u128).eq(pos.iter().copied()), log, "coalesce of {l:?} walks {merged:?}");
        check!(merged_c.iter().copied().eq(0..numel), log, "coalesce of {l:?} walks a contiguous operand as {merged_c:?}");
    }
    let values = t.to_vec::<i64>();
    check!(values.is_ok(), log, "to_vec failed: {:?}", values.err());
    let want: Vec<i64> = pos.iter().map(|&p| m.value_at(p)).collect();
    check!(values.as_ref().unwrap() == &want, log, "values {:?}, model {want:?}", values.unwrap());
}

/// What the model expects from one op.
enum Want {
    Err,
    Ok(ViewModel),
    /// `view`: Ok exactly when the elements' positions admit strides.
    View(ViewModel),
}

impl From<Option<ViewModel>> for Want {
    fn from(m: Option<ViewModel>) -> Self {
        m.map_or(Want::Err, Want::Ok)
    }
}

#[derive(Clone, Copy, Debug)]
enum ViewOp {
    Permute,
    Transpose,
    Narrow,
    Slice,
    Select,
    Unsqueeze,
    Squeeze,
    Expand,
    BroadcastTo,
    View,
    Reshape,
    Flatten,
    Unflatten,
    Movedim,
    Diagonal,
    AsStrided,
    Contiguous,
}

const ALL_VIEW_OPS: [ViewOp; 17] = [
    ViewOp::Permute,
    ViewOp::Transpose,
    ViewOp::Narrow,
    ViewOp::Slice,
    ViewOp::Select,
    ViewOp::Unsqueeze,
    ViewOp::Squeeze,
    ViewOp::Expand,
    ViewOp::BroadcastTo,
    ViewOp::View,
    ViewOp::Reshape,
    ViewOp::Flatten,
    ViewOp::Unflatten,
    ViewOp::Movedim,
    ViewOp::Diagonal,
    ViewOp::AsStrided,
    ViewOp::Contiguous,
];

/// Mostly a permutation of 0..n, sometimes damaged (a wrong dim, a repeat, a wrong length).
fn gen_perm(inp: &mut Input, n: usize) -> Vec<isize> {
    let mut p: Vec<isize> = (0..n as isize).collect();
    for i in (1..n).rev() {
        p.swap(i, inp.below(i + 1));
    }
    for d in p.iter_mut() {
        if inp.one_in(2) {
            *d -= n as isize; // the same dim, negative
        }
    }
    match inp.below(8) {
        0 if n > 0 => {
            let i = inp.below(n);
            p[i] = inp.dim(n);
        }
        1 => p.push(inp.dim(n)),
        2 => {
            p.pop();
        }
        _ => {}
    }
    p
}

/// A size list for view/reshape: usually one that multiplies up to `numel` (sometimes with a
/// -1), sometimes damaged.
fn gen_sizes(inp: &mut Input, numel: Option<u128>, shape: &[usize]) -> Vec<i64> {
    let mut sizes: Vec<i64> = match numel {
        Some(n) if n <= LIMIT as u128 && n > 0 => {
            let mut rest = n as usize;
            let mut v = Vec::new();
            for _ in 0..inp.below(4) {
                let divisors: Vec<usize> = (1..=rest).filter(|d| rest % d == 0).collect();
                let d = divisors[inp.below(divisors.len())];
                v.push(d as i64);
                rest /= d;
            }
            v.push(rest as i64);
            if inp.one_in(3) {
                v.insert(inp.below(v.len() + 1), 1);
            }
            v
        }
        Some(0) => {
            let mut v: Vec<i64> = (0..1 + inp.below(3)).map(|_| inp.small() as i64).collect();
            let i = inp.below(v.len());
            v[i] = 0;
            v
        }
        _ if shape.is_empty() => vec![1; inp.below(3)],
        _ => shape.iter().rev().map(|&s| s as i64).collect(),
    };
    if !sizes.is_empty() && inp.one_in(3) {
        let i = inp.below(sizes.len());
        sizes[i] = -1;
    }
    if !sizes.is_empty() && inp.one_in(6) {
        let i = inp.below(sizes.len());
        sizes[i] = inp.int();
    }
    sizes
}

/// Sizes for expand: per existing dim mostly its size, -1 or a broadcast of a 1; leading new
/// dims of any size, huge included.
fn gen_expand(inp: &mut Input, shape: &[usize]) -> Vec<i64> {
    let lead = inp.below(3);
    let mut sizes: Vec<i64> = (0..lead).map(|_| if inp.one_in(8) { inp.int() } else { inp.size() as i64 }).collect();
    for &s in shape {
        sizes.push(match inp.below(8) {
            0 | 1 => s as i64,
            2 => -1,
            3..=5 if s == 1 => inp.size() as i64,
            6 => inp.int(),
            _ => s as i64,
        });
    }
    if !sizes.is_empty() && inp.one_in(10) {
        sizes.remove(0);
    }
    sizes
}

type Call = Box<dyn FnOnce(&Tensor) -> crate::Result<Tensor>>;

/// Applies one decoded op to `t` and to the model and compares the outcomes. Returns the new
/// state when the op succeeded; panics on any disagreement.
fn view_step(inp: &mut Input, t: &Tensor, m: &ViewModel, ops: &[ViewOp], log: &mut Vec<String>) -> Option<(Tensor, ViewModel)> {
    let n = m.ndim();
    let size_of = |d: isize| wrap(d as i64, n).filter(|_| n > 0).map_or(0, |w| m.shape[w]);
    let op = ops[inp.below(ops.len())];
    let (desc, want, call): (String, Want, Call) = match op {
        ViewOp::Permute => {
            let dims = gen_perm(inp, n);
            (format!("permute({dims:?})"), m.permute(&dims).into(), Box::new(move |t| t.permute(&dims)))
        }
        ViewOp::Transpose => {
            let (a, b) = (inp.dim(n), inp.dim(n));
            (format!("transpose({a}, {b})"), m.transpose(a, b).into(), Box::new(move |t| t.transpose(a, b)))
        }
        ViewOp::Narrow => {
            let d = inp.dim(n);
            let size = size_of(d);
            let start = inp.index(size);
            let len = if inp.one_in(10) { inp.int() } else { inp.below(size.min(8) + 2) as i64 };
            (format!("narrow({d}, {start}, {len})"), m.narrow(d, start, len).into(), Box::new(move |t| t.narrow(d, start, len)))
        }
        ViewOp::Slice => {
            if n == 0 {
                return None; // slice takes a dim already checked by its caller
            }
            let (d, start, stop, step) = (inp.below(n), inp.opt_int(), inp.opt_int(), inp.step());
            let desc = format!("slice({d}, {start:?}, {stop:?}, {step})");
            (desc, m.slice(d, start, stop, step).into(), Box::new(move |t| t.slice(d, start, stop, step)))
        }
        ViewOp::Select => {
            let d = inp.dim(n);
            let i = inp.index(size_of(d));
            (format!("select({d}, {i})"), m.select(d, i).into(), Box::new(move |t| t.select(d, i)))
        }
        ViewOp::Unsqueeze => {
            let d = inp.dim(n + 1);
            (format!("unsqueeze({d})"), m.unsqueeze(d).into(), Box::new(move |t| t.unsqueeze(d)))
        }
        ViewOp::Squeeze => {
            let dims = if inp.one_in(3) { None } else { Some(inp.dims(n, 3)) };
            (format!("squeeze({dims:?})"), m.squeeze(dims.as_deref()).into(), Box::new(move |t| t.squeeze(dims.as_deref())))
        }
        ViewOp::Expand => {
            let sizes = gen_expand(inp, &m.shape);
            (format!("expand({sizes:?})"), m.expand(&sizes).into(), Box::new(move |t| t.expand(&sizes)))
        }
        ViewOp::BroadcastTo => {
            let sizes: Vec<usize> = gen_expand(inp, &m.shape).into_iter().map(|s| s.max(0) as usize).collect();
            let as_i64: Vec<i64> = sizes.iter().map(|&s| s as i64).collect();
            (format!("broadcast_to({sizes:?})"), m.expand(&as_i64).into(), Box::new(move |t| t.broadcast_to(&sizes)))
        }
        ViewOp::View => {
            let sizes = gen_sizes(inp, m.numel(), &m.shape);
            let want = m.reshape(&sizes).map_or(Want::Err, Want::View);
            (format!("view({sizes:?})"), want, Box::new(move |t| t.view(&sizes)))
        }
        // the copying ops only run on small views: a huge copy fails by allocation, or worse, succeeds
        ViewOp::Reshape if m.small() => {
            let sizes = gen_sizes(inp, m.numel(), &m.shape);
            (format!("reshape({sizes:?})"), m.reshape(&sizes).into(), Box::new(move |t| t.reshape(&sizes)))
        }
        ViewOp::Flatten if m.small() => {
            let (a, b) = (inp.dim(n), inp.dim(n));
            (format!("flatten({a}, {b})"), m.flatten(a, b).into(), Box::new(move |t| t.flatten(a, b)))
        }
        ViewOp::Unflatten if m.small() => {
            let d = inp.dim(n);
            let size = wrap(d as i64, n).filter(|_| n > 0).map(|w| m.shape[w] as u128);
            let sizes = gen_sizes(inp, size, &[]);
            (format!("unflatten({d}, {sizes:?})"), m.unflatten(d, &sizes).into(), Box::new(move |t| t.unflatten(d, &sizes)))
        }
        ViewOp::Movedim => {
            let k = inp.below(n.min(3) + 1);
            let (src, dst): (Vec<isize>, Vec<isize>) = (0..k).map(|_| (inp.dim(n), inp.dim(n))).unzip();
            let dst = if inp.one_in(8) { inp.dims(n, 3) } else { dst };
            (format!("movedim({src:?}, {dst:?})"), m.movedim(&src, &dst).into(), Box::new(move |t| t.movedim(&src, &dst)))
        }
        ViewOp::Diagonal => {
            let (off, a, b) = (inp.int(), inp.dim(n), inp.dim(n));
            (format!("diagonal({off}, {a}, {b})"), m.diagonal(off, a, b).into(), Box::new(move |t| t.diagonal(off, a, b)))
        }
        ViewOp::AsStrided => {
            let rank = inp.below(4);
            let size: Vec<usize> = (0..rank).map(|_| inp.size()).collect();
            let mut stride: Vec<isize> = (0..rank).map(|_| if inp.one_in(8) { inp.int() as isize } else { inp.below(7) as isize }).collect();
            if inp.one_in(10) {
                stride.push(1);
            }
            let offset = if inp.one_in(8) { inp.int().unsigned_abs() as usize } else { inp.below(m.storage_len() + 2) };
            let desc = format!("as_strided({size:?}, {stride:?}, {offset})");
            let want = m.as_strided(&size, &stride, offset).into();
            (desc, want, Box::new(move |t| t.as_strided(&size, &stride, Some(offset))))
        }
        ViewOp::Contiguous if m.small() => ("contiguous()".to_string(), Want::Ok(m.clone()), Box::new(|t| t.contiguous())),
        ViewOp::Reshape | ViewOp::Flatten | ViewOp::Unflatten | ViewOp::Contiguous => return None,
    };
    // torch checks every view's numel in order ("numel: integer multiplication overflow"):
    // moving a 0 last in an empty view with huge sizes is refused
    let want = match want {
        Want::Ok(m2) | Want::View(m2) if m2.numel().is_none() => Want::Err,
        w => w,
    };
    log.push(desc);
    let got = {
        let _trail = Trail::new(log);
        call(t)
    };
    note(|| format!("{op:?} {}", if got.is_ok() { "ok" } else { "refused" }));
    let next = match (got, want) {
        (Ok(t2), Want::Ok(m2) | Want::View(m2)) => {
            // a copying op leaves the elements in a fresh buffer
            let m2 = if t2.same_storage(t) { m2 } else { m2.rebased() };
            check_view(&t2, &m2, log);
            return Some((t2, m2));
        }
        (Err(_), Want::Err) => None,
        (Err(Error::NotViewable), Want::View(m2)) => {
            check!(!m2.small() || !m2.affine(), log, "view refused although strides {:?} can reach the elements", m2.shape);
            None
        }
        (Ok(t2), Want::Err) => {
            check!(false, log, "accepted (result shape {:?}, strides {:?}), but torch raises", t2.shape(), t2.strides());
            None
        }
        (Err(e), Want::Ok(m2) | Want::View(m2)) => {
            check!(false, log, "failed with `{e}`, but torch gives shape {:?}", m2.shape);
            None
        }
    };
    log.pop();
    next
}

/// A tensor holding 0, 1, 2, ... in `shape`, with its model.
fn arange(shape: &[usize]) -> (Tensor, ViewModel) {
    let n: usize = shape.iter().product();
    let t = Tensor::from_vec((0..n as i64).collect::<Vec<i64>>(), shape).expect("a small arange");
    (t, ViewModel::new(shape))
}

// ----- harness: views and layouts ---------------------------------------------------------

/// A chain of view ops (and the copying reshape/flatten/contiguous) with possibly bad
/// arguments, each checked against the model: same shape or same refusal, every element where
/// the model puts it, spans inside the storage, torch's contiguity and viewability.
pub fn layout_ops(data: &[u8]) {
    let mut inp = Input::new(data);
    let base = inp.shape(4);
    let contiguous = Layout::contiguous(&base);
    check!(contiguous.is_contiguous() && contiguous.offset == 0, [format!("contiguous({base:?})")], "not contiguous: {contiguous:?}");
    let (mut t, mut m) = arange(&base);
    let mut log = vec![format!("arange{base:?}")];
    check_view(&t, &m, &log);
    for _ in 0..MAX_OPS {
        if !inp.more() {
            break;
        }
        if let Some((t2, m2)) = view_step(&mut inp, &t, &m, &ALL_VIEW_OPS, &mut log) {
            (t, m) = (t2, m2);
        }
    }
}

// ----- harness: indexing ------------------------------------------------------------------

/// One index item in the model's terms.
#[derive(Clone, Debug)]
enum Ix {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
    NewAxis,
    Ellipsis,
    /// An int64 or int32 index tensor.
    Ints { vals: Vec<i64>, shape: Vec<usize> },
    /// A bool or uint8 mask (0-d included): true where nonzero.
    Mask { vals: Vec<bool>, shape: Vec<usize> },
    /// A float tensor, never a valid index.
    Float,
}

fn gen_index(inp: &mut Input, tshape: &[usize]) -> (Vec<TensorIndex>, Vec<Ix>) {
    let mut idx = Vec::new();
    let mut ix = Vec::new();
    let mut cursor = 0usize; // the dim the next item lands on, ignoring an ellipsis
    let mut ellipsis = false;
    for _ in 0..inp.below(5) {
        let here = tshape.get(cursor).copied().unwrap_or(0);
        let in_range = |inp: &mut Input| inp.index(here);
        match inp.below(12) {
            0 | 1 => {
                let i = in_range(inp);
                idx.push(TensorIndex::Int(i));
                ix.push(Ix::Int(i));
                cursor += 1;
            }
            2 | 3 => {
                let (a, b, s) = (inp.opt_int(), inp.opt_int(), inp.step());
                idx.push(TensorIndex::Slice { start: a, stop: b, step: s });
                ix.push(Ix::Slice(a, b, s));
                cursor += 1;
            }
            5 if !ellipsis => {
                ellipsis = true;
                idx.push(TensorIndex::Ellipsis);
                ix.push(Ix::Ellipsis);
            }
            6 | 7 => {
                let shape = inp.shape(2).into_iter().map(|s| s.min(3)).collect::<Vec<_>>();
                let n: usize = shape.iter().product();
                let vals: Vec<i64> = (0..n).map(|_| in_range(inp)).collect();
                let t = if inp.one_in(3) {
                    let v32: Vec<i32> = vals.iter().map(|&v| v as i32).collect();
                    ix.push(Ix::Ints { vals: v32.iter().map(|&v| v as i64).collect(), shape: shape.clone() });
                    Tensor::from_vec(v32, &shape)
                } else {
                    ix.push(Ix::Ints { vals, shape: shape.clone() });
                    Tensor::from_vec(ix_vals(ix.last()), &shape)
                };
                idx.push(TensorIndex::Tensor(t.expect("a small index tensor")));
                cursor += 1;
            }
            8 | 9 | 10 => {
                // a mask over the dims it lands on (rarely a mismatched one); 0-d now and then
                let k = if inp.one_in(4) { 0 } else { 1 + inp.below(2) };
                let shape: Vec<usize> = match tshape.get(cursor..cursor + k) {
                    Some(s) if !inp.one_in(8) && s.iter().all(|&d| d <= 8) => s.to_vec(),
                    _ => (0..k).map(|_| inp.small()).collect(),
                };
                let n: usize = shape.iter().product();
                let raw: Vec<u8> = (0..n).map(|_| inp.below(3) as u8).collect();
                let t = if inp.one_in(3) {
                    Tensor::from_vec(raw.clone(), &shape)
                } else {
                    Tensor::from_vec(raw.iter().map(|&b| b != 0).collect::<Vec<bool>>(), &shape)
                };
                idx.push(TensorIndex::Tensor(t.expect("a small mask")));
                ix.push(Ix::Mask { vals: raw.iter().map(|&b| b != 0).collect(), shape });
                cursor += k;
            }
            11 if inp.one_in(4) => {
                idx.push(TensorIndex::Tensor(Tensor::from_vec(vec![0.0f32], &[1]).expect("a float tensor")));
                ix.push(Ix::Float);
                cursor += 1;
            }
            _ => {
                idx.push(TensorIndex::None);
                ix.push(Ix::NewAxis);
            }
        }
    }
    (idx, ix)
}

fn ix_vals(ix: Option<&Ix>) -> Vec<i64> {
    match ix {
        Some(Ix::Ints { vals, .. }) => vals.clone(),
        _ => unreachable!("called right after pushing an Ints"),
    }
}

/// numpy's broadcasting of two shapes, written out.
fn naive_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let y = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// The flat index into a tensor of `shape` that broadcasting reads for `idx` of a larger shape.
fn broadcast_source(idx: &[u128], shape: &[usize]) -> u128 {
    let lead = idx.len() - shape.len();
    let own: Vec<u128> = shape.iter().enumerate().map(|(j, &s)| if s == 1 { 0 } else { idx[lead + j] }).collect();
    ravel(&own, shape)
}

enum Axis {
    /// A dim of the result that is a range of a dim of t (or a new dim, `src` None).
    Basic { src: Option<usize>, start: u128, step: u128, len: usize },
    /// An advanced index along `src` (None: the new dim of a 0-d mask).
    Adv { src: Option<usize>, vals: Vec<u128>, shape: Vec<usize> },
}

struct IndexPlan {
    shape: Vec<usize>,
    /// For each result element in row-major order, the index into t it reads.
    sources: Vec<Vec<u128>>,
    advanced: bool,
    /// An out-of-range index value: an error unless the result is empty.
    oob: bool,
}

/// numpy's indexing rules with torch's deviations (ints select first; bounds are checked per
/// element, so an empty result never fails; an index tensor on a size-0 dim does).
fn model_index(tshape: &[usize], items: &[Ix]) -> Option<IndexPlan> {
    let n = tshape.len();
    // a 0-d integer tensor acts as an int
    let items: Vec<Ix> = items
        .iter()
        .map(|i| match i {
            Ix::Ints { vals, shape } if shape.is_empty() => Ix::Int(vals[0]),
            other => other.clone(),
        })
        .collect();
    if items.iter().any(|i| matches!(i, Ix::Float)) {
        return None;
    }
    let consumes = |i: &Ix| match i {
        Ix::Int(_) | Ix::Slice(..) | Ix::Ints { .. } | Ix::Float => 1,
        Ix::NewAxis | Ix::Ellipsis => 0,
        Ix::Mask { shape, .. } => shape.len(),
    };
    let consumed: usize = items.iter().map(consumes).sum();
    if consumed > n {
        return None;
    }
    // the ellipsis (or the end) stands for the dims no item names
    let full = Ix::Slice(None, None, 1);
    let mut expanded = Vec::new();
    for it in &items {
        if matches!(it, Ix::Ellipsis) {
            expanded.extend(std::iter::repeat_n(full.clone(), n - consumed));
        } else {
            expanded.push(it.clone());
        }
    }
    if !items.iter().any(|i| matches!(i, Ix::Ellipsis)) {
        expanded.extend(std::iter::repeat_n(full, n - consumed));
    }

    let mut fixed: Vec<Option<u128>> = vec![None; n];
    let mut axes = Vec::new();
    let mut d = 0;
    let mut oob = false;
    for it in expanded {
        match it {
            Ix::Int(i) => {
                let s = tshape[d] as i128;
                let i = i as i128;
                if i < -s || i >= s {
                    return None;
                }
                fixed[d] = Some((if i < 0 { i + s } else { i }) as u128);
                d += 1;
            }
            Ix::Slice(a, b, step) => {
                if step <= 0 {
                    return None;
                }
                let s = tshape[d] as i128;
                let clamp = |v: i64| {
                    let v = v as i128;
                    (if v < 0 { v + s } else { v }).clamp(0, s)
                };
                let (lo, hi, st) = (a.map(clamp).unwrap_or(0), b.map(clamp).unwrap_or(s), step as i128);
                let len = if hi > lo { (hi - lo + st - 1) / st } else { 0 };
                axes.push(Axis::Basic { src: Some(d), start: lo as u128, step: st as u128, len: len as usize });
                d += 1;
            }
            Ix::NewAxis => axes.push(Axis::Basic { src: None, start: 0, step: 1, len: 1 }),
            Ix::Ints { vals, shape } => {
                let s = tshape[d] as i128;
                if s == 0 && !vals.is_empty() {
                    return None;
                }
                let vals = vals
                    .iter()
                    .map(|&v| {
                        let v = v as i128;
                        if v < -s || v >= s {
                            oob = true;
                            0
                        } else {
                            (if v < 0 { v + s } else { v }) as u128
                        }
                    })
                    .collect();
                axes.push(Axis::Adv { src: Some(d), vals, shape });
                d += 1;
            }
            Ix::Mask { vals, shape } if shape.is_empty() => {
                // x[True] adds a dim of size 1, x[False] one of size 0
                let keep = vals[0];
                axes.push(Axis::Adv { src: None, vals: if keep { vec![0] } else { vec![] }, shape: vec![keep as usize] });
            }
            Ix::Mask { vals, shape } => {
                let k = shape.len();
                if tshape[d..d + k] != shape[..] {
                    return None;
                }
                let coords: Vec<Vec<u128>> = all_indices(&shape).into_iter().zip(&vals).filter(|(_, &v)| v).map(|(c, _)| c).collect();
                for j in 0..k {
                    axes.push(Axis::Adv { src: Some(d + j), vals: coords.iter().map(|c| c[j]).collect(), shape: vec![coords.len()] });
                }
                d += k;
            }
            Ix::Ellipsis | Ix::Float => unreachable!("replaced above"),
        }
    }

    let adv_at: Vec<usize> = axes.iter().enumerate().filter(|(_, a)| matches!(a, Axis::Adv { .. })).map(|(i, _)| i).collect();
    let mut bshape: Vec<usize> = Vec::new();
    for a in &axes {
        if let Axis::Adv { shape, .. } = a {
            bshape = naive_broadcast(&bshape, shape)?;
        }
    }
    let basic_lens: Vec<usize> = axes.iter().filter_map(|a| if let Axis::Basic { len, .. } = a { Some(*len) } else { None }).collect();
    // numpy: the broadcast dims replace adjacent advanced indices in place, else go first
    let insert_at = match adv_at.first() {
        Some(&first) if adv_at.windows(2).all(|w| w[1] == w[0] + 1) => first,
        _ => 0,
    };
    let nb = if adv_at.is_empty() { 0 } else { bshape.len() };
    let mut shape = basic_lens[..insert_at].to_vec();
    shape.extend_from_slice(&bshape[..nb]);
    shape.extend_from_slice(&basic_lens[insert_at..]);
    let sources = all_indices(&shape)
        .into_iter()
        .map(|r| {
            let b = &r[insert_at..insert_at + nb];
            let mut basic = r[..insert_at].iter().chain(&r[insert_at + nb..]);
            let mut src: Vec<u128> = fixed.iter().map(|f| f.unwrap_or(0)).collect();
            for a in &axes {
                match a {
                    Axis::Basic { src: s, start, step, .. } => {
                        let i = *basic.next().expect("one result dim per basic axis");
                        if let Some(s) = s {
                            src[*s] = start + i * step;
                        }
                    }
                    Axis::Adv { src: Some(s), vals, shape } => src[*s] = vals[broadcast_source(b, shape) as usize],
                    Axis::Adv { src: None, .. } => {}
                }
            }
            src
        })
        .collect();
    Some(IndexPlan { shape, sources, advanced: !adv_at.is_empty(), oob })
}

/// Whether the elements are at distinct positions (writes through them are allowed); None for
/// an empty view, where torch and rgrad differ and either answer is fine.
fn distinct(m: &ViewModel, idx: &[Vec<u128>]) -> Option<bool> {
    if idx.is_empty() {
        return None;
    }
    let mut pos: Vec<u128> = idx.iter().map(|i| m.position(i)).collect();
    pos.sort_unstable();
    Some(pos.windows(2).all(|w| w[0] != w[1]))
}

/// `t[idx]`, `t[idx] = value` and `t[idx] = scalar` on a possibly strided, offset or
/// expanded int64 tensor, against a naive gather and scatter. A refused write must leave the
/// storage unchanged; an accepted one writes exactly the indexed elements.
pub fn indexing(data: &[u8]) {
    let mut inp = Input::new(data);
    let base = inp.shape(4);
    let (buffer, mut m) = arange(&base);
    let mut t = buffer.clone();
    let mut log = vec![format!("arange{base:?}")];
    // a few valid-ish view ops first, so that indices also meet strides, offsets and 0-strides
    const PRELUDE: [ViewOp; 7] = [ViewOp::Permute, ViewOp::Transpose, ViewOp::Narrow, ViewOp::Slice, ViewOp::Select, ViewOp::Unsqueeze, ViewOp::Expand];
    for _ in 0..inp.below(3) {
        if let Some((t2, m2)) = view_step(&mut inp, &t, &m, &PRELUDE, &mut log) {
            // huge sizes (beside a zero) stay in layout_ops: indexing results multiply them
            if m2.small() && m2.shape.iter().fold(1u128, |n, &s| n.saturating_mul(s.max(1) as u128)) <= 1 << 40 {
                (t, m) = (t2, m2);
            }
        }
    }
    let (idx, ix) = gen_index(&mut inp, t.shape());
    log.push(format!("index {ix:?}"));
    let plan = model_index(t.shape(), &ix);
    let t_indices = all_indices(t.shape());

    // t[idx]
    let got = {
        let _trail = Trail::new(&log);
        indexing::index(&t, &idx)
    };
    let want = plan.as_ref().filter(|p| !(p.oob && p.shape.iter().product::<usize>() > 0));
    note(|| format!("index {}", match (&got, &plan) { (Err(_), _) => "refused", (Ok(_), Some(p)) if p.advanced => "ok advanced", _ => "ok basic" }));
    match (&got, want) {
        (Ok(r), Some(p)) => {
            check!(r.shape() == p.shape.as_slice(), log, "t[idx] has shape {:?}, model {:?}", r.shape(), p.shape);
            check!(p.advanced || r.same_storage(&t), log, "basic indexing copied instead of giving a view");
            let want: Vec<i64> = p.sources.iter().map(|s| m.value_at(m.position(s))).collect();
            let vals = r.to_vec::<i64>();
            check!(vals.as_ref().ok() == Some(&want), log, "t[idx] = {vals:?}, model {want:?}");
        }
        (Err(_), None) => {}
        (Ok(r), None) => check!(false, log, "t[idx] accepted (shape {:?}), torch raises", r.shape()),
        (Err(e), Some(p)) => check!(false, log, "t[idx] failed with `{e}`, model shape {:?}", p.shape),
    }

    // t[idx] = value, or t[idx] = scalar
    let fill = inp.one_in(4);
    let vshape: Vec<usize> = if fill {
        vec![]
    } else {
        match (plan.as_ref().map(|p| p.shape.clone()), inp.below(6)) {
            (Some(s), 0 | 1) => s,
            (Some(s), 2) => [vec![1; 1 + inp.below(2)], s].concat(),
            (Some(s), 3) => s.iter().map(|&d| if inp.one_in(2) { 1 } else { d }).collect(),
            (Some(s), 4) => s[inp.below(s.len() + 1)..].to_vec(),
            _ => inp.shape(3),
        }
    };
    let vn: usize = vshape.iter().product();
    let vvals: Vec<i64> = (0..vn as i64).map(|k| 1000 + k).collect();
    let v_i32 = !fill && inp.one_in(5);
    let value = if v_i32 {
        Tensor::from_vec(vvals.iter().map(|&v| v as i32).collect::<Vec<_>>(), &vshape)
    } else {
        Tensor::from_vec(vvals.clone(), &vshape)
    }
    .expect("a small value tensor");
    log.push(if fill { "fill -7".to_string() } else { format!("put {vshape:?}{}", if v_i32 { " int32" } else { "" }) });
    let before = buffer.to_vec::<i64>().expect("the buffer reads");
    let got = {
        let _trail = Trail::new(&log);
        if fill {
            indexing::index_fill(&t, &idx, Scalar::Int(-7))
        } else {
            indexing::index_put(&t, &idx, &value)
        }
    };
    let after = buffer.to_vec::<i64>().expect("the buffer reads");
    note(|| format!("{} {}", if fill { "fill" } else { "put" }, if got.is_ok() { "ok" } else { "refused" }));

    // torch: the value loses its leading 1s, then broadcasts to the indexed shape
    let stripped: Vec<usize> = vshape.iter().copied().skip_while(|&s| s == 1).collect();
    let is_advanced = ix.iter().any(|i| match i {
        Ix::Ints { shape, .. } => !shape.is_empty(),
        Ix::Mask { .. } | Ix::Float => true,
        _ => false,
    });
    let want: Option<(&IndexPlan, Option<bool>)> = (|| {
        if is_advanced && v_i32 {
            return None; // index_put wants matching dtypes
        }
        let p = plan.as_ref()?;
        if naive_broadcast(&stripped, &p.shape).as_deref() != Some(p.shape.as_slice()) {
            return None;
        }
        if p.oob && p.shape.iter().product::<usize>() > 0 {
            return None;
        }
        // a basic index writes through the view it selects, an advanced one into t
        let writable = if p.advanced { distinct(&m, &t_indices) } else { distinct(&m, &p.sources) };
        if writable == Some(false) {
            return None;
        }
        Some((p, writable))
    })();
    match (&got, want) {
        (Ok(()), Some((p, _))) => {
            // every written position holds one of the values sent there; the rest is untouched
            let mut sent: std::collections::HashMap<usize, Vec<i64>> = Default::default();
            let fill_vals = [-7i64];
            let (vals, from): (&[i64], &[usize]) = if fill { (&fill_vals, &[]) } else { (&vvals, &stripped) };
            for (k, src) in p.sources.iter().enumerate() {
                let r = unravel(k as u128, &p.shape);
                let v = vals[broadcast_source(&r, from) as usize];
                sent.entry(m.position(src) as usize).or_default().push(v);
            }
            for (pos, (&b, &a)) in before.iter().zip(&after).enumerate() {
                match sent.get(&pos) {
                    Some(vs) => check!(vs.contains(&a), log, "storage[{pos}] = {a} after the write, model one of {vs:?}"),
                    None => check!(a == b, log, "storage[{pos}] changed from {b} to {a}, outside the indexed elements"),
                }
            }
        }
        (Err(_), None) => check!(before == after, log, "a refused write changed the storage: {before:?} -> {after:?}"),
        (Err(_), Some((_, None))) => check!(before == after, log, "a refused write changed the storage"),
        (Ok(()), None) => check!(false, log, "the write was accepted, torch raises"),
        (Err(e), Some((p, Some(_)))) => check!(false, log, "the write failed with `{e}`, model shape {:?}", p.shape),
    }
}

// ----- harness: broadcasting --------------------------------------------------------------

/// A tensor of `shape` whose element at flat index k is `f(k)`, stored contiguously, through a
/// transpose, or as an expansion of a smaller tensor (then `f` is taken at the source index).
fn make_operand(inp: &mut Input, shape: &[usize], seed: i64, as_i32: bool) -> (Tensor, Vec<i64>, bool) {
    let f = |k: u128| ((k as i64 * 7 + seed) % 17) - 8;
    let n = shape.len();
    let idx = all_indices(shape);
    let mut expanded = false;
    let rev: Vec<usize> = shape.iter().rev().copied().collect();
    let (t, vals): (crate::Result<Tensor>, Vec<i64>) = match inp.below(3) {
        // (an empty shape whose reversed strides overflow cannot be allocated)
        1 if n >= 2 && strides_fit(&rev) => {
            // stored with its dims reversed, then permuted back
            let stored: Vec<i64> = all_indices(&rev).iter().map(|i| f(ravel(&i.iter().rev().copied().collect::<Vec<_>>(), shape))).collect();
            let p: Vec<isize> = (0..n as isize).rev().collect();
            let t = if as_i32 {
                Tensor::from_vec(stored.iter().map(|&v| v as i32).collect::<Vec<_>>(), &rev)
            } else {
                Tensor::from_vec(stored, &rev)
            };
            (t.and_then(|t| t.permute(&p)), idx.iter().map(|i| f(ravel(i, shape))).collect())
        }
        2 => {
            // some dims expanded from 1 (stride 0)
            let src: Vec<usize> = shape.iter().map(|&s| if s != 0 && inp.one_in(2) { 1 } else { s }).collect();
            expanded = src != shape;
            let m: usize = src.iter().product();
            let data: Vec<i64> = (0..m as u128).map(f).collect();
            let t = if as_i32 { Tensor::from_vec(data.iter().map(|&v| v as i32).collect::<Vec<_>>(), &src) } else { Tensor::from_vec(data, &src) };
            (t.and_then(|t| t.broadcast_to(shape)), idx.iter().map(|i| f(broadcast_source(i, &src))).collect())
        }
        _ => {
            let data: Vec<i64> = idx.iter().map(|i| f(ravel(i, shape))).collect();
            let t = if as_i32 { Tensor::from_vec(data.iter().map(|&v| v as i32).collect::<Vec<_>>(), shape) } else { Tensor::from_vec(data.clone(), shape) };
            (t, data)
        }
    };
    (t.expect("a small operand"), vals, expanded)
}

fn naive_binary(op: BinaryOp, a: i64, b: i64) -> i64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::BitXor => a ^ b,
        _ => unreachable!("only the ops above are generated"),
    }
}

const BINARY_OPS: [BinaryOp; 8] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Maximum,
    BinaryOp::Minimum,
    BinaryOp::BitAnd,
    BinaryOp::BitOr,
    BinaryOp::BitXor,
];

/// broadcast_shape(s) against numpy's rule, expanded layouts against naive index mapping, and
/// elementwise ops (out of place, in place, with a scalar) and sum_to_size on broadcast
/// operands against naive loops.
pub fn broadcast(data: &[u8]) {
    let mut inp = Input::new(data);
    let gen_shape = |inp: &mut Input| -> Vec<usize> {
        let rank = inp.below(6);
        (0..rank).map(|_| if inp.one_in(12) { inp.size() } else { [1, 1, 2, 3, 0, 1, 2, 4][inp.below(8)] }).collect()
    };
    let (a, b, c) = (gen_shape(&mut inp), gen_shape(&mut inp), gen_shape(&mut inp));
    let log = [format!("shapes {a:?} {b:?} {c:?}")];
    let _trail = Trail::new(&log);

    let want_ab = naive_broadcast(&a, &b);
    for (x, y) in [(&a, &b), (&b, &a)] {
        let got = broadcast_shape(x, y);
        check!(got.as_ref().ok().map(|s| s.to_vec()) == want_ab, log, "broadcast_shape({x:?}, {y:?}) = {got:?}, model {want_ab:?}");
    }
    let want_abc = want_ab.as_ref().and_then(|ab| naive_broadcast(ab, &c));
    let got = broadcast_shapes(&[&a, &b, &c]);
    check!(got.as_ref().ok().map(|s| s.to_vec()) == want_abc, log, "broadcast_shapes = {got:?}, model {want_abc:?}");
    check!(broadcast_shapes(&[]).is_ok_and(|s| s.is_empty()), log, "broadcast_shapes of nothing is not []");

    let Some(out) = want_ab else { return };
    // each operand's contiguous layout expanded to the result walks the naive source indices
    for x in [&a, &b] {
        if checked_numel(x).is_none_or(|n| n > LIMIT as u128) {
            continue;
        }
        let got = Layout::contiguous(x).broadcast_to(&out);
        let Some(numel) = checked_numel(&out) else {
            check!(got.is_err(), log, "broadcast_to({out:?}) accepted a shape whose numel overflows");
            continue;
        };
        check!(got.is_ok(), log, "broadcast_to({out:?}) of {x:?} failed: {got:?}");
        let l = got.unwrap();
        check!(l.shape.as_slice() == out.as_slice() && l.numel() as u128 == numel, log, "broadcast_to gives {l:?}");
        let mut idx = vec![0u128; out.len()];
        for off in l.offsets().take(LIMIT) {
            let want = broadcast_source(&idx, x);
            check!(off as u128 == want, log, "{x:?} broadcast to {out:?}: element {idx:?} at {off}, model {want}");
            advance(&mut idx, &out);
        }
        if numel > 0 {
            let (lo, hi) = l.storage_span();
            check!(hi <= x.iter().product::<usize>() && lo < hi, log, "span {lo}..{hi} of {l:?} outside its {x:?} source");
        }
    }

    // the kernels, on small operands only
    // (an empty shape whose strides overflow cannot be allocated, in torch either)
    let small = |s: &[usize]| checked_numel(s).is_some_and(|n| n <= LIMIT as u128) && strides_fit(s);
    if !(small(&a) && small(&b) && small(&out)) {
        return;
    }
    let (a_i32, b_i32) = (inp.one_in(4), inp.one_in(4));
    let (ta, va, a_expanded) = make_operand(&mut inp, &a, 3, a_i32);
    let (tb, vb, _) = make_operand(&mut inp, &b, 11, b_i32);
    let op = BINARY_OPS[inp.below(BINARY_OPS.len())];
    note(|| "broadcast kernels".to_string());
    let log = [format!("shapes {a:?} {b:?} -> {out:?}, {op:?}, int32 {a_i32}/{b_i32}")];
    let _trail2 = Trail::new(&log);
    let out_idx = all_indices(&out);
    let expect: Vec<i64> = out_idx.iter().map(|i| naive_binary(op, va[broadcast_source(i, &a) as usize], vb[broadcast_source(i, &b) as usize])).collect();

    let r = ta.binary(op, &Rhs::Tensor(tb.clone()));
    check!(r.as_ref().is_ok_and(|r| r.shape() == out.as_slice()), log, "binary gives {r:?}");
    let got = r.unwrap().to_vec::<i64>().expect("reads back");
    check!(got == expect, log, "binary = {got:?}, model {expect:?}");

    let cmp = [CmpOp::Eq, CmpOp::Lt, CmpOp::Ge][inp.below(3)];
    let r = ta.compare(cmp, &Rhs::Tensor(tb.clone())).and_then(|r| r.to_vec::<bool>());
    let want: Vec<bool> = out_idx
        .iter()
        .map(|i| {
            let (x, y) = (va[broadcast_source(i, &a) as usize], vb[broadcast_source(i, &b) as usize]);
            match cmp {
                CmpOp::Eq => x == y,
                CmpOp::Lt => x < y,
                _ => x >= y,
            }
        })
        .collect();
    check!(r.as_ref().ok() == Some(&want), log, "{cmp:?} = {r:?}, model {want:?}");

    let k = inp.int().clamp(-100, 100);
    let r = ta.binary(op, &Rhs::Scalar(Scalar::Int(k))).and_then(|r| r.to_vec::<i64>());
    let want: Vec<i64> = va.iter().map(|&x| naive_binary(op, x, k)).collect();
    check!(r.as_ref().ok() == Some(&want), log, "binary with scalar {k} = {r:?}, model {want:?}");

    // sum_to_size: only to a shape that expands to a's
    let target: Vec<usize> = match inp.below(4) {
        0 => a.iter().map(|&s| if inp.one_in(2) { 1 } else { s }).collect(),
        1 => a[inp.below(a.len() + 1)..].to_vec(),
        2 => a.iter().rev().copied().collect(),
        _ => gen_shape(&mut inp),
    };
    let target = if target.len() > a.len() || checked_numel(&target).is_none_or(|n| n > LIMIT as u128) { a.clone() } else { target };
    let expandable = naive_broadcast(&target, &a).as_deref() == Some(a.as_slice());
    let got = Some(ta.sum_to_size(&target));
    note(|| format!("sum_to_size {}", if got.as_ref().is_some_and(|g| g.is_ok()) { "ok" } else { "refused or skipped" }));
    if let (true, Some(got)) = (expandable, got.as_ref()) {
        let mut want = vec![0i64; target.iter().product()];
        for (i, &v) in all_indices(&a).iter().zip(&va) {
            want[broadcast_source(i, &target) as usize] += v;
        }
        let r = got.as_ref().map_err(|e| e.clone()).and_then(|r| if r.shape() == target.as_slice() { r.to_vec::<i64>() } else { Err(Error::runtime(format!("shape {:?}", r.shape()))) });
        check!(r.as_ref().ok() == Some(&want), log, "sum_to_size({target:?}) = {r:?}, model {want:?}");
    } else if let Some(Ok(r)) = &got {
        check!(false, log, "sum_to_size({target:?}) of {a:?} accepted: {:?}", r.shape());
    }

    // in place, last since it may write into ta: the result must keep a's shape, and an
    // expanded a (several elements at one address) is refused, except that an empty one may go
    // either way
    let dst = if inp.one_in(2) { ta.clone() } else { ta.deep_clone().expect("a copy") };
    let aliased = a_expanded && dst.same_storage(&ta) && dst.numel() > 0;
    let before = dst.to_vec::<i64>().expect("reads");
    let got = dst.binary_(op, &Rhs::Tensor(tb.clone()));
    note(|| format!("in-place {}", if got.is_ok() { "ok" } else { "refused" }));
    let after = dst.to_vec::<i64>().expect("reads");
    if got.is_err() {
        check!(before == after, log, "a refused in-place op changed its target: {before:?} -> {after:?}");
    }
    if out != a {
        check!(got.is_err(), log, "in-place op into {a:?} accepted a broadcast to {out:?}");
    } else if aliased {
        check!(got.is_err(), log, "in-place op into an expanded tensor accepted");
    } else if !(a_expanded && dst.numel() == 0) {
        check!(got.is_ok(), log, "in-place op failed: {got:?}");
        check!(after == expect, log, "in-place result {after:?}, model {expect:?}");
    }
}

// ----- harness: the byte loader -----------------------------------------------------------

/// Element `i` of little-endian `bytes` in `dtype`, decoded by hand.
fn decode(bytes: &[u8], dtype: DType, i: usize) -> Scalar {
    let es = dtype.size();
    let b = &bytes[i * es..(i + 1) * es];
    let u = b.iter().rev().fold(0u64, |acc, &x| acc << 8 | x as u64);
    let f16 = |h: u64| -> f64 {
        let (sign, e, f) = (if h >> 15 == 1 { -1.0 } else { 1.0 }, ((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
        sign * match e {
            0 => f * 2f64.powi(-24),
            31 if f == 0.0 => f64::INFINITY,
            31 => f64::NAN,
            _ => (1.0 + f / 1024.0) * 2f64.powi(e - 15),
        }
    };
    match dtype {
        DType::Bool => Scalar::Bool(u != 0),
        DType::U8 => Scalar::Int(u as i64),
        DType::I8 => Scalar::Int(u as u8 as i8 as i64),
        DType::I16 => Scalar::Int(u as u16 as i16 as i64),
        DType::I32 => Scalar::Int(u as u32 as i32 as i64),
        DType::I64 => Scalar::Int(u as i64),
        DType::F16 => Scalar::Float(f16(u)),
        DType::BF16 => Scalar::Float(f32::from_bits((u as u32) << 16) as f64),
        DType::F32 => Scalar::Float(f32::from_bits(u as u32) as f64),
        DType::F64 => Scalar::Float(f64::from_bits(u)),
    }
}

fn same_scalar(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (a, b) => a == b,
    }
}

/// `Tensor::from_bytes` as `rgrad.load` and the safetensors reader call it: any dtype, any
/// shape (huge ones included), any byte count. Accepted exactly when the bytes fill the shape;
/// then every element reads back as its bytes say. Followed by `_rebuild_tensor_v2`'s
/// `as_strided` over the flat storage with fuzzed size, stride and offset.
pub fn loaders(data: &[u8]) {
    let mut inp = Input::new(data);
    let dtype = ALL_DTYPES[inp.below(ALL_DTYPES.len())];
    let es = dtype.size();
    let shape: Vec<usize> = (0..inp.below(4)).map(|_| inp.size()).collect();
    let nbytes = checked_numel(&shape).and_then(|n| n.checked_mul(es as u128));
    // mostly the right byte count, so that the accepting path runs; otherwise a near miss
    let len = match nbytes {
        Some(n) if n <= 4096 && !inp.one_in(4) => n as usize,
        Some(n) if n <= 4096 => {
            let miss = 1 + inp.below(es);
            if inp.one_in(2) { n as usize + miss } else { (n as usize).saturating_sub(miss) }
        }
        _ => inp.below(40),
    };
    let bytes: Vec<u8> = (0..len).map(|_| inp.byte()).collect();
    let log = [format!("from_bytes({len} bytes, {dtype:?}, {shape:?})")];
    let _trail = Trail::new(&log);
    let got = Tensor::from_bytes(&bytes, dtype, &shape);
    let accept = nbytes == Some(len as u128) && strides_fit(&shape);
    note(|| format!("from_bytes {}", if got.is_ok() { "ok" } else { "refused" }));
    match got {
        Err(_) if !accept => return,
        Err(ref e) => check!(false, log, "refused: {e}"),
        Ok(ref t) if !accept => check!(false, log, "accepted a shape of {:?} elements", t.numel()),
        Ok(_) => {}
    }
    let t = got.unwrap();
    check!(t.shape() == shape.as_slice() && t.dtype() == dtype, log, "gives {t:?}");
    check!(t.storage().nbytes() == len && t.numel() * es == len, log, "{} elements in {} bytes", t.numel(), t.storage().nbytes());
    // a bool byte other than 0/1 is read as true (as numpy reads it) and stored as 1
    let stored: Vec<u8> = if dtype == DType::Bool { bytes.iter().map(|&b| (b != 0) as u8).collect() } else { bytes.clone() };
    check!(t.to_bytes().ok().as_ref() == Some(&stored), log, "to_bytes differs from the bytes loaded");
    for i in 0..t.numel().min(LIMIT) {
        let (g, w) = (t.get_flat(i).expect("element reads"), decode(&bytes, dtype, i));
        check!(same_scalar(g, w), log, "element {i} reads {g:?}, its bytes say {w:?}");
    }

    // torch.load: a flat storage, then as_strided(size, stride, offset) from the pickle
    let count = len / es;
    let flat = Tensor::from_bytes(&bytes[..count * es], dtype, &[count]).expect("a flat storage");
    let rank = inp.below(4);
    let size: Vec<usize> = (0..rank).map(|_| inp.size()).collect();
    let stride: Vec<isize> = (0..rank).map(|_| if inp.one_in(6) { inp.int() as isize } else { inp.below(5) as isize }).collect();
    let offset = if inp.one_in(6) { inp.int().unsigned_abs() as usize } else { inp.below(count + 2) };
    let log = [format!("{} -> as_strided({size:?}, {stride:?}, {offset})", log[0])];
    let _trail2 = Trail::new(&log);
    let m = ViewModel::new(&[count]).as_strided(&size, &stride, offset);
    let got = flat.as_strided(&size, &stride, Some(offset));
    note(|| format!("as_strided {}", if got.is_ok() { "ok" } else { "refused" }));
    match (got, m) {
        (Ok(v), Some(m)) => {
            check!(v.shape() == size.as_slice(), log, "shape {:?}", v.shape());
            if m.small() {
                for (k, idx) in all_indices(&size).iter().enumerate() {
                    let (g, w) = (v.get_flat(k).expect("element reads"), decode(&bytes, dtype, m.position(idx) as usize));
                    check!(same_scalar(g, w), log, "element {idx:?} reads {g:?}, storage says {w:?}");
                }
            }
        }
        (Err(_), None) => {}
        (Ok(v), None) => check!(false, log, "accepted (shape {:?}), torch raises", v.shape()),
        (Err(e), Some(_)) => check!(false, log, "refused: {e}"),
    }
}

// ----- tests ------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a fixed stream, so every run checks the same cases.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    fn case(rng: &mut Rng, max_len: usize) -> Vec<u8> {
        let len = (rng.next() % (max_len as u64 + 1)) as usize;
        (0..len).map(|_| rng.next() as u8).collect()
    }

    /// The panic's message, with the ops that led to it when the core panicked.
    fn message(e: Box<dyn std::any::Any + Send>) -> String {
        let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
        let trail = LAST_TRAIL.with(|t| t.take());
        if trail.is_empty() || msg.contains("\n  ops: ") {
            msg
        } else {
            format!("{msg}\n  ops: {trail}")
        }
    }

    /// Runs `harness` on `cases` byte strings of up to `max_len` bytes. A failure names the
    /// input, which the fuzz target replays as is.
    fn run(seed: u64, cases: usize, max_len: usize, harness: fn(&[u8])) {
        let mut rng = Rng(seed);
        for _ in 0..cases {
            let data = case(&mut rng, max_len);
            if let Err(e) = std::panic::catch_unwind(|| harness(&data)) {
                panic!("input {data:?}\n{}", message(e));
            }
        }
    }

    /// Not a check: replays one input, from a failure message or a fuzzer's artifact, and names
    /// the ops that led to a failure: `RGRAD_FUZZ_REPLAY="layout_ops [1, 2, 3]"` or
    /// `RGRAD_FUZZ_REPLAY="loaders rust/fuzz/artifacts/loaders/crash-..."`, then
    /// `cargo test --lib replay -- --ignored`.
    #[test]
    #[ignore]
    fn replay() {
        let spec = std::env::var("RGRAD_FUZZ_REPLAY").expect("RGRAD_FUZZ_REPLAY=\"<harness> [<byte>, ...]\" or \"<harness> <file>\"");
        let (name, rest) = spec.trim().split_once(' ').expect("a harness name, a space, then the bytes or a file");
        let data: Vec<u8> = match std::fs::read(rest.trim()) {
            Ok(bytes) => bytes,
            Err(_) => rest.split(|c: char| !c.is_ascii_digit()).filter(|b| !b.is_empty()).map(|b| b.parse().expect("a byte")).collect(),
        };
        let harness: fn(&[u8]) = match name {
            "layout_ops" => layout_ops,
            "indexing" => indexing,
            "broadcast" => broadcast,
            "loaders" => loaders,
            other => panic!("no harness {other}"),
        };
        if let Err(e) = std::panic::catch_unwind(|| harness(&data)) {
            panic!("input {data:?}\n{}", message(e));
        }
    }

    /// Not a check: runs every harness on many cases and prints each distinct failure once
    /// with its shortest input (`cargo test --lib survey -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn survey() {
        std::panic::set_hook(Box::new(|_| {}));
        let harnesses: [(&str, fn(&[u8]), usize); 4] = [("layout_ops", layout_ops, 64), ("indexing", indexing, 64), ("broadcast", broadcast, 48), ("loaders", loaders, 96)];
        for (name, harness, max_len) in harnesses {
            let mut seen: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
            let mut rng = Rng(99);
            for _ in 0..100_000 {
                let data = case(&mut rng, max_len);
                if let Err(e) = std::panic::catch_unwind(|| harness(&data)) {
                    let msg = message(e);
                    let key: String = msg.lines().next().unwrap_or("").chars().filter(|c| !c.is_ascii_digit()).take(60).collect();
                    let slot = seen.entry(key).or_insert_with(|| data.clone());
                    if data.len() < slot.len() {
                        *slot = data.clone();
                    }
                }
            }
            let outcomes = OUTCOMES.with(|o| std::mem::take(&mut *o.borrow_mut()));
            println!("{name}: outcomes {outcomes:?}");
            for (key, data) in &seen {
                let msg = std::panic::catch_unwind(|| harness(data)).err().map(message).unwrap_or_default();
                println!("{name}: {key}\n  input {data:?}\n  {}", msg.replace('\n', "\n  "));
            }
        }
        let _ = std::panic::take_hook();
    }

    #[test]
    fn layout_ops_cases() {
        run(1, 100_000, 64, layout_ops);
    }

    #[test]
    fn indexing_cases() {
        run(2, 100_000, 64, indexing);
    }

    #[test]
    fn broadcast_cases() {
        run(3, 100_000, 48, broadcast);
    }

    #[test]
    fn loaders_cases() {
        run(4, 100_000, 96, loaders);
    }

    #[test]
    fn empty_and_short_inputs() {
        for h in [layout_ops, indexing, broadcast, loaders] {
            h(&[]);
            for b in 0..=255u8 {
                h(&[b]);
                h(&[b, b]);
            }
        }
    }

    // Reproductions of the bugs these harnesses found, fixed in the core.

    #[test]
    fn fixed_empty_not_contiguous() {
        let t = Tensor::from_vec(vec![0i64], &[]).unwrap();
        assert!(t.expand(&[0, 2]).unwrap().is_contiguous());
        let t = Tensor::from_vec(Vec::<i64>::new(), &[1, 0, 4, 2]).unwrap();
        assert!(t.transpose(-1, -4).unwrap().is_contiguous());
    }

    #[test]
    fn fixed_narrow_overflow() {
        let t = Tensor::from_vec(vec![0i64; 12], &[3, 4]).unwrap();
        assert!(t.narrow(0, 1, i64::MAX).is_err());
        let t = Tensor::from_vec((0..8i64).collect::<Vec<_>>(), &[8]).unwrap();
        let v = t.slice(0, Some(5), Some(6), 1).unwrap().slice(0, None, None, i64::MAX - 1).unwrap();
        assert_eq!(v.narrow(0, 1, 0).unwrap().shape(), &[0]);
    }

    /// Found by `layout_ops` (x[::2**63-1] had 2**64-1 rows), fixed in `Layout::slice`.
    #[test]
    fn huge_slice_step_keeps_one_row() {
        let t = Tensor::from_vec(vec![0i64; 12], &[3, 4]).unwrap();
        let s = t.slice(0, None, None, i64::MAX).unwrap();
        assert_eq!(s.shape(), &[1, 4]);
    }

    #[test]
    fn fixed_strided_offsets_overflow() {
        let t = Tensor::from_vec((0..8i64).collect::<Vec<_>>(), &[8]).unwrap();
        let v = t.slice(0, Some(5), Some(6), 1).unwrap().slice(0, None, None, i64::MAX - 1).unwrap();
        assert_eq!(v.layout().offsets().collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn fixed_squeeze_repeated_dims() {
        let t = Tensor::from_vec(vec![0i64; 2], &[1, 2]).unwrap();
        assert!(t.squeeze(Some(&[0, 0])).is_err());
    }

    #[test]
    fn fixed_expand_numel_overflow() {
        let t = Tensor::from_vec(vec![0i64], &[1, 1]).unwrap();
        assert!(t.expand(&[1 << 40, 1 << 40]).is_err());
    }

    #[test]
    fn fixed_diagonal_overflow() {
        let t = Tensor::from_vec(vec![0i64; 12], &[3, 4]).unwrap();
        assert_eq!(t.diagonal(1 << 62, 0, 1).unwrap().shape(), &[0]);
        assert_eq!(t.diagonal(i64::MIN, 0, 1).unwrap().shape(), &[0]);
        let huge_stride = t.slice(1, Some(4), None, i64::MAX - 1).unwrap();
        assert_eq!(huge_stride.diagonal(0, 0, 1).unwrap().shape(), &[0]);
    }

    #[test]
    fn fixed_unflatten_0d() {
        let t = Tensor::from_vec(vec![5i64], &[]).unwrap();
        assert!(t.unflatten(0, &[1]).is_err());
    }

    #[test]
    fn fixed_as_strided_overflow() {
        let t = Tensor::from_vec(vec![0f32; 3], &[3]).unwrap();
        assert!(t.as_strided(&[3], &[1 << 62], Some(0)).is_err());
        assert!(t.as_strided(&[1 << 32, 1 << 32], &[0, 0], Some(0)).is_err());
    }

    #[test]
    fn fixed_contiguous_strides_overflow() {
        // torch refuses the strides and allocates nothing; the first dim's size is in no stride
        let e = Tensor::zeros(&[0, 1 << 62, 1 << 62], DType::F32, crate::device::Device::Cpu).unwrap_err();
        assert_eq!(e.to_string(), "Stride calculation overflowed");
        assert_eq!(Tensor::zeros(&[4, 0, 1 << 62], DType::F32, crate::device::Device::Cpu).unwrap().strides(), &[1 << 62, 1 << 62, 1]);
    }

    #[test]
    fn fixed_from_bytes_numel_overflow() {
        assert!(Tensor::from_bytes(&[], DType::F32, &[1 << 62, 4]).is_err());
    }

    #[test]
    fn fixed_bool_not_0_or_1() {
        let t = Tensor::from_bytes(&[2], DType::Bool, &[1]).unwrap();
        assert_eq!(t.to_bytes().unwrap(), vec![1]);
    }

    #[test]
    fn fixed_sum_to_size_not_expandable() {
        let t = Tensor::from_vec(vec![0i64; 6], &[2, 3]).unwrap();
        assert!(t.sum_to_size(&[3, 2]).is_err());
    }
}
