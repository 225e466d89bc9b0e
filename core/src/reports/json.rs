//! JSON output, schema `tchinfo/summary` version 1 (documented in docs/json-schema.md).
//!
//! It carries every number the table shows, unrounded, plus full module paths and qualified class names.
//! Sizes are bytes; shares are fractions (0..1), not percentages.

use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::head::find_head;
use crate::summary::{ModelSummary, ModuleNode, SourceKind, TensorRecord, TensorValue, Totals};
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct TensorJson {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: &'static str,
    pub numel: u64,
    pub bytes: u64,
    pub requires_grad: bool,
    pub tied_to: Option<String>,
}

impl From<&TensorRecord> for TensorJson {
    fn from(t: &TensorRecord) -> Self {
        TensorJson {
            name: t.name.clone(),
            shape: t.shape.clone(),
            dtype: t.dtype.name(),
            numel: t.numel(),
            bytes: t.bytes(),
            requires_grad: t.requires_grad,
            tied_to: t.tied_to.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct ValueJson {
    pub shape: Vec<u64>,
    pub dtype: &'static str,
    pub bytes: u64,
}

impl From<&TensorValue> for ValueJson {
    fn from(v: &TensorValue) -> Self {
        ValueJson {
            shape: v.shape.clone(),
            dtype: v.dtype.name(),
            bytes: v.bytes(),
        }
    }
}

#[derive(Serialize)]
pub struct ModuleJson {
    pub path: String,
    pub name: String,
    pub depth: usize,
    /// torchinfo's "depth-idx" index among all modules at this depth.
    pub index: usize,
    #[serde(rename = "type")]
    pub type_name: String,
    pub qualified_type: Option<String>,
    pub kind: &'static str,
    pub paper_name: Option<String>,
    pub parameters: Vec<TensorJson>,
    pub buffers: Vec<TensorJson>,
    pub own_params: u64,
    pub subtree_params: u64,
    pub subtree_trainable_params: u64,
    pub share_of_params: f64,
    pub outputs: Option<Vec<ValueJson>>,
    /// Calls of it whose outputs are known: every call for built-ins and scripted files; a traced
    /// module's call whose output could not be attributed is not counted (0 also without a forward).
    pub calls: usize,
    /// What the second and later calls returned, in call order (a ResNet block's shared `relu`).
    pub repeat_outputs: Vec<Vec<ValueJson>>,
    pub mult_adds: Option<u64>,
    pub subtree_mult_adds: Option<u64>,
    pub op_mult_adds: Option<u64>,
    pub children: Vec<String>,
}

#[derive(Serialize)]
pub struct KindJson {
    pub kind: &'static str,
    pub params: u64,
    pub share: f64,
    pub layers: usize,
}

#[derive(Serialize)]
pub struct LayerJson {
    pub path: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub paper_name: Option<String>,
    pub params: u64,
    pub share: f64,
}

#[derive(Serialize)]
pub struct HeadJson {
    pub description: String,
    pub linear_layers: Vec<String>,
    pub params: u64,
    pub share: f64,
}

#[derive(Serialize)]
pub struct TotalsJson {
    pub params: u64,
    pub trainable_params: u64,
    pub non_trainable_params: u64,
    pub tied_tensors: usize,
    pub tied_params: u64,
    pub param_bytes: u64,
    pub params_by_dtype: BTreeMap<&'static str, u64>,
    pub buffers: u64,
    pub buffer_bytes: u64,
    pub mult_adds: Option<u64>,
    pub op_mult_adds: Option<u64>,
    pub input_bytes: u64,
}

#[derive(Serialize)]
pub struct ActivationsJson {
    pub batch_size: Option<u64>,
    pub torchinfo_forward_backward_bytes: u64,
    pub leaf_output_bytes: u64,
    pub largest_output_bytes: u64,
    /// torchinfo's "Params size": bytes of the parameters of the leaf layers that ran.
    pub torchinfo_params_bytes: u64,
    pub torchinfo_estimated_total_bytes: u64,
}

#[derive(Serialize)]
pub struct MemoryJson {
    /// `None` (null) only when the figure overflows 64 bits.
    pub weights_float32_bytes: Option<u64>,
    pub weights_stored_bytes: u64,
    pub buffers_stored_bytes: u64,
    /// Gradients and optimizer state count trainable parameters only; null on overflow, as above.
    pub adam_weights_momentum_variance_bytes: Option<u64>,
    pub adam_with_gradients_bytes: Option<u64>,
    pub mixed_precision_adam_bytes: Option<u64>,
    pub activations: Option<ActivationsJson>,
}

#[derive(Serialize)]
pub struct RedundantBiasJson {
    /// `data_flow` or `module_order`.
    pub evidence: &'static str,
    pub wasted_params: u64,
    /// Paths of the layers whose bias feeds a BatchNorm, each with the BatchNorm it feeds.
    pub layers: Vec<(String, String)>,
}

#[derive(Serialize)]
pub struct SummaryJson {
    pub schema: &'static str,
    pub schema_version: u32,
    pub tchinfo_version: &'static str,
    pub model: String,
    pub source: &'static str,
    pub root_type: String,
    pub inputs: Vec<ValueJson>,
    pub totals: TotalsJson,
    pub params_by_kind: Vec<KindJson>,
    pub largest_layers: Vec<LayerJson>,
    pub head: HeadJson,
    pub memory: MemoryJson,
    pub redundant_biases: RedundantBiasJson,
    /// Every module in pre-order; left out of `tchinfo/compare` documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<ModuleJson>>,
    pub notes: Vec<String>,
}

pub fn source_name(s: &SourceKind) -> &'static str {
    match s {
        SourceKind::Builtin => "builtin",
        SourceKind::TorchScript => "torchscript",
        SourceKind::StateDict => "state_dict",
        SourceKind::VarStore => "varstore",
        SourceKind::ExportedProgram => "torch_export",
        SourceKind::Onnx => "onnx",
    }
}

fn share(totals: &Totals, n: u64) -> f64 {
    totals.percent(n) / 100.0
}

fn modules(summary: &ModelSummary, totals: &Totals) -> Vec<ModuleJson> {
    let names = paper_names(summary);
    summary
        .root
        .walk_indexed()
        .into_iter()
        .map(|(depth, index, node)| {
            module(node, depth, index, totals, names.get(&node.path).cloned())
        })
        .collect()
}

fn module(
    node: &ModuleNode,
    depth: usize,
    index: usize,
    totals: &Totals,
    paper: Option<String>,
) -> ModuleJson {
    ModuleJson {
        path: node.path.clone(),
        name: node.name.clone(),
        depth,
        index,
        type_name: node.type_name.clone(),
        qualified_type: node.qualified_type.clone(),
        kind: node.kind.name(),
        paper_name: paper,
        parameters: node.parameters.iter().map(TensorJson::from).collect(),
        buffers: node.buffers.iter().map(TensorJson::from).collect(),
        own_params: node.own_params(),
        subtree_params: node.subtree_params(),
        subtree_trainable_params: node.subtree_trainable_params(),
        share_of_params: share(totals, node.subtree_params()),
        outputs: node
            .outputs
            .as_ref()
            .map(|o| o.iter().map(ValueJson::from).collect()),
        calls: node.calls().count(),
        repeat_outputs: node
            .repeat_outputs
            .iter()
            .map(|call| call.iter().map(ValueJson::from).collect())
            .collect(),
        mult_adds: node.mult_adds,
        subtree_mult_adds: node.subtree_mult_adds(),
        op_mult_adds: node.op_mult_adds,
        children: node.children.iter().map(|c| c.path.clone()).collect(),
    }
}

/// The JSON document for one summary.
pub fn summary_json(summary: &ModelSummary) -> SummaryJson {
    let totals = summary.totals();
    let names = paper_names(summary);
    let fp32 = memory::training_of(
        totals.params,
        totals.trainable,
        Precision::Full(DType::Float32),
        Optimizer::Adam,
    );
    let mixed = memory::training_of(
        totals.params,
        totals.trainable,
        Precision::Mixed(DType::Float16),
        Optimizer::Adam,
    );
    let head = find_head(&summary.root);
    let batch = summary
        .inputs
        .first()
        .and_then(|i| i.shape.first())
        .copied();
    SummaryJson {
        schema: "tchinfo/summary",
        schema_version: SCHEMA_VERSION,
        tchinfo_version: env!("CARGO_PKG_VERSION"),
        model: summary.name.clone(),
        source: source_name(&summary.source),
        root_type: summary.root.type_name.clone(),
        inputs: summary.inputs.iter().map(ValueJson::from).collect(),
        totals: TotalsJson {
            params: totals.params,
            trainable_params: totals.trainable,
            non_trainable_params: totals.non_trainable,
            tied_tensors: totals.tied_tensors,
            tied_params: totals.tied_params,
            param_bytes: totals.param_bytes,
            params_by_dtype: totals
                .param_dtypes
                .iter()
                .map(|(d, n)| (d.name(), *n))
                .collect(),
            buffers: totals.buffers,
            buffer_bytes: totals.buffer_bytes,
            mult_adds: totals.mult_adds,
            op_mult_adds: totals.op_mult_adds,
            input_bytes: totals.input_bytes,
        },
        params_by_kind: totals
            .by_kind
            .iter()
            .map(|k| KindJson {
                kind: k.kind.name(),
                params: k.params,
                share: share(&totals, k.params),
                layers: k.layers,
            })
            .collect(),
        largest_layers: totals
            .largest
            .iter()
            .take(10)
            .map(|l| LayerJson {
                path: l.path.clone(),
                type_name: l.type_name.clone(),
                paper_name: names.get(&l.path).cloned(),
                params: l.params,
                share: share(&totals, l.params),
            })
            .collect(),
        head: HeadJson {
            description: head.describe(),
            linear_layers: head.linear_layers.clone(),
            params: head.params,
            share: share(&totals, head.params),
        },
        memory: MemoryJson {
            weights_float32_bytes: fp32.weights,
            weights_stored_bytes: totals.param_bytes,
            buffers_stored_bytes: totals.buffer_bytes,
            adam_weights_momentum_variance_bytes: fp32.without_gradients(),
            adam_with_gradients_bytes: fp32.total(),
            mixed_precision_adam_bytes: mixed.total(),
            activations: totals.activations.map(|a| ActivationsJson {
                batch_size: batch,
                torchinfo_forward_backward_bytes: a.torchinfo_bytes,
                leaf_output_bytes: a.leaf_output_bytes,
                largest_output_bytes: a.largest_output_bytes,
                torchinfo_params_bytes: totals.torchinfo_param_bytes.unwrap_or(0),
                torchinfo_estimated_total_bytes: totals
                    .torchinfo_estimated_total_bytes()
                    .unwrap_or(0),
            }),
        },
        redundant_biases: {
            let r = crate::summary::lint::redundant_biases(summary);
            RedundantBiasJson {
                evidence: super::lint::evidence_key(r.evidence),
                wasted_params: r.wasted_params(),
                layers: r
                    .findings
                    .iter()
                    .map(|f| (f.layer.clone(), f.norm.clone()))
                    .collect(),
            }
        },
        modules: Some(modules(summary, &totals)),
        notes: summary.notes.clone(),
    }
}

/// Pretty JSON with a trailing newline.
pub fn to_string<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("report structs always serialize");
    s.push('\n');
    s
}
