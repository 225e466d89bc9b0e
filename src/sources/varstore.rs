//! Any model built with `tch`: a summary from its [`VarStore`], for people who have their own Rust models.
//!
//! A `VarStore` knows its variables by dotted path (`features.0.weight`) but not the layers' classes, so
//! the tree and the layer types are inferred as for a state dict ([`crate::summary::infer`]). Trainable
//! means `requires_grad`, so a frozen store (`vs.freeze()`) counts as non-trainable. Running statistics
//! (`running_mean`, `running_var`) and integer tensors are buffers.
//!
//! For every layer's output shape and mult-adds, record the forward pass with [`crate::record`];
//! [`record_output`] here measures only the model's overall output, and the summary then leaves the
//! activations unknown.
//!
//! ```no_run
//! use tch::nn::{self, Module};
//! let vs = nn::VarStore::new(tch::Device::Cpu);
//! let net = nn::seq().add(nn::linear(vs.root() / "fc1", 784, 128, Default::default()));
//! let mut summary = tchinfo::sources::varstore::summarize_varstore(&vs, "mlp");
//! let input = tch::Tensor::zeros([1, 784], (tch::Kind::Float, tch::Device::Cpu));
//! tchinfo::sources::varstore::record_module_output(&mut summary, &net, &input).unwrap();
//! println!("{} parameters", summary.totals().params);
//! ```

use crate::sources::SourceError;
use crate::summary::infer::{NamedTensor, TYPES_INFERRED_NOTE, tree_from_named_tensors};
use crate::summary::{ModelSummary, SourceKind, TensorValue};
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{TchError, Tensor};

/// The root type shown for a `VarStore`, which records no class names.
pub const ROOT_TYPE: &str = "VarStore";

/// The module tree, parameters (trainable from `requires_grad`), buffers, dtypes and tied variables of
/// everything in `vs`. Modules appear in the order their variables were created.
pub fn summarize_varstore(vs: &VarStore, name: &str) -> ModelSummary {
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    let order = creation_order(vs, &variables);
    variables.sort_by_cached_key(|(n, _)| order(n));

    let mut views: HashMap<String, (usize, Vec<i64>, Vec<i64>)> = HashMap::new();
    let mut named = Vec::with_capacity(variables.len());
    for (var, t) in &variables {
        let dtype = crate::torch_dtype::from_kind(t.kind());
        let shape: Vec<u64> = t.size().iter().map(|&d| d.max(0) as u64).collect();
        // Same memory, shape and stride: one tensor under two names (a tied embedding).
        if t.numel() > 0 {
            views.insert(var.clone(), (t.data_ptr() as usize, t.size(), t.stride()));
        }
        named.push(NamedTensor {
            name: var.clone(),
            shape,
            dtype,
            requires_grad: t.requires_grad(),
        });
    }
    let root = tree_from_named_tensors(ROOT_TYPE, named);
    let mut summary = ModelSummary::new(name, SourceKind::VarStore, root);
    summary.notes = vec![TYPES_INFERRED_NOTE.to_string()];
    summary.mark_tied(|full| views.get(full).cloned());
    summary
}

/// Runs `forward` once without gradients and records `inputs` and the model's overall output on the
/// summary's root. Per-layer shapes are not observable from a `VarStore`; a note says so.
pub fn record_output(
    summary: &mut ModelSummary,
    inputs: &[&Tensor],
    forward: impl FnOnce() -> Result<Tensor, TchError>,
) -> Result<(), SourceError> {
    let output = tch::no_grad(forward).map_err(|e| SourceError::Input {
        model: summary.name.clone(),
        problem: format!(
            "the forward pass failed: {}",
            crate::sources::first_line(&e.to_string())
        ),
    })?;
    summary.inputs = inputs.iter().map(|t| tensor_value(t)).collect();
    summary.root.outputs = Some(vec![tensor_value(&output)]);
    summary
        .notes
        .push("only the model's overall output shape was measured".into());
    Ok(())
}

/// [`record_output`] for a `tch::nn::Module`. `Module::forward` has no fallible form, so a panic raised
/// when libtorch rejects the input (a wrong shape or dtype) is caught and returned as the error; the
/// default panic hook still prints it to stderr.
pub fn record_module_output<M: tch::nn::Module>(
    summary: &mut ModelSummary,
    module: &M,
    input: &Tensor,
) -> Result<(), SourceError> {
    record_output(summary, &[input], || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| module.forward(input))).map_err(
            |panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the module panicked");
                TchError::Torch(message.to_string())
            },
        )
    })
}

fn tensor_value(t: &Tensor) -> TensorValue {
    TensorValue {
        shape: t.size().iter().map(|&d| d.max(0) as u64).collect(),
        dtype: crate::torch_dtype::from_kind(t.kind()),
    }
}

/// A sort key per variable that follows creation order. `VarStore` keeps trainable variables in the
/// order they were created but its names in a hash map; a variable that is not in the trainable list
/// (running statistics) sorts with the first variable created in its own module, or else in its nearest
/// ancestor module, and by name among equals.
fn creation_order(
    vs: &VarStore,
    variables: &[(String, Tensor)],
) -> impl Fn(&str) -> (usize, usize, String) + use<> {
    let identity = |t: &Tensor| (t.data_ptr() as usize, t.size());
    let mut created: HashMap<(usize, Vec<i64>), usize> = HashMap::new();
    for (i, t) in vs.trainable_variables().iter().enumerate() {
        created.entry(identity(t)).or_insert(i);
    }
    let own: HashMap<String, usize> = variables
        .iter()
        .filter_map(|(n, t)| created.get(&identity(t)).map(|&i| (n.clone(), i)))
        .collect();
    // The earliest creation index in each module and each of its ancestors.
    let mut first_in: HashMap<String, usize> = HashMap::new();
    for (n, &i) in &own {
        let mut module = parent(n);
        loop {
            let e = first_in.entry(module.to_string()).or_insert(i);
            *e = (*e).min(i);
            if module.is_empty() {
                break;
            }
            module = parent(module);
        }
    }
    move |n: &str| {
        let mut module = parent(n);
        let group = loop {
            if let Some(&i) = first_in.get(module) {
                break i;
            }
            if module.is_empty() {
                break usize::MAX;
            }
            module = parent(module);
        };
        (
            group,
            own.get(n).copied().unwrap_or(usize::MAX),
            n.to_string(),
        )
    }
}

/// `a.b.c` → `a.b`; `a` → ``.
fn parent(path: &str) -> &str {
    path.rfind('.').map_or("", |i| &path[..i])
}
