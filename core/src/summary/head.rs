//! The head of a network: what follows its last convolution. A VGG ends in a stack of fully connected
//! layers (fc6, fc7, fc8); a ResNet ends in global average pooling and one Linear.

use super::{LayerKind, ModuleNode};

#[derive(Debug, Clone, PartialEq)]
pub enum HeadKind {
    /// Global (adaptive) average pooling down to one position, then a single Linear.
    GlobalPoolLinear,
    /// Several Linear layers after the last convolution (or in a model without convolutions).
    FullyConnectedStack,
    /// One Linear with no global pooling before it.
    SingleLinear,
    /// A convolution produces the output (SqueezeNet's final 1×1 conv).
    Convolutional,
    /// No convolution and no Linear at the end (a recurrent or attention layer produces the output).
    NoLinear,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub kind: HeadKind,
    /// Paths of the Linear layers in the head, in order.
    pub linear_layers: Vec<String>,
    /// Parameters from the head's first pooling or Linear layer to the end.
    pub params: u64,
}

impl Head {
    pub fn describe(&self) -> String {
        let n = self.linear_layers.len();
        match self.kind {
            HeadKind::GlobalPoolLinear => "global average pooling + 1 Linear".to_string(),
            HeadKind::FullyConnectedStack => format!("fully connected stack of {n} Linear"),
            HeadKind::SingleLinear => "1 Linear".to_string(),
            HeadKind::Convolutional => {
                "convolutional (no Linear after the last convolution)".to_string()
            }
            HeadKind::NoLinear => "none (the model does not end in a Linear layer)".to_string(),
        }
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

/// The layers after the model's last convolution, in tree (definition) order. When a forward pass
/// ran, leaves it never called are left out: an auxiliary classifier registered after the last block
/// (GoogLeNet's `aux2`) runs only in training and is not the head.
pub fn find_head(root: &ModuleNode) -> Head {
    let all = root.walk();
    // Only leaves count: a root whose output alone was recorded says nothing about which leaves ran,
    // and taking it as measured would filter every leaf out.
    let measured = all.iter().any(|(_, n)| n.is_leaf() && n.outputs.is_some());
    let leaves: Vec<&ModuleNode> = all
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.is_leaf() && (!measured || n.outputs.is_some()))
        .collect();
    // The head is the trailing run of Linear and parameter-free layers after the last convolution and
    // after the last other layer with parameters: a transformer's attention projections and
    // feed-forward Linears are its body, not its head, even behind a patchifying convolution (ViT,
    // ConvNeXt, Swin end in a norm, then the classifier).
    let last_conv = leaves
        .iter()
        .rposition(|n| n.kind == LayerKind::Convolution);
    let last_body = leaves
        .iter()
        .rposition(|n| n.kind != LayerKind::Linear && !n.parameters.is_empty());
    let start = last_conv.max(last_body).map_or(0, |i| i + 1);
    let tail = &leaves[start..];
    // A Linear whose weight is tied to the embedding (a language model's output layer) is still a
    // Linear layer of the head, though its parameters are counted at the embedding.
    let linear_layers: Vec<String> = tail
        .iter()
        .filter(|n| n.kind == LayerKind::Linear && !n.parameters.is_empty())
        .map(|n| n.path.clone())
        .collect();
    // The head starts at the first pooling or Linear layer: a block's last BatchNorm is not part of it.
    let head_start = tail
        .iter()
        .position(|n| n.kind == LayerKind::Linear || n.type_name.contains("Pool"))
        .unwrap_or(tail.len());
    let params = tail[head_start..].iter().map(|n| n.own_params()).sum();
    let after_conv = &leaves[last_conv.map_or(0, |i| i + 1)..];
    // A recurrent or attention layer after the last convolution (a CRNN's LSTM) produces the output,
    // not the convolution.
    let sequence_layer_last = after_conv
        .iter()
        .any(|n| matches!(n.kind, LayerKind::Recurrent | LayerKind::Attention));
    // A global pool after the last convolution makes a single Linear a GAP head, also when a norm
    // sits between them (ConvNeXt: pool, LayerNorm2d, Linear).
    let kind = match linear_layers.len() {
        0 if last_conv.is_some() && !sequence_layer_last => HeadKind::Convolutional,
        0 => HeadKind::NoLinear,
        1 if after_conv.iter().any(|n| is_global_pool(n)) => HeadKind::GlobalPoolLinear,
        1 => HeadKind::SingleLinear,
        _ => HeadKind::FullyConnectedStack,
    };
    Head {
        kind,
        linear_layers,
        params,
    }
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
        // Without a forward pass only the definition order is known.
        let head = find_head(&googlenet_like(false));
        assert_eq!(head.linear_layers, vec!["aux2.fc1", "aux2.fc2", "fc"]);
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
        assert_eq!(head.kind, HeadKind::SingleLinear);
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
        assert_eq!(head.linear_layers, vec!["aux2.fc1", "aux2.fc2", "fc"]);
        assert_eq!(head.kind, HeadKind::FullyConnectedStack);
    }
}
