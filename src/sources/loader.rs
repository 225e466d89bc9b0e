//! The loader behind `tchinfo-torch`: files, plus everything that needs libtorch.

use super::{LoadOptions, SourceError, torchscript};
use crate::cli::{BuiltinRow, Loader};
use crate::summary::ModelSummary;
use std::path::Path;

pub struct TorchLoader;

impl Loader for TorchLoader {
    /// An existing file wins over a built-in name, as in the front binary.
    fn load(&self, model: &str, _opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        let path = Path::new(model);
        if path.is_file() {
            return torchscript::read_file(path);
        }
        Err(SourceError::UnknownModel {
            name: model.to_string(),
            suggestion: None,
        })
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

    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError> {
        Ok(Vec::new())
    }
}
