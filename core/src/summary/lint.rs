//! The redundant-bias check: a convolution or Linear whose output goes straight into a BatchNorm does not
//! need its bias. BatchNorm subtracts the batch mean (which removes any constant per channel) and adds its
//! own learned shift, so the bias is trained for nothing: `bias=False` saves its parameters.

use super::{LayerKind, ModelSummary, ModuleNode};
use std::collections::HashMap;

/// How a finding was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The forward pass's data flow: the layer's output is consumed only by the BatchNorm.
    DataFlow,
    /// Only the order of modules in their container: the BatchNorm is the next sibling. A forward that
    /// does something else in between would make this wrong.
    ModuleOrder,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedundantBias {
    /// The convolution or Linear with the bias.
    pub layer: String,
    pub layer_type: String,
    /// The BatchNorm it feeds.
    pub norm: String,
    pub norm_type: String,
    /// Parameters the bias holds (what `bias=False` saves).
    pub wasted_params: u64,
    pub wasted_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BiasReport {
    pub evidence: Evidence,
    pub findings: Vec<RedundantBias>,
}

impl BiasReport {
    pub fn wasted_params(&self) -> u64 {
        self.findings.iter().map(|f| f.wasted_params).sum()
    }

    pub fn wasted_bytes(&self) -> u64 {
        self.findings.iter().map(|f| f.wasted_bytes).sum()
    }
}

fn bias_of(node: &ModuleNode) -> Option<(u64, u64)> {
    if !matches!(node.kind, LayerKind::Convolution | LayerKind::Linear) {
        return None;
    }
    node.parameters
        .iter()
        .find(|p| p.name == "bias" && !p.is_tied())
        .map(|b| (b.numel(), b.bytes()))
}

fn is_batch_norm(node: &ModuleNode) -> bool {
    node.type_name.contains("BatchNorm")
}

fn finding(layer: &ModuleNode, norm: &ModuleNode) -> Option<RedundantBias> {
    let (wasted_params, wasted_bytes) = bias_of(layer)?;
    is_batch_norm(norm).then(|| RedundantBias {
        layer: layer.path.clone(),
        layer_type: layer.type_name.clone(),
        norm: norm.path.clone(),
        norm_type: norm.type_name.clone(),
        wasted_params,
        wasted_bytes,
    })
}

/// Finds every bias that feeds a BatchNorm directly, from the data flow when the source recorded it, else
/// from module order.
pub fn redundant_biases(summary: &ModelSummary) -> BiasReport {
    match &summary.dataflow {
        Some(edges) => {
            // One look-up table, not a tree search per edge: a recorded graph can hold a hundred
            // thousand modules side by side.
            let mut by_path: HashMap<&str, &ModuleNode> = HashMap::new();
            for (_, n) in summary.root.walk() {
                by_path.entry(n.path.as_str()).or_insert(n);
            }
            let findings = edges
                .iter()
                .filter(|e| e.only_consumer)
                .filter_map(|e| finding(by_path.get(e.from.as_str())?, by_path.get(e.to.as_str())?))
                .collect();
            BiasReport {
                evidence: Evidence::DataFlow,
                findings,
            }
        }
        None => {
            let mut findings = Vec::new();
            for (_, node) in summary.root.walk() {
                for pair in node.children.windows(2) {
                    if let Some(f) = finding(&pair[0], &pair[1]) {
                        findings.push(f);
                    }
                }
            }
            BiasReport {
                evidence: Evidence::ModuleOrder,
                findings,
            }
        }
    }
}
