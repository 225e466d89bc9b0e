//! The pieces every family's tree is made of: a module node at a path, with its own parameters and
//! buffers and, for a forward pass, its output and the mult-adds of its own operators — the same facts a
//! module built with tch and run once leaves behind.

use super::Tokens;
use crate::dtype::DType;
use crate::summary::{LayerKind, ModuleNode, TensorRecord, TensorValue};

pub(super) const EMBEDDING: &str = "torch.nn.modules.sparse.Embedding";
pub(super) const LINEAR: &str = "torch.nn.modules.linear.Linear";
pub(super) const LAYER_NORM: &str = "torch.nn.modules.normalization.LayerNorm";
pub(super) const DROPOUT: &str = "torch.nn.modules.dropout.Dropout";
pub(super) const MODULE_LIST: &str = "torch.nn.modules.container.ModuleList";
pub(super) const TANH: &str = "torch.nn.modules.activation.Tanh";
/// transformers' `Conv1D`: a Linear whose weight is stored (in, out).
pub(super) const CONV1D: &str = "transformers.pytorch_utils.Conv1D";

/// `parent.name`, or `name` at the root.
pub(super) fn join(parent: &str, name: impl std::fmt::Display) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// What every module of one tree shares: the forward pass it describes (if any) and the dtype of the
/// parameters and hidden states.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cx {
    pub(super) t: Option<Tokens>,
    pub(super) dtype: DType,
}

/// The module at `path` of class `class` (fully qualified), with these children in registration order.
/// A module with children is a container until it gets parameters of its own, as the tch-built tree
/// marks it.
pub(super) fn module(path: &str, class: &str, children: Vec<ModuleNode>) -> ModuleNode {
    let name = path.rsplit('.').next().unwrap_or(path);
    let type_name = class.rsplit('.').next().unwrap_or(class);
    let mut n = ModuleNode::new(name, path, type_name);
    n.qualified_type = Some(class.to_string());
    if !children.is_empty() {
        n.kind = LayerKind::Container;
    }
    n.children = children;
    n
}

pub(super) fn buffer(mut n: ModuleNode, name: &str, shape: &[u64], dtype: DType) -> ModuleNode {
    n.buffers
        .push(TensorRecord::new(name, shape.to_vec(), dtype, false));
    n
}

fn numel(shape: &[u64]) -> u64 {
    crate::summary::numel(shape)
}

/// `lead × (in → out)`: each output element is one dot product of length `in`.
fn product_mult_adds(lead: &[u64], inputs: u64, outputs: u64) -> u64 {
    numel(lead).saturating_mul(inputs).saturating_mul(outputs)
}

fn with_last(lead: &[u64], last: u64) -> Vec<u64> {
    let mut s = lead.to_vec();
    s.push(last);
    s
}

impl Cx {
    /// A shape for the forward pass, or none when no forward pass is described.
    pub(super) fn shape(self, f: impl FnOnce(Tokens) -> Vec<u64>) -> Option<Vec<u64>> {
        self.t.map(f)
    }

    /// A trainable parameter in the model's dtype.
    pub(super) fn param(self, mut n: ModuleNode, name: &str, shape: &[u64]) -> ModuleNode {
        n.parameters
            .push(TensorRecord::new(name, shape.to_vec(), self.dtype, true));
        if n.kind == LayerKind::Container {
            n.kind = LayerKind::from_type_name(&n.type_name);
        }
        n
    }

    /// One call that returned a tensor of shape `out` in the model's dtype (nothing when the module is
    /// not called or no forward pass is described), its own operators costing `op_mult_adds`.
    pub(super) fn called(
        self,
        mut n: ModuleNode,
        out: Option<Vec<u64>>,
        op_mult_adds: Option<u64>,
    ) -> ModuleNode {
        if let Some(shape) = out {
            n.outputs = Some(vec![TensorValue {
                shape,
                dtype: self.dtype,
            }]);
            n.op_mult_adds = op_mult_adds;
        }
        n
    }

    /// One call that returned several tensors (a rotary embedding's cos and sin, a router's logits,
    /// weights and choices).
    pub(super) fn called_many(
        self,
        mut n: ModuleNode,
        outs: Option<Vec<TensorValue>>,
        op_mult_adds: Option<u64>,
    ) -> ModuleNode {
        if let Some(outs) = outs {
            n.outputs = Some(outs);
            n.op_mult_adds = op_mult_adds;
        }
        n
    }

    /// A tensor of the model's dtype.
    pub(super) fn value(self, shape: Vec<u64>) -> TensorValue {
        TensorValue {
            shape,
            dtype: self.dtype,
        }
    }

    /// `nn.Linear(in, out, bias)` applied to an input whose leading dimensions are `lead`.
    pub(super) fn linear(
        self,
        path: &str,
        inputs: u64,
        outputs: u64,
        bias: bool,
        lead: Option<&[u64]>,
    ) -> ModuleNode {
        let mut n = self.param(module(path, LINEAR, vec![]), "weight", &[outputs, inputs]);
        if bias {
            n = self.param(n, "bias", &[outputs]);
        }
        self.called(
            n,
            lead.map(|l| with_last(l, outputs)),
            lead.map(|l| product_mult_adds(l, inputs, outputs)),
        )
    }

    /// transformers' `Conv1D(out, in)`: weight (in, out) and a bias.
    pub(super) fn conv1d(
        self,
        path: &str,
        inputs: u64,
        outputs: u64,
        lead: Option<&[u64]>,
    ) -> ModuleNode {
        let n = self.param(module(path, CONV1D, vec![]), "weight", &[inputs, outputs]);
        let n = self.param(n, "bias", &[outputs]);
        self.called(
            n,
            lead.map(|l| with_last(l, outputs)),
            lead.map(|l| product_mult_adds(l, inputs, outputs)),
        )
    }

    /// `nn.Embedding(rows, dim)` looked up with indices of shape `indices`.
    pub(super) fn embedding(
        self,
        path: &str,
        rows: u64,
        dim: u64,
        indices: Option<&[u64]>,
    ) -> ModuleNode {
        let n = self.param(module(path, EMBEDDING, vec![]), "weight", &[rows, dim]);
        self.called(n, indices.map(|i| with_last(i, dim)), None)
    }

    pub(super) fn layer_norm(self, path: &str, dim: u64, out: Option<Vec<u64>>) -> ModuleNode {
        let n = self.param(module(path, LAYER_NORM, vec![]), "weight", &[dim]);
        self.called(self.param(n, "bias", &[dim]), out, None)
    }

    /// A parameter-free leaf (activation, dropout) of class `class`.
    pub(super) fn leaf(self, path: &str, class: &str, out: Option<Vec<u64>>) -> ModuleNode {
        self.called(module(path, class, vec![]), out, None)
    }
}

/// Scaled dot-product attention: scores and weighted values, each `queries × keys × head_dim` per
/// batch element and query head (grouped key/value heads are shared, not fewer products).
pub(super) fn attention_mult_adds(t: Tokens, heads: u64, head_dim: u64) -> u64 {
    [t.batch, heads, t.seq, t.seq, head_dim, 2]
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d))
}
