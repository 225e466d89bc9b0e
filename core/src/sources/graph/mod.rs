//! What the readers of recorded graphs (`.pt2`, ONNX) share: a graph of operators, each placed in the
//! module call it ran in, with the shapes the file records for every value — and how that becomes the
//! per-module measurements a forward pass would give, with nothing run.
//!
//! - A module call's **outputs** are the values its operators (its children's included) produce that
//!   leave it: used by an operator outside the call, or returned by the model. What torchinfo's forward
//!   hook sees, without the hook.
//! - Its **operator mult-adds** are those of the operators in its own scope, counted by
//!   [`crate::op_macs`] from the recorded shapes, exactly as the TorchScript forward pass counts them.
//! - The **data flow** (`from` → `to`): a call's output used directly by an operator of another module.
//!
//! The readers build an [`OpGraph`] ([`sizes`] evaluates the sizes recorded as expressions); [`attach`]
//! puts it on the summary.

pub mod sizes;
pub mod symbols;
pub mod tree;

use crate::dtype::DType;
use crate::summary::macs::fill_torchinfo_mult_adds;
use crate::summary::{DataEdge, ModelSummary, ModuleNode, TensorValue};
use crate::units;
use std::collections::{BTreeMap, HashMap, HashSet};

pub type ValueId = usize;
pub type CallId = usize;

/// Module calls nest no deeper than this (real models: about 10).
pub const MAX_CALL_DEPTH: usize = 128;
/// The most module calls a graph may make: as many as the modules a tree may hold (a 70B LLM makes
/// a few thousand; a module run in a loop makes one per run).
pub const MAX_CALLS: usize = 1 << 18;

/// One value of the graph: its shape and dtype when the file records them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Value {
    pub tensor: Option<TensorValue>,
}

/// One call of a module: which module (its dotted path, `""` for the root) and the call it ran in.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub path: String,
    pub parent: Option<CallId>,
    pub depth: usize,
}

/// What an operator costs in mult-adds, as far as the counter can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cost {
    /// Counted from its recorded shapes.
    Counted(u64),
    /// An operator that does no multiply-accumulate work (activations, norms, views, pooling …).
    Free,
    /// It does such work but the counter has no formula for it (named for the note).
    Unknown(String),
    /// A counted operator whose shapes the file does not record, or records in a form the formula
    /// cannot use.
    Unshaped(String),
    /// An operator holding subgraphs that may run any number of times (a loop, a condition): its
    /// inner operators are not counted.
    ControlFlow(String),
}

/// One operator.
#[derive(Debug, Clone, PartialEq)]
pub struct OpNode {
    pub call: CallId,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    pub cost: Cost,
}

/// A recorded graph, as the readers build it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpGraph {
    pub values: Vec<Value>,
    /// `calls[0]` is the root module's call.
    pub calls: Vec<Call>,
    pub nodes: Vec<OpNode>,
    /// What the model returns.
    pub outputs: Vec<ValueId>,
    /// The model's own inputs (not its weights), in order.
    pub inputs: Vec<ValueId>,
    value_index: HashMap<String, ValueId>,
}

impl Default for OpGraph {
    fn default() -> Self {
        OpGraph {
            values: Vec::new(),
            calls: vec![Call {
                path: String::new(),
                parent: None,
                depth: 0,
            }],
            nodes: Vec::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
            value_index: HashMap::new(),
        }
    }
}

pub const ROOT_CALL: CallId = 0;

/// How the note begins that says some module outputs have no recorded shape.
const UNSHAPED_NOTE: &str = "the file records no shape for some values that leave";

/// True when a summary read from a recorded graph lacks the shape of some module output (ONNX without
/// `value_info`, a size only a run can know): activations added up from it would be too small.
pub fn has_unshaped_outputs(summary: &ModelSummary) -> bool {
    summary.notes.iter().any(|n| n.starts_with(UNSHAPED_NOTE))
}

impl OpGraph {
    /// The value named `name`, made (without a shape) the first time it is asked for.
    pub fn value(&mut self, name: &str) -> ValueId {
        if let Some(&id) = self.value_index.get(name) {
            return id;
        }
        let id = self.values.len();
        self.values.push(Value::default());
        self.value_index.insert(name.to_string(), id);
        id
    }

    /// The value named `name`, if the graph has one.
    pub fn find(&self, name: &str) -> Option<ValueId> {
        self.value_index.get(name).copied()
    }

    /// A new call of the module at `path`, inside `parent`.
    pub fn call(&mut self, path: String, parent: CallId) -> Result<CallId, String> {
        let depth = self.calls[parent].depth + 1;
        if self.calls.len() > MAX_CALLS {
            return Err(format!(
                "more than {MAX_CALLS} module calls: a damaged or hostile file"
            ));
        }
        if depth > MAX_CALL_DEPTH {
            return Err(format!(
                "module calls nested deeper than {MAX_CALL_DEPTH} levels: a damaged or hostile file"
            ));
        }
        self.calls.push(Call {
            path,
            parent: Some(parent),
            depth,
        });
        Ok(self.calls.len() - 1)
    }
}

/// Where each call sits in the call tree, so "runs inside" is one comparison: a call's interval holds
/// the intervals of every call inside it.
struct CallTree {
    enter: Vec<usize>,
    exit: Vec<usize>,
}

impl CallTree {
    fn new(calls: &[Call]) -> CallTree {
        let mut children: Vec<Vec<CallId>> = vec![Vec::new(); calls.len()];
        for (i, c) in calls.iter().enumerate() {
            if let Some(p) = c.parent {
                children[p].push(i);
            }
        }
        let (mut enter, mut exit) = (vec![0; calls.len()], vec![0; calls.len()]);
        let mut clock = 0;
        // Every call has a parent made before it, so the root reaches them all.
        let mut stack: Vec<(CallId, usize)> = vec![(ROOT_CALL, 0)];
        enter[ROOT_CALL] = clock;
        while let Some((c, next)) = stack.pop() {
            if let Some(&child) = children[c].get(next) {
                stack.push((c, next + 1));
                clock += 1;
                enter[child] = clock;
                stack.push((child, 0));
            } else {
                clock += 1;
                exit[c] = clock;
            }
        }
        CallTree { enter, exit }
    }

    /// `inner` is `outer` or runs inside it.
    fn within(&self, inner: CallId, outer: CallId) -> bool {
        self.enter[outer] <= self.enter[inner] && self.exit[inner] <= self.exit[outer]
    }
}

/// Per-module measurements drawn from a graph, keyed by module path.
#[derive(Debug, Default)]
struct Drawn {
    /// Every call's outputs, in call order (`None`: a call whose outputs the file does not all shape).
    calls: HashMap<String, Vec<Option<Vec<TensorValue>>>>,
    op_mult_adds: HashMap<String, u64>,
    edges: Vec<DataEdge>,
}

/// Puts what `graph` shows on `summary`: every module's outputs (first call in `outputs`, later ones in
/// `repeat_outputs`), operator mult-adds, the model's inputs, the data flow, and torchinfo's mult-adds
/// from those shapes; notes say what could not be counted or shaped. A module path the tree lacks gives
/// its operator mult-adds to its nearest ancestor that it has.
pub fn attach(summary: &mut ModelSummary, graph: &OpGraph) {
    let drawn = draw(graph, &summary.root);
    // A count of nothing is no count: when no operator could be counted but some do work, the
    // operator mult-adds stay unknown rather than 0.
    let counted_any = graph
        .nodes
        .iter()
        .any(|n| matches!(n.cost, Cost::Counted(_)));
    let left_out = graph
        .nodes
        .iter()
        .any(|n| !matches!(n.cost, Cost::Counted(_) | Cost::Free));
    summary.root.visit_mut(&mut |node| {
        let calls: Vec<Vec<TensorValue>> = drawn
            .calls
            .get(&node.path)
            .map(|c| c.iter().flatten().cloned().collect())
            .unwrap_or_default();
        let mut calls = calls.into_iter();
        node.outputs = calls.next();
        node.repeat_outputs = calls.collect();
        node.op_mult_adds = drawn
            .op_mult_adds
            .get(&node.path)
            .copied()
            .filter(|_| counted_any || !left_out);
        node.mult_adds = None;
    });
    summary.inputs = graph
        .inputs
        .iter()
        .filter_map(|&v| graph.values[v].tensor.clone())
        .collect();
    let unshaped = unshaped_calls(&drawn);
    summary.dataflow = Some(drawn.edges);
    summary.notes.extend(cost_notes(graph));
    if unshaped > 0 {
        summary.notes.push(format!(
            "{UNSHAPED_NOTE} {} module call{}: those show no output shape",
            units::thousands(unshaped as u64),
            if unshaped == 1 { "" } else { "s" }
        ));
    }
    fill_torchinfo_mult_adds(&mut summary.root);
}

fn unshaped_calls(drawn: &Drawn) -> usize {
    drawn
        .calls
        .values()
        .map(|c| c.iter().filter(|o| o.is_none()).count())
        .sum()
}

/// Outputs, operator counts and edges of every call.
fn draw(graph: &OpGraph, root: &ModuleNode) -> Drawn {
    let n_calls = graph.calls.len();
    let tree = CallTree::new(&graph.calls);
    let mut producer: Vec<Option<CallId>> = vec![None; graph.values.len()];
    let mut consumers: Vec<Vec<CallId>> = vec![Vec::new(); graph.values.len()];
    for node in &graph.nodes {
        for &v in &node.outputs {
            producer[v].get_or_insert(node.call);
        }
        for &v in &node.inputs {
            consumers[v].push(node.call);
        }
    }
    let mut returned = vec![false; graph.values.len()];
    for &v in &graph.outputs {
        returned[v] = true;
    }

    // Each value, in the order the graph produces them, joins the outputs of every call it leaves.
    let mut leaving: Vec<Vec<ValueId>> = vec![Vec::new(); n_calls];
    let mut seen = vec![false; graph.values.len()];
    for node in &graph.nodes {
        for &v in &node.outputs {
            if std::mem::replace(&mut seen[v], true) || producer[v] != Some(node.call) {
                continue;
            }
            let mut call = Some(node.call);
            while let Some(c) = call {
                let leaves = returned[v] || consumers[v].iter().any(|&user| !tree.within(user, c));
                if !leaves {
                    // Every user is inside `c`, so inside its ancestors too.
                    break;
                }
                leaving[c].push(v);
                call = graph.calls[c].parent;
            }
        }
    }

    let mut drawn = Drawn::default();
    let known: HashSet<&str> = root
        .walk()
        .into_iter()
        .map(|(_, n)| n.path.as_str())
        .collect();
    let mut owner: Vec<Option<&str>> = vec![None; n_calls];
    for node in &graph.nodes {
        let own = *owner[node.call]
            .get_or_insert_with(|| nearest_known(&known, &graph.calls[node.call].path));
        let total = drawn.op_mult_adds.entry(own.to_string()).or_default();
        if let Cost::Counted(m) = node.cost {
            *total = total.saturating_add(m);
        }
    }
    // Calls in the order they first ran.
    let mut order: Vec<CallId> = Vec::new();
    let mut listed = vec![false; n_calls];
    for node in &graph.nodes {
        let mut chain = Vec::new();
        let mut call = Some(node.call);
        while let Some(c) = call {
            if listed[c] {
                break;
            }
            chain.push(c);
            call = graph.calls[c].parent;
        }
        for &c in chain.iter().rev() {
            listed[c] = true;
            order.push(c);
        }
    }
    let mut edges: Vec<DataEdge> = Vec::new();
    let mut edge_index: HashMap<(&str, &str), usize> = HashMap::new();
    if !order.contains(&ROOT_CALL) {
        order.insert(0, ROOT_CALL);
    }
    for &c in &order {
        let from = &graph.calls[c].path;
        let outs = &leaving[c];
        let shaped: Option<Vec<TensorValue>> = outs
            .iter()
            .map(|&v| graph.values[v].tensor.clone())
            .collect();
        if !outs.is_empty() {
            drawn
                .calls
                .entry(from.clone())
                .or_default()
                .push(shaped.filter(|s| !s.is_empty()));
        }
        if c == ROOT_CALL {
            // What the model returns goes nowhere inside it.
            continue;
        }
        // Where each output goes: the innermost module of every user outside the call.
        let mut to: Vec<Option<&str>> = Vec::new();
        let mut listed: HashSet<Option<&str>> = HashSet::new();
        for &v in outs {
            if returned[v] && listed.insert(None) {
                to.push(None);
            }
            for &user in &consumers[v] {
                let target = Some(graph.calls[user].path.as_str());
                if !tree.within(user, c) && listed.insert(target) {
                    to.push(target);
                }
            }
        }
        let only = to.len() == 1;
        for target in to.iter().flatten() {
            // The root's own code and a caller's code (`out += identity`) are not module edges.
            if target.is_empty() || from.starts_with(&format!("{target}.")) || *target == from {
                continue;
            }
            match edge_index.get(&(from.as_str(), *target)) {
                Some(&i) => edges[i].only_consumer &= only,
                None => {
                    edge_index.insert((from.as_str(), target), edges.len());
                    edges.push(DataEdge {
                        from: from.clone(),
                        to: target.to_string(),
                        only_consumer: only,
                    });
                }
            }
        }
    }
    drawn.edges = edges;
    drawn
}

/// `path` if the tree has it, else its closest ancestor that it has (the root at worst).
fn nearest_known<'a>(known: &HashSet<&str>, path: &'a str) -> &'a str {
    let mut candidate = path;
    loop {
        if candidate.is_empty() || known.contains(candidate) {
            return candidate;
        }
        candidate = candidate.rsplit_once('.').map_or("", |(parent, _)| parent);
    }
}

/// The most operator names a note lists.
const LISTED_OPS: usize = 8;

/// What the operator count leaves out, one note per reason.
fn cost_notes(graph: &OpGraph) -> Vec<String> {
    let mut unknown: BTreeMap<&str, u64> = BTreeMap::new();
    let mut unshaped: BTreeMap<&str, u64> = BTreeMap::new();
    let mut control: BTreeMap<&str, u64> = BTreeMap::new();
    for node in &graph.nodes {
        let (map, op) = match &node.cost {
            Cost::Unknown(op) => (&mut unknown, op),
            Cost::Unshaped(op) => (&mut unshaped, op),
            Cost::ControlFlow(op) => (&mut control, op),
            Cost::Counted(_) | Cost::Free => continue,
        };
        *map.entry(op.as_str()).or_default() += 1;
    }
    let mut notes = Vec::new();
    if !unknown.is_empty() {
        notes.push(format!(
            "operator mult-adds leave out operators the counter has no formula for: {}",
            listing(&unknown)
        ));
    }
    if !unshaped.is_empty() {
        notes.push(format!(
            "operator mult-adds leave out operators whose shapes the file does not record (or the formula cannot use): {}",
            listing(&unshaped)
        ));
    }
    if !control.is_empty() {
        notes.push(format!(
            "operator mult-adds leave out what runs inside control flow (how often it runs is not in the file): {}",
            listing(&control)
        ));
    }
    notes
}

/// `aten::_grouped_mm ×4, mylib::op ×1`, the most frequent first, at most [`LISTED_OPS`] names.
fn listing(counts: &BTreeMap<&str, u64>) -> String {
    let mut by_count: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = by_count
        .iter()
        .take(LISTED_OPS)
        .map(|(op, n)| format!("{op} ×{}", units::thousands(*n)))
        .collect();
    if by_count.len() > LISTED_OPS {
        parts.push(format!("and {} more", by_count.len() - LISTED_OPS));
    }
    parts.join(", ")
}

/// A tensor value from a shape and a dtype, once the shape's elements and bytes are known to fit an
/// int64 (PyTorch's own limit), so every later sum of them fits a `u64`.
pub fn tensor_value(shape: Vec<u64>, dtype: DType) -> Result<TensorValue, String> {
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64);
    let fits = elements
        .and_then(|n| n.checked_mul(dtype.bytes()))
        .is_some_and(|b| b <= i64::MAX as u64);
    if !fits {
        return Err(format!(
            "a value of shape {shape:?} has more than 2^63 - 1 bytes: a damaged or hostile file"
        ));
    }
    Ok(TensorValue { shape, dtype })
}

/// Graph-recording formats carry at most this many dimensions per tensor (PyTorch allows 64).
pub const MAX_DIMS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{SourceKind, TensorRecord};

    fn t(shape: &[u64]) -> Option<TensorValue> {
        Some(TensorValue {
            shape: shape.to_vec(),
            dtype: DType::Float32,
        })
    }

    /// conv (4 → conv.out) → bn, and a relu called twice around it; the block returns the second relu.
    fn block() -> (ModelSummary, OpGraph) {
        let mut root = ModuleNode::new("", "", "Net");
        let mut blk = ModuleNode::new("blk", "blk", "Block");
        let mut conv = ModuleNode::new("conv", "blk.conv", "Conv2d");
        conv.parameters = vec![
            TensorRecord::new("weight", vec![8, 4, 3, 3], DType::Float32, true),
            TensorRecord::new("bias", vec![8], DType::Float32, true),
        ];
        blk.children = vec![
            conv,
            ModuleNode::new("bn", "blk.bn", "BatchNorm2d"),
            ModuleNode::new("relu", "blk.relu", "ReLU"),
        ];
        root.children.push(blk);
        let s = ModelSummary::new("net", SourceKind::TorchScript, root);

        let mut g = OpGraph::default();
        let x = g.value("x");
        g.values[x].tensor = t(&[1, 4, 8, 8]);
        g.inputs.push(x);
        let blk = g.call("blk".into(), ROOT_CALL).unwrap();
        let relu1 = g.call("blk.relu".into(), blk).unwrap();
        let conv = g.call("blk.conv".into(), blk).unwrap();
        let bn = g.call("blk.bn".into(), blk).unwrap();
        let relu2 = g.call("blk.relu".into(), blk).unwrap();
        let op = |g: &mut OpGraph, call, input: &str, out: &str, shape: &[u64], cost| {
            let i = g.value(input);
            let o = g.value(out);
            g.values[o].tensor = t(shape);
            g.nodes.push(OpNode {
                call,
                inputs: vec![i],
                outputs: vec![o],
                cost,
            });
        };
        op(&mut g, relu1, "x", "r1", &[1, 4, 8, 8], Cost::Free);
        op(
            &mut g,
            conv,
            "r1",
            "c",
            &[1, 8, 8, 8],
            Cost::Counted(8 * 64 * 36),
        );
        op(&mut g, bn, "c", "b", &[1, 8, 8, 8], Cost::Free);
        op(&mut g, relu2, "b", "r2", &[1, 8, 8, 8], Cost::Free);
        op(
            &mut g,
            ROOT_CALL,
            "r2",
            "y",
            &[1, 8, 8, 8],
            Cost::Unknown("mylib::op".into()),
        );
        g.outputs.push(g.find("y").unwrap());
        (s, g)
    }

    #[test]
    fn outputs_are_the_values_that_leave_each_call() {
        let (mut s, g) = block();
        attach(&mut s, &g);
        let find = |p: &str| s.root.find(p).unwrap();
        assert_eq!(
            find("blk.conv").outputs,
            Some(vec![t(&[1, 8, 8, 8]).unwrap()])
        );
        assert_eq!(find("blk").outputs, Some(vec![t(&[1, 8, 8, 8]).unwrap()]));
        let relu = find("blk.relu");
        assert_eq!(relu.outputs, Some(vec![t(&[1, 4, 8, 8]).unwrap()]));
        assert_eq!(relu.repeat_outputs, vec![vec![t(&[1, 8, 8, 8]).unwrap()]]);
        assert_eq!(find("blk.conv").op_mult_adds, Some(8 * 64 * 36));
        assert_eq!(s.root.subtree_op_mult_adds(), Some(8 * 64 * 36));
        // torchinfo's count from the shapes: 296 parameters × 64 positions.
        assert_eq!(find("blk.conv").mult_adds, Some(296 * 64));
        assert_eq!(s.inputs, vec![t(&[1, 4, 8, 8]).unwrap()]);
        assert!(s.notes[0].contains("mylib::op ×1"), "{:?}", s.notes);
        let edges = s.dataflow.unwrap();
        let edge = |a: &str, b: &str| edges.iter().find(|e| e.from == a && e.to == b).cloned();
        assert!(edge("blk.conv", "blk.bn").unwrap().only_consumer);
        assert!(edge("blk.relu", "blk.conv").is_some());
        // The block's output goes to the root's own code: no module edge.
        assert!(edges.iter().all(|e| e.from != "blk"));
    }
}
