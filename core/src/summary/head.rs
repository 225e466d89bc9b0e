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
    /// A convolution produces the output (SqueezeNet's final 1×1 conv), or there is no Linear at the end.
    Convolutional,
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

/// The layers after the model's last convolution, in tree (definition) order.
pub fn find_head(root: &ModuleNode) -> Head {
    let leaves: Vec<&ModuleNode> = root
        .walk()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.is_leaf())
        .collect();
    // Without a convolution, the head is the trailing run of Linear and parameter-free layers: a
    // transformer's attention projections and feed-forward Linears are its body, not its head.
    let start = match leaves
        .iter()
        .rposition(|n| n.kind == LayerKind::Convolution)
    {
        Some(i) => i + 1,
        None => leaves
            .iter()
            .rposition(|n| n.kind != LayerKind::Linear && !n.parameters.is_empty())
            .map_or(0, |i| i + 1),
    };
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
    let kind = match linear_layers.len() {
        0 => HeadKind::Convolutional,
        1 if tail.iter().any(|n| is_global_pool(n)) => HeadKind::GlobalPoolLinear,
        1 => HeadKind::SingleLinear,
        _ => HeadKind::FullyConnectedStack,
    };
    Head {
        kind,
        linear_layers,
        params,
    }
}
