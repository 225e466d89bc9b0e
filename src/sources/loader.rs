//! The loader behind `tchinfo-torch`: files, plus everything that needs libtorch.

use super::builtins::ModelRef;
use super::{LoadOptions, SourceError, builtin};
use crate::cli::Loader;
use crate::summary::ModelSummary;
use std::ffi::OsStr;

pub struct TorchLoader;

/// The options as given: how `--batch-size` and a full `N,C,H,W` combine is decided in one place for
/// built-ins and TorchScript alike, [`super::apply_batch`].
fn builtin_options(
    model: &str,
    opts: &LoadOptions,
) -> Result<builtin::BuiltinOptions, SourceError> {
    if opts.input_sizes.len() > 1 {
        return Err(SourceError::Input {
            model: model.to_string(),
            problem: format!(
                "built-in architectures take one input, {} were given",
                opts.input_sizes.len()
            ),
        });
    }
    Ok(builtin::BuiltinOptions {
        num_classes: opts.num_classes,
        input_size: opts.input_sizes.first().cloned(),
        batch_size: opts.batch_size,
        seq_len: opts.seq_len,
        forward: opts.forward,
    })
}

impl Loader for TorchLoader {
    /// Built-ins are built here; files are read as in the front binary, their forward passes run in
    /// the sandbox (a child process: this binary again, in its measuring mode).
    fn load(&self, model: &OsStr, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        match ModelRef::resolve(model)? {
            ModelRef::File(path) => super::load_file(path, opts),
            ModelRef::Builtin(name) if builtin::is_builtin(name) => {
                builtin::summarize(name, &builtin_options(name, opts)?)
            }
            ModelRef::Builtin(name) => Err(SourceError::UnknownModel {
                name: crate::text::escape(name).into_owned(),
                suggestion: builtin::suggest(name),
            }),
        }
    }

    /// Built-in image models run their training steps here (they are tchinfo's own code); language
    /// models are planned from their architecture; TorchScript files run theirs in the sandbox.
    fn measure_training(
        &self,
        model: &OsStr,
        opts: &LoadOptions,
        batches: &[i64],
    ) -> Option<Result<tchinfo_core::plan::TrainingRuns, SourceError>> {
        let name = match ModelRef::resolve(model) {
            Ok(ModelRef::Builtin(name)) => name,
            Ok(ModelRef::File(path)) => {
                return tchinfo_core::sources::measure_training_file(path, opts, batches);
            }
            Err(_) => return None,
        };
        if tchinfo_core::architectures::presets::find(name).is_some() || !builtin::is_builtin(name)
        {
            return None;
        }
        let runs = builtin_options(name, opts)
            .and_then(|o| builtin::measure_training(name, &o, batches))
            .map(|runs| tchinfo_core::plan::TrainingRuns {
                runs,
                fixed_batch: None,
                method:
                    "counting CPU allocator around real training steps in this process (training \
                         mode, float32, forward and backward)"
                        .to_string(),
            });
        Some(runs)
    }

    /// Builds a real `tch::nn::linear` layer and counts the elements of every variable it created.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64> {
        let _guard = tch::no_grad_guard();
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let config = tch::nn::LinearConfig {
            ws_init: tch::nn::Init::Const(0.0),
            bs_init: Some(tch::nn::Init::Const(0.0)),
            bias,
        };
        let _layer = tch::nn::linear(vs.root(), in_features, out_features, config);
        Some(vs.variables().values().map(|t| t.numel() as u64).sum())
    }
}
