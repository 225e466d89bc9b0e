//! Aggregation: totals over a summary's module tree. Reports format these; they do not add things up.

use super::role::{self, Role};
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

/// Parameters and operator mult-adds of one layer role (see [`role::classify`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleShare {
    pub role: Role,
    pub params: u64,
    /// Modules of this role that own parameters.
    pub layers: usize,
    /// Operator mult-adds of the modules of this role (their own code, over every call); `None` when
    /// no operator was measured. The attention product counts under Attention, where it runs.
    pub op_mult_adds: Option<u64>,
}

/// One module and the parameters it owns itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerShare {
    pub path: String,
    pub type_name: String,
    pub kind: LayerKind,
    pub role: Role,
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Parameters, tied (shared) tensors counted once.
    pub params: u64,
    pub trainable: u64,
    pub non_trainable: u64,
    /// Parameters that are constants of a frozen model's code (`torch.jit.freeze`), and how many tensors
    /// hold them; included in `params` and `non_trainable`.
    pub frozen_constants: u64,
    pub frozen_constant_tensors: usize,
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
    /// Parameters and operator mult-adds by layer role, in [`Role::ALL`] order; roles with neither
    /// parameters nor mult-adds left out.
    pub by_role: Vec<RoleShare>,
    /// Modules owning parameters, largest first.
    pub largest: Vec<LayerShare>,
    pub mult_adds: Option<u64>,
    pub op_mult_adds: Option<u64>,
    pub input_bytes: u64,
    pub activations: Option<Activations>,
    /// torchinfo's "Params size": the parameter bytes (real element sizes) of the leaf layers the forward
    /// pass called, each layer once; `None` without a forward pass. See [`torchinfo_layer_params`].
    pub torchinfo_param_bytes: Option<u64>,
}

impl Totals {
    pub fn of(summary: &ModelSummary) -> Totals {
        let nodes = summary.root.walk();
        let mut t = Totals {
            params: 0,
            trainable: 0,
            non_trainable: 0,
            frozen_constants: 0,
            frozen_constant_tensors: 0,
            tied_tensors: 0,
            tied_params: 0,
            param_bytes: 0,
            param_dtypes: Vec::new(),
            buffers: 0,
            buffer_bytes: 0,
            by_kind: Vec::new(),
            by_role: Vec::new(),
            largest: Vec::new(),
            mult_adds: summary.root.subtree_mult_adds(),
            op_mult_adds: summary.root.subtree_op_mult_adds(),
            input_bytes: summary.inputs.iter().map(|v| v.bytes()).sum(),
            activations: None,
            torchinfo_param_bytes: None,
        };
        let mut dtypes: BTreeMap<DType, u64> = BTreeMap::new();
        let mut kinds: BTreeMap<LayerKind, (u64, usize)> = BTreeMap::new();
        let roles = role::classify(&summary.root);
        let mut by_role: BTreeMap<Role, RoleShare> = BTreeMap::new();

        for (_, node) in &nodes {
            for p in &node.parameters {
                if p.is_tied() {
                    t.tied_tensors += 1;
                    t.tied_params += p.numel();
                    continue;
                }
                let n = p.numel();
                t.params += n;
                if p.constant {
                    t.frozen_constants += n;
                    t.frozen_constant_tensors += 1;
                }
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
            let role = roles.of(&node.path);
            let share = by_role.entry(role).or_insert(RoleShare {
                role,
                params: 0,
                layers: 0,
                op_mult_adds: None,
            });
            // A module that ran without a counted operator (a norm, a ReLU) measured 0; one that
            // was not measured leaves its role's count unknown unless another module measured it.
            if let Some(m) = node.op_mult_adds.or(node.outputs.as_ref().map(|_| 0)) {
                share.op_mult_adds = Some(share.op_mult_adds.unwrap_or(0).saturating_add(m));
            }
            if own > 0 {
                share.params += own;
                share.layers += 1;
                let kind = params_kind(node);
                let entry = kinds.entry(kind).or_default();
                entry.0 += own;
                entry.1 += 1;
                t.largest.push(LayerShare {
                    path: node.path.clone(),
                    type_name: node.type_name.clone(),
                    kind,
                    role,
                    params: own,
                });
            }
        }

        // A role with a module whose calls were not seen has an unknown operator count.
        for (_, node) in nodes.iter().filter(|(_, n)| n.unmeasured) {
            if let Some(share) = by_role.get_mut(&roles.of(&node.path)) {
                share.op_mult_adds = None;
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
        t.by_role = by_role
            .into_values()
            .filter(|r| r.params > 0 || r.op_mult_adds.is_some_and(|m| m > 0))
            .collect();
        // Stable sort keeps tree order among equals, so ties read top to bottom.
        t.largest.sort_by_key(|l| std::cmp::Reverse(l.params));
        t.activations = activations(&summary.root);
        t.torchinfo_param_bytes = t.activations.map(|_| torchinfo_param_bytes(&summary.root));
        // Some layers ran unseen: a sum over the others would pass for the model's, so none is given.
        if summary.partly_measured() {
            t.mult_adds = None;
            t.op_mult_adds = None;
            t.activations = None;
            t.torchinfo_param_bytes = None;
        }
        t
    }

    /// torchinfo's "Estimated Total Size": input + its "Params size" + its "Forward/backward pass size";
    /// `None` without a forward pass. The input is its real bytes (torchinfo adds the Python object
    /// header of each input's storage, 64 B or so, which says nothing about the model).
    pub fn torchinfo_estimated_total_bytes(&self) -> Option<u64> {
        let a = self.activations?;
        Some(
            self.input_bytes
                .saturating_add(self.torchinfo_param_bytes?)
                .saturating_add(a.torchinfo_bytes),
        )
    }

    /// Share of all parameters, in percent; 0 for a model without parameters.
    pub fn percent(&self, params: u64) -> f64 {
        if self.params == 0 {
            0.0
        } else {
            params as f64 * 100.0 / self.params as f64
        }
    }

    pub fn role_params(&self, role: Role) -> u64 {
        self.by_role
            .iter()
            .find(|r| r.role == role)
            .map_or(0, |r| r.params)
    }

    /// Shares of all operator mult-adds, in percent; 0 when none were counted.
    pub fn op_percent(&self, mult_adds: u64) -> f64 {
        match self.op_mult_adds {
            Some(total) if total > 0 => mult_adds as f64 * 100.0 / total as f64,
            _ => 0.0,
        }
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
    // Activations are the leaf layers' outputs: with none of them measured (only the model's overall
    // output, as from an unrecorded VarStore) they are unknown, not 0 B.
    if nodes
        .iter()
        .all(|(_, n)| !n.is_leaf() || n.outputs.is_none())
    {
        return None;
    }
    let mut a = Activations {
        torchinfo_bytes: 0,
        leaf_output_bytes: 0,
        largest_output_bytes: 0,
    };
    for (_, node) in nodes {
        // Every call of a module the forward calls more than once leaves its own output behind.
        for call in node.calls() {
            let bytes: u64 = call.iter().map(|o| o.bytes()).sum();
            a.largest_output_bytes = a.largest_output_bytes.max(bytes);
            if node.is_leaf() {
                a.leaf_output_bytes += bytes;
                // torchinfo sizes a tuple output (an LSTM's `out, (h, c)`) by its first tensor alone,
                // and counts a layer whose only weight is tied to another's (it has parameters).
                if torchinfo_layer_params(node).0 > 0 {
                    a.torchinfo_bytes += 2 * call.first().map_or(0, |o| o.bytes());
                }
            }
        }
    }
    Some(a)
}

/// A layer's parameters as torchinfo counts them (`module.named_parameters()`): every parameter it
/// holds, a weight tied to another module's included (torchinfo charges it in both), one tied to a
/// tensor of this same module not (`named_parameters` yields a tensor once); with their bytes.
pub fn torchinfo_layer_params(node: &ModuleNode) -> (u64, u64) {
    let own_module = |owner: &str| owner.rsplit_once('.').map_or("", |(m, _)| m) == node.path;
    node.parameters
        .iter()
        .filter(|p| !p.tied_to.as_deref().is_some_and(own_module))
        .fold((0, 0), |(n, b), p| {
            (n.saturating_add(p.numel()), b.saturating_add(p.bytes()))
        })
}

/// torchinfo's "Params size": it adds `param_bytes` of leaf layers only, and only of those its hooks saw
/// run, so a parameter held by a container (a positional embedding on the root, MultiheadAttention's
/// `in_proj_weight`) or by a layer whose forward is never called (MultiheadAttention's `out_proj`, used
/// through its weight) is left out; a layer called twice counts once.
fn torchinfo_param_bytes(root: &ModuleNode) -> u64 {
    root.walk()
        .into_iter()
        .filter(|(_, n)| n.is_leaf() && n.outputs.is_some())
        .map(|(_, n)| torchinfo_layer_params(n).1)
        .fold(0, u64::saturating_add)
}
