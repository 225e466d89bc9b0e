//! The one summary data model every source produces and every report consumes.
//!
//! Sources (built-in architectures, TorchScript files, state dicts, any `VarStore`) fill a [`ModelSummary`]:
//! a tree of [`ModuleNode`]s, each with its own parameters and buffers, and — when a forward pass was run —
//! its output shapes and mult-adds. Reports never look at tch or at files; they read only this.

pub mod aggregate;
pub mod architecture;
pub mod head;
pub mod infer;
pub mod kind;
pub mod lint;
pub mod macs;
pub mod role;

pub use aggregate::Totals;
pub use architecture::Architecture;
pub use kind::LayerKind;
pub use role::Role;

use crate::dtype::DType;

/// Elements of a shape, saturating at `u64::MAX`.
pub fn numel(shape: &[u64]) -> u64 {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .unwrap_or(u64::MAX)
}

/// One parameter or buffer owned directly by a module.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRecord {
    /// Local name within its module: `weight`, `running_mean`, `in_proj_weight`.
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: DType,
    /// For parameters: trainable. Buffers are never trainable.
    pub requires_grad: bool,
    /// Full path (`embed.weight`) of the first tensor this one shares its storage, offset, size and stride
    /// with. A tied tensor is shown but counted once, at its first occurrence.
    pub tied_to: Option<String>,
    /// A constant of the model's code rather than an attribute of a module: the weights
    /// `torch.jit.freeze` folds into the code, shown as frozen (non-trainable) parameters.
    pub constant: bool,
}

impl TensorRecord {
    pub fn new(
        name: impl Into<String>,
        shape: Vec<u64>,
        dtype: DType,
        requires_grad: bool,
    ) -> Self {
        TensorRecord {
            name: name.into(),
            shape,
            dtype,
            requires_grad,
            tied_to: None,
            constant: false,
        }
    }

    /// Elements, saturating at `u64::MAX` (sources reject shapes whose product overflows).
    pub fn numel(&self) -> u64 {
        numel(&self.shape)
    }

    /// Exact bytes in the tensor's dtype (whole blocks for packed and block-quantized types),
    /// saturating at `u64::MAX`; 0 for a dtype the reader did not know (its note says so).
    pub fn bytes(&self) -> u64 {
        stored_bytes(self.dtype, self.numel())
    }

    pub fn is_tied(&self) -> bool {
        self.tied_to.is_some()
    }
}

/// One tensor a module returned from its forward pass (or an input of the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorValue {
    pub shape: Vec<u64>,
    pub dtype: DType,
}

impl TensorValue {
    pub fn numel(&self) -> u64 {
        numel(&self.shape)
    }

    pub fn bytes(&self) -> u64 {
        stored_bytes(self.dtype, self.numel())
    }
}

/// Bytes of `numel` elements of `dtype`, saturating; 0 for [`DType::Unknown`].
fn stored_bytes(dtype: DType, numel: u64) -> u64 {
    match dtype.packing() {
        Some(_) => dtype.bytes_for(numel).unwrap_or(u64::MAX),
        None => 0,
    }
}

/// A module in the tree, named and typed as PyTorch names it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleNode {
    /// Local name within the parent: `features`, `0`, `conv1`; empty for the root.
    pub name: String,
    /// Dotted path from the root, as in `named_modules()`: `features.0`, `layer1.0.conv1`; empty for the root.
    pub path: String,
    /// Class name as people know it: `Conv2d`, `VGG`, a user's `MyBlock`.
    pub type_name: String,
    /// Fully qualified class, when the source knows it: `__torch__.torch.nn.modules.conv.Conv2d`.
    pub qualified_type: Option<String>,
    pub kind: LayerKind,
    /// Parameters owned by this module itself (not its children), in declaration order.
    pub parameters: Vec<TensorRecord>,
    /// Buffers owned by this module itself (BatchNorm running statistics …).
    pub buffers: Vec<TensorRecord>,
    pub children: Vec<ModuleNode>,
    /// What forward returned; `None` when no forward pass was run (or the module was not called).
    /// For a module called more than once per forward, the first call.
    pub outputs: Option<Vec<TensorValue>>,
    /// What the second and later calls returned, in call order, for a module the forward calls more
    /// than once (a ResNet block's shared `relu`); empty otherwise. torchinfo shows one row per call.
    pub repeat_outputs: Vec<Vec<TensorValue>>,
    /// Mult-adds as torchinfo counts them: this module's own parameters × its output positions.
    pub mult_adds: Option<u64>,
    /// Mult-adds counted per operator (convolutions, matmuls, attention …) inside this module's own scope,
    /// children excluded.
    pub op_mult_adds: Option<u64>,
    /// A forward pass ran but this module's calls could not be seen (a tch layer holding variables
    /// that was not recorded): its outputs and mult-adds are unknown, and so are the model's totals
    /// of them — never 0.
    pub unmeasured: bool,
}

impl ModuleNode {
    /// A module with no tensors, children or measurements; the kind follows the type name.
    pub fn new(
        name: impl Into<String>,
        path: impl Into<String>,
        type_name: impl Into<String>,
    ) -> Self {
        let type_name = type_name.into();
        ModuleNode {
            name: name.into(),
            path: path.into(),
            kind: LayerKind::from_type_name(&type_name),
            type_name,
            qualified_type: None,
            parameters: Vec::new(),
            buffers: Vec::new(),
            children: Vec::new(),
            outputs: None,
            repeat_outputs: Vec::new(),
            mult_adds: None,
            op_mult_adds: None,
            unmeasured: false,
        }
    }

    /// The child path for a local name under this module.
    pub fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.path, name)
        }
    }

    /// What each call returned, first call first; nothing when the module was not called or no
    /// forward pass was run. Activations and mult-adds count every call.
    pub fn calls(&self) -> impl Iterator<Item = &Vec<TensorValue>> {
        self.outputs.iter().chain(&self.repeat_outputs)
    }

    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }

    /// Whether the forward pass's calls of this module are known: a forward pass ran (`summary`
    /// has inputs or an output) and this module was not [`unmeasured`](Self::unmeasured).
    pub fn calls_known(&self, summary: &ModelSummary) -> bool {
        !self.unmeasured && (!summary.inputs.is_empty() || summary.root.outputs.is_some())
    }

    /// Pre-order walk with depth (root = 0).
    pub fn walk(&self) -> Vec<(usize, &ModuleNode)> {
        let mut out = Vec::new();
        fn go<'a>(n: &'a ModuleNode, depth: usize, out: &mut Vec<(usize, &'a ModuleNode)>) {
            out.push((depth, n));
            for c in &n.children {
                go(c, depth + 1, out);
            }
        }
        go(self, 0, &mut out);
        out
    }

    /// Pre-order walk with depth and torchinfo's "depth-idx" index: modules at each depth are numbered
    /// 1, 2, 3 … in tree order across the whole model (so `2-32` is the 32nd module at depth 2).
    pub fn walk_indexed(&self) -> Vec<(usize, usize, &ModuleNode)> {
        let mut counters: Vec<usize> = Vec::new();
        self.walk()
            .into_iter()
            .map(|(depth, node)| {
                if counters.len() <= depth {
                    counters.resize(depth + 1, 0);
                }
                counters[depth] += 1;
                (depth, counters[depth], node)
            })
            .collect()
    }

    /// Mutable pre-order visit.
    pub fn visit_mut(&mut self, f: &mut dyn FnMut(&mut ModuleNode)) {
        f(self);
        for c in &mut self.children {
            c.visit_mut(f);
        }
    }

    pub fn find(&self, path: &str) -> Option<&ModuleNode> {
        if self.path == path {
            return Some(self);
        }
        self.children
            .iter()
            .filter(|c| path == c.path || path.starts_with(&format!("{}.", c.path)))
            .find_map(|c| c.find(path))
    }

    /// Parameters of this module alone, tied duplicates excluded.
    pub fn own_params(&self) -> u64 {
        self.parameters
            .iter()
            .filter(|p| !p.is_tied())
            .map(TensorRecord::numel)
            .sum()
    }

    /// Parameters of this module and everything under it, tied duplicates excluded.
    pub fn subtree_params(&self) -> u64 {
        self.own_params()
            + self
                .children
                .iter()
                .map(ModuleNode::subtree_params)
                .sum::<u64>()
    }

    pub fn subtree_trainable_params(&self) -> u64 {
        let own: u64 = self
            .parameters
            .iter()
            .filter(|p| !p.is_tied() && p.requires_grad)
            .map(TensorRecord::numel)
            .sum();
        own + self
            .children
            .iter()
            .map(ModuleNode::subtree_trainable_params)
            .sum::<u64>()
    }

    /// torchinfo-style mult-adds of the subtree, summed over its leaf layers only as torchinfo totals
    /// them (a container's own parameters, such as MultiheadAttention's `in_proj_weight`, are left out
    /// of totals); `None` when nothing in it was measured.
    pub fn subtree_mult_adds(&self) -> Option<u64> {
        if self.is_leaf() {
            return self.mult_adds;
        }
        sum_options(
            None,
            self.children.iter().map(ModuleNode::subtree_mult_adds),
        )
    }

    /// Sum of operator-level mult-adds over the subtree; `None` when nothing in it was measured.
    pub fn subtree_op_mult_adds(&self) -> Option<u64> {
        sum_options(
            self.op_mult_adds,
            self.children.iter().map(ModuleNode::subtree_op_mult_adds),
        )
    }
}

fn sum_options(own: Option<u64>, rest: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    let mut total = own;
    for v in rest.flatten() {
        total = Some(total.unwrap_or(0).saturating_add(v));
    }
    total
}

/// Where a summary came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A built-in architecture built with tch (`vgg16`).
    Builtin,
    /// A built-in architecture described from its config without building it (a language model too
    /// large to allocate here): structure from the config, shapes from the architecture.
    Architecture,
    /// A TorchScript archive (`torch.jit.script` / `torch.jit.trace` then `save`).
    TorchScript,
    /// A `torch.save` state dict: a tree inferred from dotted keys.
    StateDict,
    /// A `VarStore` handed to the library.
    VarStore,
    /// safetensors weights (one file, a sharded set or a Hugging Face folder): a tree inferred from
    /// dotted names.
    Safetensors,
    /// A GGUF file (llama.cpp): a tree inferred from its tensor names.
    Gguf,
    /// A whole model pickled with `torch.save(model)`: the tree of its pickled modules.
    PickledModule,
    /// A torch.export archive (`torch.export.save`, `.pt2`): graph and shapes recorded, nothing run.
    ExportedProgram,
    /// An ONNX model (`.onnx`): graph and, where the exporter wrote them, shapes; nothing run.
    Onnx,
}

/// `from`'s output feeds `to`'s input directly, as seen in the data flow of a forward pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEdge {
    pub from: String,
    pub to: String,
    /// True when `to` is the only consumer of `from`'s output.
    pub only_consumer: bool,
}

/// Everything known about one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    /// What the user named: `vgg16`, `models/resnet.pt`.
    pub name: String,
    pub source: SourceKind,
    pub root: ModuleNode,
    /// The inputs the forward pass ran on; empty when none was run.
    pub inputs: Vec<TensorValue>,
    /// Things the reader should know (types inferred from names, shapes unavailable …).
    pub notes: Vec<String>,
    /// Module-to-module data flow of the forward pass, when a source could observe it.
    pub dataflow: Option<Vec<DataEdge>>,
    /// The architecture as the model's own description states it (`config.json`, GGUF keys).
    pub architecture: Option<Architecture>,
    /// Key/values the file itself carries (safetensors' `__metadata__`, GGUF's metadata), in file
    /// order, values as text.
    pub file_metadata: Vec<(String, String)>,
}

impl ModelSummary {
    pub fn new(name: impl Into<String>, source: SourceKind, root: ModuleNode) -> Self {
        ModelSummary {
            name: name.into(),
            source,
            root,
            inputs: Vec::new(),
            notes: Vec::new(),
            dataflow: None,
            architecture: None,
            file_metadata: Vec::new(),
        }
    }

    pub fn totals(&self) -> Totals {
        Totals::of(self)
    }

    /// True when some module's calls could not be seen though a forward pass ran (see
    /// [`ModuleNode::unmeasured`]): totals of outputs and mult-adds are then unknown.
    pub fn partly_measured(&self) -> bool {
        self.root.walk().iter().any(|(_, n)| n.unmeasured)
    }

    /// Marks tensors that share storage with an earlier one as tied, given a key per tensor that identifies
    /// its storage view (storage, offset, size, stride). Walks the tree in pre-order. Parameters and
    /// buffers are tied among their own kind only, as PyTorch's `parameters()` and `buffers()` each drop
    /// repeats on their own: a parameter viewing an earlier buffer's storage still counts as a parameter.
    pub fn mark_tied<K: Eq + std::hash::Hash>(&mut self, mut key: impl FnMut(&str) -> Option<K>) {
        let mut first_parameter: std::collections::HashMap<K, String> =
            std::collections::HashMap::new();
        let mut first_buffer: std::collections::HashMap<K, String> =
            std::collections::HashMap::new();
        self.root.visit_mut(&mut |node| {
            let path = node.path.clone();
            let kinds = [
                (&mut node.parameters, &mut first_parameter),
                (&mut node.buffers, &mut first_buffer),
            ];
            for (tensors, first) in kinds {
                for t in tensors.iter_mut() {
                    let full = if path.is_empty() {
                        t.name.clone()
                    } else {
                        format!("{path}.{}", t.name)
                    };
                    if let Some(k) = key(&full) {
                        match first.get(&k) {
                            Some(owner) => t.tied_to = Some(owner.clone()),
                            None => {
                                first.insert(k, full);
                            }
                        }
                    }
                }
            }
        });
    }
}
