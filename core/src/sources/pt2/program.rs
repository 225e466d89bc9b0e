//! An `ExportedProgram` (already parsed) into a summary: parameters and buffers from the graph
//! signature and the weights config, the module tree from the nodes' `nn_module_stack`, every value's
//! shape from `tensor_values`, and each operator's cost from [`crate::op_macs`].

use super::schema::{
    Argument, ExportedProgram, Graph, Node, PayloadConfig, PayloadMeta, SymInt, TensorMeta,
};
use crate::dtype::DType;
use crate::op_macs::{self, Arg};
use crate::sources::graph::symbols::{Dim, ModelInput, SizeRequest, Symbols};
use crate::sources::graph::tree::{self, Tensor};
use crate::sources::graph::{self, CallId, Cost, OpGraph, OpNode, ROOT_CALL, tensor_value};
use crate::sources::torchscript::budget::{ByteTally, TreeBudget};
use crate::sources::torchscript::tensors::{StorageView, TensorInfo};
use crate::summary::{ModelSummary, SourceKind, TensorValue};
use crate::units;
use std::collections::HashMap;
use std::rc::Rc;

/// The most operators read, nested graphs included (BERT-base has about 400, a 70B LLM tens of
/// thousands).
pub const MAX_NODES: usize = 1 << 21;
/// Subgraphs of higher-order operators nest no deeper than this.
pub const MAX_SUBGRAPH_DEPTH: usize = 8;

/// What the archive adds to the program itself.
pub struct Payloads<'a> {
    pub weights: Option<&'a PayloadConfig>,
    pub constants: Option<&'a PayloadConfig>,
    /// Storage views of the weights when an older layout keeps them in a pickled state dict.
    pub pickled_views: Option<&'a HashMap<String, StorageView>>,
}

/// The summary of `ep`, named `name`, with sizes at what `request` asks for.
pub fn summarize(
    name: String,
    ep: &ExportedProgram,
    payloads: &Payloads,
    request: &SizeRequest,
) -> Result<ModelSummary, String> {
    let gm = &ep.graph_module;
    let values = &gm.graph.tensor_values;
    let meta_of = |arg: &str| {
        values
            .get(arg)
            .ok_or_else(|| format!("the graph has no tensor value {arg}"))
    };

    // The model's inputs, and the sizes they fix.
    let mut model_inputs: Vec<(String, ModelInput)> = Vec::new();
    for spec in &gm.signature.input_specs {
        if let Some(user) = &spec.user_input
            && let Some(t) = &user.arg.as_tensor
        {
            let meta = meta_of(&t.name)?;
            model_inputs.push((
                t.name.clone(),
                ModelInput {
                    name: t.name.clone(),
                    dims: dims(&meta.sizes)?,
                },
            ));
        }
    }
    let inputs: Vec<ModelInput> = model_inputs.iter().map(|(_, i)| i.clone()).collect();
    let range = |symbol: &str| {
        ep.range_constraints
            .get(symbol)
            .map_or((None, None), |r| (r.min_val, r.max_val))
    };
    let mut symbols = Symbols::bind(&inputs, request, &range, None)?;

    // Parameters and buffers, in the signature's order (named_parameters, then named_buffers).
    let payload = |fqn: &str| -> Option<&PayloadMeta> {
        [payloads.weights, payloads.constants]
            .into_iter()
            .flatten()
            .find_map(|c| c.config.get(fqn))
    };
    let mut tensors: Vec<Tensor> = Vec::new();
    let mut views: HashMap<String, StorageView> = HashMap::new();
    let mut tally = ByteTally::default();
    let (mut constants, mut constant_bytes, mut objects) = (0u64, ByteTally::default(), 0u64);
    for spec in &gm.signature.input_specs {
        let (fqn, arg, buffer) = match (&spec.parameter, &spec.buffer) {
            (Some(p), _) => (&p.parameter_name, &p.arg.name, false),
            (None, Some(b)) => (&b.buffer_name, &b.arg.name, true),
            (None, None) => {
                if let Some(c) = &spec.tensor_constant {
                    let meta = meta_of(&c.arg.name)?;
                    let info = info(&mut symbols, meta, &c.tensor_constant_name)?;
                    constant_bytes.add(&info)?;
                    constants += 1;
                }
                if spec.custom_obj.is_some() {
                    objects += 1;
                }
                continue;
            }
        };
        let stored = payload(fqn);
        let meta = match stored.and_then(|p| p.tensor_meta.as_ref()) {
            Some(m) => m,
            None => meta_of(arg)?,
        };
        let mut t = info(&mut symbols, meta, fqn)?;
        tally.add(&t).map_err(|e| format!("{fqn}: {e}"))?;
        if let Some(p) = stored {
            t.view.storage = Some(Rc::from(p.path_name.as_str()));
        } else if let Some(v) = payloads.pickled_views.and_then(|v| v.get(fqn.as_str())) {
            t.view = v.clone();
        }
        views.insert(fqn.clone(), t.view);
        tensors.push(Tensor {
            name: fqn.clone(),
            shape: t.shape,
            dtype: t.dtype,
            requires_grad: t.requires_grad && !buffer,
            buffer,
        });
    }

    // The module calls every operator ran in, and the classes they ran as.
    let mut calls = Calls::default();
    let mut graph = OpGraph::default();
    let mut budget = TreeBudget::default();
    let mut node_count = 0usize;
    let mut stacks: Vec<CallId> = Vec::with_capacity(gm.graph.nodes.len());
    for node in &gm.graph.nodes {
        stacks.push(calls.call_of(node, &mut graph, &mut budget)?);
    }
    let mut paths: Vec<String> = gm.module_call_graph.iter().map(|e| e.fqn.clone()).collect();
    paths.extend(calls.seen.iter().cloned());
    let ran: std::collections::HashSet<&str> = calls.seen.iter().map(String::as_str).collect();
    let built = tree::module_tree(
        &paths,
        &calls.types,
        &tensors,
        &|p| ran.contains(p),
        &mut budget,
    )?;

    let mut summary = ModelSummary::new(name, SourceKind::ExportedProgram, built.root);
    summary.mark_tied(|full| views.get(full).filter(|v| v.storage.is_some()).cloned());

    // Values and operators.
    let mut shapes = Shapes::new(values);
    for (node, &call) in gm.graph.nodes.iter().zip(&stacks) {
        node_count += 1;
        if node_count > MAX_NODES {
            return Err(too_many_nodes());
        }
        let inputs = tensor_names(node.inputs.iter().map(|a| &a.arg));
        let outputs = tensor_names(node.outputs.iter());
        let mut ids = |names: Vec<&str>, graph: &mut OpGraph, shapes: &mut Shapes| {
            names
                .into_iter()
                .map(|n| {
                    let id = graph.value(n);
                    if graph.values[id].tensor.is_none() {
                        graph.values[id].tensor = shapes.tensor(&mut symbols, n)?;
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let input_ids = ids(inputs, &mut graph, &mut shapes)?;
        let output_ids = ids(outputs, &mut graph, &mut shapes)?;
        let cost = cost(node, &mut |n| shapes.tensor(&mut symbols, n))?;
        if let Some(sub) = run_once_subgraphs(node) {
            for g in sub {
                nested_costs(
                    g,
                    1,
                    &mut NestedContext {
                        calls: &mut calls,
                        graph: &mut graph,
                        budget: &mut budget,
                        symbols: &mut symbols,
                        nodes: &mut node_count,
                    },
                )?;
            }
        }
        graph.nodes.push(OpNode {
            call,
            inputs: input_ids,
            outputs: output_ids,
            cost,
        });
    }
    for (name, _) in &model_inputs {
        let id = graph.value(name);
        graph.values[id].tensor = shapes.tensor(&mut symbols, name)?;
        graph.inputs.push(id);
    }
    for spec in &gm.signature.output_specs {
        let name = match (&spec.user_output, &spec.loss_output) {
            (Some(u), _) => u.arg.as_tensor.as_ref().map(|t| t.name.as_str()),
            (None, Some(l)) => Some(l.arg.name.as_str()),
            (None, None) => None,
        };
        if let Some(id) = name.and_then(|n| graph.find(n)) {
            graph.outputs.push(id);
        }
    }
    graph::attach(&mut summary, &graph);

    if let Some(note) = symbols.note.take() {
        summary.notes.push(note);
    }
    let guessed = built
        .guessed_types
        .saturating_sub(usize::from(calls.root_type.is_none()));
    if guessed > 0 {
        summary.notes.push(format!(
            "{} module{} never ran an operator of {} own, so the graph records no class for {}: guessed from {} tensors' names and shapes",
            units::thousands(guessed as u64),
            if guessed == 1 { "" } else { "s" },
            if guessed == 1 { "its" } else { "their" },
            if guessed == 1 { "it" } else { "them" },
            if guessed == 1 { "its" } else { "their" },
        ));
    }
    if constants > 0 {
        summary.notes.push(format!(
            "{} tensor constant{} made by the forward's code ({}) {} not a parameter or buffer: not counted",
            units::thousands(constants),
            if constants == 1 { "" } else { "s" },
            bytes_text(constant_bytes.total()),
            if constants == 1 { "is" } else { "are" },
        ));
    }
    if objects > 0 {
        summary.notes.push(format!(
            "{} script object{} (torchbind) {} not read: tensors inside {} are not counted",
            objects,
            if objects == 1 { "" } else { "s" },
            if objects == 1 { "is" } else { "are" },
            if objects == 1 { "it" } else { "them" },
        ));
    }
    Ok(summary)
}

fn too_many_nodes() -> String {
    format!("more than {MAX_NODES} operators: a damaged or hostile file")
}

fn bytes_text(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{} B = {}", units::thousands(bytes), units::binary(bytes))
    }
}

/// PyTorch's `ScalarType` numbers as the export schema writes them.
pub fn scalar_type(code: i64) -> Result<DType, String> {
    use DType::*;
    Ok(match code {
        1 => UInt8,
        2 => Int8,
        3 => Int16,
        4 => Int32,
        5 => Int64,
        6 => Float16,
        7 => Float32,
        8 => Float64,
        9 => ComplexHalf,
        10 => Complex64,
        11 => Complex128,
        12 => Bool,
        13 => BFloat16,
        28 => UInt16,
        29 => Float8E4M3,
        30 => Float8E5M2,
        31 => Float8E4M3Fnuz,
        32 => Float8E5M2Fnuz,
        33 => Float8E8M0,
        34 => UInt32,
        35 => UInt64,
        other => return Err(format!("dtype number {other} is not one this reader knows")),
    })
}

fn dim(s: &SymInt) -> Result<Dim, String> {
    match (s.as_int, &s.as_expr) {
        (Some(v), _) => u64::try_from(v)
            .map(Dim::Fixed)
            .map_err(|_| format!("a negative size {v}")),
        (None, Some(e)) => Ok(Dim::Symbolic {
            text: e.expr_str.clone(),
            hint: e
                .hint
                .as_ref()
                .and_then(|h| h.as_int)
                .and_then(|h| u64::try_from(h).ok()),
        }),
        (None, None) => Ok(Dim::Unknown),
    }
}

fn dims(sizes: &[SymInt]) -> Result<Vec<Dim>, String> {
    if sizes.len() > graph::MAX_DIMS {
        return Err(format!(
            "a tensor of {} dimensions (at most {} are read)",
            sizes.len(),
            graph::MAX_DIMS
        ));
    }
    sizes.iter().map(dim).collect()
}

/// A parameter's or buffer's shape, dtype, `requires_grad` and storage view (the record holding it is
/// set by the caller); its sizes must all be known.
fn info(symbols: &mut Symbols, meta: &TensorMeta, name: &str) -> Result<TensorInfo, String> {
    let shape = symbols
        .shape(&dims(&meta.sizes)?)?
        .ok_or_else(|| format!("{name}: the file records no size for it"))?;
    let dtype = scalar_type(meta.dtype).map_err(|e| format!("{name}: {e}"))?;
    let value = tensor_value(shape, dtype).map_err(|e| format!("{name}: {e}"))?;
    let stride = meta
        .strides
        .iter()
        .map(|s| s.as_int.unwrap_or(-1))
        .collect();
    let offset = meta
        .storage_offset
        .as_ref()
        .and_then(|o| o.as_int)
        .and_then(|o| u64::try_from(o).ok())
        .unwrap_or(0);
    Ok(TensorInfo {
        shape: value.shape.clone(),
        dtype,
        requires_grad: meta.requires_grad,
        view: StorageView {
            storage: None,
            offset,
            shape: value.shape,
            stride,
        },
    })
}

/// Each value's shape, evaluated once.
struct Shapes<'a> {
    metas: &'a HashMap<String, TensorMeta>,
    done: HashMap<&'a str, Option<TensorValue>>,
}

impl<'a> Shapes<'a> {
    fn new(metas: &'a HashMap<String, TensorMeta>) -> Self {
        Shapes {
            metas,
            done: HashMap::new(),
        }
    }

    fn tensor(&mut self, symbols: &mut Symbols, name: &str) -> Result<Option<TensorValue>, String> {
        let Some((key, meta)) = self.metas.get_key_value(name) else {
            return Ok(None);
        };
        if let Some(v) = self.done.get(key.as_str()) {
            return Ok(v.clone());
        }
        let value = match symbols.shape(&dims(&meta.sizes)?)? {
            Some(shape) => {
                let dtype = scalar_type(meta.dtype).map_err(|e| format!("value {name}: {e}"))?;
                Some(tensor_value(shape, dtype).map_err(|e| format!("value {name}: {e}"))?)
            }
            None => None,
        };
        self.done.insert(key.as_str(), value.clone());
        Ok(value)
    }
}

/// The names of the tensors among `args`, in order.
fn tensor_names<'a>(args: impl Iterator<Item = &'a Argument>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for a in args {
        if let Some(t) = &a.as_tensor {
            out.push(t.name.as_str());
        }
        if let Some(ts) = &a.as_tensors {
            out.extend(ts.iter().map(|t| t.name.as_str()));
        }
        if let Some(ts) = &a.as_optional_tensors {
            out.extend(
                ts.iter()
                    .filter_map(|t| t.as_tensor.as_ref())
                    .map(|t| t.name.as_str()),
            );
        }
        if let Some(t) = a
            .as_optional_tensor
            .as_ref()
            .and_then(|t| t.as_tensor.as_ref())
        {
            out.push(t.name.as_str());
        }
    }
    out
}

/// What an operator target names.
enum Target<'a> {
    /// `torch.ops.aten.conv2d.default` → `aten::conv2d`.
    Op(String),
    /// `torch.ops.higher_order.cond`.
    HigherOrder(&'a str),
    /// Arithmetic on symbolic sizes (`_operator.mul`).
    Scalar,
    Other(&'a str),
}

fn target(t: &str) -> Target<'_> {
    if let Some(rest) = t.strip_prefix("torch.ops.") {
        let mut parts = rest.splitn(3, '.');
        let (ns, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        return if ns == "higher_order" {
            Target::HigherOrder(name)
        } else {
            Target::Op(format!("{ns}::{name}"))
        };
    }
    const SCALAR: [&str; 6] = [
        "_operator.",
        "operator.",
        "builtins.",
        "math.",
        "torch.sym_",
        "torch._sym_",
    ];
    if SCALAR.iter().any(|p| t.starts_with(p)) {
        Target::Scalar
    } else {
        Target::Other(t)
    }
}

/// Higher-order operators whose subgraphs run exactly once per call: their operators are counted.
const RUN_ONCE: [&str; 6] = [
    "wrap_with_set_grad_enabled",
    "wrap_with_autocast",
    "invoke_subgraph",
    "auto_functionalized",
    "auto_functionalized_v2",
    "with_effects",
];

fn run_once_subgraphs(node: &Node) -> Option<Vec<&Graph>> {
    match target(&node.target) {
        Target::HigherOrder(name) if RUN_ONCE.contains(&name) => Some(
            node.inputs
                .iter()
                .filter_map(|a| a.arg.as_graph.as_ref().map(|g| &g.graph))
                .collect(),
        ),
        _ => None,
    }
}

/// The operator's cost, from its arguments (inputs, then outputs) as the counter takes them.
fn cost(
    node: &Node,
    shape_of: &mut dyn FnMut(&str) -> Result<Option<TensorValue>, String>,
) -> Result<Cost, String> {
    let op = match target(&node.target) {
        Target::Scalar => return Ok(Cost::Free),
        Target::Other(t) => return Ok(Cost::Unknown(t.to_string())),
        Target::HigherOrder(name) => {
            if RUN_ONCE.contains(&name) {
                return Ok(Cost::Free);
            }
            if name == "flex_attention" {
                // (query, key, value, score_mod, block_mask, …): the two products of attention.
                "aten::scaled_dot_product_attention".to_string()
            } else if node.inputs.iter().any(|a| a.arg.as_graph.is_some()) {
                return Ok(Cost::ControlFlow(format!("higher_order::{name}")));
            } else {
                return Ok(Cost::Unknown(format!("higher_order::{name}")));
            }
        }
        Target::Op(op) => op,
    };
    let counted = op_macs::COUNTED_OPS.contains(&op.as_str());
    if !counted {
        let free = op.starts_with("aten::") || op.starts_with("prims::");
        return Ok(if op_macs::does_mult_adds(&op) || !free {
            Cost::Unknown(op)
        } else {
            Cost::Free
        });
    }
    let mut args = Vec::with_capacity(node.inputs.len() + node.outputs.len());
    for a in node.inputs.iter().map(|a| &a.arg).chain(&node.outputs) {
        args.push(arg(a, shape_of)?);
    }
    Ok(match op_macs::counted(&op, &args) {
        Some(m) => Cost::Counted(m),
        None => Cost::Unshaped(op),
    })
}

fn arg(
    a: &Argument,
    shape_of: &mut dyn FnMut(&str) -> Result<Option<TensorValue>, String>,
) -> Result<Arg, String> {
    Ok(if let Some(t) = &a.as_tensor {
        match shape_of(&t.name)? {
            Some(v) => Arg::Tensor(v.shape),
            None => Arg::Other,
        }
    } else if let Some(ts) = &a.as_tensors {
        let mut shapes = Vec::with_capacity(ts.len());
        for t in ts {
            match shape_of(&t.name)? {
                Some(v) => shapes.push(v.shape),
                None => return Ok(Arg::Other),
            }
        }
        Arg::Tensors(shapes)
    } else if let Some(i) = a.as_int {
        Arg::Int(i)
    } else if let Some(v) = &a.as_ints {
        Arg::Ints(v.clone())
    } else if let Some(b) = a.as_bool {
        Arg::Bool(b)
    } else if let Some(s) = &a.as_string {
        Arg::Str(s.clone())
    } else if a.as_none.is_some() {
        Arg::None
    } else {
        Arg::Other
    })
}

/// What counting the operators of nested subgraphs needs from the outer reading.
struct NestedContext<'a> {
    calls: &'a mut Calls,
    graph: &'a mut OpGraph,
    budget: &'a mut TreeBudget,
    symbols: &'a mut Symbols,
    nodes: &'a mut usize,
}

/// The operators of a subgraph that runs once, each counted in its own module call. Their values
/// stay inside the subgraph, so they are not part of the data flow between modules.
fn nested_costs(g: &Graph, depth: usize, cx: &mut NestedContext) -> Result<(), String> {
    if depth > MAX_SUBGRAPH_DEPTH {
        return Err(format!(
            "subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels: a damaged or hostile file"
        ));
    }
    let mut shapes = Shapes::new(&g.tensor_values);
    for node in &g.nodes {
        *cx.nodes += 1;
        if *cx.nodes > MAX_NODES {
            return Err(too_many_nodes());
        }
        let call = cx.calls.call_of(node, cx.graph, cx.budget)?;
        let symbols = &mut *cx.symbols;
        let cost = cost(node, &mut |n| shapes.tensor(symbols, n))?;
        cx.graph.nodes.push(OpNode {
            call,
            inputs: Vec::new(),
            outputs: Vec::new(),
            cost,
        });
        if let Some(sub) = run_once_subgraphs(node) {
            for inner in sub {
                nested_costs(inner, depth + 1, cx)?;
            }
        }
    }
    Ok(())
}

/// Module calls by their `nn_module_stack` keys, and what the stacks say about the modules.
#[derive(Default)]
struct Calls {
    by_key: HashMap<String, CallId>,
    /// Qualified class of each module path, as first seen.
    types: HashMap<String, String>,
    /// Module paths in the order the graph first ran them.
    seen: Vec<String>,
    root_type: Option<String>,
}

impl Calls {
    /// The innermost module call `node` ran in (the root's when it records none).
    fn call_of(
        &mut self,
        node: &Node,
        graph: &mut OpGraph,
        budget: &mut TreeBudget,
    ) -> Result<CallId, String> {
        let Some(stack) = &node.metadata.nn_module_stack else {
            return Ok(ROOT_CALL);
        };
        let mut call = ROOT_CALL;
        for entry in stack.split(';') {
            let Some([key, path, class]) = split_entry(entry) else {
                continue;
            };
            if key.starts_with("_empty_nn_module_stack") {
                continue;
            }
            let path = normalize_path(path);
            if path.is_empty() {
                if self.root_type.is_none() {
                    self.root_type = Some(class.to_string());
                    self.types.insert(String::new(), class.to_string());
                }
                call = ROOT_CALL;
                continue;
            }
            call = match self.by_key.get(key) {
                Some(&c) => c,
                None => {
                    budget.charge(256 + key.len() + 2 * path.len() + class.len())?;
                    let c = graph.call(path.clone(), call)?;
                    self.by_key.insert(key.to_string(), c);
                    if !self.types.contains_key(&path) {
                        self.types.insert(path.clone(), class.to_string());
                        self.seen.push(path);
                    }
                    c
                }
            };
        }
        Ok(call)
    }
}

/// `key,path,type`, split at commas outside brackets as PyTorch's own reader does (a path may be
/// written `L['self'].layers[0]`).
fn split_entry(entry: &str) -> Option<[&str; 3]> {
    let mut parts = Vec::with_capacity(3);
    let (mut start, mut depth) = (0usize, 0i64);
    for (i, c) in entry.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&entry[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&entry[start..]);
    parts.try_into().ok()
}

/// Module paths as `named_modules()` spells them: `layer1.0.conv1`. Older exports wrote the Python
/// expression `L['self'].layer1[0].conv1`.
fn normalize_path(path: &str) -> String {
    let p = path.trim();
    let Some(rest) = p.strip_prefix("L['self']") else {
        return p.to_string();
    };
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                if !out.is_empty() {
                    out.push('.');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d != '\'' && d != '"' {
                        out.push(d);
                    }
                }
            }
            '.' if out.is_empty() => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_entries_and_paths() {
        assert_eq!(
            split_entry("L__self__layer1.0,layer1.0,export.BasicBlock"),
            Some(["L__self__layer1.0", "layer1.0", "export.BasicBlock"])
        );
        assert_eq!(
            split_entry("k,L['self'].layers[0],a.B"),
            Some(["k", "L['self'].layers[0]", "a.B"])
        );
        assert_eq!(split_entry("a,b"), None);
        assert_eq!(normalize_path("L['self'].layers[0].attn"), "layers.0.attn");
        assert_eq!(normalize_path("L['self']['blocks']['x']"), "blocks.x");
        assert_eq!(normalize_path("L['self']"), "");
        assert_eq!(normalize_path("layer1.0.conv1"), "layer1.0.conv1");
    }

    #[test]
    fn targets() {
        assert!(
            matches!(target("torch.ops.aten.conv2d.default"), Target::Op(o) if o == "aten::conv2d")
        );
        assert!(matches!(
            target("torch.ops.higher_order.cond"),
            Target::HigherOrder("cond")
        ));
        assert!(matches!(target("_operator.mul"), Target::Scalar));
        assert!(matches!(target("mymodule.fn"), Target::Other(_)));
    }
}
