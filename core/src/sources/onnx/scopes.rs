//! Where an ONNX graph's operators and weights belong in the module tree.
//!
//! Exporters write the module path in different places:
//! - torch's dynamo exporter: node metadata `pkg.torch.onnx.name_scopes` (`['', 'layer1',
//!   'layer1.0', 'layer1.0.conv1', 'conv2d']`, the last entry the operator) and
//!   `pkg.torch.onnx.class_hierarchy` (the classes, in the same order);
//! - the TorchScript exporter and Hugging Face's: the node name, `/layer1/layer1.0/conv1/Conv` or
//!   `/model/layers.0/self_attn/q_proj/MatMul` (a child of a container repeats its parent's name:
//!   `layer1.0` under `layer1`), a module's second call suffixed `_1` (`/layer1/layer1.0/relu_1/Relu`).
//!
//! Consecutive operators of one module are one call of it; a module's operators interrupted by
//! another module's start a new call (a ReLU used twice in a block).
//!
//! Weights keep their PyTorch names when the exporter kept them (`layer1.0.conv1.weight`); anonymous
//! ones (`onnx::MatMul_1234`, `val_12`) are named by the role they play in the operator that uses
//! them (a `Conv`'s second input is its module's `weight`). A weight a module uses but another owns
//! (a tied head) is shown as that module's, tied.

use super::proto::{Graph, Initializer};
use crate::sources::graph::tree::Tensor;
use crate::sources::graph::{CallId, OpGraph, ROOT_CALL};
use crate::sources::torchscript::budget::TreeBudget;
use crate::summary::infer;
use crate::units;
use std::collections::{HashMap, HashSet};

/// Where every node ran.
#[derive(Debug, Default)]
pub struct Placed {
    /// The module call of each node, in node order.
    pub calls: Vec<CallId>,
    /// Module paths in the order the graph first uses them.
    pub paths: Vec<String>,
    /// Qualified classes the file records (`torch.nn.modules.conv.Conv2d`), by module path, and
    /// classes guessed from the operators a module ran (listed in `guessed`).
    pub types: HashMap<String, String>,
    pub guessed: Vec<String>,
    pub notes: Vec<String>,
}

/// Each node's module calls and the order of module paths; the calls are made in `graph`.
pub fn place(
    g: &Graph,
    initializers: &HashMap<&str, &Initializer>,
    graph: &mut OpGraph,
    budget: &mut TreeBudget,
) -> Result<Placed, String> {
    let mut placed = Placed::default();
    // Each node's chain of module paths, outermost first.
    let mut chains: Vec<Vec<String>> = Vec::with_capacity(g.nodes.len());
    let mut from_names = false;
    for node in &g.nodes {
        let chain = match node.name_scopes.as_deref().and_then(python_list) {
            Some(scopes) => {
                let classes = node
                    .class_hierarchy
                    .as_deref()
                    .and_then(python_list)
                    .unwrap_or_default();
                let inner = scopes.len().saturating_sub(1);
                for (i, path) in scopes.iter().enumerate().take(inner) {
                    if let Some(class) = classes.get(i)
                        && !placed.types.contains_key(path)
                    {
                        budget.charge(path.len() + class.len() + 64)?;
                        placed.types.insert(path.clone(), class.clone());
                    }
                }
                scopes.into_iter().take(inner).skip(1).collect()
            }
            None => {
                let chain = chain_from_name(&node.name);
                from_names |= !chain.is_empty();
                chain
            }
        };
        budget.charge(chain.iter().map(|p| p.len() + 32).sum())?;
        chains.push(chain);
    }
    if from_names {
        merge_repeated_calls(&mut chains, initializers);
    }

    // Weights are placed where they are first used only when their module has no operators of its
    // own (a convolution folded into the BatchNorm after it); a tied weight's owner comes where it runs.
    let scoped: HashSet<&str> = chains.iter().flatten().map(String::as_str).collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add = |path: &str, placed: &mut Placed| {
        if !path.is_empty() && seen.insert(path.to_string()) {
            placed.paths.push(path.to_string());
        }
    };
    // The calls open at the previous node, outermost first.
    let mut open: Vec<(String, CallId)> = Vec::new();
    for (node, chain) in g.nodes.iter().zip(&chains) {
        for input in &node.inputs {
            if initializers.contains_key(input.as_str()) && !is_anonymous(input) {
                let owner = input.rsplit_once('.').map_or("", |(owner, _)| owner);
                if !scoped.contains(owner) {
                    add(owner, &mut placed);
                }
            }
        }
        for path in chain {
            add(path, &mut placed);
        }
        // A constant belongs to no call: it neither opens nor closes one.
        if node.inputs.is_empty() && node.op_type == "Constant" {
            placed.calls.push(ROOT_CALL);
            continue;
        }
        let same = open
            .iter()
            .zip(chain)
            .take_while(|((open_path, _), path)| open_path == *path)
            .count();
        open.truncate(same);
        for path in &chain[same..] {
            let parent = open.last().map_or(ROOT_CALL, |(_, c)| *c);
            let call = graph.call(path.clone(), parent)?;
            open.push((path.clone(), call));
        }
        placed
            .calls
            .push(open.last().map_or(ROOT_CALL, |(_, c)| *c));
    }
    guess_types_from_operators(g, graph, &mut placed);
    Ok(placed)
}

/// A class for each module that ran but whose class the file does not record (the TorchScript
/// exporter's names carry none): from the one kind of operator it ran itself (`Relu` → `ReLU`).
/// Others are left to the tree, which guesses from their weights or children.
fn guess_types_from_operators(g: &Graph, graph: &OpGraph, placed: &mut Placed) {
    let mut own: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (node, &call) in g.nodes.iter().zip(&placed.calls) {
        let path = graph.calls[call].path.as_str();
        if !path.is_empty() && !placed.types.contains_key(path) {
            own.entry(path).or_default().insert(node.op_type.as_str());
        }
    }
    let mut guesses: Vec<(String, String)> = Vec::new();
    for path in &placed.paths {
        if placed.types.contains_key(path) {
            continue;
        }
        let class = match own.get(path.as_str()) {
            Some(ops) if ops.len() == 1 => ops.iter().next().and_then(|op| class_of(op)),
            _ => None,
        };
        if let Some(c) = class {
            guesses.push((path.clone(), c.to_string()));
        }
    }
    placed
        .guessed
        .extend(guesses.iter().map(|(p, _)| p.clone()));
    placed.types.extend(guesses);
}

/// The PyTorch class that exports as this one ONNX operator, for parameter-free layers.
fn class_of(op_type: &str) -> Option<&'static str> {
    Some(match op_type {
        "Relu" => "ReLU",
        "LeakyRelu" => "LeakyReLU",
        "Sigmoid" => "Sigmoid",
        "Tanh" => "Tanh",
        "Gelu" => "GELU",
        "Softmax" => "Softmax",
        "Elu" => "ELU",
        "HardSigmoid" => "Hardsigmoid",
        "HardSwish" => "Hardswish",
        "MaxPool" => "MaxPool2d",
        "AveragePool" => "AvgPool2d",
        "GlobalAveragePool" => "AdaptiveAvgPool2d",
        "GlobalMaxPool" => "AdaptiveMaxPool2d",
        "Flatten" => "Flatten",
        "Dropout" => "Dropout",
        "Identity" => "Identity",
        _ => return None,
    })
}

/// A Python list of strings as `repr` writes it: `['', 'layer1', "it's"]`.
pub fn python_list(text: &str) -> Option<Vec<String>> {
    let mut chars = text.trim().chars().peekable();
    if chars.next()? != '[' {
        return None;
    }
    let mut out = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next()? {
            ']' if out.is_empty() => return Some(out),
            q @ ('\'' | '"') => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(match chars.next()? {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        }),
                        c if c == q => break,
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            _ => return None,
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next()? {
            ',' => continue,
            ']' => return Some(out),
            _ => return None,
        }
    }
}

/// The module paths in a node name such as `/layer1/layer1.0/conv1/Conv`: `layer1`, `layer1.0`,
/// `layer1.0.conv1` (the last segment is the operator). A segment that repeats its parent's name
/// (`layer1.0` under `layer1`) adds only what follows it.
pub fn chain_from_name(name: &str) -> Vec<String> {
    let Some(rest) = name.strip_prefix('/') else {
        return Vec::new();
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut chain = Vec::new();
    let mut path = String::new();
    let mut previous = "";
    for seg in &segments[..segments.len().saturating_sub(1)] {
        if seg.is_empty() {
            continue;
        }
        let local = match seg.strip_prefix(previous).and_then(|r| r.strip_prefix('.')) {
            Some(tail) if !previous.is_empty() && !tail.is_empty() => tail,
            _ => seg,
        };
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(local);
        chain.push(path.clone());
        previous = seg;
    }
    chain
}

/// The TorchScript exporter names a module's second call `relu_1`: such a path becomes its module's
/// when the module is known by its own name (from another call, or the weights it owns).
fn merge_repeated_calls(chains: &mut [Vec<String>], initializers: &HashMap<&str, &Initializer>) {
    let mut known: HashSet<String> = chains.iter().flatten().cloned().collect();
    for name in initializers.keys() {
        if let Some((owner, _)) = name.rsplit_once('.') {
            known.insert(owner.to_string());
        }
    }
    let mut renamed: HashMap<String, String> = HashMap::new();
    for path in &known {
        let (parent, local) = match path.rsplit_once('.') {
            Some((p, l)) => (format!("{p}."), l),
            None => (String::new(), path.as_str()),
        };
        if let Some((base, n)) = local.rsplit_once('_')
            && !base.is_empty()
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && known.contains(&format!("{parent}{base}"))
        {
            renamed.insert(path.clone(), format!("{parent}{base}"));
        }
    }
    if renamed.is_empty() {
        return;
    }
    for chain in chains.iter_mut() {
        for p in chain.iter_mut() {
            // The longest renamed ancestor (or the path itself) renames it, and every path under it.
            let mut end = p.len();
            loop {
                if let Some(to) = renamed.get(&p[..end]) {
                    *p = format!("{to}{}", &p[end..]);
                    break;
                }
                match p[..end].rfind('.') {
                    Some(dot) => end = dot,
                    None => break,
                }
            }
        }
    }
}

/// Exporters' names for weights they made or renamed: `onnx::MatMul_1234`, `val_12`, `/model/Constant_output_0`.
pub fn is_anonymous(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    name.is_empty()
        || name.contains(':')
        || name.contains('/')
        || name.bytes().all(|b| b.is_ascii_digit())
        || ["val_", "_val_", "const_", "_v_", "Constant_"]
            .iter()
            .any(|p| numbered(p))
}

/// What the weights of the file are, as parameters and buffers of the tree.
#[derive(Debug, Default)]
pub struct Params {
    pub tensors: Vec<Tensor>,
    /// Each tensor's full name → the initializer holding it: tensors with one initializer are tied.
    pub keys: HashMap<String, String>,
    pub notes: Vec<String>,
}

/// The role an initializer plays as input `index` of an operator, as the parameter's local name:
/// `(name, is a buffer)`.
fn role(op_type: &str, index: usize, rank: usize) -> Option<(&'static str, bool)> {
    Some(match (op_type, index) {
        ("Conv" | "ConvTranspose" | "Gemm" | "PRelu", 1) => ("weight", false),
        ("Conv" | "ConvTranspose" | "Gemm", 2) => ("bias", false),
        ("MatMul", 0 | 1) if rank >= 2 => ("weight", false),
        ("Gather", 0) if rank == 2 => ("weight", false),
        ("BatchNormalization", 1) => ("weight", false),
        ("BatchNormalization", 2) => ("bias", false),
        ("BatchNormalization", 3) => ("running_mean", true),
        ("BatchNormalization", 4) => ("running_var", true),
        (
            "LayerNormalization"
            | "InstanceNormalization"
            | "GroupNormalization"
            | "RMSNormalization",
            1,
        ) => ("weight", false),
        (
            "LayerNormalization"
            | "InstanceNormalization"
            | "GroupNormalization"
            | "RMSNormalization",
            2,
        ) => ("bias", false),
        ("LSTM" | "GRU" | "RNN", 1) => ("weight_ih", false),
        ("LSTM" | "GRU" | "RNN", 2) => ("weight_hh", false),
        ("LSTM" | "GRU" | "RNN", 3) => ("bias", false),
        _ => return None,
    })
}

/// The parameters being placed.
#[derive(Default)]
struct Placing {
    params: Params,
    /// The local names each module already has, with their shapes.
    has: HashMap<String, HashMap<String, Vec<i64>>>,
    /// Initializers shown as a parameter or buffer, or known to copy one.
    accounted: HashSet<String>,
}

impl Placing {
    fn push(
        &mut self,
        module: &str,
        local: &str,
        t: &Initializer,
        dtype: crate::dtype::DType,
        buffer: bool,
    ) -> Result<(), String> {
        let name = if module.is_empty() {
            local.to_string()
        } else {
            format!("{module}.{local}")
        };
        self.params
            .tensors
            .push(super::tensor_of(name.clone(), t, dtype, buffer)?);
        self.params.keys.insert(name, t.name.clone());
        self.accounted.insert(t.name.clone());
        self.has
            .entry(module.to_string())
            .or_default()
            .entry(local.to_string())
            .or_insert_with(|| t.dims.clone());
        Ok(())
    }
}

/// The parameters and buffers, placed in the modules that own or use them.
pub fn parameters(
    g: &Graph,
    initializers: &HashMap<&str, &Initializer>,
    graph: &OpGraph,
    placed: &Placed,
) -> Result<Params, String> {
    // Who uses each initializer (through an Identity the TorchScript exporter puts before shared ones).
    let mut alias: HashMap<&str, &str> = HashMap::new();
    for node in &g.nodes {
        if node.op_type == "Identity"
            && let (Some(i), Some(o)) = (node.inputs.first(), node.outputs.first())
            && initializers.contains_key(i.as_str())
        {
            alias.insert(o.as_str(), i.as_str());
        }
    }
    let mut users: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (k, node) in g.nodes.iter().enumerate() {
        for (j, input) in node.inputs.iter().enumerate() {
            let name = alias.get(input.as_str()).copied().unwrap_or(input.as_str());
            if initializers.contains_key(name) {
                users.entry(name).or_default().push((k, j));
            }
        }
    }
    let module_of = |k: usize| graph.calls[placed.calls[k]].path.as_str();
    let placed_scopes: HashSet<&str> = placed
        .calls
        .iter()
        .map(|&c| graph.calls[c].path.as_str())
        .collect();
    let full = |module: &str, local: &str| {
        if module.is_empty() {
            local.to_string()
        } else {
            format!("{module}.{local}")
        }
    };

    let mut out = Placing::default();
    let (mut unsupported, mut constants, mut constant_elements) = (0u64, 0u64, 0u64);
    let mut external: Vec<&str> = Vec::new();
    let mut external_count = 0u64;
    let mut copies: Vec<String> = Vec::new();

    let mut anonymous: Vec<(&Initializer, crate::dtype::DType)> = Vec::new();
    for t in &g.initializers {
        let Some(dtype) = super::data_type(t.data_type) else {
            unsupported += 1;
            continue;
        };
        if t.external {
            external_count += 1;
            if let Some(loc) = t.location.as_deref()
                && !external.contains(&loc)
                && external.len() < 3
            {
                external.push(loc);
            }
        }
        if is_anonymous(&t.name) {
            anonymous.push((t, dtype));
            continue;
        }
        let (owner, local) = t.name.rsplit_once('.').unwrap_or(("", t.name.as_str()));
        let buffer = infer::is_buffer(local, dtype);
        out.push(owner, local, t, dtype, buffer)?;
        // A module that uses a weight another module owns (a tied head) shows it, tied.
        for &(k, j) in users.get(t.name.as_str()).into_iter().flatten() {
            let user = module_of(k);
            let Some((r, buffer)) = role(&g.nodes[k].op_type, j, t.dims.len()) else {
                continue;
            };
            // Only where the owner runs operators of its own: a convolution folded into the
            // BatchNorm after it has none, and its weight is not the BatchNorm's.
            let owner_runs = placed_scopes.contains(owner);
            let related = !owner_runs || user == owner || owner.starts_with(&format!("{user}."));
            let taken = out.has.get(user).is_some_and(|v| v.contains_key(r));
            if !user.is_empty() && !related && !taken {
                out.push(user, r, t, dtype, buffer)?;
            }
        }
    }
    // Anonymous weights take the role they play; an Add's operand is a bias only beside a weight.
    for pass in 0..2 {
        for &(t, dtype) in &anonymous {
            let found = users
                .get(t.name.as_str())
                .into_iter()
                .flatten()
                .find_map(|&(k, j)| {
                    let op = g.nodes[k].op_type.as_str();
                    let r = match (pass, op) {
                        (0, _) => role(op, j, t.dims.len()),
                        (_, "Add") if t.dims.len() == 1 => Some(("bias", false)),
                        _ => None,
                    }?;
                    let module = module_of(k);
                    let beside_weight = out
                        .has
                        .get(module)
                        .is_some_and(|v| v.contains_key("weight"));
                    (pass == 0 || beside_weight).then_some((module, r))
                });
            let Some((module, (r, buffer))) = found else {
                continue;
            };
            if out.accounted.contains(&t.name) {
                continue; // placed in the first pass
            }
            let existing = out.has.get(module).and_then(|v| v.get(r)).cloned();
            match existing {
                None => out.push(module, r, t, dtype, buffer)?,
                Some(shape) => {
                    let mut reversed = t.dims.clone();
                    reversed.reverse();
                    if t.dims.len() == 2 && shape == reversed {
                        // The optimizer folded a Transpose of the module's own weight into a copy:
                        // one parameter, stored twice.
                        if copies.len() < 3 {
                            copies.push(format!("{} as {}", t.name, full(module, r)));
                        }
                        out.accounted.insert(t.name.clone());
                    } else {
                        let local = t.name.replace('.', "_");
                        out.push(module, &local, t, dtype, buffer)?;
                    }
                }
            }
        }
    }
    for &(t, _) in &anonymous {
        if !out.accounted.contains(&t.name) {
            constants += 1;
            let n = t
                .dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?))
                .unwrap_or(0);
            constant_elements = constant_elements.saturating_add(n);
        }
    }

    let mut p = out.params;
    if !p.tensors.is_empty() {
        p.notes.push(
            "ONNX does not record requires_grad: every floating-point parameter is counted as trainable"
                .into(),
        );
    }
    if external_count > 0 {
        p.notes.push(format!(
            "{} weight{} live in external data ({}{}), not opened: shapes and dtypes come from this file",
            units::thousands(external_count),
            if external_count == 1 { "" } else { "s" },
            external.join(", "),
            if external.is_empty() { "files not named" } else { "" },
        ));
    }
    if !copies.is_empty() {
        p.notes.push(format!(
            "the exporter stored some weights a second time, transposed for a MatMul ({}): counted once",
            copies.join(", ")
        ));
    }
    if constants > 0 {
        p.notes.push(format!(
            "{} unnamed constant{} ({} element{}: shapes, indices, scales) no operator uses as a weight: not counted as parameters",
            units::thousands(constants),
            if constants == 1 { "" } else { "s" },
            units::thousands(constant_elements),
            if constant_elements == 1 { "" } else { "s" },
        ));
    }
    if unsupported > 0 {
        p.notes.push(format!(
            "{} initializer{} of a type a summary cannot hold (strings, 4-bit types) {} not counted",
            unsupported,
            if unsupported == 1 { "" } else { "s" },
            if unsupported == 1 { "is" } else { "are" },
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_lists_as_repr_writes_them() {
        assert_eq!(
            python_list("['', 'layer1', 'layer1.0.conv1', 'conv2d']"),
            Some(vec![
                "".into(),
                "layer1".into(),
                "layer1.0.conv1".into(),
                "conv2d".into()
            ])
        );
        assert_eq!(
            python_list(r#"["it's", 'a\'b']"#),
            Some(vec!["it's".into(), "a'b".into()])
        );
        assert_eq!(python_list("[]"), Some(vec![]));
        assert_eq!(python_list("['a'"), None);
        assert_eq!(python_list("not a list"), None);
    }

    #[test]
    fn module_paths_from_node_names() {
        assert_eq!(
            chain_from_name("/layer1/layer1.0/conv1/Conv"),
            ["layer1", "layer1.0", "layer1.0.conv1"]
        );
        assert_eq!(
            chain_from_name("/layer2/layer2.0/downsample/downsample.0/Conv"),
            [
                "layer2",
                "layer2.0",
                "layer2.0.downsample",
                "layer2.0.downsample.0"
            ]
        );
        assert_eq!(
            chain_from_name("/model/layers.0/self_attn/q_proj/MatMul"),
            [
                "model",
                "model.layers.0",
                "model.layers.0.self_attn",
                "model.layers.0.self_attn.q_proj"
            ]
        );
        assert!(chain_from_name("/Flatten").is_empty());
        assert!(chain_from_name("node_relu").is_empty());
    }

    #[test]
    fn second_calls_join_their_module() {
        let mut chains = vec![
            vec!["b".to_string(), "b.relu".to_string()],
            vec!["b".to_string(), "b.relu_1".to_string()],
            vec!["b_1".to_string()],
        ];
        merge_repeated_calls(&mut chains, &HashMap::new());
        assert_eq!(chains[1], ["b", "b.relu"]);
        assert_eq!(chains[2], ["b"]);
    }

    #[test]
    fn anonymous_names() {
        for n in [
            "onnx::MatMul_12",
            "val_3",
            "/model/Constant_output_0",
            "123",
            "_val_7",
        ] {
            assert!(is_anonymous(n), "{n}");
        }
        for n in ["fc.weight", "pos", "value_head", "val_x"] {
            assert!(!is_anonymous(n), "{n}");
        }
    }
}
