//! Turns a built model (its module tree and `VarStore`) and what its forward pass recorded into the
//! shared [`ModelSummary`].

use super::module::Module;
use super::recorder::Recorder;
use crate::summary::macs::fill_torchinfo_mult_adds;
use crate::summary::{LayerKind, ModelSummary, ModuleNode, SourceKind, TensorRecord, TensorValue};
use std::collections::HashMap;
use tch::{Tensor, nn::VarStore};

pub(super) fn summary(
    name: &str,
    model: &Module,
    vs: &VarStore,
    forward: Option<(&Recorder, TensorValue)>,
) -> ModelSummary {
    let vars = vs.variables();
    let rec = forward.as_ref().map(|(r, _)| *r);
    let mut root = node(model, &vars, rec);
    let Some((rec, input)) = forward else {
        return with_ties(ModelSummary::new(name, SourceKind::Builtin, root), &vars);
    };
    fill_torchinfo_mult_adds(&mut root);
    let modules = model.walk();
    let paths: Vec<String> = modules.iter().map(|m| m.path.clone()).collect();
    let mut summary = with_ties(ModelSummary::new(name, SourceKind::Builtin, root), &vars);
    summary.dataflow = Some(rec.edges(&paths));
    summary.inputs = vec![input];
    let repeated: Vec<&str> = modules
        .iter()
        .filter(|m| rec.calls_of(m.id).len() > 1)
        .map(|m| m.path.as_str())
        .collect();
    if let Some(first) = repeated.first() {
        summary.notes.push(format!(
            "{} modules are called more than once per forward pass (e.g. {first}, a block's shared \
             ReLU); each is one row, its output shape marked ×N (calls), and every call's output is \
             counted in the activations",
            repeated.len()
        ));
    }
    summary
}

/// Marks variables that are another's tensor (same storage, shape and stride: a language model head
/// tied to its token embedding) as tied, so they are shown but counted once.
fn with_ties(mut summary: ModelSummary, vars: &HashMap<String, Tensor>) -> ModelSummary {
    summary.mark_tied(|full| {
        vars.get(full)
            .filter(|t| t.numel() > 0)
            .map(|t| (t.data_ptr() as usize, t.size(), t.stride()))
    });
    summary
}

fn node(m: &Module, vars: &HashMap<String, Tensor>, rec: Option<&Recorder>) -> ModuleNode {
    let mut n = ModuleNode::new(m.name.clone(), m.path.clone(), m.type_name());
    n.qualified_type = Some(m.class.to_string());
    let full = |local: &str| {
        if m.path.is_empty() {
            local.to_string()
        } else {
            format!("{}.{local}", m.path)
        }
    };
    let (params, buffers) = m.tensor_names();
    n.parameters = params
        .iter()
        .filter_map(|p| vars.get(&full(p)).map(|t| record(p, t, t.requires_grad())))
        .collect();
    // A module with children is a container (Sequential, Conv2dNormActivation, a ResNet block), unless
    // it owns parameters as well: MultiheadAttention's in_proj_weight and Swin's relative position
    // table are attention parameters, and their class names say so.
    if !m.children.is_empty() && n.parameters.is_empty() {
        n.kind = LayerKind::Container;
    }
    n.buffers = buffers
        .iter()
        .filter_map(|b| vars.get(&full(b)).map(|t| record(b, t, false)))
        .collect();
    // A module that only holds children; one with parameters of its own (MultiheadAttention's
    // in_proj_weight, a mixture of experts' stacked weights) keeps its class's kind, as for state dicts.
    if !m.children.is_empty() && n.parameters.is_empty() {
        n.kind = LayerKind::Container;
    }
    if let Some(rec) = rec {
        rec.fill_node(m.id, &mut n);
    }
    n.children = m.children.iter().map(|c| node(c, vars, rec)).collect();
    n
}

fn record(name: &str, t: &Tensor, requires_grad: bool) -> TensorRecord {
    let shape = t.size().iter().map(|&d| d.max(0) as u64).collect();
    TensorRecord::new(
        name,
        shape,
        crate::torch_dtype::from_kind(t.kind()),
        requires_grad,
    )
}
