//! A module tree from tensors known only by their dotted names (`layer1.0.bn1.running_mean`), with each
//! module's class guessed from the names and shapes of the tensors it owns.
//!
//! Used where no class information exists: `torch.save` state dicts and `tch` `VarStore`s. The guesses are
//! the usual PyTorch layouts: a 4-D `weight` is a `Conv2d`, a 2-D `weight` a `Linear` (an `Embedding` when
//! the module's name says so), `running_mean`/`running_var` make a `BatchNorm`, `in_proj_weight` a
//! `MultiheadAttention`, `weight_ih_l0` an `LSTM`/`GRU`/`RNN` by its gate count. A summary built this way
//! should carry [`TYPES_INFERRED_NOTE`].

use super::{LayerKind, ModuleNode, TensorRecord};
use crate::dtype::DType;
use std::collections::HashMap;

/// What a summary built from names alone says about itself.
pub const TYPES_INFERRED_NOTE: &str =
    "module types were inferred from tensor names and shapes (no class names were recorded)";

/// Deeper names keep their remaining segments in the tensor's own name, so hostile names cannot nest
/// the tree without bound.
pub const MAX_DEPTH: usize = 64;

/// A tensor known by its full dotted name.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub requires_grad: bool,
}

/// Buffer names PyTorch's own layers use; any tensor of an integer or boolean dtype is a buffer too,
/// since parameters must be floating point.
pub fn is_buffer(local_name: &str, dtype: DType) -> bool {
    matches!(
        local_name,
        "running_mean" | "running_var" | "num_batches_tracked"
    ) || !(dtype.is_floating_point()
        || matches!(
            dtype,
            DType::ComplexHalf | DType::Complex64 | DType::Complex128
        ))
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
        let module_depth = (segments.len() - 1).min(MAX_DEPTH);
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

/// What the walk has seen so far: a BatchNorm's dimensionality follows the layer before it.
#[derive(Default)]
struct Context {
    /// Spatial dimensions of the last convolution (1, 2, 3), or 0 after a Linear.
    last_spatial_dims: Option<usize>,
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
    for (local, t) in &d.tensors {
        let record = TensorRecord::new(local.clone(), t.shape.clone(), t.dtype, t.requires_grad);
        if is_buffer(local, t.dtype) {
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
    if let (Some(ih), Some(hh)) = (shape("weight_ih_l0"), shape("weight_hh_l0")) {
        let hidden = hh.get(1).copied().unwrap_or(0);
        let gates = ih
            .first()
            .copied()
            .unwrap_or(0)
            .checked_div(hidden)
            .unwrap_or(0);
        return match gates {
            4 => "LSTM",
            3 => "GRU",
            _ => "RNN",
        }
        .into();
    }
    if has("running_mean") || has("running_var") {
        return match context.last_spatial_dims {
            Some(0) => "BatchNorm1d".into(),
            Some(d @ 1..=3) => format!("BatchNorm{d}d"),
            _ => "BatchNorm".into(),
        };
    }
    match shape("weight").map(<[u64]>::len) {
        Some(rank @ 3..=5) => {
            let d = rank - 2;
            context.last_spatial_dims = Some(d);
            format!("Conv{d}d")
        }
        Some(2) if !has("bias") && lower.contains("emb") => "Embedding".into(),
        Some(2) => {
            context.last_spatial_dims = Some(0);
            "Linear".into()
        }
        Some(1) if lower.contains("group") || lower.starts_with("gn") => "GroupNorm".into(),
        Some(1) => "LayerNorm".into(),
        _ if tensors.is_empty() && indexed_children => "Sequential".into(),
        _ => "Module".into(),
    }
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
        let types: Vec<_> = root
            .walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
            .collect();
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
        let expect: Vec<_> = expect
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        assert_eq!(types, expect);
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
}
