//! Aggregation: totals over a summary's module tree. Reports format these; they do not add things up.

use super::{LayerKind, ModelSummary, ModuleNode};
use crate::dtype::DType;
use std::collections::BTreeMap;

/// Parameters held by one layer kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindShare {
    pub kind: LayerKind,
    pub params: u64,
    /// Modules of this kind that own parameters.
    pub layers: usize,
}

/// One module and the parameters it owns itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerShare {
    pub path: String,
    pub type_name: String,
    pub kind: LayerKind,
    pub params: u64,
}

/// Activation memory of one forward pass at the batch the model ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activations {
    /// torchinfo's "Forward/backward pass size": outputs of leaf layers that have parameters, ×2 (the
    /// output and its gradient); a layer returning several tensors counts its first, as torchinfo does.
    pub torchinfo_bytes: u64,
    /// Outputs of every leaf module (parameter-free ones such as ReLU and MaxPool2d included), forward only:
    /// roughly what autograd keeps alive for the backward pass.
    pub leaf_output_bytes: u64,
    /// The largest single module output: a floor for inference.
    pub largest_output_bytes: u64,
    /// Own parameters of leaf layers the forward never called (an auxiliary classifier that runs only in
    /// training). torchinfo counts them in its total but not in its "Params size".
    pub uncalled_params: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Parameters, tied (shared) tensors counted once.
    pub params: u64,
    pub trainable: u64,
    pub non_trainable: u64,
    /// Tensors that repeat an earlier one's storage, and the elements they would add if counted twice.
    pub tied_tensors: usize,
    pub tied_params: u64,
    /// Bytes of the parameters in their real dtypes.
    pub param_bytes: u64,
    /// Parameters per dtype, most common first.
    pub param_dtypes: Vec<(DType, u64)>,
    /// Buffer elements (BatchNorm running statistics …), counted apart from parameters.
    pub buffers: u64,
    pub buffer_bytes: u64,
    /// Parameters by layer kind, in [`LayerKind::ALL`] order, kinds with no parameters left out.
    pub by_kind: Vec<KindShare>,
    /// Modules owning parameters, largest first.
    pub largest: Vec<LayerShare>,
    pub mult_adds: Option<u64>,
    pub op_mult_adds: Option<u64>,
    pub input_bytes: u64,
    pub activations: Option<Activations>,
}

impl Totals {
    pub fn of(summary: &ModelSummary) -> Totals {
        let nodes = summary.root.walk();
        let mut t = Totals {
            params: 0,
            trainable: 0,
            non_trainable: 0,
            tied_tensors: 0,
            tied_params: 0,
            param_bytes: 0,
            param_dtypes: Vec::new(),
            buffers: 0,
            buffer_bytes: 0,
            by_kind: Vec::new(),
            largest: Vec::new(),
            mult_adds: summary.root.subtree_mult_adds(),
            op_mult_adds: summary.root.subtree_op_mult_adds(),
            input_bytes: summary.inputs.iter().map(|v| v.bytes()).sum(),
            activations: None,
        };
        let mut dtypes: BTreeMap<DType, u64> = BTreeMap::new();
        let mut kinds: BTreeMap<LayerKind, (u64, usize)> = BTreeMap::new();

        for (_, node) in &nodes {
            for p in &node.parameters {
                if p.is_tied() {
                    t.tied_tensors += 1;
                    t.tied_params += p.numel();
                    continue;
                }
                let n = p.numel();
                t.params += n;
                if p.requires_grad {
                    t.trainable += n;
                } else {
                    t.non_trainable += n;
                }
                t.param_bytes += p.bytes();
                *dtypes.entry(p.dtype).or_default() += n;
            }
            for b in node.buffers.iter().filter(|b| !b.is_tied()) {
                t.buffers += b.numel();
                t.buffer_bytes += b.bytes();
            }
            let own = node.own_params();
            if own > 0 {
                let kind = params_kind(node);
                let entry = kinds.entry(kind).or_default();
                entry.0 += own;
                entry.1 += 1;
                t.largest.push(LayerShare {
                    path: node.path.clone(),
                    type_name: node.type_name.clone(),
                    kind,
                    params: own,
                });
            }
        }

        let mut dtypes: Vec<(DType, u64)> = dtypes.into_iter().collect();
        dtypes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        t.param_dtypes = dtypes;
        t.by_kind = LayerKind::ALL
            .iter()
            .filter_map(|k| {
                kinds.get(k).map(|&(params, layers)| KindShare {
                    kind: *k,
                    params,
                    layers,
                })
            })
            .collect();
        // Stable sort keeps tree order among equals, so ties read top to bottom.
        t.largest.sort_by_key(|l| std::cmp::Reverse(l.params));
        t.activations = activations(&summary.root);
        t
    }

    /// Share of all parameters, in percent; 0 for a model without parameters.
    pub fn percent(&self, params: u64) -> f64 {
        if self.params == 0 {
            0.0
        } else {
            params as f64 * 100.0 / self.params as f64
        }
    }

    /// torchinfo's "Estimated Total Size": the inputs, float32 weights of the layers the forward called
    /// ("Params size") and the forward/backward size; `None` without a forward pass.
    pub fn torchinfo_estimated_total_bytes(&self) -> Option<u64> {
        let a = self.activations.as_ref()?;
        let weights = self
            .params
            .saturating_sub(a.uncalled_params)
            .saturating_mul(4);
        Some(self.input_bytes + weights + a.torchinfo_bytes)
    }

    pub fn kind_params(&self, kind: LayerKind) -> u64 {
        self.by_kind
            .iter()
            .find(|k| k.kind == kind)
            .map_or(0, |k| k.params)
    }
}

/// The kind a module's own parameters count under: a "container" that owns parameters itself
/// (a class token, a positional embedding) is counted as other.
fn params_kind(node: &ModuleNode) -> LayerKind {
    match node.kind {
        LayerKind::Container => LayerKind::Other,
        k => k,
    }
}

fn activations(root: &ModuleNode) -> Option<Activations> {
    let nodes = root.walk();
    if nodes.iter().all(|(_, n)| n.outputs.is_none()) {
        return None;
    }
    let mut a = Activations {
        torchinfo_bytes: 0,
        leaf_output_bytes: 0,
        largest_output_bytes: 0,
        uncalled_params: 0,
    };
    for (_, node) in nodes {
        let Some(outputs) = &node.outputs else {
            if node.is_leaf() {
                a.uncalled_params += node.own_params();
            }
            continue;
        };
        // Every call of a module the forward calls more than once leaves its own output behind.
        for call in std::iter::once(outputs).chain(&node.repeat_outputs) {
            let bytes: u64 = call.iter().map(|o| o.bytes()).sum();
            a.largest_output_bytes = a.largest_output_bytes.max(bytes);
            if node.is_leaf() {
                a.leaf_output_bytes += bytes;
                // torchinfo sizes a tuple output (an LSTM's `out, (h, c)`) by its first tensor alone.
                if node.own_params() > 0 {
                    a.torchinfo_bytes += 2 * call.first().map_or(0, |o| o.bytes());
                }
            }
        }
    }
    Some(a)
}
