//! Layer roles: what each module does in the network, which is where its parameters "sit" — the
//! embeddings, the attention blocks (projections and the attention product), the feed-forward blocks,
//! the experts and their router, the norms, the convolutions, the fully connected layers outside those
//! blocks (a CNN's classifier such as VGG's fc6/fc7/fc8, a language model's output head), the
//! recurrent layers, and the rest.
//!
//! [`classify`] is one pure function over the module tree, so every report (the footer, compare, JSON,
//! CSV) and every source (TorchScript files with their classes, state dicts, safetensors and GGUF
//! headers whose types are only inferred) gets the same answer. It reads, in this order of trust:
//! - the class (`LayerNorm`, `LlamaRMSNorm`, `Conv2d`, `MultiheadAttention`, `GPT2MLP`, `MixtralExperts`;
//!   Hugging Face's `Conv1D` is a Linear with a transposed weight, not a convolution);
//! - the module's own name and its ancestors' names, in the naming schemes people's files use: Hugging
//!   Face (`self_attn.q_proj`, `attention.output.dense`, `intermediate.dense`, `mlp.gate_proj`,
//!   `embed_tokens`, `input_layernorm`, `lm_head`), GPT-2 (`wte`, `attn.c_attn`, `mlp.c_fc`, `ln_1`), T5
//!   (`shared`, `SelfAttention.q`, `EncDecAttention`, `DenseReluDense.wi`), Mixtral and other MoE
//!   (`block_sparse_moe.gate` is the router, `experts.N.w1`, `mlp.experts`, `shared_expert`), Meta's
//!   Llama (`tok_embeddings`, `attention.wq`, `feed_forward.w1`, `attention_norm`, `ffn_norm`, `output`),
//!   GGUF (`token_embd`, `blk.N.attn_q`, `ffn_up`, `ffn_gate_exps`, `ffn_gate_inp` = router,
//!   `output_norm`, `output`), timm and torchvision ViT (`patch_embed.proj`, `conv_proj`, `attn.qkv`,
//!   `self_attention`, `mlp.fc1`, `mlp.0`, `heads.head`), Whisper (`encoder.conv1`, `embed_positions`)
//!   and CLIP (`patch_embedding`, `class_embedding`);
//! - the tree around it: a fully connected module placed after an attention block in the same parent
//!   (`fc1`/`fc2` of a Whisper layer, `linear1`/`linear2` of `nn.TransformerEncoderLayer`, BERT's
//!   `output`) is that block's feed-forward part;
//! - its own parameters' names (`cls_token`, `pos_embed`, `in_proj_weight`) for a module that owns
//!   parameters beside its children.
//!
//! A role says nothing about types: inferring a module's class from tensor names and shapes is
//! [`super::infer`]'s job; roles only read what the tree holds.

use super::{LayerKind, ModuleNode};
use std::collections::{HashMap, HashSet};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Token, position, patch and segment embeddings (a ViT's patch convolution and class token too).
    Embedding,
    /// Query/key/value and output projections, and the attention product itself.
    Attention,
    /// The feed-forward (MLP) part of a transformer block.
    FeedForward,
    /// Mixture-of-experts layers: the experts, shared experts and the router that picks them.
    Experts,
    Normalization,
    Convolution,
    /// Fully connected layers outside attention, feed-forward and expert blocks: a CNN's classifier
    /// (VGG's fc6, fc7, fc8), a transformer's output head, a plain MLP.
    Linear,
    Recurrent,
    Other,
}

impl Role {
    /// The order reports list roles in when they must line up across models (compare).
    pub const ALL: [Role; 9] = [
        Role::Embedding,
        Role::Attention,
        Role::FeedForward,
        Role::Experts,
        Role::Normalization,
        Role::Convolution,
        Role::Linear,
        Role::Recurrent,
        Role::Other,
    ];

    /// As tables show it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Embedding => "Embedding",
            Role::Attention => "Attention",
            Role::FeedForward => "Feed-forward",
            Role::Experts => "Experts and router",
            Role::Normalization => "Normalization",
            Role::Convolution => "Convolution",
            Role::Linear => "Linear",
            Role::Recurrent => "Recurrent",
            Role::Other => "Other",
        }
    }

    /// As JSON and CSV write it.
    pub fn key(self) -> &'static str {
        match self {
            Role::Embedding => "embedding",
            Role::Attention => "attention",
            Role::FeedForward => "feed_forward",
            Role::Experts => "experts",
            Role::Normalization => "normalization",
            Role::Convolution => "convolution",
            Role::Linear => "linear",
            Role::Recurrent => "recurrent",
            Role::Other => "other",
        }
    }

    /// Roles a block hands down to the modules inside it.
    fn is_block(self) -> bool {
        matches!(
            self,
            Role::Embedding | Role::Attention | Role::FeedForward | Role::Experts
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every module's role, by path (the root's path is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roles {
    by_path: HashMap<String, Role>,
}

impl Roles {
    /// The role of the module at `path`; `Other` for a path the tree does not have.
    pub fn of(&self, path: &str) -> Role {
        self.by_path.get(path).copied().unwrap_or(Role::Other)
    }
}

/// The role of every module of the tree under `root` (see the module documentation for the rules).
pub fn classify(root: &ModuleNode) -> Roles {
    let mut roles = Roles::default();
    let attention_in_model = root
        .walk()
        .iter()
        .any(|(_, n)| !n.path.is_empty() && attention_signal(n));
    // The root's class names the whole model (`HalfMlp`, `MLPMixer`): it counts, and hands down, only
    // what a single layer used as a model would be (an attention layer, an experts block).
    let root_signal = signal(root, None, attention_in_model).filter(|r| *r != Role::FeedForward);
    roles
        .by_path
        .insert(root.path.clone(), finish(root, root_signal, None));
    let inherited = root_signal.filter(|r| matches!(r, Role::Attention | Role::Experts));
    let mut with_linear = HashSet::new();
    linear_subtrees(root, &mut with_linear);
    let tree = Tree {
        attention_in_model,
        with_linear,
    };
    visit_children(root, inherited, &tree, &mut roles);
    roles
}

/// What the walk needs to know about the whole tree, worked out once.
struct Tree<'a> {
    attention_in_model: bool,
    /// Paths of the modules with a fully connected layer in their subtree (themselves included).
    with_linear: HashSet<&'a str>,
}

/// Fills `out` with the paths whose subtree holds a fully connected layer, in one post-order pass;
/// returns whether `node`'s does.
fn linear_subtrees<'a>(node: &'a ModuleNode, out: &mut HashSet<&'a str>) -> bool {
    let mut found = is_linear_like(node);
    for child in &node.children {
        found |= linear_subtrees(child, out);
    }
    if found {
        out.insert(node.path.as_str());
    }
    found
}

fn visit_children(parent: &ModuleNode, inherited: Option<Role>, tree: &Tree, roles: &mut Roles) {
    let attention_in_model = tree.attention_in_model;
    let first_attention = parent.children.iter().position(attention_signal);
    for (i, child) in parent.children.iter().enumerate() {
        let own = signal(child, Some(parent), attention_in_model);
        // A module after an attention block in the same parent, with fully connected layers in it, is
        // the block's feed-forward part, unless its name says it is the model's head.
        let after_attention = first_attention.is_some_and(|a| i > a)
            && own.is_none()
            && inherited.is_none()
            && !is_head_name(&child.name)
            && tree.with_linear.contains(child.path.as_str());
        let block = match own {
            Some(r) if r.is_block() => match (inherited, r) {
                // Everything inside an experts block is the experts' (an expert's own `mlp`).
                (Some(Role::Experts), _) => Some(Role::Experts),
                // A convolution or projection inside an embedding (a ViT's patch_embed.proj) embeds.
                _ => Some(r),
            },
            _ if after_attention => Some(Role::FeedForward),
            _ => inherited,
        };
        let role = finish(child, own, block);
        roles.by_path.insert(child.path.clone(), role);
        visit_children(child, block, tree, roles);
    }
}

/// The role of one module from what its own class and name say (`own`), the block it sits in (a module
/// after an attention block counts as in a feed-forward one), and its own parameters' names.
fn finish(node: &ModuleNode, own: Option<Role>, block: Option<Role>) -> Role {
    let role = match (own, block) {
        (Some(Role::Normalization | Role::Recurrent), _) => own.unwrap(),
        (Some(_), Some(Role::Experts)) => Role::Experts,
        (Some(Role::Convolution), Some(Role::Embedding)) => Role::Embedding,
        (Some(Role::Linear), Some(b)) => b,
        (Some(r), _) => r,
        (None, Some(b)) => b,
        (None, None) if is_linear_like(node) => Role::Linear,
        (None, None) => Role::Other,
    };
    // A module owning parameters beside its children (a ViT's class token and position embedding on
    // the root, a positional table on an encoder) is placed by those parameters' names.
    if matches!(role, Role::Other | Role::Linear)
        && !node.children.is_empty()
        && let Some(by_params) = params_signal(node)
    {
        return by_params;
    }
    role
}

// ---- what a module's class and name say ----

/// What the module's own class and name say, strongest first; `None` when they say nothing.
fn signal(
    node: &ModuleNode,
    parent: Option<&ModuleNode>,
    attention_in_model: bool,
) -> Option<Role> {
    let t = node.type_name.as_str();
    let name = node.name.to_ascii_lowercase();
    if norm_signal(node, &name) {
        return Some(Role::Normalization);
    }
    if node.kind == LayerKind::Recurrent || is_recurrent_type(t) {
        return Some(Role::Recurrent);
    }
    if experts_signal(node, &name, parent) {
        return Some(Role::Experts);
    }
    if embedding_signal(node, &name, attention_in_model) {
        return Some(Role::Embedding);
    }
    if is_convolution(node) {
        return Some(Role::Convolution);
    }
    if is_head_name(&name) {
        return Some(Role::Linear);
    }
    if attention_signal(node) {
        return Some(Role::Attention);
    }
    if feed_forward_signal(t, &name) {
        return Some(Role::FeedForward);
    }
    None
}

fn norm_signal(node: &ModuleNode, name: &str) -> bool {
    let t = &node.type_name;
    if node.kind == LayerKind::Normalization
        || (t.contains("Norm") && !t.contains("Normal") && !t.contains("Embedding"))
    {
        return true;
    }
    // By name only for what holds a norm's tensors: 1-D scales and shifts, no layers inside.
    let norm_shaped =
        node.children.is_empty() && node.parameters.iter().all(|p| p.shape.len() <= 1);
    if !norm_shaped {
        return false;
    }
    let ln = |prefix: &str| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with('_')
                || rest.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    name.contains("norm") || ln("ln") || ln("bn") || ln("gn") || name.ends_with("_ln")
}

fn is_recurrent_type(t: &str) -> bool {
    matches!(
        t,
        "LSTM" | "GRU" | "RNN" | "LSTMCell" | "GRUCell" | "RNNCell" | "QuantizedLSTM"
    )
}

fn experts_signal(node: &ModuleNode, name: &str, parent: Option<&ModuleNode>) -> bool {
    let t = &node.type_name;
    if t.contains("Expert") || t.contains("Moe") || t.contains("MoE") || t.contains("Router") {
        return true;
    }
    if name.contains("expert")
        || name.contains("moe")
        || name.contains("router")
        || name.ends_with("_exps")
        || name.ends_with("_shexp")
        || name == "ffn_gate_inp"
        || name == "gating"
    {
        return true;
    }
    // `gate` is a router only in a mixture-of-experts block; in an MLP it is a projection. The name
    // is checked first: looking at the siblings for every child would cost the square of a wide tree.
    if !matches!(name, "gate" | "wg" | "switch") {
        return false;
    }
    parent.is_some_and(|p| {
        p.name.to_ascii_lowercase().contains("moe")
            || p.type_name.contains("Moe")
            || p.type_name.contains("MoE")
            || p.children.iter().any(|c| {
                c.name.eq_ignore_ascii_case("experts") || c.name.eq_ignore_ascii_case("expert")
            })
    })
}

fn embedding_signal(node: &ModuleNode, name: &str, attention_in_model: bool) -> bool {
    let t = &node.type_name;
    if node.kind == LayerKind::Embedding || t.contains("Embedding") || t.contains("Embed") {
        return true;
    }
    if matches!(name, "embed_out" | "unembed" | "unembedding") || name.contains("head") {
        return false; // GPT-NeoX's and TransformerLens's output heads
    }
    name.contains("embed")
        || name.contains("embd")
        || matches!(name, "wte" | "wpe" | "cls_token" | "class_token")
        || (name == "shared" && node.parameters.iter().any(|p| p.shape.len() == 2))
        // torchvision's ViT calls its patch embedding conv_proj.
        || (name == "conv_proj" && attention_in_model)
}

fn is_convolution(node: &ModuleNode) -> bool {
    // Hugging Face's Conv1D is a Linear whose weight is stored transposed.
    node.kind == LayerKind::Convolution && node.type_name != "Conv1D"
}

/// Attention blocks and projections, by class or name.
fn attention_signal(node: &ModuleNode) -> bool {
    let t = &node.type_name;
    if node.kind == LayerKind::Attention || t.contains("Attention") || t.contains("Attn") {
        return true;
    }
    if node.parameters.iter().any(|p| {
        matches!(
            p.name.as_str(),
            "in_proj_weight" | "q_proj_weight" | "qkv_weight"
        )
    }) {
        return true;
    }
    let name = node.name.to_ascii_lowercase();
    if name.contains("norm") || is_head_name(&name) {
        return false;
    }
    name.contains("attn")
        || name.contains("attention")
        || matches!(
            name.as_str(),
            "q_proj"
                | "k_proj"
                | "v_proj"
                | "o_proj"
                | "qkv"
                | "qkv_proj"
                | "query"
                | "key"
                | "value"
                | "query_key_value"
                | "wqkv"
                | "in_proj"
                | "to_q"
                | "to_k"
                | "to_v"
                | "to_qkv"
                | "to_out"
                | "q_lin"
                | "k_lin"
                | "v_lin"
                | "out_lin"
        )
}

fn feed_forward_signal(t: &str, name: &str) -> bool {
    let class = [
        "MLP",
        "Mlp",
        "FeedForward",
        "Feedforward",
        "FFN",
        "Ffn",
        "Intermediate",
        "DenseReluDense",
        "DenseGatedActDense",
        "LayerFF",
    ];
    if class.iter().any(|c| t.contains(c)) {
        return true;
    }
    matches!(
        name,
        "mlp"
            | "ff"
            | "ffn"
            | "feed_forward"
            | "feedforward"
            | "intermediate"
            | "densereludense"
            | "densegatedactdense"
            | "c_fc"
            | "gate_proj"
            | "up_proj"
            | "down_proj"
            | "gate_up_proj"
            | "dense_h_to_4h"
            | "dense_4h_to_h"
            | "fc_in"
    ) || name.starts_with("ffn")
        || name.starts_with("mlp")
}

/// Names models give their output layers; never a block's feed-forward part.
pub fn is_head_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("head")
        || matches!(
            name.as_str(),
            "classifier"
                | "cls"
                | "fc"
                | "out"
                | "logits"
                | "score"
                | "proj_out"
                | "pooler"
                | "generator"
                | "predictions"
                | "final_layer"
                | "embed_out"
                | "unembed"
                | "qa_outputs"
        )
}

/// A fully connected layer: a Linear class (HF's Conv1D included) or, for a class nothing is known
/// about, a 2-D weight.
fn is_linear_like(node: &ModuleNode) -> bool {
    node.kind == LayerKind::Linear
        || node.type_name == "Conv1D"
        || (node.kind == LayerKind::Other
            && node
                .parameters
                .iter()
                .any(|p| p.name == "weight" && p.shape.len() == 2))
}

/// The role a module's own parameters' names give it, when they all agree.
fn params_signal(node: &ModuleNode) -> Option<Role> {
    let mut roles = node.parameters.iter().map(|p| {
        let n = p.name.to_ascii_lowercase();
        if n.contains("embed")
            || n.contains("token")
            || n.starts_with("pos")
            || n.contains("position")
        {
            Some(Role::Embedding)
        } else if n.starts_with("in_proj") || n.contains("relative_position_bias") {
            Some(Role::Attention)
        } else {
            None
        }
    });
    let first = roles.next()??;
    roles.all(|r| r == Some(first)).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::summary::TensorRecord;
    use crate::summary::infer::{NamedTensor, tree_from_named_tensors};

    /// A tree from `(path, type)` pairs in pre-order; a type ending in `!` owns a 2-D `weight`, one
    /// ending in `~` a 1-D `weight` (a norm), `#` a 3-D one (experts), `@` a 4-D one.
    fn typed(modules: &[(&str, &str)]) -> ModuleNode {
        let mut root = ModuleNode::new("", "", "Model");
        for (path, ty) in modules {
            let (ty, shape): (&str, Vec<u64>) = match ty.chars().last() {
                Some('!') => (&ty[..ty.len() - 1], vec![4, 4]),
                Some('~') => (&ty[..ty.len() - 1], vec![4]),
                Some('#') => (&ty[..ty.len() - 1], vec![2, 4, 4]),
                Some('@') => (&ty[..ty.len() - 1], vec![4, 3, 2, 2]),
                _ => (ty, vec![]),
            };
            let name = path.rsplit('.').next().unwrap();
            let mut node = ModuleNode::new(name, *path, ty);
            if !shape.is_empty() {
                node.parameters
                    .push(TensorRecord::new("weight", shape, DType::Float32, true));
            }
            insert(&mut root, node);
        }
        root
    }

    fn insert(root: &mut ModuleNode, node: ModuleNode) {
        let parent = node
            .path
            .rsplit_once('.')
            .map_or("", |(p, _)| p)
            .to_string();
        let mut found = false;
        root.visit_mut(&mut |n| {
            if !found && n.path == parent {
                n.children.push(node.clone());
                found = true;
            }
        });
        assert!(found, "parent of {} first", node.path);
    }

    /// A tree from dotted tensor names and shapes alone, as state dicts, safetensors and GGUF give them.
    fn named(tensors: &[(&str, &[u64])]) -> ModuleNode {
        tree_from_named_tensors(
            "StateDict",
            tensors.iter().map(|(n, s)| NamedTensor {
                name: n.to_string(),
                shape: s.to_vec(),
                dtype: DType::Float32,
                requires_grad: true,
            }),
        )
    }

    fn check(root: &ModuleNode, expect: &[(&str, Role)]) {
        let roles = classify(root);
        for (path, role) in expect {
            assert!(root.find(path).is_some(), "no module {path}");
            assert_eq!(roles.of(path), *role, "{path}");
        }
    }

    use Role::*;

    #[test]
    fn vgg_keeps_its_fully_connected_layers_apart_from_its_convolutions() {
        let root = typed(&[
            ("features", "Sequential"),
            ("features.0", "Conv2d@"),
            ("features.1", "ReLU"),
            ("avgpool", "AdaptiveAvgPool2d"),
            ("classifier", "Sequential"),
            ("classifier.0", "Linear!"),
            ("classifier.3", "Linear!"),
            ("classifier.6", "Linear!"),
        ]);
        check(
            &root,
            &[
                ("features.0", Convolution),
                ("classifier.0", Linear),
                ("classifier.3", Linear),
                ("classifier.6", Linear),
                ("features.1", Other),
                ("", Other),
            ],
        );
    }

    #[test]
    fn gpt2_conv1d_is_a_linear_in_attention_and_mlp() {
        let root = typed(&[
            ("transformer", "GPT2Model"),
            ("transformer.wte", "Embedding!"),
            ("transformer.wpe", "Embedding!"),
            ("transformer.h", "ModuleList"),
            ("transformer.h.0", "GPT2Block"),
            ("transformer.h.0.ln_1", "LayerNorm~"),
            ("transformer.h.0.attn", "GPT2Attention"),
            ("transformer.h.0.attn.c_attn", "Conv1D!"),
            ("transformer.h.0.attn.c_proj", "Conv1D!"),
            ("transformer.h.0.ln_2", "LayerNorm~"),
            ("transformer.h.0.mlp", "GPT2MLP"),
            ("transformer.h.0.mlp.c_fc", "Conv1D!"),
            ("transformer.h.0.mlp.c_proj", "Conv1D!"),
            ("transformer.ln_f", "LayerNorm~"),
            ("lm_head", "Linear!"),
        ]);
        let expect = [
            ("transformer.wte", Embedding),
            ("transformer.wpe", Embedding),
            ("transformer.h.0.ln_1", Normalization),
            ("transformer.h.0.attn.c_attn", Attention),
            ("transformer.h.0.attn.c_proj", Attention),
            ("transformer.h.0.mlp.c_fc", FeedForward),
            ("transformer.h.0.mlp.c_proj", FeedForward),
            ("transformer.ln_f", Normalization),
            ("lm_head", Linear),
        ];
        check(&root, &expect);
        // The same names from a state dict: types inferred from shapes.
        let root = named(&[
            ("wte.weight", &[100, 8]),
            ("wpe.weight", &[16, 8]),
            ("h.0.ln_1.weight", &[8]),
            ("h.0.ln_1.bias", &[8]),
            ("h.0.attn.c_attn.weight", &[8, 24]),
            ("h.0.attn.c_attn.bias", &[24]),
            ("h.0.attn.c_proj.weight", &[8, 8]),
            ("h.0.mlp.c_fc.weight", &[8, 32]),
            ("h.0.mlp.c_proj.weight", &[32, 8]),
            ("ln_f.weight", &[8]),
        ]);
        check(
            &root,
            &[
                ("wte", Embedding),
                ("wpe", Embedding),
                ("h.0.ln_1", Normalization),
                ("h.0.attn.c_attn", Attention),
                ("h.0.attn.c_proj", Attention),
                ("h.0.mlp.c_fc", FeedForward),
                ("h.0.mlp.c_proj", FeedForward),
                ("ln_f", Normalization),
            ],
        );
    }

    #[test]
    fn bert_output_dense_follows_its_block() {
        let names: &[(&str, &[u64])] = &[
            ("embeddings.word_embeddings.weight", &[100, 8]),
            ("embeddings.position_embeddings.weight", &[16, 8]),
            ("embeddings.token_type_embeddings.weight", &[2, 8]),
            ("embeddings.LayerNorm.weight", &[8]),
            ("encoder.layer.0.attention.self.query.weight", &[8, 8]),
            ("encoder.layer.0.attention.self.key.weight", &[8, 8]),
            ("encoder.layer.0.attention.self.value.weight", &[8, 8]),
            ("encoder.layer.0.attention.output.dense.weight", &[8, 8]),
            ("encoder.layer.0.attention.output.LayerNorm.weight", &[8]),
            ("encoder.layer.0.intermediate.dense.weight", &[32, 8]),
            ("encoder.layer.0.output.dense.weight", &[8, 32]),
            ("encoder.layer.0.output.LayerNorm.weight", &[8]),
            ("pooler.dense.weight", &[8, 8]),
            ("cls.predictions.transform.dense.weight", &[8, 8]),
            ("cls.predictions.decoder.weight", &[100, 8]),
        ];
        check(
            &named(names),
            &[
                ("embeddings.word_embeddings", Embedding),
                ("embeddings.position_embeddings", Embedding),
                ("embeddings.token_type_embeddings", Embedding),
                ("embeddings.LayerNorm", Normalization),
                ("encoder.layer.0.attention.self.query", Attention),
                ("encoder.layer.0.attention.output.dense", Attention),
                ("encoder.layer.0.attention.output.LayerNorm", Normalization),
                ("encoder.layer.0.intermediate.dense", FeedForward),
                ("encoder.layer.0.output.dense", FeedForward),
                ("encoder.layer.0.output.LayerNorm", Normalization),
                ("pooler.dense", Linear),
                ("cls.predictions.transform.dense", Linear),
                ("cls.predictions.decoder", Linear),
            ],
        );
    }

    #[test]
    fn llama_hf_and_meta_and_gguf_names() {
        let hf: &[(&str, &[u64])] = &[
            ("model.embed_tokens.weight", &[100, 8]),
            ("model.layers.0.self_attn.q_proj.weight", &[8, 8]),
            ("model.layers.0.self_attn.o_proj.weight", &[8, 8]),
            ("model.layers.0.mlp.gate_proj.weight", &[32, 8]),
            ("model.layers.0.mlp.down_proj.weight", &[8, 32]),
            ("model.layers.0.input_layernorm.weight", &[8]),
            ("model.layers.0.post_attention_layernorm.weight", &[8]),
            ("model.norm.weight", &[8]),
            ("lm_head.weight", &[100, 8]),
        ];
        check(
            &named(hf),
            &[
                ("model.embed_tokens", Embedding),
                ("model.layers.0.self_attn.q_proj", Attention),
                ("model.layers.0.self_attn.o_proj", Attention),
                ("model.layers.0.mlp.gate_proj", FeedForward),
                ("model.layers.0.mlp.down_proj", FeedForward),
                ("model.layers.0.input_layernorm", Normalization),
                ("model.layers.0.post_attention_layernorm", Normalization),
                ("model.norm", Normalization),
                ("lm_head", Linear),
            ],
        );
        let meta: &[(&str, &[u64])] = &[
            ("tok_embeddings.weight", &[100, 8]),
            ("layers.0.attention.wq.weight", &[8, 8]),
            ("layers.0.attention.wo.weight", &[8, 8]),
            ("layers.0.feed_forward.w1.weight", &[32, 8]),
            ("layers.0.feed_forward.w2.weight", &[8, 32]),
            ("layers.0.attention_norm.weight", &[8]),
            ("layers.0.ffn_norm.weight", &[8]),
            ("norm.weight", &[8]),
            ("output.weight", &[100, 8]),
        ];
        check(
            &named(meta),
            &[
                ("tok_embeddings", Embedding),
                ("layers.0.attention.wq", Attention),
                ("layers.0.attention.wo", Attention),
                ("layers.0.feed_forward.w1", FeedForward),
                ("layers.0.feed_forward.w2", FeedForward),
                ("layers.0.attention_norm", Normalization),
                ("layers.0.ffn_norm", Normalization),
                ("norm", Normalization),
                ("output", Linear),
            ],
        );
        let gguf: &[(&str, &[u64])] = &[
            ("token_embd.weight", &[100, 8]),
            ("blk.0.attn_norm.weight", &[8]),
            ("blk.0.attn_q.weight", &[8, 8]),
            ("blk.0.attn_qkv.weight", &[24, 8]),
            ("blk.0.attn_output.weight", &[8, 8]),
            ("blk.0.ffn_norm.weight", &[8]),
            ("blk.0.ffn_up.weight", &[32, 8]),
            ("blk.0.ffn_gate.weight", &[32, 8]),
            ("blk.0.ffn_down.weight", &[8, 32]),
            ("blk.1.ffn_gate_inp.weight", &[4, 8]),
            ("blk.1.ffn_up_exps.weight", &[4, 32, 8]),
            ("blk.1.ffn_down_exps.weight", &[4, 8, 32]),
            ("blk.1.ffn_up_shexp.weight", &[32, 8]),
            ("output_norm.weight", &[8]),
            ("output.weight", &[100, 8]),
        ];
        check(
            &named(gguf),
            &[
                ("token_embd", Embedding),
                ("blk.0.attn_norm", Normalization),
                ("blk.0.attn_q", Attention),
                ("blk.0.attn_qkv", Attention),
                ("blk.0.attn_output", Attention),
                ("blk.0.ffn_norm", Normalization),
                ("blk.0.ffn_up", FeedForward),
                ("blk.0.ffn_gate", FeedForward),
                ("blk.0.ffn_down", FeedForward),
                ("blk.1.ffn_gate_inp", Experts),
                ("blk.1.ffn_up_exps", Experts),
                ("blk.1.ffn_down_exps", Experts),
                ("blk.1.ffn_up_shexp", Experts),
                ("output_norm", Normalization),
                ("output", Linear),
            ],
        );
    }

    #[test]
    fn mixture_of_experts_old_and_new_layouts() {
        let old: &[(&str, &[u64])] = &[
            ("model.layers.0.block_sparse_moe.gate.weight", &[4, 8]),
            (
                "model.layers.0.block_sparse_moe.experts.0.w1.weight",
                &[32, 8],
            ),
            (
                "model.layers.0.block_sparse_moe.experts.0.w2.weight",
                &[8, 32],
            ),
            (
                "model.layers.0.block_sparse_moe.experts.0.w3.weight",
                &[32, 8],
            ),
        ];
        check(
            &named(old),
            &[
                ("model.layers.0.block_sparse_moe.gate", Experts),
                ("model.layers.0.block_sparse_moe.experts.0.w1", Experts),
                ("model.layers.0.block_sparse_moe.experts.0.w2", Experts),
            ],
        );
        // transformers 5: a router module and one module holding every expert's weights in 3-D tensors.
        let typed_new = typed(&[
            ("layers", "ModuleList"),
            ("layers.0", "MixtralDecoderLayer"),
            ("layers.0.mlp", "MixtralSparseMoeBlock"),
            ("layers.0.mlp.gate", "MixtralTopKRouter!"),
            ("layers.0.mlp.experts", "MixtralExperts#"),
        ]);
        check(
            &typed_new,
            &[
                ("layers.0.mlp", Experts),
                ("layers.0.mlp.gate", Experts),
                ("layers.0.mlp.experts", Experts),
            ],
        );
        // Qwen-MoE: experts and a shared expert inside `mlp`; the router is `mlp.gate`. A dense
        // model's `mlp.gate_proj` stays feed-forward.
        let qwen: &[(&str, &[u64])] = &[
            ("layers.0.mlp.gate.weight", &[4, 8]),
            ("layers.0.mlp.experts.0.gate_proj.weight", &[32, 8]),
            ("layers.0.mlp.shared_expert.up_proj.weight", &[32, 8]),
            ("layers.0.mlp.shared_expert_gate.weight", &[1, 8]),
            ("layers.1.mlp.gate_proj.weight", &[32, 8]),
        ];
        check(
            &named(qwen),
            &[
                ("layers.0.mlp.gate", Experts),
                ("layers.0.mlp.experts.0.gate_proj", Experts),
                ("layers.0.mlp.shared_expert.up_proj", Experts),
                ("layers.0.mlp.shared_expert_gate", Experts),
                ("layers.1.mlp.gate_proj", FeedForward),
            ],
        );
    }

    #[test]
    fn t5_names() {
        let t5: &[(&str, &[u64])] = &[
            ("shared.weight", &[100, 8]),
            ("encoder.block.0.layer.0.SelfAttention.q.weight", &[8, 8]),
            ("encoder.block.0.layer.0.SelfAttention.o.weight", &[8, 8]),
            (
                "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                &[32, 2],
            ),
            ("encoder.block.0.layer.0.layer_norm.weight", &[8]),
            ("encoder.block.0.layer.1.DenseReluDense.wi.weight", &[32, 8]),
            ("encoder.block.0.layer.1.DenseReluDense.wo.weight", &[8, 32]),
            ("decoder.block.0.layer.1.EncDecAttention.k.weight", &[8, 8]),
            ("encoder.final_layer_norm.weight", &[8]),
            ("lm_head.weight", &[100, 8]),
        ];
        check(
            &named(t5),
            &[
                ("shared", Embedding),
                ("encoder.block.0.layer.0.SelfAttention.q", Attention),
                ("encoder.block.0.layer.0.SelfAttention.o", Attention),
                ("encoder.block.0.layer.0.layer_norm", Normalization),
                ("encoder.block.0.layer.1.DenseReluDense.wi", FeedForward),
                ("encoder.block.0.layer.1.DenseReluDense.wo", FeedForward),
                ("decoder.block.0.layer.1.EncDecAttention.k", Attention),
                ("encoder.final_layer_norm", Normalization),
                ("lm_head", Linear),
            ],
        );
    }

    #[test]
    fn vision_transformers_embed_their_patches() {
        let timm: &[(&str, &[u64])] = &[
            ("cls_token", &[1, 1, 8]),
            ("pos_embed", &[1, 5, 8]),
            ("patch_embed.proj.weight", &[8, 3, 4, 4]),
            ("blocks.0.norm1.weight", &[8]),
            ("blocks.0.attn.qkv.weight", &[24, 8]),
            ("blocks.0.attn.proj.weight", &[8, 8]),
            ("blocks.0.mlp.fc1.weight", &[32, 8]),
            ("blocks.0.mlp.fc2.weight", &[8, 32]),
            ("norm.weight", &[8]),
            ("head.weight", &[10, 8]),
        ];
        check(
            &named(timm),
            &[
                ("", Embedding),
                ("patch_embed.proj", Embedding),
                ("blocks.0.norm1", Normalization),
                ("blocks.0.attn.qkv", Attention),
                ("blocks.0.attn.proj", Attention),
                ("blocks.0.mlp.fc1", FeedForward),
                ("blocks.0.mlp.fc2", FeedForward),
                ("norm", Normalization),
                ("head", Linear),
            ],
        );
        let mut torchvision = typed(&[
            ("conv_proj", "Conv2d@"),
            ("encoder", "Encoder"),
            ("encoder.layers", "Sequential"),
            ("encoder.layers.encoder_layer_0", "EncoderBlock"),
            ("encoder.layers.encoder_layer_0.ln_1", "LayerNorm~"),
            (
                "encoder.layers.encoder_layer_0.self_attention",
                "MultiheadAttention",
            ),
            (
                "encoder.layers.encoder_layer_0.self_attention.out_proj",
                "NonDynamicallyQuantizableLinear!",
            ),
            ("encoder.layers.encoder_layer_0.mlp", "MLPBlock"),
            ("encoder.layers.encoder_layer_0.mlp.0", "Linear!"),
            ("encoder.layers.encoder_layer_0.mlp.3", "Linear!"),
            ("encoder.ln", "LayerNorm~"),
            ("heads", "Sequential"),
            ("heads.head", "Linear!"),
        ]);
        torchvision.children[1].parameters.push(TensorRecord::new(
            "pos_embedding",
            vec![1, 5, 8],
            DType::Float32,
            true,
        ));
        check(
            &torchvision,
            &[
                ("conv_proj", Embedding),
                ("encoder", Embedding),
                ("encoder.layers.encoder_layer_0.ln_1", Normalization),
                ("encoder.layers.encoder_layer_0.self_attention", Attention),
                (
                    "encoder.layers.encoder_layer_0.self_attention.out_proj",
                    Attention,
                ),
                ("encoder.layers.encoder_layer_0.mlp.0", FeedForward),
                ("encoder.layers.encoder_layer_0.mlp.3", FeedForward),
                ("encoder.ln", Normalization),
                ("heads.head", Linear),
            ],
        );
    }

    #[test]
    fn whisper_and_clip() {
        let whisper = typed(&[
            ("model", "WhisperModel"),
            ("model.encoder", "WhisperEncoder"),
            ("model.encoder.conv1", "Conv1d@"),
            ("model.encoder.conv2", "Conv1d@"),
            ("model.encoder.embed_positions", "Embedding!"),
            ("model.encoder.layers", "ModuleList"),
            ("model.encoder.layers.0", "WhisperEncoderLayer"),
            ("model.encoder.layers.0.self_attn", "WhisperAttention"),
            ("model.encoder.layers.0.self_attn.k_proj", "Linear!"),
            ("model.encoder.layers.0.self_attn_layer_norm", "LayerNorm~"),
            ("model.encoder.layers.0.fc1", "Linear!"),
            ("model.encoder.layers.0.fc2", "Linear!"),
            ("model.encoder.layers.0.final_layer_norm", "LayerNorm~"),
            ("model.decoder", "WhisperDecoder"),
            ("model.decoder.embed_tokens", "Embedding!"),
            ("model.decoder.layers", "ModuleList"),
            ("model.decoder.layers.0", "WhisperDecoderLayer"),
            ("model.decoder.layers.0.encoder_attn", "WhisperAttention"),
            ("model.decoder.layers.0.encoder_attn.q_proj", "Linear!"),
            (
                "model.decoder.layers.0.encoder_attn_layer_norm",
                "LayerNorm~",
            ),
            ("proj_out", "Linear!"),
        ]);
        check(
            &whisper,
            &[
                ("model.encoder.conv1", Convolution),
                ("model.encoder.conv2", Convolution),
                ("model.encoder.embed_positions", Embedding),
                ("model.encoder.layers.0.self_attn.k_proj", Attention),
                ("model.encoder.layers.0.self_attn_layer_norm", Normalization),
                ("model.encoder.layers.0.fc1", FeedForward),
                ("model.encoder.layers.0.fc2", FeedForward),
                ("model.encoder.layers.0.final_layer_norm", Normalization),
                ("model.decoder.embed_tokens", Embedding),
                ("model.decoder.layers.0.encoder_attn.q_proj", Attention),
                (
                    "model.decoder.layers.0.encoder_attn_layer_norm",
                    Normalization,
                ),
                ("proj_out", Linear),
            ],
        );
        let clip: &[(&str, &[u64])] = &[
            ("vision_model.embeddings.class_embedding", &[8]),
            (
                "vision_model.embeddings.patch_embedding.weight",
                &[8, 3, 4, 4],
            ),
            ("vision_model.embeddings.position_embedding.weight", &[5, 8]),
            ("vision_model.pre_layrnorm.weight", &[8]),
            (
                "vision_model.encoder.layers.0.self_attn.out_proj.weight",
                &[8, 8],
            ),
            ("vision_model.encoder.layers.0.layer_norm1.weight", &[8]),
            ("vision_model.encoder.layers.0.mlp.fc1.weight", &[32, 8]),
            ("vision_model.post_layernorm.weight", &[8]),
            ("visual_projection.weight", &[8, 8]),
            ("text_model.embeddings.token_embedding.weight", &[100, 8]),
            ("logit_scale", &[]),
        ];
        check(
            &named(clip),
            &[
                ("vision_model.embeddings", Embedding),
                ("vision_model.embeddings.patch_embedding", Embedding),
                ("vision_model.embeddings.position_embedding", Embedding),
                ("vision_model.pre_layrnorm", Normalization),
                (
                    "vision_model.encoder.layers.0.self_attn.out_proj",
                    Attention,
                ),
                ("vision_model.encoder.layers.0.layer_norm1", Normalization),
                ("vision_model.encoder.layers.0.mlp.fc1", FeedForward),
                ("vision_model.post_layernorm", Normalization),
                ("visual_projection", Linear),
                ("text_model.embeddings.token_embedding", Embedding),
                ("", Other),
            ],
        );
    }

    /// An encoder layer's Linear layers after its attention are its feed-forward part; a model's own
    /// head after its only attention block is not.
    #[test]
    fn layers_after_attention_are_its_feed_forward_unless_named_a_head() {
        let layer = typed(&[
            ("self_attn", "MultiheadAttention"),
            ("self_attn.out_proj", "NonDynamicallyQuantizableLinear!"),
            ("linear1", "Linear!"),
            ("dropout", "Dropout"),
            ("linear2", "Linear!"),
            ("norm1", "LayerNorm~"),
        ]);
        check(
            &layer,
            &[
                ("self_attn.out_proj", Attention),
                ("linear1", FeedForward),
                ("linear2", FeedForward),
                ("norm1", Normalization),
            ],
        );
        let mut tiny = typed(&[
            ("embed", "Embedding!"),
            ("attn", "MultiheadAttention"),
            ("attn.out_proj", "NonDynamicallyQuantizableLinear!"),
            ("norm1", "LayerNorm~"),
            ("ff", "Sequential"),
            ("ff.0", "Linear!"),
            ("ff.2", "Linear!"),
            ("head", "Linear!"),
        ]);
        tiny.parameters.push(TensorRecord::new(
            "pos",
            vec![1, 8, 4],
            DType::Float32,
            true,
        ));
        check(
            &tiny,
            &[
                ("", Embedding),
                ("ff.0", FeedForward),
                ("ff.2", FeedForward),
                ("head", Linear),
            ],
        );
        // A plain MLP whose class says MLP is a stack of Linear layers, not a feed-forward block.
        let mlp = typed(&[("fc1", "Linear!"), ("act", "GELU"), ("fc2", "Linear!")]);
        let mut mlp = mlp;
        mlp.type_name = "HalfMlp".into();
        check(&mlp, &[("fc1", Linear), ("fc2", Linear)]);
    }

    #[test]
    fn recurrent_layers() {
        let root = typed(&[
            ("embed", "Embedding!"),
            ("lstm", "LSTM"),
            ("decoder", "Linear!"),
        ]);
        check(
            &root,
            &[
                ("embed", Embedding),
                ("lstm", Recurrent),
                ("decoder", Linear),
            ],
        );
    }
}
