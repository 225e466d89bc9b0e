//! The module tree of a TorchScript archive, from its `data.pkl` object graph and its class declarations.
//!
//! Each module is pickled as `NEWOBJ(__torch__.<qualified class>)` followed by `BUILD` with a dict of its
//! attributes, in the class's slot order (the order libtorch walks them). An attribute is a parameter or a
//! buffer when the class's `__parameters__` / `__buffers__` list names it, a child when its value is an
//! object of a module class, and otherwise plain state (`training`, constants) that is left out.
//! Objects of custom C++ classes (`__torch__.torch.classes.*`: quantized packed weights, torchtext's
//! Vocab) are opaque: left out, and named in a note. Any other class PyTorch pickles is declared under
//! `code/`, so one that is not means a damaged archive, and is an error. A module
//! whose class defines `__getstate__` (eager quantized layers) pickles a tuple instead of its
//! attributes: it is shown without tensors, and a note says so.

use super::budget::{ByteTally, MAX_TREE_BYTES, MODULE_COST, TieCost, TreeBudget, tensor_cost};
use super::classes::{ClassInfo, ClassTable, display_name};
use super::pickle::{ObjId, Object, Pickle, Value};
use super::tensors::{StorageView, tensor};
use crate::summary::infer::settle_container_kinds;
use crate::summary::{ModuleNode, TensorRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// Bounds on the walk: pickles can share and even cycle objects, so a tree drawn from them must stop.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    pub max_depth: usize,
    pub max_modules: usize,
    pub max_tensors: usize,
    /// Attributes looked at in total: bounds the work when shared modules are revisited.
    pub max_attributes: usize,
    /// Memory the tree may take: modules, tensors and their text (see [`super::budget`]).
    pub max_tree_bytes: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        // A very large real model has tens of thousands of modules; these bounds keep a hostile file that
        // unfolds shared modules exponentially to well under a second.
        WalkLimits {
            max_depth: 256,
            max_modules: 1 << 18,
            max_tensors: 1 << 22,
            max_attributes: 1 << 22,
            max_tree_bytes: MAX_TREE_BYTES,
        }
    }
}

/// The tree, and each tensor's storage view by its full path (for marking tied tensors).
pub struct Walked {
    pub root: ModuleNode,
    pub views: HashMap<String, StorageView>,
    /// What the tree leaves out: opaque objects, modules saved with `__getstate__`.
    pub notes: Vec<String>,
}

/// The Python modules (`__torch__.torch.nn.modules.conv`) whose classes the pickle instantiates: the code
/// files to read.
pub fn python_modules(p: &Pickle) -> BTreeSet<String> {
    // Globals made from one memoized name share its string: each string is looked at once, so a name
    // repeated a million times costs one copy, not a million.
    let mut seen: HashSet<*const u8> = HashSet::new();
    let mut out = BTreeSet::new();
    for o in p.objects() {
        if let Object::Global { module, .. } = o
            && (module.as_ref() == "__torch__" || module.starts_with("__torch__."))
            && seen.insert(module.as_ptr())
            && !out.contains(module.as_ref())
        {
            out.insert(module.to_string());
        }
    }
    out
}

/// The names of the `__torch__` classes the pickle names, whatever their module: the only classes worth
/// keeping from the code files. Each shared name string is hashed once.
pub fn torch_class_names(p: &Pickle) -> HashSet<&str> {
    let mut seen: HashSet<*const u8> = HashSet::new();
    let mut out = HashSet::new();
    for o in p.objects() {
        if let Object::Global { module, name } = o
            && (module.as_ref() == "__torch__" || module.starts_with("__torch__."))
            && seen.insert(name.as_ptr())
        {
            out.insert(name.as_ref());
        }
    }
    out
}

pub fn module_tree(p: &Pickle, classes: &ClassTable, limits: WalkLimits) -> Result<Walked, String> {
    let mut w = Walker {
        p,
        classes,
        limits,
        modules: 0,
        tensors: 0,
        attributes: 0,
        on_path: Vec::new(),
        views: HashMap::new(),
        tree: TreeBudget::new(limits.max_tree_bytes),
        ties: TieCost::default(),
        bytes: ByteTally::default(),
        class_of_global: HashMap::new(),
        declared: HashMap::new(),
        opaque: BTreeMap::new(),
        stateful: BTreeMap::new(),
    };
    let Attribute::Module(id, class) = w.module_class(&p.root)? else {
        return Err("data.pkl does not hold a TorchScript module".into());
    };
    let mut root = w.module(id, class, "", "")?;
    w.ties.charge(&mut w.tree)?;
    settle_container_kinds(&mut root);
    let mut notes = Vec::new();
    for (class, (count, first)) in &w.opaque {
        let (which, them) = match count {
            1 => (
                "1 attribute is an opaque custom-class object".to_string(),
                "it",
            ),
            n => (
                format!("{n} attributes are opaque custom-class objects"),
                "them",
            ),
        };
        notes.push(format!(
            "{which} ({class}, first at {first}): tensors inside {them} are not counted"
        ));
    }
    for (class, (count, first)) in &w.stateful {
        let which = match count {
            1 => format!("module {first}"),
            n => format!("{n} modules (first {first})"),
        };
        notes.push(format!(
            "{which} of class {class} saves its state with __getstate__; its tensors are not counted"
        ));
    }
    Ok(Walked {
        root,
        views: w.views,
        notes,
    })
}

/// Objects of C++ classes registered with `torch::class_`, which TorchScript pickles under this prefix.
fn is_custom_class(qualified: &str) -> bool {
    qualified.starts_with("__torch__.torch.classes.")
}

/// What a module attribute's value is, as far as the tree is concerned.
#[derive(Clone)]
enum Attribute<'a> {
    Module(ObjId, Rc<Declared<'a>>),
    /// An instance of a custom C++ class, by qualified name.
    Opaque(Rc<str>),
    Other,
}

/// A `__torch__` global, resolved once.
#[derive(Clone)]
enum Resolved<'a> {
    Module(Rc<Declared<'a>>),
    Opaque(Rc<str>),
    Other,
}

struct Walker<'a> {
    p: &'a Pickle,
    classes: &'a ClassTable,
    limits: WalkLimits,
    modules: usize,
    tensors: usize,
    attributes: usize,
    /// Modules between the root and the one being read, to refuse cycles.
    on_path: Vec<ObjId>,
    views: HashMap<String, StorageView>,
    tree: TreeBudget,
    ties: TieCost,
    bytes: ByteTally,
    /// Each global a module instance is made from, resolved once: a file may instantiate one class a
    /// million times (and shared modules are revisited), so per attribute only a lookup is paid.
    class_of_global: HashMap<ObjId, Resolved<'a>>,
    /// Each declared module class with its parameter and buffer names hashed, built once per class.
    declared: HashMap<Rc<str>, Rc<Declared<'a>>>,
    /// Opaque attribute values by class: how many, and the path of the first (for the notes).
    opaque: BTreeMap<Rc<str>, (usize, String)>,
    /// Modules saved with `__getstate__`, by class: how many, and the path of the first.
    stateful: BTreeMap<Rc<str>, (usize, String)>,
}

/// A module class as the walk needs it.
struct Declared<'a> {
    qualified: Rc<str>,
    parameters: HashSet<&'a str>,
    buffers: HashSet<&'a str>,
}

impl<'a> Declared<'a> {
    fn new(qualified: Rc<str>, info: &'a ClassInfo) -> Self {
        Declared {
            qualified,
            parameters: info.parameters.iter().map(String::as_str).collect(),
            buffers: info.buffers.iter().map(String::as_str).collect(),
        }
    }
}

impl<'a> Walker<'a> {
    /// Whether `value` is an instance of a TorchScript module class, an opaque object, or neither.
    fn module_class(&mut self, value: &Value) -> Result<Attribute<'a>, String> {
        let Value::Ref(id) = value else {
            return Ok(Attribute::Other);
        };
        let Some(Object::Instance {
            callable: Value::Ref(global),
            ..
        }) = self.p.object(value)
        else {
            return Ok(Attribute::Other);
        };
        let class = match self.class_of_global.get(global) {
            Some(known) => known.clone(),
            None => {
                let class = self.resolve(callable_global(self.p, *global))?;
                self.class_of_global.insert(*global, class.clone());
                class
            }
        };
        Ok(match class {
            Resolved::Module(c) => Attribute::Module(*id, c),
            Resolved::Opaque(q) => Attribute::Opaque(q),
            Resolved::Other => Attribute::Other,
        })
    }

    /// What a `__torch__` global names: a declared module class, a custom C++ class (opaque), or
    /// anything else; an error for a class the code does not declare.
    fn resolve(&mut self, global: Option<(&str, &str)>) -> Result<Resolved<'a>, String> {
        let Some((module, name)) = global else {
            return Ok(Resolved::Other);
        };
        if module != "__torch__" && !module.starts_with("__torch__.") {
            return Ok(Resolved::Other);
        }
        // Charged once per distinct global object, which the pickle's object bound limits in number.
        self.tree.charge(module.len() + 1 + name.len())?;
        let qualified: Rc<str> = Rc::from(format!("{module}.{name}"));
        if let Some(known) = self.declared.get(&qualified) {
            return Ok(Resolved::Module(known.clone()));
        }
        if is_custom_class(&qualified) {
            return Ok(Resolved::Opaque(qualified));
        }
        let classes: &'a ClassTable = self.classes;
        match classes.get_in(module, name) {
            Some(info) if info.is_module => {
                let declared = Rc::new(Declared::new(qualified.clone(), info));
                self.declared.insert(qualified, declared.clone());
                Ok(Resolved::Module(declared))
            }
            Some(_) => Ok(Resolved::Other),
            None => Err(format!("class {qualified} has no declaration under code/")),
        }
    }

    /// Counts one more `class` in `tally`, keeping the path of the first. The path is charged only
    /// when kept: one per distinct class, and classes are bounded by the pickle's globals.
    fn tally(
        tree: &mut TreeBudget,
        tally: &mut BTreeMap<Rc<str>, (usize, String)>,
        class: &Rc<str>,
        path: impl FnOnce() -> String,
    ) -> Result<(), String> {
        match tally.get_mut(class) {
            Some((count, _)) => *count += 1,
            None => {
                let path = path();
                tree.charge(path.len() + class.len())?;
                tally.insert(class.clone(), (1, path));
            }
        }
        Ok(())
    }

    fn module(
        &mut self,
        id: ObjId,
        class: Rc<Declared<'a>>,
        name: &str,
        path: &str,
    ) -> Result<ModuleNode, String> {
        let qualified: &str = &class.qualified;
        let at = || {
            if path.is_empty() {
                "the root module".to_string()
            } else {
                format!("module {path}")
            }
        };
        if self.on_path.contains(&id) {
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
        let Some(Object::Instance {
            state: Some(state), ..
        }) = self.p.object(&Value::Ref(id))
        else {
            return Err(format!("{} ({qualified}) has no attributes", at()));
        };
        let type_name = display_name(qualified);
        self.tree
            .charge(MODULE_COST + name.len() + path.len() + type_name.len() + qualified.len())?;
        let mut node = ModuleNode::new(name, path, type_name);
        node.qualified_type = Some(qualified.to_string());
        let Some(entries) = self.p.entries(state) else {
            // A class with `__getstate__` pickles whatever it returns (a tuple for quantized layers):
            // the node stays, without tensors, and a note says why.
            let shown = if path.is_empty() { "(root)" } else { path };
            Self::tally(&mut self.tree, &mut self.stateful, &class.qualified, || {
                shown.to_string()
            })?;
            return Ok(node);
        };
        self.attributes = self.attributes.saturating_add(entries.len());
        if self.attributes > self.limits.max_attributes {
            return Err(format!(
                "more than {} module attributes in total",
                self.limits.max_attributes
            ));
        }
        self.on_path.push(id);
        for (key, value) in entries {
            let Some(attr) = key.as_str() else {
                return Err(format!(
                    "{} ({qualified}) has an attribute whose name is not a string",
                    at()
                ));
            };
            let is_param = class.parameters.contains(attr);
            let is_buffer = !is_param && class.buffers.contains(attr);
            if is_param || is_buffer {
                // The full path (kept for tied tensors) and the tensor's own name.
                self.tree.charge(node.path.len() + 1 + attr.len() * 2)?;
                let full = node.child_path(attr);
                let Some(t) = tensor(self.p, value).map_err(|e| format!("{full}: {e}"))? else {
                    // An optional tensor left unset (`bias=False`) is not a parameter libtorch reports.
                    if *value == Value::None {
                        continue;
                    }
                    return Err(format!("{full} is declared a tensor but is not one"));
                };
                self.tensors += 1;
                if self.tensors > self.limits.max_tensors {
                    return Err(format!("more than {} tensors", self.limits.max_tensors));
                }
                self.bytes.add(&t).map_err(|e| format!("{full}: {e}"))?;
                self.tree.charge(tensor_cost(t.shape.len()))?;
                self.ties.add(&t.view, full.len());
                self.views.insert(full, t.view);
                let record = TensorRecord::new(attr, t.shape, t.dtype, t.requires_grad && is_param);
                if is_param {
                    node.parameters.push(record)
                } else {
                    node.buffers.push(record)
                }
            } else {
                match self.module_class(value)? {
                    Attribute::Module(child_id, child_class) => {
                        // The child charges its own path when it is built; this is the copy made here.
                        self.tree.charge(node.path.len() + 1 + attr.len())?;
                        let child_path = node.child_path(attr);
                        let child = self.module(child_id, child_class, attr, &child_path)?;
                        node.children.push(child);
                    }
                    Attribute::Opaque(class) => {
                        let parent = &node;
                        Self::tally(&mut self.tree, &mut self.opaque, &class, || {
                            parent.child_path(attr)
                        })?;
                    }
                    Attribute::Other => {}
                }
            }
        }
        self.on_path.pop();
        Ok(node)
    }
}

/// `(module, name)` of the global object `id`.
fn callable_global(p: &Pickle, id: ObjId) -> Option<(&str, &str)> {
    p.global(&Value::Ref(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASS: &str = "class M(Module):
  __parameters__ = []
  __buffers__ = []
  a : __torch__.M
  b : __torch__.M
";

    fn classes() -> ClassTable {
        let mut t = ClassTable::default();
        t.add_source("__torch__", CLASS, |_| true).unwrap();
        t
    }

    fn key(k: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend((k.len() as u32).to_le_bytes());
        v.extend(k.as_bytes());
        v
    }

    #[test]
    fn a_module_that_contains_itself_is_an_error() {
        // m = M(); m.a = m
        let mut p = b"\x80\x02c__torch__\nM\nq\x00)\x81q\x01}".to_vec();
        p.extend(key("a"));
        p.extend(b"h\x01sb.");
        let pk = Pickle::parse(&p).unwrap();
        let e = module_tree(&pk, &classes(), WalkLimits::default())
            .err()
            .unwrap();
        assert!(e.contains("contains itself"), "{e}");
    }

    /// m0 = M(); m_i = M(a=m_{i-1}, b=m_{i-1}): 41 objects that unfold into 2^41 - 1 modules.
    fn doubling(levels: u8) -> Pickle {
        let mut p = b"\x80\x02c__torch__\nM\nq\x00h\x00)\x81}bq\x01".to_vec();
        for i in 1..=levels {
            p.extend(b"h\x00)\x81}(");
            p.extend(key("a"));
            p.extend([b'h', i]);
            p.extend(key("b"));
            p.extend([b'h', i]);
            p.extend([b'u', b'b', b'q', i + 1]);
        }
        p.push(b'.');
        Pickle::parse(&p).unwrap()
    }

    #[test]
    fn shared_modules_are_unfolded_like_libtorch_but_bounded() {
        let small = module_tree(&doubling(3), &classes(), WalkLimits::default())
            .ok()
            .unwrap();
        assert_eq!(small.root.walk().len(), 15);
        assert_eq!(small.root.find("a.b.a").unwrap().type_name, "M");
        let limits = WalkLimits {
            max_modules: 10_000,
            ..WalkLimits::default()
        };
        let e = module_tree(&doubling(40), &classes(), limits)
            .err()
            .unwrap();
        assert!(e.contains("more than 10000 modules"), "{e}");
        // The default bound stops the same file too.
        assert!(module_tree(&doubling(40), &classes(), WalkLimits::default()).is_err());
    }

    #[test]
    fn undeclared_classes_and_non_modules_are_errors() {
        let pk = Pickle::parse(b"\x80\x02c__torch__\nN\n)\x81}b.").unwrap();
        let e = module_tree(&pk, &classes(), WalkLimits::default())
            .err()
            .unwrap();
        assert!(e.contains("__torch__.N has no declaration"), "{e}");
        let pk = Pickle::parse(b"\x80\x02}.").unwrap();
        assert!(module_tree(&pk, &classes(), WalkLimits::default()).is_err());
    }

    #[test]
    fn custom_class_objects_below_the_root_are_opaque() {
        // m = M(); m.a = torch.classes.x.Packed(); m.b = the same object
        let mut p = b"\x80\x02c__torch__\nM\n)\x81}(".to_vec();
        p.extend(key("a"));
        p.extend(b"c__torch__.torch.classes.x\nPacked\n)\x81(K\x01K\x02tbq\x00");
        p.extend(key("b"));
        p.extend(b"h\x00ub.");
        let pk = Pickle::parse(&p).unwrap();
        let w = module_tree(&pk, &classes(), WalkLimits::default())
            .ok()
            .unwrap();
        assert_eq!(w.root.walk().len(), 1);
        assert_eq!(
            w.notes,
            [
                "2 attributes are opaque custom-class objects (__torch__.torch.classes.x.Packed, first at a): tensors inside them are not counted"
            ]
        );
        // The root itself must be a module.
        let pk = Pickle::parse(b"\x80\x02c__torch__.torch.classes.x\nPacked\n)\x81}b.").unwrap();
        let e = module_tree(&pk, &classes(), WalkLimits::default())
            .err()
            .unwrap();
        assert!(e.contains("does not hold a TorchScript module"), "{e}");
    }
}
