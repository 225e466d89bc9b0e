//! How commands reach the sources: the [`Loader`] trait, and [`FileLoader`] for the front binary.

use super::args::{Cli, Command};
use crate::sources::{self, LoadOptions, SourceError};
use crate::summary::ModelSummary;

/// What the commands need from the sources.
pub trait Loader {
    fn load(&self, model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError>;
    /// Parameters of a real Linear layer of these sizes, to cross-check the formula; `None` if not built.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64>;
}

/// Files only, without libtorch: TorchScript archives and state dicts read for their structure.
pub struct FileLoader;

impl Loader for FileLoader {
    fn load(&self, model: &str, _opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        if std::path::Path::new(model).is_file() {
            sources::read_file(std::path::Path::new(model))
        } else {
            Err(SourceError::not_a_model(model, None))
        }
    }

    fn count_linear(&self, _: i64, _: i64, _: bool) -> Option<u64> {
        None
    }
}

/// True when the command needs libtorch: built-in architectures, forward passes, the Linear cross-check.
/// Reading files for their structure does not, nor listing the built-ins (their catalogue is data).
pub fn needs_libtorch(cli: &Cli) -> bool {
    match &cli.command {
        Command::Summary(a) => a.source.load_options().needs_libtorch(&a.model),
        Command::Compare(a) => a
            .models
            .iter()
            .any(|m| a.source.load_options().needs_libtorch(m)),
        Command::Lint(a) => a.source.load_options().needs_libtorch(&a.model),
        Command::Plan(_) | Command::Linear(_) => true,
        Command::List(_) => false,
    }
}
