//! The autograd graph: grad mode, per-tensor autograd metadata, graph nodes and edges, saved
//! tensors, and the engine that walks the graph backwards. The backward rule of each op lives
//! in `backprop.rs`; this file only knows how gradients flow between nodes.
//!
//! Ownership follows torch: a tensor owns its `grad_fn`, a node owns the nodes of its inputs
//! (through `next` edges) and the tensors it saved, and a leaf's `AccumulateGrad` node owns the
//! leaf. Outputs saved by their own node are stored without history, so no cycle forms.

use crate::backprop::GradOp;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, WeakTensor};
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

// ----- grad mode ------------------------------------------------------------------------------

thread_local! {
    // Thread-local as in torch: `no_grad` in one thread leaves the others recording.
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Sets grad mode for this thread and returns the previous mode.
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// Restores the previous grad mode when dropped.
pub struct GradModeGuard(bool);
impl GradModeGuard {
    pub fn new(on: bool) -> Self {
        GradModeGuard(set_grad_enabled(on))
    }
}
impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

// ----- hooks and custom ops -------------------------------------------------------------------

/// A tensor hook: sees the gradient and may replace it (`Ok(Some(new))`).
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// The backward of an op defined outside the core (a Python `autograd.Function`).
pub trait CustomBackward: Send + Sync {
    /// One gradient per output in, one per input out.
    fn backward(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>>;
    /// Drops whatever the op saved for backward.
    fn release(&self) {}
    fn as_any(&self) -> &dyn std::any::Any;
}

// ----- metadata on tensors --------------------------------------------------------------------

/// What a tensor knows about its place in the graph. Absent on tensors that never took part.
#[derive(Default)]
pub struct AutogradMeta {
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub grad: Option<Tensor>,
    pub retains_grad: bool,
    /// A leaf's AccumulateGrad node, shared by every op that uses the leaf while any is alive.
    pub accumulator: Weak<Node>,
    /// Set on views of a leaf that requires grad, so in-place writes through them are refused.
    pub is_view_of_leaf: bool,
    /// For a view: its base and its layout over the (contiguous) base's elements, so in-place
    /// writes through the view update the base's history (torch's CopySlices).
    pub view_base: Option<(Tensor, crate::layout::Layout)>,
    /// The storage version the view's history was made at: a write to the base after it
    /// makes the view's grad_fn stale, and it is rebuilt from the base's (torch's rule).
    pub view_version: Option<u64>,
    /// A leaf's hooks, run before its gradient is accumulated.
    pub hooks: Vec<(u64, Hook)>,
    /// Output `i` of a function returning several views (split, unbind): torch refuses
    /// in-place writes through these, as one node cannot rebase the others.
    pub multi_output_view: Option<(&'static str, usize)>,
}

pub fn next_hook_id() -> u64 {
    HOOK_ID.fetch_add(1, Ordering::Relaxed)
}

// ----- nodes ----------------------------------------------------------------------------------

pub struct Edge {
    pub node: Arc<Node>,
    pub input_nr: usize,
}

pub enum NodeKind {
    /// A recorded op with its backward rule.
    Op(GradOp),
    /// Adds incoming gradients into a leaf's `.grad`.
    Accumulate(Tensor),
}

pub struct TensorMeta {
    pub shape: SmallVec<[usize; 4]>,
    pub dtype: DType,
    pub device: crate::device::Device,
}

impl TensorMeta {
    fn of(t: &Tensor) -> Self {
        TensorMeta { shape: SmallVec::from_slice(t.shape()), dtype: t.dtype(), device: t.device() }
    }
}

/// A tensor saved for backward, with the storage version it had when saved.
pub struct SavedTensor {
    data: Tensor,
    version: u64,
    /// Saved outputs are kept without history (no cycle); unpacking re-attaches this node.
    is_output: bool,
}

pub struct Node {
    /// Creation order: a node is always newer than the nodes it points to.
    pub seq: u64,
    name: Cow<'static, str>,
    /// The name of the torch op a composite recorded here stands for (`VarBackward0` for the
    /// last node of a variance built from primitives), set once after recording.
    alias: std::sync::OnceLock<String>,
    pub kind: NodeKind,
    pub next: Vec<Option<Edge>>,
    in_meta: Vec<TensorMeta>,
    out_meta: Vec<TensorMeta>,
    saved: Mutex<Option<Vec<SavedTensor>>>,
    pre_hooks: Mutex<Vec<(usize, u64, Hook)>>,
    retained: Mutex<Vec<(usize, WeakTensor)>>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);
static HOOK_ID: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub fn name(&self) -> &str {
        self.alias.get().map(String::as_str).unwrap_or(&self.name)
    }
    /// Names this node after the composite op it ends (see `alias`); the first name sticks.
    pub fn set_alias(&self, name: String) {
        let _ = self.alias.set(name);
    }
    /// Records the version saved tensor `i` must have at backward, for an in-place op that
    /// saved an input it then overwrote (`y.mul_(y)`).
    pub fn set_saved_version(&self, i: usize, version: u64) {
        if let Some(saved) = self.saved.lock().as_mut() {
            saved[i].version = version;
        }
    }
    pub fn num_outputs(&self) -> usize {
        self.out_meta.len()
    }
    /// The leaf of an AccumulateGrad node.
    pub fn variable(&self) -> Option<&Tensor> {
        match &self.kind {
            NodeKind::Accumulate(t) => Some(t),
            NodeKind::Op(_) => None,
        }
    }
    pub fn custom(&self) -> Option<&Arc<dyn CustomBackward>> {
        match &self.kind {
            NodeKind::Op(GradOp::Custom(c)) => Some(c),
            _ => None,
        }
    }

    /// Registers a hook on the gradient arriving at output `slot`; returns a handle id.
    pub fn add_pre_hook(&self, slot: usize, hook: Hook) -> u64 {
        let id = HOOK_ID.fetch_add(1, Ordering::Relaxed);
        self.pre_hooks.lock().push((slot, id, hook));
        id
    }
    pub fn remove_pre_hook(&self, id: u64) {
        self.pre_hooks.lock().retain(|(_, i, _)| *i != id);
    }
    pub fn retain_output(&self, slot: usize, t: &Tensor) {
        let mut r = self.retained.lock();
        if !r.iter().any(|(s, w)| *s == slot && w.is(t)) {
            r.push((slot, t.downgrade()));
        }
    }

    /// The `i`-th saved tensor, checked against in-place modification since it was saved.
    pub fn saved(self: &Arc<Self>, i: usize) -> Result<Tensor> {
        let guard = self.saved.lock();
        let Some(saved) = guard.as_ref() else { return Err(freed_error()) };
        let s = &saved[i];
        let now = s.data.version();
        if now != s.version {
            let which = if s.is_output {
                format!(", which is output 0 of {},", short_name(self.name()))
            } else {
                match s.data.grad_fn() {
                    Some(f) => format!(", which is output {} of {},", s.data.output_nr(), short_name(f.name())),
                    None => String::new(),
                }
            };
            return Err(Error::runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: [{} {}]{} is at version {}; expected version {} instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).",
                legacy_type_name(s.data.dtype()),
                crate::shape::fmt_shape(s.data.shape()),
                which,
                now,
                s.version
            )));
        }
        if s.is_output && is_grad_enabled() {
            // Double backward needs the output with its history: this node.
            return Ok(s.data.alias_with_grad_fn(self.clone(), 0));
        }
        Ok(s.data.clone())
    }

    /// Fails as torch does once the node's saved state was freed by a backward without
    /// retain_graph (for rules whose only saved value is a number, kept outside `saved`).
    pub fn check_not_freed(&self) -> Result<()> {
        if self.saved.lock().is_none() {
            return Err(freed_error());
        }
        Ok(())
    }

    fn release(&self) {
        *self.saved.lock() = None;
        if let NodeKind::Op(GradOp::Custom(c)) = &self.kind {
            c.release();
        }
    }
}

/// `MulBackward0` -> `Mul`, as torch names nodes in its in-place error.
fn short_name(name: &str) -> &str {
    match name.find("Backward") {
        Some(i) => &name[..i],
        None => name,
    }
}

fn legacy_type_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "torch.FloatTensor",
        DType::F64 => "torch.DoubleTensor",
        DType::F16 => "torch.HalfTensor",
        DType::BF16 => "torch.BFloat16Tensor",
        _ => "torch.Tensor",
    }
}

fn freed_error() -> Error {
    Error::runtime("Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.")
}

// ----- recording ------------------------------------------------------------------------------

/// Whether an op with these inputs must be recorded.
#[inline]
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    inputs.iter().any(|t| t.requires_grad()) && is_grad_enabled()
}

/// Where the gradient of `t` goes: its grad_fn, or its AccumulateGrad node for a leaf that
/// requires grad, or nowhere.
pub fn gradient_edge(t: &Tensor) -> Option<Edge> {
    if let Some(node) = t.grad_fn() {
        return Some(Edge { node, input_nr: t.output_nr() });
    }
    if t.requires_grad() {
        return Some(Edge { node: t.grad_accumulator(), input_nr: 0 });
    }
    None
}

pub fn new_accumulator(leaf: &Tensor) -> Arc<Node> {
    Arc::new(Node {
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        name: Cow::Borrowed("AccumulateGrad"),
        alias: std::sync::OnceLock::new(),
        kind: NodeKind::Accumulate(leaf.clone()),
        next: Vec::new(),
        in_meta: Vec::new(),
        out_meta: vec![TensorMeta::of(leaf)],
        saved: Mutex::new(Some(Vec::new())),
        pre_hooks: Mutex::new(Vec::new()),
        retained: Mutex::new(Vec::new()),
    })
}

/// A tensor to save: `(tensor, is_output)`. Outputs must be saved with `is_output = true`.
pub type ToSave<'a> = (&'a Tensor, bool);

/// Records `op` as the grad_fn of `outputs`, with one edge per input. Floating outputs become
/// non-leaves that require grad; others (indices) stay out of the graph.
pub fn record(outputs: &[&Tensor], inputs: &[&Tensor], op: GradOp, save: &[ToSave]) -> Arc<Node> {
    record_named(outputs, inputs, op, save, None)
}

pub fn record_named(outputs: &[&Tensor], inputs: &[&Tensor], op: GradOp, save: &[ToSave], name: Option<String>) -> Arc<Node> {
    let saved = save
        .iter()
        .map(|&(t, is_output)| SavedTensor {
            data: if is_output { t.detach() } else { t.clone() },
            version: t.version(),
            is_output,
        })
        .collect();
    // Edges first: a leaf's AccumulateGrad node created here must be older than this node.
    let mut next: Vec<Option<Edge>> = inputs.iter().map(|t| gradient_edge(t)).collect();
    if op.has_wrapped_number_input() {
        // torch wraps the number in a tensor outside the graph: an edge to nothing
        next.push(None);
    }
    let node = Arc::new(Node {
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        name: match name {
            Some(n) => Cow::Owned(n),
            None => Cow::Borrowed(op.name()),
        },
        alias: std::sync::OnceLock::new(),
        kind: NodeKind::Op(op),
        next,
        in_meta: inputs.iter().map(|t| TensorMeta::of(t)).collect(),
        out_meta: outputs.iter().map(|t| TensorMeta::of(t)).collect(),
        saved: Mutex::new(Some(saved)),
        pre_hooks: Mutex::new(Vec::new()),
        retained: Mutex::new(Vec::new()),
    });
    for (i, o) in outputs.iter().enumerate() {
        if o.dtype().is_float() {
            o.set_grad_fn(Some(node.clone()), i);
        }
    }
    node
}

// ----- the engine -----------------------------------------------------------------------------

fn accumulate_into(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => prev.add(&g)?,
    });
    Ok(())
}

/// Makes `g` fit the input it flows into: summed over broadcast dims and cast to its dtype;
/// a gradient that cannot broadcast to the input is the op's bug, reported as torch does.
fn validate(g: Tensor, meta: &TensorMeta, node: &Node, i: usize) -> Result<Tensor> {
    let g = if g.shape() != meta.shape.as_slice() {
        if !expandable_to(g.shape(), &meta.shape) {
            return Err(Error::runtime(format!(
                "Function {} returned an invalid gradient at index {i} - got {} but expected shape compatible with {}",
                node.name(),
                crate::shape::fmt_shape(g.shape()),
                crate::shape::fmt_shape(&meta.shape)
            )));
        }
        g.sum_to_size(&meta.shape)?
    } else {
        g
    };
    if g.dtype() != meta.dtype && meta.dtype.is_float() {
        return g.to_dtype(meta.dtype);
    }
    Ok(g)
}

/// Whether `target` broadcasts to `shape` (torch's is_expandable_to, read the other way: the
/// gradient `shape` can be summed down to `target`).
fn expandable_to(shape: &[usize], target: &[usize]) -> bool {
    if target.len() > shape.len() {
        return false;
    }
    let lead = shape.len() - target.len();
    target.iter().zip(&shape[lead..]).all(|(&t, &s)| t == s || t == 1)
}

/// Runs a hook and checks it kept the gradient's shape.
fn run_hook(hook: &Hook, g: &Tensor) -> Result<Option<Tensor>> {
    let new = hook(g)?;
    if let Some(n) = &new {
        if n.shape() != g.shape() {
            return Err(Error::runtime(format!(
                "hook has changed the size of value: expected {} but got {}",
                crate::shape::fmt_shape(g.shape()),
                crate::shape::fmt_shape(n.shape())
            )));
        }
    }
    Ok(new)
}

/// `leaf.grad += g` the way torch's AccumulateGrad does it: the first gradient is stored as a
/// fresh tensor (never an alias of something the user holds), later ones added in place unless
/// building a differentiable graph.
pub fn accumulate_grad(leaf: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let current = leaf.grad();
    let new = match current {
        None => {
            if create_graph {
                g
            } else {
                g.detach().contiguous_owned()?
            }
        }
        Some(prev) => {
            if create_graph || prev.requires_grad() {
                prev.add(&g)?
            } else {
                prev.add_inplace_raw(&g)?;
                return Ok(());
            }
        }
    };
    leaf.set_grad(Some(new));
    Ok(())
}

/// Runs backward from `roots` (output, gradient) pairs. With `inputs`, returns their gradients
/// instead of accumulating into leaves (`autograd.grad`).
pub fn run_backward(
    roots: &[(Tensor, Tensor)],
    inputs: Option<&[Tensor]>,
    keep_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(create_graph);

    let mut buffers: HashMap<*const Node, Vec<Option<Tensor>>> = HashMap::new();
    let mut nodes: HashMap<*const Node, Arc<Node>> = HashMap::new();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for (i, (out, g)) in roots.iter().enumerate() {
        let Some(edge) = gradient_edge(out) else {
            return Err(Error::runtime(format!("element {i} of tensors does not require grad and does not have a grad_fn")));
        };
        let p = Arc::as_ptr(&edge.node);
        let buf = buffers.entry(p).or_insert_with(|| vec![None; edge.node.num_outputs()]);
        accumulate_into(&mut buf[edge.input_nr], g.clone())?;
        if nodes.insert(p, edge.node.clone()).is_none() {
            stack.push(edge.node);
        }
    }

    // Capture points of autograd.grad: (node, slot) per input.
    let mut targets: Vec<(*const Node, usize)> = Vec::new();
    let mut target_nodes: Vec<Arc<Node>> = Vec::new();
    if let Some(ins) = inputs {
        for t in ins {
            let Some(edge) = gradient_edge(t) else {
                return Err(Error::runtime("One of the differentiated Tensors does not require grad"));
            };
            targets.push((Arc::as_ptr(&edge.node), edge.input_nr));
            target_nodes.push(edge.node);
        }
    }

    // Everything reachable from the roots.
    while let Some(n) = stack.pop() {
        for e in n.next.iter().flatten() {
            let p = Arc::as_ptr(&e.node);
            if nodes.insert(p, e.node.clone()).is_none() {
                stack.push(e.node.clone());
            }
        }
    }
    let mut order: Vec<Arc<Node>> = nodes.into_values().collect();
    order.sort_by_key(|n| n.seq);

    // With capture points, only nodes that lead to one need to run.
    let mut needed: HashMap<*const Node, bool> = HashMap::new();
    if inputs.is_some() {
        for n in &order {
            let p = Arc::as_ptr(n);
            let here = targets.iter().any(|(tp, _)| *tp == p);
            let below = n.next.iter().flatten().any(|e| needed.get(&Arc::as_ptr(&e.node)).copied().unwrap_or(false));
            needed.insert(p, here || below);
        }
    }

    let mut captured: Vec<Option<Tensor>> = vec![None; targets.len()];
    // Newest first: every consumer of a node's outputs is newer than the node.
    for node in order.iter().rev() {
        let p = Arc::as_ptr(node);
        let Some(mut grads) = buffers.remove(&p) else { continue };
        if inputs.is_some() && !needed[&p] {
            continue;
        }
        {
            let hooks: Vec<(usize, Hook)> = node.pre_hooks.lock().iter().map(|(s, _, h)| (*s, h.clone())).collect();
            for (slot, hook) in hooks {
                if let Some(g) = &grads[slot] {
                    if let Some(new) = run_hook(&hook, g)? {
                        grads[slot] = Some(new);
                    }
                }
            }
        }
        let retained: Vec<(usize, WeakTensor)> = node.retained.lock().iter().map(|(s, w)| (*s, w.clone())).collect();
        for (slot, w) in retained {
            if let (Some(t), Some(g)) = (w.upgrade(), &grads[slot]) {
                accumulate_grad(&t, g.clone(), create_graph)?;
            }
        }
        for (k, (tp, slot)) in targets.iter().enumerate() {
            if *tp == p {
                if let Some(g) = &grads[*slot] {
                    accumulate_into(&mut captured[k], g.clone())?;
                }
            }
        }
        let op = match &node.kind {
            NodeKind::Accumulate(leaf) => {
                if inputs.is_none() {
                    if let Some(mut g) = grads[0].take() {
                        for h in leaf.leaf_hooks() {
                            if let Some(new) = run_hook(&h, &g)? {
                                g = new;
                            }
                        }
                        accumulate_grad(leaf, g, create_graph)?;
                    }
                }
                continue;
            }
            NodeKind::Op(op) => op,
        };
        // Outputs that received nothing get zeros, as torch materialises them.
        for (slot, g) in grads.iter_mut().enumerate() {
            if g.is_none() {
                let m = &node.out_meta[slot];
                *g = Some(Tensor::zeros(&m.shape, m.dtype, m.device)?);
            }
        }
        let in_grads = crate::backprop::backward(op, node, &grads)?;
        if !keep_graph {
            node.release();
        }
        for (i, g) in in_grads.into_iter().enumerate() {
            let (Some(edge), Some(g)) = (node.next.get(i).and_then(|e| e.as_ref()), g) else { continue };
            let g = validate(g, &node.in_meta[i], node, i)?;
            let q = Arc::as_ptr(&edge.node);
            let buf = buffers.entry(q).or_insert_with(|| vec![None; edge.node.num_outputs()]);
            accumulate_into(&mut buf[edge.input_nr], g)?;
        }
    }
    drop(target_nodes);

    if inputs.is_some() && !allow_unused {
        if let Some(k) = captured.iter().position(|g| g.is_none()) {
            return Err(Error::runtime(format!(
                "The differentiated Tensor at index {k} appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
            )));
        }
    }
    Ok(captured)
}

// ----- the recording wrapper ops use -----------------------------------------------------------

/// A tensor a rule needs: an input by position, the output, or another tensor (an index).
pub enum Save<'a> {
    Input(usize),
    Output,
    Extra(&'a Tensor),
}

/// Runs `f` and, when an input requires grad, records `op` as the result's history. `f` runs
/// with grad mode off so the ops inside it record nothing themselves.
pub fn recorded(
    inputs: &[&Tensor],
    save: &[Save],
    op: impl FnOnce() -> GradOp,
    f: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    if !needs_grad(inputs) {
        return f();
    }
    let out = {
        let _off = GradModeGuard::new(false);
        f()?
    };
    if !out.dtype().is_float() {
        return Ok(out);
    }
    let to_save: Vec<ToSave> = save
        .iter()
        .map(|s| match s {
            Save::Input(i) => (inputs[*i], false),
            Save::Output => (&out, true),
            Save::Extra(t) => (*t, false),
        })
        .collect();
    record(&[&out], inputs, op(), &to_save);
    Ok(out)
}

/// The checks torch makes before an in-place op under grad mode.
pub fn check_inplace(t: &Tensor, is_view_of_leaf: bool) -> Result<()> {
    if is_grad_enabled() && t.requires_grad() {
        if t.is_leaf() && !is_view_of_leaf {
            return Err(Error::runtime("a leaf Variable that requires grad is being used in an in-place operation."));
        }
        if is_view_of_leaf {
            return Err(Error::runtime("a view of a leaf Variable that requires grad is being used in an in-place operation."));
        }
        if let Some((op, i)) = t.multi_output_view() {
            return Err(Error::runtime(format!(
                "Output {i} of {op} is a view and is being modified inplace. This view is the output of a function that returns multiple views. Such functions do not allow the output views to be modified inplace. You should replace the inplace operation by an out-of-place one."
            )));
        }
    }
    Ok(())
}
