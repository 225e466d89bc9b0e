//! What a forward pass through a built-in model leaves behind: every module call's output, the
//! operator-level mult-adds of convolutions and linear layers, and which module's output fed which module.
//!
//! Tensors travel through the forward as [`Act`]s, which remember the module call that produced them;
//! a module (or a functional operation such as `+` or `cat`) that takes an `Act` is recorded as its
//! consumer. That gives the data flow without guessing from tensor pointers.
//!
//! This is the one recorder: the built-in architectures number their modules before the forward
//! ([`Recorder::new`]), and a tch user's model, recorded through [`crate::record`], adds its modules
//! as they are first called ([`Recorder::add_module`]). Both fill summary nodes with
//! [`Recorder::fill_node`].

use crate::summary::{DataEdge, TensorValue};
use std::collections::BTreeMap;
use tch::{TchError, Tensor};

/// A tensor flowing through the forward pass, with the produced value it is (if a module made it).
pub(crate) struct Act {
    pub(crate) t: Tensor,
    value: Option<usize>,
}

impl Act {
    /// A tensor no module produced: the model input, or the result of a functional operation.
    pub(crate) fn free(t: Tensor) -> Act {
        Act { t, value: None }
    }

    /// The same tensor and provenance; tensors are reference counted, nothing is copied.
    pub(crate) fn share(&self) -> Act {
        Act {
            t: self.t.shallow_clone(),
            value: self.value,
        }
    }
}

/// A forward step that failed: the module it failed in and libtorch's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardError {
    pub(crate) path: String,
    pub(crate) type_name: String,
    pub(crate) message: String,
}

impl ForwardError {
    pub(crate) fn new(path: &str, type_name: &str, message: impl Into<String>) -> ForwardError {
        let message = message.into();
        let message = crate::sources::first_line(&message).to_string();
        ForwardError {
            path: path.to_string(),
            type_name: type_name.to_string(),
            message,
        }
    }

    pub(crate) fn torch(path: &str, type_name: &str, err: TchError) -> ForwardError {
        // libtorch's own message, without tch's "Internal torch error: " in front.
        let message = match err {
            TchError::Torch(message) => message,
            other => other.to_string(),
        };
        ForwardError::new(path, type_name, message)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Consumer {
    Module(usize),
    /// A functional operation (`+`, `cat`, `flatten` …) written in some module's forward.
    Operation,
}

struct Value {
    producer: usize,
    consumers: Vec<Consumer>,
}

/// Collects the measurements of one forward pass, indexed by module id (pre-order position).
pub(crate) struct Recorder {
    /// Per module: the outputs of each call, in call order.
    calls: Vec<Vec<Vec<TensorValue>>>,
    op_mult_adds: Vec<Option<u64>>,
    values: Vec<Value>,
    /// (module id, output) for every finished call, in the order PyTorch's forward hooks would fire.
    trace: Vec<(usize, TensorValue)>,
    /// Training mode (`plan`'s measuring run): BatchNorm uses batch statistics, dropout drops.
    training: bool,
}

impl Recorder {
    pub(crate) fn new(modules: usize) -> Recorder {
        Recorder {
            calls: vec![Vec::new(); modules],
            op_mult_adds: vec![None; modules],
            values: Vec::new(),
            trace: Vec::new(),
            training: false,
        }
    }

    /// A module first seen during the forward pass (a tch user's layer); its id.
    pub(crate) fn add_module(&mut self) -> usize {
        self.calls.push(Vec::new());
        self.op_mult_adds.push(None);
        self.calls.len() - 1
    }

    /// A recorder for a forward pass in training mode, as `model.train()` runs it.
    pub(crate) fn for_training(modules: usize) -> Recorder {
        Recorder {
            training: true,
            ..Recorder::new(modules)
        }
    }

    /// True in training mode: BatchNorm then normalises with batch statistics and dropout drops.
    pub(crate) fn is_training(&self) -> bool {
        self.training
    }

    /// `module` takes `x` as its input.
    pub(crate) fn consume(&mut self, x: &Act, module: usize) {
        if let Some(v) = x.value {
            self.values[v].consumers.push(Consumer::Module(module));
        }
    }

    /// A functional operation takes these inputs; its result is produced by no module.
    pub(crate) fn consume_by_operation(&mut self, xs: &[&Act]) {
        for x in xs {
            if let Some(v) = x.value {
                self.values[v].consumers.push(Consumer::Operation);
            }
        }
    }

    /// `module` computed `t` itself.
    pub(crate) fn produce(&mut self, module: usize, t: Tensor) -> Act {
        self.values.push(Value {
            producer: module,
            consumers: Vec::new(),
        });
        Act {
            t,
            value: Some(self.values.len() - 1),
        }
    }

    pub(crate) fn add_op_mult_adds(&mut self, module: usize, mult_adds: u64) {
        let slot = &mut self.op_mult_adds[module];
        *slot = Some(slot.unwrap_or(0).saturating_add(mult_adds));
    }

    /// A call of `module` returned `outs` (most modules return one tensor; a rotary embedding returns
    /// its cos and sin). The trace, like a forward hook's first tensor, keeps the first.
    pub(crate) fn finish_call(&mut self, module: usize, outs: &[Act]) -> Vec<TensorValue> {
        let values: Vec<TensorValue> = outs.iter().map(|o| tensor_value(&o.t)).collect();
        self.finish_call_values(module, values.clone());
        values
    }

    /// A call of `module` returned tensors with these shapes and dtypes (a tch user's layer, whose
    /// outputs are plain tensors, or a tuple of them).
    pub(crate) fn finish_call_values(&mut self, module: usize, values: Vec<TensorValue>) {
        if let Some(first) = values.first() {
            self.trace.push((module, first.clone()));
        }
        self.calls[module].push(values);
    }

    /// What `module`'s calls left behind, onto its summary node: the first call's outputs, the later
    /// calls', and the operator mult-adds counted in its own code.
    pub(crate) fn fill_node(&self, module: usize, node: &mut crate::summary::ModuleNode) {
        let calls = self.calls_of(module);
        node.outputs = calls.first().cloned();
        node.repeat_outputs = calls.iter().skip(1).cloned().collect();
        node.op_mult_adds = self.op_mult_adds_of(module);
    }

    /// Outputs of every call of `module`, in call order.
    pub(crate) fn calls_of(&self, module: usize) -> &[Vec<TensorValue>] {
        &self.calls[module]
    }

    pub(crate) fn op_mult_adds_of(&self, module: usize) -> Option<u64> {
        self.op_mult_adds[module]
    }

    pub(crate) fn trace(&self) -> &[(usize, TensorValue)] {
        &self.trace
    }

    /// Module-to-module edges, named by `paths[id]`. An edge repeated over several calls is listed once
    /// and counts as the only consumer only if it was every time.
    pub(crate) fn edges(&self, paths: &[String]) -> Vec<DataEdge> {
        let mut merged: BTreeMap<(usize, usize), bool> = BTreeMap::new();
        let mut order: Vec<(usize, usize)> = Vec::new();
        for value in &self.values {
            let only = value.consumers.len() == 1;
            for c in &value.consumers {
                if let Consumer::Module(to) = *c {
                    let key = (value.producer, to);
                    match merged.get_mut(&key) {
                        Some(flag) => *flag &= only,
                        None => {
                            merged.insert(key, only);
                            order.push(key);
                        }
                    }
                }
            }
        }
        order
            .into_iter()
            .map(|key| DataEdge {
                from: paths[key.0].clone(),
                to: paths[key.1].clone(),
                only_consumer: merged[&key],
            })
            .collect()
    }
}

pub(crate) fn tensor_value(t: &Tensor) -> TensorValue {
    TensorValue {
        shape: t.size().iter().map(|&d| d.max(0) as u64).collect(),
        dtype: crate::torch_dtype::from_kind(t.kind()),
    }
}
