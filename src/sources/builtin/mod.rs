//! Built-in architectures: torchvision's image classifiers (VGG to ViT, Swin, ConvNeXt and MaxViT)
//! rebuilt with tch, every variable named as in the torchvision model's state dict and every module as
//! in its `named_modules()`, in the same order. Most are `torchvision.models.<name>()` with default
//! arguments; `googlenet` and `inception_v3` are built with `aux_logits=False` (the inference
//! networks), and `googlenet_aux` and `inception_v3_aux`, names torchvision does not have, are its
//! defaults for those two (see registry). Names, families, default inputs and parameter counts are the
//! catalogue's (`tchinfo_core::sources::catalog`), which needs no libtorch. Output shapes come from a
//! real forward pass (eval mode, no grad) that goes through a recorder module call by module call; a
//! module the eval forward never calls (an auxiliary classifier, MultiheadAttention's `out_proj`) has
//! none.
//!
//! One file per family; the framework is `module` (the tree and its leaf layers), `scope` (variables
//! and constructors), `recorder` (what a forward pass leaves behind), `ops` (functional operations
//! inside forwards) and `tv_ops` (blocks torchvision's families share).

mod alexnet;
mod attention;
mod basic_conv;
mod bert;
mod convnext;
mod densenet;
mod describe;
mod efficientnet;
mod googlenet;
mod gpt2;
mod hf_layers;
mod inception;
pub mod language;
mod llama;
mod maxvit;
mod mnasnet;
mod mobilenet_v2;
mod mobilenet_v3;
mod module;
mod multihead_attention;
#[cfg(test)]
mod norm_eps_test;
mod ops;
pub(crate) mod recorder;
mod registry;
mod regnet;
mod resnet;
mod scope;
mod shufflenet_v2;
mod squeezenet;
mod swin;
mod training;
mod tv_ops;
mod vgg;
mod vit;

use crate::progress::Progress;
use crate::sources::{MAX_INPUT_ELEMENTS, SourceError};
use crate::summary::{ModelSummary, TensorValue};
use module::Module;
use recorder::{Act, ForwardError, Recorder};
use registry::Entry;
use scope::Scope;
use tch::{Device, Kind, TchError, Tensor, nn::VarStore};

pub use training::measure as measure_training;

/// How to build and run a built-in model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinOptions {
    /// Outputs of the final classifier; the architecture's own (1000, ImageNet) when `None`.
    pub num_classes: Option<i64>,
    /// C, H, W of one input image, or a full N, C, H, W; the architecture's default when `None`.
    pub input_size: Option<Vec<i64>>,
    /// Images per forward pass. When set it is the batch, replacing the N of a full N, C, H, W (so
    /// that `plan` can vary the batch of any input size); when `None` the batch is that N, else 1.
    pub batch_size: Option<i64>,
    /// Tokens per sequence for a language model (default 128); image models take none.
    pub seq_len: Option<i64>,
    /// Run a forward pass for output shapes and mult-adds; without it only the tree and parameters.
    pub forward: bool,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        BuiltinOptions {
            num_classes: None,
            input_size: None,
            batch_size: None,
            seq_len: None,
            forward: true,
        }
    }
}

pub use crate::sources::catalog::Builtin as BuiltinInfo;

/// Every built-in architecture, grouped by family: the catalogue, known without building anything.
pub fn list() -> &'static [BuiltinInfo] {
    crate::sources::catalog::CATALOG
}

/// True when `name` is a built-in architecture (case does not matter) or language model (its name or
/// Hugging Face Hub id).
pub fn is_builtin(name: &str) -> bool {
    registry::find(name).is_some() || language::find(name).is_some()
}

/// The built-in name closest to a mistyped `name`, if one is plausibly meant.
pub fn suggest(name: &str) -> Option<String> {
    tchinfo_core::sources::builtins::suggest(name)
}

/// Parameters of a built-in architecture (buffers not included, a tied tensor counted once), without
/// running a forward pass. Building costs little: variables are allocated but not initialised; a
/// language model's count comes from its config, without building it.
pub fn param_count(name: &str, num_classes: Option<i64>) -> Result<u64, SourceError> {
    if let Some(preset) = language::find(name) {
        if let Some(n) = num_classes {
            return Err(SourceError::Input {
                model: preset.name.to_string(),
                problem: format!(
                    "a language model has no classifier to resize to {n} classes; --num-classes is \
                     for image models"
                ),
            });
        }
        return Ok(preset.architecture().parameter_count());
    }
    let entry = lookup(name)?;
    let num_classes = classes(entry, num_classes)?;
    let vs = VarStore::new(Device::Cpu);
    (entry.build)(&Scope::root(&vs), num_classes)
        .map_err(|e| torch_error(entry, "building the model", e))?;
    let mut seen = std::collections::HashSet::new();
    Ok(vs
        .trainable_variables()
        .iter()
        .filter(|t| seen.insert((t.data_ptr() as usize, t.size(), t.stride())))
        .map(|t| t.size().iter().product::<i64>() as u64)
        .sum())
}

/// Builds the architecture, runs it on zeros of the requested input size (unless `opts.forward` is
/// false) and describes it: module tree, parameters and buffers, output shapes per module call,
/// torchinfo-style and operator-level mult-adds, and the module-to-module data flow.
pub fn summarize(name: &str, opts: &BuiltinOptions) -> Result<ModelSummary, SourceError> {
    summarize_traced(name, opts).map(|(summary, _)| summary)
}

/// One module call of a forward pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCall {
    /// Module path, `""` for the model itself.
    pub path: String,
    pub output: TensorValue,
}

/// [`summarize`], plus every module call of the forward pass in the order the calls finished — the
/// order PyTorch's forward hooks fire — for checking a built-in against torchvision call by call.
/// The calls are empty when `opts.forward` is false.
pub fn summarize_traced(
    name: &str,
    opts: &BuiltinOptions,
) -> Result<(ModelSummary, Vec<ModuleCall>), SourceError> {
    if let Some(preset) = language::find(name) {
        return language::summarize_traced(preset.name, &preset.architecture(), opts);
    }
    let run = run(name, opts)?;
    let forward = run
        .forward
        .as_ref()
        .map(|(rec, input)| (rec, input.clone()));
    let mut summary = describe::summary(run.entry.name, &run.model, &run.vs, forward);
    if let Some(note) = run.entry.note {
        summary.notes.insert(0, note.to_string());
    }
    let paths: Vec<&str> = run.model.walk().iter().map(|m| m.path.as_str()).collect();
    let calls = match &run.forward {
        Some((rec, _)) => rec
            .trace()
            .iter()
            .map(|(id, output)| ModuleCall {
                path: paths[*id].to_string(),
                output: output.clone(),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok((summary, calls))
}

struct Run {
    entry: &'static Entry,
    vs: VarStore,
    model: Module,
    forward: Option<(Recorder, TensorValue)>,
}

fn run(name: &str, opts: &BuiltinOptions) -> Result<Run, SourceError> {
    let entry = lookup(name)?;
    if opts.seq_len.is_some() {
        return Err(input_error(
            entry,
            "takes images: --seq-len is for language models (give an image size with --input-size)"
                .to_string(),
        ));
    }
    let num_classes = classes(entry, opts.num_classes)?;
    let shape = input_shape(entry, opts)?;
    let progress = Progress::spinner(format!("building {}", entry.name));
    let _no_grad = tch::no_grad_guard();
    let vs = VarStore::new(Device::Cpu);
    let mut model = (entry.build)(&Scope::root(&vs), num_classes)
        .map_err(|e| torch_error(entry, "building the model", e))?;
    let modules = model.number();
    let forward = if opts.forward {
        progress.set_message(format!("running {} on {}", entry.name, shape_text(&shape)));
        let input = Tensor::f_zeros(shape, (Kind::Float, Device::Cpu))
            .map_err(|e| torch_error(entry, "allocating the input", e))?;
        let mut rec = Recorder::new(modules);
        let x = Act::free(input);
        model
            .forward(&x, &mut rec)
            .map_err(|e| forward_error(entry, &shape, e))?;
        Some((rec, recorder::tensor_value(&x.t)))
    } else {
        None
    };
    Ok(Run {
        entry,
        vs,
        model,
        forward,
    })
}

fn lookup(name: &str) -> Result<&'static Entry, SourceError> {
    registry::find(name).ok_or_else(|| SourceError::UnknownModel {
        name: name.to_string(),
        suggestion: suggest(name),
    })
}

fn input_error(entry: &Entry, problem: String) -> SourceError {
    SourceError::Input {
        model: entry.name.to_string(),
        problem,
    }
}

fn classes(entry: &Entry, num_classes: Option<i64>) -> Result<i64, SourceError> {
    match num_classes {
        None => Ok(1000),
        Some(n) if n >= 1 => Ok(n),
        Some(n) => Err(input_error(
            entry,
            format!("the number of classes must be at least 1, got {n}"),
        )),
    }
}

/// The N, C, H, W the forward pass runs on, checked before anything reaches libtorch.
fn input_shape(entry: &Entry, opts: &BuiltinOptions) -> Result<[i64; 4], SourceError> {
    let dims = match &opts.input_size {
        None => entry.info().default_input.to_vec(),
        Some(v) => v.clone(),
    };
    let text = |d: &[i64]| d.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // C,H,W is one image; a batch size then applies as to a full N,C,H,W.
    let mut full = match dims[..] {
        [c, h, w] => [1, c, h, w],
        [n, c, h, w] => [n, c, h, w],
        _ => {
            return Err(input_error(
                entry,
                format!(
                    "the input size takes C,H,W (e.g. 3,224,224) or N,C,H,W; got {} number{} ({})",
                    dims.len(),
                    if dims.len() == 1 { "" } else { "s" },
                    text(&dims)
                ),
            ));
        }
    };
    crate::sources::apply_batch(&mut full, opts.batch_size);
    let [batch, c, h, w] = full;
    if batch < 1 {
        return Err(input_error(
            entry,
            format!("the batch size must be at least 1, got {batch}"),
        ));
    }
    if let Some(d) = [c, h, w].into_iter().find(|&d| d < 1) {
        return Err(input_error(
            entry,
            format!(
                "input size {}: every dimension must be at least 1, got {d}",
                text(&dims)
            ),
        ));
    }
    if c != entry.info().default_input[0] {
        return Err(input_error(
            entry,
            format!(
                "takes {} input channels, the input size {} has {c}",
                entry.info().default_input[0],
                text(&dims)
            ),
        ));
    }
    let shape = [batch, c, h, w];
    let elements = shape.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d));
    match elements {
        Some(n) if n as u64 <= MAX_INPUT_ELEMENTS => Ok(shape),
        _ => Err(input_error(
            entry,
            format!(
                "input {} is too large for a CPU forward pass (limit {} elements); use a smaller batch or \
                 input size, or skip the forward pass",
                shape_text(&shape),
                crate::units::thousands(MAX_INPUT_ELEMENTS)
            ),
        )),
    }
}

fn shape_text(shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", dims.join(", "))
}

fn forward_error(entry: &Entry, shape: &[i64], e: ForwardError) -> SourceError {
    input_error(
        entry,
        format!(
            "input {} does not fit the model: {} ({}): {}",
            shape_text(shape),
            if e.path.is_empty() {
                entry.name
            } else {
                &e.path
            },
            e.type_name,
            e.message
        ),
    )
}

fn torch_error(entry: &Entry, context: &str, e: TchError) -> SourceError {
    SourceError::Torch {
        model: entry.name.to_string(),
        context: context.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// The front binary decides what is a built-in from core's list of names, without libtorch.
    #[test]
    fn the_front_knows_every_builtin_name() {
        for name in tchinfo_core::sources::builtins::names() {
            assert!(super::is_builtin(name), "{name} is not built here");
        }
        for entry in super::registry::ENTRIES {
            assert!(
                tchinfo_core::sources::builtins::is_builtin(entry.name),
                "{}",
                entry.name
            );
        }
    }
}
