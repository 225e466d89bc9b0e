//! The head of a network, found from its structure: what follows the body's last global pooling, or
//! its last convolution, transformer block or recurrent layer. A VGG ends in a stack of fully connected
//! layers (fc6, fc7, fc8); a ResNet or ConvNeXt in global average pooling and a classifier; a ViT or BERT
//! in a Linear after the last block (on the class token); a language model in its output projection,
//! often tied to the token embedding. Attention, feed-forward and expert layers ([`super::role`]) are
//! the body, never the head.

use super::ModuleNode;
use super::role::{self, Role, Roles};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// Global (adaptive) average pooling down to one position, then a single Linear.
    GlobalPoolLinear,
    /// Several Linear layers after the last convolution (or in a model without convolutions).
    FullyConnectedStack,
    /// One Linear with no global pooling before it.
    SingleLinear,
    /// Linear layers after the last transformer block (a ViT's classifier, BERT's pooler).
    AfterTransformer,
    /// Linear layers after the last recurrent layer.
    AfterRecurrent,
    /// A language model's output projection: one Linear onto the vocabulary of the token embedding.
    LanguageModel,
    /// A convolution produces the output (SqueezeNet's final 1×1 conv).
    Convolutional,
    /// No convolution and no Linear at the end (a recurrent or attention layer produces the output).
    NoLinear,
}

impl HeadKind {
    /// As JSON writes it.
    pub fn key(self) -> &'static str {
        match self {
            HeadKind::GlobalPoolLinear => "global_pool_linear",
            HeadKind::FullyConnectedStack => "fully_connected_stack",
            HeadKind::SingleLinear => "single_linear",
            HeadKind::AfterTransformer => "after_transformer",
            HeadKind::AfterRecurrent => "after_recurrent",
            HeadKind::LanguageModel => "language_model",
            HeadKind::Convolutional => "convolutional",
            HeadKind::NoLinear => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub kind: HeadKind,
    /// Paths of the Linear layers in the head, in order.
    pub linear_layers: Vec<String>,
    /// Parameters from the head's first pooling or Linear layer to the end (everything after a global
    /// pooling), tied tensors counted where they were first seen, as in the totals.
    pub params: u64,
    /// Head parameters that share another tensor's storage: (the parameter's path, the tensor it is
    /// tied to). A tied output projection's weight is counted once, at the embedding.
    pub tied: Vec<(String, String)>,
}

/// Names shown before the rest is only counted.
const NAMES_SHOWN: usize = 3;

impl Head {
    pub fn describe(&self) -> String {
        let n = self.linear_layers.len();
        let linear = |n: usize| format!("{n} Linear");
        match self.kind {
            HeadKind::GlobalPoolLinear => "global average pooling + 1 Linear".to_string(),
            HeadKind::FullyConnectedStack => format!("fully connected stack of {n} Linear"),
            HeadKind::SingleLinear => "1 Linear".to_string(),
            HeadKind::AfterTransformer => format!("{} after the last transformer block", linear(n)),
            HeadKind::AfterRecurrent => format!("{} after the last recurrent layer", linear(n)),
            HeadKind::LanguageModel => "language-model output projection".to_string(),
            HeadKind::Convolutional => {
                "convolutional (no Linear after the last convolution)".to_string()
            }
            HeadKind::NoLinear => "none (the model does not end in a Linear layer)".to_string(),
        }
    }

    /// The head's Linear layers, at most three named, then how many more: `a, b, c +2 more`.
    pub fn layers_text(&self) -> String {
        let shown = self.linear_layers.iter().take(NAMES_SHOWN).cloned();
        let mut text = shown.collect::<Vec<_>>().join(", ");
        let more = self.linear_layers.len().saturating_sub(NAMES_SHOWN);
        if more > 0 {
            text += &format!(" +{more} more");
        }
        text
    }

    /// `lm_head.weight is tied to transformer.wte.weight, counted once there`, for each tied
    /// parameter of the head (at most three named).
    pub fn tied_text(&self) -> Option<String> {
        if self.tied.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = self
            .tied
            .iter()
            .take(NAMES_SHOWN)
            .map(|(p, to)| format!("{p} is tied to {to}"))
            .collect();
        let more = self.tied.len().saturating_sub(NAMES_SHOWN);
        if more > 0 {
            parts.push(format!("+{more} more tied"));
        }
        Some(format!("{}, counted once there", parts.join(", ")))
    }
}

fn is_global_pool(node: &ModuleNode) -> bool {
    let pooling = node.type_name.contains("AvgPool") || node.type_name.contains("AdaptiveMaxPool");
    let to_one = node
        .outputs
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| o.shape.len() >= 3 && o.shape[2..].iter().all(|&d| d == 1));
    // Without a measured shape, an adaptive pool is taken as global: that is how heads use it.
    pooling && to_one.unwrap_or(node.type_name.starts_with("Adaptive"))
}

/// Layers of the body: after the last of them (or the last global pooling) comes the head.
fn is_body(role: Role) -> bool {
    matches!(
        role,
        Role::Attention | Role::FeedForward | Role::Experts | Role::Recurrent | Role::Convolution
    )
}

/// The layers after the model's body, in tree (definition) order. When a forward pass ran, leaves it
/// never called are left out: an auxiliary classifier registered after the last block (GoogLeNet's
/// `aux2`) runs only in training and is not the head.
pub fn find_head(root: &ModuleNode) -> Head {
    let roles = role::classify(root);
    let role_of = |n: &ModuleNode| roles.of(&n.path);
    let all = root.walk();
    // Only leaves count: a root whose output alone was recorded says nothing about which leaves ran,
    // and taking it as measured would filter every leaf out.
    let measured = all.iter().any(|(_, n)| n.is_leaf() && n.outputs.is_some());
    let leaves: Vec<&ModuleNode> = all
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.is_leaf() && (!measured || n.outputs.is_some()))
        .collect();
    let body_end = leaves
        .iter()
        .rposition(|n| is_body(role_of(n)) || is_global_pool(n));
    let start = match body_end {
        Some(i) => i + 1,
        // Neither convolutions nor blocks (an MLP): the trailing run of Linear and parameter-free layers.
        None => leaves
            .iter()
            .rposition(|n| role_of(n) != Role::Linear && !n.parameters.is_empty())
            .map_or(0, |i| i + 1),
    };
    let mut tail = &leaves[start..];
    // A Linear whose weight is tied to the embedding (a language model's output layer) is still a
    // Linear layer of the head, though its parameters are counted at the embedding.
    let is_head_linear = |n: &&ModuleNode| role_of(n) == Role::Linear && !n.parameters.is_empty();
    let mut linears: Vec<&ModuleNode> = tail.iter().copied().filter(is_head_linear).collect();
    let body_role = body_end.map(|i| role_of(leaves[i]));
    let transformer = matches!(
        body_role,
        Some(Role::Attention | Role::FeedForward | Role::Experts)
    );
    // Tensors listed in a file's own order (GGUF writes `output` before the blocks): a transformer's
    // output layer, named or shaped as one, is its head wherever it was listed.
    let listed_first: Vec<&ModuleNode>;
    if linears.is_empty() && transformer && !measured {
        listed_first = leaves
            .iter()
            .copied()
            .filter(is_head_linear)
            .filter(|n| {
                role::is_head_name(&n.name)
                    || n.name == "output"
                    || is_output_projection(root, &roles, n)
            })
            .collect();
        tail = &listed_first;
        linears = listed_first.clone();
    }
    let after_pool = body_end.is_some_and(|i| is_global_pool(leaves[i]));
    // Everything after a global pooling is the classifier (ConvNeXt's LayerNorm2d too); otherwise the
    // head starts at its first pooling or Linear layer: a block's last norm is not part of it.
    let head_start = if after_pool {
        0
    } else {
        tail.iter()
            .position(|n| role_of(n) == Role::Linear || n.type_name.contains("Pool"))
            .unwrap_or(tail.len())
    };
    let head = &tail[head_start..];
    let params = head.iter().map(|n| n.own_params()).sum();
    let tied = head
        .iter()
        .flat_map(|n| {
            n.parameters.iter().filter_map(|p| {
                let to = p.tied_to.clone()?;
                Some((full_name(n, &p.name), to))
            })
        })
        .collect();
    let conv_before = leaves.iter().any(|n| role_of(n) == Role::Convolution);
    let kind = match linears.len() {
        0 if conv_before && (body_role == Some(Role::Convolution) || after_pool) => {
            HeadKind::Convolutional
        }
        0 => HeadKind::NoLinear,
        1 if is_output_projection(root, &roles, linears[0]) => HeadKind::LanguageModel,
        _ if transformer => HeadKind::AfterTransformer,
        _ if body_role == Some(Role::Recurrent) => HeadKind::AfterRecurrent,
        1 if after_pool || tail.iter().any(|n| is_global_pool(n)) => HeadKind::GlobalPoolLinear,
        1 => HeadKind::SingleLinear,
        _ => HeadKind::FullyConnectedStack,
    };
    Head {
        kind,
        linear_layers: linears.iter().map(|n| n.path.clone()).collect(),
        params,
        tied,
    }
}

fn full_name(node: &ModuleNode, tensor: &str) -> String {
    if node.path.is_empty() {
        tensor.to_string()
    } else {
        format!("{}.{tensor}", node.path)
    }
}

/// A Linear onto the vocabulary: its weight is tied to an embedding's, or it has as many outputs as
/// the largest token embedding has rows.
fn is_output_projection(root: &ModuleNode, roles: &Roles, linear: &ModuleNode) -> bool {
    let embeddings: Vec<&ModuleNode> = root
        .walk()
        .into_iter()
        .map(|(_, n)| n)
        // By role, not class: a state dict's `wte` is only known to embed by its name.
        .filter(|n| roles.of(&n.path) == Role::Embedding)
        .collect();
    let weight_of = |n: &ModuleNode| {
        n.parameters
            .iter()
            .find(|p| p.name == "weight" && p.shape.len() == 2)
            .map(|p| (p.shape[0], p.shape[1], p.tied_to.clone()))
    };
    let Some((rows, cols, tied_to)) = weight_of(linear) else {
        return false;
    };
    if let Some(to) = tied_to {
        return embeddings
            .iter()
            .any(|e| to.starts_with(&format!("{}.", e.path)));
    }
    // Hugging Face's Conv1D stores its weight as (in, out).
    let outputs = if linear.type_name == "Conv1D" {
        cols
    } else {
        rows
    };
    let vocabulary = embeddings
        .iter()
        .filter_map(|e| weight_of(e).map(|w| w.0))
        .max();
    vocabulary.is_some_and(|v| v == outputs && v > 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::summary::{TensorRecord, TensorValue};

    fn leaf(path: &str, type_name: &str, output: Option<Vec<u64>>) -> ModuleNode {
        let mut n = ModuleNode::new(path, path, type_name);
        if type_name != "AdaptiveAvgPool2d" {
            n.parameters = vec![TensorRecord::new(
                "weight",
                vec![4, 4],
                DType::Float32,
                true,
            )];
        }
        n.outputs = output.map(|shape| {
            vec![TensorValue {
                shape,
                dtype: DType::Float32,
            }]
        });
        n
    }

    /// GoogLeNet's layout: an auxiliary classifier (convolution, two Linear) registered after the last
    /// block, never called in eval mode, then the real head.
    fn googlenet_like(measured: bool) -> ModuleNode {
        let out = |shape: &[u64]| measured.then(|| shape.to_vec());
        let mut root = ModuleNode::new("", "", "Net");
        root.children
            .push(leaf("conv", "Conv2d", out(&[1, 4, 7, 7])));
        let mut aux = ModuleNode::new("aux2", "aux2", "InceptionAux");
        aux.children = vec![
            leaf("aux2.conv", "Conv2d", None),
            leaf("aux2.fc1", "Linear", None),
            leaf("aux2.fc2", "Linear", None),
        ];
        root.children.push(aux);
        root.children
            .push(leaf("avgpool", "AdaptiveAvgPool2d", out(&[1, 4, 1, 1])));
        root.children.push(leaf("fc", "Linear", out(&[1, 4])));
        root
    }

    #[test]
    fn a_measured_forward_leaves_uncalled_layers_out_of_the_head() {
        let head = find_head(&googlenet_like(true));
        assert_eq!(head.kind, HeadKind::GlobalPoolLinear);
        assert_eq!(head.linear_layers, vec!["fc"]);
        assert_eq!(head.params, 16);
        // Without a forward pass only the definition order is known, but the global pooling still
        // marks where the body ends.
        let head = find_head(&googlenet_like(false));
        assert_eq!(head.linear_layers, vec!["fc"]);
    }

    #[test]
    fn a_model_ending_in_neither_convolution_nor_linear_has_no_head() {
        let mut root = ModuleNode::new("", "", "Net");
        root.children.push(leaf("lstm", "LSTM", None));
        let head = find_head(&root);
        assert_eq!(head.kind, HeadKind::NoLinear);
        assert!(head.describe().starts_with("none"), "{}", head.describe());
        // Convolutions then an LSTM (a CRNN without its classifier): the LSTM, not a conv, ends it.
        let mut root = ModuleNode::new("", "", "Net");
        root.children.push(leaf("conv", "Conv2d", None));
        root.children.push(leaf("lstm", "LSTM", None));
        assert_eq!(find_head(&root).kind, HeadKind::NoLinear);
        // A convolution's own BatchNorm after it leaves the head convolutional.
        let mut root = ModuleNode::new("", "", "Net");
        root.children.push(leaf("conv", "Conv2d", None));
        root.children.push(leaf("bn", "BatchNorm2d", None));
        assert_eq!(find_head(&root).kind, HeadKind::Convolutional);
    }

    /// ViT: a patchifying convolution, then transformer blocks whose Linears are the body, a final
    /// LayerNorm, and the classifier Linear.
    #[test]
    fn a_transformer_behind_a_patch_convolution_keeps_its_blocks_out_of_the_head() {
        let mut root = ModuleNode::new("", "", "VisionTransformer");
        for (path, type_name) in [
            ("conv_proj", "Conv2d"),
            ("ln_1", "LayerNorm"),
            ("mlp.0", "Linear"),
            ("mlp.3", "Linear"),
            ("ln", "LayerNorm"),
            ("head", "Linear"),
        ] {
            root.children.push(leaf(path, type_name, None));
        }
        let head = find_head(&root);
        // The classifier after the last block (its feed-forward `mlp.3` included) is the head.
        assert_eq!(head.kind, HeadKind::AfterTransformer);
        assert_eq!(head.linear_layers, vec!["head"]);
        // ConvNeXt: global pool, then a LayerNorm2d, then the Linear.
        let mut root = ModuleNode::new("", "", "ConvNeXt");
        for (path, type_name) in [
            ("block.0", "Conv2d"),
            ("block.3", "Linear"),
            ("avgpool", "AdaptiveAvgPool2d"),
            ("classifier.0", "LayerNorm2d"),
            ("classifier.2", "Linear"),
        ] {
            root.children.push(leaf(path, type_name, None));
        }
        let head = find_head(&root);
        assert_eq!(head.kind, HeadKind::GlobalPoolLinear);
        assert_eq!(head.linear_layers, vec!["classifier.2"]);
    }

    #[test]
    fn a_root_output_alone_does_not_hide_the_leaves() {
        let mut root = googlenet_like(false);
        root.outputs = Some(vec![TensorValue {
            shape: vec![1, 4],
            dtype: DType::Float32,
        }]);
        let head = find_head(&root);
        assert_eq!(head.linear_layers, vec!["fc"]);
        assert_eq!(head.kind, HeadKind::GlobalPoolLinear);
    }

    /// `(path, type, weight shape)` leaves under one root, measured or not.
    fn model(layers: &[(&str, &str, &[u64])]) -> ModuleNode {
        let mut root = ModuleNode::new("", "", "Net");
        for (path, ty, shape) in layers {
            let mut n = ModuleNode::new(path.rsplit('.').next().unwrap(), *path, *ty);
            if !shape.is_empty() {
                n.parameters = vec![TensorRecord::new(
                    "weight",
                    shape.to_vec(),
                    DType::Float32,
                    true,
                )];
            }
            root.children.push(n);
        }
        root
    }

    /// ViT-S has 49 Linear layers, all but one in its blocks: the head is the last alone.
    #[test]
    fn a_vision_transformer_head_is_what_follows_its_last_block() {
        let mut layers: Vec<(String, &str, Vec<u64>)> =
            vec![("patch_embed.proj".into(), "Conv2d", vec![8, 3, 4, 4])];
        for b in 0..12 {
            layers.push((format!("blocks.{b}.norm1"), "LayerNorm", vec![8]));
            layers.push((format!("blocks.{b}.attn.qkv"), "Linear", vec![24, 8]));
            layers.push((format!("blocks.{b}.attn.proj"), "Linear", vec![8, 8]));
            layers.push((format!("blocks.{b}.norm2"), "LayerNorm", vec![8]));
            layers.push((format!("blocks.{b}.mlp.fc1"), "Linear", vec![32, 8]));
            layers.push((format!("blocks.{b}.mlp.fc2"), "Linear", vec![8, 32]));
        }
        layers.push(("norm".into(), "LayerNorm", vec![8]));
        layers.push(("head".into(), "Linear", vec![10, 8]));
        let layers: Vec<(&str, &str, &[u64])> = layers
            .iter()
            .map(|(p, t, s)| (p.as_str(), *t, s.as_slice()))
            .collect();
        let head = find_head(&model(&layers));
        assert_eq!(head.linear_layers, vec!["head"]);
        assert_eq!(head.kind, HeadKind::AfterTransformer);
        assert_eq!(head.params, 80);
        assert_eq!(head.describe(), "1 Linear after the last transformer block");
    }

    /// ConvNeXt's last stage holds Linear layers (pointwise convolutions) after its last convolution;
    /// the head is what follows the global pooling: LayerNorm2d and the classifier.
    #[test]
    fn a_convnext_head_follows_its_global_pooling() {
        let head = find_head(&model(&[
            ("stage.dwconv", "Conv2d", &[8, 1, 7, 7]),
            ("stage.norm", "LayerNorm", &[8]),
            ("stage.pwconv1", "Linear", &[32, 8]),
            ("stage.pwconv2", "Linear", &[8, 32]),
            ("avgpool", "AdaptiveAvgPool2d", &[]),
            ("classifier.0", "LayerNorm2d", &[8]),
            ("classifier.2", "Linear", &[10, 8]),
        ]));
        assert_eq!(head.linear_layers, vec!["classifier.2"]);
        assert_eq!(head.kind, HeadKind::GlobalPoolLinear);
        assert_eq!(head.params, 8 + 80);
    }

    /// GPT-2's lm_head holds only the token embedding's weight: the head says so and counts nothing.
    #[test]
    fn a_tied_language_model_head_says_what_it_is_tied_to() {
        let mut root = model(&[
            ("transformer.wte", "Embedding", &[100, 8]),
            ("transformer.h.0.attn.c_attn", "Conv1D", &[8, 24]),
            ("transformer.h.0.mlp.c_fc", "Conv1D", &[8, 32]),
            ("transformer.ln_f", "LayerNorm", &[8]),
            ("lm_head", "Linear", &[100, 8]),
        ]);
        root.children[4].parameters[0].tied_to = Some("transformer.wte.weight".into());
        let head = find_head(&root);
        assert_eq!(head.kind, HeadKind::LanguageModel);
        assert_eq!(head.linear_layers, vec!["lm_head"]);
        assert_eq!(head.params, 0);
        assert_eq!(
            head.tied_text().unwrap(),
            "lm_head.weight is tied to transformer.wte.weight, counted once there"
        );
        // Untied, its outputs are the vocabulary: still the output projection.
        root.children[4].parameters[0].tied_to = None;
        assert_eq!(find_head(&root).kind, HeadKind::LanguageModel);
    }

    #[test]
    fn at_most_three_names_then_a_count() {
        let head = Head {
            kind: HeadKind::FullyConnectedStack,
            linear_layers: (1..=5).map(|i| format!("fc{i}")).collect(),
            params: 0,
            tied: vec![],
        };
        assert_eq!(head.layers_text(), "fc1, fc2, fc3 +2 more");
    }

    /// GGUF lists `output.weight` before the blocks: the head is still the output projection.
    #[test]
    fn a_head_listed_before_the_blocks_is_still_the_head() {
        let head = find_head(&model(&[
            ("token_embd", "Embedding", &[100, 8]),
            ("output_norm", "LayerNorm", &[8]),
            ("output", "Linear", &[100, 8]),
            ("blk.0.attn_q", "Linear", &[8, 8]),
            ("blk.0.ffn_up", "Linear", &[32, 8]),
        ]));
        assert_eq!(head.linear_layers, vec!["output"]);
        assert_eq!(head.kind, HeadKind::LanguageModel);
        assert_eq!(head.params, 800);
    }

    /// A state dict says nothing of classes: GPT-2's `wte` is inferred from its name, and is the
    /// token embedding whose vocabulary the output projection maps onto.
    #[test]
    fn a_name_only_language_model_finds_its_output_projection() {
        use crate::summary::infer::{NamedTensor, tree_from_named_tensors};
        let t = |name: &str, shape: &[u64]| NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: DType::Float32,
            requires_grad: true,
        };
        let root = tree_from_named_tensors(
            "StateDict",
            [
                t("transformer.wte.weight", &[100, 8]),
                t("transformer.h.0.attn.c_attn.weight", &[8, 24]),
                t("transformer.h.0.mlp.c_proj.weight", &[32, 8]),
                t("transformer.ln_f.weight", &[8]),
                t("lm_head.weight", &[100, 8]),
            ],
        );
        assert_eq!(root.find("transformer.wte").unwrap().type_name, "Embedding");
        let head = find_head(&root);
        assert_eq!(head.kind, HeadKind::LanguageModel);
        assert_eq!(head.linear_layers, vec!["lm_head"]);
    }
}
