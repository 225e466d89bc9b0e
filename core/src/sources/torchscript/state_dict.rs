//! `torch.save` checkpoints: a state dict (an `OrderedDict` of dotted name → tensor), either at the top of
//! `data.pkl` or inside a training checkpoint (`{"model": state_dict, "optimizer": …, "epoch": 3}`). No
//! classes are stored, so the tree comes from the names and the types are inferred.

use super::budget::{ByteTally, MODULE_COST, TieCost, TreeBudget, tensor_cost};
use super::pickle::{ObjId, Object, Pickle, Value};
use super::tensors::{StorageView, TensorInfo, tensor};
use crate::summary::ModuleNode;
use crate::summary::infer::{self, NamedTensor, TYPES_INFERRED_NOTE, tree_from_named_tensors};
use std::collections::{HashMap, HashSet, VecDeque};

/// How far into a checkpoint's nested dicts to look for the state dict, and how many dicts at most.
const MAX_SEARCH_DEPTH: usize = 4;
const MAX_SEARCHED_DICTS: usize = 10_000;
/// The longest tuple or list looked into for tensors. PyTorch's own are pairs (a quantized Linear's
/// `(weight, bias)`); the bound keeps the work linear when one long tuple is shared by every entry.
const MAX_SEQUENCE_ITEMS: usize = 64;

/// The root type shown for a state dict, whose model class is not recorded.
pub const ROOT_TYPE: &str = "StateDict";

pub const TRAINABLE_ASSUMED_NOTE: &str =
    "a state dict does not record requires_grad: every parameter is counted as trainable";

pub struct StateDict {
    pub root: ModuleNode,
    pub views: HashMap<String, StorageView>,
    pub notes: Vec<String>,
}

pub fn state_dict_tree(p: &Pickle) -> Result<StateDict, String> {
    let mut tree = TreeBudget::default();
    let Some(found) = find_state_dict(p, &mut tree)? else {
        return Err(match p.call(&p.root) {
            Some(((module, name), _)) if (module, name) != ("collections", "OrderedDict") => {
                format!(
                    "data.pkl holds a pickled Python object ({module}.{name}), not a state dict; tchinfo reads \
                 TorchScript files (torch.jit.save) and state dicts (torch.save(model.state_dict()))"
                )
            }
            _ => "data.pkl holds no tensors: not a state dict".to_string(),
        });
    };
    let mut notes = vec![TYPES_INFERRED_NOTE.to_string()];
    let tensors = found.tensors;
    if let Some(key) = found.keys {
        let mut note = format!("the tensors are the checkpoint's entry {key}");
        match found.left_at_top {
            0 => {}
            1 => note.push_str(" (1 tensor beside it at the top level is not counted)"),
            n => note.push_str(&format!(
                " ({n} tensors beside it at the top level are not counted)"
            )),
        }
        notes.push(note);
    }
    let mut bytes = ByteTally::default();
    let mut ties = TieCost::default();
    for (name, t) in &tensors {
        bytes.add(t).map_err(|e| format!("{name}: {e}"))?;
        ties.add(&t.view, name.len());
    }
    ties.charge(&mut tree)?;
    tree.charge(module_count(&tensors).saturating_mul(MODULE_COST))?;
    let any_recorded = tensors.iter().any(|(_, t)| t.requires_grad);
    if !any_recorded {
        notes.push(TRAINABLE_ASSUMED_NOTE.to_string());
    }
    let mut views = HashMap::with_capacity(tensors.len());
    let named: Vec<NamedTensor> = tensors
        .into_iter()
        .map(|(name, t)| {
            let named = NamedTensor {
                name: name.clone(),
                shape: t.shape,
                dtype: t.dtype,
                requires_grad: t.requires_grad || !any_recorded,
            };
            views.insert(name, t.view);
            named
        })
        .collect();
    Ok(StateDict {
        root: tree_from_named_tensors(ROOT_TYPE, named),
        views,
        notes,
    })
}

type Tensors = Vec<(String, TensorInfo)>;

/// Where the tensors were found.
struct Found {
    /// The keys that lead to the dict, as `['model']`; `None` for the top level.
    keys: Option<String>,
    tensors: Tensors,
    /// Tensors at the top level left out because a nested dict holds more (`best_acc1`, `loss`).
    left_at_top: usize,
}

/// The dict with the most tensors: nested dicts are always searched, since training checkpoints keep
/// small tensors (`best_acc1`, `rng_state`) at the top next to `{'state_dict': …}`; the top level wins
/// only when it holds at least as many as the best nested dict. Every tensor name looked at is charged
/// to `tree`, whichever dict it sits in.
fn find_state_dict(p: &Pickle, tree: &mut TreeBudget) -> Result<Option<Found>, String> {
    let top = tensor_entries(p, &p.root, tree)?;
    // Keys are kept as references and spelled out for the winner only: a long key shared by thousands
    // of nested dicts must not be copied into each of their paths.
    let mut best: Option<(Vec<&str>, Tensors)> = None;
    // Each dict is scanned once however many entries share it, so the work stays linear in the pickle.
    let mut scanned: HashSet<ObjId> = HashSet::new();
    if let Value::Ref(id) = p.root {
        scanned.insert(id);
    }
    let mut queue: VecDeque<(&Value, Vec<&str>)> = VecDeque::from([(&p.root, Vec::new())]);
    while let Some((value, at)) = queue.pop_front() {
        let Some(entries) = p.entries(value) else {
            continue;
        };
        for (k, v) in entries {
            let (Some(k), Value::Ref(id)) = (k.as_str(), v) else {
                continue;
            };
            if p.entries(v).is_none() || scanned.len() >= MAX_SEARCHED_DICTS || !scanned.insert(*id)
            {
                continue;
            }
            let mut keys = at.clone();
            keys.push(k);
            let found = tensor_entries(p, v, tree)?;
            if found.len() > best.as_ref().map_or(0, |b| b.1.len()) {
                best = Some((keys.clone(), found));
            }
            if keys.len() < MAX_SEARCH_DEPTH {
                queue.push_back((v, keys));
            }
        }
    }
    Ok(match best {
        Some((keys, tensors)) if tensors.len() > top.len() => Some(Found {
            keys: Some(keys.iter().map(|k| format!("['{k}']")).collect()),
            tensors,
            left_at_top: top.len(),
        }),
        _ if !top.is_empty() => Some(Found {
            keys: None,
            tensors: top,
            left_at_top: 0,
        }),
        _ => None,
    })
}

/// The string-keyed tensor entries of a dict or `OrderedDict`; a repeated key keeps its first place and
/// its last value, as a Python dict would. Tensors in a tuple or list (a quantized Linear keeps
/// `_packed_params._packed_params = (weight, bias)`) are named by their place: `name.0`, `name.1`.
fn tensor_entries(p: &Pickle, value: &Value, tree: &mut TreeBudget) -> Result<Tensors, String> {
    let Some(entries) = p.entries(value) else {
        return Ok(Vec::new());
    };
    if let Some(Object::Instance { callable, .. }) = p.object(value)
        && p.global(callable) != Some(("collections", "OrderedDict"))
    {
        return Ok(Vec::new());
    }
    let mut out: Tensors = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Charged per entry of every dict scanned, before the entry is kept; the name is charged before
    // it is scanned or copied, so a long name repeated through the memo is refused unread.
    let mut keep = |tree: &mut TreeBudget, name: &str, t: TensorInfo| -> Result<(), String> {
        charge_name(tree, name)?;
        tree.charge(tensor_cost(t.shape.len()))?;
        match index.get(name) {
            Some(&i) => out[i].1 = t,
            None => {
                index.insert(name.to_string(), out.len());
                out.push((name.to_string(), t));
            }
        }
        Ok(())
    };
    for (k, v) in entries {
        let Some(name) = k.as_str() else { continue };
        if let Some(t) = tensor(p, v).map_err(|e| format!("{name}: {e}"))? {
            keep(tree, name, t)?;
            continue;
        }
        let Some(items) = p.sequence(v).filter(|s| s.len() <= MAX_SEQUENCE_ITEMS) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(t) = tensor(p, item).map_err(|e| format!("{name}.{i}: {e}"))? else {
                continue;
            };
            let digits = i.checked_ilog10().unwrap_or(0) as usize + 1;
            // The element's name is made here: its length is charged before it is.
            tree.charge(name.len() + 1 + digits)?;
            keep(tree, &format!("{name}.{i}"), t)?;
        }
    }
    Ok(out)
}

/// What a tensor name costs the tree built from it: the name is scanned, hashed and kept, and each of its
/// module segments (at most [`infer::MAX_DEPTH`]) keeps a path that is a prefix of it. The length is
/// charged before the name is scanned, so a long name repeated through the memo is refused unread.
fn charge_name(tree: &mut TreeBudget, name: &str) -> Result<(), String> {
    tree.charge(name.len())?;
    let modules = name
        .bytes()
        .filter(|&b| b == b'.')
        .count()
        .min(infer::MAX_DEPTH);
    tree.charge(name.len().saturating_mul(modules + 1))
}

/// The modules the tree will have: the distinct dotted prefixes of the names, as far as the tree nests.
/// Hashing them costs what [`charge_name`] charged.
fn module_count(tensors: &Tensors) -> usize {
    let mut prefixes: HashSet<&str> = HashSet::new();
    for (name, _) in tensors {
        for (at, _) in name.match_indices('.').take(infer::MAX_DEPTH) {
            prefixes.insert(&name[..at]);
        }
    }
    prefixes.len()
}
