//! The module tree of a recorded graph: module paths in the order the file lists them, the class each
//! ran as, and the parameters and buffers each owns by their dotted names. A module the graph never
//! ran in has no recorded class: its class is guessed from the names and shapes of its tensors, as
//! for a state dict, and counted so the reader can say so.

use crate::dtype::DType;
use crate::sources::torchscript::budget::{MODULE_COST, TreeBudget, tensor_cost};
use crate::summary::infer::{self, NamedTensor};
use crate::summary::{ModuleNode, TensorRecord};
use std::collections::HashMap;

/// Modules nest no deeper than this, as in the state-dict reader.
pub const MAX_DEPTH: usize = infer::MAX_DEPTH;
/// The most modules a tree may hold (as the TorchScript walk allows).
pub const MAX_MODULES: usize = 1 << 18;

/// A parameter or buffer by its full dotted name.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub requires_grad: bool,
    pub buffer: bool,
}

/// The tree, and how many of its modules' classes were guessed.
#[derive(Debug)]
pub struct Tree {
    pub root: ModuleNode,
    pub guessed_types: usize,
}

/// Builds the tree from module paths (`""` is the root) in their order, each one's qualified class
/// when the file records it (`torch.nn.modules.conv.Conv2d`), and the tensors. Ancestors missing from
/// the list are made just before their first descendant; modules that only own tensors come after
/// the listed ones.
pub fn module_tree(
    paths: &[String],
    types: &HashMap<String, String>,
    tensors: &[Tensor],
    ran: &dyn Fn(&str) -> bool,
    budget: &mut TreeBudget,
) -> Result<Tree, String> {
    let mut order: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let add = |path: &str,
               order: &mut Vec<String>,
               index: &mut HashMap<String, usize>,
               budget: &mut TreeBudget|
     -> Result<(), String> {
        if index.contains_key(path) {
            return Ok(());
        }
        let segments: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('.').collect()
        };
        if segments.len() > MAX_DEPTH {
            return Err(format!(
                "a module path of {} levels (at most {MAX_DEPTH} are read): a damaged or hostile file",
                segments.len()
            ));
        }
        for depth in 0..=segments.len() {
            let prefix = segments[..depth].join(".");
            if index.contains_key(&prefix) {
                continue;
            }
            if order.len() >= MAX_MODULES {
                return Err(format!(
                    "more than {MAX_MODULES} modules: a damaged or hostile file"
                ));
            }
            budget.charge(MODULE_COST + 2 * prefix.len())?;
            index.insert(prefix.clone(), order.len());
            order.push(prefix);
        }
        Ok(())
    };
    add("", &mut order, &mut index, budget)?;
    for p in paths {
        add(p, &mut order, &mut index, budget)?;
    }
    let owner_of = |name: &str| -> (String, String) {
        match name.rsplit_once('.') {
            Some((owner, local)) => (owner.to_string(), local.to_string()),
            None => (String::new(), name.to_string()),
        }
    };
    for t in tensors {
        let (owner, _) = owner_of(&t.name);
        add(&owner, &mut order, &mut index, budget)?;
    }

    let mut own: Vec<Vec<(String, &Tensor)>> = vec![Vec::new(); order.len()];
    for t in tensors {
        budget.charge(tensor_cost(t.shape.len()) + t.name.len())?;
        let (owner, local) = owner_of(&t.name);
        own[index[&owner]].push((local, t));
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    for (i, path) in order.iter().enumerate().skip(1) {
        let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
        children[index[parent]].push(i);
    }

    let mut guessed = 0;
    let mut nodes: Vec<Option<ModuleNode>> = Vec::with_capacity(order.len());
    for (i, path) in order.iter().enumerate() {
        let name = path.rsplit('.').next().unwrap_or("").to_string();
        let (type_name, qualified) = match types.get(path) {
            Some(q) => (display_type(q), Some(q.clone())),
            None => {
                guessed += 1;
                (
                    guess_type(&name, &own[i], &children[i], &order, ran(path)),
                    None,
                )
            }
        };
        let mut node = ModuleNode::new(name, path.clone(), type_name);
        node.qualified_type = qualified;
        for (local, t) in &own[i] {
            let record =
                TensorRecord::new(local.clone(), t.shape.clone(), t.dtype, t.requires_grad);
            if t.buffer {
                node.buffers.push(TensorRecord {
                    requires_grad: false,
                    ..record
                });
            } else {
                node.parameters.push(record);
            }
        }
        nodes.push(Some(node));
    }
    // Children were made after their parents: assemble from the last module back.
    for i in (0..order.len()).rev() {
        let kids: Vec<ModuleNode> = children[i]
            .iter()
            .filter_map(|&c| nodes[c].take())
            .collect();
        if let Some(node) = nodes[i].as_mut() {
            node.children = kids;
        }
    }
    let mut root = nodes[0].take().ok_or("the module tree has no root")?;
    infer::settle_container_kinds(&mut root);
    Ok(Tree {
        root,
        guessed_types: guessed,
    })
}

/// `torch.nn.modules.conv.Conv2d` → `Conv2d`; `transformers.models.bert.modeling_bert.BertModel` →
/// `BertModel`.
pub fn display_type(qualified: &str) -> String {
    qualified
        .rsplit('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(qualified)
        .to_string()
}

/// A class for a module the graph never ran in: from its tensors as a state dict would have it, a
/// `Sequential` (it ran) or `ModuleList` (it did not) for numbered children, a `ModuleDict` for named
/// ones of a module that never ran, else `Module`.
fn guess_type(
    name: &str,
    own: &[(String, &Tensor)],
    children: &[usize],
    order: &[String],
    ran: bool,
) -> String {
    if own.is_empty() {
        let numbered = !children.is_empty()
            && children.iter().all(|&c| {
                order[c]
                    .rsplit('.')
                    .next()
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
        // A module that ran holding numbered children is a Sequential; one that never ran and only
        // holds others is one its parent reaches into: a ModuleList or a ModuleDict.
        return match (ran, numbered, children.is_empty()) {
            (true, true, _) => "Sequential",
            (false, true, _) => "ModuleList",
            (false, false, false) => "ModuleDict",
            _ => "Module",
        }
        .into();
    }
    // The state-dict guesser names a module from its own name and tensors.
    let module = if name.is_empty() { "m" } else { name };
    let named = own.iter().map(|(local, t)| NamedTensor {
        name: format!("{module}.{local}"),
        shape: t.shape.clone(),
        dtype: t.dtype,
        requires_grad: t.requires_grad,
    });
    let guessed = infer::tree_from_named_tensors("Module", named);
    guessed
        .children
        .first()
        .map(|c| c.type_name.clone())
        .unwrap_or_else(|| "Module".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[u64], buffer: bool) -> Tensor {
        Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: DType::Float32,
            requires_grad: !buffer,
            buffer,
        }
    }

    #[test]
    fn paths_types_and_tensors_make_one_tree() {
        let paths: Vec<String> = ["", "conv", "blk", "blk.0", "head"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let types: HashMap<String, String> = [
            ("", "mine.Net"),
            ("conv", "torch.nn.modules.conv.Conv2d"),
            ("blk", "torch.nn.modules.container.Sequential"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let tensors = [
            t("conv.weight", &[8, 3, 3, 3], false),
            t("blk.0.weight", &[8], false),
            t("blk.0.running_mean", &[8], true),
            t("head.weight", &[10, 8], false),
            t("extra.list.0.weight", &[4, 4], false),
        ];
        let tree = module_tree(
            &paths,
            &types,
            &tensors,
            &|_| false,
            &mut TreeBudget::default(),
        )
        .unwrap();
        let root = tree.root;
        let listed: Vec<(String, String)> = root
            .walk()
            .iter()
            .map(|(_, n)| (n.path.clone(), n.type_name.clone()))
            .collect();
        let expect = [
            ("", "Net"),
            ("conv", "Conv2d"),
            ("blk", "Sequential"),
            ("blk.0", "BatchNorm"),
            ("head", "Linear"),
            ("extra", "ModuleDict"),
            ("extra.list", "ModuleList"),
            ("extra.list.0", "Linear"),
        ];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        assert_eq!(listed, expect);
        assert_eq!(tree.guessed_types, 5);
        let bn = root.find("blk.0").unwrap();
        assert_eq!((bn.parameters.len(), bn.buffers.len()), (1, 1));
        assert_eq!(
            root.find("conv").unwrap().qualified_type.as_deref(),
            Some("torch.nn.modules.conv.Conv2d")
        );
    }

    #[test]
    fn hostile_paths_are_bounded() {
        let deep = vec!["a"; 100].join(".");
        let e = module_tree(
            &[deep],
            &HashMap::new(),
            &[],
            &|_| false,
            &mut TreeBudget::default(),
        )
        .unwrap_err();
        assert!(e.contains("levels"), "{e}");
        let e = module_tree(
            &["x".repeat(1 << 20)],
            &HashMap::new(),
            &[],
            &|_| false,
            &mut TreeBudget::new(1 << 20),
        )
        .unwrap_err();
        assert!(e.contains("hostile"), "{e}");
    }
}
