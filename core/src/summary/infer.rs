//! A module tree from tensors known only by their dotted names (`layer1.0.bn1.running_mean`), with each
//! module's class guessed from the names and shapes of the tensors it owns.
//!
//! Used where no class information exists: `torch.save` state dicts, safetensors and GGUF files, and
//! `tch` `VarStore`s. The guesses are the usual PyTorch and Hugging Face layouts:
//! - a 4-D `weight` is a `Conv2d` (3-D `Conv1d`, 5-D `Conv3d`), unless it is a bank of MoE experts
//!   (`experts`, GGUF's `ffn_*_exps`): then the module is `Experts`;
//! - a 2-D `weight` is a `Linear`; an `Embedding` when it has no bias and the module's name says so
//!   (`embed_tokens`, `wte`, `wpe`, `shared`, `word_embeddings`, `tok_embeddings`, `token_embd` …);
//!   Hugging Face's `Conv1D` (GPT-2's `c_attn`, `c_proj`, `c_fc`) when its bias matches the weight's
//!   second dimension: a Linear whose weight is stored transposed, `[in, out]`;
//! - a 1-D `weight` is a norm: `LayerNorm` with a bias, `RMSNorm` without one when the name says norm
//!   (`norm`, `ln_*`, `layernorm`, `layer_norm`); `GroupNorm` by name;
//! - `running_mean`/`running_var` make a `BatchNorm`, `in_proj_weight` a `MultiheadAttention`,
//!   `weight_ih_l0` an `LSTM`/`GRU`/`RNN` by its gate count;
//! - a dynamic-quantized layer's packed weights (`_packed_params._packed_params.0`, an LSTM's
//!   `_all_weight_values.0.param.weight_ih`) stay with the layer that owns them: a `Linear`, `LSTM` or
//!   `GRU`.
//!
//! A summary built this way should carry [`TYPES_INFERRED_NOTE`].

use super::{LayerKind, ModuleNode, TensorRecord};
use crate::dtype::DType;
use std::cmp::Ordering;
use std::collections::HashMap;

/// What a summary built from names alone says about itself.
pub const TYPES_INFERRED_NOTE: &str =
    "module types were inferred from tensor names and shapes (no class names were recorded)";

/// Deeper names keep their remaining segments in the tensor's own name, so hostile names cannot nest
/// the tree without bound.
pub const MAX_DEPTH: usize = 64;

/// Segments under which a quantized layer keeps its packed weights: everything from them on is the
/// tensor's name within the layer, not a module of its own.
const PACKED_SEGMENTS: [&str; 2] = ["_packed_params", "_all_weight_values"];

/// A tensor known by its full dotted name.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub requires_grad: bool,
}

/// Buffer names PyTorch's own layers use; any tensor of an integer or boolean dtype is a buffer too,
/// since parameters must be floating point (or quantized).
pub fn is_buffer(local_name: &str, dtype: DType) -> bool {
    matches!(
        local_name,
        "running_mean" | "running_var" | "num_batches_tracked"
    ) || !dtype.holds_parameters()
}

/// Whether a tensor's local name is one of a dynamic-quantized layer's packed weights.
pub fn is_packed(local_name: &str) -> bool {
    PACKED_SEGMENTS
        .iter()
        .any(|s| local_name.starts_with(s) && local_name[s.len()..].starts_with('.'))
}

/// Whether a full dotted name holds a dynamic-quantized layer's packed weights.
pub fn is_packed_name(name: &str) -> bool {
    name.split('.').any(|s| PACKED_SEGMENTS.contains(&s))
}

/// How many of a name's segments are modules: all but the last, at most [`MAX_DEPTH`], and none from
/// a packed-weights segment on.
pub fn module_depth(segments: &[&str]) -> usize {
    let packed = segments
        .iter()
        .position(|s| PACKED_SEGMENTS.contains(s))
        .filter(|&at| at + 1 < segments.len());
    packed
        .unwrap_or(segments.len().saturating_sub(1))
        .min(MAX_DEPTH)
}

/// Builds the tree, modules in the order their first tensor appears. `root_type` names the root when it
/// is a plain container (a state dict's model has no class name to show).
pub fn tree_from_named_tensors(
    root_type: &str,
    tensors: impl IntoIterator<Item = NamedTensor>,
) -> ModuleNode {
    let mut drafts = vec![Draft::new(String::new(), String::new())];
    let mut by_path: HashMap<String, usize> = HashMap::new();
    for t in tensors {
        let segments: Vec<&str> = t.name.split('.').collect();
        let module_depth = module_depth(&segments);
        let local = segments[module_depth..].join(".");
        let mut at = 0;
        let mut path = String::new();
        for seg in &segments[..module_depth] {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(seg);
            at = match by_path.get(&path) {
                Some(&i) => i,
                None => {
                    let i = drafts.len();
                    drafts.push(Draft::new(seg.to_string(), path.clone()));
                    drafts[at].children.push(i);
                    by_path.insert(path.clone(), i);
                    i
                }
            };
        }
        drafts[at].tensors.push((local, t));
    }
    let mut context = Context::default();
    let mut root = build(&drafts, 0, &mut context);
    if root.parameters.is_empty() && root.buffers.is_empty() {
        root.type_name = root_type.to_string();
        root.kind = LayerKind::from_type_name(root_type);
    }
    settle_container_kinds(&mut root);
    root
}

/// Modules that own no parameters but hold children are containers (Sequential, a ResNet block …),
/// unless their class already says what they are.
pub fn settle_container_kinds(root: &mut ModuleNode) {
    root.visit_mut(&mut |node| {
        if node.kind == LayerKind::Other && node.parameters.is_empty() && !node.children.is_empty()
        {
            node.kind = LayerKind::Container;
        }
    });
}

/// A Linear-like layer's `(in_features, out_features)` from its weight: `[out, in]` for `Linear` and
/// anything else of kind Linear, `[in, out]` for Hugging Face's `Conv1D`, which stores it transposed.
pub fn linear_features(node: &ModuleNode) -> Option<(u64, u64)> {
    if node.kind != LayerKind::Linear {
        return None;
    }
    let weight = node.parameters.iter().find(|p| p.name == "weight")?;
    match (weight.shape.as_slice(), node.type_name == "Conv1D") {
        ([rows, cols], false) => Some((*cols, *rows)),
        ([rows, cols], true) => Some((*rows, *cols)),
        _ => None,
    }
}

/// The order to show tensors in when a file keeps them sorted by name (safetensors, GGUF): the
/// model's reading order as far as names tell it. Segments compare as numbers when both are numbers
/// (`layers.2` before `layers.10`); among siblings, embeddings come first, then an encoder, the rest,
/// a decoder, and an output head last (`lm_head`, GGUF's `output`).
pub fn model_order(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => {
                return reading_rank(x)
                    .cmp(&reading_rank(y))
                    .then_with(|| match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(i), Ok(j)) => i.cmp(&j),
                        _ => x.cmp(y),
                    })
                    .then_with(|| x.cmp(y));
            }
        }
    }
}

/// Where a module name sits among its siblings in reading order.
fn reading_rank(segment: &str) -> u8 {
    let lower = segment.to_ascii_lowercase();
    if is_embedding_name(&lower) || lower == "embeddings" {
        0
    } else if lower.starts_with("encoder") {
        1
    } else if lower.starts_with("decoder") {
        3
    } else if is_head_name(&lower) {
        4
    } else {
        2
    }
}

/// Names of a language model's output projection.
pub fn is_head_name(lower: &str) -> bool {
    matches!(
        lower,
        "lm_head" | "output" | "embed_out" | "proj_out" | "cls" | "vocab_projector"
    )
}

/// Names of embedding tables (lowercase): anything with `emb` in it, and the short names GPT-2 and T5
/// use.
fn is_embedding_name(lower: &str) -> bool {
    lower.contains("emb")
        || matches!(
            lower,
            "wte" | "wpe" | "shared" | "relative_attention_bias" | "tok_embeddings"
        )
}

/// Names of normalization layers (lowercase): `norm`, `layernorm`, `layer_norm`, `ln_1`, `ln_f`, `ln`.
fn is_norm_name(lower: &str) -> bool {
    lower.contains("norm")
        || lower
            .strip_prefix("ln")
            .is_some_and(|rest| rest.starts_with('_') || rest.bytes().all(|b| b.is_ascii_digit()))
}

/// GPT-2's Conv1D layers; a square one has no shape to tell it by.
fn is_gpt2_conv1d_name(lower: &str) -> bool {
    matches!(lower, "c_attn" | "c_proj" | "c_fc" | "q_attn")
}

struct Draft {
    name: String,
    path: String,
    children: Vec<usize>,
    tensors: Vec<(String, NamedTensor)>,
}

impl Draft {
    fn new(name: String, path: String) -> Self {
        Draft {
            name,
            path,
            children: Vec::new(),
            tensors: Vec::new(),
        }
    }
}

/// What the walk has seen so far: a BatchNorm's dimensionality follows the layer before it, and a
/// square GPT-2 projection is a Conv1D once the model has shown one by its shapes.
#[derive(Default)]
struct Context {
    /// Spatial dimensions of the last convolution (1, 2, 3), or 0 after a Linear.
    last_spatial_dims: Option<usize>,
    conv1d_seen: bool,
}

fn build(drafts: &[Draft], i: usize, context: &mut Context) -> ModuleNode {
    let d = &drafts[i];
    // Children named 0, 1, 2 … are what a Sequential (or ModuleList) holds.
    let indexed_children = !d.children.is_empty()
        && d.children.iter().all(|&c| {
            !drafts[c].name.is_empty() && drafts[c].name.bytes().all(|b| b.is_ascii_digit())
        });
    let type_name = infer_type(&d.name, &d.tensors, indexed_children, context);
    let mut node = ModuleNode::new(d.name.clone(), d.path.clone(), type_name);
    // A quantized layer's scale goes with its zero point: quantization state, not a parameter.
    let quantized_layer = d.tensors.iter().any(|(l, _)| l == "zero_point");
    for (local, t) in &d.tensors {
        // Quantized weights and a dynamic-quantized layer's packed ones cannot be trained.
        let frozen = t.dtype.is_quantized() || is_packed(local);
        let record = TensorRecord::new(
            local.clone(),
            t.shape.clone(),
            t.dtype,
            t.requires_grad && !frozen,
        );
        if is_buffer(local, t.dtype) || (quantized_layer && local == "scale") {
            node.buffers.push(TensorRecord {
                requires_grad: false,
                ..record
            });
        } else {
            node.parameters.push(record);
        }
    }
    node.children = d
        .children
        .iter()
        .map(|&c| build(drafts, c, context))
        .collect();
    node
}

fn infer_type(
    name: &str,
    tensors: &[(String, NamedTensor)],
    indexed_children: bool,
    context: &mut Context,
) -> String {
    let shape = |n: &str| {
        tensors
            .iter()
            .find(|(l, _)| l == n)
            .map(|(_, t)| t.shape.as_slice())
    };
    let has = |n: &str| shape(n).is_some();
    let lower = name.to_ascii_lowercase();

    if has("in_proj_weight") || has("q_proj_weight") {
        return "MultiheadAttention".into();
    }
    if let Some(kind) = recurrent(&shape) {
        return kind.into();
    }
    if let Some(kind) = packed_layer(tensors) {
        return kind;
    }
    if has("running_mean") || has("running_var") {
        return match context.last_spatial_dims {
            Some(0) => "BatchNorm1d".into(),
            Some(d @ 1..=3) => format!("BatchNorm{d}d"),
            _ => "BatchNorm".into(),
        };
    }
    let weight = shape("weight");
    let bias = shape("bias");
    // A bank of experts: their weights stacked on a leading expert dimension.
    let experts = lower == "experts" || lower.ends_with("_exps");
    if experts && tensors.iter().any(|(_, t)| t.shape.len() == 3) {
        context.last_spatial_dims = Some(0);
        return "Experts".into();
    }
    match weight.map(<[u64]>::len) {
        Some(rank @ 3..=5) => {
            let d = rank - 2;
            context.last_spatial_dims = Some(d);
            format!("Conv{d}d")
        }
        Some(2) if bias.is_none() && is_embedding_name(&lower) => "Embedding".into(),
        Some(2) => {
            context.last_spatial_dims = Some(0);
            let w = weight.unwrap_or_default();
            let transposed = match bias {
                Some([b]) => *b == w[1] && *b != w[0],
                _ => false,
            };
            let square = w[0] == w[1];
            if transposed || (square && context.conv1d_seen && is_gpt2_conv1d_name(&lower)) {
                context.conv1d_seen = true;
                "Conv1D".into()
            } else {
                "Linear".into()
            }
        }
        Some(1) if lower.contains("group") || lower.starts_with("gn") => "GroupNorm".into(),
        Some(1) if bias.is_some() => "LayerNorm".into(),
        Some(1) if is_norm_name(&lower) => "RMSNorm".into(),
        _ if tensors.is_empty() && indexed_children => "Sequential".into(),
        _ => "Module".into(),
    }
}

/// An RNN by its first layer's weights: gates = `weight_ih` rows over the hidden size.
fn recurrent<'a>(shape: &impl Fn(&str) -> Option<&'a [u64]>) -> Option<&'static str> {
    let (ih, hh) = (shape("weight_ih_l0")?, shape("weight_hh_l0")?);
    Some(gate_kind(ih, hh))
}

fn gate_kind(ih: &[u64], hh: &[u64]) -> &'static str {
    let hidden = hh.get(1).copied().unwrap_or(0);
    let gates = ih
        .first()
        .copied()
        .unwrap_or(0)
        .checked_div(hidden)
        .unwrap_or(0);
    match gates {
        4 => "LSTM",
        3 => "GRU",
        _ => "RNN",
    }
}

/// A dynamic-quantized layer by its packed weights: a Linear's `(weight, bias)` pair, or an RNN's
/// cell parameters (named `…weight_ih`, `…weight_hh` by the state-dict reader).
fn packed_layer(tensors: &[(String, NamedTensor)]) -> Option<String> {
    let packed = |suffix: &str| {
        tensors
            .iter()
            .find(|(l, _)| is_packed(l) && l.ends_with(suffix))
            .map(|(_, t)| t.shape.as_slice())
    };
    if let (Some(ih), Some(hh)) = (packed(".weight_ih"), packed(".weight_hh")) {
        return Some(gate_kind(ih, hh).into());
    }
    tensors
        .iter()
        .any(|(l, _)| l.starts_with("_packed_params."))
        .then(|| "Linear".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[u64]) -> NamedTensor {
        let dtype = if name.ends_with("num_batches_tracked") {
            DType::Int64
        } else {
            DType::Float32
        };
        NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            requires_grad: true,
        }
    }

    fn types(root: &ModuleNode) -> Vec<(String, String)> {
        root.walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
            .collect()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn resnet_like_keys() {
        let root = tree_from_named_tensors(
            "StateDict",
            [
                t("conv1.weight", &[8, 3, 3, 3]),
                t("bn1.weight", &[8]),
                t("bn1.bias", &[8]),
                t("bn1.running_mean", &[8]),
                t("bn1.running_var", &[8]),
                t("bn1.num_batches_tracked", &[]),
                t("layer1.0.conv1.weight", &[8, 8, 3, 3]),
                t("fc.weight", &[10, 16]),
                t("fc.bias", &[10]),
                t("embed.weight", &[100, 16]),
            ],
        );
        assert_eq!(root.type_name, "StateDict");
        assert_eq!(root.kind, LayerKind::Container);
        let expect = [
            ("", "StateDict"),
            ("conv1", "Conv2d"),
            ("bn1", "BatchNorm2d"),
            ("layer1", "Sequential"),
            ("layer1.0", "Module"),
            ("layer1.0.conv1", "Conv2d"),
            ("fc", "Linear"),
            ("embed", "Embedding"),
        ];
        assert_eq!(types(&root), owned(&expect));
        let bn = root.find("bn1").unwrap();
        assert_eq!(bn.parameters.len(), 2);
        assert_eq!(bn.buffers.len(), 3);
        assert_eq!(bn.kind, LayerKind::Normalization);
        assert_eq!(root.find("layer1.0").unwrap().kind, LayerKind::Container);
    }

    #[test]
    fn attention_and_recurrent() {
        let root = tree_from_named_tensors(
            "M",
            [
                t("attn.in_proj_weight", &[96, 32]),
                t("attn.out_proj.weight", &[32, 32]),
                t("lstm.weight_ih_l0", &[64, 8]),
                t("lstm.weight_hh_l0", &[64, 16]),
                t("gru.weight_ih_l0", &[48, 8]),
                t("gru.weight_hh_l0", &[48, 16]),
            ],
        );
        assert_eq!(root.find("attn").unwrap().kind, LayerKind::Attention);
        assert_eq!(root.find("lstm").unwrap().type_name, "LSTM");
        assert_eq!(root.find("gru").unwrap().type_name, "GRU");
    }

    #[test]
    fn a_single_layer_state_dict_is_its_layer() {
        let root = tree_from_named_tensors("StateDict", [t("weight", &[4, 3]), t("bias", &[4])]);
        assert_eq!(root.type_name, "Linear");
        assert_eq!(root.parameters.len(), 2);
    }

    #[test]
    fn deep_names_are_bounded() {
        let name = vec!["a"; 10_000].join(".");
        let root = tree_from_named_tensors("M", [t(&name, &[1])]);
        let depth = root.walk().iter().map(|(d, _)| *d).max().unwrap();
        assert_eq!(depth, MAX_DEPTH);
    }

    /// GPT-2 as Hugging Face names it: Conv1D projections stored `[in, out]`, LayerNorms with biases,
    /// `wte`/`wpe` embeddings.
    #[test]
    fn gpt2_reads_as_embeddings_conv1d_and_layer_norms() {
        let root = tree_from_named_tensors(
            "StateDict",
            [
                t("transformer.wte.weight", &[128, 32]),
                t("transformer.wpe.weight", &[64, 32]),
                t("transformer.h.0.ln_1.weight", &[32]),
                t("transformer.h.0.ln_1.bias", &[32]),
                t("transformer.h.0.attn.c_attn.weight", &[32, 96]),
                t("transformer.h.0.attn.c_attn.bias", &[96]),
                t("transformer.h.0.attn.c_proj.weight", &[32, 32]),
                t("transformer.h.0.attn.c_proj.bias", &[32]),
                t("transformer.h.0.mlp.c_fc.weight", &[32, 128]),
                t("transformer.h.0.mlp.c_fc.bias", &[128]),
                t("transformer.h.0.mlp.c_proj.weight", &[128, 32]),
                t("transformer.h.0.mlp.c_proj.bias", &[32]),
                t("transformer.ln_f.weight", &[32]),
                t("transformer.ln_f.bias", &[32]),
            ],
        );
        let ty = |p: &str| root.find(p).unwrap().type_name.clone();
        assert_eq!(ty("transformer.wte"), "Embedding");
        assert_eq!(ty("transformer.wpe"), "Embedding");
        assert_eq!(ty("transformer.h.0.ln_1"), "LayerNorm");
        assert_eq!(ty("transformer.h.0.attn.c_attn"), "Conv1D");
        // Square: told by the Conv1D before it in the same model.
        assert_eq!(ty("transformer.h.0.attn.c_proj"), "Conv1D");
        assert_eq!(ty("transformer.h.0.mlp.c_fc"), "Conv1D");
        assert_eq!(ty("transformer.h.0.mlp.c_proj"), "Conv1D");
        assert_eq!(ty("transformer.ln_f"), "LayerNorm");
        // A Conv1D is a Linear, its features read from the transposed weight.
        let c_fc = root.find("transformer.h.0.mlp.c_fc").unwrap();
        assert_eq!(c_fc.kind, LayerKind::Linear);
        assert_eq!(linear_features(c_fc), Some((32, 128)));
        let c_proj = root.find("transformer.h.0.mlp.c_proj").unwrap();
        assert_eq!(linear_features(c_proj), Some((128, 32)));
        assert_eq!(
            root.find("transformer.wte").unwrap().kind,
            LayerKind::Embedding
        );
    }

    #[test]
    fn a_square_c_proj_in_a_model_of_linears_stays_linear() {
        // GPT-BigCode names its nn.Linear layers c_attn/c_proj too, stored [out, in].
        let root = tree_from_named_tensors(
            "M",
            [
                t("h.0.attn.c_attn.weight", &[96, 32]),
                t("h.0.attn.c_attn.bias", &[96]),
                t("h.0.attn.c_proj.weight", &[32, 32]),
                t("h.0.attn.c_proj.bias", &[32]),
            ],
        );
        assert_eq!(root.find("h.0.attn.c_attn").unwrap().type_name, "Linear");
        assert_eq!(root.find("h.0.attn.c_proj").unwrap().type_name, "Linear");
        let c_attn = root.find("h.0.attn.c_attn").unwrap();
        assert_eq!(linear_features(c_attn), Some((32, 96)));
    }

    /// Llama as Hugging Face names it, and as GGUF names it.
    #[test]
    fn llama_reads_as_embedding_linears_and_rms_norms() {
        let root = tree_from_named_tensors(
            "StateDict",
            [
                t("model.embed_tokens.weight", &[128, 32]),
                t("model.layers.0.input_layernorm.weight", &[32]),
                t("model.layers.0.self_attn.q_proj.weight", &[32, 32]),
                t("model.layers.0.self_attn.k_proj.weight", &[16, 32]),
                t("model.layers.0.mlp.gate_proj.weight", &[64, 32]),
                t("model.norm.weight", &[32]),
                t("lm_head.weight", &[128, 32]),
            ],
        );
        let expect = [
            ("", "StateDict"),
            ("model", "Module"),
            ("model.embed_tokens", "Embedding"),
            ("model.layers", "Sequential"),
            ("model.layers.0", "Module"),
            ("model.layers.0.input_layernorm", "RMSNorm"),
            ("model.layers.0.self_attn", "Module"),
            ("model.layers.0.self_attn.q_proj", "Linear"),
            ("model.layers.0.self_attn.k_proj", "Linear"),
            ("model.layers.0.mlp", "Module"),
            ("model.layers.0.mlp.gate_proj", "Linear"),
            ("model.norm", "RMSNorm"),
            ("lm_head", "Linear"),
        ];
        assert_eq!(types(&root), owned(&expect));
        let gguf = tree_from_named_tensors(
            "GGUF",
            [
                t("token_embd.weight", &[128, 32]),
                t("blk.0.attn_norm.weight", &[32]),
                t("blk.0.attn_q.weight", &[32, 32]),
                t("blk.0.ffn_gate_inp.weight", &[4, 32]),
                t("blk.0.ffn_gate_exps.weight", &[4, 64, 32]),
                t("blk.0.ffn_down_exps.weight", &[4, 32, 64]),
                t("rope_freqs.weight", &[4]),
                t("output_norm.weight", &[32]),
                t("output.weight", &[128, 32]),
            ],
        );
        let ty = |p: &str| gguf.find(p).unwrap().type_name.clone();
        assert_eq!(ty("token_embd"), "Embedding");
        assert_eq!(ty("blk.0.attn_norm"), "RMSNorm");
        assert_eq!(ty("blk.0.attn_q"), "Linear");
        assert_eq!(ty("blk.0.ffn_gate_inp"), "Linear");
        assert_eq!(ty("blk.0.ffn_gate_exps"), "Experts");
        assert_eq!(ty("blk.0.ffn_down_exps"), "Experts");
        assert_eq!(ty("rope_freqs"), "Module");
        assert_eq!(ty("output_norm"), "RMSNorm");
        assert_eq!(ty("output"), "Linear");
        assert_eq!(
            gguf.find("blk.0.ffn_gate_exps").unwrap().kind,
            LayerKind::Linear
        );
    }

    #[test]
    fn bert_and_t5_names() {
        let root = tree_from_named_tensors(
            "StateDict",
            [
                t("bert.embeddings.word_embeddings.weight", &[128, 32]),
                t("bert.embeddings.position_embeddings.weight", &[64, 32]),
                t("bert.embeddings.LayerNorm.weight", &[32]),
                t("bert.embeddings.LayerNorm.bias", &[32]),
                t(
                    "bert.encoder.layer.0.attention.self.query.weight",
                    &[32, 32],
                ),
                t("bert.encoder.layer.0.attention.self.query.bias", &[32]),
                t("shared.weight", &[128, 32]),
                t(
                    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    &[32, 4],
                ),
                t("encoder.block.0.layer.0.layer_norm.weight", &[32]),
                t("decoder.final_layer_norm.weight", &[32]),
            ],
        );
        let ty = |p: &str| root.find(p).unwrap().type_name.clone();
        assert_eq!(ty("bert.embeddings.word_embeddings"), "Embedding");
        assert_eq!(ty("bert.embeddings.position_embeddings"), "Embedding");
        assert_eq!(ty("bert.embeddings.LayerNorm"), "LayerNorm");
        assert_eq!(ty("bert.encoder.layer.0.attention.self.query"), "Linear");
        assert_eq!(ty("shared"), "Embedding");
        assert_eq!(
            ty("encoder.block.0.layer.0.SelfAttention.relative_attention_bias"),
            "Embedding"
        );
        assert_eq!(ty("encoder.block.0.layer.0.layer_norm"), "RMSNorm");
        assert_eq!(ty("decoder.final_layer_norm"), "RMSNorm");
    }

    #[test]
    fn hugging_face_fused_experts_are_one_experts_module() {
        let root = tree_from_named_tensors(
            "M",
            [
                t("layers.0.mlp.router.weight", &[4, 32]),
                t("layers.0.mlp.experts.gate_up_proj", &[4, 32, 128]),
                t("layers.0.mlp.experts.down_proj", &[4, 64, 32]),
            ],
        );
        let experts = root.find("layers.0.mlp.experts").unwrap();
        assert_eq!(experts.type_name, "Experts");
        assert_eq!(experts.kind, LayerKind::Linear);
        assert_eq!(experts.parameters.len(), 2);
        assert_eq!(
            root.find("layers.0.mlp.router").unwrap().type_name,
            "Linear"
        );
    }

    #[test]
    fn dynamic_quantized_layers_keep_their_packed_weights() {
        let q = |name: &str, shape: &[u64], dtype: DType| NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            requires_grad: true,
        };
        let root = tree_from_named_tensors(
            "StateDict",
            [
                q("0.scale", &[], DType::Float32),
                q("0.zero_point", &[], DType::Int64),
                q("0._packed_params._packed_params.0", &[3, 4], DType::QInt8),
                q("0._packed_params._packed_params.1", &[3], DType::Float32),
                q(
                    "1._all_weight_values.0.param.weight_ih",
                    &[20, 3],
                    DType::QInt8,
                ),
                q(
                    "1._all_weight_values.0.param.weight_hh",
                    &[20, 5],
                    DType::QInt8,
                ),
                q(
                    "1._all_weight_values.0.param.bias_ih",
                    &[20],
                    DType::Float32,
                ),
            ],
        );
        assert_eq!(
            types(&root),
            owned(&[("", "StateDict"), ("0", "Linear"), ("1", "LSTM")])
        );
        let linear = root.find("0").unwrap();
        let params: Vec<&str> = linear.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            params,
            [
                "_packed_params._packed_params.0",
                "_packed_params._packed_params.1"
            ]
        );
        let buffers: Vec<&str> = linear.buffers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(buffers, ["scale", "zero_point"]);
        // Packed weights are counted, and cannot be trained.
        assert_eq!(linear.own_params(), 15);
        assert!(linear.parameters.iter().all(|p| !p.requires_grad));
        assert_eq!(root.find("1").unwrap().own_params(), 60 + 100 + 20);
    }

    #[test]
    fn reading_order_puts_embeddings_first_and_the_head_last() {
        let mut names = vec![
            "lm_head.weight",
            "model.layers.10.mlp.up_proj.weight",
            "model.layers.2.mlp.up_proj.weight",
            "model.norm.weight",
            "model.embed_tokens.weight",
            "output.weight",
            "blk.1.attn_q.weight",
            "token_embd.weight",
            "decoder.block.0.x",
            "encoder.block.0.x",
        ];
        names.sort_by(|a, b| model_order(a, b));
        assert_eq!(
            names,
            [
                "token_embd.weight",
                "encoder.block.0.x",
                "blk.1.attn_q.weight",
                "model.embed_tokens.weight",
                "model.layers.2.mlp.up_proj.weight",
                "model.layers.10.mlp.up_proj.weight",
                "model.norm.weight",
                "decoder.block.0.x",
                "lm_head.weight",
                "output.weight",
            ]
        );
        assert_eq!(model_order("a.1", "a.1"), Ordering::Equal);
        assert_eq!(model_order("a", "a.1"), Ordering::Less);
    }
}
