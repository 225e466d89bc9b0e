//! How commands reach the sources: the [`Loader`] trait, and [`FileLoader`] for the front binary.

use super::args::{Cli, Command};
use crate::sources::builtins::ModelRef;
use crate::sources::{self, LoadOptions, SourceError};
use crate::summary::ModelSummary;
use std::ffi::OsStr;

/// What the commands need from the sources.
pub trait Loader {
    /// `model` as the user wrote it: a built-in name or a path ([`ModelRef::resolve`] tells which).
    fn load(&self, model: &OsStr, opts: &LoadOptions) -> Result<ModelSummary, SourceError>;
    /// Parameters of a real Linear layer of these sizes, to cross-check the formula; `None` if not built.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64>;
    /// Real training steps of `model` (training mode, forward and backward under a counting
    /// allocator) at each of `batches`, for `plan`; `None` when this loader cannot run one for it.
    fn measure_training(
        &self,
        _model: &OsStr,
        _opts: &LoadOptions,
        _batches: &[i64],
    ) -> Option<Result<crate::plan::TrainingRuns, SourceError>> {
        None
    }
}

/// Files only, without libtorch: TorchScript archives and state dicts read for their structure, and
/// their forward passes run in the sandbox (a child process that has libtorch).
pub struct FileLoader;

impl Loader for FileLoader {
    fn load(&self, model: &OsStr, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        match ModelRef::resolve(model)? {
            ModelRef::File(path) => sources::load_file(path, opts),
            // needs_libtorch sent every command naming a built-in to tchinfo-torch.
            ModelRef::Builtin(name) => Err(SourceError::Torch {
                model: name.to_string(),
                context: "building a built-in architecture".into(),
                message: "this binary has no libtorch; run tchinfo-torch".into(),
            }),
        }
    }

    fn count_linear(&self, _: i64, _: i64, _: bool) -> Option<u64> {
        None
    }

    /// A TorchScript file's training steps run in the sandbox, like its forward pass.
    fn measure_training(
        &self,
        model: &OsStr,
        opts: &LoadOptions,
        batches: &[i64],
    ) -> Option<Result<crate::plan::TrainingRuns, SourceError>> {
        match ModelRef::resolve(model) {
            Ok(ModelRef::File(path)) => sources::measure_training_file(path, opts, batches),
            _ => None,
        }
    }
}

/// True when the command needs libtorch in this process: built-in architectures and the Linear
/// cross-check. Files do not, forward passes included: those run in a sandboxed child, which has
/// libtorch; nor does listing the built-ins (their catalogue is data). A name that cannot be resolved
/// is reported here, without libtorch.
pub fn needs_libtorch(cli: &Cli) -> bool {
    let builtin = |m: &std::ffi::OsString| matches!(ModelRef::resolve(m), Ok(ModelRef::Builtin(_)));
    match &cli.command {
        Command::Summary(a) => builtin(&a.model),
        Command::Compare(a) => a.models.iter().any(builtin),
        Command::Lint(a) => builtin(&a.model),
        // A language model's training plan comes from its architecture, which needs no libtorch.
        Command::Plan(a) => {
            builtin(&a.model)
                && (a.inference
                    || a.model
                        .to_str()
                        .and_then(crate::architectures::presets::find)
                        .is_none())
        }
        Command::Linear(_) => true,
        Command::List(_) => false,
    }
}
