//! From a recorded forward pass to a [`ModelSummary`]: the `VarStore`'s tree (every variable, named
//! by its path) with the recorded layers placed on it.
//!
//! A recorded layer's path is, in this order of trust: the one its wrapper was given; the module its
//! variables live in (tch's layers); the module its recorded children live in (your own container);
//! and, for a layer with neither (a ReLU), its position under its recorded parent, as PyTorch
//! numbers a `Sequential`'s children. Layers holding variables that were never recorded keep the
//! inferred type and show no output: unknown, not zero.

use super::layer::Outputs;
use super::session::{self, Session};
use crate::sources::SourceError;
use crate::sources::varstore::summarize_varstore;
use crate::summary::infer::TYPES_INFERRED_NOTE;
use crate::summary::macs::fill_torchinfo_mult_adds;
use crate::summary::{LayerKind, ModelSummary, ModuleNode};
use std::collections::{HashMap, HashSet};
use tch::Tensor;
use tch::nn::VarStore;

/// Runs `forward` once (no gradients) with every recorded layer reporting its calls, and describes
/// the model: the `VarStore`'s variables (parameters, buffers, trainable or frozen, tied), each
/// recorded layer's output shapes per call, torchinfo's and per-operator mult-adds, and the memory
/// footer's activations. `inputs` are what the forward reads, for the footer's input size.
///
/// A panic in the forward (libtorch rejecting a shape) is returned as the error; the default panic
/// hook still prints it to stderr. [`run`] and [`Recording::into_summary`] are its two halves.
pub fn summarize<T: Outputs>(
    vs: &VarStore,
    name: &str,
    inputs: &[&Tensor],
    forward: impl FnOnce() -> T,
) -> Result<ModelSummary, SourceError> {
    let (_, recording) = run(name, forward)?;
    Ok(recording.into_summary(vs, inputs))
}

/// What one recorded forward pass saw, before it is put on the `VarStore`'s tree.
pub struct Recording {
    name: String,
    output: Vec<crate::summary::TensorValue>,
    session: Session,
}

/// The collecting half of [`summarize`]: runs `forward` once (no gradients) while recorded layers
/// report their calls, and returns what it returned with the recording.
pub fn run<T: Outputs>(
    name: &str,
    forward: impl FnOnce() -> T,
) -> Result<(T, Recording), SourceError> {
    let failed = |problem: String| SourceError::Input {
        model: name.to_string(),
        problem,
    };
    let run = tch::no_grad(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session::recording(forward)))
    });
    let (output, session) = match run {
        Ok(Some(recorded)) => recorded,
        Ok(None) => {
            return Err(failed(
                "a forward pass is already being recorded on this thread".to_string(),
            ));
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the model panicked");
            return Err(failed(format!(
                "the forward pass failed: {}",
                crate::sources::first_line(message)
            )));
        }
    };
    let mut values = Vec::new();
    output.push_values(&mut values);
    let recording = Recording {
        name: name.to_string(),
        output: values,
        session,
    };
    Ok((output, recording))
}

impl Recording {
    /// The aggregating half of [`summarize`]: the model's summary from `vs` (where its variables
    /// live) and this recording; `inputs` are what the forward read.
    pub fn into_summary(self, vs: &VarStore, inputs: &[&Tensor]) -> ModelSummary {
        let mut summary = summarize_varstore(vs, &self.name);
        summary.inputs = inputs
            .iter()
            .map(|t| crate::sources::builtin::recorder::tensor_value(t))
            .collect();
        summary.root.outputs = Some(self.output);
        place(&mut summary, vs, &self.session);
        summary
    }
}

/// `a.b.c` → `a.b`; `a` → ``.
fn parent(path: &str) -> &str {
    path.rfind('.').map_or("", |i| &path[..i])
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The longest common dotted prefix.
fn common_prefix<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut paths = paths.into_iter();
    let first: Vec<&str> = paths.next()?.split('.').filter(|s| !s.is_empty()).collect();
    let mut keep = first.len();
    for p in paths {
        let parts: Vec<&str> = p.split('.').filter(|s| !s.is_empty()).collect();
        keep = keep.min(first.iter().zip(&parts).take_while(|(a, b)| a == b).count());
    }
    Some(first[..keep].join("."))
}

type TensorKey = (usize, Vec<i64>, Vec<i64>);

fn key(t: &Tensor) -> Option<TensorKey> {
    (t.numel() > 0).then(|| (t.data_ptr() as usize, t.size(), t.stride()))
}

/// Each recorded module's path (see the module comment).
fn resolve(vs: &VarStore, s: &Session) -> Vec<String> {
    let mut owners: HashMap<TensorKey, Vec<String>> = HashMap::new();
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in &variables {
        if let Some(k) = key(t) {
            owners.entry(k).or_default().push(parent(name).to_string());
        }
    }
    let n = s.modules.len();
    let mut paths: Vec<Option<String>> = s.modules.iter().map(|m| m.path.clone()).collect();
    let mut claimed: HashSet<String> = paths.iter().flatten().cloned().collect();
    // Layers with variables: the module holding most of them. A tensor under several names (a head
    // tied to the embedding) goes to a module no other layer has taken; unambiguous layers first.
    let candidates: Vec<Vec<String>> = s
        .modules
        .iter()
        .map(|m| {
            let mut votes: Vec<(String, usize)> = Vec::new();
            for t in &m.tensors {
                for owner in key(t).and_then(|k| owners.get(&k)).into_iter().flatten() {
                    match votes.iter_mut().find(|(o, _)| o == owner) {
                        Some(v) => v.1 += 1,
                        None => votes.push((owner.clone(), 1)),
                    }
                }
            }
            votes.sort_by_key(|v| std::cmp::Reverse(v.1));
            votes.into_iter().map(|v| v.0).collect()
        })
        .collect();
    for single in [true, false] {
        for id in 0..n {
            if paths[id].is_some() || candidates[id].is_empty() {
                continue;
            }
            if single && candidates[id].len() > 1 {
                continue;
            }
            if let Some(c) = candidates[id].iter().find(|c| !claimed.contains(*c)) {
                claimed.insert(c.clone());
                paths[id] = Some(c.clone());
            }
        }
    }
    let mut children_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (id, m) in s.modules.iter().enumerate() {
        if let Some(p) = m.parent {
            children_of[p].push(id);
        }
    }
    // Containers: where their recorded children's modules live (children have larger ids).
    for id in (0..n).rev() {
        if paths[id].is_some() {
            continue;
        }
        let children: Vec<&str> = children_of[id]
            .iter()
            .filter_map(|&c| paths[c].as_deref())
            .map(parent)
            .collect();
        if let Some(p) = common_prefix(children.iter().copied())
            && claimed.insert(p.clone())
        {
            paths[id] = Some(p);
        }
    }
    // The rest by position under their parent; a lone top-level module is the model itself.
    let top = s.modules.iter().filter(|m| m.parent.is_none()).count();
    let mut out: Vec<String> = Vec::with_capacity(n);
    for (m, resolved) in s.modules.iter().zip(&paths) {
        let path = match (resolved, m.parent) {
            (Some(p), _) => p.clone(),
            (None, None) if top == 1 && claimed.insert(String::new()) => String::new(),
            (None, parent) => {
                let under = parent.map_or("", |p| out[p].as_str());
                let mut path = join(under, &m.position.to_string());
                while !claimed.insert(path.clone()) {
                    path.push('_');
                }
                path
            }
        };
        out.push(path);
    }
    out
}

/// The node at `path`, created (as a child of the deepest existing ancestor) when missing; new
/// nodes go after the siblings already recorded, so they read in call order.
fn node_at<'a>(
    root: &'a mut ModuleNode,
    path: &str,
    type_name: &str,
    recorded: &HashSet<String>,
) -> &'a mut ModuleNode {
    if path.is_empty() {
        return root;
    }
    if find_mut(root, path).is_none() {
        let mut ancestor = parent(path);
        while !ancestor.is_empty() && find_mut(root, ancestor).is_none() {
            ancestor = parent(ancestor);
        }
        let host = find_mut(root, ancestor).expect("an ancestor exists: the root at least");
        let name = if ancestor.is_empty() {
            path
        } else {
            &path[ancestor.len() + 1..]
        };
        let at = host
            .children
            .iter()
            .rposition(|c| recorded.contains(&c.path))
            .map_or(0, |i| i + 1);
        host.children
            .insert(at, ModuleNode::new(name, path, type_name));
    }
    find_mut(root, path).expect("just found or created")
}

/// `path` is `module` or lies under it (without allocating: placement looks up every layer).
fn within(path: &str, module: &str) -> bool {
    path.strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn find_mut<'a>(node: &'a mut ModuleNode, path: &str) -> Option<&'a mut ModuleNode> {
    if node.path == path {
        return Some(node);
    }
    node.children
        .iter_mut()
        .filter(|c| within(path, &c.path))
        .find_map(|c| find_mut(c, path))
}

fn place(summary: &mut ModelSummary, vs: &VarStore, s: &Session) {
    let paths = resolve(vs, s);
    let mut recorded: HashSet<String> = HashSet::new();
    let root_output = summary.root.outputs.clone();
    for (id, path) in paths.iter().enumerate() {
        let m = &s.modules[id];
        let node = node_at(&mut summary.root, path, &m.type_name, &recorded);
        node.type_name = m.type_name.clone();
        node.qualified_type = None;
        node.kind = LayerKind::from_type_name(&m.type_name);
        s.rec.fill_node(id, node);
        recorded.insert(path.clone());
    }
    // The model's output is what the forward returned, whatever recorded layer made it.
    if summary.root.outputs.is_none() {
        summary.root.outputs = root_output;
    }
    summary.root.visit_mut(&mut |n| {
        if !n.children.is_empty() && n.parameters.is_empty() {
            n.kind = LayerKind::Container;
        }
    });
    // Layers holding variables that no recorded call reached ran unseen (or not at all: the
    // recorder cannot tell), so their outputs and mult-adds, and the model's totals, are unknown.
    summary.root.visit_mut(&mut |n| {
        n.unmeasured = !n.parameters.is_empty() && !recorded.contains(&n.path);
    });
    fill_torchinfo_mult_adds(&mut summary.root);
    summary.notes = notes(summary, &recorded);
}

fn notes(summary: &ModelSummary, recorded: &HashSet<String>) -> Vec<String> {
    let mut notes = Vec::new();
    let unrecorded: Vec<&str> = summary
        .root
        .walk()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| !n.parameters.is_empty() && !recorded.contains(&n.path))
        .map(|n| n.path.as_str())
        .collect();
    if recorded.is_empty() {
        notes.push(TYPES_INFERRED_NOTE.to_string());
        notes.push(
            "no layer was recorded, so only the model's overall output was measured: build it with \
             tchinfo::record::seq() or wrap layers with tchinfo::record::layer for per-layer shapes"
                .to_string(),
        );
    } else if let Some(first) = unrecorded.first() {
        notes.push(TYPES_INFERRED_NOTE.to_string());
        notes.push(format!(
            "{} layer{} holding variables {} not recorded (e.g. {}): {} output shapes and mult-adds \
             are unknown; wrap {} with tchinfo::record::layer",
            unrecorded.len(),
            if unrecorded.len() == 1 { "" } else { "s" },
            if unrecorded.len() == 1 { "was" } else { "were" },
            if first.is_empty() { "(root)" } else { first },
            if unrecorded.len() == 1 { "its" } else { "their" },
            if unrecorded.len() == 1 { "it" } else { "them" },
        ));
    }
    let repeated: Vec<&ModuleNode> = summary
        .root
        .walk()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| !n.repeat_outputs.is_empty())
        .collect();
    if let Some(first) = repeated.first() {
        notes.push(format!(
            "{} module{} called more than once per forward pass (e.g. {}); each is one row, its \
             output shape marked ×N (calls), and every call's output is counted in the activations",
            repeated.len(),
            if repeated.len() == 1 { " is" } else { "s are" },
            if first.path.is_empty() {
                "(root)"
            } else {
                &first.path
            },
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes_are_whole_names() {
        assert_eq!(
            common_prefix(["features", "features"]).as_deref(),
            Some("features")
        );
        assert_eq!(
            common_prefix(["blocks.0", "blocks.1"]).as_deref(),
            Some("blocks")
        );
        assert_eq!(common_prefix(["feat", "features"]).as_deref(), Some(""));
        assert_eq!(common_prefix(["", "classifier"]).as_deref(), Some(""));
        assert_eq!(common_prefix(std::iter::empty()), None);
    }
}
