//! `torch.save` checkpoints: a state dict (an `OrderedDict` of dotted name → tensor), either at the top of
//! `data.pkl` or inside a training checkpoint (`{"model": state_dict, "optimizer": …, "epoch": 3}`). No
//! classes are stored, so the tree comes from the names and the types are inferred.

use super::budget::{
    ByteTally, MODULE_COST, TieCost, TreeBudget, charge_name, module_count, tensor_cost,
};
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

/// A state dict's tensors before they become a tree: for readers that merge several files.
pub struct StateDictTensors {
    pub tensors: Vec<NamedTensor>,
    pub views: HashMap<String, StorageView>,
    pub notes: Vec<String>,
}

pub fn state_dict_tree(p: &Pickle) -> Result<StateDict, String> {
    let found = state_dict_tensors(p, &mut TreeBudget::default())?;
    Ok(StateDict {
        root: tree_from_named_tensors(ROOT_TYPE, found.tensors),
        views: found.views,
        notes: found.notes,
    })
}

/// The state dict's tensors, every name, record and module charged to `tree`.
pub fn state_dict_tensors(p: &Pickle, tree: &mut TreeBudget) -> Result<StateDictTensors, String> {
    let Some(found) = find_state_dict(p, tree)? else {
        return Err(match p.call(&p.root) {
            Some(((module, name), _)) if (module, name) != ("collections", "OrderedDict") => {
                format!(
                    "data.pkl holds a pickled Python object ({module}.{name}), not a state dict or a module; tchinfo reads \
                 TorchScript files (torch.jit.save), state dicts (torch.save(model.state_dict())) and pickled models (torch.save(model))"
                )
            }
            _ => "data.pkl holds no tensors: not a state dict".to_string(),
        });
    };
    let mut notes = vec![TYPES_INFERRED_NOTE.to_string()];
    let any_recorded = found.scan.requires_grad_recorded;
    if let Some(key) = &found.keys {
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
    if let Some((key, class)) = &found.scan.first_opaque {
        let n = found.scan.opaque;
        let which = match n {
            1 => format!("entry {key} is an opaque TorchScript object"),
            n => format!("{n} entries are opaque TorchScript objects (first {key})"),
        };
        notes.push(format!(
            "{which} of class {class}: tensors inside are not counted"
        ));
    }
    if found.scan.packed > 0 {
        notes.push(PACKED_NOTE.to_string());
    }
    let tensors = found.scan.tensors;
    let mut bytes = ByteTally::default();
    let mut ties = TieCost::default();
    for (name, t) in &tensors {
        bytes.add(t).map_err(|e| format!("{name}: {e}"))?;
        ties.add(&t.view, name.len());
    }
    ties.charge(tree)?;
    tree.charge(module_count(tensors.iter().map(|(n, _)| n.as_str())).saturating_mul(MODULE_COST))?;
    if !any_recorded {
        let frozen = tensors
            .iter()
            .any(|(n, t)| t.dtype.is_quantized() || infer::is_packed_name(n));
        notes.push(if frozen {
            format!("{TRAINABLE_ASSUMED_NOTE}, quantized and packed weights (which cannot be trained) as frozen")
        } else {
            TRAINABLE_ASSUMED_NOTE.to_string()
        });
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
    Ok(StateDictTensors {
        tensors: named,
        views,
        notes,
    })
}

/// What a summary with dynamic-quantized layers says about their weights.
pub const PACKED_NOTE: &str = "dynamic-quantized layers keep their weights packed (_packed_params, _all_weight_values): they are read from the packed objects and counted as the layers' parameters, frozen";

type Tensors = Vec<(String, TensorInfo)>;

/// One dict's tensors.
#[derive(Default)]
struct Scan {
    tensors: Tensors,
    /// True when an entry of the dict itself (not one inside a tuple) is a Parameter: then
    /// requires_grad was recorded. A quantized Linear's packed `(weight, bias)` tuple keeps its bias
    /// as a Parameter whatever the rest of the dict holds, so tuples do not count.
    requires_grad_recorded: bool,
    /// Entries that are tensors this reader cannot read (an unknown dtype).
    unreadable: usize,
    /// The first of them: its key as `['x']` (`['x'][0]` in a tuple) and why. It fails the read only
    /// if this dict is the one chosen; a dict of side data beside the state dict is just skipped.
    first_unreadable: Option<(String, String)>,
    /// Entries that are TorchScript objects this reader cannot open, and the first's key and class.
    opaque: usize,
    first_opaque: Option<(String, String)>,
    /// Entries that are a dynamic-quantized layer's packed weights.
    packed: usize,
}

impl Scan {
    /// The tensors the dict holds, readable or not, to choose the state dict by.
    fn count(&self) -> usize {
        self.tensors.len() + self.unreadable
    }
}

/// Where the tensors were found.
struct Found {
    /// The keys that lead to the dict, as `['model']`; `None` for the top level.
    keys: Option<String>,
    scan: Scan,
    /// Tensors at the top level left out because a nested dict holds more (`best_acc1`, `loss`).
    left_at_top: usize,
}

/// The dict with the most tensors: nested dicts are always searched, since training checkpoints keep
/// small tensors (`best_acc1`, `rng_state`) at the top next to `{'state_dict': …}`; the top level wins
/// only when it holds at least as many as the best nested dict. Every tensor name looked at is charged
/// to `tree`, whichever dict it sits in. An unreadable tensor fails the read only in the dict chosen.
fn find_state_dict(p: &Pickle, tree: &mut TreeBudget) -> Result<Option<Found>, String> {
    let top = tensor_entries(p, &p.root, tree)?;
    // Keys are kept as references and spelled out for the winner only: a long key shared by thousands
    // of nested dicts must not be copied into each of their paths.
    let mut best: Option<(Vec<&str>, Scan)> = None;
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
            if found.count() > best.as_ref().map_or(0, |b| b.1.count()) {
                best = Some((keys.clone(), found));
            }
            if keys.len() < MAX_SEARCH_DEPTH {
                queue.push_back((v, keys));
            }
        }
    }
    let found = match best {
        Some((keys, scan)) if scan.count() > top.count() => Found {
            keys: Some(keys.iter().map(|k| format!("['{k}']")).collect()),
            scan,
            left_at_top: top.count(),
        },
        _ if top.count() > 0 => Found {
            keys: None,
            scan: top,
            left_at_top: 0,
        },
        _ => return Ok(None),
    };
    if let Some((key, why)) = &found.scan.first_unreadable {
        return Err(format!(
            "{}{key}: {why}",
            found.keys.as_deref().unwrap_or_default()
        ));
    }
    Ok(Some(found))
}

/// The string-keyed tensor entries of a dict or `OrderedDict`; a repeated key keeps its first place and
/// its last value, as a Python dict would. Tensors in a tuple or list (a quantized Linear keeps
/// `_packed_params._packed_params = (weight, bias)`) are named by their place: `name.0`, `name.1`.
fn tensor_entries(p: &Pickle, value: &Value, tree: &mut TreeBudget) -> Result<Scan, String> {
    let Some(entries) = p.entries(value) else {
        return Ok(Scan::default());
    };
    if let Some(Object::Instance { callable, .. }) = p.object(value)
        && p.global(callable) != Some(("collections", "OrderedDict"))
    {
        return Ok(Scan::default());
    }
    let mut out: Tensors = Vec::new();
    let mut requires_grad_recorded = false;
    let mut unreadable = 0;
    let mut first_unreadable: Option<(String, String)> = None;
    // Reading stops no longer at the first unreadable entry, so each one's message (which may quote a
    // long dtype name from the pickle) is charged. Only the first of a dict is kept; its key is charged
    // before it is copied, since a long key shared by many dicts would otherwise be copied for each.
    let mut refuse = |tree: &mut TreeBudget, key: &dyn Fn() -> String, len: usize, why: String| {
        unreadable += 1;
        tree.charge(why.len())?;
        if first_unreadable.is_none() {
            tree.charge(len)?;
            first_unreadable = Some((key(), why));
        }
        Ok::<(), String>(())
    };
    let mut opaque = 0;
    let mut first_opaque: Option<(String, String)> = None;
    let mut packed = 0;
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
        match tensor(p, v) {
            Ok(Some(t)) => {
                requires_grad_recorded |= t.requires_grad;
                keep(tree, name, t)?;
                continue;
            }
            Ok(None) => {}
            Err(why) => {
                refuse(tree, &|| format!("['{name}']"), name.len(), why)?;
                continue;
            }
        }
        if let Some((class, inner)) = script_object(p, v) {
            match cell_params(p, class, inner) {
                Ok(Some(cell)) => {
                    packed += 1;
                    for (role, t) in cell {
                        tree.charge(name.len() + 1 + role.len())?;
                        keep(tree, &format!("{name}.{role}"), t)?;
                    }
                }
                Ok(None) => {
                    opaque += 1;
                    if first_opaque.is_none() {
                        tree.charge(name.len() + class.len())?;
                        first_opaque = Some((format!("['{name}']"), class.to_string()));
                    }
                }
                Err(why) => refuse(tree, &|| format!("['{name}']"), name.len(), why)?,
            }
            continue;
        }
        if name.ends_with("._packed_params._packed_params") {
            packed += 1;
        }
        let Some(items) = p.sequence(v).filter(|s| s.len() <= MAX_SEQUENCE_ITEMS) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let t = match tensor(p, item) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(why) => {
                    refuse(tree, &|| format!("['{name}'][{i}]"), name.len(), why)?;
                    continue;
                }
            };
            let digits = i.checked_ilog10().unwrap_or(0) as usize + 1;
            // The element's name is made here: its length is charged before it is.
            tree.charge(name.len() + 1 + digits)?;
            keep(tree, &format!("{name}.{i}"), t)?;
        }
    }
    Ok(Scan {
        tensors: out,
        requires_grad_recorded,
        unreadable,
        first_unreadable,
        opaque,
        first_opaque,
        packed,
    })
}

/// A TorchScript object pickled into a state dict (`torch.ScriptObject`, its state a pair of the
/// object's own state and its class name): the class and the state.
fn script_object<'p>(p: &'p Pickle, v: &Value) -> Option<(&'p str, &'p Value)> {
    let Some(Object::Instance {
        callable,
        state: Some(state),
        ..
    }) = p.object(v)
    else {
        return None;
    };
    if p.global(callable)? != ("torch", "ScriptObject") {
        return None;
    }
    match p.sequence(state)? {
        [inner, class] => Some((class.as_str()?, inner)),
        _ => None,
    }
}

/// A dynamic-quantized LSTM/GRU cell's weights (`rnn.CellParamsBase`): its state is
/// `(kind, tensors, doubles, longs, packed)` where `packed` holds one `LinearPackedParamsBase` per
/// gate matrix, input-hidden first, each `(weight, bias)`. Named `weight_ih`, `bias_ih`, `weight_hh`,
/// `bias_hh`. `Ok(None)` for any other class.
fn cell_params(
    p: &Pickle,
    class: &str,
    inner: &Value,
) -> Result<Option<Vec<(&'static str, TensorInfo)>>, String> {
    if !class.ends_with("rnn.CellParamsBase") {
        return Ok(None);
    }
    let packed = p
        .sequence(inner)
        .and_then(|s| s.get(4))
        .and_then(|l| p.sequence(l))
        .ok_or("a CellParamsBase without its packed weights")?;
    const ROLES: [(&str, &str); 2] = [("weight_ih", "bias_ih"), ("weight_hh", "bias_hh")];
    if packed.len() != ROLES.len() {
        return Err(format!(
            "a CellParamsBase with {} packed weights, not 2",
            packed.len()
        ));
    }
    let mut out = Vec::new();
    for (value, (weight_role, bias_role)) in packed.iter().zip(ROLES) {
        let pair = script_object(p, value)
            .filter(|(c, _)| c.ends_with("quantized.LinearPackedParamsBase"))
            .and_then(|(_, inner)| p.sequence(inner))
            .ok_or("a CellParamsBase whose packed weights are not LinearPackedParamsBase")?;
        let weight = pair
            .first()
            .map(|w| tensor(p, w))
            .transpose()?
            .flatten()
            .ok_or("packed weights without a weight tensor")?;
        out.push((weight_role, weight));
        if let Some(bias) = pair.get(1).map(|b| tensor(p, b)).transpose()?.flatten() {
            out.push((bias_role, bias));
        }
    }
    Ok(Some(out))
}
