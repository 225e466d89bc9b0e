//! How commands reach the sources: the [`Loader`] trait, and [`FileLoader`] for the front binary.

use super::args::{Cli, Command};
use crate::sources::{self, LoadOptions, SourceError};
use crate::summary::ModelSummary;

/// One built-in architecture, for `tchinfo list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltinRow {
    pub name: String,
    pub family: String,
    pub default_input: [i64; 3],
    pub params: u64,
}

/// What the commands need from the sources.
pub trait Loader {
    fn load(&self, model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError>;
    /// Parameters of a real Linear layer of these sizes, to cross-check the formula; `None` if not built.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64>;
    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError>;
}

/// Files only, without libtorch: TorchScript archives and state dicts read for their structure.
pub struct FileLoader;

impl Loader for FileLoader {
    fn load(&self, model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        if std::path::Path::new(model).is_file() {
            sources::read_file_with(std::path::Path::new(model), opts)
        } else {
            Err(SourceError::not_a_model(model, None))
        }
    }

    fn count_linear(&self, _: i64, _: i64, _: bool) -> Option<u64> {
        None
    }

    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError> {
        Ok(Vec::new())
    }
}

/// True when the command needs libtorch: built-in architectures, forward passes, the Linear cross-check,
/// the list of built-ins. Reading files for their structure does not.
pub fn needs_libtorch(cli: &Cli) -> bool {
    match &cli.command {
        Command::Summary(a) => a.source.load_options().needs_libtorch(&a.model),
        Command::Compare(a) => a
            .models
            .iter()
            .any(|m| a.source.load_options().needs_libtorch(m)),
        Command::Lint(a) => a.source.load_options().needs_libtorch(&a.model),
        // A plan measures activations: a forward pass, unless the file records its shapes.
        Command::Plan(a) => {
            let mut opts = a.source.load_options();
            opts.forward = true;
            opts.needs_libtorch(&a.model)
        }
        Command::Linear(_) | Command::List(_) => true,
    }
}
