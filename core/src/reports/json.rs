//! JSON output, schema `tchinfo/summary` version 1 (documented in docs/json-schema.md).
//!
//! It carries every number the table shows, unrounded, plus full module paths and qualified class names.
//! Sizes are bytes; shares are fractions (0..1), not percentages.

use super::vgg_names::paper_names;
use crate::dtype::DType;
use crate::memory::{self, Optimizer, Precision};
use crate::summary::head::find_head;
use crate::summary::role::{self, Roles};
use crate::summary::{
    Architecture, ModelSummary, ModuleNode, SourceKind, TensorRecord, TensorValue, Totals,
};
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
    /// A constant of a frozen model's code (torch.jit.freeze), counted as a frozen parameter.
    pub constant: bool,
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
            constant: t.constant,
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
    /// Where its parameters sit: `embedding`, `attention`, `feed_forward`, `experts`, … (role::classify).
    pub role: &'static str,
    pub paper_name: Option<String>,
    pub parameters: Vec<TensorJson>,
    pub buffers: Vec<TensorJson>,
    pub own_params: u64,
    pub subtree_params: u64,
    pub subtree_trainable_params: u64,
    pub share_of_params: f64,
    pub outputs: Option<Vec<ValueJson>>,
    /// Calls of it whose outputs are known: every call for built-ins and scripted files; a traced
    /// module's call whose output could not be attributed is not counted. `null` when its calls were
    /// not observed: no forward pass ran, or it is a tch layer that was not recorded.
    pub calls: Option<usize>,
    /// What the second and later calls returned, in call order (a ResNet block's shared `relu`).
    pub repeat_outputs: Vec<Vec<ValueJson>>,
    pub mult_adds: Option<u64>,
    pub subtree_mult_adds: Option<u64>,
    pub op_mult_adds: Option<u64>,
    pub subtree_op_mult_adds: Option<u64>,
    pub children: Vec<String>,
}

#[derive(Serialize)]
pub struct RoleJson {
    pub role: &'static str,
    /// As the table names it: `Feed-forward`, `Experts and router`.
    pub name: &'static str,
    pub params: u64,
    pub share: f64,
    pub layers: usize,
    pub op_mult_adds: Option<u64>,
    /// Share of all operator mult-adds; `null` when none were measured.
    pub op_mult_adds_share: Option<f64>,
}

#[derive(Serialize)]
pub struct TiedJson {
    pub parameter: String,
    pub tied_to: String,
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
    pub role: &'static str,
    pub paper_name: Option<String>,
    pub params: u64,
    pub share: f64,
}

#[derive(Serialize)]
pub struct HeadJson {
    pub kind: &'static str,
    pub description: String,
    pub linear_layers: Vec<String>,
    /// Head parameters tied to another tensor, counted once where it was first seen.
    pub tied: Vec<TiedJson>,
    pub params: u64,
    pub share: f64,
}

#[derive(Serialize)]
pub struct TotalsJson {
    pub params: u64,
    pub trainable_params: u64,
    pub non_trainable_params: u64,
    /// Parameters that are constants of a frozen model's code; included in `params`.
    pub frozen_constant_params: u64,
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
    pub params_by_role: Vec<RoleJson>,
    pub largest_layers: Vec<LayerJson>,
    pub head: HeadJson,
    pub memory: MemoryJson,
    pub redundant_biases: RedundantBiasJson,
    /// The architecture as the model's own description states it (`config.json`, GGUF keys); null
    /// when the source has none.
    pub architecture: Option<ArchitectureJson>,
    /// Key/values the file carries (safetensors' `__metadata__`, GGUF's metadata), in file order.
    pub file_metadata: Vec<MetadataJson>,
    /// Every module in pre-order; left out of `tchinfo/compare` documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<ModuleJson>>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct ArchitectureJson {
    pub described_by: String,
    pub model_type: Option<String>,
    pub architectures: Vec<String>,
    pub layers: Option<u64>,
    pub encoder_layers: Option<u64>,
    pub decoder_layers: Option<u64>,
    pub hidden_size: Option<u64>,
    pub intermediate_size: Option<u64>,
    pub attention_heads: Option<u64>,
    pub kv_heads: Option<u64>,
    pub head_dim: Option<u64>,
    pub vocab_size: Option<u64>,
    pub context_length: Option<u64>,
    pub experts: Option<u64>,
    pub experts_per_token: Option<u64>,
    pub tie_word_embeddings: Option<bool>,
    pub dtype: Option<String>,
    pub quantization: Option<String>,
}

impl From<&Architecture> for ArchitectureJson {
    fn from(a: &Architecture) -> Self {
        ArchitectureJson {
            described_by: a.described_by.clone(),
            model_type: a.model_type.clone(),
            architectures: a.architectures.clone(),
            layers: a.layers,
            encoder_layers: a.encoder_layers,
            decoder_layers: a.decoder_layers,
            hidden_size: a.hidden_size,
            intermediate_size: a.intermediate_size,
            attention_heads: a.attention_heads,
            kv_heads: a.kv_heads,
            head_dim: a.head_dim,
            vocab_size: a.vocab_size,
            context_length: a.context_length,
            experts: a.experts,
            experts_per_token: a.experts_per_token,
            tie_word_embeddings: a.tie_word_embeddings,
            dtype: a.dtype.clone(),
            quantization: a.quantization.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct MetadataJson {
    pub key: String,
    pub value: String,
}

pub fn source_name(s: &SourceKind) -> &'static str {
    match s {
        SourceKind::Builtin => "builtin",
        SourceKind::Architecture => "architecture",
        SourceKind::TorchScript => "torchscript",
        SourceKind::StateDict => "state_dict",
        SourceKind::VarStore => "varstore",
        SourceKind::Safetensors => "safetensors",
        SourceKind::Gguf => "gguf",
        SourceKind::PickledModule => "pickled_module",
        SourceKind::ExportedProgram => "torch_export",
        SourceKind::Onnx => "onnx",
    }
}

fn share(totals: &Totals, n: u64) -> f64 {
    totals.percent(n) / 100.0
}

fn modules(summary: &ModelSummary, totals: &Totals) -> Vec<ModuleJson> {
    let names = paper_names(summary);
    let roles = role::classify(&summary.root);
    summary
        .root
        .walk_indexed()
        .into_iter()
        .map(|(depth, index, node)| {
            module(
                summary,
                node,
                depth,
                index,
                totals,
                &roles,
                names.get(&node.path).cloned(),
            )
        })
        .collect()
}

fn module(
    summary: &ModelSummary,
    node: &ModuleNode,
    depth: usize,
    index: usize,
    totals: &Totals,
    roles: &Roles,
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
        role: roles.of(&node.path).key(),
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
        calls: node.calls_known(summary).then(|| node.calls().count()),
        repeat_outputs: node
            .repeat_outputs
            .iter()
            .map(|call| call.iter().map(ValueJson::from).collect())
            .collect(),
        mult_adds: node.mult_adds,
        subtree_mult_adds: node.subtree_mult_adds(),
        op_mult_adds: node.op_mult_adds,
        subtree_op_mult_adds: node.subtree_op_mult_adds(),
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
            frozen_constant_params: totals.frozen_constants,
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
        params_by_role: totals
            .by_role
            .iter()
            .map(|r| RoleJson {
                role: r.role.key(),
                name: r.role.name(),
                params: r.params,
                share: share(&totals, r.params),
                layers: r.layers,
                op_mult_adds: r.op_mult_adds,
                op_mult_adds_share: totals
                    .op_mult_adds
                    .and(r.op_mult_adds)
                    .map(|m| totals.op_percent(m) / 100.0),
            })
            .collect(),
        largest_layers: totals
            .largest
            .iter()
            .take(10)
            .map(|l| LayerJson {
                path: l.path.clone(),
                type_name: l.type_name.clone(),
                role: l.role.key(),
                paper_name: names.get(&l.path).cloned(),
                params: l.params,
                share: share(&totals, l.params),
            })
            .collect(),
        head: HeadJson {
            kind: head.kind.key(),
            description: head.describe(),
            linear_layers: head.linear_layers.clone(),
            tied: head
                .tied
                .iter()
                .map(|(parameter, tied_to)| TiedJson {
                    parameter: parameter.clone(),
                    tied_to: tied_to.clone(),
                })
                .collect(),
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
        architecture: summary.architecture.as_ref().map(ArchitectureJson::from),
        file_metadata: summary
            .file_metadata
            .iter()
            .map(|(k, v)| MetadataJson {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        modules: Some(modules(summary, &totals)),
        notes: summary.notes.clone(),
    }
}

/// Pretty JSON with a trailing newline. Names keep their full text, but every character a terminal
/// would act on or hide ([`crate::text::is_unsafe`]: escape sequences, bidi overrides) is written as a
/// `\uXXXX` escape, which JSON readers decode to the same string: the document stays exact and safe
/// to print.
pub fn to_string<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter::default());
    value
        .serialize(&mut ser)
        .expect("report structs always serialize");
    let mut s = String::from_utf8(out).expect("serde_json writes UTF-8");
    s.push('\n');
    s
}

/// serde_json's pretty layout, with [`crate::text::is_unsafe`] characters escaped in strings (serde_json
/// escapes only quotes, backslashes and C0 controls).
#[derive(Default)]
struct SafeFormatter(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest
            .char_indices()
            .find(|(_, c)| crate::text::is_unsafe(*c))
        {
            writer.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}
