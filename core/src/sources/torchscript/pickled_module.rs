//! Whole models pickled with `torch.save(model)`: the module tree from the pickled objects themselves.
//!
//! Python pickles an `nn.Module` as its class (a global, never imported here) and its `__dict__`:
//! `_parameters`, `_buffers` and `_modules` hold what `named_parameters()`, `named_buffers()` and
//! `named_modules()` walk, in registration order; parameters are `torch._utils._rebuild_parameter`
//! calls, which carry `requires_grad`. So the tree, the class names, trainable and frozen parameters
//! and the buffers are exact, as for TorchScript, without running anything. Other attributes (a
//! Hugging Face model's `config`, plain Python values) are left out.
//!
//! A module shared by two parents is shown under both, as the TorchScript walk shows it; its tensors
//! are tied by their storage and counted once, as `parameters()` counts them. A module whose class
//! pickles its own state (`__getstate__`, as quantized layers do) is shown without tensors, with a
//! note. Bounds are the TorchScript walk's ([`super::walk::WalkLimits`]) and the tree budget.

use super::budget::{ByteTally, MODULE_COST, TieCost, TreeBudget, tensor_cost};
use super::pickle::{ObjId, Object, Pickle, Value};
use super::tensors::{StorageView, tensor};
use super::walk::WalkLimits;
use crate::summary::infer::settle_container_kinds;
use crate::summary::{ModuleNode, TensorRecord};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// How far into a checkpoint's dicts to look for a pickled model, and how many dicts at most.
const MAX_SEARCH_DEPTH: usize = 4;
const MAX_SEARCHED_DICTS: usize = 10_000;

/// The tree, each tensor's storage view by its full path, and what the tree leaves out.
pub struct PickledModule {
    pub root: ModuleNode,
    pub views: HashMap<String, StorageView>,
    pub notes: Vec<String>,
}

/// The pickled model in `p`: the root object when it is a module, else the first module found in a
/// checkpoint's dicts (breadth first), with the keys that lead to it (`['model']`).
pub fn find(p: &Pickle) -> Option<(&Value, Option<String>)> {
    if module_state(p, &p.root).is_some() {
        return Some((&p.root, None));
    }
    let mut seen: HashSet<ObjId> = HashSet::new();
    let mut queue: VecDeque<(&Value, Vec<&str>)> = VecDeque::from([(&p.root, Vec::new())]);
    while let Some((value, at)) = queue.pop_front() {
        let Some(entries) = p.entries(value) else {
            continue;
        };
        for (k, v) in entries {
            let (Some(k), Value::Ref(id)) = (k.as_str(), v) else {
                continue;
            };
            if seen.len() >= MAX_SEARCHED_DICTS || !seen.insert(*id) {
                continue;
            }
            let mut keys = at.clone();
            keys.push(k);
            if module_state(p, v).is_some() {
                return Some((v, Some(keys.iter().map(|k| format!("['{k}']")).collect())));
            }
            if keys.len() < MAX_SEARCH_DEPTH && p.entries(v).is_some() {
                queue.push_back((v, keys));
            }
        }
    }
    None
}

/// The `__dict__` entries of a pickled `nn.Module`: an object whose state names `_modules` and
/// `_parameters`.
fn module_state<'p>(p: &'p Pickle, value: &Value) -> Option<&'p [(Value, Value)]> {
    let Some(Object::Instance {
        state: Some(state), ..
    }) = p.object(value)
    else {
        return None;
    };
    let entries = p.entries(state)?;
    let has = |key: &str| entries.iter().any(|(k, _)| k.as_str() == Some(key));
    (has("_modules") && has("_parameters")).then_some(entries)
}

pub fn module_tree(p: &Pickle, root: &Value, limits: WalkLimits) -> Result<PickledModule, String> {
    let mut w = Walker {
        p,
        limits,
        modules: 0,
        tensors: 0,
        attributes: 0,
        on_path: Vec::new(),
        views: HashMap::new(),
        tree: TreeBudget::new(limits.max_tree_bytes),
        ties: TieCost::default(),
        bytes: ByteTally::default(),
        stateful: BTreeMap::new(),
    };
    let mut root = w.module(root, "", "")?;
    w.ties.charge(&mut w.tree)?;
    settle_container_kinds(&mut root);
    let mut notes = Vec::new();
    for (class, (count, first)) in &w.stateful {
        let which = match count {
            1 => format!("module {first}"),
            n => format!("{n} modules (first {first})"),
        };
        notes.push(format!(
            "{which} of class {class} pickles its own state (__getstate__); its tensors are not counted"
        ));
    }
    Ok(PickledModule {
        root,
        views: w.views,
        notes,
    })
}

struct Walker<'a> {
    p: &'a Pickle,
    limits: WalkLimits,
    modules: usize,
    tensors: usize,
    /// Entries of modules' `__dict__`s and tensor dicts looked at: bounds the work when a shared
    /// module with a large `__dict__` is revisited.
    attributes: usize,
    /// Modules between the root and the one being read, to refuse cycles.
    on_path: Vec<ObjId>,
    views: HashMap<String, StorageView>,
    tree: TreeBudget,
    ties: TieCost,
    bytes: ByteTally,
    /// Modules whose state is not a `__dict__`, by class: how many, and the path of the first.
    stateful: BTreeMap<String, (usize, String)>,
}

impl Walker<'_> {
    fn module(&mut self, value: &Value, name: &str, path: &str) -> Result<ModuleNode, String> {
        let at = || {
            if path.is_empty() {
                "the root module".to_string()
            } else {
                format!("module {path}")
            }
        };
        let Value::Ref(id) = value else {
            return Err(format!("{} is not an object", at()));
        };
        if self.on_path.contains(id) {
            return Err(format!("{} contains itself", at()));
        }
        if self.on_path.len() >= self.limits.max_depth {
            return Err(format!(
                "modules nested deeper than {} levels",
                self.limits.max_depth
            ));
        }
        self.modules += 1;
        if self.modules > self.limits.max_modules {
            return Err(format!("more than {} modules", self.limits.max_modules));
        }
        let Some(Object::Instance { callable, .. }) = self.p.object(value) else {
            return Err(format!("{} is not a pickled object", at()));
        };
        let (module, class) = self.p.global(callable).unwrap_or(("", "Module"));
        self.tree
            .charge(MODULE_COST + name.len() + 2 * path.len() + module.len() + 2 * class.len())?;
        let mut node = ModuleNode::new(name, path, class);
        if !module.is_empty() {
            node.qualified_type = Some(format!("{module}.{class}"));
        }
        let Some(entries) = module_state(self.p, value) else {
            // A module that pickles its own state (quantized layers): shown, tensors not counted.
            let qualified = node.qualified_type.clone().unwrap_or_else(|| class.into());
            let shown = if path.is_empty() { "(root)" } else { path };
            match self.stateful.get_mut(&qualified) {
                Some((count, _)) => *count += 1,
                None => {
                    self.tree.charge(qualified.len() + shown.len())?;
                    self.stateful.insert(qualified, (1, shown.to_string()));
                }
            }
            return Ok(node);
        };
        self.look_at(entries.len())?;
        self.on_path.push(*id);
        for (key, v) in entries {
            match key.as_str() {
                Some("_parameters") => self.tensors_of(v, &mut node, true)?,
                Some("_buffers") => self.tensors_of(v, &mut node, false)?,
                _ => {}
            }
        }
        if let Some((_, children)) = entries.iter().find(|(k, _)| k.as_str() == Some("_modules")) {
            let children = self.p.entries(children).unwrap_or_default();
            self.look_at(children.len())?;
            for (key, child) in children {
                let Some(child_name) = key.as_str() else {
                    return Err(format!("{} has a child whose name is not a string", at()));
                };
                // `register_module(name, None)` leaves a placeholder that named_modules() skips.
                if *child == Value::None {
                    continue;
                }
                self.tree.charge(path.len() + 1 + child_name.len())?;
                let child_path = node.child_path(child_name);
                if module_state(self.p, child).is_none()
                    && !matches!(self.p.object(child), Some(Object::Instance { .. }))
                {
                    return Err(format!("{child_path} in _modules is not a module"));
                }
                let child = self.module(child, child_name, &child_path)?;
                node.children.push(child);
            }
        }
        self.on_path.pop();
        Ok(node)
    }

    fn look_at(&mut self, entries: usize) -> Result<(), String> {
        self.attributes = self.attributes.saturating_add(entries);
        if self.attributes > self.limits.max_attributes {
            return Err(format!(
                "more than {} module attributes in total",
                self.limits.max_attributes
            ));
        }
        Ok(())
    }

    /// The entries of a `_parameters` or `_buffers` dict, unset ones (`bias=None`) left out as
    /// `named_parameters()` leaves them out.
    fn tensors_of(
        &mut self,
        dict: &Value,
        node: &mut ModuleNode,
        params: bool,
    ) -> Result<(), String> {
        let Some(entries) = self.p.entries(dict) else {
            return Ok(());
        };
        self.look_at(entries.len())?;
        for (key, value) in entries {
            let Some(attr) = key.as_str() else {
                return Err(format!(
                    "module {} has a tensor whose name is not a string",
                    node.path
                ));
            };
            if *value == Value::None {
                continue;
            }
            self.tree.charge(node.path.len() + 1 + attr.len() * 2)?;
            let full = node.child_path(attr);
            let Some(t) = tensor(self.p, value).map_err(|e| format!("{full}: {e}"))? else {
                return Err(format!(
                    "{full} is registered as a {} but is not a tensor",
                    if params { "parameter" } else { "buffer" }
                ));
            };
            self.tensors += 1;
            if self.tensors > self.limits.max_tensors {
                return Err(format!("more than {} tensors", self.limits.max_tensors));
            }
            self.bytes.add(&t).map_err(|e| format!("{full}: {e}"))?;
            self.tree.charge(tensor_cost(t.shape.len()))?;
            self.ties.add(&t.view, full.len());
            self.views.insert(full, t.view);
            let record = TensorRecord::new(attr, t.shape, t.dtype, t.requires_grad && params);
            if params {
                node.parameters.push(record);
            } else {
                node.buffers.push(record);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend((k.len() as u32).to_le_bytes());
        v.extend(k.as_bytes());
        v
    }

    /// `m = M(); m._parameters = {}; m._modules = {'a': m}`: a module that holds itself.
    #[test]
    fn a_module_that_contains_itself_is_an_error() {
        let mut p = b"\x80\x02c__main__\nM\nq\x00)\x81q\x01}(".to_vec();
        p.extend(key("_parameters"));
        p.extend(b"}");
        p.extend(key("_modules"));
        p.extend(b"}");
        p.extend(key("a"));
        p.extend(b"h\x01sub.");
        let pk = Pickle::parse(&p).unwrap();
        let (root, at) = find(&pk).unwrap();
        assert!(at.is_none());
        let e = module_tree(&pk, root, WalkLimits::default()).err().unwrap();
        assert!(e.contains("contains itself"), "{e}");
    }

    /// `{'epoch': 1, 'model': M()}` finds the model under its key.
    #[test]
    fn a_model_inside_a_checkpoint_is_found() {
        let mut p = b"\x80\x02}(".to_vec();
        p.extend(key("epoch"));
        p.extend(b"K\x01");
        p.extend(key("model"));
        p.extend(b"c__main__\nNet\n)\x81}(");
        p.extend(key("_parameters"));
        p.extend(b"}");
        p.extend(key("_buffers"));
        p.extend(b"}");
        p.extend(key("_modules"));
        p.extend(b"}ubu.");
        let pk = Pickle::parse(&p).unwrap();
        let (root, at) = find(&pk).unwrap();
        assert_eq!(at.as_deref(), Some("['model']"));
        let m = module_tree(&pk, root, WalkLimits::default()).ok().unwrap();
        assert_eq!(m.root.type_name, "Net");
        assert_eq!(m.root.qualified_type.as_deref(), Some("__main__.Net"));
        // A plain dict of tensors is no module.
        let pk = Pickle::parse(b"\x80\x02}.").unwrap();
        assert!(find(&pk).is_none());
    }
}
